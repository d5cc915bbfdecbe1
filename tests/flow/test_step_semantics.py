"""Honest step semantics: which failures are retried, pre-flight checks, results, human waits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    ConditionEvaluationError,
    ConfigurationError,
    EnhancedFlowExecutor,
    FakeClock,
    FlowDefinitionError,
    FlowStatus,
    FlowStep,
    InvalidStepParametersError,
    NonRetryableStepError,
    RetryableStepError,
    ScriptedHumanCallback,
    StepStatus,
    create_flow_step,
)
from actorflow.flow import HumanCallbackData, HumanCallbackResponse
from tests.flow.support import Recorder, new_flow, plan_of, step


class _Count:
    def __init__(self, error: BaseException | None = None, fail: int = 99) -> None:
        self.calls = 0
        self.error = error
        self.fail = fail

    def __call__(self, label: str) -> str:
        self.calls += 1
        if self.error is not None and self.calls <= self.fail:
            raise self.error
        return f"{label}#{self.calls}"


class _HttpStatusError(ConnectionError):
    """An HTTP client's error carrying the response's status, as httpx's does (a
    ConnectionError, so only its status decides)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"server answered {status}")
        self.response = type("Response", (), {"status_code": status})()


@pytest.mark.parametrize(
    ("error", "calls"),
    [
        (ConnectionRefusedError("refused"), 3),  # a subclass of the retry_on name
        (ValueError("bad"), 1),  # not named in retry_on
        (NonRetryableStepError("no use"), 1),
        (RetryableStepError("try again"), 3),  # the marker beats retry_on
        (_HttpStatusError(404), 1),
        (_HttpStatusError(429), 3),
        (_HttpStatusError(503), 3),
    ],
)
def test_retry_decisions_follow_the_error_class_hierarchy_and_markers(
    system: ActorSystem, error: BaseException, calls: int
) -> None:
    tool = _Count(error)
    flow = new_flow(system)
    flow.register_tool("t", tool)

    state = flow.execute_sync(plan_of(step("a", "t", max_retries=2, retry_on=["ConnectionError"])))

    assert state.status is FlowStatus.FAILED
    assert tool.calls == calls


def test_an_error_marked_retryable_false_is_never_retried(system: ActorSystem) -> None:
    error = RuntimeError("quota exhausted for today")
    error.retryable = False  # type: ignore[attr-defined]
    tool = _Count(error)
    flow = new_flow(system)
    flow.register_tool("t", tool)

    state = flow.execute_sync(plan_of(step("a", "t", max_retries=3)))

    assert state.status is FlowStatus.FAILED
    assert tool.calls == 1


def test_a_condition_that_cannot_be_evaluated_is_not_retried(system: ActorSystem) -> None:
    flow = new_flow(system)
    check = create_flow_step(
        "check", "condition", {"condition": "context['missing'] > 1"}, id="check", max_retries=3
    )

    state = flow.execute_sync(plan_of(check))

    assert state.status is FlowStatus.FAILED
    assert state.steps["check"].attempts == 1
    assert ConditionEvaluationError.__name__ in (state.steps["check"].error or "")


def test_a_reference_that_cannot_be_evaluated_is_not_retried(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)

    state = flow.execute_sync(plan_of(step("a", arguments={"label": "${nope}"}, max_retries=3)))

    assert state.status is FlowStatus.FAILED
    assert state.steps["a"].attempts == 1
    assert recorder.calls == {}


def test_arguments_that_do_not_bind_to_the_tool_are_refused_before_anything_runs(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("ok"), step("a", deps=["ok"], arguments={"lable": "x"}))

    with pytest.raises(
        InvalidStepParametersError,
        match=r"^Step 'a': its arguments \['lable'\] do not fit tool 'record': missing a "
        r"required argument: 'label' \(tool 'record' takes \(label: 'str'\) -> 'str'\)\. "
        r"Fix the step's 'arguments'\.$",
    ):
        flow.execute_sync(plan)

    assert recorder.calls == {}


def test_arguments_from_a_reference_that_do_not_bind_fail_the_step_without_retries(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", arguments="${ {'lable': 'x'} }", max_retries=3))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.FAILED
    assert state.steps["a"].attempts == 1
    assert "InvalidStepParametersError" in (state.steps["a"].error or "")
    assert recorder.calls == {}


def test_a_type_error_raised_inside_a_tool_is_the_tools_own_and_is_retried(
    system: ActorSystem,
) -> None:
    tool = _Count(TypeError("unsupported operand"), fail=1)
    flow = new_flow(system)
    flow.register_tool("t", tool)

    state = flow.execute_sync(plan_of(step("a", "t", max_retries=2)))

    assert state.status is FlowStatus.COMPLETED
    assert tool.calls == 2


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", float("inf")])
def test_a_result_that_is_not_json_fails_without_retries(system: ActorSystem, value: Any) -> None:
    calls = []

    def tool(label: str) -> Any:
        calls.append(label)
        return value

    flow = new_flow(system)
    flow.register_tool("t", tool)

    state = flow.execute_sync(plan_of(step("a", "t", max_retries=3)))

    assert state.status is FlowStatus.FAILED
    assert "StepResultError" in (state.steps["a"].error or "")
    assert calls == ["a"]


def test_a_step_that_completes_after_failed_attempts_has_no_error(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["a"] = 2
    flow = new_flow(system, recorder)

    state = flow.execute_sync(plan_of(step("a", max_retries=3)))

    assert state.steps["a"].status is StepStatus.COMPLETED
    assert state.steps["a"].attempts == 3
    assert state.steps["a"].error is None


def test_final_result_is_the_last_completed_step_in_order_and_none_for_a_failed_flow(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    completed = flow.execute_sync(plan_of(step("a"), step("b", deps=["a"])))
    recorder.fail_times["y"] = 99
    failed = flow.execute_sync(plan_of(step("x"), step("y", deps=["x"], max_retries=0)))

    assert completed.variables["final_result"] == "b#1"
    assert "final_result" not in failed.variables
    assert failed.variables["x"] == "x#1"


def test_an_output_key_named_final_result_is_the_final_result(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)

    state = flow.execute_sync(plan_of(step("a", output_key="final_result"), step("b")))

    assert state.variables["final_result"] == "a#1"


def test_the_seeds_robust_executor_lets_unmarked_steps_degrade(
    system: ActorSystem, recorder: Recorder
) -> None:
    class RobustFlowExecutor(EnhancedFlowExecutor):  # the seed's example, verbatim
        async def execute_step(self, step: FlowStep, context: dict[str, Any]) -> Any:
            try:
                return await super().execute_step(step, context)
            except Exception as e:
                # Log error but continue if step is not critical
                if not step.parameters.get("critical", False):
                    self.logger.warning(f"Non-critical step failed: {step.name}")
                    return {"error": str(e), "status": "failed_non_critical"}
                raise

    recorder.fail_times["a"] = recorder.fail_times["c"] = 99
    flow = new_flow(system, recorder)
    flow.executor = RobustFlowExecutor()
    recorder.install(flow)
    plan = plan_of(
        step("a"), step("b", deps=["a"]), step("c", deps=["b"], critical=True, max_retries=0)
    )

    state = flow.execute_sync(plan)

    assert state.steps["a"].status is StepStatus.FAILED_NON_CRITICAL
    assert state.steps["a"].error == "a failed on call 1"
    assert state.steps["b"].status is StepStatus.COMPLETED
    assert state.steps["c"].status is StepStatus.FAILED  # marked critical: it fails the flow
    assert state.status is FlowStatus.FAILED


class _NeverAnswers:
    """A human who never answers (each request waits until cancelled)."""

    def __init__(self) -> None:
        self.asked = threading.Event()

    async def _wait(self, data: HumanCallbackData) -> HumanCallbackResponse:
        import asyncio

        self.asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    on_human_confirm = on_human_input = on_human_select = on_human_help = _wait


def test_a_human_step_times_out_on_the_flows_clock(clock: FakeClock) -> None:
    human = _NeverAnswers()
    with ActorSystem(clock=clock) as system:
        flow = new_flow(system, human_timeout=600.0, auto_save_interval=10_000)
        flow.set_human_callback(human)
        ask = create_flow_step(
            "ask", "human_input", {"message": "Go?", "input_type": "confirm"}, id="ask",
            max_retries=0,
        )  # fmt: skip
        box: list[Any] = []
        runner = threading.Thread(target=lambda: box.append(flow.execute_sync(plan_of(ask))))
        runner.start()
        assert human.asked.wait(10)
        assert clock.wait_for_timers(2, timeout=10)  # auto-save + the human step's timeout

        clock.advance(599.0)
        assert runner.is_alive()
        clock.advance(1.0)
        runner.join(10)

    (state,) = box
    assert state.status is FlowStatus.FAILED
    assert state.steps["ask"].status is StepStatus.TIMED_OUT
    assert state.steps["ask"].error == "TimeoutError: attempt 1 timed out after 600 s"


def test_a_scripted_human_answers_at_once(system: ActorSystem) -> None:
    flow = new_flow(system)
    flow.set_human_callback(ScriptedHumanCallback(confirm=True))
    ask = create_flow_step(
        "ask", "human_input", {"message": "Go?", "input_type": "confirm"}, id="ask"
    )

    state = flow.execute_sync(plan_of(ask))

    assert state.variables["user_confirmed"] is True


class _Status(BaseHTTPRequestHandler):
    status = 404
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(self.status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"no")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Status]]]:
    handler = type("Handler", (_Status,), {"hits": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("status", "hits"), [(404, 1), (400, 1), (408, 3), (429, 3), (503, 3)])
def test_http_4xx_answers_other_than_408_and_429_are_not_retried(
    system: ActorSystem, server: tuple[str, type[_Status]], status: int, hits: int
) -> None:
    url, handler = server
    handler.status = status
    flow = new_flow(system)
    get = create_flow_step("get", "network_request", {"url": url}, id="get", max_retries=2)

    state = flow.execute_sync(plan_of(get))

    assert state.status is FlowStatus.FAILED
    assert handler.hits == hits
    assert f"answered {status}" in (state.steps["get"].error or "")


def test_integers_beyond_64_bits_are_refused_before_anything_runs(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", arguments={"label": "n=${huge}"}))
    plan.variables["huge"] = 10**5000

    with pytest.raises(FlowDefinitionError, match=r"at \['huge'\]: an integer beyond 64 bits"):
        flow.execute_sync(plan)

    assert recorder.calls == {}


def test_plan_parameters_nested_a_thousand_deep_are_a_definition_error(
    system: ActorSystem, recorder: Recorder
) -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(1000):
        inner["x"] = {}
        inner = inner["x"]
    flow = new_flow(system, recorder)
    plan = plan_of(step("a", arguments={"label": "x", "deep": deep}))

    with pytest.raises(FlowDefinitionError, match=r"^The parameters of step 'a' .* nests deeper"):
        flow.execute_sync(plan)

    assert recorder.calls == {}


def test_a_sync_tool_registered_inline_runs_on_the_event_loop(system: ActorSystem) -> None:
    threads: list[str] = []

    def fast(label: str) -> str:
        threads.append(threading.current_thread().name)
        return label.upper()

    flow = new_flow(system)
    flow.register_tool("fast", fast, inline=True)

    def pooled(label: str) -> str:
        threads.append(threading.current_thread().name)
        return label

    flow.register_tool("pooled", pooled)

    state = flow.execute_sync(plan_of(step("a", "fast"), step("b", "pooled", deps=["a"])))

    assert state.steps["a"].result == "A"
    assert threads[0] == "actorflow-effects"  # the event loop's thread
    assert threads[1].startswith("actorflow-effects-pool")


def test_inline_is_refused_for_an_async_tool(system: ActorSystem) -> None:
    async def slow(label: str) -> str:
        return label

    with pytest.raises(ConfigurationError, match=r"^Tool 'slow' is async"):
        new_flow(system).register_tool("slow", slow, inline=True)
