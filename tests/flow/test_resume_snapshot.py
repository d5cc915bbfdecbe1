"""Going on from a stored decider state: what runs again, and when."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actorflow.errors import FlowError
from actorflow.flow.commands import ScheduleTimer, StartAttempt
from actorflow.flow.core import FlowCore
from actorflow.flow.decider import decide
from actorflow.flow.messages import CancelFlow, RetryStep, RunFlow, SweepTimeouts
from actorflow.flow.models import FlowPlan, FlowStatus, FlowStep, create_flow_step
from tests.flow.test_human_and_replan import done

T0 = 1_800_000_000.0


def tool(sid: str, deps: list[str] | None = None, **options: Any) -> FlowStep:
    parameters = {"tool_name": "t", "arguments": {"label": sid}}
    return create_flow_step(sid, "mcp_tool", parameters, deps or [], id=sid, **options)


def first_run(*steps: FlowStep, **config: Any) -> tuple[RunFlow, FlowCore]:
    plan = FlowPlan(id="f", name="p", steps=list(steps))
    run = RunFlow(plan=plan.freeze(), config={"default_step_timeout": None, **config}, seed=3)
    core, _ = decide(None, run, T0)
    return run, core


def resumed(run: RunFlow, core: FlowCore, at: float) -> tuple[FlowCore, list[Any]]:
    snapshot = json.loads(json.dumps(core.to_json()))
    return decide(None, run.model_copy(update={"snapshot": snapshot}), at)


def test_the_attempt_under_way_runs_again_under_its_number_and_keeps_its_deadline() -> None:
    run, core = first_run(tool("a", timeout=100.0), tool("b", ["a"]))
    after, commands = resumed(run, core, T0 + 40)
    starts = [c for c in commands if isinstance(c, StartAttempt)]
    assert [(c.step_id, c.attempt) for c in starts] == [("a", 1)]
    assert after.steps["a"].deadline == T0 + 100
    sweeps = [c for c in commands if isinstance(c, ScheduleTimer) and c.message == SweepTimeouts()]
    assert [c.delay for c in sweeps] == [60.0]
    assert after.slots == 1


def test_completed_steps_stay_done_and_the_next_ones_start() -> None:
    run, core = first_run(tool("a"), tool("b", ["a"]))
    core, _ = decide(core, done("a"), T0 + 1)
    after, commands = resumed(run, core, T0 + 5)
    assert [(c.step_id, c.attempt) for c in commands if isinstance(c, StartAttempt)] == [("b", 1)]
    assert after.results["a"] == "ok"


def test_a_step_waiting_for_its_retry_is_retried_when_it_was_due() -> None:
    run, core = first_run(tool("a", max_retries=2), retry_delay=10.0, jitter=0.0)
    error = {"ok": False, "error": "boom", "error_types": ("builtins.ConnectionError",)}
    failed = done("a").model_copy(update=error)
    core, _ = decide(core, failed, T0 + 1)
    assert core.steps["a"].retrying
    after, commands = resumed(run, core, T0 + 4)
    retries = [
        c for c in commands if isinstance(c, ScheduleTimer) and isinstance(c.message, RetryStep)
    ]
    assert [(c.delay, c.message.attempt) for c in retries] == [(7.0, 2)]
    assert not [c for c in commands if isinstance(c, StartAttempt)]
    assert after.slots == 1


def test_the_flow_timeout_counts_from_the_first_start() -> None:
    run, core = first_run(tool("a"), flow_timeout=60.0)
    _, commands = resumed(run, core, T0 + 45)
    timeouts = [
        c for c in commands if isinstance(c, ScheduleTimer) and isinstance(c.message, CancelFlow)
    ]
    assert [c.delay for c in timeouts] == [15.0]


def test_a_flow_that_ended_cannot_be_resumed() -> None:
    run, core = first_run(tool("a"))
    core, _ = decide(core, done("a"), T0 + 1)
    assert core.status is FlowStatus.COMPLETED
    with pytest.raises(FlowError, match="nothing to resume"):
        resumed(run, core, T0 + 2)


def test_a_stored_state_of_another_plan_is_refused() -> None:
    _, core = first_run(tool("a"))
    other, _ = first_run(tool("a"), tool("b"))
    with pytest.raises(FlowError, match="another plan"):
        resumed(other, core, T0 + 2)
