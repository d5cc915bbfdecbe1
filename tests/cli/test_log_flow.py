"""``actorflow log flow RUN [FLOW_ID]``: a flow's steps from a run's journal, as a table,
a Mermaid flowchart coloured by outcome, or JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import JsonValue
from typer.testing import CliRunner

from actorflow import (
    ActorPath,
    ActorSystem,
    FlowStatus,
    FlowStep,
    JournalConfig,
    MessageId,
    StreamCallbackData,
    StreamCallbackType,
    create_flow_step,
)
from actorflow.cli import app
from actorflow.cli.flowlog import flowchart
from actorflow.cli.flowreport import FlowReport, Outcome, StepReport, read_flows
from actorflow.ids import SequentialIds
from actorflow.journal import JournalEntry, open_journal
from actorflow.messages import Envelope
from actorflow.streams.messages import StreamEvents
from tests.flow.support import CancellableTool, Recorder, new_flow, plan_of, step

WIDE = {"COLUMNS": "200"}


def mixed_plan() -> list[FlowStep]:
    """A retried step, a false condition that skips one, a degraded one, a completed one."""
    return [
        step("flaky"),
        create_flow_step("check", "condition", {"condition": "1 > 2"}, ["flaky"], id="check"),
        step("skipped", deps=["check"]),
        step("broken", deps=["flaky"], critical=False, max_retries=0),
        step("last", deps=["broken"]),
    ]


def _run_mixed(folder: Path, *, streams: bool) -> Path:
    """Run the mixed plan as flow ``flow-mixed`` with a journal in ``folder``."""
    folder.mkdir(parents=True)
    journal = folder / "journal"
    recorder = Recorder()
    recorder.fail_times.update(flaky=1, broken=5)
    with ActorSystem(ids=SequentialIds(), journal=JournalConfig(path=journal)) as system:
        flow = new_flow(system, recorder, enable_stream_callbacks=streams)
        plan = plan_of(*mixed_plan(), id="flow-mixed")
        state = flow.execute_sync(plan)
        assert state.status is FlowStatus.COMPLETED
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder: ``streamed`` and ``quiet`` (streams off) ran the mixed plan,
    ``failed`` ran a flow whose critical step failed while another step ran, ``many``
    ran four one-step flows."""
    runs = tmp_path_factory.mktemp("runs")
    _run_mixed(runs / "streamed", streams=True)
    _run_mixed(runs / "quiet", streams=False)
    _run_failed(runs / "failed")
    _run_many(runs / "many")
    return runs


def _run_failed(folder: Path) -> None:
    folder.mkdir()
    recorder = Recorder()
    recorder.fail_times["a"] = 9
    waiting = CancellableTool()
    recorder.gates["a"] = waiting.started  # "a" fails once "c" runs, so "c" is cancelled
    with ActorSystem(ids=SequentialIds(), journal=JournalConfig(path=folder / "journal")) as system:
        flow = new_flow(system, recorder)
        flow.register_tool("wait", waiting)
        plan = plan_of(
            step("a", max_retries=0),
            step("b", deps=["a"]),
            step("c", tool="wait"),
            id="flow-failed",
        )
        state = flow.execute_sync(plan)
        assert state.status is FlowStatus.FAILED


def _run_many(folder: Path) -> None:
    folder.mkdir()
    with ActorSystem(ids=SequentialIds(), journal=JournalConfig(path=folder / "journal")) as system:
        flow = new_flow(system, Recorder())
        for n in range(4):
            state = flow.execute_sync(plan_of(step(f"only{n}"), id=f"flow-{n}"))
            assert state.status is FlowStatus.COMPLETED


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["log", "flow", *args], env=WIDE)
    return result.exit_code, result.output


def _json(*args: str) -> object:
    code, output = _invoke(*args, "--format", "json")
    assert code == 0, output
    return json.loads(output)


def _steps(flow: object) -> dict[str, dict[str, object]]:
    assert isinstance(flow, dict)
    return {s["step_id"]: s for s in flow["steps"]}


def _records(path: Path) -> list[JournalEntry]:
    with open_journal(path) as reader:
        return list(reader)


# -- the table ---------------------------------------------------------------------------


def test_the_table_shows_each_step_with_its_status_attempts_duration_and_error(
    runs: Path,
) -> None:
    code, output = _invoke(str(runs / "streamed"), "flow-mixed")

    assert code == 0, output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if "│" in line}
    assert re.search(r"│ completed\s+│\s+2 │\s+\d+\.\d{3} s │ retried: attempt 1: ", rows["flaky"])
    assert "│ retried: attempt 1: ConnectionError: flaky failed on call 1 │" in rows["flaky"]
    assert re.search(r"│ skipped\s+│\s+- │\s+- │ ", rows["skipped"])
    assert re.search(
        r"│ degraded\s+│\s+1 │\s+\d+\.\d{3} s │ ConnectionError: broken failed ", rows["broken"]
    )
    assert re.search(r"│ condition\s+│ completed\s+│\s+1 │", rows["check"])
    assert re.search(r"│ completed\s+│\s+1 │", rows["last"])
    assert "flow flow-mixed" in output
    assert "'test plan' v1" in output
    assert "completed in " in output
    assert "5 steps: 3 completed, 1 degraded, 1 skipped" in output


def test_json_gives_every_step_in_plan_order_with_what_happened_to_it(runs: Path) -> None:
    flow = _json(str(runs / "streamed"), "flow-mixed")

    assert isinstance(flow, dict)
    assert flow["flow_id"] == "flow-mixed"
    assert flow["status"] == "completed"
    assert flow["source"] == "stream_events"
    assert [s["step_id"] for s in flow["steps"]] == ["flaky", "check", "skipped", "broken", "last"]
    steps = _steps(flow)
    assert {k: s["outcome"] for k, s in steps.items()} == {
        "flaky": "completed",
        "check": "completed",
        "skipped": "skipped",
        "broken": "degraded",
        "last": "completed",
    }
    assert steps["flaky"]["attempts"] == 2
    assert steps["flaky"]["retry_errors"] == ["builtins.ConnectionError: flaky failed on call 1"]
    assert steps["broken"]["status"] == "failed_non_critical"
    assert steps["broken"]["error"] == "builtins.ConnectionError: broken failed on call 1"
    assert steps["skipped"]["attempts"] == 0
    assert steps["skipped"]["duration"] is None
    assert "condition" in str(steps["skipped"]["note"])
    assert steps["skipped"]["dependencies"] == ["check"]
    assert steps["check"]["type"] == "condition"


def test_a_flow_run_with_streams_off_gets_the_same_steps_from_its_flow_messages(
    runs: Path,
) -> None:
    streamed = _json(str(runs / "streamed"), "flow-mixed")
    quiet = _json(str(runs / "quiet"), "flow-mixed")

    assert isinstance(quiet, dict)
    assert quiet["source"] == "flow_messages"
    assert quiet["status"] == "completed"
    kept = ("status", "outcome", "attempts", "error", "note", "retry_errors", "name", "type")
    assert {k: {f: s[f] for f in kept} for k, s in _steps(quiet).items()} == {
        k: {f: s[f] for f in kept} for k, s in _steps(streamed).items()
    }


def test_a_failed_flow_shows_the_failure_what_was_cancelled_and_what_never_ran(
    runs: Path,
) -> None:
    flow = _json(str(runs / "failed"))

    assert isinstance(flow, list)
    (only,) = flow
    assert only["status"] == "failed"
    assert "a failed on call 1" in only["error"]
    steps = _steps(only)
    assert (steps["a"]["outcome"], steps["a"]["status"]) == ("failed", "failed")
    assert (steps["b"]["outcome"], steps["b"]["attempts"]) == ("not_run", 0)
    assert (steps["c"]["outcome"], steps["c"]["status"]) == ("cancelled", "cancelled")
    code, output = _invoke(str(runs / "failed"))
    assert code == 0, output
    assert "never ran" in output
    assert "error: " in output


def test_a_journal_that_ends_mid_flow_shows_the_flow_unfinished(runs: Path) -> None:
    records = _records(runs / "streamed" / "journal")
    retry = next(
        i for i, r in enumerate(records) if "retry_scheduled" in json.dumps(_message_json(r))
    )

    (flow,) = read_flows(records[: retry + 1])

    assert flow.status == "running"
    steps = {s.step_id: s for s in flow.steps}
    assert (steps["flaky"].status, steps["flaky"].outcome) == ("retrying", Outcome.RUNNING)
    assert steps["last"].outcome is Outcome.NOT_RUN


def test_a_timed_out_step_is_told_apart_before_the_flow_ends() -> None:
    def event(name: str, **meta: JsonValue) -> StreamCallbackData:
        step_id = None if name == "flow_started" else "slow"
        return StreamCallbackData(
            type=StreamCallbackType.WORKFLOW, metadata={"event": name, **meta},
            flow_id="flow-t", step_id=step_id, timestamp=1.0,
        )  # fmt: skip

    items = (
        event("flow_started"),
        event("step_started", attempt=1),
        event("step_failed", error="TimeoutError: t", attempts=1, timed_out=True, degraded=True),
    )
    streams, sender = ActorPath("/system/streams"), ActorPath("/flows/flow-t")
    batch = StreamEvents(items=items)
    env = Envelope(1, MessageId("m1"), None, sender, streams, None, 1, 1.0, batch)

    (flow,) = read_flows([env])

    (slow,) = flow.steps
    assert (slow.status, slow.outcome, slow.error) == (
        "timed_out",
        Outcome.DEGRADED,
        "TimeoutError: t",
    )
    assert flow.status == "running"


def _message_json(record: JournalEntry) -> object:
    message = getattr(record, "message", None)
    return None if message is None else message.model_dump(mode="json")


# -- without a flow id -------------------------------------------------------------------


def test_without_a_flow_id_a_run_of_one_flow_shows_its_table(runs: Path) -> None:
    code, output = _invoke(str(runs / "streamed"))

    assert code == 0, output
    assert "flow flow-mixed" in output
    assert "│ flaky" in output


def test_without_a_flow_id_many_flows_are_listed_one_line_each(runs: Path) -> None:
    code, output = _invoke(str(runs / "many"))

    assert code == 0, output
    lines = [line for line in output.splitlines() if re.match(r"^│ flow-\d", line)]
    assert [line.split("│")[1].strip() for line in lines] == [f"flow-{n}" for n in range(4)]
    assert all("completed" in line and "1 completed" in line for line in lines)
    assert "actorflow log flow" in output
    assert "--all" in output
    assert "│ only0" not in output


def test_all_shows_the_table_of_every_flow(runs: Path) -> None:
    code, output = _invoke(str(runs / "many"), "--all")

    assert code == 0, output
    assert [n for n in range(4) if f"│ only{n}" in output] == [0, 1, 2, 3]


def test_json_without_a_flow_id_lists_every_flow(runs: Path) -> None:
    flows = _json(str(runs / "many"))

    assert isinstance(flows, list)
    assert [f["flow_id"] for f in flows] == [f"flow-{n}" for n in range(4)]


def test_a_flow_id_may_be_shortened_to_a_prefix_only_one_flow_has(runs: Path) -> None:
    flow = _json(str(runs / "streamed"), "flow-m")

    assert isinstance(flow, dict)
    assert flow["flow_id"] == "flow-mixed"


def test_an_unknown_flow_id_is_an_error_that_lists_the_flows_of_the_run(runs: Path) -> None:
    code, output = _invoke(str(runs / "many"), "flow-x")

    assert code == 2
    assert "flow-x" in output
    assert "flow-0, flow-1, flow-2, flow-3" in output


def test_an_ambiguous_flow_id_prefix_is_an_error(runs: Path) -> None:
    code, output = _invoke(str(runs / "many"), "flow-")

    assert code == 2
    assert "matches 4 flows" in output


def test_a_run_without_flows_says_so(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=journal)):
        pass

    code, output = _invoke(str(journal))

    assert code == 0, output
    assert "No flow ran" in output


def test_an_unknown_format_is_an_error(runs: Path) -> None:
    code, output = _invoke(str(runs / "streamed"), "--format", "svg")

    assert code == 2
    assert "table, mermaid or json" in output


def test_the_help_says_what_happens_without_a_flow_id() -> None:
    result = CliRunner().invoke(app, ["log", "flow", "--help"], env=WIDE)

    assert result.exit_code == 0
    assert "Without FLOW_ID" in result.output
    assert "mermaid" in result.output


# -- mermaid -----------------------------------------------------------------------------


def _nodes(text: str) -> dict[str, str]:
    """Step id -> node id, from the node lines of a flowchart."""
    found = re.findall(r"^\s+(\S+)[\[{(]+\"([^\"<:]+)", text, flags=re.MULTILINE)
    return {label.strip(): node for node, label in found}


def _classes(text: str) -> dict[str, set[str]]:
    found = re.findall(r"^\s+class (\S+) (\w+)$", text, flags=re.MULTILINE)
    return {name: set(nodes.split(",")) for nodes, name in found}


def test_mermaid_draws_the_plan_with_its_dependencies_coloured_by_outcome(runs: Path) -> None:
    code, text = _invoke(str(runs / "streamed"), "flow-mixed", "--format", "mermaid")

    assert code == 0, text
    assert "\nflowchart TD\n" in text
    node = _nodes(text)
    assert set(node) == {"flaky", "check", "skipped", "broken", "last"}
    edges = set(re.findall(r"^\s+(\S+) --> (\S+)$", text, flags=re.MULTILINE))
    assert edges == {
        (node["flaky"], node["check"]),
        (node["check"], node["skipped"]),
        (node["flaky"], node["broken"]),
        (node["broken"], node["last"]),
    }
    assert _classes(text) == {
        "completed": {node["flaky"], node["check"], node["last"]},
        "skipped": {node["skipped"]},
        "degraded": {node["broken"]},
    }
    for outcome in Outcome:
        assert re.search(rf"^\s+classDef {outcome.value} fill:#", text, flags=re.MULTILINE)
    assert re.search(rf"^\s+{node['check']}\{{", text, flags=re.MULTILINE)  # a rhombus


def test_mermaid_of_a_failed_flow_colours_failed_cancelled_and_never_ran(runs: Path) -> None:
    code, text = _invoke(str(runs / "failed"), "--format", "mermaid")

    assert code == 0, text
    node = _nodes(text)
    assert _classes(text) == {
        "failed": {node["a"]},
        "not_run": {node["b"]},
        "cancelled": {node["c"]},
    }


def test_mermaid_of_several_flows_draws_each_in_its_own_subgraph(runs: Path) -> None:
    code, text = _invoke(str(runs / "many"), "--format", "mermaid")

    assert code == 0, text
    assert len(re.findall(r"^\s+subgraph ", text, flags=re.MULTILINE)) == 4
    assert len(set(_classes(text)["completed"])) == 4


def test_mermaid_lets_no_quote_newline_or_markup_from_a_step_through() -> None:
    hostile = 'x"]\nclick s0 call evil()\n%%<b>'
    report = FlowReport(
        flow_id='f"1\n', name=hostile, plan_version=1, status="completed",
        steps=(StepReport(step_id=hostile, name=hostile, type="mcp_tool",
                          status="failed", outcome=Outcome.FAILED, error=hostile),),
    )  # fmt: skip

    text = flowchart([report])

    allowed = (
        r"---|title: \"[^\"]*\"|flowchart TD|%% .*",
        r"    \w+\[\"[^\"]*\"\]",
        r"    classDef \w+ [\w:#,. -]+",
        r"    class \w+ \w+",
    )
    assert all(any(re.fullmatch(a, line) for a in allowed) for line in text.splitlines()), text
    assert "<b>" not in text
