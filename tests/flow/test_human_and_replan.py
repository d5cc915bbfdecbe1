"""The decider's human and replan events: ``AskHuman`` / ``HumanAnswered`` and ``ReplanFlow``."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from actorflow import ActorSystem, FlowState
from actorflow.errors import FlowError
from actorflow.flow.commands import AskHuman, CancelAttempt, Command, Emit, StartAttempt
from actorflow.flow.core import FlowCore
from actorflow.flow.decider import decide
from actorflow.flow.messages import (
    HumanAnswered,
    ReplanFlow,
    RunFlow,
    StepAttemptFinished,
    SweepTimeouts,
)
from actorflow.flow.models import FlowPlan, FlowStatus, FlowStep, StepStatus, create_flow_step
from tests.flow.support import Recorder, new_flow, plan_of
from tests.flow.support import step as support_step

T0 = 1_800_000_000.0


def tool(sid: str, deps: list[str] | None = None, **params: Any) -> FlowStep:
    options = {k: params.pop(k) for k in ("timeout", "max_retries") if k in params}
    parameters = {"tool_name": "t", "arguments": {"label": sid}, **params}
    return create_flow_step(sid, "mcp_tool", parameters, deps or [], id=sid, **options)


def ask(sid: str, deps: list[str] | None = None, **params: Any) -> FlowStep:
    parameters = {"message": "Go on?", "input_type": "confirm", **params}
    return create_flow_step(sid, "human_input", parameters, deps or [], id=sid)


def start(*steps: FlowStep, **config: Any) -> tuple[FlowCore, list[Command]]:
    plan = FlowPlan(id="f", name="p", steps=list(steps), variables={"who": "Ada"})
    run = RunFlow(plan=plan.freeze(), config={"default_step_timeout": None, **config}, seed=1)
    return decide(None, run, T0)


def replan(*steps: FlowStep, version: int = 2, plan_id: str = "f") -> ReplanFlow:
    plan = FlowPlan(id=plan_id, name="p", steps=list(steps), version=version)
    return ReplanFlow(plan=plan.freeze())


def done(sid: str, attempt: int = 1, result: Any = "ok") -> StepAttemptFinished:
    return StepAttemptFinished(flow_id="f", step_id=sid, attempt=attempt, ok=True, result=result)


def answered(sid: str, value: Any, *, attempt: int = 1) -> HumanAnswered:
    return HumanAnswered(flow_id="f", step_id=sid, attempt=attempt, ok=True, result=value)


def of(commands: list[Command], kind: type) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def events(commands: list[Command]) -> list[str]:
    return [c.event for c in commands if isinstance(c, Emit)]


# -- human ------------------------------------------------------------------------------


def test_a_human_step_asks_a_person_with_its_question_as_plain_data() -> None:
    _, commands = start(ask("h", message="Hello ${who}?", options=["y", "n"]), human_timeout=60)
    assert of(commands, StartAttempt) == []
    (question,) = of(commands, AskHuman)
    assert question.step_id == "h"
    assert question.attempt == 1
    assert question.timeout == 60
    assert dict(question.request) == {
        "input_type": "confirm",
        "message": "Hello Ada?",
        "options": ["y", "n"],
        "default_value": None,
    }


def test_the_answer_completes_the_step_under_its_output_key() -> None:
    core, _ = start(ask("h"), tool("t", ["h"]))
    core, commands = decide(core, answered("h", value=True), T0 + 1)
    assert core.steps["h"].status is StepStatus.COMPLETED
    assert core.outputs["user_confirmed"] is True
    assert [c.step_id for c in of(commands, StartAttempt)] == ["t"]


def test_a_tool_outcome_for_a_human_step_is_ignored_and_counted() -> None:
    core, _ = start(ask("h"))
    core, commands = decide(core, done("h"), T0 + 1)
    assert core.steps["h"].status is StepStatus.RUNNING
    assert core.ignored == 1
    assert commands == []


def test_a_human_answer_for_a_tool_step_is_ignored_and_counted() -> None:
    core, _ = start(tool("t"))
    core, _ = decide(core, answered("t", "x"), T0 + 1)
    assert core.steps["t"].status is StepStatus.RUNNING
    assert core.ignored == 1


def test_a_late_answer_after_the_timeout_is_ignored_and_the_person_not_asked_again() -> None:
    core, _ = start(ask("h", critical=False), human_timeout=10)
    core, commands = decide(core, SweepTimeouts(), T0 + 10)
    assert core.steps["h"].status is StepStatus.TIMED_OUT
    assert of(commands, CancelAttempt) == [CancelAttempt("h", 1)]
    assert of(commands, AskHuman) == []
    core, _ = decide(core, answered("h", value=True), T0 + 11)
    assert core.ignored == 1
    assert core.status is FlowStatus.COMPLETED


def test_asking_that_failed_fails_the_step_with_the_error() -> None:
    core, _ = start(ask("h"))
    failed = HumanAnswered(
        flow_id="f",
        step_id="h",
        attempt=1,
        ok=False,
        error="no human callback",
        error_type="actorflow.errors.ConfigurationError",
        error_types=("actorflow.errors.ConfigurationError", "builtins.Exception"),
    )
    core, commands = decide(core, failed, T0 + 1)
    assert core.status is FlowStatus.FAILED
    assert "no human callback" in (core.error or "")
    assert of(commands, AskHuman) == []  # deterministic: never asked again


# -- replan -----------------------------------------------------------------------------


def test_replan_keeps_completed_and_running_steps_and_runs_the_new_ones() -> None:
    core, _ = start(tool("a"), tool("b", ["a"]), tool("c", ["b"]))
    core, _ = decide(core, done("a"), T0 + 1)  # b runs now
    core, commands = decide(core, replan(tool("a"), tool("b", ["a"]), tool("d", ["b"])), T0 + 2)
    assert core.spec.plan.version == 2
    assert set(core.steps) == {"a", "b", "d"}
    assert core.steps["a"].status is StepStatus.COMPLETED
    assert core.results["a"] == "ok"
    assert core.steps["b"].live == 1  # the attempt under way goes on
    assert of(commands, StartAttempt) == []
    assert of(commands, CancelAttempt) == []
    assert "plan_changed" in events(commands)
    core, commands = decide(core, done("b"), T0 + 3)
    assert [c.step_id for c in of(commands, StartAttempt)] == ["d"]
    core, _ = decide(core, done("d"), T0 + 4)
    assert core.status is FlowStatus.COMPLETED


def test_replan_cancels_a_changed_step_and_numbers_its_next_attempt_on() -> None:
    core, _ = start(tool("a"), tool("b"))
    core, commands = decide(core, replan(tool("a"), tool("b", extra=1)), T0 + 1)
    assert of(commands, CancelAttempt) == [CancelAttempt("b", 1)]
    assert [(c.step_id, c.attempt) for c in of(commands, StartAttempt)] == [("b", 2)]
    core, _ = decide(core, done("b", attempt=1, result="stale"), T0 + 2)
    assert core.ignored == 1
    assert core.steps["b"].status is StepStatus.RUNNING
    core, _ = decide(core, done("a"), T0 + 3)
    core, _ = decide(core, done("b", attempt=2, result="fresh"), T0 + 4)
    assert core.status is FlowStatus.COMPLETED
    assert core.results["b"] == "fresh"


def test_replan_of_a_dependency_reruns_its_completed_dependents() -> None:
    core, _ = start(tool("a"), tool("b", ["a"]), tool("c"))
    core, _ = decide(core, done("a"), T0 + 1)
    core, _ = decide(core, done("b"), T0 + 2)
    new = replan(tool("a", extra=True), tool("b", ["a"]), tool("c"))
    core, commands = decide(core, new, T0 + 3)
    assert [(c.step_id, c.attempt) for c in of(commands, StartAttempt)] == [("a", 2)]
    assert core.steps["b"].status is StepStatus.PENDING
    assert "b" not in core.results
    assert core.steps["c"].live == 1


def test_replan_drops_a_removed_steps_attempt() -> None:
    core, _ = start(tool("a"), tool("b"))
    core, commands = decide(core, replan(tool("a")), T0 + 1)
    assert of(commands, CancelAttempt) == [CancelAttempt("b", 1)]
    assert set(core.steps) == {"a"}
    assert core.slots == 1
    core, _ = decide(core, done("b"), T0 + 2)
    assert core.ignored == 1
    core, _ = decide(core, done("a"), T0 + 3)
    assert core.status is FlowStatus.COMPLETED


def test_a_replan_with_an_old_version_or_another_id_is_refused_and_changes_nothing() -> None:
    core, _ = start(tool("a"))
    for message, words in (
        (replan(tool("x"), version=1), "not above"),
        (replan(tool("x"), plan_id="other"), "is not the flow's"),
    ):
        after, commands = decide(core, message, T0 + 1)
        assert after == core
        (refusal,) = [c for c in commands if isinstance(c, Emit)]
        assert refusal.event == "plan_refused"
        assert words in str(refusal.detail["reason"])


def test_a_replan_after_the_flow_ended_is_refused() -> None:
    core, _ = start(tool("a"))
    core, _ = decide(core, done("a"), T0 + 1)
    after, commands = decide(core, replan(tool("a"), tool("b")), T0 + 2)
    assert after == core
    assert events(commands) == ["plan_refused"]


def test_state_after_a_replan_round_trips_through_json() -> None:
    core, _ = start(tool("a"), tool("b", ["a"]))
    core, _ = decide(core, done("a"), T0 + 1)
    core, _ = decide(core, replan(tool("a"), tool("b", ["a"]), ask("h", ["b"])), T0 + 2)
    assert FlowCore.from_json(core.to_json()) == core


def test_two_steps_with_one_output_key_leave_it_to_the_later_one_in_the_plan() -> None:
    core, _ = start(ask("first", input_type="input"), ask("second", input_type="input"))
    core, _ = decide(core, answered("second", "B"), T0 + 1)
    core, _ = decide(core, answered("first", "A"), T0 + 2)
    assert core.outputs["user_input"] == "B"
    assert FlowCore.from_json(core.to_json()) == core


# -- through the facade -----------------------------------------------------------------


def test_a_running_flow_takes_a_new_plan_and_keeps_what_it_did(system: ActorSystem) -> None:
    recorder = Recorder()
    recorder.gates["b"] = threading.Event()
    flow = new_flow(system, recorder)
    plan = plan_of(support_step("a"), support_step("b", deps=["a"]), support_step("c", deps=["b"]))
    outcome: list[FlowState] = []
    runner = threading.Thread(target=lambda: outcome.append(flow.execute_sync(plan)))
    runner.start()
    recorder.log.wait_for(("start", "b", 1))

    new = plan.model_copy(deep=True)
    new.version = 2
    new.steps = [s for s in new.steps if s.id != "c"]
    new.steps.append(support_step("d", deps=["b"]))
    flow.update_plan_sync(new)
    recorder.gates["b"].set()
    runner.join(10)

    state = outcome[0]
    assert state.status is FlowStatus.COMPLETED
    assert recorder.calls == {"a": 1, "b": 1, "d": 1}
    assert set(state.steps) == {"a", "b", "d"}


def test_a_plan_for_a_flow_that_is_not_running_is_refused(system: ActorSystem) -> None:
    flow = new_flow(system, Recorder())
    plan = plan_of(support_step("a"))
    flow.execute_sync(plan)
    plan.version = 2
    with pytest.raises(FlowError, match="not running"):  # its actor may still be stopping
        flow.update_plan_sync(plan)


def test_a_running_flow_refuses_a_plan_that_is_not_newer(system: ActorSystem) -> None:
    recorder = Recorder()
    recorder.gates["a"] = threading.Event()
    flow = new_flow(system, recorder)
    plan = plan_of(support_step("a"))
    outcome: list[FlowState] = []
    runner = threading.Thread(target=lambda: outcome.append(flow.execute_sync(plan)))
    runner.start()
    recorder.log.wait_for(("start", "a", 1))
    try:
        with pytest.raises(FlowError, match="did not take the new plan: the new plan's version 1"):
            flow.update_plan_sync(plan)
    finally:
        recorder.gates["a"].set()
        runner.join(10)
    assert outcome[0].status is FlowStatus.COMPLETED


def test_a_new_plan_that_does_not_hold_together_is_refused_not_run() -> None:
    core, _ = start(tool("a"))
    dangling = FlowPlan(id="f", name="p", steps=[tool("b", ["ghost"])], version=2).freeze()
    backwards = FlowPlan(id="f", name="p", steps=[tool("b"), tool("c", ["b"])], version=2)
    for bad in (
        ReplanFlow(plan=dangling),
        ReplanFlow(plan=backwards.freeze(), order=("c", "b")),
    ):
        after, commands = decide(core, bad, T0 + 1)
        assert after == core
        assert events(commands) == ["plan_refused"]
