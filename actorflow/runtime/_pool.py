"""The thread pool behind the effects loop's ``run_in_executor(None, ...)``.

A thread cannot be killed, so a blocking call whose caller gave up (its asyncio future
was cancelled, usually by a timeout) keeps its thread until the call returns. A plain
``ThreadPoolExecutor`` counts that thread as busy forever: after ``max_workers`` such
calls every other blocking call queues behind them and never runs.

:class:`BlockingPool` instead *abandons* such a call: its thread no longer counts
toward ``max_threads``, and a replacement thread serves the queue. Threads held by
abandoned calls are capped at ``thread_limit`` in all; once every one of those threads
is held by an abandoned call, the pool is exhausted and refuses new calls (and fails
the queued ones) with :class:`EffectPoolExhaustedError` instead of queueing forever.
A thread whose abandoned call returns serves the queue again, or ends if the pool
already has ``max_threads`` live threads.

Threads are daemons: an abandoned call stuck forever must not keep the process alive.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar, cast, final

from pydantic import BaseModel, ConfigDict

from actorflow.errors import ConfigurationError, EffectPoolExhaustedError, SystemStoppedError

__all__ = ["BlockingPool", "EffectStatistics"]

P = ParamSpec("P")
T = TypeVar("T")


@final
class EffectStatistics(BaseModel):
    """A snapshot of the effects runner's thread pool for blocking calls."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    max_threads: int
    """Blocking calls that run at once (threads not held by abandoned calls)."""
    thread_limit: int
    """Most threads the pool ever has, those held by abandoned calls included."""
    threads: int
    """Pool threads alive now."""
    busy: int
    """Calls running whose caller still waits for them."""
    abandoned: int
    """Calls still running whose caller gave up (cancelled or timed out); each holds a
    thread until it returns."""
    queued: int
    """Calls waiting for a thread."""
    abandoned_total: int
    """Calls abandoned since the pool started."""
    rejected: int
    """Calls refused or failed with ``EffectPoolExhaustedError`` since the pool started."""


class _PoolFuture(concurrent.futures.Future[T], Generic[T]):
    """A future whose ``cancel`` of a running call abandons it (frees its slot)."""

    def __init__(self, pool: BlockingPool) -> None:
        super().__init__()
        self.pool = pool
        self.is_abandoned = False

    def cancel(self) -> bool:
        """Cancel a queued call; mark a running one abandoned (its thread runs on)."""
        if super().cancel():
            self.pool.dequeue(self)
            return True
        self.pool.abandon(self)
        return False


@final
class _Item:
    __slots__ = ("call", "future")

    def __init__(self, call: Callable[[], object], future: _PoolFuture[object]) -> None:
        self.call = call
        self.future = future


@final
class BlockingPool(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that replaces threads held by abandoned calls, up to a hard cap.

    It subclasses ``ThreadPoolExecutor`` only because ``loop.set_default_executor``
    requires one; none of the base class's machinery is used.

    Args:
        max_threads: calls that run at once.
        thread_limit: most threads in all, those held by abandoned calls included.
        name: prefix of the threads' names.

    Raises:
        ConfigurationError: ``max_threads < 1`` or ``thread_limit < max_threads``.
    """

    def __init__(self, max_threads: int, thread_limit: int, *, name: str) -> None:
        if max_threads < 1 or thread_limit < max_threads:
            raise ConfigurationError(
                f"Effects pool sizes max_threads={max_threads!r}, "
                f"thread_limit={thread_limit!r} are invalid: max_threads must be at least 1 "
                "and thread_limit at least max_threads."
            )
        super().__init__(max_threads, thread_name_prefix=name)
        self._size = max_threads
        self._limit = thread_limit
        self._name = name
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        """Wakes idle threads for queued calls."""
        self._abandoned_returned = threading.Condition(lock)
        """Wakes ``wait_no_abandoned_calls``; separate, so a submit never wakes it instead."""
        self._queue: deque[_Item] = deque()
        self._alive: set[threading.Thread] = set()
        self._idle = 0
        self._running: set[_PoolFuture[object]] = set()
        self._abandoned = 0
        self._abandoned_total = 0
        self._rejected = 0
        self._started = 0
        self._is_closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> _PoolFuture[T]:
        """Queue ``fn(*args, **kwargs)`` (any thread) and return its future.

        Raises:
            EffectPoolExhaustedError: every thread the pool may have is held by an
                abandoned call.
            SystemStoppedError: the pool was shut down.
        """
        future: _PoolFuture[T] = _PoolFuture(self)
        item = _Item(lambda: fn(*args, **kwargs), cast("_PoolFuture[object]", future))
        with self._cond:
            if self._is_closed:
                raise SystemStoppedError(
                    "The effects thread pool is shut down, so a blocking call cannot start; "
                    "the actor system is shutting down."
                )
            if self._abandoned >= self._limit:
                self._rejected += 1
                raise self._exhausted_error()
            self._queue.append(item)
            self._grow()
            self._cond.notify()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; idle threads end, busy ones after their call (any thread).

        Args:
            wait: join the threads (those held by abandoned calls too: may take long).
            cancel_futures: cancel the calls still queued.
        """
        with self._cond:
            self._is_closed = True
            dropped = list(self._queue) if cancel_futures else []
            if cancel_futures:
                self._queue.clear()
            threads = list(self._alive)
            self._cond.notify_all()
        for item in dropped:
            item.future.cancel()
        if wait:
            for thread in threads:
                thread.join()

    def statistics(self) -> EffectStatistics:
        """Return a snapshot of the pool's counters (any thread)."""
        with self._cond:
            return EffectStatistics(
                max_threads=self._size,
                thread_limit=self._limit,
                threads=len(self._alive),
                busy=len(self._running) - self._abandoned,
                abandoned=self._abandoned,
                queued=len(self._queue),
                abandoned_total=self._abandoned_total,
                rejected=self._rejected,
            )

    def wait_no_abandoned_calls(self, timeout: float) -> bool:
        """Block until no abandoned call holds a thread (any thread but the loop's and an
        actor's); return whether that happened within ``timeout`` seconds."""
        with self._cond:
            return self._abandoned_returned.wait_for(lambda: self._abandoned == 0, timeout)

    def dequeue(self, future: _PoolFuture[T]) -> None:
        """Drop the queued call of a cancelled future (any thread)."""
        with self._cond:
            for item in self._queue:
                if item.future is future:
                    self._queue.remove(item)
                    return

    def abandon(self, future: _PoolFuture[T]) -> None:
        """Stop counting the thread of a running call as live, because its caller gave up
        (any thread; asyncio calls it on the loop thread when an awaiting task is
        cancelled). Grows a replacement thread, or, when every thread is now held by an
        abandoned call, fails the queued calls: the pool is exhausted."""
        failed: list[_Item] = []
        with self._cond:
            if future.is_abandoned or future.done() or future not in self._running:
                return
            future.is_abandoned = True
            self._abandoned += 1
            self._abandoned_total += 1
            if self._abandoned >= self._limit:
                failed = list(self._queue)
                self._queue.clear()
                self._rejected += len(failed)
            else:
                self._grow()
            error = self._exhausted_error()
        for item in failed:  # outside the lock: completing a future runs its callbacks
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(error)

    # -- internals (callers hold self._cond) -----------------------------------------

    def _exhausted_error(self) -> EffectPoolExhaustedError:
        return EffectPoolExhaustedError(
            f"The effects thread pool is exhausted: all {self._limit} of its threads are "
            "held by blocking calls that were abandoned (cancelled or timed out) and have "
            "not returned, so a new blocking call cannot start. Make blocking tools return "
            "in bounded time (a timeout inside the call), use async tools, or raise "
            "thread_limit."
        )

    def _grow(self) -> None:
        # Start a thread when queued calls outnumber idle threads, live threads (those not
        # held by abandoned calls) are below max_threads, and the hard cap allows it.
        threads = len(self._alive)
        if (
            len(self._queue) > self._idle
            and threads - self._abandoned < self._size
            and threads < self._limit
        ):
            self._started += 1
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{self._started}", daemon=True
            )
            self._alive.add(thread)
            thread.start()

    def _take(self) -> _Item | None:
        while True:
            while self._queue:
                item = self._queue.popleft()
                if item.future.set_running_or_notify_cancel():  # False: cancelled while queued
                    self._running.add(item.future)
                    return item
            if self._is_closed:
                return None
            self._idle += 1
            self._cond.wait()
            self._idle -= 1

    def _returned(self, future: _PoolFuture[object]) -> bool:
        """Book-keep a call that returned; return whether its thread should end."""
        self._running.discard(future)
        if future.is_abandoned:
            self._abandoned -= 1
            self._abandoned_returned.notify_all()
        # A replacement took this thread's place while it was held: one too many now.
        return len(self._alive) - self._abandoned > self._size

    def _work(self) -> None:
        """A pool thread: run queued calls until shut down or no longer needed."""
        me = threading.current_thread()
        while True:
            with self._cond:
                item = self._take()
                if item is None:
                    self._alive.discard(me)
                    return
            future, call = item.future, item.call
            del item
            result: object = None
            error: BaseException | None = None
            try:
                result = call()
            except BaseException as exc:  # noqa: BLE001 - the call's failure, for its caller
                error = exc
            # Book-keep before completing the future, so that whoever sees the result
            # also sees the pool without this call.
            with self._cond:
                ends = self._returned(future)
                if ends:
                    self._alive.discard(me)
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
            del call, future, result, error  # keep nothing alive while idle
            if ends:
                return
