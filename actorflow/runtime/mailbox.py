"""Bounded mailboxes with a priority lane for system messages and named overflow policies.

A mailbox has two FIFO lanes: ``system`` (supervision and lifecycle, never bounded,
always served first, served even while the actor is suspended) and ``user``
(bounded by ``capacity``; what happens when it is full is the overflow policy).
The owner takes messages in batches, so one lock round trip serves many messages.

Mailboxes are light while empty: the user lane's deque exists only while messages are
queued, and a consumer woken by a callback (an event-loop cell) has no signal lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated, final

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Mailbox", "MailboxConfig", "OverflowPolicy", "PutResult"]


class OverflowPolicy(StrEnum):
    """What a full mailbox does with one more message."""

    DROP_NEW = "drop_new"
    """The incoming message becomes an ``overflow`` dead letter."""
    DROP_OLDEST = "drop_oldest"
    """The oldest queued message becomes an ``overflow`` dead letter; the new one is queued."""
    REJECT = "reject"
    """Like ``drop_new``, and the sender's ``tell`` raises ``MailboxFullError``."""


@final
class MailboxConfig(BaseModel):
    """Capacity and overflow policy of an actor's mailbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity: Annotated[int, Field(gt=0)] = 100_000
    """Most user messages queued at once."""
    overflow: OverflowPolicy = OverflowPolicy.DROP_NEW
    """What happens to a message that does not fit."""
    batch_size: Annotated[int, Field(gt=0, le=10_000)] = 64
    """Most user messages taken per lock round trip."""


class PutResult(StrEnum):
    """Outcome of :meth:`Mailbox.put`."""

    QUEUED = "queued"
    EVICTED = "evicted"
    """Queued, after evicting the oldest message (``drop_oldest``)."""
    FULL = "full"
    CLOSED = "closed"


@final
class Mailbox:
    """Thread-safe two-lane queue owned by one cell; many producers, one consumer.

    Also accepts pykka's own envelopes through :meth:`put` from pykka's
    ``ActorRef.tell``/``ask`` (used by ``ActorRegistry.stop_all``); those go to the
    system lane.
    """

    __slots__ = (
        "_closed",
        "_lock",
        "_signal",
        "_system",
        "_system_closed",
        "_user",
        "_waiting",
        "_wake_callback",
        "config",
    )

    def __init__(self, config: MailboxConfig, *, threaded: bool = True) -> None:
        """Make an empty mailbox.

        Args:
            config: capacity, overflow policy and batch size.
            threaded: the consumer blocks in :meth:`take`; ``False`` for one woken by a
                callback (:meth:`on_wake`) that takes with :meth:`take_nowait`.
        """
        self.config = config
        self._lock = threading.Lock()
        # One consumer: it sleeps on this held lock, and the producer that finds it
        # waiting releases it once, after leaving the mailbox lock. Cheaper than a
        # Condition, which allocates a waiter lock per wait and wakes under the lock.
        self._signal: threading.Lock | None = None
        if threaded:
            self._signal = threading.Lock()
            self._signal.acquire()
        self._wake_callback: Callable[[], None] | None = None
        self._user: deque[object] | None = None
        """Queued user messages; ``None`` while there are none (a deque is ~600 bytes)."""
        self._system: list[object] = []  # rarely used: a list is smaller than a deque
        self._waiting = False
        self._closed = False
        """The user lane refuses messages (checked on every offer)."""
        self._system_closed = False
        """The system lane refuses messages too (the owner has finished)."""

    def __len__(self) -> int:
        user = self._user
        return 0 if user is None else len(user)

    @property
    def has_system(self) -> bool:
        """Whether a system message is waiting (read without the lock; a hint)."""
        return bool(self._system)

    def offer(self, item: object) -> tuple[PutResult, object | None]:
        """Queue a user message.

        Returns:
            The outcome and, for ``drop_oldest`` on a full mailbox, the evicted message.
        """
        evicted: object | None = None
        with self._lock:
            if self._closed:
                return PutResult.CLOSED, None
            user = self._user
            if user is None:
                user = self._user = deque()
            elif len(user) >= self.config.capacity:
                if self.config.overflow is not OverflowPolicy.DROP_OLDEST:
                    return PutResult.FULL, None
                evicted = user.popleft()
            user.append(item)
            wake = self._waiting
            self._waiting = False
        if wake:
            self._wake()
        return (PutResult.EVICTED if evicted is not None else PutResult.QUEUED), evicted

    def offer_system(self, item: object) -> PutResult:
        """Queue a system message (unbounded)."""
        with self._lock:
            if self._system_closed:
                return PutResult.CLOSED
            self._system.append(item)
            wake = self._waiting
            self._waiting = False
        if wake:
            self._wake()
        return PutResult.QUEUED

    # pykka's ActorInbox protocol: pykka's own envelopes take the system lane.
    def put(self, item: object, /) -> None:
        """Queue a pykka envelope, or a runtime-internal item, in the system lane (pykka's
        ``ActorInbox.put``); dropped once the owner has finished."""
        with self._lock:
            if self._system_closed:
                return
            self._system.append(item)
            wake = self._waiting
            self._waiting = False
        if wake:
            self._wake()

    def get(self) -> object:
        """Not used: the cell runs its own loop with :meth:`take`."""
        raise NotImplementedError("Cells take messages in batches with Mailbox.take()")

    def empty(self) -> bool:
        """Whether both lanes are empty."""
        return not self._user and not self._system

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Wake the consumer by calling ``callback`` instead of releasing a lock (for a
        consumer that runs as event-loop callbacks and uses :meth:`take_nowait`)."""
        self._wake_callback = callback

    def _wake(self) -> None:
        callback = self._wake_callback
        if callback is not None:
            callback()
        elif self._signal is not None:
            self._signal.release()

    def take_nowait(self, *, include_user: bool) -> tuple[list[object], list[object]]:
        """Return what is there now; if nothing, mark the consumer waiting (atomically), so
        the next message wakes it."""
        with self._lock:
            if self._system or (include_user and self._user):
                return self._take_now(include_user)
            self._waiting = True
            return [], []

    def take(
        self, *, include_user: bool, timeout: float | None = None
    ) -> tuple[list[object], list[object]]:
        """Block until there is work, then return (system messages, a batch of user messages).

        User messages are returned only when ``include_user`` (the actor is not
        suspended). Returns two empty lists if ``timeout`` passes. One consumer only.
        """
        signal = self._signal
        assert signal is not None, "a mailbox made with threaded=False is taken with take_nowait"
        while True:
            with self._lock:
                if self._system or (include_user and self._user):
                    return self._take_now(include_user)
                self._waiting = True
            if signal.acquire(timeout=-1 if timeout is None else timeout):
                continue
            with self._lock:
                if self._waiting:  # nobody will release: give up
                    self._waiting = False
                    return [], []
            signal.acquire()  # a producer is releasing right now: take its release
            with self._lock:
                return self._take_now(include_user)

    def _take_now(self, include_user: bool) -> tuple[list[object], list[object]]:
        system = self._system
        if system:
            self._system = []
            return system, []
        user = self._user
        if not include_user or user is None:
            return [], []
        if len(user) <= self.config.batch_size:
            self._user = None  # all of it: the deque goes, an idle mailbox keeps none
            return [], list(user)
        popleft = user.popleft
        return [], [popleft() for _ in range(self.config.batch_size)]

    def push_front(self, items: Iterable[object]) -> None:
        """Put untaken user messages back at the head, in their order."""
        items = list(items)
        if not items:
            return
        with self._lock:
            user = self._user
            if user is None:
                self._user = deque(items)
            else:
                user.extendleft(reversed(items))

    def close(self) -> list[object]:
        """Refuse further messages and return the user messages still queued."""
        with self._lock:
            self._closed = True
            self._system_closed = True
            rest = list(self._user or ())
            self._user = None
            self._system.clear()
            return rest

    def close_user(self) -> list[object]:
        """Refuse further user messages and return those still queued; the system lane
        stays open, so an owner that was given up on can still finish stopping."""
        with self._lock:
            self._closed = True
            rest = list(self._user or ())
            self._user = None
            return rest

    @property
    def is_closed(self) -> bool:
        """Whether the user lane refuses messages (:meth:`close` or :meth:`close_user`)."""
        return self._closed
