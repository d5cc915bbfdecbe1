"""Local MCP servers for the tests, built with the SDK's ``MCPServer``: nothing leaves
the machine.

Run as a script: ``python tests/mcp/servers.py http PORT`` (streamable HTTP on
127.0.0.1; prints ``READY`` once the port listens) or ``python tests/mcp/servers.py
stdio``. With ``MCP_TEST_CALLS`` set, each call is appended to that file (JSON lines: tool,
arguments, the server's process id).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

TOOL_NAMES = [
    "add", "check_credentials", "fail", "idempotency_key", "once", "process_data", "research",
    "slow",
]  # fmt: skip
"""The test server's tools, sorted."""


def build_server(calls: list[tuple[str, dict[str, Any]]] | None = None) -> MCPServer:
    """The test server's tools; each call is appended to ``calls`` (and the log file)."""
    app: MCPServer = MCPServer("actorflow-test", log_level="WARNING")
    log = os.environ.get("MCP_TEST_CALLS")

    def note(name: str, **arguments: Any) -> None:
        if calls is not None:
            calls.append((name, arguments))
        if log:
            with Path(log).open("a", encoding="utf-8") as out:
                out.write(json.dumps([name, arguments, os.getpid()]) + "\n")

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        note("add", a=a, b=b)
        return a + b

    @app.tool()
    def process_data(data_source: str, output_format: str = "text") -> dict[str, Any]:
        """Process the records of a data source into the requested output format."""
        note("process_data", data_source=data_source, output_format=output_format)
        return {"source": data_source, "format": output_format, "records": 3}

    @app.tool()
    def research(task: str) -> dict[str, Any]:
        """Research a topic: findings with their sources."""
        note("research", task=task)
        findings = [f"{task}: finding {n}" for n in (1, 2)]
        return {"topic": task, "findings": findings, "sources": ["local test server"]}

    @app.tool()
    async def slow(steps: int, ctx: Context, hang: bool = False) -> str:
        """Count to steps, reporting progress; with hang, never answer."""
        note("slow", steps=steps, hang=hang)
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1} of {steps}")
        if hang:
            await anyio.sleep_forever()
        return f"counted to {steps}"

    @app.tool()
    async def once(marker: str, ctx: Context) -> str:
        """The first call (no file at marker yet) makes the file and never answers."""
        note("once", marker=marker)
        path = Path(marker)
        if path.exists():
            return "answered"
        path.touch()
        await ctx.report_progress(1, 2, "started")
        await anyio.sleep_forever()
        return "never"

    @app.tool()
    def idempotency_key(ctx: Context) -> str:
        """The idempotency key the call carries in its _meta ("" if none)."""
        meta = ctx.request_context.meta or {}
        note("idempotency_key")
        return str(meta.get("actorflow/idempotency-key", ""))

    @app.tool()
    def check_credentials(ctx: Context) -> str:
        """Refuse the caller's credentials, quoting them (as careless servers do)."""
        headers = ctx.headers or {}
        note("check_credentials")
        raise ToolError(f"bad credentials: {headers.get('authorization', '')}")

    @app.tool()
    def fail(why: str) -> str:
        """Always fail."""
        note("fail", why=why)
        raise ToolError(f"refused: {why}")

    return app


@dataclass
class ThreadServer:
    """A streamable HTTP server in a thread of the test process."""

    port: int
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    """The headers of each HTTP request the server got."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def listening_socket(port: int = 0) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` (0: a free one) that listens already."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


@contextmanager
def thread_server(port: int = 0) -> Iterator[ThreadServer]:
    """Serve the test tools over streamable HTTP on 127.0.0.1 until the block ends."""
    sock = listening_socket(port)
    handle = ThreadServer(sock.getsockname()[1])
    app = build_server(handle.calls).streamable_http_app()

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            handle.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(recording, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="mcp-test-server"
    )
    thread.start()
    try:
        yield handle
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def main(argv: list[str]) -> None:
    app = build_server()
    if argv[0] == "stdio":
        app.run("stdio")
        return
    sock = listening_socket(int(argv[1]))
    server = uvicorn.Server(
        uvicorn.Config(app.streamable_http_app(), log_level="warning", lifespan="on")
    )
    sys.stdout.write("READY\n")  # the port listens: clients may connect
    sys.stdout.flush()
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main(sys.argv[1:])
