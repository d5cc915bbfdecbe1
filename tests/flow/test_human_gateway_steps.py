"""``human_input`` steps asked through the human gateway: policies, validation, answers
from outside, the journal, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from actorflow import (
    ActorSystem,
    FakeClock,
    FlowPlan,
    FlowState,
    FlowStatus,
    StepStatus,
    create_flow_step,
)
from actorflow.flow.messages import CancelFlow
from actorflow.human.outside import answer_human_request, list_human_requests
from actorflow.ids import child_path
from actorflow.journal import JournalConfig
from actorflow.runtime.system import FLOWS_PATH
from actorflow.testing import ScriptedHuman
from tests.flow.support import human_effects, new_flow, plan_of

QUESTION = {"message": "Ship it?", "input_type": "confirm"}


def ask(**params: Any) -> FlowPlan:
    step = create_flow_step("ask", "human_input", {**QUESTION, **params}, id="ask",
                            max_retries=0)  # fmt: skip
    return plan_of(step)


def run_in_thread(flow: Any, plan: FlowPlan) -> tuple[threading.Thread, list[FlowState]]:
    box: list[FlowState] = []
    runner = threading.Thread(target=lambda: box.append(flow.execute_sync(plan)))
    runner.start()
    return runner, box


def test_the_default_policy_answers_the_default_when_nobody_answers(clock: FakeClock) -> None:
    human = ScriptedHuman.silent()
    with ActorSystem(clock=clock) as system:
        flow = new_flow(system, human_timeout=60.0, auto_save_interval=10_000)
        flow.set_human_callback(human)
        runner, box = run_in_thread(flow, ask(on_timeout="default", default_value=True))
        assert human.wait_asked(1, 10)
        assert clock.wait_for_timers(2, timeout=10)  # auto-save + the gateway's deadline
        clock.advance(59.0)
        assert runner.is_alive()
        clock.advance(1.0)
        runner.join(10)
    (state,) = box
    assert state.status is FlowStatus.COMPLETED
    assert state.steps["ask"].result is True
    assert state.variables["user_confirmed"] is True


def test_the_fail_policy_times_the_step_out(clock: FakeClock) -> None:
    human = ScriptedHuman.silent()
    with ActorSystem(clock=clock) as system:
        flow = new_flow(system, human_timeout=60.0, auto_save_interval=10_000)
        flow.set_human_callback(human)
        runner, box = run_in_thread(flow, ask())
        assert human.wait_asked(1, 10)
        assert clock.wait_for_timers(2, timeout=10)
        clock.advance(60.0)
        runner.join(10)
    (state,) = box
    assert state.status is FlowStatus.FAILED
    assert state.steps["ask"].status is StepStatus.TIMED_OUT
    assert state.steps["ask"].error == "TimeoutError: attempt 1 timed out after 60 s"


def test_an_invalid_answer_keeps_the_request_open_for_a_valid_one_from_outside(
    system: ActorSystem,
) -> None:
    human = ScriptedHuman({"Pick one": "purple"})  # not among the options
    flow = new_flow(system)
    flow.set_human_callback(human)
    plan = plan_of(
        create_flow_step(
            "pick",
            "human_input",
            {"message": "Pick one", "input_type": "select", "options": ["red", "green"]},
            id="pick",
        )
    )
    runner, box = run_in_thread(flow, plan)
    assert human.wait_asked(1, 10)
    (record,) = list_human_requests(system)  # its answer is refused: the request stays open
    request_id = record.request_id
    assert request_id.startswith(f"{plan.id}/pick/1@")  # flow/step/attempt@run

    def still_open() -> bool:
        return [r.request_id for r in list_human_requests(system)] == [request_id]

    assert human.wait_asked(1, 10)  # its answer is refused: the request stays open
    assert still_open()
    answer_human_request(system, request_id, "green")
    runner.join(10)
    (state,) = box
    assert state.status is FlowStatus.COMPLETED
    assert state.steps["pick"].result == "green"


def test_answers_are_journaled_as_human_effects(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        flow = new_flow(system)
        flow.set_human_callback(ScriptedHuman({"Ship it?": True}))
        state = flow.execute_sync(ask())
    assert state.status is FlowStatus.COMPLETED
    effects = human_effects(path)
    ((name, value),) = effects
    assert name.startswith(f"{state.flow_id}/ask/1@")
    assert value is True


def test_a_cancelled_flow_cancels_its_open_request(system: ActorSystem) -> None:
    human = ScriptedHuman.silent()
    flow = new_flow(system)
    flow.set_human_callback(human)
    plan = ask()
    runner, box = run_in_thread(flow, plan)
    assert human.wait_asked(1, 10)
    flow.stream_callbacks  # noqa: B018 - the facade is up; cancel through the flow actor

    system.tell(child_path(FLOWS_PATH, plan.id), CancelFlow(reason="changed my mind"))
    runner.join(10)
    (state,) = box
    assert state.status is FlowStatus.CANCELLED
    assert human.wait_cancelled(1, 10)
    assert list_human_requests(system) == ()
