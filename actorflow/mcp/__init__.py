"""MCP tools for flows, through the official MCP SDK (``pip install 'actorflow[mcp]'``).

The seed's ``app.mcp``::

    from actorflow.mcp import create_production_client
    from actorflow import create_enhanced_flow

    mcp_client = await create_production_client("http://localhost:8081")
    await mcp_client.connect()
    flow = create_enhanced_flow(mcp_client)  # mcp_tool steps call the server's tools
    plan = await flow.plan("Process data using MCP tools", context={...})

Modules: ``client`` (:class:`MCPClient`, the two factories, reconnect backoff),
``errors`` (how failed calls are classified for retries). Importing this package does
not import the SDK; making a client without it raises a ``ConfigurationError`` that
says what to install. This layer sits beside agents: it uses flows' streaming, flows
never import it.
"""

from __future__ import annotations

from actorflow.mcp._convert import MCPToolInfo
from actorflow.mcp.client import (
    IDEMPOTENCY_META,
    Backoff,
    MCPClient,
    MCPClientStatistics,
    create_production_client,
    create_stdio_client,
)
from actorflow.mcp.errors import MCPArgumentsError, MCPConnectionError, MCPToolError

__all__ = [
    "Backoff",
    "IDEMPOTENCY_META",
    "MCPArgumentsError",
    "MCPClient",
    "MCPClientStatistics",
    "MCPConnectionError",
    "MCPToolError",
    "MCPToolInfo",
    "create_production_client",
    "create_stdio_client",
]
