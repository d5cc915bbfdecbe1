from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from actorflow import __version__
from actorflow.cli import app


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output.strip() == f"actorflow {__version__}"


def test_run_of_a_missing_file_is_a_clear_error_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope.py")])

    assert result.exit_code == 2
    assert "is not a Python file" in result.output


def test_run_of_a_file_without_main_says_what_to_define(tmp_path: Path) -> None:
    scenario = tmp_path / "empty.py"
    scenario.write_text('"""Nothing here."""\n')

    result = CliRunner().invoke(app, ["run", str(scenario)])

    assert result.exit_code == 2
    assert "has no main(system) function" in result.output


def test_run_of_a_failing_scenario_exits_1_with_the_error(tmp_path: Path) -> None:
    scenario = tmp_path / "boom.py"
    scenario.write_text('"""Boom."""\n\ndef main(system):\n    raise KeyError("boom")\n')

    result = CliRunner().invoke(app, ["run", str(scenario), "--runs-dir", str(tmp_path / "r")])

    assert result.exit_code == 1
    assert "KeyError: 'boom'" in result.output


def test_run_with_messages_shows_each_delivery(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    args = ["run", str(scenarios / "ping_pong.py"), "-m", "--runs-dir", str(tmp_path)]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert "pinger → /agents/ponger  pingpong.ping" in result.output
