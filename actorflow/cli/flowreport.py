"""What each flow of a run did, step by step, read back from the run's journal.

A flow actor tells its stream events (``streams.events`` to ``/system/streams``) as it
decides, so the journal holds them: ``flow_started``, ``step_started``,
``retry_scheduled``, ``step_completed``, ``step_failed``, ``step_skipped`` and the last
event, whose metadata holds the flow's final state (see :mod:`actorflow.flow.events`).
:func:`read_flows` turns them into one :class:`FlowReport` per flow, its steps in plan
order.

A flow that ran with stream events off (``enable_stream_callbacks=False``) told none;
its events are rebuilt from its own messages instead: the journal's deliveries to the
flow actor are folded through the decider (:mod:`actorflow.flow.fold`) and each
decision's reports are turned into the same events the live flow would have told.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, final

from pydantic import BaseModel, ConfigDict, JsonValue

from actorflow.errors import ActorflowError
from actorflow.flow.checkpoint import flow_state
from actorflow.flow.commands import Emit
from actorflow.flow.events import stream_items
from actorflow.flow.fold import flow_events, fold
from actorflow.flow.messages import FlowFinished, PlanChanged, ReplanFlow, RunFlow
from actorflow.flow.models import PlanSpec, StepSpec
from actorflow.journal import JournalEntry, JournalEvent
from actorflow.messages import EffectRecorded, Envelope
from actorflow.streams import StreamCallbackData
from actorflow.streams.messages import StreamEvents

__all__ = ["FlowReport", "Outcome", "StepReport", "read_flows"]

_FLOWS = "/flows/"
_LAST: Final = frozenset({"flow_completed", "flow_failed", "flow_cancelled"})


class Outcome(enum.StrEnum):
    """How a step turned out, in the words a chart is coloured by."""

    COMPLETED = "completed"
    FAILED = "failed"
    """Failed, and the step was critical (the flow failed with it)."""
    DEGRADED = "degraded"
    """Failed or timed out, but not critical: the flow went on without its result."""
    SKIPPED = "skipped"
    """Not run: a condition it depends on was false, or a dependency failed."""
    CANCELLED = "cancelled"
    """Stopped while it ran, because the flow failed or was stopped."""
    NOT_RUN = "not_run"
    """Never started (the flow ended first, or the journal ends before it)."""
    RUNNING = "running"
    """Started, and the journal ends before it did."""


@final
class StepReport(BaseModel):
    """One step of a flow: what it is and what happened to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step_id: str
    name: str = ""
    type: str = ""
    dependencies: tuple[str, ...] = ()
    status: str = "pending"
    """The step's own status (``completed``, ``failed_non_critical``, ``timed_out``,
    ...); ``running`` or ``retrying`` when the journal ends before the step did."""
    outcome: Outcome = Outcome.NOT_RUN
    attempts: int = 0
    duration: float | None = None
    """Seconds from its first attempt's start to its end (None: it did not run or end)."""
    error: str | None = None
    """Why it failed (failed and degraded steps)."""
    note: str = ""
    """Why it was skipped."""
    retry_errors: tuple[str, ...] = ()
    """The errors of the attempts that were retried, in order."""


@final
class FlowReport(BaseModel):
    """One flow of a run and its steps, in plan order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow_id: str
    name: str = ""
    plan_version: int | None = None
    status: str = "running"
    """``completed``, ``failed``, ``cancelled``; ``running`` when the journal ends first."""
    execution_time: float | None = None
    error: str | None = None
    source: Literal["stream_events", "flow_messages"] = "stream_events"
    """Where the steps were read from: the flow's stream events, or (streams were off)
    its own messages folded again."""
    steps: tuple[StepReport, ...] = ()


def read_flows(records: Iterable[JournalEntry]) -> list[FlowReport]:
    """Return a report of every flow in ``records`` (a run's journal), in start order."""
    flows: dict[str, _Flow] = {}
    kept: list[JournalEntry] = []  # what a fold of a flow without stream events needs
    for record in records:
        if isinstance(record, Envelope):
            _take(record, flows, kept)
        elif _is_flow_effect(record):
            kept.append(record)
    for flow in flows.values():
        if not flow.streamed and flow.runs:
            flow.refold(kept)
    return [flow.report() for flow in flows.values()]


def _is_flow_effect(record: JournalEntry) -> bool:
    """Whether ``record`` is an effect a flow actor recorded (the fold needs those)."""
    return (
        isinstance(record, JournalEvent)
        and isinstance(record.message, EffectRecorded)
        and record.message.actor.startswith(_FLOWS)
    )


def _take(env: Envelope, flows: dict[str, _Flow], kept: list[JournalEntry]) -> None:
    msg = env.message
    if isinstance(msg, StreamEvents):
        for item in msg.items:
            if item.flow_id is not None and item.event:
                flows.setdefault(item.flow_id, _Flow(item.flow_id)).stream(item)
        return
    if isinstance(msg, PlanChanged | FlowFinished):
        flow = flows.get(msg.flow_id)
        if flow is not None:
            flow.told(msg)
        return
    if not env.recipient.startswith(_FLOWS):
        return
    kept.append(env)
    flow_id = env.recipient[len(_FLOWS) :]
    if "/" in flow_id:
        return
    if isinstance(msg, RunFlow):
        flows.setdefault(flow_id, _Flow(flow_id)).run(msg)
    elif isinstance(msg, ReplanFlow):
        flows.setdefault(flow_id, _Flow(flow_id)).plans[msg.plan.version] = msg.plan


@dataclass
class _Step:
    step_id: str
    name: str = ""
    type: str = ""
    status: str = "pending"
    attempts: int = 0
    degraded: bool | None = None
    first_start: float | None = None
    end: float | None = None
    duration: float | None = None
    error: str | None = None
    note: str = ""
    retry_errors: list[str] = field(default_factory=list)


@dataclass
class _Flow:
    """A flow's report while the journal is read."""

    flow_id: str
    plan: PlanSpec | None = None
    order: tuple[str, ...] = ()
    plans: dict[int, PlanSpec] = field(default_factory=dict)
    runs: int = 0
    streamed: bool = False
    status: str = "running"
    name: str = ""
    execution_time: float | None = None
    error: str | None = None
    final: Mapping[str, JsonValue] | None = None
    steps: dict[str, _Step] = field(default_factory=dict)

    def run(self, msg: RunFlow) -> None:
        self.runs += 1
        if msg.plan is not None:
            self.plan, self.order = msg.plan, msg.order
            self.plans[msg.plan.version] = msg.plan

    def told(self, msg: PlanChanged | FlowFinished) -> None:
        if isinstance(msg, PlanChanged):
            if msg.accepted:
                self._switch(msg.version)
        elif self.final is None:  # the flow's reply: its end, if its events lack it
            self.status, self.final = msg.status, msg.state

    def _switch(self, version: int) -> None:
        plan = self.plans.get(version)
        if plan is not None and plan is not self.plan:
            self.plan, self.order = plan, ()

    def stream(self, item: StreamCallbackData, *, replayed: bool = False) -> None:
        """Take one flow event (told live, or ``replayed`` from a fold)."""
        self.streamed = self.streamed or not replayed
        meta, event = item.metadata, item.event
        version = meta.get("plan_version")
        if item.step_id is not None:
            _step_event(self._step(item.step_id), event, meta, item.timestamp)
        elif event == "flow_started":
            self.steps.clear()  # a run again under the same id starts afresh
            self.status, self.final, self.error = "running", None, None
        elif event == "flow_resumed":
            self.status = "running"
        elif event == "plan_changed" and isinstance(version, int):
            self._switch(version)
        elif event in _LAST:
            self._end(item)
        name = meta.get("plan_name")
        if isinstance(name, str):
            self.name = name

    def _end(self, item: StreamCallbackData) -> None:
        meta = item.metadata
        state = meta.get("state")
        self.final = state if isinstance(state, dict) else None
        self.status = str(meta.get("status") or item.event.removeprefix("flow_"))
        seconds = meta.get("execution_time")
        self.execution_time = float(seconds) if isinstance(seconds, int | float) else None
        if self.status != "completed":
            self.error = str(meta.get("error") or item.content or "") or None

    def _step(self, step_id: str) -> _Step:
        step = self.steps.get(step_id)
        if step is None:
            step = self.steps[step_id] = _Step(step_id)
        return step

    def refold(self, kept: list[JournalEntry]) -> None:
        """Rebuild the flow's events from its own messages (it told no stream events)."""
        try:
            folded = fold(flow_events(kept, self.flow_id))
        except ActorflowError as exc:  # the messages do not make a flow: say why
            self.error = f"its steps could not be rebuilt from the journal: {exc}"
            return
        for step in folded.steps:
            emits = [c for c in step.commands if isinstance(c, Emit)]
            if not emits:
                continue
            core, final = step.state, None
            if core.finished_at is not None:
                final = flow_state(core, step.at).model_dump(mode="json", exclude={"plan"})
            for item in stream_items(emits, core, step.at, final, step.commands):
                self.stream(item, replayed=True)

    def report(self) -> FlowReport:
        """The flow as it stands."""
        state = self.final if self.final is not None else {}
        finals = state.get("steps")
        finals = finals if isinstance(finals, dict) else {}
        seconds, error = state.get("execution_time"), self.error
        if self.execution_time is not None or not isinstance(seconds, int | float):
            seconds = self.execution_time
        if error is None and self.status != "completed" and state.get("error"):
            error = str(state["error"])
        specs = {s.id: s for s in self.plan.steps} if self.plan is not None else {}
        order = list(self.order or specs)
        order += [s for s in specs if s not in order]
        order += [s for s in self.steps if s not in order]
        return FlowReport(
            flow_id=self.flow_id,
            name=self.plan.name if self.plan is not None else self.name,
            plan_version=self.plan.version if self.plan is not None else None,
            status=self.status,
            execution_time=seconds,
            error=error,
            source="stream_events" if self.streamed or not self.runs else "flow_messages",
            steps=tuple(
                _step_report(self.steps.get(sid) or _Step(sid), specs.get(sid), finals.get(sid))
                for sid in order
            ),
        )


def _step_event(step: _Step, event: str, meta: Mapping[str, JsonValue], at: float) -> None:
    """Take one event of ``step``."""
    step.name = step.name or str(meta.get("step_name") or "")
    step.type = step.type or str(meta.get("step_type") or "")
    attempt = meta.get("attempts", meta.get("attempt"))
    if isinstance(attempt, int):
        step.attempts = max(step.attempts, attempt)
    if event == "step_started":
        step.status = "running"
        step.first_start = at if step.first_start is None else step.first_start
    elif event == "retry_scheduled":
        step.status = "retrying"
        step.retry_errors.append(str(meta.get("error") or ""))
    elif event == "step_completed":
        step.status, step.end, step.error = "completed", at, None
        took = meta.get("duration")
        step.duration = float(took) if isinstance(took, int | float) else None
    elif event == "step_failed":
        step.status = "timed_out" if meta.get("timed_out") is True else "failed"
        step.end = at
        step.error = str(meta.get("error") or "")
        step.degraded = meta.get("degraded") is True
    elif event == "step_skipped":
        step.status, step.end = "skipped", at
        step.note = str(meta.get("reason") or "")


def _step_report(step: _Step, spec: StepSpec | None, final: JsonValue) -> StepReport:
    """``step`` as its events tell it, corrected by the flow's final state, if any."""
    status, attempts, error, duration = step.status, step.attempts, step.error, step.duration
    if isinstance(final, dict):
        status = str(final.get("status") or status)
        got = final.get("attempts")
        attempts = got if isinstance(got, int) else attempts
        error = str(final["error"]) if final.get("error") else error
        duration = _seconds(final.get("started_at"), final.get("completed_at"), duration)
    if duration is None and step.first_start is not None and step.end is not None:
        duration = step.end - step.first_start
    name, kind, critical = step.name, step.type, True
    deps: tuple[str, ...] = ()
    if spec is not None:
        name, kind, deps = spec.name, spec.type, spec.dependencies
        critical = spec.parameters.get("critical") is not False
    degraded = step.degraded if step.degraded is not None else not critical
    outcome = _outcome(status, attempts, degraded=degraded)
    return StepReport(
        step_id=step.step_id,
        name=name,
        type=kind,
        dependencies=deps,
        status=status,
        outcome=outcome,
        attempts=attempts,
        duration=None if outcome in (Outcome.SKIPPED, Outcome.NOT_RUN) else duration,
        error=error if outcome in (Outcome.FAILED, Outcome.DEGRADED, Outcome.CANCELLED) else None,
        note=step.note,
        retry_errors=tuple(step.retry_errors),
    )


def _outcome(status: str, attempts: int, *, degraded: bool) -> Outcome:
    if status in ("completed", "skipped"):
        return Outcome(status)
    if status == "failed_non_critical":
        return Outcome.DEGRADED
    if status in ("failed", "timed_out"):
        return Outcome.DEGRADED if degraded else Outcome.FAILED
    if status == "cancelled":  # pending steps are cancelled too when a flow ends early
        return Outcome.CANCELLED if attempts else Outcome.NOT_RUN
    if status in ("running", "retrying"):
        return Outcome.RUNNING
    return Outcome.NOT_RUN


def _seconds(start: object, end: object, otherwise: float | None) -> float | None:
    """Seconds between two ISO times (``otherwise`` when either is missing)."""
    if not isinstance(start, str) or not isinstance(end, str):
        return otherwise
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return otherwise
