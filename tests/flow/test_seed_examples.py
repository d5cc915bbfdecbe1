"""The seed's examples run with only ``app.flow`` -> ``actorflow`` changed (files in seed/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from actorflow.stores import SqliteStore

SEED = Path(__file__).parent / "seed"


def run_example(name: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SEED / name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "ACTORFLOW_STORE"},
    )


def run(name: str, cwd: Path) -> str:
    done = run_example(name, cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_basic_enhanced_flow_example_runs_with_the_built_in_tools(tmp_path: Path) -> None:
    out = run("basic_enhanced_flow.py", tmp_path)

    assert "Flow completed with status: completed" in out
    assert "Execution time: " in out
    # create_enhanced_flow() keeps its flows in the default SQLite store
    with SqliteStore(tmp_path / ".actorflow" / "store.sqlite") as store:
        assert [f.status for f in store.list_flows()] == ["completed"]


def test_the_state_persistence_example_runs(tmp_path: Path) -> None:
    assert run("state_persistence.py", tmp_path).strip() == "Retrieved checkpoint: {'progress': 25}"


def test_the_parallel_execution_example_runs(tmp_path: Path) -> None:
    out = run("parallel_execution.py", tmp_path)

    assert out.startswith("status: completed; joined: ")


@pytest.mark.parametrize("name", sorted(p.name for p in SEED.glob("*.py")))
def test_seed_examples_import_only_from_actorflow(name: str) -> None:
    text = (SEED / name).read_text()

    assert "app." not in text
    assert "from actorflow import" in text


def test_the_flow_event_listeners_example_runs(tmp_path: Path) -> None:
    assert run("flow_event_listeners.py", tmp_path) == ""  # it only adds the monitor


def test_the_stream_callback_integration_example_says_what_to_pass(tmp_path: Path) -> None:
    # The seed calls flow.stream_execute() on a flow that has no plan: there is nothing
    # to run, so it fails at once with what to pass (scenarios/streaming.py plans first).
    done = run_example("stream_callback_integration.py", tmp_path)

    assert done.returncode == 1
    assert "ConfigurationError: stream_execute has no plan to run: pass plan=" in done.stderr
