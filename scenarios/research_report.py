"""Research report: three agents write a report; the reviewer sends the first draft back once.

The seed's multi-agent example with real behaviours. The orchestrator (at
``/agents/orchestrator``) splits the task by role and capability: one research subtask
per researcher capability (run in parallel), a draft by the writer after both, then
review rounds. The reviewer rejects the first draft (it has no sources section), so the
draft goes back to the writer with the review, and the second draft is approved.

On the way, the researcher crashes once in the middle of a subtask (a bug in its
handler): its supervisor restarts it, its memory survives, and the flow retries the
subtask. All of it runs as one flow of ``agent`` steps, so ``actorflow log flow latest``
shows the whole orchestration afterwards.

Run it: ``actorflow run scenarios/research_report.py``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actorflow import ActorSystem
from actorflow.agents import AgentContext, AgentTask, BaseAgent, create_multi_agent_flow

AGENTS = [
    {
        "id": "researcher",
        "name": "Research Agent",
        "role": "specialist",
        "capabilities": ["web_search", "data_analysis"],
        "specializations": ["academic_research"],
    },
    {
        "id": "writer",
        "name": "Writing Agent",
        "role": "executor",
        "capabilities": ["content_generation", "editing"],
        "specializations": ["technical_writing"],
    },
    {
        "id": "reviewer",
        "name": "Review Agent",
        "role": "validator",
        "capabilities": ["quality_check", "fact_verification"],
        "specializations": ["content_review"],
    },
]

SOURCES = {
    "web_search": ["Attention Is All You Need (2017)", "Scaling Laws for LMs (2020)"],
    "data_analysis": ["parameter counts grew 1000x in 5 years", "benchmarks saturate faster"],
}


class Researcher(BaseAgent):
    """Finds facts per capability; crashes the first time it analyses data."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        subtask = task.parameters["subtask"]
        assert isinstance(subtask, Mapping)
        capability = str(subtask["capabilities"][0])  # type: ignore[index]
        ctx.think(f"searching with {capability}")
        crashed = await ctx.memory.retrieve("crashed", default=False)
        if capability == "data_analysis" and not crashed:
            await ctx.memory.store("crashed", value=True)
            raise RuntimeError("the analysis library lost its cache")  # a bug: a crash
        return {"capability": capability, "findings": SOURCES[capability]}


class Writer(BaseAgent):
    """Writes a draft from the research; a revision adds what the review asked for."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        inputs = task.parameters["inputs"]
        assert isinstance(inputs, Mapping)
        topic = task.parameters["context"]["topic"]  # type: ignore[index]
        if task.task == "produce":
            findings = [f for research in inputs.values() for f in research["findings"]]
            sections = ["Introduction", "Findings", "Conclusion"]
            ctx.say(f"first draft on {topic}: {len(findings)} findings")
            return {"title": f"Report: {topic}", "sections": sections, "findings": findings}
        draft, review = dict(inputs["draft"]), inputs["review"]
        draft["sections"] = [*draft["sections"], "Sources"]
        draft["revised_for"] = review["feedback"]
        ctx.say("revised draft: added a sources section")
        return draft


class Reviewer(BaseAgent):
    """Approves a draft only if it has a sources section."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        draft = task.parameters["inputs"]["work"]  # type: ignore[index]
        ok = "Sources" in draft["sections"]
        ctx.think("checking structure and sources")
        return {"approved": ok, "feedback": "fine" if ok else "add a sources section"}


async def main(system: ActorSystem) -> Mapping[str, object]:
    """Run the report task; return what the orchestration did."""
    _, orchestrator = create_multi_agent_flow(
        AGENTS,
        system=system,
        behaviours={"researcher": Researcher, "writer": Writer, "reviewer": Reviewer},
        subtask_timeout=30.0,
    )
    result = await orchestrator.orchestrate_agents(
        agents=AGENTS,
        task="Create comprehensive AI research report",
        context={"topic": "Large Language Models", "length": "15_pages", "audience": "technical"},
    )
    report = result.final_output
    assert isinstance(report, Mapping)
    ran = [c for cs in result.contributions.values() for c in cs if c.status == "completed"]
    return {
        "status": result.status,
        "approved": result.approved,
        "subtasks run": sorted(c.subtask_id for c in ran),
        "reviews": [(v.round, v.approved) for v in result.validations],
        "researcher attempts": {
            c.subtask_id: c.attempts for c in result.contributions["researcher"]
        },
        "report sections": list(report["sections"]),
        "findings": len(report["findings"]),
    }
