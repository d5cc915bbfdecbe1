"""MCP tools: the seed's "MCP Integration" example against a local MCP server.

The scenario starts an MCP server of its own (the official SDK's ``MCPServer``, over
streamable HTTP on 127.0.0.1, a free port: nothing leaves the machine) with four
tools: ``process_data``, ``fetch_records`` (reports its progress), ``check_records``
(refuses records it finds stale) and ``store_report``. Then:

1. **The seed's example**: ``create_production_client(url)``, ``connect()``,
   ``create_enhanced_flow(mcp_client)``, ``flow.plan(goal="Process data using MCP
   tools", context={...})`` and ``flow.execute(plan)``. The planner plans over the
   tools the server lists: ``process_data``, with its arguments taken from the context.
2. **A pipeline of server tools**: ``fetch_records`` streams its progress (TOOL_RUNNING
   and TOOL_STREAMING events of its step), ``check_records`` answers with an error
   (``isError``: the step fails at once, never retried; it is not critical, so the flow
   goes on degraded), ``store_report`` gets the fetched records through a reference.

Every call is a TOOL_USE / TOOL_RESULT (or ERROR) event and an ``mcp`` effect in the
journal (``actorflow log show latest``). Needs ``pip install 'actorflow[mcp]'``.

Run it: ``actorflow run scenarios/mcp_tools.py``
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from actorflow import (
    ActorSystem,
    FlowPlan,
    StreamCallbackData,
    create_enhanced_flow,
    create_flow_step,
)
from actorflow.mcp import create_production_client
from actorflow.mcp.client import require_sdk

try:  # at module level: the SDK reads the tools' annotations (Context) from here
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # without actorflow[mcp]: build_server() says what to install
    pass

CALLS: list[str] = []
"""The tools the server ran, in order."""


def build_server() -> Any:
    """The local MCP server and its tools."""
    require_sdk()  # a clear ConfigurationError without actorflow[mcp]
    server = MCPServer("scenario-data-tools", log_level="WARNING")

    @server.tool()
    def process_data(data_source: str, output_format: str = "text") -> dict[str, Any]:
        """Process the records of a data source into the requested output format."""
        CALLS.append("process_data")
        return {"source": data_source, "format": output_format, "records": 3}

    @server.tool()
    async def fetch_records(table: str, ctx: Context) -> list[dict[str, Any]]:
        """Fetch the records of a table, reporting progress."""
        CALLS.append("fetch_records")
        rows = [{"id": n, "table": table, "age_days": 10 * n} for n in (1, 2, 3)]
        for done, row in enumerate(rows, 1):
            await ctx.report_progress(done, len(rows), f"record {row['id']} fetched")
        return rows

    @server.tool()
    def check_records(max_age_days: int) -> str:
        """Check that no record is older than max_age_days."""
        CALLS.append("check_records")
        raise ToolError(f"2 records are older than {max_age_days} days")

    @server.tool()
    def store_report(records: list[dict[str, Any]], output_format: str) -> dict[str, Any]:
        """Store a report of the records."""
        CALLS.append("store_report")
        return {"stored": len(records), "format": output_format}

    return server


@contextmanager
def local_server() -> Iterator[str]:
    """Serve the tools over streamable HTTP on 127.0.0.1 until the block ends; yield
    the server's base URL."""
    import uvicorn  # noqa: PLC0415 - comes with the MCP SDK

    app = build_server().streamable_http_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before the server runs: clients may connect at once
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="mcp-scenario-server"
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def pipeline() -> FlowPlan:
    """Fetch (with progress), check (refused by the server; not critical), store."""
    fetch = create_flow_step(
        "Fetch records", "mcp_tool",
        {"tool_name": "fetch_records", "arguments": {"table": "orders"}}, id="fetch",
    )  # fmt: skip
    check = create_flow_step(
        "Check records", "mcp_tool",
        {"tool_name": "check_records", "arguments": {"max_age_days": 15}, "critical": False},
        ["fetch"], id="check",
    )  # fmt: skip
    store = create_flow_step(
        "Store report", "mcp_tool",
        {"tool_name": "store_report",
         "arguments": {"records": "${results['fetch']}", "output_format": "report"}},
        ["check"], id="store",
    )  # fmt: skip
    return FlowPlan(name="MCP pipeline", steps=[fetch, check, store])


async def main(system: ActorSystem) -> dict[str, object]:
    """Run the seed's example, then the pipeline, against the local server."""
    CALLS.clear()
    events: list[StreamCallbackData] = []
    with local_server() as url:
        # The seed's example (the flow runs in the scenario's actor system)
        mcp_client = await create_production_client(url)
        await mcp_client.connect()
        flow = create_enhanced_flow(mcp_client, system=system)
        flow.config.retry_delay = 0.05
        flow.add_stream_callback(events.append)
        plan = await flow.plan(
            goal="Process data using MCP tools",
            context={"data_source": "database", "output_format": "report"},
        )
        state = await flow.execute(plan)
        piped = await flow.execute(pipeline())
        await flow.wait_streams_idle()
        await mcp_client.close()
    kinds = Counter(e.type.value for e in events if e.flow_id == piped.flow_id)
    return {
        "planned": [(s.parameters["tool_name"], s.parameters["arguments"]) for s in plan.steps],
        "status": state.status.value,
        "result": state.variables.get("final_result"),
        "pipeline": {sid: s.status.value for sid, s in piped.steps.items()},
        "pipeline status": piped.status.value,
        "stored": piped.steps["store"].result,
        "check error": str(piped.steps["check"].error).split(" failed: ", 1)[-1],
        "server calls": list(CALLS),
        "pipeline events": dict(sorted(kinds.items())),
    }
