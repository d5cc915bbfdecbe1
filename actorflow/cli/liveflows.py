"""What ``actorflow run`` shows of flows: a line per notable stream event, live progress
bars (on a terminal) and a summary row per flow.

The CLI subscribes to the stream hub (``actorflow.streams.subscribe``); its subscriber
actor only queues the events, and the CLI thread hands them to :class:`FlowBoard`, which
keeps each flow's record and says what to print. ``actorflow.flow.events`` documents the
events (``metadata["event"]``) and their metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from pydantic import JsonValue
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from actorflow.streams import StreamCallbackData

__all__ = ["FlowBars", "FlowBoard", "FlowRecord", "short_error"]

_ERROR_CHARS: Final = 160
"""Most characters of an error in a line (the journal and the log have it whole)."""
_TABLE_ERROR_CHARS: Final = 200
_WIDE: Final = 110
"""Least console width with an error column in the summary table."""
_RUNNING_CHARS: Final = 60
_FLOW_CHARS: Final = 32
"""Widest the flow column of the summary gets (longer plan names wrap)."""
_FAILED_STEPS: Final = {"failed", "failed_non_critical", "timed_out"}
_QUALIFIED = re.compile(r"(?<![\w./])(?:[a-z_]\w*\.)+([A-Z]\w*)(?=: |$)")
"""A module-qualified exception name (``builtins.ConnectionError``) before its message."""
_STATUS_STYLES: Final = {
    "completed": "green",
    "failed": "bold red",
    "cancelled": "bold red",
    "unfinished": "bold red",
    "running": "yellow",
    "planned": "dim",
}


def short_error(text: str, limit: int = _ERROR_CHARS) -> str:
    """``text`` with exception names unqualified (``builtins.ValueError`` → ``ValueError``),
    cut to ``limit`` characters (ending with "…" when cut)."""
    text = _QUALIFIED.sub(r"\1", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(meta: Mapping[str, JsonValue], key: str, default: int = 0) -> int:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(meta: Mapping[str, JsonValue], key: str) -> float | None:
    value = meta.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass
class FlowRecord:
    """What the CLI knows of one flow, from its stream events."""

    flow_id: str
    label: str
    """How lines name it: its plan's name quoted (with ``#n`` when another has it too)."""
    total: int = 0
    status: str = ""
    """running, planned (only its plan was made), completed, failed, cancelled, or
    unfinished (the run ended without its last event); "" while only events that are
    not the flow's own were seen (an agent's text under its id)."""
    running: dict[str, int] = field(default_factory=dict)
    """Steps under way, with their attempt."""
    waiting: dict[str, int] = field(default_factory=dict)
    """Steps waiting to retry, with their next attempt."""
    completed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    degraded: set[str] = field(default_factory=set)
    """Failed steps the flow went on without (not critical)."""
    skipped: set[str] = field(default_factory=set)
    cancelled: int = 0
    """Steps the flow's end cancelled (known from its final state)."""
    done_before: int = 0
    """Steps done before the flow was resumed."""
    attempts: int = 0
    retries: int = 0
    first_at: float | None = None
    last_at: float | None = None
    seconds: float | None = None
    """The flow's execution time (from its last event)."""
    error: str | None = None

    @property
    def done(self) -> int:
        """Steps that reached an end (completed, failed or skipped)."""
        return self.done_before + len(self.completed | self.failed | self.skipped)

    @property
    def is_problem(self) -> bool:
        """Whether the flow failed, was cancelled or did not finish."""
        return self.status in {"failed", "cancelled", "unfinished"}

    @property
    def elapsed(self) -> float | None:
        """Its execution time, or the time between its first and last events so far."""
        if self.seconds is not None:
            return self.seconds
        if self.first_at is None or self.last_at is None:
            return None
        return self.last_at - self.first_at

    def running_text(self) -> str:
        """The steps under way and waiting to retry, for the progress bar."""
        parts = [sid if n <= 1 else f"{sid} (attempt {n})" for sid, n in self.running.items()]
        text = "running " + ", ".join(parts) if parts else ""
        if self.waiting:
            waits = ", ".join(f"{sid} (attempt {n})" for sid, n in self.waiting.items())
            text = f"{text} · retrying {waits}" if text else f"retrying {waits}"
        return text if len(text) <= _RUNNING_CHARS else text[: _RUNNING_CHARS - 1] + "…"

    def settle(self, state: Mapping[str, JsonValue]) -> None:
        """Take the counts from the flow's final state (exact even if events were missed)."""
        steps = state.get("steps")
        if not isinstance(steps, dict):
            return
        sets: dict[str, set[str]] = {"completed": set(), "skipped": set(), "failed": set()}
        attempts = retries = cancelled = 0
        for sid, step in steps.items():
            if not isinstance(step, dict):
                continue
            status, tries = _text(step.get("status")), _int(step, "attempts")
            attempts, retries = attempts + tries, retries + max(0, tries - 1)
            if status == "cancelled":
                cancelled += 1
            elif status in _FAILED_STEPS:
                sets["failed"].add(sid)
            elif status in sets:
                sets[status].add(sid)
            if status == "failed_non_critical":
                self.degraded.add(sid)
        self.completed, self.skipped = sets["completed"], sets["skipped"]
        self.failed = sets["failed"]
        self.degraded &= self.failed
        self.total, self.done_before, self.cancelled = len(steps), 0, cancelled
        self.attempts, self.retries = attempts, retries
        self.running.clear()
        self.waiting.clear()


_Handler = Callable[["FlowBoard", FlowRecord, StreamCallbackData], str]


class FlowBoard:
    """The flows of a run as their stream events tell them (CLI thread only).

    Args:
        show_steps: also a line per step started and completed, and per event that is
            not a flow's (agents' text, tools' progress).
    """

    def __init__(self, *, show_steps: bool = False) -> None:
        self.show_steps = show_steps
        self.flows: dict[str, FlowRecord] = {}
        self._names: dict[str, int] = {}

    def apply(self, item: StreamCallbackData) -> str:
        """Update the flow of ``item``; return the line to print (rich markup), or ""."""
        if item.flow_id is None:
            return _other(item, "-") if self.show_steps else ""
        record = self._record(item)
        if record.first_at is None:
            record.first_at = item.timestamp
        record.last_at = item.timestamp
        handler = _HANDLERS.get(item.event)
        if handler is None:
            return _other(item, record.label) if self.show_steps else ""
        if not record.status and item.event.startswith(("step_", "retry_")):
            record.status = "running"  # its start was missed (a full queue dropped it)
        return handler(self, record, item)

    @property
    def shown(self) -> list[FlowRecord]:
        """The flows to show: those that started, or whose plan was made."""
        return [record for record in self.flows.values() if record.status]

    def close(self) -> None:
        """The run is over: flows still running never sent their last event."""
        for record in self.flows.values():
            if record.status == "running":
                record.status = "unfinished"

    def problems(self) -> list[str]:
        """One sentence per flow that failed, was cancelled or did not finish."""
        found = []
        for record in self.shown:
            if not record.is_problem:
                continue
            name = f"flow {record.label} ({record.flow_id})"
            if record.status == "unfinished":
                found.append(f"{name} did not finish")
            else:
                found.append(f"{name} {record.status}: {short_error(record.error or '?')}")
        return found

    def summary(self, width: int) -> RenderableType:
        """The per-flow summary table (flow, status, steps, attempts, time, error) for a
        console ``width`` wide; narrower than 110, errors follow the table instead."""
        with_errors = width >= _WIDE
        table = Table(title="flows", title_justify="left")
        ids = max((len(record.flow_id) for record in self.shown), default=0)
        table.add_column("flow", min_width=min(ids, _FLOW_CHARS), max_width=_FLOW_CHARS,
                         overflow="fold")  # fmt: skip
        table.add_column("status", no_wrap=True)
        table.add_column("steps", no_wrap=True)
        table.add_column("attempts", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        if with_errors:
            table.add_column("error", overflow="fold")
        below = []
        for record in self.shown:
            row = _row(record)
            table.add_row(*row, *((_error_cell(record),) if with_errors else ()))
            if not with_errors and record.error:
                below.append(f"[red]error[/] of {record.label}: {_error_cell(record)}")
        return Group(table, *below)

    # -- one handler per flow event ----------------------------------------------------

    def _record(self, item: StreamCallbackData) -> FlowRecord:
        flow_id = item.flow_id
        assert flow_id is not None
        record = self.flows.get(flow_id)
        if record is None:
            name = _text(item.metadata.get("plan_name")) or flow_id
            seen = self._names[name] = self._names.get(name, 0) + 1
            label = repr(name) if seen == 1 else f"{name!r} #{seen}"
            record = self.flows[flow_id] = FlowRecord(flow_id, escape(label))
        return record

    def _started(self, record: FlowRecord, item: StreamCallbackData) -> str:
        meta = item.metadata
        record.status = "running"
        record.total = _int(meta, "steps", record.total)
        flow_id = escape(record.flow_id)
        if item.event == "flow_resumed":
            record.done_before = _int(meta, "done")
            return (f"[cyan]flow[/]       {record.label} resumed: {record.done_before} of "
                    f"{record.total} steps done  [dim]({flow_id})[/]")  # fmt: skip
        return (f"[cyan]flow[/]       {record.label} started: {record.total} steps  "
                f"[dim]({flow_id})[/]")  # fmt: skip

    def _planned(self, record: FlowRecord, item: StreamCallbackData) -> str:
        if item.event == "plan_created":
            record.status = record.status or "planned"
            record.total = _int(item.metadata, "steps", record.total)
            flow_id = escape(record.flow_id)
            return f"[dim]plan       {record.label} created: {record.total} steps  ({flow_id})[/]"
        style = "yellow" if item.event == "plan_refused" else "cyan"
        return f"[{style}]plan[/]       {record.label}: {escape(_text(item.content))}"

    def _step_started(self, record: FlowRecord, item: StreamCallbackData) -> str:
        sid, attempt = item.step_id or "?", _int(item.metadata, "attempt", 1)
        record.waiting.pop(sid, None)
        record.running[sid] = attempt
        record.attempts += 1
        if not self.show_steps:
            return ""
        step = _step(item)
        return f"[dim]step       {record.label}: {step} started (attempt {attempt})[/]"

    def _step_completed(self, record: FlowRecord, item: StreamCallbackData) -> str:
        sid, meta = item.step_id or "?", item.metadata
        record.running.pop(sid, None)
        record.completed.add(sid)
        if not self.show_steps:
            return ""
        took = _float(meta, "duration")
        during = f" in {took:.3f} s" if took is not None else ""
        return (f"[dim]step       {record.label}: {_step(item)} completed{during} "
                f"(attempt {_int(meta, 'attempt', 1)})[/]")  # fmt: skip

    def _retry(self, record: FlowRecord, item: StreamCallbackData) -> str:
        sid, meta = item.step_id or "?", item.metadata
        error = _text(meta.get("error"))
        record.running.pop(sid, None)
        record.waiting[sid] = _int(meta, "next_attempt", _int(meta, "attempt") + 1)
        record.retries += 1
        delay = _float(meta, "delay")
        wait = f"{delay:.3g} s" if delay is not None else "a while"
        label = "timeout   " if _is_timeout(item, error) else "retry     "
        return (f"[yellow]{label}[/] {record.label}: {_step(item)} attempt "
                f"{_int(meta, 'attempt')} failed: {escape(short_error(error))}; "
                f"retrying in {wait}")  # fmt: skip

    def _skipped(self, record: FlowRecord, item: StreamCallbackData) -> str:
        sid = item.step_id or "?"
        record.skipped.add(sid)
        reason = escape(_text(item.metadata.get("reason")))
        return f"[dim]skipped[/]    {record.label}: {_step(item)} skipped: {reason}"

    def _step_failed(self, record: FlowRecord, item: StreamCallbackData) -> str:
        sid, meta = item.step_id or "?", item.metadata
        error = _text(meta.get("error")) or _text(item.content)
        record.running.pop(sid, None)
        record.waiting.pop(sid, None)
        record.failed.add(sid)
        tries = _plural(_int(meta, "attempts", 1), "attempt")
        text = f"{record.label}: {_step(item)} failed after {tries}: "
        text += escape(short_error(error))
        if meta.get("degraded") is True:
            record.degraded.add(sid)
            label = "timed out " if _is_timeout(item, error) else "degraded  "
            return f"[yellow]{label}[/] {text}; not critical, the flow goes on"
        return f"[bold red]step failed[/] {text} (critical)"

    def _ended(self, record: FlowRecord, item: StreamCallbackData) -> str:
        meta = item.metadata
        record.status = _text(meta.get("status")) or item.event.removeprefix("flow_")
        record.seconds = _float(meta, "execution_time")
        state = meta.get("state")
        if isinstance(state, dict):
            record.settle(state)
        took = f" in {record.seconds:.3f} s" if record.seconds is not None else ""
        if record.status == "completed":
            return f"[green]flow done[/]  {record.label} completed{took}: {_outcomes(record)}"
        record.error = _text(meta.get("error")) or _text(item.content) or record.status
        after = f" after {record.seconds:.3f} s" if record.seconds is not None else ""
        label = "flow failed" if record.status == "failed" else "cancelled  "
        error = escape(short_error(record.error))
        return f"[bold red]{label}[/] {record.label} {record.status}{after}: {error}"


def _step(item: StreamCallbackData) -> str:
    """How lines name a step: ``step ID``, with its name when that says more than its id."""
    sid, name = item.step_id or "?", _text(item.metadata.get("step_name"))
    if not name or name.casefold() == sid.casefold():
        return f"step {escape(sid)}"
    return f"step {escape(sid)} ({escape(name)})"


def _other(item: StreamCallbackData, label: str) -> str:
    """A line for an event that is not a flow's own (an agent's text, a tool's progress)."""
    content = item.content if isinstance(item.content, str) else repr(item.content)
    return f"[dim]{item.type.value:<10} {label}: {escape(short_error(content))}[/]"


def _is_timeout(item: StreamCallbackData, error: str) -> bool:
    """The flow says so (``timed_out``); events of older journals only by the error."""
    return item.metadata.get("timed_out") is True or error.startswith("TimeoutError")


def _outcomes(record: FlowRecord) -> str:
    parts = [f"{len(record.completed)} of {_plural(record.total, 'step')} completed"]
    if record.failed:
        degraded = f" ({len(record.degraded)} degraded)" if record.degraded else ""
        parts.append(f"{len(record.failed)} failed{degraded}")
    if record.skipped:
        parts.append(f"{len(record.skipped)} skipped")
    if record.retries:
        parts.append("1 retry" if record.retries == 1 else f"{record.retries} retries")
    return ", ".join(parts)


def _row(record: FlowRecord) -> tuple[str, ...]:
    """The cells of a flow's summary row, but its error: one line per count."""
    style = _STATUS_STYLES.get(record.status, "")
    steps = [f"{len(record.completed)}/{record.total} completed"]
    if record.failed:
        steps.append(f"[red]{len(record.failed)} failed[/]")
    if record.degraded:
        steps.append(f"[yellow]{len(record.degraded)} degraded[/]")
    if record.skipped:
        steps.append(f"{len(record.skipped)} skipped")
    if record.cancelled:
        steps.append(f"{record.cancelled} cancelled")
    attempts = [str(record.attempts)]
    if record.retries:
        attempts.append("1 retry" if record.retries == 1 else f"{record.retries} retries")
    elapsed = None if record.status == "planned" else record.elapsed
    return (
        f"{record.label}\n[dim]{escape(record.flow_id)}[/]",
        f"[{style}]{record.status}[/]" if style else record.status,
        "\n".join(steps),
        "\n".join(attempts),
        f"{elapsed:.3f} s" if elapsed is not None else "",
    )


def _error_cell(record: FlowRecord) -> str:
    return escape(short_error(record.error, _TABLE_ERROR_CHARS)) if record.error else ""


_HANDLERS: Final[dict[str, _Handler]] = {
    "flow_started": FlowBoard._started,
    "flow_resumed": FlowBoard._started,
    "plan_created": FlowBoard._planned,
    "plan_changed": FlowBoard._planned,
    "plan_refused": FlowBoard._planned,
    "step_started": FlowBoard._step_started,
    "step_completed": FlowBoard._step_completed,
    "retry_scheduled": FlowBoard._retry,
    "step_skipped": FlowBoard._skipped,
    "step_failed": FlowBoard._step_failed,
    "flow_completed": FlowBoard._ended,
    "flow_failed": FlowBoard._ended,
    "flow_cancelled": FlowBoard._ended,
}


class FlowBars:
    """Live progress bars, one per flow (only on a terminal; CLI thread).

    Lines the console prints meanwhile appear above the bars.
    """

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.fields[mark]}"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[running]}[/]"),
            console=console,
            transient=True,  # the summary table follows: the bars need not stay
            disable=not console.is_terminal or console.is_dumb_terminal,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> FlowBars:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def refresh(self) -> None:
        """Redraw the bars now (not only at the next tick)."""
        self.progress.refresh()

    def show(self, record: FlowRecord) -> None:
        """Show ``record``'s progress (a new bar for a flow not seen yet)."""
        if record.status in {"", "planned"}:  # not a flow that runs (yet)
            return
        mark = {"completed": "[green]✓[/]", "running": "[yellow]•[/]"}.get(
            record.status, "[red]✗[/]"
        )
        task = self.tasks.get(record.flow_id)
        style = {"completed": "green", "running": ""}.get(record.status, "red")
        label = f"[{style}]{record.label}[/]" if style else record.label
        running = escape(record.running_text())
        total = record.total or None
        if task is None:
            task = self.tasks[record.flow_id] = self.progress.add_task(
                label, total=total, completed=record.done, mark=mark, running=running
            )
        else:
            self.progress.update(task, description=label, total=total, completed=record.done,
                                 mark=mark, running=running)  # fmt: skip
        if record.status != "running":
            self.progress.stop_task(task)
