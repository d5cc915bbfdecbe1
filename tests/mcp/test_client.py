"""MCPClient against a local streamable HTTP server: listing, calls, errors, addresses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actorflow.errors import (
    ConfigurationError,
    NonRetryableStepError,
    RetryableStepError,
)
from actorflow.flow.retry import StepError, error_hierarchy
from actorflow.mcp import (
    Backoff,
    MCPArgumentsError,
    MCPClient,
    MCPConnectionError,
    MCPToolError,
    create_production_client,
    create_stdio_client,
)
from tests.mcp.conftest import free_port
from tests.mcp.servers import TOOL_NAMES, ThreadServer


def never_retried(error: BaseException) -> bool:
    return StepError(error_hierarchy(type(error))).is_deterministic


@pytest.mark.asyncio
async def test_the_client_lists_the_servers_tools_with_descriptions_and_input_schemas(
    client: MCPClient,
) -> None:
    tools = {t.name: t for t in await client.list_tools()}

    assert sorted(tools) == TOOL_NAMES
    add = tools["add"]
    assert add.description == "Add two integers."
    assert add.properties == ("a", "b")
    assert add.required == ("a", "b")
    assert tools["process_data"].required == ("data_source",)


@pytest.mark.asyncio
async def test_a_call_returns_the_tools_result_as_json_data(
    client: MCPClient, server: ThreadServer
) -> None:
    assert await client.call_tool("add", {"a": 2, "b": 40}) == 42
    assert await client.call_tool("process_data", {"data_source": "db"}) == {
        "source": "db",
        "format": "text",
        "records": 3,
    }
    assert await client.call_tool("slow", {"steps": 2}) == "counted to 2"
    assert server.calls[0] == ("add", {"a": 2, "b": 40})
    assert client.statistics().calls == 3


@pytest.mark.asyncio
async def test_a_tool_error_carries_the_servers_text_and_is_never_retried(
    client: MCPClient,
) -> None:
    with pytest.raises(MCPToolError, match=r"^Tool 'fail' of MCP server .* refused: no way$"):
        await client.call_tool("fail", {"why": "no way"})

    with pytest.raises(MCPToolError) as caught:
        await client.call_tool("fail", {"why": "again"})
    assert caught.value.tool == "fail"
    assert caught.value.server_text.endswith("refused: again")
    assert isinstance(caught.value, NonRetryableStepError)
    assert never_retried(caught.value)


@pytest.mark.asyncio
async def test_arguments_that_do_not_fit_the_input_schema_are_refused_before_sending(
    client: MCPClient, server: ThreadServer
) -> None:
    with pytest.raises(MCPArgumentsError, match=r"'b' is a required property") as caught:
        await client.call_tool("add", {"a": "one"})

    assert "'one' is not of type 'integer'" in str(caught.value)
    assert never_retried(caught.value)
    assert server.calls == []  # never sent


@pytest.mark.asyncio
async def test_an_unknown_tool_is_a_tool_error_that_names_the_servers_tools(
    client: MCPClient,
) -> None:
    tools = ", ".join(TOOL_NAMES)
    with pytest.raises(MCPToolError, match=rf"has no tool 'nope'\. Its tools: {tools}\.$"):
        await client.call_tool("nope", {})


@pytest.mark.asyncio
async def test_the_base_url_gets_the_sdks_mcp_path_and_the_label_drops_credentials(
    server: ThreadServer,
) -> None:
    base = await create_production_client(server.base_url)
    given = await create_production_client(f"{server.base_url}/mcp")
    secret = await create_production_client("http://user:s3cret@example.test:9/x?key=s3cret")
    try:
        assert base.label == given.label == f"{server.base_url}/mcp"
        assert await base.call_tool("add", {"a": 1, "b": 1}) == 2
        assert await given.call_tool("add", {"a": 1, "b": 2}) == 3
        assert "s3cret" not in secret.label
        assert "s3cret" not in repr(secret)
    finally:
        for made in (base, given, secret):
            await made.close()


@pytest.mark.asyncio
async def test_a_url_that_is_not_http_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"must be http:// or https://"):
        await create_production_client("ftp://localhost:8081")


@pytest.mark.asyncio
async def test_connecting_to_nothing_gives_up_after_the_backoff_with_a_retryable_error() -> None:
    made = await create_production_client(
        f"http://127.0.0.1:{free_port()}", backoff=Backoff(initial=0.0, attempts=3)
    )
    try:
        with pytest.raises(MCPConnectionError, match=r"Could not connect .* after 3 attempts"):
            await made.connect()
        with pytest.raises(MCPConnectionError) as caught:
            await made.call_tool("add", {"a": 1, "b": 2})
        assert isinstance(caught.value, RetryableStepError)
        assert not never_retried(caught.value)
    finally:
        await made.close()


@pytest.mark.asyncio
async def test_a_closed_client_refuses_calls(client: MCPClient) -> None:
    await client.close()
    await client.close()  # idempotent

    with pytest.raises(ConfigurationError, match=r"is closed; make a new one"):
        await client.call_tool("add", {"a": 1, "b": 2})


@pytest.mark.asyncio
async def test_without_the_sdk_making_a_client_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # import mcp raises ImportError

    with pytest.raises(ConfigurationError, match=r"pip install 'actorflow\[mcp\]'"):
        await create_production_client("http://localhost:8081")
    with pytest.raises(ConfigurationError, match=r"pip install 'actorflow\[mcp\]'"):
        await create_stdio_client("server")


def test_importing_actorflow_and_actorflow_mcp_does_not_import_the_sdk() -> None:
    code = "import sys, actorflow, actorflow.mcp; print('mcp' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.asyncio
async def test_headers_reach_the_server_and_never_the_errors(server: ThreadServer) -> None:
    secret = "Bearer s3cret-token"  # noqa: S105 - a test value
    made = await create_production_client(server.base_url, headers={"Authorization": secret})
    async with made:
        assert await made.call_tool("add", {"a": 1, "b": 1}) == 2
        with pytest.raises(MCPToolError) as caught:
            await made.call_tool("fail", {"why": "no"})
    assert {h.get("authorization") for h in server.headers} == {secret}
    assert "s3cret" not in str(caught.value)

    down = await create_production_client(
        f"http://user:s3cret@127.0.0.1:{free_port()}",
        headers={"Authorization": secret},
        backoff=Backoff(initial=0.0, attempts=1),
    )
    try:
        with pytest.raises(MCPConnectionError) as refused:
            await down.connect()
    finally:
        await down.close()
    assert "s3cret" not in str(refused.value)


def test_the_public_names_are_sorted_documented_and_errors_are_actorflow_errors() -> None:
    import inspect

    import actorflow.mcp
    from actorflow.errors import ActorflowError

    names = actorflow.mcp.__all__
    assert names == sorted(names)
    for name in names:
        obj = getattr(actorflow.mcp, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, name
    for error in (MCPArgumentsError, MCPConnectionError, MCPToolError):
        assert issubclass(error, ActorflowError)
