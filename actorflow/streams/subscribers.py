"""Subscriptions to the stream hub: each with its own bounded queue and consumer.

A plain callback gets its own subscriber actor (a thread: it may block, it only ever
holds up itself). A coroutine callback runs as a task on the event loop it was
subscribed from (or, from sync code, on the system's effects loop). Either way the
callback sees its events one at a time, in order. A callback that raises is logged
and counted, its ``on_error`` hook (if any) is told, and the next event comes.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections.abc import Callable
from typing import Any, Self, final

from loguru import logger
from pydantic import BaseModel, ConfigDict

from actorflow.errors import ConfigurationError
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.context import Context
from actorflow.runtime.supervision import RestartType
from actorflow.runtime.system import SYSTEM_PATH, ActorSystem
from actorflow.streams._queue import EventQueue
from actorflow.streams._receivers import LoopReceiver
from actorflow.streams.hub import Route, StreamRegistry, streams_of
from actorflow.streams.messages import DrainStream
from actorflow.streams.types import IStreamCallback, StreamCallbackData, StreamOverflow

__all__ = [
    "DEFAULT_CAPACITY",
    "ErrorHook",
    "check_callback",
    "StreamCallback",
    "Subscription",
    "SubscriptionStatistics",
    "subscribe",
]

StreamCallback = IStreamCallback | Callable[[StreamCallbackData], Any]
"""An ``IStreamCallback``, or a plain or async callable taking one event."""
ErrorHook = Callable[[StreamCallbackData, Exception], None]
"""Told (on the consumer's thread) when the callback raised on an event."""
DEFAULT_CAPACITY = 10_000
"""Events a subscription queues at most by default."""

_numbers = itertools.count(1)
_log = logger.bind(component="streams")


@final
class SubscriptionStatistics(BaseModel):
    """Counts of one subscription (a snapshot)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivered: int
    """Events the callback was called with."""
    errors: int
    """Calls that raised."""
    dropped: int
    """Events a full queue dropped (by the overflow policy)."""
    discarded: int
    """Events still queued when the subscription was closed."""
    pending: int
    """Events queued now."""


class Subscription:
    """A subscriber of the stream hub: its queue, its consumer, its counts.

    Close it to stop deliveries (:meth:`close`); :meth:`wait_idle` waits until it has
    handled everything queued so far.
    """

    def __init__(
        self,
        callback: StreamCallback,
        *,
        capacity: int,
        overflow: StreamOverflow,
        on_error: ErrorHook | None,
    ) -> None:
        if capacity < 1:
            raise ConfigurationError(f"A subscription's capacity must be ≥ 1, got {capacity}.")
        self.name = f"stream-{next(_numbers)}"
        self.callback = callback
        self.on_error = on_error
        self.delivered = 0
        self.errors = 0
        self.last_error: BaseException | None = None
        self.queue = EventQueue(capacity, StreamOverflow(overflow), self._wake)
        self._waker: Callable[[], None] = _nothing
        self._unroute: Callable[[], None] = _nothing
        self.task: asyncio.Task[None] | None = None
        self.registry: StreamRegistry | None = None

    def _wake(self) -> None:
        self._waker()

    def route(self, registry: StreamRegistry, flow_id: str | None, topic: str | None) -> Self:
        """Start getting the events that pass the filter (from the hub's next message)."""
        self.registry = registry
        self._unroute = registry.add(Route(self.queue, flow_id, topic))
        return self

    def deliver(self, item: StreamCallbackData) -> object:
        """Call the callback with ``item`` (its result may be awaitable)."""
        callback = self.callback
        if isinstance(callback, IStreamCallback):
            return callback.on_stream_event(item)
        return callback(item)

    def failed(self, item: StreamCallbackData, error: BaseException) -> None:
        """The callback raised on ``item``: log, count, tell the hook."""
        self.errors += 1
        self.last_error = error
        _log.opt(exception=error).warning(
            "Stream callback {name} raised on event #{seq} ({type}) of flow {flow}: {error!r}; "
            "it gets the next event",
            name=self.name, seq=item.seq, type=item.type.value, flow=item.flow_id, error=error,
        )  # fmt: skip
        if self.on_error is not None and isinstance(error, Exception):
            try:
                self.on_error(item, error)
            except Exception as exc:  # noqa: BLE001 - a hook must not stop the deliveries
                _log.opt(exception=exc).error("The on_error hook of {name} raised", name=self.name)

    async def pump(self, receiver: LoopReceiver) -> None:
        """Consume on an event loop (a coroutine callback). However it ends (its loop
        ended and cancelled it), the subscription is closed and what it held counted."""
        try:
            async for batch in receiver.batches():
                for done, item in enumerate(batch):
                    if self.queue.closed:  # closed meanwhile (by the callback itself)
                        self.queue.discard(len(batch) - done)
                        break
                    try:
                        result = self.deliver(item)
                        if inspect.isawaitable(result):
                            await result
                    except asyncio.CancelledError:
                        self.queue.discard(len(batch) - done)
                        raise  # the task is cancelled: its loop ends
                    except BaseException as exc:  # noqa: BLE001 - isolated: logged and counted
                        self.failed(item, exc)
                    self.delivered += 1
        finally:
            self._waker = _nothing
            self.close()

    def deliver_batch(self, batch: list[StreamCallbackData]) -> None:
        """Hand a batch to a plain callback, one event at a time (its actor's thread)."""
        for done, item in enumerate(batch):
            if self.queue.closed:  # closed meanwhile (by the callback itself)
                self.queue.discard(len(batch) - done)
                return
            try:
                result = self.deliver(item)
                if inspect.isawaitable(result):  # a plain callable that returned one
                    asyncio.run(_awaited(result))
            except BaseException as exc:  # noqa: BLE001 - isolated: logged and counted
                self.failed(item, exc)
            self.delivered += 1

    @property
    def is_closed(self) -> bool:
        """Whether the subscription was closed."""
        return self.queue.closed

    def close(self) -> None:
        """Stop deliveries: no event reaches the callback after its current one."""
        self._unroute()
        self.queue.close()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every event queued so far was handled; return whether that
        happened within ``timeout`` seconds (never call it from the callback itself)."""
        return self.queue.wait_idle(timeout)

    def wait_caught_up(self, timeout: float = 5.0) -> bool:
        """Wait until the hub has handled every event told to it before this call and
        the callback every one of them it was given; return whether that happened
        within ``timeout`` seconds (never call it from the callback itself)."""
        deadline = time.monotonic() + timeout
        passed = self.registry.barrier() if self.registry is not None else None
        if passed is not None and not passed.wait(timeout):
            return False
        return self.queue.wait_idle(max(0.0, deadline - time.monotonic()))

    def statistics(self) -> SubscriptionStatistics:
        """Return the subscription's counts."""
        queue = self.queue
        return SubscriptionStatistics(
            delivered=self.delivered,
            errors=self.errors,
            dropped=queue.dropped,
            discarded=queue.discarded,
            pending=queue.pending,
        )


def _nothing() -> None:
    pass


async def _awaited(awaitable: Any) -> object:
    return await awaitable


class SubscriberActor(Behaviour):
    """A plain callback's own actor: drains its queue, one event at a time."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription

    def on_drain_stream(self, msg: DrainStream, ctx: Context) -> None:
        """Hand what is queued to the callback (a bounded batch; then let other mail in)."""
        sub = self.subscription
        batch = sub.queue.take(64)
        if not batch:
            if sub.queue.closed:
                ctx.stop()
            return  # now idle: the next event sends DrainStream again
        sub.deliver_batch(batch)
        ctx.tell(ctx.path, DrainStream())

    def on_stop(self, ctx: Context) -> None:
        """The actor stopped (the system shuts down): the subscription ends too."""
        self.subscription._waker = _nothing  # nobody to wake any more
        self.subscription.close()


def check_callback(callback: object) -> None:
    """Refuse what cannot be a stream callback.

    Raises:
        ConfigurationError: ``callback`` is not callable, or is an (async) generator
            function (calling it would run nothing).
    """
    fn = callback.on_stream_event if isinstance(callback, IStreamCallback) else callback
    if not callable(fn):
        raise ConfigurationError(
            f"A stream callback must be an IStreamCallback or a callable taking one "
            f"StreamCallbackData, got {callback!r}."
        )
    if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
        raise ConfigurationError(
            f"Stream callback {callback!r} is a generator function: calling it would run "
            "nothing. Make it a plain or an async def function."
        )


def is_async_callback(callback: StreamCallback) -> bool:
    """Whether ``callback`` is a coroutine function (or an IStreamCallback whose
    ``on_stream_event`` is one)."""
    fn = callback.on_stream_event if isinstance(callback, IStreamCallback) else callback
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - a callable object's async __call__
    )


def subscribe(
    system: ActorSystem,
    callback: StreamCallback,
    *,
    flow_id: str | None = None,
    topic: str | None = None,
    capacity: int = DEFAULT_CAPACITY,
    overflow: StreamOverflow | str = StreamOverflow.DROP_OLDEST,
    on_error: ErrorHook | None = None,
    inline: bool = False,
) -> Subscription:
    """Subscribe ``callback`` to ``system``'s stream events; return the subscription.

    Args:
        flow_id: only this flow's events (default: every flow's).
        topic: only events for this topic (a flow facade's; default: all).
        capacity: most events queued for the callback at once.
        overflow: what a full queue does (``drop_oldest`` or ``drop_new``; a flow's
            last event is never dropped).
        on_error: told when the callback raises (default: the error is only logged
            and counted).
        inline: run a plain callback's actor on the flows' event loop instead of a
            thread of its own (no thread hand-off per batch of events): only for a
            callback that never blocks (it would stall every flow).

    A coroutine callback runs on the event loop running here, if any, else on the
    system's effects loop; a plain one gets its own subscriber actor under ``/system``.

    Raises:
        ConfigurationError: ``capacity`` or ``overflow`` is invalid, or ``callback`` is
            not callable.
        SystemStoppedError: the system is not running.
    """
    check_callback(callback)
    try:
        policy = StreamOverflow(overflow)
    except ValueError:
        raise ConfigurationError(
            f"Unknown overflow policy {overflow!r}; use 'drop_oldest' or 'drop_new'."
        ) from None
    sub = Subscription(callback, capacity=capacity, overflow=policy, on_error=on_error)
    registry = streams_of(system)  # the hub first: the actor's nudges need it
    if is_async_callback(callback):
        _start_pump(system, sub)
    else:
        path = system.spawn(  # transient: closing it stops it for good
            recipe(SubscriberActor, sub), sub.name, parent=SYSTEM_PATH,
            restart=RestartType.TRANSIENT, dispatcher="loop" if inline else "thread",
        )  # fmt: skip

        def nudge() -> None:
            # Quiet: once the actor stopped, its on_stop closed the queue (what was left
            # is counted as discarded), so a nudge that finds no actor loses nothing.
            system.send(path, DrainStream(), quiet=True)

        sub._waker = nudge
    return sub.route(registry, flow_id, topic)


def subscribe_receiver(
    system: ActorSystem,
    receiver: LoopReceiver,
    *,
    flow_id: str | None = None,
    topic: str | None = None,
    capacity: int = DEFAULT_CAPACITY,
) -> Subscription:
    """Subscribe a consumer that reads ``receiver.batches()`` itself (an iterator over
    the events); a full queue drops the oldest events."""
    sub = Subscription(_nothing_with, capacity=capacity, overflow=StreamOverflow.DROP_OLDEST,
                       on_error=None)  # fmt: skip
    receiver.queue = sub.queue
    sub._waker = receiver.wake
    return sub.route(streams_of(system), flow_id, topic)


def _nothing_with(_item: StreamCallbackData) -> None:
    pass


def _start_pump(system: ActorSystem, sub: Subscription) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        receiver = LoopReceiver(loop)
        receiver.queue = sub.queue
        sub._waker = receiver.wake
        sub.task = loop.create_task(sub.pump(receiver), name=sub.name)
        return
    effects = system.effects

    async def pump() -> None:
        receiver = LoopReceiver(asyncio.get_running_loop())
        receiver.queue = sub.queue
        sub._waker = receiver.wake
        await sub.pump(receiver)

    effects.submit(pump, lambda _result, _error: None, name=sub.name)
