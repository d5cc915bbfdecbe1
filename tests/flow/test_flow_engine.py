from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actorflow import (
    ActorSystem,
    Behaviour,
    ConditionError,
    Context,
    DuplicateStepError,
    EnhancedFlow,
    FakeClock,
    FlowPlan,
    FlowState,
    FlowStatus,
    FlowStep,
    InvalidStepParametersError,
    MissingDependencyError,
    PlanCycleError,
    ScriptedHumanCallback,
    StepStatus,
    UnknownStepTypeError,
    create_flow_step,
    register_step_type,
)
from actorflow.flow import AgentTask, AgentTaskDone, StepContext
from actorflow.flow.planner import PlanningError
from tests.flow.support import Recorder, new_flow, plan_of, step


def ran(recorder: Recorder) -> list[str]:
    return [i[1] for i in recorder.log.snapshot() if isinstance(i, tuple) and i[0] == "start"]


# -- validation ---------------------------------------------------------------------------


def _cycle() -> FlowPlan:
    return plan_of(step("a", deps=["c"]), step("b", deps=["a"]), step("c", deps=["b"]))


INVALID = [
    (lambda: plan_of(step("a"), step("a")), DuplicateStepError, r"two steps with id 'a'"),
    (lambda: plan_of(step("a", deps=["zz"])), MissingDependencyError, r"depends on 'zz', which"),
    (lambda: plan_of(step("a", deps=["a"])), MissingDependencyError, r"'a' .* depends on itself"),
    (_cycle, PlanCycleError, r"has a dependency cycle: a -> c -> b -> a\. Remove one"),
    (
        lambda: plan_of(create_flow_step("x", "teleport", id="x")),
        UnknownStepTypeError,
        r"^Unknown step type 'teleport'\. Registered types: .*mcp_tool",
    ),
    (
        lambda: plan_of(create_flow_step("x", "mcp_tool", {"arguments": {}}, id="x")),
        InvalidStepParametersError,
        r"Step 'x' \(mcp_tool\) has invalid parameters: 'tool_name': Field required",
    ),
    (
        lambda: plan_of(step("a", tool="nope")),
        InvalidStepParametersError,
        r"uses tool 'nope', which is not registered, and the flow has no MCP client",
    ),
    (
        lambda: plan_of(create_flow_step("c", "condition", {"condition": "__import__('os')"})),
        ConditionError,
        r".",
    ),
    (
        lambda: plan_of(step("a", critical="yes")),
        InvalidStepParametersError,
        r"Step 'a' \(mcp_tool\) has an invalid engine option 'critical': .*bool",
    ),
]

BAD_ENGINE_OPTIONS = [
    ("max_retries", "many"),
    ("max_retries", -1),
    ("max_retries", 1000),
    ("max_retries", True),
    ("retry_delay", "soon"),
    ("retry_delay", -1.0),
    ("max_retry_delay", -5),
    ("exponential_backoff", "yes"),
    ("jitter", 2.0),
    ("retry_on", "ConnectionError"),
    ("retry_on", [1, 2]),
    ("output_key", 5),
    ("output_key", ""),
    ("skip_if_failed", "no"),
]


@pytest.mark.parametrize(("make", "error", "message"), INVALID)
def test_invalid_plans_are_rejected_before_anything_runs(
    system: ActorSystem, recorder: Recorder, make: Any, error: type[Exception], message: str
) -> None:
    flow = new_flow(system, recorder)

    with pytest.raises(error, match=message):
        flow.execute_sync(make())

    assert recorder.calls == {}
    assert not [p for p in system.paths() if p.startswith("/flows/")]


@pytest.mark.parametrize(("option", "value"), BAD_ENGINE_OPTIONS)
def test_bad_engine_options_are_rejected_before_anything_runs(
    system: ActorSystem, recorder: Recorder, option: str, value: Any
) -> None:
    flow = new_flow(system, recorder)

    bad = create_flow_step("b", "mcp_tool", {"tool_name": "record", option: value}, ["a"])

    with pytest.raises(InvalidStepParametersError, match=rf"invalid engine option '{option}'"):
        flow.execute_sync(plan_of(step("a"), bad))

    assert recorder.calls == {}


# -- scheduling ---------------------------------------------------------------------------


def test_steps_run_once_each_after_their_dependencies_and_results_become_variables(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(
        step("a"), step("b", deps=["a"]), step("c", deps=["a"]), step("d", deps=["b", "c"])
    )

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert recorder.calls == {"a": 1, "b": 1, "c": 1, "d": 1}
    order = ran(recorder)
    assert order[0] == "a"
    assert order[-1] == "d"
    assert state.variables["b"] == "b#1"
    assert state.variables["final_result"] == "d#1"
    assert {s.status for s in state.steps.values()} == {StepStatus.COMPLETED}


def test_independent_branches_run_at_the_same_time(system: ActorSystem, recorder: Recorder) -> None:
    met = threading.Event()

    def wait_for_partner(label: str) -> str:
        assert met.wait(5), "the other branch did not run meanwhile"
        return label

    def meet(label: str) -> str:
        met.set()
        return label

    flow = new_flow(system, recorder)
    flow.register_tool("wait_for_partner", wait_for_partner)
    flow.register_tool("meet", meet)

    state = flow.execute_sync(plan_of(step("a", tool="wait_for_partner"), step("b", tool="meet")))

    assert state.status is FlowStatus.COMPLETED


def test_a_slow_branch_never_delays_an_independent_one(system: ActorSystem) -> None:
    """No superstep barrier: c (after quick b) runs while a (level 1) is still running."""
    c_ran = threading.Event()

    def slow(label: str) -> str:
        assert c_ran.wait(5), "c waited for a: there is a barrier between levels"
        return label

    def quick(label: str) -> str:
        if label == "c":
            c_ran.set()
        return label

    flow = new_flow(system)
    flow.register_tool("slow", slow)
    flow.register_tool("quick", quick)
    plan = plan_of(
        step("a", tool="slow"), step("b", tool="quick"), step("c", tool="quick", deps=["b"])
    )

    assert flow.execute_sync(plan).status is FlowStatus.COMPLETED


def test_max_parallel_steps_bounds_how_many_run_at_once(system: ActorSystem) -> None:
    lock = threading.Lock()
    running = peak = 0
    release = threading.Barrier(2, timeout=5)

    def counted(label: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait()  # pairs of two: proves two ran together, and never three
        with lock:
            running -= 1
        return label

    flow = new_flow(system, max_parallel_steps=2)
    flow.register_tool("counted", counted)

    state = flow.execute_sync(plan_of(*(step(f"s{i}", tool="counted") for i in range(6))))

    assert state.status is FlowStatus.COMPLETED
    assert peak == 2


# -- retries and timeouts -----------------------------------------------------------------


def _run_in_background(flow: Any, plan: FlowPlan) -> tuple[threading.Thread, list[FlowState]]:
    out: list[FlowState] = []
    thread = threading.Thread(target=lambda: out.append(flow.execute_sync(plan)))
    thread.start()
    return thread, out


@pytest.fixture
def fake_flow_system(clock: FakeClock) -> Iterator[ActorSystem]:
    with ActorSystem(clock=clock) as system:
        yield system


def test_retries_follow_the_policy_exactly_by_the_clock(
    fake_flow_system: ActorSystem, clock: FakeClock, recorder: Recorder
) -> None:
    flow = new_flow(fake_flow_system, recorder, default_step_timeout=None, auto_save_interval=1000)
    recorder.fail_times["r"] = 3
    policy = {"retry_delay": 1.0, "exponential_backoff": True, "max_retry_delay": 3.0}
    thread, out = _run_in_background(flow, plan_of(step("r", max_retries=5, **policy)))

    for attempt, delay in ((1, 1.0), (2, 2.0), (3, 3.0)):  # 1, 2, then 4 capped at 3
        recorder.log.wait_for(("fail", "r", attempt))
        assert clock.wait_for_timers(2, timeout=5)  # auto-save + this retry
        clock.advance(delay - 0.001)
        assert ("start", "r", attempt + 1) not in recorder.log.snapshot()
        clock.advance(0.001)
        recorder.log.wait_for(("start", "r", attempt + 1))
    thread.join(10)

    (state,) = out
    assert state.status is FlowStatus.COMPLETED
    assert state.steps["r"].attempts == 4
    assert state.steps["r"].result == "r#4"


def test_retry_jitter_comes_from_the_seeded_random_source(
    fake_flow_system: ActorSystem, clock: FakeClock, recorder: Recorder
) -> None:
    """Same seed, same jitter: the retry fires at the same (fake) time in two runs."""
    fired_at = []
    for _ in range(2):
        recorder = Recorder()
        recorder.fail_times["r"] = 1
        flow = new_flow(fake_flow_system, recorder, default_step_timeout=None,
                        auto_save_interval=1000, jitter=0.5, random_seed=42)  # fmt: skip
        thread, _ = _run_in_background(flow, plan_of(step("r", retry_delay=1.0)))
        recorder.log.wait_for(("fail", "r", 1))
        assert clock.wait_for_timers(2, timeout=5)
        start = clock.monotonic()
        clock.advance(1.0)  # the delay without jitter
        steps = 0
        while clock.pending_timers() >= 2:  # the retry timer has not fired yet
            clock.advance(0.01)  # jitter adds at most 0.5 s, in 0.01 s steps
            steps += 1
            assert steps <= 51
        fired_at.append(round(clock.monotonic() - start, 2))
        recorder.log.wait_for(("start", "r", 2))
        thread.join(10)

    assert fired_at[0] == fired_at[1]
    assert 1.0 < fired_at[0] <= 1.51


def test_a_timed_out_attempt_is_retried_and_its_late_result_ignored(
    fake_flow_system: ActorSystem, clock: FakeClock, recorder: Recorder
) -> None:
    flow = new_flow(fake_flow_system, recorder, default_step_timeout=None, auto_save_interval=1000)
    recorder.gates["t"] = threading.Event()
    recorder.gates["hold"] = threading.Event()
    plan = plan_of(step("t", timeout=5.0, max_retries=1), step("hold"))
    thread, out = _run_in_background(flow, plan)
    recorder.log.wait_for(("start", "t", 1))
    recorder.log.wait_for(("start", "hold", 1))
    assert clock.wait_for_timers(2, timeout=5)  # auto-save + t's timeout

    clock.advance(5.0)
    assert clock.wait_for_timers(2, timeout=5)  # auto-save + t's retry
    clock.advance(0.0)
    recorder.log.wait_for(("end", "t", 2))
    recorder.gates["t"].set()  # attempt 1 now returns, too late
    recorder.log.wait_for(("end", "t", 1))
    recorder.gates["hold"].set()
    thread.join(10)

    (state,) = out
    assert state.status is FlowStatus.COMPLETED
    assert state.steps["t"].result == "t#2"
    assert state.steps["t"].attempts == 2
    assert state.metadata["ignored_results"] == 1


def test_a_step_that_times_out_for_good_is_marked_timed_out_once(
    fake_flow_system: ActorSystem, clock: FakeClock, recorder: Recorder
) -> None:
    flow = new_flow(fake_flow_system, recorder, default_step_timeout=None, auto_save_interval=1000)
    recorder.gates["t"] = threading.Event()
    thread, out = _run_in_background(flow, plan_of(step("t", timeout=2.0, max_retries=0)))
    recorder.log.wait_for(("start", "t", 1))
    assert clock.wait_for_timers(2, timeout=5)

    clock.advance(2.0)
    thread.join(10)
    recorder.gates["t"].set()

    (state,) = out
    assert state.status is FlowStatus.FAILED
    assert state.steps["t"].status is StepStatus.TIMED_OUT
    assert state.error == "critical step 't' failed: TimeoutError: attempt 1 timed out after 2 s"


# -- critical, non-critical, conditions ----------------------------------------------------


def test_a_critical_failure_fails_the_flow_and_cancels_the_rest(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["a"] = 99
    recorder.gates["c"] = threading.Event()
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", max_retries=1), step("b", deps=["a"]), step("c"))

    state = flow.execute_sync(plan)
    recorder.gates["c"].set()

    assert state.status is FlowStatus.FAILED
    assert state.error == "critical step 'a' failed: builtins.ConnectionError: a failed on call 2"
    assert state.steps["a"].status is StepStatus.FAILED
    assert state.steps["a"].attempts == 2
    assert state.steps["b"].status is StepStatus.CANCELLED
    assert state.steps["c"].status is StepStatus.CANCELLED
    assert "b" not in recorder.calls


def test_a_non_critical_failure_degrades_and_its_dependents_go_on(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["a"] = 99
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", max_retries=0, critical=False), step("b", deps=["a"]))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert state.steps["a"].status is StepStatus.FAILED_NON_CRITICAL
    assert state.steps["a"].result == {
        "error": "builtins.ConnectionError: a failed on call 1",
        "status": "failed_non_critical",
    }
    assert state.steps["b"].status is StepStatus.COMPLETED


def test_dependents_of_a_non_critical_failure_are_skipped_when_configured(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["a"] = 99
    flow = new_flow(system, recorder, skip_dependents_of_failed_steps=True)
    plan = plan_of(
        step("a", max_retries=0, critical=False), step("b", deps=["a"]), step("c", deps=["b"])
    )

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert state.steps["b"].status is StepStatus.SKIPPED
    assert state.steps["c"].status is StepStatus.SKIPPED
    assert state.steps["b"].error == "dependency 'a' failed"


@pytest.mark.parametrize(
    ("go", "expected"), [(True, StepStatus.COMPLETED), (False, StepStatus.SKIPPED)]
)
def test_a_false_condition_skips_what_depends_on_it(
    system: ActorSystem, recorder: Recorder, go: bool, expected: StepStatus
) -> None:
    flow = new_flow(system, recorder)
    check = create_flow_step(
        "check", "condition", {"condition": "context['go'] == True"}, id="check"
    )
    plan = plan_of(
        check, step("d1", deps=["check"]), step("d2", deps=["d1"]), step("e"), variables={"go": go}
    )

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert state.steps["check"].result is go
    assert state.steps["d1"].status is expected
    assert state.steps["d2"].status is expected
    assert state.steps["e"].status is StepStatus.COMPLETED


def test_parameters_refer_to_earlier_results_and_output_keys(system: ActorSystem) -> None:
    flow = new_flow(system)
    flow.register_tool("echo", lambda value: value)
    first = create_flow_step(
        "first",
        "mcp_tool",
        {"tool_name": "echo", "arguments": {"value": 20}, "output_key": "base"},
        id="first",
    )
    second = create_flow_step(
        "second",
        "mcp_tool",
        {"tool_name": "echo", "arguments": {"value": "${base * 2 + first}"}, "output_key": "final_result"},  # noqa: E501
        ["first"],
        id="second",
    )  # fmt: skip
    third = create_flow_step(
        "third",
        "mcp_tool",
        {"tool_name": "echo", "arguments": {"value": "got ${results['second']}"}},
        ["second"],
        id="third",
    )

    state = flow.execute_sync(plan_of(first, second, third))

    assert state.steps["second"].result == 60
    assert state.steps["third"].result == "got 60"
    assert state.variables["final_result"] == 60
    assert state.variables["base"] == 20


# -- step types ---------------------------------------------------------------------------


class Researcher(Behaviour):
    def on_agent_task(self, msg: AgentTask, ctx: Context) -> None:
        ctx.reply(AgentTaskDone(result={"summary": f"researched {msg.task}"}))


def test_an_agent_step_is_a_request_to_an_agent_actor(system: ActorSystem) -> None:
    agent = system.spawn(Researcher, "researcher")
    flow = new_flow(system)
    plan = plan_of(create_flow_step("ask", "agent", {"agent": agent, "task": "LLMs"}, id="ask"))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert state.steps["ask"].result == {"summary": "researched LLMs"}


def test_an_agent_step_to_a_missing_agent_is_refused_before_anything_runs(
    system: ActorSystem,
) -> None:
    flow = new_flow(system)
    plan = plan_of(
        create_flow_step("ask", "agent", {"agent": "agents/ghost", "task": "x"}, id="ask")
    )

    with pytest.raises(
        InvalidStepParametersError,
        match=r"^Step 'ask' sends its task to agent 'agents/ghost', but no actor lives at that "
        r"path\. Did you mean '/agents/ghost'\?",
    ):
        flow.execute_sync(plan)


def test_human_input_without_a_callback_fails_with_a_clear_error(system: ActorSystem) -> None:
    flow = new_flow(system)
    ask = create_flow_step(
        "ask", "human_input", {"message": "Proceed?", "input_type": "confirm"}, id="ask"
    )

    state = flow.execute_sync(plan_of(ask))

    assert state.status is FlowStatus.FAILED
    assert "no human callback" in (state.error or "")
    assert state.steps["ask"].attempts == 1  # configuration errors are not retried


def test_human_input_answers_become_variables(system: ActorSystem) -> None:
    flow = new_flow(system)
    human = ScriptedHumanCallback({"Proceed?": True, "Name?": "Ada"})
    flow.set_human_callback(human)
    confirm = create_flow_step(
        "c", "human_input", {"message": "Proceed?", "input_type": "confirm"}, id="c"
    )
    name = create_flow_step("n", "human_input", {"message": "Name?"}, id="n")

    state = flow.execute_sync(plan_of(confirm, name))

    assert state.variables["user_confirmed"] is True
    assert state.variables["user_input"] == "Ada"
    assert sorted(d.message for d in human.asked) == ["Name?", "Proceed?"]


def test_custom_step_types_run_and_their_parameters_are_checked(system: ActorSystem) -> None:
    from pydantic import BaseModel

    class Doubling(BaseModel):
        value: int

    async def double(step: FlowStep, context: StepContext) -> int:
        return int(step.parameters["value"]) * 2

    register_step_type("double_it", double, parameters=Doubling, replace=True)
    flow = new_flow(system)

    state = flow.execute_sync(plan_of(create_flow_step("d", "double_it", {"value": 21}, id="d")))
    with pytest.raises(
        InvalidStepParametersError, match=r"'value': Input should be a valid integer"
    ):
        flow.execute_sync(plan_of(create_flow_step("d", "double_it", {"value": "x"}, id="d")))

    assert state.steps["d"].result == 42


# -- resume, replan, planner ----------------------------------------------------------------


def test_resume_runs_from_the_checkpoint_without_rerunning_completed_steps(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["b"] = 1
    flow = new_flow(system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"], max_retries=0), step("c", deps=["b"]))

    first = flow.execute_sync(plan)
    checkpoint = flow.executor.state_manager  # the default in-memory one
    resumed = flow.resume_sync(plan.id)

    assert first.status is FlowStatus.FAILED
    assert resumed.status is FlowStatus.COMPLETED
    assert recorder.calls == {"a": 1, "b": 2, "c": 1}
    assert resumed.steps["a"].result == "a#1"
    assert checkpoint is flow.executor.state_manager


def test_replan_keeps_completed_steps_and_bumps_the_version(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["b"] = 1
    flow = new_flow(system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"], max_retries=0))
    flow.execute_sync(plan)

    import asyncio

    new_plan = asyncio.run(flow.replan({"note": "try again"}, plan.id))
    state = flow.execute_sync(new_plan)

    assert new_plan.version == 2
    assert new_plan.get_step("a").status is StepStatus.COMPLETED  # type: ignore[union-attr]
    assert state.metadata["plan_version"] == 2
    assert state.status is FlowStatus.COMPLETED
    assert recorder.calls == {"a": 1, "b": 2}
    assert state.variables["note"] == "try again"


def test_the_planner_builds_a_runnable_plan_from_registered_tools(system: ActorSystem) -> None:
    flow = new_flow(system)

    def fetch_prices(task: str, market: str) -> list[int]:
        """Fetch market prices."""
        return [1, 2]

    def fetch_news(task: str) -> str:
        """Fetch news headlines."""
        return "news"

    def write_report(task: str, previous: dict[str, Any]) -> str:
        """Write a summary report."""
        return f"report from {sorted(previous)}"

    for fn in (fetch_prices, fetch_news, write_report):
        flow.register_tool(fn.__name__, fn)

    plan = flow.plan_sync("fetch prices and fetch news, then write a report", {"market": "EU"})
    state = flow.execute_sync(plan)

    assert [(s.id, s.parameters["tool_name"], s.dependencies) for s in plan.steps] == [
        ("s1_1", "fetch_prices", []),
        ("s1_2", "fetch_news", []),
        ("s2_1", "write_report", ["s1_1", "s1_2"]),
    ]
    assert state.variables["final_result"] == "report from ['s1_1', 's1_2']"
    with pytest.raises(
        PlanningError, match=r"No registered tool or agent matches the task 'dance'"
    ):
        flow.plan_sync("dance")


# -- properties ----------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> list[tuple[str, list[str]]]:
    n = draw(st.integers(1, 8))
    nodes = []
    for i in range(n):
        deps = draw(st.lists(st.sampled_from(range(i)), unique=True)) if i else []
        nodes.append((f"n{i}", [f"n{d}" for d in deps]))
    return draw(st.permutations(nodes))


@settings(max_examples=25, deadline=None)
@given(dags())
def test_random_dags_run_each_step_once_after_all_its_dependencies(
    nodes: list[tuple[str, list[str]]],
) -> None:
    recorder = Recorder()
    with ActorSystem() as system:
        flow = new_flow(system, recorder)
        state = flow.execute_sync(plan_of(*(step(name, deps=deps) for name, deps in nodes)))

    assert state.status is FlowStatus.COMPLETED
    assert recorder.calls == {name: 1 for name, _ in nodes}
    log = recorder.log.snapshot()
    for name, deps in nodes:
        start = log.index(("start", name, 1))
        assert all(log.index(("end", dep, 1)) < start for dep in deps)


@settings(max_examples=25, deadline=None)
@given(dags(), st.data())
def test_random_plans_with_a_cycle_are_rejected_before_running(
    nodes: list[tuple[str, list[str]]], data: st.DataObject
) -> None:
    if len(nodes) < 2:
        return
    names = [n for n, _ in nodes]
    a, b = data.draw(st.permutations(names))[:2]
    edges = {n: list(d) for n, d in nodes}
    edges[a] = [*edges[a], b]
    edges[b] = [*edges[b], a]
    recorder = Recorder()
    with ActorSystem() as system:
        flow = new_flow(system, recorder)
        with pytest.raises(PlanCycleError):
            flow.execute_sync(plan_of(*(step(n, deps=edges[n]) for n in names)))

    assert recorder.calls == {}


def test_built_in_tools_make_a_planned_flow_runnable_without_registering_any(
    system: ActorSystem,
) -> None:
    flow = new_flow(system)

    plan = flow.plan_sync("Analyze sales figures, then write report", {"sales": [3, 5, 10]})
    state = flow.execute_sync(plan)

    assert [s.parameters["tool_name"] for s in plan.steps] == ["analyze_data", "write_report"]
    assert state.steps["s1_1"].result["fields"]["sales"] == {
        "type": "list", "size": 3, "count": 3, "min": 3.0, "max": 10.0, "mean": 6.0,
    }  # fmt: skip
    report = state.variables["final_result"]
    assert report.startswith("# Write report\n")
    assert "### s1_1" in report


def test_your_tool_replaces_a_built_in_one_of_the_same_name(system: ActorSystem) -> None:
    flow = new_flow(system)
    flow.register_tool("write_report", lambda task: f"mine: {task}")

    state = flow.execute_sync(flow.plan_sync("write report"))

    assert state.variables["final_result"] == "mine: write report"


def test_unregistered_tools_go_to_the_mcp_client_when_the_flow_has_one(system: ActorSystem) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class FakeMcpClient:
        async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            calls.append((name, arguments))
            return {"content": f"{name} ran"}

    flow = EnhancedFlow(FakeMcpClient(), system=system)
    plan = plan_of(step("a", tool="remote_search"))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert calls == [("remote_search", {"label": "a"})]
    assert state.steps["a"].result == {"content": "remote_search ran"}
