"""The effects runner: where outside work runs, so it never blocks an actor thread.

One asyncio event loop on its own thread runs coroutines (HTTP, MCP, model calls,
async user callbacks); a bounded thread pool runs blocking callables. Each result
or error is handed to a callback on the loop thread, which usually tells the
requesting actor a message, so the journal records it as a delivery.

The pool is the loop's default executor, so ``loop.run_in_executor(None, fn)`` on the
loop (how flow steps call sync tools) uses it too. A blocking call whose awaiting task
is cancelled (a step timeout, a stopped actor) cannot be killed; the pool abandons it
and grows a replacement thread, up to ``thread_limit`` threads, and past that refuses
blocking calls with ``EffectPoolExhaustedError`` (see :mod:`actorflow.runtime._pool`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, final

from loguru import logger

from actorflow.errors import SystemStoppedError
from actorflow.runtime._pool import BlockingPool, EffectStatistics
from actorflow.runtime._wakeups import inbox_for

__all__ = ["EffectHandle", "EffectRunner", "EffectStatistics", "LoopDispatcher", "outside_actor"]

outside_actor = threading.local()
"""``outside_actor.cell``: the cell whose handler the calling thread runs, if any (read by
``cell.current_cell()``; it lives here so that an effect's eager first step can clear it)."""

Outcome = Callable[[object, BaseException | None], None]
"""Called with (result, None) or (None, error): on the loop thread, except for
:meth:`EffectRunner.call_blocking`, which calls it on the pool thread."""


@final
class EffectHandle:
    """A submitted effect; :meth:`cancel` cancels it cooperatively."""

    def __init__(self, runner: EffectRunner) -> None:
        self._runner = runner
        self._task: asyncio.Task[Any] | None = None
        self._call: _BlockingCall | None = None
        self._cancelled = False

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def cancel(self) -> None:
        """Cancel the effect (any thread); its callback then gets CancelledError, or nothing
        if it already finished."""
        self._cancelled = True
        call = self._call
        if call is not None:
            call.cancel()
            return
        task = self._task
        if task is None or task.done() or self._runner._closed:
            return
        dispatcher = self._runner._dispatcher
        if dispatcher is not None:
            dispatcher.schedule(task.cancel)


@final
class LoopDispatcher:
    """Runs callbacks on one event loop: directly queued from its own thread, through
    ``call_soon_threadsafe`` from others. Cells with this dispatcher have no thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        self.loop = loop
        self.thread_id = thread_id
        self._inbox = inbox_for(loop)

    def schedule(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop soon (any thread; from others, through the loop's
        inbox: one wake-up for all that come before the loop takes them)."""
        if threading.get_ident() == self.thread_id:
            self.loop.call_soon(callback)
        else:
            self._inbox.put(callback)


@final
class EffectRunner:
    """An asyncio loop thread plus a bounded pool for blocking calls.

    Args:
        max_threads: blocking calls that run at once.
        thread_limit: most pool threads in all, counting those held by abandoned calls
            (blocking calls whose caller was cancelled or timed out and that have not
            returned). Once every one of them is held so, blocking calls fail with
            ``EffectPoolExhaustedError`` until some return.
        name: name of the loop thread; pool threads are ``<name>-pool-<n>``.

    Raises:
        ConfigurationError: ``max_threads < 1`` or ``thread_limit < max_threads``.
    """

    def __init__(
        self, *, max_threads: int = 8, thread_limit: int = 64, name: str = "actorflow-effects"
    ) -> None:
        self._name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool = BlockingPool(max_threads, thread_limit, name=f"{name}-pool")
        self._lock = threading.Lock()
        self._closed = False
        self._loop_stopped = False
        """Set on the loop thread when :meth:`close` stops the loop."""
        self._dispatcher: LoopDispatcher | None = None

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is not None and not self._closed:  # started: no lock needed
            return loop
        with self._lock:
            if self._closed:
                raise SystemStoppedError(
                    "The effects runner is closed, so outside work cannot start; the actor "
                    "system is shutting down."
                )
            if self.loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                loop.set_default_executor(self._pool)

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    self._run_loop(loop)
                    loop.close()  # also when close() gave up waiting for a stuck effect

                self._thread = threading.Thread(target=run, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self.loop = loop
                assert self._thread.ident is not None
                self._dispatcher = LoopDispatcher(loop, self._thread.ident)
            return self.loop

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run ``loop`` until :meth:`close` stops it (loop thread).

        asyncio lets ``SystemExit`` and ``KeyboardInterrupt`` raised by a callback (a
        background task an effect started, say) escape ``run_forever``; that would end
        the loop every effect and loop-dispatched actor shares. Such an error is logged
        and the loop runs on, so effects already submitted still end and report.
        """
        while True:
            try:
                loop.run_forever()
            except BaseException as exc:  # noqa: BLE001 - one callback must not end the loop
                logger.opt(exception=exc).error(
                    "A callback on the effects loop {name!r} raised {error!r}, which would "
                    "have stopped the loop; it was caught and the loop runs on. An effect "
                    "should catch its own background tasks' errors.",
                    name=self._name,
                    error=exc,
                )
                if not self._loop_stopped:
                    continue
            return

    def dispatcher(self) -> LoopDispatcher:
        """The dispatcher that runs actors on this runner's event loop (starts it)."""
        self._ensure_started()
        assert self._dispatcher is not None
        return self._dispatcher

    def submit(
        self, work: Callable[[], Coroutine[Any, Any, object]], outcome: Outcome, *, name: str = ""
    ) -> EffectHandle:
        """Run coroutine ``work()`` on the loop; ``outcome`` gets its result (any thread).

        ``name`` names the task (default: ``work``'s qualified name), as :meth:`close`
        reports an effect that would not stop.

        Called on the loop thread, the work starts at once and runs eagerly up to its
        first suspension (work that never suspends finishes within this call). The
        outcome is reported from inside the task as it ends (so a message it sends is
        queued in the same loop iteration); a task cancelled before its first step is
        reported by its done callback. A task that finished in its first step is not
        named (only unfinished ones are ever reported by name).
        """
        loop = self._ensure_started()
        handle = EffectHandle(self)
        started = False

        async def run() -> None:
            nonlocal started
            started = True  # from here on, every way out reports
            try:
                result = await work()
            except asyncio.CancelledError as exc:
                _report(outcome, None, exc)
                raise  # the task ends cancelled
            except BaseException as exc:  # noqa: BLE001 - exit requests too: the work's failure
                _report(outcome, None, exc)  # (re-raised, SystemExit would end the loop)
            else:
                _report(outcome, result, None)

        def done(_task: asyncio.Task[None]) -> None:
            if not started:  # cancelled before its first step: run() never ran
                _report(outcome, None, asyncio.CancelledError())

        def start() -> None:
            if handle._cancelled:
                _report(outcome, None, asyncio.CancelledError())
                return
            task = _start_task(loop, run())
            handle._task = task
            if task.done():  # finished in its first step, which reported
                return
            task.set_name(name or f"effect {getattr(work, '__qualname__', repr(work))}")
            if not started:  # its first step waits for a later iteration
                task.add_done_callback(done)
            if handle.cancel_requested:  # cancelled while it ran eagerly
                task.cancel()

        dispatcher = self._dispatcher
        assert dispatcher is not None
        if threading.get_ident() == dispatcher.thread_id:
            start()
        else:
            dispatcher.schedule(start)
        return handle

    def submit_blocking(self, fn: Callable[[], object], outcome: Outcome) -> EffectHandle:
        """Run the blocking callable ``fn`` in the pool; call ``outcome`` on the loop thread.

        Cancelling the handle abandons a call that has started (its thread runs on until
        ``fn`` returns; its result is dropped). ``outcome`` gets ``EffectPoolExhaustedError``
        when every pool thread is held by an abandoned call.
        """

        async def work() -> object:
            return await asyncio.get_running_loop().run_in_executor(None, fn)

        return self.submit(work, outcome)

    def call_blocking(self, fn: Callable[[], object], outcome: Outcome) -> EffectHandle:
        """Run the blocking callable ``fn`` in the pool, in a copy of the caller's context,
        and call ``outcome`` exactly once **on the thread that ran it** (any thread may
        call this; ``outcome`` must be safe to call from any thread, as ``system.send``
        is).

        Unlike :meth:`submit_blocking`, no task and no loop iteration stand between the
        call's end and its outcome: a flow step's sync tool reports straight from the
        pool thread into the flow's mailbox, one hand-off back to the loop instead of
        three loop iterations. An awaitable that ``fn`` returns is awaited on the loop
        (as :meth:`submit_blocking` does). Cancelling the handle reports ``CancelledError`` at once
        (on the cancelling thread) and abandons a call that has started (its result is
        dropped when it returns). A refused call (``EffectPoolExhaustedError``, or a
        closed runner's ``SystemStoppedError``) is reported before this returns.
        """
        handle = EffectHandle(self)
        call = _BlockingCall(self, outcome)
        handle._call = call
        context = contextvars.copy_context()
        try:
            future = self._pool.submit(context.run, fn)
        except BaseException as exc:  # noqa: BLE001 - refused: the caller learns it as an outcome
            call.report(None, exc)
            return handle
        call.future = future
        future.add_done_callback(call.done)
        return handle

    def statistics(self) -> EffectStatistics:
        """Return a snapshot of the blocking-call pool (any thread)."""
        return self._pool.statistics()

    def wait_no_abandoned_calls(self, timeout: float) -> bool:
        """Block until every abandoned blocking call has returned; return whether that
        happened within ``timeout`` seconds. For the edges (tests, scripts), never on an
        actor thread or the loop thread."""
        return self._pool.wait_no_abandoned_calls(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel running effects, stop the loop and the pool, waiting at most ``timeout``
        seconds; an ERROR names the effects that did not end by then (a coroutine that
        ignores cancellation, or one that blocks the loop)."""
        with self._lock:
            if self._closed:
                return  # closed already (closing twice is harmless)
            self._closed = True
            loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            return

        def stop_loop() -> None:
            self._loop_stopped = True
            loop.stop()

        cancelled: list[asyncio.Task[Any]] = []

        def stop() -> None:
            tasks = asyncio.all_tasks(loop)
            cancelled.extend(tasks)
            for task in tasks:
                task.cancel()
            if not tasks:
                stop_loop()
                return
            # Stop once every cancelled task has ended and reported its outcome.
            ended = asyncio.gather(*tasks, return_exceptions=True)
            ended.add_done_callback(lambda _: loop.call_soon(stop_loop))

        loop.call_soon_threadsafe(stop)
        thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if not thread.is_alive():
            loop.close()
            return
        self._report_stuck(loop, list(cancelled), timeout)

    def _report_stuck(
        self, loop: asyncio.AbstractEventLoop, cancelled: list[asyncio.Task[Any]], timeout: float
    ) -> None:
        """Log the effects still running after :meth:`close` waited ``timeout`` seconds."""
        if cancelled:
            why = "ignored cancellation"
        else:  # stop() never ran: a callback is blocking the loop
            why = "blocked the event loop, so it could not even cancel them"
            try:
                cancelled = list(asyncio.all_tasks(loop))
            except RuntimeError:  # the set changed under us: report without names
                cancelled = []
        stuck = sorted(task.get_name() for task in cancelled if not task.done())
        logger.error(
            "The effects runner {name!r} did not stop within {timeout:g} s: "
            "{count} effect(s) {why}: {stuck}. Their outcomes will never be reported; a "
            "coroutine must let CancelledError end it and must not block the loop.",
            name=self._name,
            timeout=timeout,
            count=len(stuck),
            why=why,
            stuck=", ".join(stuck) or "(unknown)",
        )


def _start_task(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]
) -> asyncio.Task[None]:
    """Start ``coro`` as a task, eagerly (loop thread): its first step runs now, inside
    the task, as Python 3.12's ``eager_start`` does.

    Work that completes without waiting (an async tool that never suspends, a save to
    an in-memory store) then reports within this call, and work that waits (a blocking
    call handed to the pool) is handed over before the caller goes on, so the pool
    thread wakes while the loop finishes the handler: a loop iteration, and a message
    hop, saved either way. The first step runs outside any actor (``current_cell()``
    is None in it, as in any task). From inside another task (an effect starting an
    effect) the task starts on the next iteration, as asyncio's own tasks do.
    """
    cell = getattr(outside_actor, "cell", None)
    outside_actor.cell = None
    try:
        if sys.version_info >= (3, 12):
            return asyncio.Task(coro, loop=loop, eager_start=True)
        task = loop.create_task(coro)  # type: ignore[unreachable, unused-ignore] # on 3.12+
        _step_now(loop, task)
        return task
    finally:
        outside_actor.cell = cell


def _step_now(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    """Run the first step of a task just created on this thread's running ``loop`` now
    rather than on the next iteration (Python 3.11, which has no ``eager_start``).

    The task's constructor queued its first step last on the loop's ready queue; that
    handle is taken back and run here, in the task's context and as the task (asyncio's
    step enters it as the current task), exactly as the loop would have run it. Not when
    another task is running (a step may not run inside another task), nor on a loop
    that is not asyncio's own: then the step stays queued.
    """
    ready = getattr(loop, "_ready", None)
    if not ready or asyncio.current_task(loop) is not None:
        return
    handle = ready[-1]
    if getattr(getattr(handle, "_callback", None), "__self__", None) is not task:
        return
    # Not ``pop()``: another thread's ``call_soon_threadsafe`` may have appended since
    # ``ready[-1]`` was read, and popping would run this step twice and lose theirs.
    ready.remove(handle)
    handle._run()


@final
class _BlockingCall:
    """One :meth:`EffectRunner.call_blocking`: reports its outcome exactly once, whether
    the call ends or is cancelled first (either thread may win)."""

    __slots__ = ("cancelled", "follow", "future", "outcome", "runner")

    def __init__(self, runner: EffectRunner, outcome: Outcome) -> None:
        self.runner = runner
        self.outcome: list[Outcome] = [outcome]
        """Taken by whoever reports (``list.pop`` is atomic): the call's end or a cancel."""
        self.future: concurrent.futures.Future[object] | None = None
        self.follow: EffectHandle | None = None
        """The effect awaiting an awaitable the call returned, if it did."""
        self.cancelled = False

    def report(self, result: object, error: BaseException | None) -> None:
        try:
            outcome = self.outcome.pop()
        except IndexError:  # reported already (a cancel beat the call's end, or the reverse)
            return
        _report(outcome, result, error)

    def done(self, future: concurrent.futures.Future[object]) -> None:
        """The future ended (the pool thread that ran the call, or a cancel of a queued
        call): report its result, error or cancellation. An awaitable result (a sync
        function that returned a coroutine) is awaited on the loop first, as
        :meth:`EffectRunner.submit_blocking` does, under the same handle."""
        if future.cancelled():
            self.report(None, asyncio.CancelledError())
            return
        error = future.exception()
        result = None if error is not None else future.result()
        if error is not None or not inspect.isawaitable(result):
            self.report(result, error)
            return
        awaitable = result
        abandoned = self.cancelled  # read once: a cancel may come from another thread
        if abandoned:  # nobody will await it
            close = getattr(awaitable, "close", None)
            if callable(close):
                close()
            self.report(None, asyncio.CancelledError())
            return

        async def finish() -> object:
            return await awaitable

        try:
            follow = self.runner.submit(finish, self.report)
        except BaseException as exc:  # noqa: BLE001 - the runner closed: report why
            self.report(None, exc)
            return
        self.follow = follow
        if self.cancelled:  # a cancel that ran before self.follow was set missed it
            follow.cancel()

    def cancel(self) -> None:
        """Dequeue the call, or abandon it if it runs (or cancel what awaits its result);
        report ``CancelledError`` now."""
        self.cancelled = True
        future, follow = self.future, self.follow
        if future is not None:
            future.cancel()  # a queued call's done() reports; a running one is abandoned
        if follow is not None:
            follow.cancel()
        self.report(None, asyncio.CancelledError())


def _report(outcome: Outcome, result: object, error: BaseException | None) -> None:
    try:
        outcome(result, error)
    except BaseException:  # noqa: BLE001 - a failing callback must not kill the loop
        logger.opt(exception=True).error("Effect outcome callback raised")
