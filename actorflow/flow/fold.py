"""Folding a flow's journal: rebuild its state and its commands from the events it got.

A flow actor feeds the decider the messages it receives, timed by their deliveries'
wall times; the journal records every one of those deliveries. So folding the
journaled events through :func:`~actorflow.flow.decider.decide` gives back the state
the live flow had after each event, and the commands it carried out, with no outside
world: tools, agents and timers are not asked again.

The journal records deliveries in send order. Where a flow processed an event out of
that order (two threads sent to it at the same instant), its actor recorded a
``flow.order`` effect, and where its actor was stopped from outside, a ``flow.stop``
effect; the fold applies both.

Use :func:`fold_journal` on a journal, :func:`first_divergence` to compare two folds
(the same events under a changed plan, say): it names the first event after which the
two decided differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from actorflow.errors import FlowError
from actorflow.flow.commands import Command
from actorflow.flow.decider import EVENT_TYPES, FlowCore, decide
from actorflow.flow.messages import CancelFlow, RunFlow
from actorflow.flow.models import PlanSpec
from actorflow.journal.format import JournalEntry, JournalEvent
from actorflow.journal.reader import open_journal
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import EffectRecorded

__all__ = [
    "Divergence",
    "Fold",
    "FoldStep",
    "first_divergence",
    "flow_events",
    "flows_in",
    "fold",
    "fold_journal",
]

ORDER_EFFECT = "flow.order"
"""Recorded by a flow actor that processed an event out of send order."""
STOP_EFFECT = "flow.stop"
"""Recorded by a flow actor stopped from outside before its flow ended."""


@dataclass(frozen=True, slots=True)
class FoldStep:
    """One event of a flow and what the decider made of it."""

    seq: int | None
    """The event's delivery sequence number (None for a stop from outside)."""
    event: Message
    at: float
    state: FlowCore
    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Fold:
    """A flow rebuilt from its events."""

    flow_id: str
    steps: tuple[FoldStep, ...]

    @property
    def state(self) -> FlowCore | None:
        """The state after the last event (None: no event)."""
        return self.steps[-1].state if self.steps else None

    @property
    def commands(self) -> tuple[Command, ...]:
        """Every command, in order."""
        return tuple(c for step in self.steps for c in step.commands)


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two folds of the same events first decided differently."""

    index: int
    """Position of the event (0 is the flow's start)."""
    seq: int | None
    event: str
    """The event's kind."""
    expected: tuple[Command, ...]
    actual: tuple[Command, ...]

    def __str__(self) -> str:
        return (
            f"event {self.index} (seq {self.seq}, {self.event}): expected "
            f"{list(self.expected)!r}, got {list(self.actual)!r}"
        )


def flows_in(records: Iterable[JournalEntry]) -> list[str]:
    """Return the ids of the flows started in ``records``, in start order."""
    return [
        r.message.plan.id
        for r in records
        if isinstance(r, Envelope) and isinstance(r.message, RunFlow) and r.message.plan
    ]


def flow_events(
    records: Iterable[JournalEntry], flow_id: str
) -> list[tuple[int | None, Message, float]]:
    """Return ``(seq, event, at)`` of every event flow ``flow_id`` processed, in the
    order it processed them."""
    path = f"/flows/{flow_id}"
    events: list[tuple[int | None, Message, float]] = []
    moves: list[tuple[int, int]] = []
    for record in records:
        if isinstance(record, Envelope):
            if record.recipient == path and type(record.message) in EVENT_TYPES:
                events.append((record.seq, record.message, record.wall_time))
        elif isinstance(record, JournalEvent):
            effect = record.message
            if not isinstance(effect, EffectRecorded) or effect.actor != path:
                continue
            if effect.effect == ORDER_EFFECT and effect.during_seq is not None:
                after = effect.value.get("after") if isinstance(effect.value, dict) else None
                if isinstance(after, int):
                    moves.append((effect.during_seq, after))
            elif effect.effect == STOP_EFFECT and isinstance(effect.value, dict):
                reason = str(effect.value.get("reason", "stopped"))
                at = effect.value.get("at")
                when = float(at) if isinstance(at, int | float) else record.wall_time
                # Where the actor stopped: before a later run (a resume) of the flow.
                events.append((None, CancelFlow(reason=reason, failed=True), when))
    for seq, after in moves:  # processed right after ``after`` instead of in send order
        index = next((i for i, e in enumerate(events) if e[0] == seq), None)
        if index is None:
            continue
        moved = events.pop(index)
        target = next((i for i, e in enumerate(events) if e[0] == after), len(events) - 1)
        events.insert(target + 1, moved)
    return events


def fold(
    events: Iterable[tuple[int | None, Message, float]], *, plan: PlanSpec | None = None
) -> Fold:
    """Fold ``(seq, event, at)`` triples through the decider.

    Args:
        events: a flow's events, the first of them its ``RunFlow``.
        plan: run this plan instead of the recorded one (to see where a changed
            definition diverges).

    Raises:
        FlowError: the events do not start with the flow's ``RunFlow``.
    """
    state: FlowCore | None = None
    steps: list[FoldStep] = []
    flow_id = ""
    for seq, recorded, at in events:
        event = recorded
        if isinstance(recorded, RunFlow):
            state = None  # every run (a resume, a run again) starts from its own RunFlow
            if plan is not None and recorded.snapshot is None:
                # The recorded order is the recorded plan's: the decider works out the
                # changed plan's own order (a renamed step is not in the old one).
                event = recorded.model_copy(update={"plan": plan, "order": ()})
        state, commands = decide(state, event, at)
        flow_id = state.flow_id
        steps.append(FoldStep(seq, event, at, state, tuple(commands)))
    return Fold(flow_id, tuple(steps))


def fold_journal(
    source: str | Path | Iterable[JournalEntry], flow_id: str, *, plan: PlanSpec | None = None
) -> Fold:
    """Rebuild flow ``flow_id`` from a journal (a path, or records already read).

    Raises:
        FlowError: the journal holds no start of that flow.
        JournalError: the journal cannot be read.
    """
    if isinstance(source, str | Path):
        with open_journal(source, opaque=False) as reader:
            records: Sequence[JournalEntry] = list(reader)
    else:
        records = list(source)
    events = flow_events(records, flow_id)
    if not events or not isinstance(events[0][1], RunFlow):
        raise FlowError(
            f"The journal holds no start of flow {flow_id!r}. Check the flow id (flows "
            "started in it: " + (", ".join(flows_in(records)) or "none") + ")."
        )
    return fold(events, plan=plan)


def first_divergence(expected: Fold, actual: Fold) -> Divergence | None:
    """Return where ``actual`` first decided differently from ``expected``, or None."""
    for index, (a, b) in enumerate(zip(expected.steps, actual.steps, strict=False)):
        if a.commands != b.commands:
            return Divergence(index, a.seq, str(a.event.kind_tag), a.commands, b.commands)
    if len(expected.steps) != len(actual.steps):
        index = min(len(expected.steps), len(actual.steps))
        longer = expected if len(expected.steps) > len(actual.steps) else actual
        step = longer.steps[index]
        got = step.commands if longer is actual else ()
        want = step.commands if longer is expected else ()
        return Divergence(index, step.seq, str(step.event.kind_tag), want, got)
    return None
