"""Model agents: a model plans the flow, a researcher model with a tool and a writer model do it.

``ModelFlowPlanner`` asks the model for a plan (structured output, checked like any
plan): a research step for the agent at ``/agents/researcher``, then a writing step for
``/agents/writer`` that gets the research. Both agents are ``ModelAgent`` actors: the
researcher's model calls the ``search_papers`` tool (run as an actorflow tool, with
TOOL_USE / TOOL_RESULT events), then answers; the writer's answer streams as TEXT
events. Every model call is journaled as a ``model`` effect (request, response, usage).

By default the models' answers are recorded ones (``RECORDINGS``, served by a
``RecordedModelClient``), so the scenario runs offline and always the same way. With
``--live`` it asks the OpenAI-compatible endpoint configured by ``ACTORFLOW_MODEL``,
``ACTORFLOW_MODEL_BASE_URL`` and ``ACTORFLOW_MODEL_API_KEY`` instead (needs
``pip install actorflow[openai]``); the key is redacted from the journal and the logs.

Run it: ``actorflow run scenarios/model_agents.py`` (or ``... model_agents.py --live``)
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from actorflow import ActorSystem, StreamCallbackData, StreamCallbackType
from actorflow.errors import ConfigurationError
from actorflow.flow import EnhancedFlow
from actorflow.flow.steps import ToolRegistry
from actorflow.messages import EffectRecorded, Message
from actorflow.models import (
    MODEL_EFFECT,
    ModelAgent,
    ModelClient,
    ModelFlowPlanner,
    OpenAIModelClient,
    RecordedModelClient,
)
from actorflow.streams import subscribe

GOAL = "Research recent trends in language models, then write a short brief"
CONTEXT = {"topic": "language models", "audience": "engineers"}

RESEARCHER = {
    "id": "researcher",
    "name": "Researcher",
    "role": "specialist",
    "capabilities": ["research", "papers"],
}
WRITER = {
    "id": "writer",
    "name": "Writer",
    "role": "executor",
    "capabilities": ["writing", "brief"],
}

PLAN = {
    "name": "Language model brief",
    "steps": [
        {
            "id": "research",
            "name": "Research the trends",
            "type": "agent",
            "parameters": {
                "agent": "/agents/researcher",
                "task": "research",
                "arguments": {"topic": "language models"},
            },
        },
        {
            "id": "write",
            "name": "Write the brief",
            "type": "agent",
            "dependencies": ["research"],
            "parameters": {
                "agent": "/agents/writer",
                "task": "write_brief",
                "arguments": {"notes": "${results['research']}", "words": 60},
            },
        },
    ],
}

PAPERS = {
    "language models": [
        "Mixture-of-experts models cut inference cost per token",
        "Long-context models read whole code bases",
        "Small distilled models run on laptops",
    ]
}

RECORDINGS: list[dict[str, Any]] = [
    # 1. the planner's call
    {
        "content": json.dumps(PLAN),
        "usage": {"prompt_tokens": 410, "completion_tokens": 120, "total_tokens": 530},
    },
    # 2. the researcher's model asks for the tool
    {
        "content": "",
        "thinking": "I should look the papers up first.",
        "tool_calls": [
            {"id": "call_1", "name": "search_papers", "arguments": {"topic": "language models"}}
        ],
        "usage": {"prompt_tokens": 150, "completion_tokens": 20, "total_tokens": 170},
    },
    # 3. ... and answers with the tool's result
    {
        "content": "Three trends: mixture-of-experts, long context, small distilled models.",
        "usage": {"prompt_tokens": 230, "completion_tokens": 18, "total_tokens": 248},
    },
    # 4. the writer's answer
    {
        "content": "Brief: language models get cheaper (mixture-of-experts), read more "
        "(long context) and run anywhere (small distilled models).",
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    },
]
"""The models' answers, in the order the run asks for them."""

_live = False


def configure(args: list[str]) -> None:
    """``--live``: ask the configured endpoint instead of the recordings."""
    global _live  # noqa: PLW0603 - the scenario's one option
    unknown = [a for a in args if a != "--live"]
    if unknown:
        raise ConfigurationError(f"model_agents.py takes only --live, got {unknown!r}.")
    _live = "--live" in args


def search_papers(topic: str) -> list[str]:
    """Search recent papers about a topic; return their findings."""
    return PAPERS.get(topic.lower(), [])


def client_for(system: ActorSystem) -> ModelClient:
    """The model client of this run: the live endpoint or the recordings."""
    if _live:
        return OpenAIModelClient(system=system, clock=system.clock)
    return RecordedModelClient(RECORDINGS, system=system)


async def main(system: ActorSystem) -> Mapping[str, object]:
    """Plan with the model, run the plan with two model agents; return what happened."""
    client = client_for(system)
    events: list[StreamCallbackData] = []
    finished = threading.Event()

    def on_event(event: StreamCallbackData) -> None:
        events.append(event)
        if event.is_last:
            finished.set()

    calls: list[EffectRecorded] = []

    def on_system_event(event: Message) -> None:
        if isinstance(event, EffectRecorded) and event.effect == MODEL_EFFECT:
            calls.append(event)

    system.subscribe(on_system_event)
    subscribe(system, on_event)
    tools = ToolRegistry()
    tools.register("search_papers", search_papers)
    system.spawn(
        ModelAgent.recipe(
            RESEARCHER,
            client,
            tools=tools,
            system_prompt=("Find facts with your tools; answer with the findings in one sentence."),
        ),
        "researcher",
    )
    system.spawn(ModelAgent.recipe(WRITER, client, system_prompt="Write crisp briefs."), "writer")

    flow = EnhancedFlow(system=system)
    flow.register_agent("/agents/researcher", RESEARCHER["capabilities"])  # type: ignore[arg-type]
    flow.register_agent("/agents/writer", WRITER["capabilities"])  # type: ignore[arg-type]
    flow.planner = ModelFlowPlanner(client, flow.executor.tools, flow.agents, system=system)
    plan = await flow.plan(GOAL, dict(CONTEXT))
    state = await flow.execute(plan)
    await asyncio.to_thread(finished.wait, 10)

    mine = [e for e in events if e.flow_id == plan.id]
    usage = [c.value["usage"] for c in calls if isinstance(c.value, dict) and "usage" in c.value]
    return {
        "status": state.status.value,
        "planner": plan.metadata.get("planner"),
        "plan": [s.id for s in plan.steps],
        "research": state.steps["research"].result,
        "brief": state.steps["write"].result,
        "tools used": [
            e.metadata.get("tool") for e in mine if e.type is StreamCallbackType.TOOL_USE
        ],
        "tool results": [e.content for e in mine if e.type is StreamCallbackType.TOOL_RESULT],
        "thinking": [e.content for e in mine if e.type is StreamCallbackType.THINKING],
        "text events by agent": dict(
            sorted(Counter(e.source for e in mine if e.type is StreamCallbackType.TEXT).items())
        ),
        "model calls by actor": dict(sorted(Counter(c.actor for c in calls).items())),
        "tokens": sum(u["total_tokens"] for u in usage if isinstance(u, dict)),  # type: ignore[misc]
    }
