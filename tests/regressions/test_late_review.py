"""Regressions from a late adversarial review of the direct sync-tool path, the deferred
stop of a flow actor whose final checkpoint is not stored, and flow claims."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import actorflow
from actorflow import ActorSystem, FlowStatus, StepStatus
from actorflow.errors import FlowError, StoreTransientError
from actorflow.flow.executor import EnhancedFlowExecutor
from actorflow.ids import SequentialIds
from actorflow.runtime.effects import EffectRunner
from actorflow.stores import CommitResult, MemoryStore, Transaction, spawn_store
from tests.flow.support import new_flow, plan_of, step

_WAIT = 10.0


def _run(flow: Any, plan: Any) -> Any:
    """Run ``plan`` with a bound on the wait (a flow that never answers fails the test)."""

    async def go() -> Any:
        return await asyncio.wait_for(flow.execute(plan), _WAIT)

    return asyncio.run(go())


class _Wrapped(EnhancedFlowExecutor):
    """An executor whose ``execute_step`` is not the default: the non-direct path."""

    async def execute_step(self, step: Any, context: dict[str, Any]) -> Any:
        return await super().execute_step(step, context)


@pytest.mark.parametrize("direct", [True, False])
def test_a_sync_tool_returning_a_coroutine_sees_its_attempts_key(
    system: ActorSystem, direct: bool
) -> None:
    """L1 (direct path): the coroutine a sync tool returns is awaited on the loop outside
    the attempt's context, so idempotency_key() fails in it; execute_step saw the key."""
    flow = new_flow(system)
    if not direct:
        flow.executor = _Wrapped()
    seen: list[str | None] = []

    def later(label: str) -> Any:
        async def inner() -> str:
            attempt = actorflow.current_attempt()
            seen.append(None if attempt is None else attempt.idempotency_key)
            return label

        return inner()

    flow.register_tool("later", later)
    plan = plan_of(step("a", "later"))
    plan.id = "co"

    state = _run(flow, plan)

    assert state.status is FlowStatus.COMPLETED
    assert seen == ["co/a/1"]


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit, GeneratorExit])
@pytest.mark.parametrize("direct", [True, False])
def test_a_sync_tool_raising_an_exit_request_fails_its_step(
    system: ActorSystem, kind: type[BaseException], direct: bool
) -> None:
    flow = new_flow(system)
    if not direct:
        flow.executor = _Wrapped()

    def boom(label: str) -> str:
        raise kind("stop")

    flow.register_tool("boom", boom)

    state = _run(flow, plan_of(step("a", "boom")))

    assert state.status is FlowStatus.FAILED
    assert state.steps["a"].status is StepStatus.FAILED


@pytest.mark.parametrize("direct", [True, False])
def test_a_sync_tool_returning_a_cyclic_list_fails_its_step(
    system: ActorSystem, direct: bool
) -> None:
    flow = new_flow(system)
    if not direct:
        flow.executor = _Wrapped()

    def cyclic(label: str) -> Any:
        value: list[Any] = []
        value.append(value)
        return value

    flow.register_tool("cyclic", cyclic)

    state = _run(flow, plan_of(step("a", "cyclic")))

    assert state.status is FlowStatus.FAILED


class _Odd:
    pass


@pytest.mark.parametrize("value", [{"x": _Odd()}, {1: "a"}, float("nan"), b"bytes"])
@pytest.mark.parametrize("direct", [True, False])
def test_a_sync_tool_returning_a_non_json_value_fails_its_step(
    system: ActorSystem, direct: bool, value: object
) -> None:
    flow = new_flow(system)
    if not direct:
        flow.executor = _Wrapped()

    def odd(label: str) -> object:
        return value

    flow.register_tool("odd", odd)

    state = _run(flow, plan_of(step("a", "odd")))

    assert state.status is FlowStatus.FAILED
    assert "StepResultError" in (state.steps["a"].error or "")


@pytest.mark.parametrize("direct", [True, False])
def test_a_type_error_inside_a_tool_is_retried(system: ActorSystem, direct: bool) -> None:
    flow = new_flow(system)
    if not direct:
        flow.executor = _Wrapped()
    calls: list[str] = []

    def inner(label: str) -> str:
        calls.append(label)
        raise TypeError("from inside")

    flow.register_tool("inner", inner)
    state = _run(flow, plan_of(step("a", "inner", max_retries=2)))

    assert calls == ["a", "a", "a"]
    assert state.steps["a"].attempts == 3


@pytest.mark.parametrize("direct", [True, False])
def test_a_tool_past_its_timeout_is_abandoned_and_its_late_result_ignored(
    system: ActorSystem, direct: bool
) -> None:
    flow = new_flow(system)
    if not direct:
        flow.executor = _Wrapped()
    gate = threading.Event()
    returned = threading.Event()
    calls: list[int] = []

    def slow(label: str) -> str:
        calls.append(1)
        if len(calls) == 1:
            gate.wait(_WAIT)
            returned.set()
            return "late"
        return "second"

    flow.register_tool("slow", slow)

    state = _run(flow, plan_of(step("a", "slow", timeout=0.2, max_retries=1)))
    gate.set()
    assert returned.wait(_WAIT)
    assert system.effects.wait_no_abandoned_calls(_WAIT)

    assert state.status is FlowStatus.COMPLETED
    assert state.steps["a"].result == "second"


def test_pool_exhaustion_fails_the_step_and_the_flow_answers() -> None:
    system = ActorSystem()
    system.effects = EffectRunner(max_threads=1, thread_limit=1)
    gate = threading.Event()
    with system:
        flow = new_flow(system)

        def stuck(label: str) -> str:
            gate.wait(_WAIT)
            return label

        flow.register_tool("stuck", stuck)
        try:
            first = _run(flow, plan_of(step("a", "stuck", timeout=0.2)))
            second = _run(flow, plan_of(step("b", "stuck")))
        finally:
            gate.set()
        assert first.status is FlowStatus.FAILED
        assert second.status is FlowStatus.FAILED
        assert "EffectPoolExhaustedError" in (second.steps["b"].error or "")


def test_execute_again_after_a_cancelled_execute_of_the_same_id(system: ActorSystem) -> None:
    """L3: a cancelled execute does not record its actor in _finishing, so the next run
    of the id does not wait for it and spawning fails with ActorNameTakenError."""
    flow = new_flow(system)
    started = threading.Event()
    gate = threading.Event()

    def block(label: str) -> str:
        started.set()
        gate.wait(_WAIT)
        return label

    flow.register_tool("block", block)
    flow.register_tool("quick", lambda label: label)

    hold = threading.Event()
    holding = threading.Event()

    def occupy_the_loop() -> None:  # the old flow actor cannot run meanwhile
        holding.set()
        hold.wait(_WAIT)

    async def go() -> Any:
        first = asyncio.ensure_future(flow.execute(plan_of(step("a", "block"), id="same")))
        assert await asyncio.get_running_loop().run_in_executor(None, started.wait, _WAIT)
        loop = system.effects.loop
        assert loop is not None
        loop.call_soon_threadsafe(occupy_the_loop)
        assert await asyncio.get_running_loop().run_in_executor(None, holding.wait, _WAIT)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        second = asyncio.ensure_future(flow.execute(plan_of(step("b", "quick"), id="same")))
        await asyncio.sleep(0)  # its first step: up to where it waits (or fails)
        hold.set()
        return await asyncio.wait_for(second, _WAIT)

    try:
        state = asyncio.run(go())
    finally:
        hold.set()
        gate.set()
    assert state.status is FlowStatus.COMPLETED


class _GatedStore(MemoryStore):  # type: ignore[misc]  # a test double wrapping commit_many
    """A memory store whose commits fail (transiently) while ``failing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = threading.Event()
        self.calls: list[str] = []

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        if self.failing.is_set():
            raise StoreTransientError("disk I/O error (injected)", committed=False)
        return super().commit_many(transactions)


@pytest.fixture
def gated() -> _GatedStore:
    return _GatedStore()


@pytest.fixture
def stored_system(gated: _GatedStore) -> Iterator[ActorSystem]:
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, gated)
        yield system


def _finish_with_final_write_gated(flow: Any, gated: _GatedStore) -> Any:
    """Run a one-step flow whose final checkpoint write fails until the flow id is
    used again (the caller is answered, the actor stays, sending it again)."""

    def close_gate(label: str) -> str:
        gated.calls.append(label)
        if len(gated.calls) == 1:
            gated.failing.set()  # after this attempt's start was stored: the next writes fail
        return label

    flow.register_tool("close_gate", close_gate)
    plan = plan_of(step("a", "close_gate"), id="stopping")

    async def wrapped(system: ActorSystem, flow_id: str) -> None:
        gated.failing.clear()  # the old actor's final write goes through only now
        await original(system, flow_id)

    original = flow._wait_path_free
    state = _run(flow, plan)
    assert state.status is FlowStatus.COMPLETED
    flow._wait_path_free = wrapped
    return plan


def test_resume_while_the_ended_flows_actor_still_stores_its_end(
    stored_system: ActorSystem, gated: _GatedStore
) -> None:
    """L2: resume loads the stored state before the ended flow's actor is gone; the new
    actor's first write has the old actor's final write id (flow@version+1), the store
    takes it as a duplicate, and a step of a completed flow runs again."""
    flow = new_flow(stored_system)
    plan = _finish_with_final_write_gated(flow, gated)

    async def go() -> Any:
        return await asyncio.wait_for(flow.resume(plan.id), _WAIT)

    try:
        state = asyncio.run(go())
    finally:
        gated.failing.clear()
    assert gated.calls == ["a"]  # the flow ended: nothing runs again
    assert state.status is FlowStatus.COMPLETED


def test_execute_again_while_the_ended_flows_actor_still_stores_its_end(
    stored_system: ActorSystem, gated: _GatedStore
) -> None:
    """L4: _stored_version reads the store before _wait_path_free, so a flow that ended
    in this facade is refused as "its process stopped before it ended"."""
    flow = new_flow(stored_system)
    plan = _finish_with_final_write_gated(flow, gated)

    try:
        state = _run(flow, plan_of(step("b", "close_gate"), id=plan.id))
    finally:
        gated.failing.clear()
    assert state.status is FlowStatus.COMPLETED


def test_resume_racing_a_running_execute_is_refused_with_a_flow_error(
    stored_system: ActorSystem, gated: _GatedStore
) -> None:
    """L5: with an attached system (no facade-owned store, so no claim) resume of a
    flow running in the same facade fails with ActorNameTakenError, not FlowError."""
    flow = new_flow(stored_system)
    started = threading.Event()
    gate = threading.Event()

    def block(label: str) -> str:
        started.set()
        gate.wait(_WAIT)
        return label

    flow.register_tool("block", block)

    async def go() -> Any:
        first = asyncio.ensure_future(flow.execute(plan_of(step("a", "block"), id="race")))
        assert await asyncio.get_running_loop().run_in_executor(None, started.wait, _WAIT)
        try:
            with pytest.raises(FlowError):
                await asyncio.wait_for(flow.resume("race"), _WAIT)
        finally:
            gate.set()
        return await asyncio.wait_for(first, _WAIT)

    try:
        state = asyncio.run(go())
    finally:
        gate.set()
    assert state.status is FlowStatus.COMPLETED


def test_a_failing_step_cancels_a_blocking_sibling_and_the_flow_answers(
    system: ActorSystem,
) -> None:
    flow = new_flow(system)
    started = threading.Event()
    gate = threading.Event()

    def block(label: str) -> str:
        started.set()
        gate.wait(_WAIT)
        return label

    def fail(label: str) -> str:
        assert started.wait(_WAIT)
        raise ValueError("no")

    flow.register_tool("block", block)
    flow.register_tool("fail", fail)
    try:
        state = _run(flow, plan_of(step("a", "block"), step("b", "fail")))
    finally:
        gate.set()
    assert state.status is FlowStatus.FAILED
    assert state.steps["a"].status is StepStatus.CANCELLED
    assert system.effects.wait_no_abandoned_calls(_WAIT)


def test_an_execute_step_set_on_the_executor_instance_runs_plain_tool_steps(
    system: ActorSystem,
) -> None:
    """L6: the direct path checks type(executor).execute_step only, so an execute_step
    set on the instance (a spy, a wrapper) is skipped for plain sync tools."""
    flow = new_flow(system)
    flow.register_tool("plain", lambda label: label)
    seen: list[str] = []
    default = flow.executor.execute_step

    async def spy(step: Any, context: dict[str, Any]) -> Any:
        seen.append(step.id)
        return await default(step, context)

    flow.executor.execute_step = spy  # type: ignore[method-assign]

    state = _run(flow, plan_of(step("a", "plain")))

    assert state.status is FlowStatus.COMPLETED
    assert seen == ["a"]
