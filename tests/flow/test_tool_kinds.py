"""Which tools run where: an object whose ``__call__`` is ``async def`` is an async tool."""

from __future__ import annotations

import gc

from actorflow import ActorSystem, FlowStatus
from actorflow.flow.steps import ToolRegistry
from tests.flow.support import CancellableTool, Recorder, new_flow, plan_of, step


def test_an_object_with_an_async_call_is_an_async_tool() -> None:
    tools = ToolRegistry()
    tools.register("wait", CancellableTool())
    tools.register("plain", lambda: 1)
    assert tools.is_async("wait")
    assert not tools.is_async("plain")


def test_a_critical_failure_cancels_an_async_object_tool_without_leaking_its_coroutine(
    system: ActorSystem, recorder: Recorder
) -> None:
    # Before: the object ran as a sync tool in the pool; its coroutine, handed back to
    # the loop after the attempt was cancelled, was never awaited (a RuntimeWarning,
    # an error under the suite's warning filters).
    recorder.fail_times["a"] = 9
    waiter = CancellableTool()
    flow = new_flow(system, recorder)
    flow.register_tool("wait", waiter)
    state = flow.execute_sync(plan_of(step("a", max_retries=0), step("c", tool="wait")))
    assert state.status is FlowStatus.FAILED
    gc.collect()  # a coroutine dropped unawaited would warn here
