"""Every scenario runs end to end, as ``actorflow run`` runs it, with its outcome checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow.cli import app
from actorflow.scenarios import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run(name: str) -> dict[str, object]:
    scenario = load_scenario(SCENARIOS / name)
    system = scenario.create_system().start()
    try:
        return dict(scenario.main(system) or {})
    finally:
        system.shutdown()


def test_ping_pong_loses_no_message_across_the_ponger_crash() -> None:
    result = run("ping_pong.py")

    assert result == {
        "pings answered": 20,
        "answered in order": True,
        "resends": 1,
        "ponger restarts": 1,
        "ponger processed": 20,
        "dead letters": {"failed": 1},
    }


def test_supervision_tree_crash_loop_escalates_level_by_level_to_the_root() -> None:
    result = run("supervision_tree.py")

    assert result["failures by actor"] == {
        "/": 1,
        "/agents": 1,
        "/agents/department": 2,
        "/agents/department/team": 6,
        "/agents/department/team/flaky": 24,
    }
    outcome = str(result["outcome"])
    assert outcome.startswith("escalated to the root: A failure escalated to the root")
    assert "Root cause: /agents/department/team/flaky failed with builtins.Connection" in outcome


def test_flow_basics_runs_the_seed_examples() -> None:
    result = run("flow_basics.py")

    assert result["basic: status"] == "completed"
    assert result["basic: steps"] == {
        "s1_1": "completed",
        "s1_2": "completed",
        "collect": "completed",
    }
    assert result["basic: final_result"] == {
        "s1_1": {"industry": "technology", "timeframe": "2024", "trend": "growing", "signals": 3},
        "s1_2": "Report on technology: create report.",
    }
    assert result["custom: status"] == "completed"
    assert result["custom: human was asked"] == ["Do you want to proceed with analysis?"]
    assert result["custom: condition"] is True


def test_retries_and_timeouts_succeed_late_time_out_and_degrade() -> None:
    result = run("retries_and_timeouts.py")

    assert result["status"] == "completed"
    assert result["error"] is None
    assert result["steps"] == {
        "fetch": ("completed", 3),
        "slow": ("timed_out", 1),
        "flaky": ("failed_non_critical", 2),
        "lookup": ("failed_non_critical", 1),
        "summary": ("completed", 1),
    }
    assert result["missing record hits"] == 1  # a 404 is never retried
    assert result["server hits"] == 3
    assert result["fetch result"] == {"status": 200, "body": {"hits": 3, "prices": [101.5, 102.25]}}
    assert result["slow error"] == "TimeoutError: attempt 1 timed out after 0.2 s"
    assert result["flaky result"] == {
        "error": "builtins.ConnectionError: enrichment service unreachable",
        "status": "failed_non_critical",
    }


def test_streaming_shows_the_run_to_every_kind_of_subscriber_in_order() -> None:
    result = run("streaming.py")

    assert result["status"] == "completed"
    assert result["in order"] is True
    assert result["first event"] == "flow_started"
    assert result["last event"] == "finish"
    assert result["event types"] == {
        "finish": 1,
        "tool_result": 4,
        "tool_running": 3,
        "tool_streaming": 5,
        "tool_use": 5,
        "workflow": 4,
    }
    assert "attempt 1 failed: builtins.ConnectionError: quote feed dropped" in str(result["retry"])
    assert "retrying in 0.05 s" in str(result["retry"])
    assert result["streamed summary"] == (
        "3 quotes in. ACME trades at 104.00. INITECH trades at 107.00. "
        "UMBRELLA trades at 108.00. End of summary."
    )
    assert result["callback notes"] == 5  # the seed's callback noted each TOOL_USE
    monitor = result["monitor"]
    assert isinstance(monitor, list)
    assert monitor[0].startswith("📊 Flow started: Plan for: Analyze market trends")
    assert monitor[-1].startswith("✅ Flow completed: ")
    assert sum(line.startswith("🔄 Step started") for line in monitor) == 6
    assert sum(line.startswith("✓ Step completed") for line in monitor) == 5


def test_interactive_approval_answers_or_applies_the_timeout_policy() -> None:
    result = run("interactive_approval.py")

    assert result["answered: status"] == "completed"
    assert set(dict(result["answered: steps"]).values()) == {"completed"}  # type: ignore[call-overload]
    assert result["answered: asked"] == ["Do you want to proceed with analysis?"]
    assert result["answered: analysis"] == {"hits": 1}
    assert result["unanswered: status"] == "completed"
    assert result["unanswered: steps"] == {
        "Search": "completed",
        "Confirm": "completed",  # by its default (on_timeout: default)
        "Check": "completed",
        "Analyze": "skipped",
        "Any remarks?": "timed_out",  # on_timeout: fail, not critical
    }
    assert result["unanswered: user_confirmed"] is False
    assert result["unanswered: remarks error"] == "TimeoutError: attempt 1 timed out after 0.3 s"


def test_every_scenario_file_has_an_end_to_end_test() -> None:
    tested = {
        "interactive_approval.py",
        "streaming.py",
        "ping_pong.py",
        "supervision_tree.py",
        "flow_basics.py",
        "retries_and_timeouts.py",
        "crash_and_resume.py",
    }
    # Other scenarios have a test file of their own: tests/scenarios/test_<name>.py
    own = {p.name.removeprefix("test_") for p in Path(__file__).parent.glob("test_*.py")}

    assert {p.name for p in SCENARIOS.glob("*.py")} == tested | (
        own & {p.name for p in SCENARIOS.glob("*.py")}
    )


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.py")))
def test_actorflow_run_completes_every_scenario(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store.sqlite"
    args = ["run", str(SCENARIOS / name), "--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, [*args, "--store", str(store)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    assert "spawned" in result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "actorflow.log").exists()
    assert (run_dir / "journal").exists()
    listed = CliRunner().invoke(app, ["flows", "--store", str(store)])
    assert listed.exit_code == 0, listed.output
    if name == "flow_basics.py":  # its flows run on the scenario's system: kept in its store
        assert listed.output.count("completed") == 2


def test_a_scenario_may_define_an_async_main(tmp_path: Path) -> None:
    file = tmp_path / "async_echo.py"
    file.write_text(
        '"""Async echo."""\n\n'
        "from typing import Literal\n"
        "from actorflow import Behaviour, Message\n\n"
        "class Shout(Message):\n    kind: Literal['scenariotest.shout'] = 'scenariotest.shout'\n"
        "    text: str\n\n"
        "class Echo(Behaviour):\n"
        "    def on_shout(self, msg, ctx):\n        ctx.reply(msg)\n\n"
        "async def main(system):\n"
        "    reply = await system.ask_async(system.spawn(Echo, 'echo'), Shout(text='hi'))\n"
        "    return {'echo': reply.text}\n"
    )
    scenario = load_scenario(file)
    system = scenario.create_system().start()

    try:
        result = scenario.main(system)
    finally:
        system.shutdown()

    assert scenario.is_async
    assert result == {"echo": "hi"}


def test_crash_and_resume_loses_no_effect_and_runs_no_stored_step_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACTORFLOW_CRASH_SEED", "7")
    monkeypatch.chdir(tmp_path)  # its worker's store and ledger go to .actorflow/ here
    result = run("crash_and_resume.py")

    assert result["worker exit code"] == -9
    killed_after = result["killed after step"]
    assert isinstance(killed_after, int)
    assert result["ledger entries at the kill"] == killed_after
    done = result["steps stored as completed at the kill"]
    assert isinstance(done, int)
    assert killed_after - 1 <= done <= killed_after
    assert result["resumed flow"] == "completed"
    assert result["final total"] == 210
    assert result["ledger entries"] == 20
    assert result["each step once in the ledger"] is True
