"""``actorflow log flow``: a run's flows afterwards, as a table of steps, a list of
flows, a Mermaid flowchart coloured by outcome, or JSON (the live view of ``actorflow
run`` is in ``flowview``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from actorflow.cli._logio import (
    FileArg,
    RunsDirOpt,
    console,
    errors,
    journal_path,
    open_reader,
    read_records,
)
from actorflow.cli.flowreport import FlowReport, Outcome, StepReport, read_flows
from actorflow.cli.paths import DEFAULT_RUNS_DIR

__all__ = [
    "FLOW_TABLES",
    "OUTCOME_LABELS",
    "flow_steps",
    "flow_view",
    "flowchart",
    "flows_overview",
]

OUTCOME_LABELS: Final = {
    Outcome.COMPLETED: "completed",
    Outcome.FAILED: "failed",
    Outcome.DEGRADED: "degraded",
    Outcome.SKIPPED: "skipped",
    Outcome.CANCELLED: "cancelled",
    Outcome.NOT_RUN: "never ran",
    Outcome.RUNNING: "running",
}
"""How an outcome is said in a table."""

_STYLES: Final = {
    Outcome.COMPLETED: "green",
    Outcome.FAILED: "bold red",
    Outcome.DEGRADED: "yellow",
    Outcome.SKIPPED: "dim",
    Outcome.CANCELLED: "magenta",
    Outcome.NOT_RUN: "dim",
    Outcome.RUNNING: "cyan",
}
_CLASSES: Final = {
    Outcome.COMPLETED: "fill:#d3f9d8,stroke:#2f9e44,color:#0b3d1a",
    Outcome.FAILED: "fill:#ffc9c9,stroke:#e03131,color:#5c0a0a,stroke-width:2px",
    Outcome.DEGRADED: "fill:#ffe8cc,stroke:#f08c00,color:#5c3300",
    Outcome.SKIPPED: "fill:#f1f3f5,stroke:#adb5bd,color:#495057,stroke-dasharray:5 3",
    Outcome.CANCELLED: "fill:#e5dbff,stroke:#7048e8,color:#2b1a66,stroke-dasharray:2 2",
    Outcome.NOT_RUN: "fill:#ffffff,stroke:#ced4da,color:#868e96,stroke-dasharray:2 4",
    Outcome.RUNNING: "fill:#d0ebff,stroke:#1971c2,color:#0b2e4f",
}
"""Mermaid ``classDef`` styles, one class per outcome (named by its value)."""
_LEGEND: Final = (
    "%% colours: completed green, failed red, degraded (failed, not critical) orange, "
    "skipped grey dashed, cancelled purple dashed, never ran white dotted, running blue"
)
_ERROR_CHARS: Final = 120
_LABEL_CHARS: Final = 60
_QUALIFIED: Final = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)(?=: |$)")
"""A module-qualified error type at the start of an error (``builtins.ConnectionError``)."""
_UNSAFE: Final = re.compile(r"[;#{}<>\"`\\\x00-\x1f\x7f\u2028\u2029]")
"""What may not reach a Mermaid line from a journal: statement separators, comment,
entity and shape markers, quotes, and every control or line-separator character (what
is left is safe inside a quoted label)."""


def _status(step: StepReport) -> str:
    if step.outcome is Outcome.RUNNING:
        return step.status
    label = OUTCOME_LABELS[step.outcome]
    if step.status == "timed_out":
        return f"{label} (timed out)"
    return label


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(error: str) -> str:
    """``error`` with its type's module left out (``ConnectionError: ...``)."""
    return _QUALIFIED.sub(r"\1", error, count=1)


def _why(step: StepReport) -> Text:
    if step.error:
        return Text(_cut(_short(step.error), _ERROR_CHARS), style=_STYLES[step.outcome])
    if step.note:
        return Text(_cut(step.note, _ERROR_CHARS), style="dim")
    if step.retry_errors:  # one retry says why; of several, the last one
        count, last = len(step.retry_errors), _short(step.retry_errors[-1])
        why = "retried:" if count == 1 else f"retried {count} times;"
        return Text(_cut(f"{why} attempt {count}: {last}", _ERROR_CHARS), style="dim")
    return Text("")


def _counts(steps: Iterable[StepReport]) -> str:
    counts = Counter(step.outcome for step in steps)
    return ", ".join(f"{counts[o]} {OUTCOME_LABELS[o]}" for o in Outcome if counts[o])


def _headline(flow: FlowReport) -> Text:
    line = Text.assemble(("flow ", "bold"), (flow.flow_id, "bold"))
    if flow.name:
        version = "" if flow.plan_version is None else f" v{flow.plan_version}"
        line.append(f" · {flow.name!r}{version}")
    status = flow.status if flow.status != "running" else "unfinished (no end in the journal)"
    style = {"completed": "green", "running": "cyan"}.get(flow.status, "bold red")
    line.append(" · ").append(status, style=style)
    if flow.execution_time is not None:
        line.append(f" in {flow.execution_time:.3f} s")
    count = len(flow.steps)
    line.append(f" · {count} step{'' if count == 1 else 's'}: {_counts(flow.steps)}")
    return line


def flow_view(flow: FlowReport) -> RenderableType:
    """A flow's headline, its error and a table of its steps."""
    parts: list[RenderableType] = [_headline(flow)]
    if flow.error:
        parts.append(Text.assemble(("error: ", "bold red"), flow.error))
    if flow.source == "flow_messages":
        parts.append(
            Text(
                "(rebuilt from the flow's own messages: it ran with stream events off)",
                style="dim",
            )
        )
    table = Table()
    # In a narrow terminal step ids and errors keep room; types and statuses give it.
    widest = max((len(step.step_id) for step in flow.steps), default=4)
    table.add_column("step / name", min_width=min(widest, 24), max_width=32, overflow="fold")
    table.add_column("type", max_width=16, overflow="ellipsis")
    table.add_column("status", max_width=14)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("error / note", min_width=24)
    for step in flow.steps:
        who = Text(step.step_id)
        if step.name and step.name != step.step_id:
            who.append("\n" + step.name, style="dim")
        table.add_row(
            who,
            Text(step.type),
            Text(_status(step), style=_STYLES[step.outcome]),
            str(step.attempts) if step.attempts else "-",
            _seconds(step.duration),
            _why(step),
        )
    parts.append(table)
    return Group(*parts)


def flows_overview(flows: Sequence[FlowReport]) -> Table:
    """One line per flow: its plan, status, step outcomes, duration and error."""
    table = Table(title=f"{len(flows)} flows", title_justify="left")
    for title in ("flow", "plan", "status", "steps", "duration", "error"):
        table.add_column(title, justify="right" if title == "duration" else "left")
    for flow in flows:
        style = {"completed": "green", "running": "cyan"}.get(flow.status, "bold red")
        table.add_row(
            Text(flow.flow_id),
            Text(flow.name),
            Text(flow.status, style=style),
            _counts(flow.steps),
            _seconds(flow.execution_time),
            Text(_cut(flow.error or "", _ERROR_CHARS), style="red"),
        )
    return table


# -- mermaid ------------------------------------------------------------------------------


def _clean(text: str, limit: int = _LABEL_CHARS) -> str:
    safe = " ".join(_UNSAFE.sub(" ", text).split())
    return safe if len(safe) <= limit else safe[: limit - 1].rstrip() + "…"


def _node_id(prefix: str, index: int, step_id: str) -> str:
    tail = re.sub(r"\W", "_", step_id, flags=re.ASCII)[:24].strip("_")
    return f"{prefix}s{index}" + (f"_{tail}" if tail else "")


def _node_label(step: StepReport) -> str:
    title = _clean(step.step_id)
    if step.name and step.name != step.step_id:
        title += ": " + _clean(step.name)
    facts = [_status(step)]
    if step.attempts > 1:
        facts.append(f"{step.attempts} attempts")
    if step.duration is not None:
        facts.append(_seconds(step.duration))
    if step.error and step.outcome is not Outcome.CANCELLED:
        facts.append(_clean(_short(step.error).split(":", 1)[0], 40))
    return f"{title}<br/>{_clean(' · '.join(facts))}"


def _flow_lines(flow: FlowReport, prefix: str, indent: str) -> tuple[list[str], dict[str, str]]:
    """Node and edge lines of one flow; and each node's class."""
    ids = {step.step_id: _node_id(prefix, i, step.step_id) for i, step in enumerate(flow.steps)}
    lines: list[str] = []
    classes: dict[str, str] = {}
    for step in flow.steps:
        node, label = ids[step.step_id], _node_label(step)
        shape = ('{"', '"}') if step.type == "condition" else ('["', '"]')
        lines.append(f"{indent}{node}{shape[0]}{label}{shape[1]}")
        classes[node] = step.outcome.value
    for step in flow.steps:
        lines.extend(
            f"{indent}{ids[dep]} --> {ids[step.step_id]}" for dep in step.dependencies if dep in ids
        )
    return lines, classes


def _title(flow: FlowReport) -> str:
    name = f" · {flow.name}" if flow.name else ""
    return _clean(f"flow {flow.flow_id}{name} · {flow.status}", 120)


def flowchart(flows: Sequence[FlowReport]) -> str:
    """A Mermaid flowchart of the flows' plans: a node per step, an edge per dependency,
    each node in the class of its outcome (one subgraph per flow when there are several).
    """
    head = ["flowchart TD", _LEGEND]
    body: list[str] = []
    classes: dict[str, str] = {}
    if len(flows) == 1:
        head = ["---", f'title: "{_title(flows[0])}"', "---", *head]
        lines, classes = _flow_lines(flows[0], "", "    ")
        body += lines
    for index, flow in enumerate(flows if len(flows) > 1 else ()):
        lines, found = _flow_lines(flow, f"f{index}", "        ")
        body += [f'    subgraph f{index}["{_title(flow)}"]', *lines, "    end"]
        classes |= found
    styles = [f"    classDef {o.value} {_CLASSES[o]}" for o in Outcome]
    used = [
        f"    class {','.join(n for n, c in classes.items() if c == o.value)} {o.value}"
        for o in Outcome
        if o.value in classes.values()
    ]
    return "\n".join([*head, *body, *styles, *used]) + "\n"


# -- the command ---------------------------------------------------------------------------

FLOW_TABLES = 3
"""Without a flow id, runs of up to this many flows show a table per flow."""


def flow_steps(
    run: FileArg,
    flow_id: Annotated[
        str | None,
        typer.Argument(
            metavar="FLOW_ID",
            help="A flow id, or the start of one that only one flow has.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="table, mermaid (the plan as a flowchart coloured by outcome) or json.",
            case_sensitive=False,
        ),
    ] = "table",
    show_all: Annotated[
        bool, typer.Option("--all", help="Without FLOW_ID: a table for every flow.")
    ] = False,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Show what a run's flows did, step by step: status, attempts, duration, error.

    Without FLOW_ID: a table for each flow when the run has up to 3 flows, else one line
    per flow (pass a FLOW_ID for its steps, or --all for every flow's table); json prints
    every flow, mermaid draws each flow in a subgraph of its own.
    """
    chosen = fmt.lower()
    if chosen not in ("table", "mermaid", "json"):
        errors.print(f"[bold red]error:[/] --format must be table, mermaid or json, not {fmt!r}.")
        raise typer.Exit(2)
    file = journal_path(run, runs_dir)
    with open_reader(file) as reader:
        flows = read_flows(read_records(reader))
    if flow_id is not None:
        flows = [_one_flow(flows, flow_id, file)]
    if chosen == "json":
        dumped = [flow.model_dump(mode="json") for flow in flows]
        console.out(json.dumps(dumped if flow_id is None else dumped[0], indent=2))
    elif not flows:
        console.print(f"No flow ran in {escape(str(file))}: it holds no flow.run message.")
    elif chosen == "mermaid":
        console.out(flowchart(flows), end="")
    elif flow_id is not None or show_all or len(flows) <= FLOW_TABLES:
        for index, flow in enumerate(flows):
            if index:
                console.print()
            console.print(flow_view(flow))
    else:
        console.print(flows_overview(flows))
        console.print(
            "[dim]For a flow's steps: actorflow log flow RUN FLOW_ID (or --all for every "
            "flow's table).[/]"
        )


def _one_flow(flows: list[FlowReport], flow_id: str, file: Path) -> FlowReport:
    """The flow ``flow_id`` names: its id, or the start of only its id (exit 2 if none)."""
    found = [f for f in flows if f.flow_id == flow_id] or [
        f for f in flows if f.flow_id.startswith(flow_id)
    ]
    if len(found) == 1:
        return found[0]
    names = ", ".join(f.flow_id for f in (found or flows)) or "none"
    if found:
        why = f"{flow_id!r} matches {len(found)} flows: {names}. Pass more of the id."
    else:
        why = f"There is no flow {flow_id!r}; the flows in it: {names}."
    errors.print(f"[bold red]error:[/] {escape(f'Journal {str(file)!r}: {why}')}")
    raise typer.Exit(2)
