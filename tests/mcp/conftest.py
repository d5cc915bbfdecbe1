"""Fixtures of the MCP tests: local servers (a thread, a subprocess) and clients."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from actorflow.mcp import Backoff, MCPClient, create_production_client
from tests.mcp.servers import ThreadServer, listening_socket, thread_server

SERVERS = Path(__file__).with_name("servers.py")
ROOT = Path(__file__).resolve().parents[2]

FAST = Backoff(initial=0.05, factor=2.0, maximum=0.5, attempts=60)
"""Reconnect quickly, and long enough (about 30 s) for a restarted server to come up."""


@pytest.fixture
def server() -> Iterator[ThreadServer]:
    """A streamable HTTP server of the test tools in a thread (127.0.0.1, a free port)."""
    with thread_server() as handle:
        yield handle


@pytest_asyncio.fixture
async def client(server: ThreadServer) -> AsyncIterator[MCPClient]:
    """A connected client of ``server``."""
    made = await create_production_client(server.base_url, backoff=FAST)
    async with made:
        yield made


def free_port() -> int:
    sock = listening_socket(0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class ServerProcess:
    """The test server as a subprocess on a fixed port, that a test can kill and start
    again."""

    def __init__(self, port: int, calls: Path) -> None:
        self.port = port
        self.calls = calls
        self.process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "MCP_TEST_CALLS": str(self.calls), "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, str(SERVERS), "http", str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.process = process
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60.0)
        assert ready, "the MCP test server did not start in 60 s"
        assert process.stdout.readline().strip() == "READY"

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        self.process = None


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """The test server in a subprocess (started), killed after the test."""
    handle = ServerProcess(free_port(), tmp_path / "calls.jsonl")
    handle.start()
    try:
        yield handle
    finally:
        handle.kill()
