"""Human requests that survive a restart: decided on in memory, written ahead to a store.

:class:`DurablePendingRequests` is a :class:`~actorflow.human.pending.PendingRequests`
whose every change (a new request, a new sender, an escalation, an outcome) is also a
write to a :class:`PendingLog`: the store actor, through
``actorflow.stores.StorePendingLog``. The gateway sends those writes as requests
(``ctx.request``, never a wait) and holds back all that the outside sees of a change
(the handler asked, an outcome told, a reply to whoever answered) until the store has
acknowledged the write that carries it: write-ahead. So a crash between a write and its
acknowledgement loses nothing anyone was told of; the resumed requester sends its
request again (same id, same absolute deadline) and the next gateway takes it as new or
re-joins the stored one.

Writes leave in order and the store commits them in order, so an acknowledgement also
covers every earlier write. This module works on JSON only (it never imports a store).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Protocol, final, runtime_checkable

from loguru import logger
from pydantic import JsonValue, ValidationError

from actorflow.human.messages import HumanResponse, PendingRecord
from actorflow.human.pending import InMemoryPendingRequests
from actorflow.ids import ActorPath
from actorflow.messages.base import Message

__all__ = ["OPEN", "DurablePendingRequests", "PendingLog", "WriteAhead", "record_status"]

OPEN = "open"
"""The status a durable log keeps for a request that waits for its outcome."""


@runtime_checkable
class PendingLog(Protocol):
    """Where :class:`DurablePendingRequests` writes ahead, as messages to an actor."""

    @property
    def path(self) -> ActorPath:
        """The actor the writes go to (it acknowledges each with a reply)."""
        ...

    def load(self) -> Sequence[Mapping[str, JsonValue]]:
        """Return the stored records (open and ended), oldest first. Blocks: called
        once, outside the actors, when the pending requests are made."""
        ...

    def write_message(
        self,
        record: Mapping[str, JsonValue],
        *,
        request_id: str,
        status: str,
        deadline: float,
        asked_at: float,
        flow_id: str | None,
        step_id: str | None,
    ) -> Message:
        """Return the message that stores ``record`` (replacing the one of its id)."""
        ...

    def write_error(self, reply: Message) -> str | None:
        """Return why ``reply`` says a write failed, or None if it is committed."""
        ...


@runtime_checkable
class WriteAhead(Protocol):
    """Pending requests whose changes the gateway sends, and acts on once acknowledged."""

    def take_writes(self) -> tuple[tuple[ActorPath, Message], ...]:
        """Return the writes made since the last call, in order (each one is a request
        whose reply acknowledges it)."""
        ...

    def write_error(self, reply: Message) -> str | None:
        """Return why ``reply`` says a write failed, or None if it is committed."""
        ...


def record_status(record: PendingRecord) -> str:
    """``open``, or how the request ended (``answered``, ``timed_out`` ...)."""
    return OPEN if record.outcome is None else record.outcome.outcome.value


@final
class DurablePendingRequests:
    """:class:`~actorflow.human.pending.PendingRequests` kept in memory and written ahead
    to ``log`` (see the module docstring).

    Args:
        log: where the records are stored; its records (open and ended) are loaded
            now, so build this outside the actors.
        keep_ended: requests that end from now on kept in memory once ended (a re-sent
            one is told its outcome); those loaded from the log are all kept.

    Raises:
        StoreError: the log could not be read (from the log).
    """

    def __init__(self, log: PendingLog, *, keep_ended: int = 1_000) -> None:
        self.log = log
        self._view = InMemoryPendingRequests(keep_ended)
        self._lock = threading.Lock()
        self._writes: list[tuple[ActorPath, Message]] = []
        records = [r for r in map(_parse, log.load()) if r is not None]
        # Every ended record the log holds is kept, however old: a resumed flow sends
        # its request again (same id), maybe long after an answer given while it was
        # down (`actorflow answer`), and must be told that outcome, not asked again
        # (nor have the stored answer overwritten by a new open record). The log holds
        # them all anyway; ``keep_ended`` bounds those that end from now on.
        for record in records:
            self._view.put(record)

    def put(self, record: PendingRecord) -> None:
        """Keep ``record`` and write it ahead."""
        self._view.put(record)
        self._write(record)

    def resolve(self, request_id: str, outcome: HumanResponse) -> PendingRecord:
        """Record the outcome of an open request and write it ahead (see
        :class:`~actorflow.human.pending.PendingRequests`)."""
        ended = self._view.resolve(request_id, outcome)
        self._write(ended)
        return ended

    def list_pending(self) -> tuple[PendingRecord, ...]:
        """Return the open requests, oldest first."""
        return self._view.list_pending()

    def get(self, request_id: str) -> PendingRecord | None:
        """Return the request with that id (open, or ended and still kept), or None."""
        return self._view.get(request_id)

    def take_writes(self) -> tuple[tuple[ActorPath, Message], ...]:
        """Return the writes made since the last call, in order."""
        with self._lock:
            writes, self._writes = tuple(self._writes), []
        return writes

    def write_error(self, reply: Message) -> str | None:
        """Return why ``reply`` says a write failed, or None if it is committed."""
        return self.log.write_error(reply)

    def _write(self, record: PendingRecord) -> None:
        request = record.request
        message = self.log.write_message(
            record.model_dump(mode="json"),
            request_id=record.request_id,
            status=record_status(record),
            deadline=record.deadline,
            asked_at=record.asked_at,
            flow_id=request.flow_id,
            step_id=request.step_id,
        )
        with self._lock:
            self._writes.append((self.log.path, message))


def _parse(data: Mapping[str, JsonValue]) -> PendingRecord | None:
    try:
        return PendingRecord.model_validate(data)
    except ValidationError as exc:
        logger.warning(
            "A stored human request cannot be read and is left out: {error}",
            error=str(exc).strip().splitlines()[0],
        )
        return None
