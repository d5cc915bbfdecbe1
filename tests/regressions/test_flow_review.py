"""Regressions from an adversarial review of the flow decider and its shell."""

from __future__ import annotations

import asyncio
import http
import threading
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    ConditionError,
    FakeClock,
    FlowState,
    FlowStatus,
    InvalidStepParametersError,
    NonRetryableStepError,
    StepStatus,
    create_flow_step,
)
from actorflow.flow.checkpoint import FINAL_SAVE_TIMEOUT
from tests.flow.support import CancellableTool, DictStates, Recorder, new_flow, plan_of, step


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


class _FlakyNowaitManager(DictStates):
    """An in-memory-like manager whose saves start failing after the first."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save_state_nowait(self, flow_id: str, state: FlowState) -> None:
        self.saves += 1
        if self.saves > 1:
            raise OSError("disk full")
        self.states[flow_id] = state

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        self.save_state_nowait(flow_id, state)


def test_failing_checkpoint_saves_are_reported_and_the_flow_still_answers(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    flow.executor.state_manager = _FlakyNowaitManager()

    state = flow.execute_sync(plan_of(step("a"), step("b", deps=["a"])))

    assert state.status is FlowStatus.COMPLETED
    assert state.metadata["checkpoint_errors"] >= 1
    assert "OSError: disk full" in state.metadata["checkpoint_error"]


class _HangingManager(_FlakyNowaitManager):
    """A manager whose saves never finish (no ``save_state_nowait``)."""

    save_state_nowait = None  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        self.started.set()
        await asyncio.Event().wait()


def test_a_final_checkpoint_that_never_saves_does_not_hold_the_reply_forever(
    clock: FakeClock, recorder: Recorder
) -> None:
    with ActorSystem(clock=clock) as system:
        flow = new_flow(system, recorder, default_step_timeout=None, auto_save_interval=10_000)
        manager = _HangingManager()
        flow.executor.state_manager = manager
        box: list[Any] = []
        runner = threading.Thread(target=lambda: box.append(flow.execute_sync(plan_of(step("a")))))
        runner.start()
        assert manager.started.wait(10)
        assert clock.wait_for_timers(2, timeout=10)  # auto-save + the final save's deadline

        clock.advance(FINAL_SAVE_TIMEOUT)
        runner.join(10)

    (state,) = box
    assert state.status is FlowStatus.COMPLETED
    assert state.metadata["checkpoint_error"] == f"not saved within {FINAL_SAVE_TIMEOUT:g} s"


class _BadMessageError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")

    @property
    def retryable(self) -> bool:
        raise RuntimeError("no marker")


def test_an_error_whose_text_and_markers_raise_still_fails_the_step(system: ActorSystem) -> None:
    def tool(label: str) -> str:
        raise _BadMessageError

    flow = new_flow(system, default_step_timeout=None)
    flow.register_tool("t", tool)

    state = flow.execute_sync(plan_of(step("a", "t", max_retries=1)))

    assert state.status is FlowStatus.FAILED
    assert state.steps["a"].attempts == 2
    assert "_BadMessageError (its message could not be read)" in (state.steps["a"].error or "")


def test_a_later_step_cannot_change_an_earlier_steps_result(system: ActorSystem) -> None:
    """Tools get their own, changeable copy of their arguments; flow data stays as it was."""

    def make(label: str) -> dict[str, list[int]]:
        return {"items": [1, 2]}

    def grow(data: dict[str, list[int]]) -> int:
        data["items"].append(3)
        return len(data["items"])

    flow = new_flow(system)
    flow.register_tool("make", make)
    flow.register_tool("grow", grow)
    plan = plan_of(
        step("a", "make"),
        create_flow_step(
            "b", "mcp_tool", {"tool_name": "grow", "arguments": {"data": "${a}"},
                              "max_retries": 0, "critical": False}, ["a"], id="b",
        ),
    )  # fmt: skip

    state = flow.execute_sync(plan)

    assert state.steps["b"].result == 3  # the tool changed its own copy
    assert state.steps["a"].result == {"items": [1, 2]}
    assert state.variables["a"] == {"items": [1, 2]}


@pytest.mark.parametrize(
    "guard",
    [
        {"condition": "context['missing'] > 1", "critical": False},
        {"condition": "True", "critical": False, "max_retries": 0},
    ],
)
def test_a_guard_condition_that_does_not_complete_never_lets_its_dependents_run(
    system: ActorSystem, recorder: Recorder, guard: dict[str, Any]
) -> None:
    flow = new_flow(system, recorder)
    check = create_flow_step("check", "condition", guard, id="check", max_retries=0)
    if guard["condition"] == "True":
        check = create_flow_step(
            "check", "condition", {"condition": "results['never'] == 1", "critical": False},
            id="check", max_retries=0,
        )  # fmt: skip

    state = flow.execute_sync(plan_of(check, step("dangerous", deps=["check"])))

    assert state.steps["check"].status is StepStatus.FAILED_NON_CRITICAL
    assert state.steps["dangerous"].status is StepStatus.SKIPPED
    assert recorder.calls == {}


def test_a_step_marked_critical_cannot_degrade_by_returning_the_degraded_record(
    system: ActorSystem, recorder: Recorder
) -> None:
    def degraded(label: str) -> dict[str, str]:
        return {"error": "no stock", "status": "failed_non_critical"}

    flow = new_flow(system, recorder)
    flow.register_tool("check_stock", degraded)
    plan = plan_of(step("stock", "check_stock", critical=True), step("ship", deps=["stock"]))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.FAILED
    assert state.steps["stock"].status is StepStatus.FAILED
    assert recorder.calls == {}


def test_two_steps_with_one_output_key_are_refused(system: ActorSystem, recorder: Recorder) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", output_key="k"), step("b", output_key="k"))

    with pytest.raises(InvalidStepParametersError, match=r"^Steps 'a' and 'b' .* output_key 'k'"):
        flow.execute_sync(plan)


def test_malformed_references_are_refused_before_anything_runs(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"], arguments={"label": "x ${1 +}"}))

    with pytest.raises(ConditionError, match=r"^Step 'b': reference '\$\{1 \+\}'"):
        flow.execute_sync(plan)

    assert recorder.calls == {}


def test_interpolated_text_is_bounded(system: ActorSystem, recorder: Recorder) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", arguments={"label": "${big}" * 200}, max_retries=2))
    plan.variables["big"] = "x" * 100_000

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.FAILED
    assert state.steps["a"].attempts == 1
    assert "gives more than 1,000,000 characters" in (state.steps["a"].error or "")


class _Outer:
    class InnerError(Exception):
        pass


class _StubbornError(NonRetryableStepError):
    retryable = True


@pytest.mark.parametrize(
    ("error", "retry_on", "calls"),
    [
        (type("E", (Exception,), {"status_code": http.HTTPStatus.NOT_FOUND})(), None, 1),
        (_StubbornError("no"), None, 1),
        (_Outer.InnerError(), ["_Outer.InnerError"], 3),
        (KeyboardInterrupt(), None, 1),
    ],
)
def test_retry_classification_edge_cases(
    system: ActorSystem, error: BaseException, retry_on: list[str] | None, calls: int
) -> None:
    made = []

    def tool(label: str) -> str:
        made.append(label)
        raise error

    flow = new_flow(system, default_step_timeout=None)
    flow.register_tool("t", tool)
    options: dict[str, Any] = {"retry_on": retry_on} if retry_on else {}

    state = flow.execute_sync(plan_of(step("a", "t", max_retries=2, **options)))

    assert state.status is FlowStatus.FAILED
    assert len(made) == calls


def test_a_flow_timeout_fails_the_flow(clock: FakeClock, recorder: Recorder) -> None:
    recorder.gates["a"] = threading.Event()
    with ActorSystem(clock=clock) as system:
        flow = new_flow(
            system, recorder, flow_timeout=60.0, default_step_timeout=None,
            auto_save_interval=10_000,
        )  # fmt: skip
        box: list[Any] = []
        runner = threading.Thread(target=lambda: box.append(flow.execute_sync(plan_of(step("a")))))
        runner.start()
        recorder.log.wait_for(("start", "a", 1))
        assert clock.wait_for_timers(2, timeout=10)  # auto-save + the flow timeout

        clock.advance(60.0)
        runner.join(10)
        recorder.gates["a"].set()

    (state,) = box
    assert state.status is FlowStatus.FAILED
    assert "flow_timeout" in (state.error or "")


def test_cancelling_the_caller_cancels_the_flow(system: ActorSystem) -> None:
    slow = CancellableTool()
    started, cancelled = slow.started, slow.cancelled
    flow = new_flow(system, default_step_timeout=None)
    flow.register_tool("slow", slow)

    async def caller() -> None:
        task = asyncio.ensure_future(flow.execute(plan_of(step("a", "slow"))))
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(caller())

    assert cancelled.wait(10)
