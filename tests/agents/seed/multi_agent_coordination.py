# The seed's "Multi-Agent Coordination" example: only the import changed
# (app.flow -> actorflow); the seed calls asyncio.run without importing asyncio.
import asyncio

from actorflow import create_multi_agent_flow, AgentInfo, AgentRole

async def main():
    # Define agents
    agents = [
        {
            "id": "researcher",
            "name": "Research Agent",
            "role": "specialist",
            "capabilities": ["web_search", "data_analysis"],
            "specializations": ["academic_research"]
        },
        {
            "id": "writer", 
            "name": "Writing Agent",
            "role": "executor",
            "capabilities": ["content_generation", "editing"],
            "specializations": ["technical_writing"]
        },
        {
            "id": "reviewer",
            "name": "Review Agent", 
            "role": "validator",
            "capabilities": ["quality_check", "fact_verification"],
            "specializations": ["content_review"]
        }
    ]
    
    # Create multi-agent flow
    flow, orchestrator = create_multi_agent_flow(agents)
    
    # Orchestrate agents for complex task
    result = await orchestrator.orchestrate_agents(
        agents=agents,
        task="Create comprehensive AI research report",
        context={
            "topic": "Large Language Models",
            "length": "15_pages",
            "audience": "technical",
            "deadline": "2024-12-31"
        }
    )
    
    print(f"Multi-agent task completed: {result}")

asyncio.run(main())
