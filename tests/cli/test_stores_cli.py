"""``actorflow flows`` and ``actorflow resume``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow.cli import app

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "crash_and_resume.py"


def _crash_scenario():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("crash_and_resume_for_cli_tests", SCENARIO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_killed_flow_is_listed_as_running_and_resumed_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash = _crash_scenario()
    store, ledger = tmp_path / "store.sqlite", tmp_path / "ledger.jsonl"
    assert crash.run_worker_until(store, ledger, kill_after=5) == -9

    listed = CliRunner().invoke(app, ["flows", "--store", str(store)])
    assert listed.exit_code == 0, listed.output
    assert "ledger-flow" in listed.output
    assert "running" in listed.output

    monkeypatch.setenv("LEDGER", str(ledger))
    args = ["resume", "ledger-flow", "--scenario", str(SCENARIO), "--store", str(store)]
    resumed = CliRunner().invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    assert "completed" in resumed.output
    assert "20/20" in resumed.output
    assert [e["step"] for e in crash.Ledger(ledger).entries()] == list(range(1, 21))

    again = CliRunner().invoke(app, ["flows", "--store", str(store)])
    assert "completed" in again.output
    assert "20/20" in again.output


def test_flows_of_a_missing_store_says_where_it_looked(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["flows", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2
    assert "no store at" in result.output


def test_resume_with_a_scenario_without_create_flow_says_what_to_define(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    store.touch()
    scenario = tmp_path / "plain.py"
    scenario.write_text('"""Plain."""\n\ndef main(system):\n    return {}\n')
    args = ["resume", "f", "--scenario", str(scenario), "--store", str(store)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "has no create_flow(system) function" in result.output


def test_resume_of_an_unknown_flow_exits_1_with_the_reason(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    CliRunner().invoke(app, ["run", str(SCENARIO.parent / "ping_pong.py"), "--store", str(store),
                             "--runs-dir", str(tmp_path / "runs")])  # fmt: skip
    args = ["resume", "ghost", "--scenario", str(SCENARIO), "--store", str(store)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "has no checkpoint of flow 'ghost'" in result.output
