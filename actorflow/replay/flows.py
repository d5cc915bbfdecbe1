"""Phase 1 of replay: every flow in a journal, folded through the current decider.

For each flow recorded in a journal the recorded events (its ``RunFlow``, step results,
human answers, timer events, in the order the flow processed them) are folded through
the current :func:`~actorflow.flow.decider.decide` (:mod:`actorflow.flow.fold`). What it
decides is then checked against what the recorded flow actor was seen to do:

- every attempt the recorded run reported on (a ``flow.step_attempt_finished`` or
  ``flow.human_answered`` event), asked a person for (``human.request``) or gave an
  agent (``agent.task``) must be one the current decider started, and no later than
  the event it came after; every retry timer delivered (``flow.retry_step``) one it
  scheduled;
- the replies the recorded flow actor sent (``flow.finished``) must match the current
  decider's ``Finish`` decisions, in order, with the same recipient and final status.

The first difference by journal seq raises :class:`~actorflow.errors.ReplayDivergenceError`.
Actors other than flows are not re-driven in phase 1: the report lists them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import JsonValue

from actorflow.errors import ActorflowError, ReplayDivergenceError
from actorflow.flow.commands import AskHuman, Finish, ScheduleTimer, StartAttempt
from actorflow.flow.decider import FlowCore, decide
from actorflow.flow.fold import Fold, FoldStep, flow_events, flows_in
from actorflow.flow.messages import (
    AgentTask,
    CancelFlow,
    FlowFinished,
    HumanAnswered,
    RetryStep,
    RunFlow,
    StepAttemptFinished,
)
from actorflow.flow.models import PlanSpec
from actorflow.human.messages import HumanRequest
from actorflow.journal.format import JournalEntry, JournalEvent
from actorflow.journal.reader import TornTail, open_journal
from actorflow.messages.base import Message, OpaqueMessage
from actorflow.messages.envelope import Envelope

__all__ = ["Action", "FlowReplay", "ReplayReport", "replay", "replay_records"]

_FLOWS = "/flows/"
_RETRY = "flow.retry_step"
_FINISHED = "flow.finished"


@dataclass(frozen=True, slots=True)
class Action:
    """Something a flow actor did (recorded) or decided to do (replayed)."""

    seq: int | None
    """The journal seq of the record (recorded) or of the event decided on (replayed)."""
    kind: str
    recipient: str
    payload: Mapping[str, JsonValue]

    def describe(self) -> str:
        """One line: kind → recipient payload."""
        return f"{self.kind} → {self.recipient} {dict(self.payload)}"


@dataclass(frozen=True, slots=True)
class FlowReplay:
    """One flow's replay: its fold and how much was compared."""

    flow_id: str
    fold: Fold
    events: int
    decisions: int
    """Commands the current decider made."""
    compared: int
    """Recorded actions checked against them."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """A clean replay of a journal's flows (a divergence raises instead)."""

    path: Path | None
    flows: tuple[FlowReplay, ...]
    not_replayed: tuple[str, ...]
    """Actors (other than the flows) whose deliveries phase 1 does not replay."""
    records: int
    torn_tail: TornTail | None = None
    """The partial frame the log ends in (its whole prefix was replayed)."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def events(self) -> int:
        """Events folded, over every flow."""
        return sum(f.events for f in self.flows)

    @property
    def decisions(self) -> int:
        """Commands the current decider made, over every flow."""
        return sum(f.decisions for f in self.flows)

    @property
    def compared(self) -> int:
        """Recorded actions compared, over every flow."""
        return sum(f.compared for f in self.flows)

    def summary(self) -> str:
        """``clean: N flows, N events, N decisions (N recorded actions compared)``."""
        return (
            f"clean: {len(self.flows)} flows, {self.events} events, {self.decisions} "
            f"decisions ({self.compared} recorded actions compared)"
        )


def replay(path: str | Path, *, plans: Mapping[str, PlanSpec] | None = None) -> ReplayReport:
    """Replay every flow recorded in the journal at ``path`` through the current decider.

    A torn tail is tolerated: the whole prefix is replayed (``report.torn_tail``).

    Args:
        path: the journal file.
        plans: flow id → plan to run instead of the recorded one (a changed definition).

    Raises:
        ReplayDivergenceError: the current code decided differently; the message names
            the first differing record (seq, expected and actual kind, recipient, payload).
        JournalError: the journal cannot be read (or holds messages this process lacks).
    """
    # Messages of kinds this process lacks (a scenario's own, say) go to other actors:
    # flows only get actorflow's own messages, so they decode as opaque stand-ins.
    with open_journal(path, opaque=True) as reader:
        records = list(reader)
        torn = reader.torn_tail
    return replay_records(records, plans=plans, path=Path(path), torn_tail=torn)


def replay_records(
    records: Iterable[JournalEntry],
    *,
    plans: Mapping[str, PlanSpec] | None = None,
    path: Path | None = None,
    torn_tail: TornTail | None = None,
) -> ReplayReport:
    """Replay the flows in ``records`` (already read, possibly edited); see :func:`replay`.

    Raises:
        ReplayDivergenceError: the current code decided differently.
    """
    entries: Sequence[JournalEntry] = list(records)
    flow_ids = list(dict.fromkeys(flows_in(entries)))
    replays: list[FlowReplay] = []
    divergences: list[tuple[int, str]] = []
    for flow_id in flow_ids:
        result, divergence = _replay_flow(entries, flow_id, (plans or {}).get(flow_id))
        replays.append(result)
        if divergence is not None:
            divergences.append(divergence)
    if divergences:
        divergences.sort(key=lambda d: d[0])
        raise ReplayDivergenceError(divergences[0][1])
    flow_paths = {_FLOWS + f for f in flow_ids}
    others = sorted(
        {
            str(r.recipient)
            for r in entries
            if isinstance(r, Envelope) and str(r.recipient) not in flow_paths
        }
    )
    opaque = sorted(
        {
            r.message.original_kind
            for r in entries
            if isinstance(r, Envelope | JournalEvent) and isinstance(r.message, OpaqueMessage)
        }
    )
    warnings = (
        (
            f"{len(opaque)} message kinds have no class in this process and were read as "
            f"opaque (they went to actors not replayed): {', '.join(opaque)}",
        )
        if opaque
        else ()
    )
    return ReplayReport(path, tuple(replays), tuple(others), len(entries), torn_tail, warnings)


def _recorded(entries: Sequence[JournalEntry], flow_id: str) -> tuple[list[Action], list[Action]]:
    """The flow actor's recorded attempts (reported, asked, tasked) and its replies."""
    path = _FLOWS + flow_id
    attempts: list[Action] = []
    replies: list[Action] = []
    for r in entries:
        if not isinstance(r, Envelope):
            continue
        msg, recipient = r.message, str(r.recipient)
        if recipient == path and isinstance(msg, StepAttemptFinished | HumanAnswered):
            key: dict[str, JsonValue] = {"step_id": msg.step_id, "attempt": msg.attempt}
            attempts.append(Action(r.seq, str(msg.kind), recipient, key))
        elif recipient == path and isinstance(msg, RetryStep):
            key = {"step_id": msg.step_id, "attempt": msg.attempt}
            attempts.append(Action(r.seq, str(msg.kind), recipient, key))
        if str(r.sender) != path:
            continue
        if isinstance(msg, HumanRequest):
            parts = msg.request_id.split("@", 1)[0].rsplit("/", 2)
            if len(parts) == 3 and parts[0] == flow_id and parts[2].isdigit():
                key = {"step_id": parts[1], "attempt": int(parts[2])}
                attempts.append(Action(r.seq, str(msg.kind), recipient, key))
        elif isinstance(msg, AgentTask) and msg.flow_id == flow_id:
            key = {"step_id": msg.step_id, "attempt": msg.attempt}
            attempts.append(Action(r.seq, str(msg.kind), recipient, key))
        elif isinstance(msg, FlowFinished) and msg.flow_id == flow_id:
            replies.append(Action(r.seq, str(msg.kind), recipient, {"status": msg.status}))
    return attempts, replies


@dataclass(slots=True)
class _Decided:
    """What the current decider decided for one flow, indexed for comparison."""

    started: dict[tuple[str, int], int] = field(default_factory=dict)
    """Attempt → position of the event that started it."""
    retries: dict[tuple[str, int], int] = field(default_factory=dict)
    """Retry timer (step, attempt) → position of the event that scheduled it."""
    finishes: list[Action] = field(default_factory=list)
    seq_at: dict[int, int] = field(default_factory=dict)
    decisions: int = 0


def _decided(folded: Fold, asker: str | None) -> _Decided:
    out = _Decided()
    replied = False
    for index, step in enumerate(folded.steps):
        if step.seq is not None:
            out.seq_at[step.seq] = index
        if isinstance(step.event, RunFlow):
            replied = False
        out.decisions += len(step.commands)
        status: JsonValue = step.state.status.value
        for command in step.commands:
            if isinstance(command, StartAttempt | AskHuman):
                out.started.setdefault((command.step_id, command.attempt), index)
            elif isinstance(command, ScheduleTimer) and isinstance(command.message, RetryStep):
                timer = command.message
                out.retries.setdefault((timer.step_id, timer.attempt), index)
            elif isinstance(command, Finish) and not replied and asker is not None:
                replied = True
                out.finishes.append(Action(step.seq, _FINISHED, asker, {"status": status}))
        stopped = step.seq is None and isinstance(step.event, CancelFlow)
        if stopped and not replied and asker is not None:
            replied = True  # stopped from outside: its actor replies as it stops
            out.finishes.append(Action(None, _FINISHED, asker, {"status": status}))
    return out


def _replay_flow(
    entries: Sequence[JournalEntry], flow_id: str, plan: PlanSpec | None
) -> tuple[FlowReplay, tuple[int, str] | None]:
    folded, failure = _fold(flow_id, flow_events(entries, flow_id), plan)
    decided = _decided(folded, _asker(entries, flow_id))
    attempts, replies = _recorded(entries, flow_id)
    found: list[tuple[int, str]] = [] if failure is None else [failure]
    positions = _Positions(decided.seq_at)
    for action in attempts:
        key = (str(action.payload["step_id"]), int(str(action.payload["attempt"])))
        is_retry = action.kind == _RETRY
        at = (decided.retries if is_retry else decided.started).get(key)
        if at is None or at > positions.before(action.seq):
            why = "that retry was never scheduled" if is_retry else "that attempt was never started"
            found.append(_divergence(flow_id, action, None, why))
            break
    finishes = decided.finishes
    for index in range(max(len(replies), len(finishes))):
        want = replies[index] if index < len(replies) else None
        got = finishes[index] if index < len(finishes) else None
        if want is not None and got is not None and _same(want, got):
            continue
        found.append(_divergence(flow_id, want, got, "the flow's reply differs"))
        break
    compared = len(attempts) + len(replies)
    result = FlowReplay(flow_id, folded, len(folded.steps), decided.decisions, compared)
    return result, min(found, key=lambda f: f[0]) if found else None


def _fold(
    flow_id: str, events: Sequence[tuple[int | None, Message, float]], plan: PlanSpec | None
) -> tuple[Fold, tuple[int, str] | None]:
    """:func:`~actorflow.flow.fold.fold`, stopping at an event the decider rejects."""
    state: FlowCore | None = None
    steps: list[FoldStep] = []
    for seq, recorded, at in events:
        event = recorded
        if isinstance(recorded, RunFlow):
            state = None  # every run (a resume, a run again) starts from its own RunFlow
            if plan is not None and recorded.snapshot is None:  # its own order, not the old
                event = recorded.model_copy(update={"plan": plan, "order": ()})
        try:
            state, commands = decide(state, event, at)
        except (ActorflowError, LookupError, ValueError, TypeError) as exc:
            text = (
                f"Replay diverged in flow {flow_id!r} at seq {seq if seq is not None else '?'}: "
                f"the current decider rejected the recorded event {event.kind_tag} "
                f"({type(exc).__name__}: {exc}). Expected (recorded): {event.kind_tag} → "
                f"{_FLOWS}{flow_id} processed; actual (current code): an error."
            )
            return Fold(flow_id, tuple(steps)), (seq if seq is not None else 1 << 62, text)
        steps.append(FoldStep(seq, event, at, state, tuple(commands)))
    return Fold(flow_id, tuple(steps)), None


def _same(want: Action, got: Action) -> bool:
    return want.recipient == got.recipient and want.payload == got.payload


class _Positions:
    """Which folded event was the last one recorded before a given seq (O(log n))."""

    __slots__ = ("latest", "seqs")

    def __init__(self, seq_at: Mapping[int, int]) -> None:
        pairs = sorted(seq_at.items())
        self.seqs = [s for s, _ in pairs]
        self.latest: list[int] = []  # the highest position among seqs up to each one
        top = -1
        for _, index in pairs:
            top = max(top, index)
            self.latest.append(top)

    def before(self, seq: int | None) -> int:
        """Position of the last folded event recorded before ``seq`` (-1: none)."""
        if seq is None:
            return self.latest[-1] if self.latest else -1
        cut = bisect_left(self.seqs, seq)
        return self.latest[cut - 1] if cut else -1


def _asker(entries: Sequence[JournalEntry], flow_id: str) -> str | None:
    """Where the flow's last ``RunFlow`` asked its reply to go (None: nowhere)."""
    path = _FLOWS + flow_id
    asker: str | None = None
    for r in entries:
        if isinstance(r, Envelope) and str(r.recipient) == path and isinstance(r.message, RunFlow):
            to = r.reply_to or r.sender
            asker = None if to is None else str(to)
    return asker


def _divergence(flow_id: str, want: Action | None, got: Action | None, why: str) -> tuple[int, str]:
    seq = (want.seq if want is not None else None) or (got.seq if got is not None else None)
    expected = want.describe() if want is not None else "nothing"
    actual = got.describe() if got is not None else "nothing"
    diff = _diff(want, got)
    text = (
        f"Replay diverged in flow {flow_id!r} at seq {seq if seq is not None else '?'}: "
        f"{why}. Expected (recorded): {expected}; actual (current code): {actual}"
        + (f"; payload diff: {diff}" if diff else "")
        + ". Check what changed in the flow's definition or in the decider since the run."
    )
    return (seq if seq is not None else 1 << 62), text


def _diff(want: Action | None, got: Action | None) -> str:
    if want is None or got is None:
        return ""
    keys = sorted(set(want.payload) | set(got.payload))
    parts = [
        f"{k}: {want.payload.get(k)!r} → {got.payload.get(k)!r}"
        for k in keys
        if want.payload.get(k) != got.payload.get(k)
    ]
    return ", ".join(parts)
