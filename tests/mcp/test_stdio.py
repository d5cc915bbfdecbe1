"""MCPClient against a stdio server (a subprocess the client starts)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from actorflow.flow.attempt import Attempt, run_in_attempt
from actorflow.mcp import MCPConnectionError, MCPToolError, create_stdio_client
from tests.mcp.conftest import FAST, ROOT, SERVERS
from tests.mcp.servers import TOOL_NAMES


def server_pid(calls: Path) -> int:
    """The process id of the server that logged the last call."""
    pid: int = json.loads(calls.read_text().splitlines()[-1])[2]
    return pid


@pytest.mark.asyncio
async def test_a_stdio_server_lists_and_calls_its_tools(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    env = {"MCP_TEST_CALLS": str(calls), "PYTHONPATH": str(ROOT)}
    client = await create_stdio_client(sys.executable, [str(SERVERS), "stdio"], env=env)
    async with client:
        names = sorted(t.name for t in await client.list_tools())
        assert await client.call_tool("add", {"a": 4, "b": 5}) == 9
        with pytest.raises(MCPToolError, match=r"refused: stdio"):
            await client.call_tool("fail", {"why": "stdio"})

    assert names == TOOL_NAMES
    assert client.label.startswith("stdio:")
    assert calls.read_text().count("\n") == 2


@pytest.mark.asyncio
async def test_a_stdio_server_that_dies_mid_call_fails_it_retryably_and_is_started_again(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls.jsonl"
    env = {"MCP_TEST_CALLS": str(calls), "PYTHONPATH": str(ROOT)}
    client = await create_stdio_client(
        sys.executable, [str(SERVERS), "stdio"], env=env, backoff=FAST
    )
    async with client:
        progressed = threading.Event()
        attempt = Attempt("f", "s", 1, threading.Event(), emit=lambda _item: progressed.set())
        marker = str(tmp_path / "once")
        hanging = asyncio.ensure_future(
            run_in_attempt(attempt, lambda: client.call_tool("once", {"marker": marker}))
        )
        assert await asyncio.to_thread(progressed.wait, 30)
        os.kill(server_pid(calls), signal.SIGKILL)

        with pytest.raises(MCPConnectionError):
            await asyncio.wait_for(hanging, 30)
        assert await client.call_tool("once", {"marker": marker}) == "answered"
    assert client.statistics().connection_losses == 1
