"""The live view of flows: lines per notable stream event, the per-flow summary, the
``--messages`` payloads, and (through a real pseudo-terminal) ``actorflow run`` itself."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import JsonValue
from rich.console import Console
from rich.text import Text

from actorflow.cli.live import LiveView, payload_text
from actorflow.cli.liveflows import FlowBoard
from actorflow.streams import StreamCallbackData, StreamCallbackType

from .conftest import Terminal

FLOW = "flow_1"
T = StreamCallbackType


def event(
    name: str,
    kind: StreamCallbackType = T.WORKFLOW,
    *,
    step_id: str | None = None,
    content: JsonValue = None,
    flow_id: str = FLOW,
    **metadata: JsonValue,
) -> StreamCallbackData:
    """A stream event as a flow emits it (``metadata["event"]`` names it)."""
    return StreamCallbackData(
        type=kind,
        content=content,
        metadata={**metadata, "event": name},
        flow_id=flow_id,
        step_id=step_id,
        timestamp=1000.0,
    )


def started(steps: int = 4, name: str = "prices", flow_id: str = FLOW) -> StreamCallbackData:
    return event("flow_started", content=f"flow {name!r} started: {steps} steps",
                 flow_id=flow_id, steps=steps, plan_name=name, plan_version=1)  # fmt: skip


def retry(sid: str, attempt: int, error: str, delay: float) -> StreamCallbackData:
    return event("retry_scheduled", step_id=sid, attempt=attempt, next_attempt=attempt + 1,
                 delay=delay, error=error, step_name=sid, step_type="mcp_tool")  # fmt: skip


def step_started(sid: str, attempt: int = 1) -> StreamCallbackData:
    return event("step_started", step_id=sid, content=f"step {sid!r} started (attempt {attempt})",
                 attempt=attempt, step_name=sid, step_type="mcp_tool")  # fmt: skip


def step_completed(sid: str, attempt: int = 1) -> StreamCallbackData:
    return event("step_completed", T.TOOL_RESULT, step_id=sid, content="ok", attempt=attempt,
                 duration=0.25, step_name=sid, step_type="mcp_tool")  # fmt: skip


def step_failed(
    sid: str, error: str, *, attempts: int = 1, critical: bool = False
) -> StreamCallbackData:
    return event("step_failed", T.ERROR, step_id=sid, content=error, error=error,
                 attempts=attempts, critical=critical, degraded=not critical,
                 step_name=sid, step_type="mcp_tool")  # fmt: skip


def skipped(sid: str, reason: str) -> StreamCallbackData:
    return event("step_skipped", step_id=sid, content=f"step {sid!r} skipped: {reason}",
                 reason=reason, step_name=sid, step_type="condition")  # fmt: skip


def step_state(status: str, attempts: int = 1, error: str | None = None) -> JsonValue:
    return {"status": status, "attempts": attempts, "result": None, "error": error,
            "started_at": None, "completed_at": None}  # fmt: skip


def ended(
    status: str, steps: dict[str, JsonValue], error: str | None = None, seconds: float = 0.5
) -> StreamCallbackData:
    """The flow's last event, with its final state."""
    state: JsonValue = {"flow_id": FLOW, "status": status, "steps": steps, "variables": {},
                        "execution_time": seconds, "metadata": {}, "error": error,
                        "started_at": None, "completed_at": None}  # fmt: skip
    kind = T.FINISH if status == "completed" else T.ERROR
    content = f"flow 'prices' completed in {seconds:.3f} s" if error is None else error
    detail: dict[str, JsonValue] = {"error": error} if error else {}
    return event(f"flow_{status}", kind, content=content, status=status, state=state,
                 execution_time=seconds, **detail)  # fmt: skip


def plain(line: str) -> str:
    return Text.from_markup(line).plain


def lines(board: FlowBoard, *events: StreamCallbackData) -> list[str]:
    """The plain text of the lines the board shows for ``events`` (blank ones left out)."""
    return [plain(text) for text in map(board.apply, events) if text]


def rendered(board: FlowBoard, width: int = 200) -> list[str]:
    """The board's summary as a console ``width`` wide shows it: its lines, with table
    borders gone and whitespace runs made one space."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(board.summary(width))
    text = out.getvalue().replace("│", " ").replace("┃", " ")
    return [" ".join(line.split()) for line in text.splitlines()]


def test_a_scheduled_retry_is_one_line_with_the_attempt_the_error_and_the_delay() -> None:
    board = FlowBoard()

    error = "builtins.ConnectionError: service unreachable"

    shown = lines(board, started(), step_started("enrich"), retry("enrich", 1, error, 0.05))

    assert shown[-1] == (
        "retry      'prices': step enrich attempt 1 failed: ConnectionError: service "
        "unreachable; retrying in 0.05 s"
    )


def test_the_start_of_a_flow_names_it_counts_its_steps_and_gives_its_id() -> None:
    shown = lines(FlowBoard(), started(steps=5))

    assert shown == ["flow       'prices' started: 5 steps  (flow_1)"]


def test_a_retried_timeout_is_labelled_as_a_timeout() -> None:
    error = "TimeoutError: attempt 1 timed out after 0.2 s"

    shown = lines(FlowBoard(), started(), retry("slow", 1, error, 0.1))

    assert shown[-1].startswith("timeout    'prices': step slow attempt 1 failed: TimeoutError")


def test_a_non_critical_step_that_failed_is_shown_as_degraded() -> None:
    error = "builtins.ConnectionError: enrichment service unreachable"

    shown = lines(FlowBoard(), started(), step_failed("flaky", error, attempts=2))

    assert shown[-1] == (
        "degraded   'prices': step flaky failed after 2 attempts: ConnectionError: enrichment "
        "service unreachable; not critical, the flow goes on"
    )


def test_a_non_critical_step_that_timed_out_is_shown_as_timed_out_and_degraded() -> None:
    error = "TimeoutError: attempt 1 timed out after 0.2 s"

    shown = lines(FlowBoard(), started(), step_failed("slow", error))

    assert shown[-1] == (
        "timed out  'prices': step slow failed after 1 attempt: TimeoutError: attempt 1 timed "
        "out after 0.2 s; not critical, the flow goes on"
    )


def test_a_skipped_step_says_why() -> None:
    shown = lines(FlowBoard(), started(), skipped("report", "condition 'check' was false"))

    assert shown[-1] == "skipped    'prices': step report skipped: condition 'check' was false"


def test_a_critical_step_failure_and_the_flow_failure_are_each_a_line() -> None:
    error = "builtins.ValueError: bad input"
    flow_error = "critical step 'boom' failed: builtins.ValueError: bad input"
    steps = {"boom": step_state("failed", 1, error), "after": step_state("cancelled", 0)}

    shown = lines(FlowBoard(), started(steps=2), step_started("boom"),
                  step_failed("boom", error, critical=True),
                  ended("failed", steps, flow_error, seconds=0.054))  # fmt: skip

    assert shown[-2:] == [
        "step failed 'prices': step boom failed after 1 attempt: ValueError: bad input (critical)",
        "flow failed 'prices' failed after 0.054 s: critical step 'boom' failed: ValueError: "
        "bad input",
    ]


def test_a_completed_flow_line_counts_its_outcomes() -> None:
    steps = {"a": step_state("completed", 3), "b": step_state("failed_non_critical", 2),
             "c": step_state("skipped", 0)}  # fmt: skip

    shown = lines(FlowBoard(), started(steps=3), ended("completed", steps, seconds=1.25))

    assert shown[-1] == (
        "flow done  'prices' completed in 1.250 s: 1 of 3 steps completed, 1 failed "
        "(1 degraded), 1 skipped, 3 retries"
    )


def test_step_starts_and_completions_are_lines_only_when_asked_for() -> None:
    quiet, chatty = FlowBoard(), FlowBoard(show_steps=True)
    events = (started(), step_started("a"), step_completed("a"))

    assert lines(quiet, *events) == ["flow       'prices' started: 4 steps  (flow_1)"]
    assert lines(chatty, *events)[1:] == [
        "step       'prices': step a started (attempt 1)",
        "step       'prices': step a completed in 0.250 s (attempt 1)",
    ]


def test_a_step_is_named_by_its_id_and_its_name_when_that_says_more() -> None:
    named = step_failed("s1", "E: x").model_copy(
        update={"metadata": {"step_name": "Fetch prices", "attempts": 1, "event": "step_failed"}}
    )

    shown = lines(FlowBoard(), started(), named)

    assert (
        shown[-1]
        == "step failed 'prices': step s1 (Fetch prices) failed after 1 attempt: E: x (critical)"
    )


def test_a_plan_made_is_a_line_with_its_size() -> None:
    made = event("plan_created", content="plan 'p' created: 2 steps", plan_name="p",
                 plan_version=1, steps=2)  # fmt: skip

    assert lines(FlowBoard(), made) == ["plan       'p' created: 2 steps  (flow_1)"]


def test_flows_of_one_name_are_told_apart() -> None:
    board = FlowBoard()

    shown = lines(board, started(flow_id="f1"), started(flow_id="f2"))

    assert shown == [
        "flow       'prices' started: 4 steps  (f1)",
        "flow       'prices' #2 started: 4 steps  (f2)",
    ]


def test_the_progress_of_a_flow_follows_its_steps() -> None:
    board = FlowBoard()
    lines(board, started(steps=3), step_started("a"), step_started("b"),
          retry("b", 1, "E: x", 0.5), step_completed("a"))  # fmt: skip

    (record,) = board.flows.values()

    assert (record.done, record.total) == (1, 3)
    assert record.running_text() == "retrying b (attempt 2)"


def test_the_summary_has_a_row_per_flow_with_its_step_counts_attempts_and_error() -> None:
    board = FlowBoard()
    done = {"fetch": step_state("completed", 3), "slow": step_state("timed_out", 1, "T"),
            "flaky": step_state("failed_non_critical", 2, "C"),
            "summary": step_state("completed", 1)}  # fmt: skip
    failed = {"enrich": step_state("completed", 2), "check": step_state("completed", 1),
              "report": step_state("skipped", 0), "boom": step_state("failed", 1, "V"),
              "late": step_state("cancelled", 0)}  # fmt: skip
    lines(board, started(steps=4), step_failed("slow", "TimeoutError: t"),
          step_failed("flaky", "C", attempts=2),
          ended("completed", done, seconds=0.509))  # fmt: skip
    lines(board, started(steps=5, name="failing", flow_id="flow_2"))
    board.apply(ended("failed", failed, "critical step 'boom' failed: builtins.ValueError: V",
                      seconds=0.054).model_copy(update={"flow_id": "flow_2"}))  # fmt: skip

    shown = rendered(board)

    rows = shown[shown.index("flow status steps attempts time error") + 2 :]
    assert rows[:7] == [
        "'prices' completed 2/4 completed 7 0.509 s",
        "flow_1 2 failed 3 retries",
        "2 degraded",
        "'failing' failed 2/5 completed 4 0.054 s critical step 'boom' failed: ValueError: V",
        "flow_2 1 failed 1 retry",
        "1 skipped",
        "1 cancelled",
    ]


def test_on_a_narrow_console_the_errors_follow_the_summary_table() -> None:
    board = FlowBoard()
    board.apply(started())
    board.apply(ended("failed", {}, "critical step 'boom' failed: builtins.ValueError: V"))

    shown = rendered(board, width=80)

    assert "flow status steps attempts time" in shown
    assert shown[-1] == "error of 'prices': critical step 'boom' failed: ValueError: V"
    assert max(map(len, shown)) <= 80


def test_a_failed_or_cancelled_flow_is_a_problem_and_a_completed_one_is_not() -> None:
    board = FlowBoard()
    board.apply(started(flow_id=FLOW))
    board.apply(ended("completed", {}))
    for flow_id, status in (("f2", "failed"), ("f3", "cancelled")):
        board.apply(started(flow_id=flow_id, name=status))
        last = ended(status, {}, f"{status} because")
        board.apply(last.model_copy(update={"flow_id": flow_id}))

    assert board.problems() == [
        "flow 'failed' (f2) failed: failed because",
        "flow 'cancelled' (f3) cancelled: cancelled because",
    ]


def test_a_flow_without_its_last_event_at_the_end_is_unfinished_and_a_problem() -> None:
    board = FlowBoard()
    board.apply(started())

    board.close()

    assert board.problems() == ["flow 'prices' (flow_1) did not finish"]
    assert "'prices' unfinished 0/4 completed 0 0.000 s" in rendered(board)


def test_a_planned_flow_that_never_ran_is_no_problem() -> None:
    board = FlowBoard()
    board.apply(event("plan_created", content="plan 'p' created: 2 steps", plan_name="p",
                      plan_version=1, steps=2))  # fmt: skip

    board.close()

    assert board.problems() == []
    assert "'p' planned 0/2 completed 0" in rendered(board)  # no time: it never ran


def test_the_final_state_corrects_counts_of_events_that_were_missed() -> None:
    board = FlowBoard()
    board.apply(started(steps=3))
    steps = {"a": step_state("completed", 2), "b": step_state("skipped", 0),
             "c": step_state("completed", 1)}  # fmt: skip

    board.apply(ended("completed", steps))

    (record,) = board.flows.values()
    assert (record.done, record.total, record.attempts, record.retries) == (3, 3, 3, 1)
    assert record.skipped == {"b"}


def test_events_of_other_sources_show_only_with_steps() -> None:
    thinking = StreamCallbackData(type=T.THINKING, content="hmm", flow_id=FLOW)

    assert lines(FlowBoard(), thinking) == []
    assert lines(FlowBoard(show_steps=True), thinking) == ["thinking   'flow_1': hmm"]


def test_the_live_view_prints_stream_events_it_was_given_from_another_thread() -> None:
    out = io.StringIO()
    view = LiveView(Console(file=out, width=200, color_system=None))
    view.on_stream(started())
    view.on_stream(retry("enrich", 1, "builtins.ConnectionError: down", 0.05))

    view.drain(timeout=1.0)

    text = out.getvalue()
    assert "flow       'prices' started: 4 steps" in text
    assert "step enrich attempt 1 failed: ConnectionError: down; retrying in 0.05 s" in text


def test_a_payload_that_fits_is_shown_whole() -> None:
    assert payload_text({"a": 1, "b": "x"}, limit=70) == "{'a': 1, 'b': 'x'}"


def test_a_cut_payload_ends_with_an_ellipsis() -> None:
    text = payload_text({"text": "y" * 200}, limit=40)

    assert len(text) == 40
    assert text.endswith("…")


def test_ok_error_and_status_come_first_and_are_never_cut() -> None:
    error = "builtins.ConnectionError: enrichment service unreachable"
    payload = {"data": "z" * 100, "ok": False, "error": error, "status": "failed"}

    text = payload_text(payload, limit=70)

    assert text.startswith(f"{{'ok': False, 'error': {error!r}, 'status': 'failed'")
    assert text.endswith("…")
    assert "zzz" not in text


# -- through a real terminal -------------------------------------------------------------

SCENARIO = '''"""A flow whose first step fails once, then {outcome}."""

from __future__ import annotations

import asyncio

from actorflow import FlowPlan, create_default_config, create_enhanced_flow, create_flow_step

calls = []


def enrich(task: str) -> str:
    calls.append(task)
    if len(calls) == 1:
        raise ConnectionError("enrichment service unreachable")
    return "enriched"


def report(task: str) -> str:
    if {fail}:
        raise ValueError("bad input")
    return "reported"


async def run(system):
    flow = create_enhanced_flow(system=system)
    flow.register_tool("enrich", enrich)
    flow.register_tool("report", report)
    config = create_default_config()
    config.jitter = 0.0
    await flow.initialize(config)
    steps = [
        create_flow_step("Enrich", "mcp_tool", {{"tool_name": "enrich", "arguments":
            {{"task": "x"}}, "retry_delay": 0.05, "max_retries": 2}}, id="enrich"),
        create_flow_step("Report", "mcp_tool", {{"tool_name": "report", "arguments":
            {{"task": "y"}}, "max_retries": 0}}, ["enrich"], id="report"),
    ]
    state = await flow.execute(FlowPlan(name="pty flow", steps=steps))
    return {{"flow status": state.status.value}}


def main(system):
    return asyncio.run(run(system))
'''


@pytest.mark.parametrize(("fail", "code", "status"), [(False, 0, "completed"), (True, 1, "failed")])
def test_run_in_a_terminal_shows_the_retry_line_the_flow_summary_and_exits_by_the_flow(
    run_in_terminal: Callable[..., Terminal], tmp_path: Path, fail: bool, code: int, status: str
) -> None:
    scenario = tmp_path / "pty_flow.py"
    scenario.write_text(SCENARIO.format(fail=fail, outcome="the report " + status))

    done = run_in_terminal("run", str(scenario), "--store", "memory",
                           "--runs-dir", str(tmp_path / "runs"))  # fmt: skip

    assert done.exit_code == code, done.text
    assert (
        "retry      'pty flow': step enrich attempt 1 failed: ConnectionError: enrichment "
        "service unreachable; retrying in 0.05 s"
    ) in done.text
    assert f"'pty flow' {status} " in done.flat
    assert "flow status steps attempts time error" in done.flat


def test_run_in_a_terminal_names_the_failed_flow_in_the_run_status(
    run_in_terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    scenario = tmp_path / "pty_flow.py"
    scenario.write_text(SCENARIO.format(fail=True, outcome="the report fails"))

    done = run_in_terminal("run", str(scenario), "--store", "memory",
                           "--runs-dir", str(tmp_path / "runs"))  # fmt: skip

    assert done.exit_code == 1, done.text
    assert "step failed 'pty flow': step report failed after 1 attempt: ValueError" in done.text
    assert "status failed: flow 'pty flow'" in done.flat
    assert "result: flow status failed" in done.flat  # main returned normally
