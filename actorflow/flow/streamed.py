"""The flow facade's stream side: callbacks, listeners and ``stream_execute``.

:class:`FlowStreams` is a base of :class:`~actorflow.flow.facade.EnhancedFlow`: every
flow the facade runs tells its stream events to the system's hub under the facade's
topic, and the callbacks and listeners added here subscribe to that topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from actorflow.errors import ConfigurationError
from actorflow.flow.listeners import HOOKS, FlowListenerAdapter, IFlowEventListener
from actorflow.flow.messages import CancelFlow
from actorflow.flow.models import FlowConfig, FlowPlan, FlowState, PlanSpec
from actorflow.ids import child_path
from actorflow.runtime.system import FLOWS_PATH, ActorSystem
from actorflow.streams import (
    DEFAULT_CAPACITY,
    StreamCallback,
    StreamCallbackData,
    StreamCallbackType,
    StreamOverflow,
    Subscription,
)
from actorflow.streams._receivers import LoopReceiver
from actorflow.streams.manager import StreamCallbackManager
from actorflow.streams.subscribers import subscribe_receiver

__all__ = ["STREAM_CAPACITY", "FlowStreams"]

STREAM_CAPACITY = 100_000
"""Events ``stream_execute`` queues at most (its reader fell that far behind)."""
_LAST_EVENT_GRACE = 5.0
"""Seconds ``stream_execute`` waits for the last event once the flow answered."""
_STOP_WAIT = 10.0
"""Seconds a stream left early waits for its flow to end cancelled."""
_topics = itertools.count(1)


class FlowStreams:
    """Stream callbacks, event listeners and streamed runs of a flow facade."""

    config: FlowConfig
    current_plan: FlowPlan | None

    def __init__(self) -> None:
        self.stream_topic = f"flows-{next(_topics)}"
        """The topic this facade's flows emit under."""
        self.stream_callbacks = StreamCallbackManager(self._streams_system, topic=self.stream_topic)
        """The seed's StreamCallbackManager of this facade (``emit``, ``add_callback``)."""
        self._adapters: dict[int, FlowListenerAdapter] = {}

    if TYPE_CHECKING:  # provided by the facade

        @property
        def system(self) -> ActorSystem: ...

        async def execute(
            self, plan: FlowPlan, context: dict[str, Any] | None = None
        ) -> FlowState: ...

        async def plan(self, goal: str, context: dict[str, Any] | None = None) -> FlowPlan: ...

    def _streams_system(self) -> ActorSystem:
        return self.system

    # -- callbacks and listeners ---------------------------------------------------

    def add_stream_callback(
        self,
        callback: StreamCallback,
        *,
        capacity: int = DEFAULT_CAPACITY,
        overflow: StreamOverflow | str = StreamOverflow.DROP_OLDEST,
        fail_flow: bool = False,
        inline: bool = False,
    ) -> Subscription:
        """Call ``callback`` with the stream events of every flow this facade runs.

        It gets its own queue of at most ``capacity`` events (``overflow`` says what a
        full one drops, always counted) and its own consumer, so it never slows a flow.
        A callback that raises is logged and counted and gets the next event; with
        ``fail_flow`` the flow whose event it raised on is cancelled as failed instead.
        ``inline`` runs a plain callback that never blocks on the flows' event loop
        (cheaper; one that blocks stalls every flow). Returns the subscription (its
        counts, ``wait_idle``).
        """
        hook = self._fail_flow if fail_flow else None
        return self.stream_callbacks.add_callback(
            callback, capacity=capacity, overflow=overflow, on_error=hook, inline=inline
        )

    def remove_stream_callback(self, callback: StreamCallback) -> bool:
        """Stop calling ``callback``; return whether it was added."""
        return self.stream_callbacks.remove_callback(callback)

    def add_event_listener(self, listener: IFlowEventListener) -> Subscription:
        """Call ``listener``'s six hooks as this facade's flows start, end and run steps.

        Raises:
            ConfigurationError: ``listener`` has none of the hooks.
        """
        given: object = listener  # typed callers pass a listener; untyped ones may not
        if not isinstance(given, IFlowEventListener) and not any(
            callable(getattr(given, hook, None)) for hook in HOOKS
        ):
            raise ConfigurationError(
                f"{listener!r} is not a flow event listener: subclass IFlowEventListener "
                f"(hooks: {', '.join(HOOKS)})."
            )
        adapter = self._adapters.get(id(listener))
        if adapter is None:
            adapter = self._adapters[id(listener)] = FlowListenerAdapter(listener)
        return self.stream_callbacks.add_callback(adapter, capacity=STREAM_CAPACITY)

    def remove_event_listener(self, listener: IFlowEventListener) -> bool:
        """Stop calling ``listener``; return whether it was added."""
        adapter = self._adapters.pop(id(listener), None)
        return adapter is not None and self.stream_callbacks.remove_callback(adapter)

    async def wait_streams_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every callback and listener handled every event so far (they run
        behind the flows); return whether they did within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.stream_callbacks.wait_idle, timeout)

    def wait_streams_idle_sync(self, timeout: float = 5.0) -> bool:
        """Blocking twin of :meth:`wait_streams_idle`."""
        return self.stream_callbacks.wait_idle(timeout)

    def _expect(self, flow_id: str, plan: FlowPlan, spec: PlanSpec) -> str | None:
        """A flow is about to run: tell the listeners its plan; return the stream topic
        it emits under (None: streams are off)."""
        if not self.config.enable_stream_callbacks:
            return None
        for adapter in self._adapters.values():
            adapter.expect(flow_id, plan, spec)
        return self.stream_topic

    def _forget(self, flow_id: str) -> None:
        """A run told to the listeners never started: they forget its plan."""
        for adapter in self._adapters.values():
            adapter.plans.pop(flow_id, None)

    def _fail_flow(self, item: StreamCallbackData, error: Exception) -> None:
        if item.flow_id is not None and not item.is_last:
            reason = f"a stream callback raised on its event #{item.seq}: {error!r}"
            path = child_path(FLOWS_PATH, item.flow_id)
            self.system.send(path, CancelFlow(reason=reason, failed=True), quiet=True)

    def _plan_created(self, plan: FlowPlan) -> None:
        self.current_plan = plan
        if not self.config.enable_stream_callbacks:
            return
        steps = len(plan.steps)
        text = f"plan {plan.name!r} created: {steps} step" + ("" if steps == 1 else "s")
        meta: dict[str, JsonValue] = {
            "event": "plan_created",
            "plan_name": plan.name,
            "plan_version": plan.version,
            "steps": steps,
        }
        item = StreamCallbackData(
            type=StreamCallbackType.WORKFLOW,
            content=text,
            metadata=meta,
            flow_id=plan.id,
            timestamp=time.time(),
        )
        self.stream_callbacks.tell(item)

    # -- streamed runs -------------------------------------------------------------

    async def stream_execute(
        self,
        plan: FlowPlan | None = None,
        *,
        goal: str | None = None,
        context: dict[str, Any] | None = None,
        capacity: int = STREAM_CAPACITY,
    ) -> AsyncGenerator[StreamCallbackData, None]:
        """Run a flow and yield its stream events, in order, ending after its last one
        (FINISH when it completed, ERROR when it failed or was cancelled).

        Runs ``plan``; else plans ``goal`` first (its plan_created event comes first);
        else runs the facade's current plan (the last one planned or run). The loop
        ends once the flow has ended; the run's own errors (an invalid plan) are raised
        from it. Leaving the loop early (``break``, an exception) cancels the flow:
        closing the iterator (at once with ``aclose()``, else when the loop collects
        it) waits until the flow has ended CANCELLED.

        Raises:
            ConfigurationError: no plan to run (pass ``plan`` or ``goal``), or stream
                callbacks are off in the config.
        """
        if not self.config.enable_stream_callbacks:
            raise ConfigurationError(
                "stream_execute needs stream events: set config.enable_stream_callbacks "
                "= True (or call execute())."
            )
        system = self.system
        receiver = LoopReceiver(asyncio.get_running_loop())
        sub: Subscription | None = None
        if plan is None and goal is not None:
            sub = subscribe_receiver(system, receiver, topic=self.stream_topic, capacity=capacity)
            try:
                plan = await self.plan(goal, context)
            except BaseException:
                sub.close()
                raise
        plan = plan or self.current_plan
        if plan is None:
            if sub is not None:
                sub.close()
            raise ConfigurationError(
                "stream_execute has no plan to run: pass plan=..., or goal='...' (and "
                "context=...) to plan one, or plan one first with flow.plan(goal)."
            )
        if sub is None:
            sub = subscribe_receiver(system, receiver, topic=self.stream_topic, capacity=capacity)
        path = child_path(FLOWS_PATH, plan.id)
        reason = "the stream_execute() loop was left before the flow ended"

        def stop() -> None:
            system.send(path, CancelFlow(reason=reason), quiet=True)

        run = self.execute(plan, context)
        async with contextlib.aclosing(_run_streamed(run, receiver, sub, plan.id, stop)) as items:
            async for item in items:
                yield item

    def stream_execute_sync(
        self,
        plan: FlowPlan | None = None,
        *,
        goal: str | None = None,
        context: dict[str, Any] | None = None,
        capacity: int = STREAM_CAPACITY,
    ) -> Iterator[StreamCallbackData]:
        """:meth:`stream_execute` for scripts: a plain iterator (same logic, run on a
        private event loop). Leaving the loop early cancels the flow, as there."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise ConfigurationError(
                "stream_execute_sync was called inside a running event loop; use "
                "'async for event in flow.stream_execute(...)' instead."
            )
        loop = asyncio.new_event_loop()
        events = self.stream_execute(plan, goal=goal, context=context, capacity=capacity)
        try:
            while True:
                step = loop.create_task(_next(events))
                try:
                    item = loop.run_until_complete(step)
                except StopAsyncIteration:
                    return
                except BaseException:  # Ctrl-C: end the step's wait (the flow is cancelled)
                    _finish(loop, step)
                    raise
                yield item
        finally:
            _close_in_own_thread(loop, events)


async def _next(events: AsyncGenerator[StreamCallbackData, None]) -> StreamCallbackData:
    return await anext(events)


def _finish(loop: asyncio.AbstractEventLoop, step: asyncio.Task[StreamCallbackData]) -> None:
    """Cancel a step interrupted mid-wait and let it unwind (closing the stream)."""
    if not step.done():
        step.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(step)


def _close_in_own_thread(
    loop: asyncio.AbstractEventLoop, events: AsyncGenerator[StreamCallbackData, None]
) -> None:
    """Close the stream (which cancels an unfinished flow and waits for it) and the
    loop, on a thread of its own when this one runs another event loop (the iterator was
    collected inside one)."""

    def close() -> None:
        try:
            loop.run_until_complete(events.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        close()
        return
    closer = threading.Thread(target=close, name="actorflow-stream-close")
    closer.start()
    closer.join(_STOP_WAIT + 5.0)


async def _run_streamed(
    run: Any, receiver: LoopReceiver, sub: Subscription, flow_id: str, stop: Any
) -> AsyncGenerator[StreamCallbackData, None]:
    task: asyncio.Task[FlowState] = asyncio.ensure_future(run)
    try:
        async for batch in receiver.batches(until=task, grace=_LAST_EVENT_GRACE):
            for item in batch:
                if item.flow_id != flow_id:
                    continue  # another flow of this facade
                yield item
                if item.is_last:
                    await task  # the run is over (its final state stored) when we end
                    return
        await task  # no last event: the run failed before its flow started (raises)
    finally:
        sub.close()
        if not task.done():  # the caller left the loop early: the flow ends, cancelled
            stop()
            done, _ = await asyncio.wait({task}, timeout=_STOP_WAIT)
            if not done:  # the flow had not started yet: stop waiting for it
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
