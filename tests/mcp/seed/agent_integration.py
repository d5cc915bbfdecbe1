# ruff: noqa
# fmt: off
# The seed's "Agent Integration" example with an MCP client from the seed's
# create_production_client: only the imports changed (app.agents -> actorflow.agents,
# app.flow -> actorflow, app.mcp -> actorflow.mcp); the lines after the class use it
# against the MCP server whose URL the test passes in ACTORFLOW_TEST_MCP_URL.
import asyncio
import os

from actorflow.agents import BaseAgent
from actorflow import create_enhanced_flow
from actorflow.mcp import create_production_client


class FlowEnabledAgent(BaseAgent):
    def __init__(self, mcp_client):
        super().__init__()
        self.flow = create_enhanced_flow(mcp_client)

    async def execute_complex_task(self, task_description: str):
        # Use enhanced flow for complex task execution
        plan = await self.flow.plan(task_description)
        state = await self.flow.execute(plan)
        return state.variables.get("final_result")


async def main():
    mcp_client = await create_production_client(os.environ["ACTORFLOW_TEST_MCP_URL"])
    await mcp_client.connect()
    agent = FlowEnabledAgent(mcp_client)
    result = await agent.execute_complex_task("Research the actor model, then write a report")
    state = await agent.flow.get_state()
    print(f"steps: {[(s.id, s.parameters.get('tool_name')) for s in state.plan.steps]}")
    print(f"status: {state.status.value}")
    print(result)
    await agent.flow.close()
    await mcp_client.close()


asyncio.run(main())
