"""Flow basics: the seed's "Basic Enhanced Flow" and "Custom Step Types" examples, with local tools.

The first part plans "Analyze market trends and create report" with the
deterministic planner (two tools match the two tasks, which run in parallel and
are joined into ``final_result``) and executes the plan as a flow actor. The
second part builds the seed's custom plan by hand — a tool step, a human
confirmation (answered by a script here) and a condition on the answer.

Run it: ``actorflow run scenarios/flow_basics.py``
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from actorflow import (
    ActorSystem,
    FlowPlan,
    ScriptedHumanCallback,
    create_default_config,
    create_enhanced_flow,
    create_flow_step,
    generate_flow_id,
)

# -- local tools (deterministic stand-ins for real services) ---------------------------


def analyze_market_trends(industry: str, timeframe: str, task: str) -> dict[str, object]:
    """Analyze market trends for an industry over a timeframe."""
    return {"industry": industry, "timeframe": timeframe, "trend": "growing", "signals": 3}


def create_report(task: str, industry: str = "") -> str:
    """Create a written report."""
    return f"Report on {industry or 'the market'}: {task.lower()}."


def web_search(query: str) -> list[dict[str, str]]:
    """Search the web (here: a fixed index)."""
    return [{"title": f"{query}: overview", "url": "https://example.invalid/1"}]


# -- the seed's step helpers, unchanged but for the import --------------------------------


def create_mcp_tool_step(tool_name: str, arguments: dict[str, object], dependencies=None):  # type: ignore[no-untyped-def]
    """Create MCP tool execution step"""
    return create_flow_step(
        name=f"Execute {tool_name}",
        step_type="mcp_tool",
        parameters={"tool_name": tool_name, "arguments": arguments},
        dependencies=dependencies or [],
    )


def create_human_input_step(message, input_type="input", options=None, dependencies=None):  # type: ignore[no-untyped-def]
    """Create human input step"""
    return create_flow_step(
        name="Human Input Required",
        step_type="human_input",
        parameters={"message": message, "input_type": input_type, "options": options},
        dependencies=dependencies or [],
    )


def create_condition_step(condition, dependencies=None):  # type: ignore[no-untyped-def]
    """Create conditional step"""
    return create_flow_step(
        name="Conditional Check",
        step_type="condition",
        parameters={"condition": condition},
        dependencies=dependencies or [],
    )


async def basic_flow(system: ActorSystem) -> dict[str, object]:
    """The seed's "Basic Enhanced Flow"."""
    flow = create_enhanced_flow(system=system)
    flow.register_tool("analyze_market_trends", analyze_market_trends)
    flow.register_tool("create_report", create_report)
    config = create_default_config()
    config.enable_stream_callbacks = True
    config.enable_human_callbacks = True
    await flow.initialize(config)

    plan = await flow.plan(
        goal="Analyze market trends and create report",
        context={"industry": "technology", "timeframe": "2024"},
    )
    state = await flow.execute(plan)

    return {
        "basic: status": state.status.value,
        "basic: steps": {k: v.status.value for k, v in state.steps.items()},
        "basic: final_result": state.variables.get("final_result"),
        "basic: execution time (s)": round(state.execution_time, 3),
    }


async def custom_flow(system: ActorSystem) -> dict[str, object]:
    """The seed's "Custom Step Types" example."""
    plan = FlowPlan(
        id=generate_flow_id(), name="Custom Workflow", description="Workflow with custom step types"
    )
    search_step = create_mcp_tool_step(
        tool_name="web_search", arguments={"query": "AI trends 2024"}
    )
    confirm_step = create_human_input_step(
        message="Do you want to proceed with analysis?",
        input_type="confirm",
        dependencies=[search_step.id],
    )
    condition_step = create_condition_step(
        condition="context['user_confirmed'] == True", dependencies=[confirm_step.id]
    )
    plan.steps = [search_step, confirm_step, condition_step]

    flow = create_enhanced_flow(system=system)
    flow.register_tool("web_search", web_search)
    human = ScriptedHumanCallback({"Do you want to proceed with analysis?": True})
    flow.set_human_callback(human)
    state = await flow.execute(plan)

    return {
        "custom: status": state.status.value,
        "custom: human was asked": [data.message for data in human.asked],
        "custom: condition": state.steps[condition_step.id].result,
        "custom: search hits": len(state.steps[search_step.id].result),
    }


async def both(system: ActorSystem) -> dict[str, object]:
    """Run both examples."""
    return {**await basic_flow(system), **await custom_flow(system)}


def main(system: ActorSystem) -> Mapping[str, object]:
    """Run the seed's two examples in the given actor system."""
    return asyncio.run(both(system))
