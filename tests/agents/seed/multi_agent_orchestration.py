# The seed's "Multi-Agent Orchestration" example: only the import changed
# (app.flow -> actorflow), and the top-level await wrapped in asyncio.run so it runs.
import asyncio

from actorflow import create_multi_agent_orchestrator, AgentInfo, AgentRole


async def main():
    # Create orchestrator
    orchestrator = create_multi_agent_orchestrator()

    # Register agents
    research_agent = AgentInfo(
        id="research_agent",
        name="Research Specialist",
        role=AgentRole.SPECIALIST,
        capabilities=["web_search", "data_analysis", "summarization"],
        specializations=["academic_research", "market_analysis"],
    )

    writing_agent = AgentInfo(
        id="writing_agent",
        name="Content Writer",
        role=AgentRole.EXECUTOR,
        capabilities=["content_generation", "editing", "formatting"],
        specializations=["technical_writing", "documentation"],
    )

    orchestrator.register_agent(research_agent)
    orchestrator.register_agent(writing_agent)

    # Orchestrate agents for a task
    result = await orchestrator.orchestrate_agents(
        agents=[research_agent, writing_agent],
        task="Create a comprehensive research report on AI trends",
        context={"domain": "artificial_intelligence", "length": "10_pages"},
    )
    print(result.status)
    print(sorted(result.assignments.items()))
    await orchestrator.close()


asyncio.run(main())
