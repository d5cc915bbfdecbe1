"""Where the gateway keeps human requests: the :class:`PendingRequests` protocol and an
in-memory implementation.

The gateway writes every request here before anyone is asked and resolves it here
before anyone is told its outcome, so an implementation that outlives the process
(a store) makes requests survive a restart: the next gateway re-arms each open
request's deadline as it was (absolute, never reset).
"""

from __future__ import annotations

import collections
import threading
from typing import Protocol, final, runtime_checkable

from actorflow.errors import (
    AlreadyAnsweredError,
    HumanResponseExpiredError,
    UnknownHumanRequestError,
)
from actorflow.human.messages import HumanResponse, PendingRecord
from actorflow.human.models import HumanOutcome

__all__ = ["InMemoryPendingRequests", "PendingRequests", "ended_error"]


@runtime_checkable
class PendingRequests(Protocol):
    """Keeps human requests and their outcomes (any thread; each call is atomic)."""

    def put(self, record: PendingRecord) -> None:
        """Store ``record`` (new, or an open one changed: escalated, a new requester)."""
        ...

    def resolve(self, request_id: str, outcome: HumanResponse) -> PendingRecord:
        """Record the outcome of an open request and return the ended record.

        Raises:
            UnknownHumanRequestError: no request has that id.
            AlreadyAnsweredError: the request was answered already.
            HumanResponseExpiredError: it ended otherwise (timed out, cancelled, failed).
        """
        ...

    def list_pending(self) -> tuple[PendingRecord, ...]:
        """Return the open requests, oldest first."""
        ...

    def get(self, request_id: str) -> PendingRecord | None:
        """Return the request with that id, open or ended, or None."""
        ...


def ended_error(record: PendingRecord) -> AlreadyAnsweredError | HumanResponseExpiredError:
    """Return the error for answering ``record``, which has ended."""
    outcome = record.outcome
    assert outcome is not None
    rid = record.request_id
    if outcome.outcome is HumanOutcome.ANSWERED:
        return AlreadyAnsweredError(
            f"Human request {rid!r} ({record.request.message!r}) was answered already "
            f"(by {outcome.responder or 'someone'}, with {outcome.value!r}); a second "
            "answer is refused."
        )
    return HumanResponseExpiredError(
        f"Human request {rid!r} ({record.request.message!r}) has ended "
        f"({outcome.outcome.value}: {outcome.reason or 'no reason given'}), so it takes "
        "no answer any more."
    )


@final
class InMemoryPendingRequests:
    """:class:`PendingRequests` in a dict: for tests, and for one process's lifetime.

    Share one between two gateways (one after the other) to simulate a restart. Ended
    requests are kept (a requester that sends a request again is told its outcome) up to
    ``keep_ended``; beyond, the oldest ended ones are forgotten (open ones never are).
    """

    def __init__(self, keep_ended: int = 1_000) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, PendingRecord] = {}
        self._ended: collections.deque[str] = collections.deque()
        self.keep_ended = keep_ended

    def put(self, record: PendingRecord) -> None:
        """Store ``record`` under its request id."""
        with self._lock:
            self._records[record.request_id] = record

    def resolve(self, request_id: str, outcome: HumanResponse) -> PendingRecord:
        """Record the outcome of an open request (see :class:`PendingRequests`)."""
        with self._lock:
            record = self._records.get(request_id)
            if record is None:
                raise UnknownHumanRequestError(
                    f"No human request has the id {request_id!r}. List the open ones with "
                    "ListHumanRequests (or `actorflow pending`)."
                )
            if record.outcome is not None:
                raise ended_error(record)
            ended = record.model_copy(update={"outcome": outcome})
            self._records[request_id] = ended
            self._ended.append(request_id)
            while len(self._ended) > self.keep_ended:
                old = self._ended.popleft()
                kept = self._records.get(old)
                if kept is not None and kept.outcome is not None:
                    del self._records[old]
            return ended

    def list_pending(self) -> tuple[PendingRecord, ...]:
        """Return the open requests, oldest first."""
        with self._lock:
            records = [r for r in self._records.values() if r.outcome is None]
        return tuple(sorted(records, key=lambda r: r.asked_at))

    def get(self, request_id: str) -> PendingRecord | None:
        """Return the request with that id, or None."""
        with self._lock:
            return self._records.get(request_id)
