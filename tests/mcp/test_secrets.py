"""An MCP call with a known key: the key reaches the server and nothing actorflow writes
(journal, logs, stream events, errors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from actorflow import ActorSystem, EnhancedFlow, FlowPlan, FlowStatus, create_flow_step
from actorflow.journal import JournalConfig
from actorflow.mcp import Backoff, MCPConnectionError, create_production_client
from actorflow.secrets import unregister_secret
from tests.mcp.conftest import free_port
from tests.mcp.servers import ThreadServer
from tests.support import Collector

KEY = "mcp-key-7f3e9d1c5b2a"
"""A made-up key to look for."""
PASSWORD = "pw-8c6a4e2f0d"  # noqa: S105 - a made-up password to look for


@pytest.fixture(autouse=True)
def _forget_the_secrets() -> Iterator[None]:
    """Clients register their credentials as secrets; forget them after each test."""
    yield
    for value in (KEY, f"Bearer {KEY}", PASSWORD):
        unregister_secret(value)


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log line actorflow writes in the test, all levels (not the in-process test
    server's: its stdlib logging may be routed into loguru by an earlier test)."""
    lines: list[str] = []
    logger.enable("actorflow")
    sink = logger.add(
        lambda m: lines.append(str(m)), level="TRACE", format="{message} {extra}",
        filter="actorflow",
    )  # fmt: skip
    yield lines
    logger.remove(sink)
    logger.disable("actorflow")


@pytest.mark.asyncio
async def test_the_key_reaches_the_server_and_nothing_actorflow_writes(
    server: ThreadServer, tmp_path: Path, logs: list[str]
) -> None:
    journal = tmp_path / "run.afj"
    events = Collector()
    client = await create_production_client(
        server.base_url, headers={"Authorization": f"Bearer {KEY}"}
    )
    with ActorSystem(journal=JournalConfig(path=journal)) as system:
        async with client:
            flow = EnhancedFlow(client, system=system)
            flow.add_stream_callback(events)
            add = {"tool_name": "add", "arguments": {"a": 1, "b": 2}}
            steps = [
                create_flow_step("sum", "mcp_tool", add, id="sum"),
                create_flow_step(
                    "auth", "mcp_tool", {"tool_name": "check_credentials"}, ["sum"], id="auth"
                ),
            ]  # fmt: skip
            state = await flow.execute(FlowPlan(name="secret", steps=steps))
            assert await flow.wait_streams_idle()

    assert {h.get("authorization") for h in server.headers} == {f"Bearer {KEY}"}
    assert state.status is FlowStatus.FAILED  # the server refused, quoting the key
    assert str(state.steps["auth"].error).endswith("credentials: [REDACTED]")
    written = [
        journal.read_bytes().decode("utf-8", "replace"),
        "\n".join(logs),
        "\n".join(repr(e) for e in events.items),
        state.model_dump_json(),
    ]
    assert all(KEY not in text for text in written)
    assert any("[REDACTED]" in text for text in written)


@pytest.mark.asyncio
async def test_a_password_in_the_url_is_in_no_error_nor_log(logs: list[str]) -> None:
    client = await create_production_client(
        f"http://user:{PASSWORD}@127.0.0.1:{free_port()}",
        backoff=Backoff(initial=0.0, attempts=2),
    )
    try:
        with pytest.raises(MCPConnectionError) as refused:
            await client.connect()
    finally:
        await client.close()

    assert PASSWORD not in str(refused.value)
    assert PASSWORD not in client.label
    assert logs  # the failed attempt was logged
    assert all(PASSWORD not in line for line in logs)
