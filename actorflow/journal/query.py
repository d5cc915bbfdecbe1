"""Filtering journal records and summarising them (``actorflow log show`` / ``log stats``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar, final

from pydantic import BaseModel, ConfigDict

from actorflow.journal.format import (
    JournalEntry,
    JournalEvent,
    JournalHeader,
    JournalRecord,
    UndecodedRecord,
)
from actorflow.messages.base import message_kind
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import (
    ActorFailed,
    ActorRestarted,
    DeadLetter,
    LifecycleEvent,
)

__all__ = ["JournalFilter", "JournalSummary", "record_kind", "record_time", "summarise"]

_Entry = TypeVar("_Entry", bound=JournalEntry)


def record_kind(record: JournalEntry) -> str:
    """Return the kind tag of a record's message (``"header"`` for headers,
    ``"undecoded"`` for a frame that did not decode)."""
    if isinstance(record, JournalHeader):
        return "header"
    if isinstance(record, UndecodedRecord):
        return "undecoded"
    return message_kind(record.message)


def record_time(record: JournalRecord) -> float:
    """Return a record's wall time in epoch seconds."""
    return record.started_at if isinstance(record, JournalHeader) else record.wall_time


def _actors(record: JournalRecord) -> tuple[str, ...]:
    if isinstance(record, Envelope):
        return tuple(p for p in (record.sender, record.recipient) if p is not None)
    if isinstance(record, JournalEvent):
        msg = record.message
        if isinstance(msg, LifecycleEvent):
            return (msg.path,)
        if isinstance(msg, DeadLetter):
            return tuple(p for p in (msg.sender, msg.recipient) if p is not None)
        actor = getattr(msg, "actor", None)
        return (actor,) if isinstance(actor, str) else ()
    return ()


@final
class JournalFilter(BaseModel):
    """Which records to keep; every given criterion must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str | None = None
    """An actor path: records it sent, received or is about (its subtree with a trailing /)."""
    kind: str | None = None
    """A message kind, or a prefix ending in '.' (``"lifecycle."``)."""
    flow_id: str | None = None
    """Records of one flow: messages with that ``flow_id`` or actors under ``/flows/<id>``."""
    correlation_id: str | None = None
    seq_from: int | None = None
    seq_to: int | None = None
    since: float | None = None
    """Epoch seconds."""
    until: float | None = None

    def matches(self, record: JournalEntry) -> bool:
        """Whether ``record`` passes the filter.

        Segment headers and undecoded records pass only the empty filter: nothing
        about them can be checked against a criterion.
        """
        if isinstance(record, JournalHeader | UndecodedRecord):
            return self == JournalFilter()
        return (
            self._seq_ok(record.seq)
            and self._time_ok(record.wall_time)
            and self._kind_ok(record_kind(record))
            and self._actor_ok(record)
            and self._correlation_ok(record)
            and self._flow_ok(record)
        )

    def apply(self, records: Iterable[_Entry]) -> Iterator[_Entry]:
        """Yield the records that pass."""
        return (r for r in records if self.matches(r))

    def _seq_ok(self, seq: int) -> bool:
        return (self.seq_from is None or seq >= self.seq_from) and (
            self.seq_to is None or seq <= self.seq_to
        )

    def _time_ok(self, t: float) -> bool:
        return (self.since is None or t >= self.since) and (self.until is None or t <= self.until)

    def _kind_ok(self, kind: str) -> bool:
        if self.kind is None:
            return True
        return kind.startswith(self.kind) if self.kind.endswith(".") else kind == self.kind

    def _actor_ok(self, record: JournalRecord) -> bool:
        if self.actor is None:
            return True
        if self.actor.endswith("/"):
            return any(a.startswith(self.actor) or a == self.actor[:-1] for a in _actors(record))
        return self.actor in _actors(record)

    def _correlation_ok(self, record: JournalRecord) -> bool:
        if self.correlation_id is None:
            return True
        return isinstance(record, Envelope) and record.correlation_id == self.correlation_id

    def _flow_ok(self, record: JournalRecord) -> bool:
        if self.flow_id is None:
            return True
        assert not isinstance(record, JournalHeader)
        if getattr(record.message, "flow_id", None) == self.flow_id:
            return True
        prefix = f"/flows/{self.flow_id}"
        return any(a == prefix or a.startswith(prefix + "/") for a in _actors(record))


@final
class JournalSummary(BaseModel):
    """Counts over a journal, for ``actorflow log stats``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    records: int
    deliveries: int
    events: int
    undecoded: int = 0
    """Whole frames that did not decode (counted in ``records`` too)."""
    runs: tuple[str, ...]
    by_kind: Mapping[str, int]
    by_actor: Mapping[str, int]
    """Deliveries received, per recipient."""
    dead_letters: Mapping[str, int]
    """Dead letters per reason."""
    failures: Mapping[str, int]
    restarts: Mapping[str, int]
    first_time: float | None
    last_time: float | None

    @property
    def span(self) -> float:
        """Seconds from the first to the last record."""
        if self.first_time is None or self.last_time is None:
            return 0.0
        return self.last_time - self.first_time

    @property
    def throughput(self) -> float:
        """Deliveries per second over the span."""
        return self.deliveries / self.span if self.span > 0 else 0.0


def summarise(records: Iterable[JournalEntry]) -> JournalSummary:
    """Count records by kind, actor, dead-letter reason, failure and restart."""
    by_kind: Counter[str] = Counter()
    by_actor: Counter[str] = Counter()
    dead: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    restarts: Counter[str] = Counter()
    runs: list[str] = []
    deliveries = events = total = undecoded = 0
    first: float | None = None
    last: float | None = None
    for record in records:
        total += 1
        if isinstance(record, JournalHeader):
            runs.append(record.run_id)
            continue
        if isinstance(record, UndecodedRecord):
            undecoded += 1
            continue
        t = record.wall_time
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
        by_kind[record_kind(record)] += 1
        if isinstance(record, Envelope):
            deliveries += 1
            by_actor[record.recipient] += 1
            continue
        events += 1
        msg = record.message
        if isinstance(msg, DeadLetter):
            dead[msg.reason.value] += 1
        elif isinstance(msg, ActorFailed):
            failures[msg.path] += 1
        elif isinstance(msg, ActorRestarted):
            restarts[msg.path] += 1
    return JournalSummary(
        records=total,
        deliveries=deliveries,
        events=events,
        undecoded=undecoded,
        runs=tuple(runs),
        by_kind=dict(by_kind.most_common()),
        by_actor=dict(by_actor.most_common()),
        dead_letters=dict(dead),
        failures=dict(failures),
        restarts=dict(restarts),
        first_time=first,
        last_time=last,
    )
