"""ModelFlowPlanner and ModelDecomposer: structured output checked like any plan or
decomposition; invalid answers go back to the model with the error, up to N times."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from actorflow import ActorSystem
from actorflow.agents import AgentInfo, MultiAgentOrchestrator
from actorflow.agents.decompose import ITaskDecomposer, Subtask
from actorflow.flow import EnhancedFlow
from actorflow.flow.steps import ToolRegistry
from actorflow.models import (
    ModelDecomposer,
    ModelDecompositionError,
    ModelFlowPlanner,
    ModelPlanningError,
    RecordedModelClient,
)


def fetch_prices(symbol: str) -> list[float]:
    """Fetch the recent prices of a symbol."""
    return [1.0, 2.0, 3.0] if symbol == "ACME" else []


def mean(values: list[float]) -> float:
    """Average a list of numbers."""
    return sum(values) / len(values)


def tools() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register("fetch_prices", fetch_prices)
    registry.register("mean", mean)
    return registry


def step(sid: str, tool: str, arguments: dict[str, Any], deps: list[str] = []) -> dict[str, Any]:  # noqa: B006
    return {
        "id": sid,
        "name": sid,
        "type": "mcp_tool",
        "dependencies": deps,
        "parameters": {"tool_name": tool, "arguments": arguments},
    }


GOOD = json.dumps(
    {
        "name": "Average price",
        "steps": [
            step("fetch", "fetch_prices", {"symbol": "ACME"}),
            step("average", "mean", {"values": "${results['fetch']}"}, ["fetch"]),
        ],
    }
)


@pytest.mark.asyncio
async def test_the_model_plan_is_checked_and_runs() -> None:
    client = RecordedModelClient([f"```json\n{GOOD}\n```"])
    planner = ModelFlowPlanner(client, tools())

    plan = await planner.create_plan("Average the price of ACME", {"symbol": "ACME"})

    assert [s.id for s in plan.steps] == ["fetch", "average"]
    assert plan.metadata["planner"] == "model"
    sent = client.requests[0]
    assert "fetch_prices" in (sent.messages[0].content or "")  # the tools were described
    assert sent.options["response_format"]["type"] == "json_schema"  # type: ignore[index,call-overload]
    with ActorSystem() as system:
        flow = EnhancedFlow(system=system)
        flow.register_tool("fetch_prices", fetch_prices)
        flow.register_tool("mean", mean)
        state = await flow.execute(plan)
    assert state.status.value == "completed"
    assert state.steps["average"].result == 2.0


@pytest.mark.asyncio
async def test_an_invalid_plan_goes_back_to_the_model_with_its_error() -> None:
    unknown_type = json.dumps({"steps": [{"id": "a", "name": "a", "type": "teleport"}]})
    cycle = json.dumps(
        {
            "steps": [
                step("a", "mean", {"values": [1]}, ["b"]),
                step("b", "mean", {"values": [2]}, ["a"]),
            ]
        }
    )
    client = RecordedModelClient(["not json at all", unknown_type, cycle, GOOD])
    planner = ModelFlowPlanner(client, tools(), max_attempts=4)

    plan = await planner.create_plan("Average the price of ACME")

    assert [s.id for s in plan.steps] == ["fetch", "average"]
    feedback = [m.content or "" for m in client.requests[-1].messages if m.role == "user"][1:]
    assert len(feedback) == 3
    assert feedback[0].startswith("That plan is invalid: it is not JSON")
    assert "teleport" in feedback[1]
    assert "cycle" in feedback[2]


@pytest.mark.asyncio
async def test_no_valid_plan_in_n_tries_is_a_typed_error() -> None:
    unknown_tool = json.dumps({"steps": [step("a", "launch_rocket", {})]})
    client = RecordedModelClient([unknown_tool] * 2)
    planner = ModelFlowPlanner(client, tools(), max_attempts=2)

    with pytest.raises(
        ModelPlanningError, match=r"^The model proposed no valid plan for 'x' in 2 tries"
    ):
        await planner.create_plan("x")
    assert client.remaining == 0


def subtasks(*items: dict[str, Any]) -> str:
    return json.dumps({"subtasks": list(items)})


AGENTS = [
    AgentInfo(id="researcher", role="specialist", capabilities=("web_search",)),
    AgentInfo(id="writer", role="executor", capabilities=("writing",)),
]
RESEARCH = {
    "id": "research",
    "kind": "research",
    "description": "Find facts",
    "capabilities": ["web_search"],
}
WRITE = {
    "id": "write",
    "kind": "produce",
    "description": "Write it",
    "capabilities": ["writing"],
    "depends_on": ["research"],
    "inputs": {"facts": "research"},
}


@pytest.mark.asyncio
async def test_the_model_decomposes_and_invalid_subtasks_are_asked_again() -> None:
    later_dependency = subtasks(WRITE, RESEARCH)
    no_validator = subtasks(
        RESEARCH,
        WRITE,
        {"id": "review_1", "kind": "review", "description": "Review", "depends_on": ["write"]},
    )
    client = RecordedModelClient([later_dependency, no_validator, subtasks(RESEARCH, WRITE)])

    result = await ModelDecomposer(client).decompose("Write a report", {"topic": "LLMs"}, AGENTS)

    assert [s.id for s in result] == ["research", "write"]
    assert all(isinstance(s, Subtask) for s in result)
    feedback = [m.content or "" for m in client.requests[-1].messages if m.role == "user"][1:]
    assert "not earlier subtasks" in feedback[0]
    assert "no agent has that role" in feedback[1]


@pytest.mark.asyncio
async def test_no_valid_subtasks_in_n_tries_is_a_typed_error() -> None:
    client = RecordedModelClient([subtasks()] * 3)

    with pytest.raises(ModelDecompositionError, match="no valid subtasks for 'x' in 3 tries"):
        await ModelDecomposer(client).decompose("x", {}, AGENTS)


def test_the_orchestrator_runs_a_model_decomposer_as_its_effect() -> None:
    client = RecordedModelClient([subtasks(RESEARCH, WRITE)])

    def work(task: Any, ctx: Any) -> str:
        return f"{ctx.info.id} did {task.task}"

    with ActorSystem() as system:
        decomposer = cast("ITaskDecomposer", ModelDecomposer(client))  # async decompose
        orchestrator = MultiAgentOrchestrator(system, decomposer=decomposer)
        for info in AGENTS:
            orchestrator.register_agent(info, work)
        result = orchestrator.orchestrate_agents_sync(task="Write a report")

    assert result.status == "completed"
    assert sorted(result.assignments) == ["research", "write"]
