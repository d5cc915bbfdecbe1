"""The seed's MCP examples run with only the imports changed (files in seed/), against
a local MCP server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mcp.servers import ThreadServer, listening_socket, thread_server

SEED = Path(__file__).parent / "seed"
SEED_PORT = 8081
"""The port the seed's example hard-codes (``http://localhost:8081``)."""


def run(name: str, cwd: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "ACTORFLOW_STORE"}
    done = subprocess.run(
        [sys.executable, str(SEED / name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**base, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def seed_server() -> Iterator[ThreadServer]:
    """The test server on the seed's port 8081 (skipped if something else holds it)."""
    try:
        listening_socket(SEED_PORT).close()
    except OSError as exc:
        pytest.skip(f"port {SEED_PORT}, which the seed's example hard-codes, is taken: {exc}")
    with thread_server(SEED_PORT) as handle:
        yield handle


def test_the_seeds_mcp_integration_example_plans_and_calls_the_servers_tool(
    seed_server: ThreadServer, tmp_path: Path
) -> None:
    run("mcp_integration.py", tmp_path)

    assert seed_server.calls == [
        ("process_data", {"data_source": "database", "output_format": "report"})
    ]


def test_the_seeds_flow_enabled_agent_runs_its_task_with_the_servers_tools(
    server: ThreadServer, tmp_path: Path
) -> None:
    out = run("agent_integration.py", tmp_path, ACTORFLOW_TEST_MCP_URL=server.base_url)
    lines = out.splitlines()

    assert lines[0] == "steps: [('s1_1', 'research'), ('s2_1', 'write_report')]"
    assert lines[1] == "status: completed"
    assert lines[2] == "# Write a report"
    assert "Research the actor model: finding 2" in out
    assert server.calls == [("research", {"task": "Research the actor model"})]
