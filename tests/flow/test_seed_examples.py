"""The seed's examples run with only ``app.flow`` -> ``actorflow`` changed (files in seed/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).parent / "seed"


def run(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SEED / name)], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_basic_enhanced_flow_example_runs_with_the_built_in_tools() -> None:
    out = run("basic_enhanced_flow.py")

    assert "Flow completed with status: completed" in out
    assert "Execution time: " in out


def test_the_state_persistence_example_runs() -> None:
    assert run("state_persistence.py").strip() == "Retrieved checkpoint: {'progress': 25}"


def test_the_parallel_execution_example_runs() -> None:
    out = run("parallel_execution.py")

    assert out.startswith("status: completed; joined: ")


@pytest.mark.parametrize("name", sorted(p.name for p in SEED.glob("*.py")))
def test_seed_examples_import_only_from_actorflow(name: str) -> None:
    text = (SEED / name).read_text()

    assert "app." not in text
    assert "from actorflow import" in text
