"""The deterministic planner plans over the tools an MCP client lists (rule 5)."""

from __future__ import annotations

from typing import Any

import pytest

from actorflow import ActorSystem, EnhancedFlow, FlowStatus
from actorflow.flow.planner import EnhancedFlowPlanner, PlanningError
from actorflow.flow.steps import ToolRegistry
from actorflow.mcp import MCPClient, MCPConnectionError, MCPToolInfo
from tests.mcp.servers import ThreadServer


class Listed:
    """A stand-in MCP client that only lists tools."""

    def __init__(self, *tools: MCPToolInfo) -> None:
        self.tools = list(tools)

    async def list_tools(self) -> list[MCPToolInfo]:
        return self.tools


def tool(name: str, description: str, *required: str, **optional: Any) -> MCPToolInfo:
    props = {p: {"type": "string"} for p in (*required, *optional)}
    schema = {"type": "object", "properties": props, "required": list(required)}
    return MCPToolInfo(name=name, description=description, input_schema=schema)


@pytest.mark.asyncio
async def test_the_seeds_goal_plans_a_call_of_the_servers_tool_with_the_context(
    system: ActorSystem, client: MCPClient, server: ThreadServer
) -> None:
    flow = EnhancedFlow(client, system=system)

    plan = await flow.plan(
        goal="Process data using MCP tools",
        context={"data_source": "database", "output_format": "report"},
    )
    state = await flow.execute(plan)

    assert [(s.type, s.parameters) for s in plan.steps] == [
        (
            "mcp_tool",
            {
                "tool_name": "process_data",
                "arguments": {"data_source": "database", "output_format": "report"},
            },
        )
    ]
    assert state.status is FlowStatus.COMPLETED
    assert server.calls == [
        ("process_data", {"data_source": "database", "output_format": "report"})
    ]
    assert state.variables["final_result"] == {
        "source": "database",
        "format": "report",
        "records": 3,
    }


@pytest.mark.asyncio
async def test_arguments_are_the_context_keys_the_schema_names_plus_task_and_previous() -> None:
    client = Listed(
        tool("fetch_rows", "Fetch rows from a data source", "source", limit="", task=""),
        tool("summarize_rows", "Summarize rows", "previous"),
    )
    planner = EnhancedFlowPlanner(ToolRegistry(), mcp_client=client)

    plan = await planner.create_plan(
        "fetch rows, then summarize rows", {"source": "db", "limit": 5, "unrelated": True}
    )

    fetch, summarize = plan.steps
    assert fetch.parameters == {
        "tool_name": "fetch_rows",
        "arguments": {"source": "db", "limit": 5, "task": "fetch rows"},
    }
    assert summarize.parameters == {
        "tool_name": "summarize_rows",
        "arguments": {"previous": {"s1_1": "${results['s1_1']}"}},
    }
    assert summarize.dependencies == [fetch.id]


@pytest.mark.asyncio
async def test_a_tool_whose_required_arguments_the_context_cannot_fill_is_not_planned() -> None:
    client = Listed(
        tool("process_data", "Process data records", "data_source", "credentials"),
        tool("data_processor", "Process data", "data_source"),
    )
    planner = EnhancedFlowPlanner(ToolRegistry(), mcp_client=client)

    plan = await planner.create_plan("process data records", {"data_source": "db"})

    assert [s.parameters["tool_name"] for s in plan.steps] == ["data_processor"]


@pytest.mark.asyncio
async def test_registered_tools_rank_before_server_tools_and_shadow_their_names() -> None:
    registry = ToolRegistry()
    registry.register("clean_data", lambda **_: "local", description="Clean data")
    registry.register("fix_data", lambda: "local", description="Fix data")
    client = Listed(
        tool("clean_data", "Clean data very well indeed", "data_source"),
        tool("tidy_data", "Clean data", "data_source"),
    )
    planner = EnhancedFlowPlanner(registry, mcp_client=client)

    clean = await planner.create_plan("clean data", {"data_source": "db"})
    tidy = await planner.create_plan("tidy data", {"data_source": "db"})

    assert clean.steps[0].parameters["tool_name"] == "clean_data"  # the registered one
    assert tidy.steps[0].parameters["tool_name"] == "tidy_data"


@pytest.mark.asyncio
async def test_no_match_names_the_server_tools_and_a_listing_failure_is_a_planning_error() -> None:
    planner = EnhancedFlowPlanner(ToolRegistry(), mcp_client=Listed(tool("add", "Add numbers")))
    with pytest.raises(PlanningError, match=r"matches the task 'paint a fence'.*tools: add"):
        await planner.create_plan("paint a fence", {})

    class Down:
        async def list_tools(self) -> list[MCPToolInfo]:
            raise MCPConnectionError("the server is down")

    planner = EnhancedFlowPlanner(ToolRegistry(), mcp_client=Down())
    with pytest.raises(PlanningError, match=r"could not list its tools: the server is down"):
        await planner.create_plan("add numbers", {})
