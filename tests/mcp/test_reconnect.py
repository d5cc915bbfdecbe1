"""Connection loss: a server killed mid-call, then started again on the same port."""

from __future__ import annotations

import asyncio
import threading

import pytest

from actorflow import StreamCallbackType
from actorflow.errors import RetryableStepError
from actorflow.flow.attempt import Attempt, run_in_attempt
from actorflow.mcp import MCPConnectionError, create_production_client
from tests.mcp.conftest import FAST, ServerProcess

T = StreamCallbackType


@pytest.mark.asyncio
async def test_a_call_in_flight_when_the_server_is_killed_fails_retryably_then_reconnects(
    server_process: ServerProcess,
) -> None:
    client = await create_production_client(server_process.base_url, backoff=FAST)
    async with client:
        assert await client.call_tool("add", {"a": 1, "b": 2}) == 3
        progressed = threading.Event()  # the server reported progress: the call is in flight
        attempt = Attempt("f", "s", 1, threading.Event(), emit=lambda _item: progressed.set())
        hanging = asyncio.ensure_future(
            run_in_attempt(attempt, lambda: client.call_tool("slow", {"steps": 1, "hang": True}))
        )
        assert await asyncio.to_thread(progressed.wait, 30)
        server_process.kill()

        with pytest.raises(MCPConnectionError, match=r"MCP server .* (did not answer|was lost)"):
            await asyncio.wait_for(hanging, 30)
        assert isinstance(hanging.exception(), RetryableStepError)

        server_process.start()
        assert await client.call_tool("add", {"a": 2, "b": 3}) == 5
        stats = client.statistics()
    assert stats.connects >= 2
    assert stats.connection_losses >= 1


@pytest.mark.asyncio
async def test_a_server_restarted_between_calls_is_reconnected_to(
    server_process: ServerProcess,
) -> None:
    client = await create_production_client(server_process.base_url, backoff=FAST)
    async with client:
        assert await client.call_tool("add", {"a": 1, "b": 2}) == 3
        server_process.kill()
        server_process.start()

        # the SDK's 2026-07-28 protocol keeps no session: the next request just works
        assert await client.call_tool("add", {"a": 2, "b": 2}) == 4
