# ruff: noqa
# fmt: off
# The seed's "MCP Integration" example, only the imports changed (app.mcp ->
# actorflow.mcp, app.flow -> actorflow; the seed's snippet uses asyncio without
# importing it). It talks to the MCP server at http://localhost:8081, which the test starts.
import asyncio

from actorflow.mcp import create_production_client
from actorflow import create_enhanced_flow

async def main():
    # Create MCP client
    mcp_client = await create_production_client("http://localhost:8081")
    await mcp_client.connect()
    
    # Create flow with MCP integration
    flow = create_enhanced_flow(mcp_client)
    
    # Plan flow that uses MCP tools
    plan = await flow.plan(
        goal="Process data using MCP tools",
        context={"data_source": "database", "output_format": "report"}
    )
    
    # Execute flow with MCP tool integration
    state = await flow.execute(plan)

asyncio.run(main())
