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
    assert (
        "Root cause: /agents/department/team/flaky failed with builtins.ConnectionError" in outcome
    )


def test_every_scenario_file_has_an_end_to_end_test() -> None:
    tested = {"ping_pong.py", "supervision_tree.py"}

    assert {p.name for p in SCENARIOS.glob("*.py")} == tested


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.py")))
def test_actorflow_run_completes_every_scenario(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", str(SCENARIOS / name), "--runs-dir", str(tmp_path)], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    assert "spawned" in result.output
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "actorflow.log").exists()
