"""Flows under awkward conditions: ends racing each other, odd values, stops, slow stores."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    ConfigurationError,
    FakeClock,
    FlowState,
    FlowStatus,
    StepStatus,
    create_flow_step,
)
from actorflow.flow import EnhancedFlow
from tests.flow.support import CancellableTool, DictStates, Recorder, new_flow, plan_of, step


def _flow_finished_dead_letters(system: ActorSystem) -> list[Any]:
    letters = system.dead_letters.recent()
    return [d for d in letters if d.message is not None and d.message.kind_tag == "flow.finished"]


def _run_in_background(flow: EnhancedFlow, *args: Any) -> tuple[threading.Event, list[Any]]:
    done, box = threading.Event(), []

    def run() -> None:
        try:
            box.append(flow.execute_sync(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done, box


def test_a_critical_failure_while_starting_the_last_step_ends_the_flow_once(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", arguments={"label": "${no_such_name}"}, max_retries=0))

    state = flow.execute_sync(plan)
    saved = asyncio.run(flow.get_state(plan.id))

    assert state.status is FlowStatus.FAILED
    assert saved is not None
    assert saved.status is FlowStatus.FAILED
    assert saved.error == state.error
    assert _flow_finished_dead_letters(system) == []


def test_two_critical_timeouts_in_one_sweep_end_the_flow_once(recorder: Recorder) -> None:
    clock = FakeClock()
    with ActorSystem(clock=clock) as system:
        recorder.gates["a"] = threading.Event()
        recorder.gates["b"] = threading.Event()
        flow = new_flow(system, recorder, default_step_timeout=None, auto_save_interval=1000)
        plan = plan_of(step("a", timeout=2.0, max_retries=0), step("b", timeout=2.0, max_retries=0))
        done, box = _run_in_background(flow, plan)
        recorder.log.wait_for(("start", "a", 1))
        recorder.log.wait_for(("start", "b", 1))
        assert clock.wait_for_timers(2, timeout=5)  # the auto-save and one timeout sweep

        clock.advance(2.0)
        assert done.wait(10)
        recorder.gates["a"].set()
        recorder.gates["b"].set()
        saved = asyncio.run(flow.get_state(plan.id))

        (state,) = box
        assert state.status is FlowStatus.FAILED
        assert "'a'" in (state.error or "")
        assert state.steps["b"].status is StepStatus.CANCELLED
        assert saved is not None
        assert saved.error == state.error
        assert saved.steps["b"].status is StepStatus.CANCELLED
        assert _flow_finished_dead_letters(system) == []


@pytest.mark.parametrize(
    "option", ["retry_delay", "max_retry_delay", "jitter", "exponential_backoff"]
)
def test_an_engine_option_given_as_none_takes_the_config_value(
    system: ActorSystem, recorder: Recorder, option: str
) -> None:
    recorder.fail_times["a"] = 1
    flow = new_flow(system, recorder)

    state = flow.execute_sync(plan_of(step("a", max_retries=2, **{option: None})))

    assert state.status is FlowStatus.COMPLETED
    assert recorder.calls == {"a": 2}


def test_a_result_that_is_not_json_fails_the_attempt_with_a_clear_error(
    system: ActorSystem,
) -> None:
    calls: list[str] = []

    def binary(label: str) -> bytes:
        calls.append(label)
        return b"\x89PNG\r\n\x1a\n\xff"

    flow = new_flow(system, default_step_timeout=None)
    flow.register_tool("binary", binary)

    state = flow.execute_sync(plan_of(step("a", tool="binary", max_retries=3)))

    assert state.status is FlowStatus.FAILED
    assert "StepResultError" in (state.steps["a"].error or "")
    assert "is not JSON data: a bytes is not JSON data" in (state.steps["a"].error or "")
    assert calls == ["a"]  # not retried: the same value would come back


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"\xff\xfe", r"at \['v'\]: a bytes is not JSON data"),
        ({1, 2}, r"at \['v'\]: a set is not JSON data"),
        (float("nan"), r"at \['v'\]: the float nan is not JSON"),
        ("circular", r"at \['v'\]\['self'\].*\.\.\..*: it nests deeper than 64 levels"),
    ],
)
def test_context_values_that_are_not_json_are_refused_before_anything_runs(
    system: ActorSystem, recorder: Recorder, value: Any, why: str
) -> None:
    flow = new_flow(system, recorder)
    if value == "circular":
        value = {}
        value["self"] = value

    with pytest.raises(ConfigurationError, match=rf"^The flow's context is not JSON data {why}"):
        flow.execute_sync(plan_of(step("a")), {"v": value})

    assert recorder.calls == {}


def test_stopping_a_flow_actor_cancels_its_steps_and_saves_a_final_checkpoint(
    system: ActorSystem,
) -> None:
    slow = CancellableTool()
    started, cancelled = slow.started, slow.cancelled
    flow = new_flow(system)
    flow.register_tool("slow", slow)
    plan = plan_of(step("a", tool="slow"))
    done, box = _run_in_background(flow, plan)
    assert started.wait(5)

    system.stop(f"/flows/{plan.id}")

    assert done.wait(10)
    assert cancelled.wait(5)
    (state,) = box
    saved = asyncio.run(flow.get_state(plan.id))
    assert state.status is FlowStatus.FAILED
    assert saved is not None
    assert saved.status is FlowStatus.FAILED


def test_resume_keeps_the_context_the_flow_was_started_with(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["eu"] = 1  # the step's label is the resolved reference
    flow = new_flow(system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"], arguments={"label": "${region}"}))
    plan.steps[1].parameters["max_retries"] = 0

    first = flow.execute_sync(plan, {"region": "eu"})
    second = flow.resume_sync(plan.id)

    assert first.status is FlowStatus.FAILED
    assert second.status is FlowStatus.COMPLETED, second.error
    assert second.variables["b"] == "eu#2"
    assert recorder.calls == {"a": 1, "eu": 2}


def test_steps_without_their_own_retry_count_use_the_configs(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["a"] = 10
    recorder.fail_times["b"] = 10
    flow = new_flow(system, recorder, default_max_retries=1)
    params = {"tool_name": "record", "arguments": {"label": "a"}}
    own = create_flow_step("b", "mcp_tool", {**params, "arguments": {"label": "b"}}, id="b")
    own.max_retries = 0
    plan = plan_of(
        create_flow_step("a", "mcp_tool", params, id="a", metadata={}),
        own,
    )
    plan.steps[0].parameters["critical"] = False
    plan.steps[1].parameters["critical"] = False

    state = flow.execute_sync(plan)

    assert state.steps["a"].attempts == 2
    assert state.steps["b"].attempts == 1


class _SlowRunningSaves(DictStates):
    """Stores checkpoints; a save of a RUNNING state waits for ``gate`` (slow I/O)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.order: list[str] = []
        self.active = 0
        self.most_at_once = 0

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        self.active += 1
        self.most_at_once = max(self.most_at_once, self.active)
        if state.status is FlowStatus.RUNNING:
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 10)
        self.order.append(state.status.value)
        self.states[flow_id] = state
        self.active -= 1


def test_checkpoints_are_saved_one_at_a_time_and_the_last_before_execute_returns(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    store = _SlowRunningSaves()
    flow.executor.state_manager = store
    plan = plan_of(step("a"), step("b", deps=["a"]))
    done, box = _run_in_background(flow, plan)
    recorder.log.wait_for(("end", "b", 1))  # every save so far is stuck behind the gate

    store.gate.set()

    assert done.wait(10)
    (state,) = box
    assert state.status is FlowStatus.COMPLETED
    assert store.most_at_once == 1
    assert store.order[-1] == "completed"
    assert store.states[plan.id].status is FlowStatus.COMPLETED


def test_every_async_method_of_the_facade_has_a_sync_twin() -> None:
    public = [n for n in dir(EnhancedFlow) if not n.startswith("_")]
    coroutines = [n for n in public if asyncio.iscoroutinefunction(getattr(EnhancedFlow, n))]

    assert coroutines
    assert [n for n in coroutines if f"{n}_sync" not in public] == []
