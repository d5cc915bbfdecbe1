# The seed's "Agent Integration" example: only the imports changed (app.agents ->
# actorflow.agents, app.flow -> actorflow); the lines after the class use it.
import asyncio

from actorflow.agents import BaseAgent
from actorflow import create_enhanced_flow


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
    agent = FlowEnabledAgent(None)
    result = await agent.execute_complex_task("Analyze data and write report")
    state = await agent.flow.get_state()
    print(f"final_result: {result!r}")
    print(f"status: {state.status.value}, steps completed: {len(state.completed_steps)}")
    await agent.flow.close()


asyncio.run(main())
