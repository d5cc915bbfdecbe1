"""The seed's agent examples run with only the imports changed (files in seed/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SEED = Path(__file__).parent / "seed"


def run(name: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SEED / name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "ACTORFLOW_STORE"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_multi_agent_orchestration_example_runs(tmp_path: Path) -> None:
    out = run("multi_agent_orchestration.py", tmp_path).splitlines()

    assert out[0] == "completed"
    assert out[1] == str(
        [
            ("produce", "writing_agent"),
            ("research_data_analysis", "research_agent"),
            ("research_summarization", "research_agent"),
            ("research_web_search", "research_agent"),
        ]
    )


def test_the_multi_agent_coordination_example_runs(tmp_path: Path) -> None:
    out = run("multi_agent_coordination.py", tmp_path)

    assert out.startswith("Multi-agent task completed: completed: 4 of 8 subtasks completed")
    assert ", approved; final output: {'agent': 'writer'" in out


def test_the_flow_enabled_agent_example_runs(tmp_path: Path) -> None:
    out = run("flow_enabled_agent.py", tmp_path).splitlines()

    assert out[0].startswith("final_result: {")
    assert out[1] == "status: completed, steps completed: 3"
