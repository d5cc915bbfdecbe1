"""Time for the runtime: the Clock protocol, the real SystemClock and a FakeClock for tests.

All runtime timing (request timeouts, restart intensity windows, scheduled
messages) reads and schedules through a :class:`Clock`, so tests drive time
with :meth:`FakeClock.advance` instead of sleeping.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, final

from loguru import logger

from actorflow.errors import ClockError, ConfigurationError

__all__ = ["Clock", "FakeClock", "SystemClock", "TimerHandle", "to_seconds"]


_MAX_WAIT = min(threading.TIMEOUT_MAX, 3600.0)
"""Longest single sleep of the timer thread; a later deadline is waited for in steps."""


def to_seconds(
    delay: float | timedelta, *, what: str = "delay", allow_negative: bool = False
) -> float:
    """Return ``delay`` in seconds, accepting a number or a timedelta.

    Raises:
        ConfigurationError: ``delay`` is not a number or a timedelta, is not finite, or
            is negative (unless ``allow_negative``).
    """
    value: object = delay  # callers may pass anything at run time
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ConfigurationError(
            f"The {what} {delay!r} is a {type(delay).__name__}, not a number of seconds "
            "or a timedelta. Pass a float such as 1.5 or a datetime.timedelta."
        )
    if not math.isfinite(seconds):
        raise ConfigurationError(
            f"The {what} {delay!r} is not a finite number of seconds. "
            "Pass a finite delay; to wait forever, schedule nothing."
        )
    if seconds < 0 and not allow_negative:
        raise ConfigurationError(
            f"The {what} {delay!r} is negative. Pass zero (now) or a positive delay."
        )
    return seconds


class TimerHandle:
    """A scheduled callback; :meth:`cancel` prevents it from running."""

    __slots__ = ("_cancelled", "callback", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self._cancelled = False

    @property
    def is_cancelled(self) -> bool:
        """Whether :meth:`cancel` was called before the timer fired."""
        return self._cancelled

    def cancel(self) -> None:
        """Prevent the callback from running; harmless after it ran.

        The callback is dropped at once, so a cancelled timer that waits in the heap
        until its deadline does not keep alive what the callback refers to (an actor).
        """
        self._cancelled = True
        self.callback = _nothing


def _nothing() -> None:
    """The callback of a cancelled timer."""


class Clock(Protocol):
    """Source of time and of delayed callbacks for the runtime."""

    def time(self) -> float:
        """Return wall-clock time in seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds, for deadlines and windows."""
        ...

    def now(self) -> datetime:
        """Return the current wall-clock time as an aware UTC datetime."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once, ``delay`` seconds from now, on the clock's timer thread.

        Callbacks must be short and must not block (they usually ``tell`` an actor).
        """
        ...

    def close(self) -> None:
        """Stop the timer thread, if any; pending timers never fire."""
        ...


class _TimerHeap:
    """Due-time ordered timers; ties fire in the order they were scheduled."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._order = itertools.count()

    def push(self, handle: TimerHandle) -> None:
        heapq.heappush(self._heap, (handle.deadline, next(self._order), handle))

    def pop_due(self, now: float) -> TimerHandle | None:
        while self._heap and self._heap[0][0] <= now:
            handle = heapq.heappop(self._heap)[2]
            if not handle.is_cancelled:
                return handle
        return None

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0][2].is_cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def clear(self) -> None:
        self._heap.clear()


def _run_callback(handle: TimerHandle) -> None:
    try:
        handle.callback()
    except BaseException:  # noqa: BLE001 - a timer callback must never kill the timer thread
        logger.opt(exception=True).error("Timer callback {callback!r} raised", callback=handle)


@final
class SystemClock:
    """Real time; timers run on one lazily started thread named ``actorflow-timers``."""

    def __init__(self) -> None:
        self._timers = _TimerHeap()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def time(self) -> float:
        """Return ``time.time()``."""
        return time.time()

    def monotonic(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule ``callback`` on the timer thread after ``delay`` seconds.

        Raises:
            ConfigurationError: ``delay`` is not a finite, non-negative number.
            ClockError: the clock is closed.
        """
        handle = TimerHandle(time.monotonic() + to_seconds(delay), callback)
        with self._cond:
            if self._closed:
                raise ClockError(
                    "SystemClock is closed, so it cannot schedule timers. "
                    "Create a new clock (or a new ActorSystem)."
                )
            earliest = self._timers.next_deadline()
            self._timers.push(handle)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="actorflow-timers", daemon=True
                )
                self._thread.start()
            if earliest is None or handle.deadline < earliest:
                self._cond.notify()  # only an earlier deadline changes how long it sleeps
        return handle

    def close(self) -> None:
        """Stop the timer thread and drop pending timers."""
        with self._cond:
            self._closed = True
            self._timers.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run(self) -> None:
        # One timer thread serves every actor: nothing may end it but close().
        while True:
            try:
                if not self._run_once():
                    return
            except BaseException:  # noqa: BLE001 - the timer thread must outlive any error
                logger.opt(exception=True).error(
                    "The timer thread of {clock!r} hit an error; it goes on serving timers",
                    clock=self,
                )

    def _run_once(self) -> bool:
        """Fire one due timer or sleep until the next deadline; False once closed."""
        with self._cond:
            if self._closed:
                return False
            handle = self._timers.pop_due(time.monotonic())
            if handle is None:
                deadline = self._timers.next_deadline()
                wait = (
                    _MAX_WAIT
                    if deadline is None
                    else min(_MAX_WAIT, max(0.0, deadline - time.monotonic()))
                )
                self._cond.wait(wait)  # a far deadline is waited for in steps
                return True
        _run_callback(handle)
        return True


@final
class FakeClock:
    """A clock that moves only when told to; :meth:`advance` fires due timers in order.

    Timer callbacks run on the thread that calls :meth:`advance`, each with the
    clock set to that timer's deadline.
    """

    def __init__(self, start: datetime | None = None, *, monotonic_start: float = 0.0) -> None:
        self._epoch = (start or datetime(2026, 1, 1, tzinfo=UTC)).timestamp()
        self._mono_start = monotonic_start
        self._elapsed = 0.0
        self._timers = _TimerHeap()
        self._lock = threading.RLock()
        self._scheduled = threading.Condition(self._lock)

    def time(self) -> float:
        """Return the fake wall time in epoch seconds."""
        return self._epoch + self._elapsed

    def monotonic(self) -> float:
        """Return the fake monotonic reading."""
        return self._mono_start + self._elapsed

    def now(self) -> datetime:
        """Return the fake wall time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Schedule ``callback`` to fire when the clock is advanced past ``delay``.

        Raises:
            ConfigurationError: ``delay`` is not a finite, non-negative number.
        """
        seconds = to_seconds(delay)
        with self._lock:
            handle = TimerHandle(self.monotonic() + seconds, callback)
            self._timers.push(handle)
            self._scheduled.notify_all()
            return handle

    def pending_timers(self) -> int:
        """Return how many timers are scheduled and not cancelled."""
        with self._lock:
            return sum(1 for _, _, h in self._timers._heap if not h.is_cancelled)

    def wait_for_timers(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` timers are pending; False if ``timeout`` passes.

        For tests that must not advance time before an actor has scheduled its timer.
        """
        with self._scheduled:
            return self._scheduled.wait_for(lambda: self.pending_timers() >= count, timeout)

    def advance(self, delay: float | timedelta) -> None:
        """Move time forward by ``delay``, firing every timer that falls due, in order.

        Raises:
            ClockError: ``delay`` is negative (time never goes backwards).
        """
        seconds = to_seconds(delay, allow_negative=True)
        if seconds < 0:
            raise ClockError(
                f"FakeClock cannot go backwards (asked to advance by {seconds!r} s). "
                "Advance by zero or a positive amount."
            )
        with self._lock:
            target = self.monotonic() + seconds
            while (handle := self._timers.pop_due(target)) is not None:
                self._elapsed = max(self._elapsed, handle.deadline - self._mono_start)
                _run_callback(handle)
            self._elapsed = target - self._mono_start

    def close(self) -> None:
        """Drop pending timers."""
        with self._lock:
            self._timers.clear()
