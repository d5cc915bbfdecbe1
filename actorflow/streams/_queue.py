"""A subscriber's bounded event queue: many producers (the hub), one consumer."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from actorflow.streams.types import StreamCallbackData, StreamOverflow

__all__ = ["EventQueue"]


class EventQueue:
    """Bounded FIFO of stream events with an overflow policy and exact counts.

    The producer calls :meth:`offer`; when the consumer was idle, ``wake`` is called
    (once, outside the lock) so it comes to :meth:`take`. The consumer takes until
    :meth:`take` returns nothing, which marks it idle again, so no wake-up is lost and
    none is sent while it is busy.
    """

    def __init__(self, capacity: int, overflow: StreamOverflow, wake: Callable[[], None]) -> None:
        self.capacity = capacity
        self.overflow = overflow
        self.wake = wake
        self._items: deque[StreamCallbackData] = deque()
        self._lock = threading.Lock()
        self._idle = True
        self._settled = threading.Condition(self._lock)
        self._busy = False
        """The consumer is handling what it took last."""
        self.closed = False
        self.offered = 0
        self.dropped = 0
        """Events a full queue dropped."""
        self.discarded = 0
        """Events still queued when the subscription was closed."""

    def offer(self, items: Iterable[StreamCallbackData]) -> None:
        """Queue ``items`` (hub thread), applying the overflow policy."""
        with self._lock:
            if self.closed:  # the subscriber is gone: counted, not lost silently
                items = list(items)
                self.offered += len(items)
                self.discarded += len(items)
                return
            queue, drop_new = self._items, self.overflow is StreamOverflow.DROP_NEW
            for item in items:
                self.offered += 1
                if len(queue) >= self.capacity:
                    self.dropped += 1
                    if drop_new and not item.is_last:
                        continue
                    queue.popleft()
                queue.append(item)
            wake = self._idle and bool(queue)
            if wake:
                self._idle = False
        if wake:
            self.wake()

    def discard(self, count: int) -> None:
        """Count ``count`` taken events the consumer will not hand on (it was closed)."""
        with self._lock:
            self.discarded += count

    def take(self, limit: int = 256) -> list[StreamCallbackData]:
        """Return up to ``limit`` queued events (consumer); an empty list marks it idle."""
        with self._lock:
            queue = self._items
            if not queue or self.closed:
                self._idle, self._busy = True, False
                self._settled.notify_all()
                return []
            self._busy = True
            count = min(limit, len(queue))
            return [queue.popleft() for _ in range(count)]

    @property
    def pending(self) -> int:
        """Events queued and not yet taken."""
        return len(self._items)

    def close(self) -> None:
        """Stop taking events; what is still queued is discarded (and counted)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.discarded += len(self._items)
            self._items.clear()
            idle = self._idle
            self._idle = False
            self._settled.notify_all()
        if idle:
            self.wake()  # let a waiting consumer see the end

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued event was handled (or the queue closed); return
        whether that happened within ``timeout`` seconds."""
        with self._lock:
            return self._settled.wait_for(
                lambda: self.closed or (not self._items and not self._busy), timeout
            )
