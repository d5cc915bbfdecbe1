"""The orchestrator: decomposition, assignment by capability and load, the review loop,
crash recovery, determinism and bad input."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from actorflow import ActorSystem, ConfigurationError, StreamCallbackData, UnknownAgentError
from actorflow.agents import (
    ORCHESTRATOR_PATH,
    AgentContext,
    AgentInfo,
    AgentRole,
    AgentTask,
    MultiAgentOrchestrator,
    RoleDecomposer,
    Subtask,
    create_multi_agent_flow,
)
from actorflow.agents.assignment import assign_subtasks
from actorflow.agents.orchestrator import (
    EndOrchestration,
    OrchestrationPlanned,
    OrchestratorRefused,
    PlanOrchestration,
)
from actorflow.messages.system import ActorStopped

SPEC, EXEC, VAL, COORD, MON = (
    AgentRole.SPECIALIST,
    AgentRole.EXECUTOR,
    AgentRole.VALIDATOR,
    AgentRole.COORDINATOR,
    AgentRole.MONITOR,
)


def agent(agent_id: str, role: AgentRole, *caps: str, **extra: Any) -> AgentInfo:
    return AgentInfo(id=agent_id, role=role, capabilities=caps, **extra)


@pytest.fixture
def orchestrator(system: ActorSystem) -> Iterator[MultiAgentOrchestrator]:
    orch = MultiAgentOrchestrator(system, retry_delay=0.0, subtask_timeout=10.0)
    yield orch
    orch.close_sync()


# -- decomposition and assignment (pure) ------------------------------------------------


def test_the_role_decomposer_plans_research_in_parallel_then_a_draft_then_reviews() -> None:
    agents = [
        agent("boss", COORD, "planning"),
        agent("r1", SPEC, "web_search", "data_analysis"),
        agent("r2", SPEC, "web_search", "translation"),
        agent("w", EXEC, "content_generation"),
        agent("v", VAL, "quality_check"),
        agent("m", MON),
    ]

    subtasks = RoleDecomposer(max_revisions=1).decompose("Report", {}, agents)

    assert [(s.id, s.depends_on) for s in subtasks] == [
        ("plan", ()),
        ("research_web_search", ("plan",)),
        ("research_data_analysis", ("plan",)),
        ("research_translation", ("plan",)),
        ("produce", ("research_web_search", "research_data_analysis", "research_translation")),
        ("review_1", ("produce",)),
        ("revise_1", ("review_1",)),
        ("review_2", ("revise_1",)),
    ]
    assert subtasks[6].only_if_rejected == "review_1"
    assert subtasks[6].author_of == "produce"


@pytest.mark.parametrize("roles", [[MON], [VAL], [MON, VAL]])
def test_agents_that_cannot_take_work_are_refused(roles: list[AgentRole]) -> None:
    agents = [agent(f"a{i}", role) for i, role in enumerate(roles)]

    with pytest.raises(ConfigurationError, match="can take work"):
        RoleDecomposer().decompose("x", {}, agents)


def test_assignment_matches_capabilities_then_load_then_order() -> None:
    agents = [
        agent("a", SPEC, "web_search"),
        agent("b", SPEC, "web_search", "data_analysis"),
        agent("c", SPEC, "web_search", max_concurrency=4),
        agent("w", EXEC, "writing"),
    ]
    subtasks = RoleDecomposer().decompose("x", {}, agents)

    idle = assign_subtasks(subtasks, agents, {})
    busy = assign_subtasks(subtasks, agents, {"a": 1, "b": 3})

    # data_analysis only b has; web_search: a first in order while nobody is busy
    assert idle["research_data_analysis"] == "b"
    assert idle["research_web_search"] == "a"
    # a and b are busy; c has 4 slots, so its load is lowest
    assert busy["research_web_search"] == "c"
    assert busy == assign_subtasks(subtasks, agents, {"a": 1, "b": 3})  # deterministic


def test_specializations_named_in_the_context_break_ties() -> None:
    agents = [
        agent("a", SPEC, "web_search", specializations=("finance",)),
        agent("b", SPEC, "web_search", specializations=("academic_research",)),
        agent("w", EXEC),
    ]
    subtasks = RoleDecomposer().decompose("x", {}, agents)

    chosen = assign_subtasks(subtasks, agents, {}, {"domain": "academic research"})

    assert chosen["research_web_search"] == "b"


def test_a_revision_goes_to_the_author_of_the_draft() -> None:
    agents = [agent("w1", EXEC, "writing"), agent("w2", EXEC, "writing"), agent("v", VAL)]
    subtasks = RoleDecomposer().decompose("x", {}, agents)

    chosen = assign_subtasks(subtasks, agents, {"w1": 5})

    assert chosen["produce"] == "w2"
    assert chosen["revise_1"] == chosen["revise_2"] == "w2"


# -- the orchestrator actor -------------------------------------------------------------


def test_the_orchestrator_counts_load_until_an_orchestration_ends(
    orchestrator: MultiAgentOrchestrator, system: ActorSystem
) -> None:
    for info in (agent("a", SPEC, "s"), agent("b", SPEC, "s"), agent("w", EXEC)):
        orchestrator.register_agent(info)

    def plan(oid: str) -> OrchestrationPlanned:
        ask = PlanOrchestration(
            orchestration_id=oid, task="t", context={}, agent_ids=("a", "b", "w")
        )
        reply = system.ask(ORCHESTRATOR_PATH, ask, timeout=5)
        assert isinstance(reply, OrchestrationPlanned)
        return reply

    first, second = plan("o1"), plan("o2")
    system.tell(ORCHESTRATOR_PATH, EndOrchestration(orchestration_id="o1"))
    system.tell(ORCHESTRATOR_PATH, EndOrchestration(orchestration_id="o2"))
    third = plan("o3")

    assert first.assignments["research_s"] == "a"
    assert second.assignments["research_s"] == "b"  # a is busy with o1
    assert third.assignments["research_s"] == "a"  # both ended


def test_planning_for_an_unregistered_agent_is_refused(
    orchestrator: MultiAgentOrchestrator, system: ActorSystem
) -> None:
    _ = orchestrator.system
    ask = PlanOrchestration(orchestration_id="o", task="t", context={}, agent_ids=("ghost",))

    reply = system.ask(ORCHESTRATOR_PATH, ask, timeout=5)

    assert isinstance(reply, OrchestratorRefused)
    assert "register_agent()" in reply.error


# -- orchestrations end to end ----------------------------------------------------------


async def research(task: AgentTask, ctx: AgentContext) -> Any:
    return {"facts": [f"{ctx.info.id} on {task.parameters['task']}"]}


async def write(task: AgentTask, ctx: AgentContext) -> Any:
    inputs = task.parameters["inputs"]
    assert isinstance(inputs, Mapping)
    if task.task == "revise":
        return {"text": inputs["draft"]["text"] + " (revised)", "version": 2}  # type: ignore[index]
    return {"text": f"draft from {sorted(inputs)}", "version": 1}


def strict_reviewer(passing_version: int) -> Any:
    async def review(task: AgentTask, ctx: AgentContext) -> Any:
        work = task.parameters["inputs"]["work"]  # type: ignore[index]
        ok = work["version"] >= passing_version  # type: ignore[index]
        return {"approved": ok, "feedback": "ok" if ok else "needs another pass"}

    return review


AGENTS = [
    {"id": "researcher", "role": "specialist", "capabilities": ["web_search", "data_analysis"]},
    {"id": "writer", "role": "executor", "capabilities": ["content_generation"]},
    {"id": "reviewer", "role": "validator", "capabilities": ["quality_check"]},
]


def run_report(system: ActorSystem, passing_version: int, **options: Any) -> Any:
    behaviours = {
        "researcher": research,
        "writer": write,
        "reviewer": strict_reviewer(passing_version),
    }
    _, orch = create_multi_agent_flow(
        AGENTS, system=system, behaviours=behaviours, retry_delay=0.0, **options
    )
    return orch.orchestrate_agents_sync(AGENTS, "Write a report", {"topic": "LLMs"})


def test_a_rejected_draft_goes_back_to_its_author_and_the_revision_is_approved(
    system: ActorSystem,
) -> None:
    result = run_report(system, passing_version=2)

    assert result.status == "completed"
    assert [(v.round, v.subtask_id, v.approved) for v in result.validations] == [
        (1, "produce", False),
        (2, "revise_1", True),
    ]
    assert result.approved is True
    assert result.is_success
    assert result.final_output == {
        "text": "draft from ['research_data_analysis', 'research_web_search'] (revised)",
        "version": 2,
    }
    statuses = {c.subtask_id: c.status for c in result.contributions["writer"]}
    assert statuses == {"produce": "completed", "revise_1": "completed", "revise_2": "skipped"}


def test_a_draft_rejected_at_every_round_ends_unapproved(system: ActorSystem) -> None:
    result = run_report(system, passing_version=99, max_revisions=1)

    assert result.status == "completed"
    assert [v.approved for v in result.validations] == [False, False]
    assert result.approved is False
    assert not result.is_success
    # The rejection goes to the resolver as a result conflict: the validator's verdict wins.
    [resolution] = result.conflicts
    assert resolution.conflict_id == f"{result.orchestration_id}-rejected"
    assert resolution.winner == "reviewer"
    assert [(a.action, a.agent_id) for a in resolution.actions] == [
        ("accept", "reviewer"),
        ("reject", "writer"),
    ]


def test_the_same_inputs_give_the_same_orchestration() -> None:
    def once() -> Any:
        with ActorSystem() as system:
            result = run_report(system, passing_version=2)
            return (result.assignments, result.final_output, result.validations, result.subtasks)

    assert once() == once()


def test_an_agent_crashing_mid_subtask_is_restarted_and_the_subtask_completes(
    system: ActorSystem,
) -> None:
    crashes: list[str] = []

    async def flaky(task: AgentTask, ctx: AgentContext) -> Any:
        if not await ctx.memory.retrieve("crashed"):
            await ctx.memory.store("crashed", value=True)
            crashes.append(task.task)
            raise RuntimeError("segfault in a library")
        return {"facts": ["recovered"]}

    _, orch = create_multi_agent_flow(
        AGENTS[:2], system=system, behaviours={"researcher": flaky, "writer": write},
        retry_delay=0.0,
    )  # fmt: skip
    result = orch.orchestrate_agents_sync(None, "Report", {})

    assert result.status == "completed"
    assert crashes == ["research"]
    # The crash failed the running subtask, and the restart the one waiting behind it
    # (max_concurrency=1): both were retried, and both completed.
    attempts = [c.attempts for c in result.contributions["researcher"]]
    assert attempts == [2, 2]
    assert all(c.status == "completed" for c in result.contributions["researcher"])
    assert system.actor_statistics("/agents/researcher").restarts == 1


def test_a_subtask_failing_for_good_fails_the_orchestration_with_its_error(
    system: ActorSystem,
) -> None:
    from actorflow import NonRetryableStepError

    async def refuse(task: AgentTask, ctx: AgentContext) -> Any:
        raise NonRetryableStepError("no access to the archive")

    _, orch = create_multi_agent_flow(
        AGENTS[:2], system=system, behaviours={"researcher": refuse, "writer": write},
        retry_delay=0.0,
    )  # fmt: skip
    result = orch.orchestrate_agents_sync(None, "Report", {})

    assert result.status == "failed"
    failed = [c for c in result.contributions["researcher"] if c.status == "failed"]
    assert failed
    assert all(c.attempts == 1 for c in failed)  # deterministic: not retried
    assert "no access to the archive" in (failed[0].error or "")


def test_default_agents_call_the_tools_named_by_their_capabilities(
    orchestrator: MultiAgentOrchestrator,
) -> None:
    orchestrator.register_tool("web_search", lambda task: {"hits": [task.upper()]})
    orchestrator.register_agent(agent("r", SPEC, "web_search", "data_analysis"))
    orchestrator.register_agent(agent("w", EXEC, "content_generation"))

    result = orchestrator.orchestrate_agents_sync(None, "llm trends", {})

    done = {c.subtask_id: c.result for c in result.contributions["r"]}
    assert done["research_web_search"]["tools"] == {"web_search": {"hits": ["LLM TRENDS"]}}  # type: ignore[index]
    assert done["research_data_analysis"]["tools"] == {}  # type: ignore[index]


def test_agents_stream_their_thinking_into_the_orchestration_flow(
    orchestrator: MultiAgentOrchestrator,
) -> None:
    seen: list[StreamCallbackData] = []
    orchestrator.flow.add_stream_callback(seen.append, inline=True)
    orchestrator.register_agent(agent("r", SPEC, "web_search"))
    orchestrator.register_agent(agent("w", EXEC))

    result = orchestrator.orchestrate_agents_sync(None, "t", {})
    orchestrator.flow.wait_streams_idle_sync()

    thinking = [e for e in seen if e.type.value == "thinking" and e.flow_id == result.flow_id]
    assert {(e.step_id, e.source) for e in thinking} == {
        ("research_web_search", "/agents/r"),
        ("produce", "/agents/w"),
    }


# -- bad input --------------------------------------------------------------------------


def test_bad_calls_are_refused_with_clear_errors(orchestrator: MultiAgentOrchestrator) -> None:
    orchestrator.register_agent(agent("w", EXEC))

    with pytest.raises(ConfigurationError, match="needs a task"):
        orchestrator.orchestrate_agents_sync(None, "  ", {})
    with pytest.raises(ConfigurationError, match="JSON data"):
        orchestrator.orchestrate_agents_sync(None, "t", {"when": object()})
    with pytest.raises(ConfigurationError, match="registered already"):
        orchestrator.register_agent(agent("w", SPEC))
    with pytest.raises(ConfigurationError, match="BaseAgent subclass"):
        orchestrator.register_agent(agent("x", EXEC), 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Roles are"):
        orchestrator.register_agent({"id": "y", "role": "boss"})
    with pytest.raises(ConfigurationError, match="can take work"):
        orchestrator.orchestrate_agents_sync([agent("m", MON)], "t", {})


def test_unregistering_an_agent_stops_its_actor(
    orchestrator: MultiAgentOrchestrator, system: ActorSystem
) -> None:
    orchestrator.register_agent(agent("w", EXEC))
    stopped = threading.Event()
    system.subscribe(
        lambda e: stopped.set() if isinstance(e, ActorStopped) and e.path == "/agents/w" else None
    )

    assert orchestrator.unregister_agent("w")
    assert stopped.wait(5)
    assert not orchestrator.unregister_agent("w")
    assert [a.id for a in orchestrator.agents] == []


def test_an_owned_system_is_shut_down_by_close() -> None:
    orch = MultiAgentOrchestrator()
    orch.register_agent(agent("w", EXEC))
    system = orch.system

    asyncio.run(orch.close())

    assert not system.is_running


def test_planning_errors_from_the_actor_are_raised_typed(
    orchestrator: MultiAgentOrchestrator, system: ActorSystem
) -> None:
    orchestrator.register_agent(agent("w", EXEC))
    orchestrator._agents["ghost"] = agent("ghost", EXEC)  # registered here, not in the actor

    with pytest.raises(UnknownAgentError, match="ghost"):
        orchestrator.orchestrate_agents_sync(None, "t", {})


# -- pluggable decomposers --------------------------------------------------------------


class AsyncDecomposer:
    """Stands for a model-backed decomposer: async, and it may return nonsense."""

    def __init__(self, answer: list[Subtask] | Exception) -> None:
        self.answer = answer

    async def decompose(self, task: str, context: Mapping[str, Any], agents: Any) -> list[Subtask]:
        await asyncio.sleep(0)  # yields to the loop, as a model call would
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_an_async_decomposer_runs_as_the_orchestrators_effect(system: ActorSystem) -> None:
    subtasks = [
        Subtask(id="look", kind="research", description="look", capabilities=("s",)),
        Subtask(id="make", kind="produce", description="make", depends_on=("look",),
                inputs={"look": "look"}),
    ]  # fmt: skip
    orch = MultiAgentOrchestrator(system, decomposer=AsyncDecomposer(subtasks), retry_delay=0)
    orch.register_agent(agent("r", SPEC, "s"))
    orch.register_agent(agent("w", EXEC))

    result = orch.orchestrate_agents_sync(None, "t", {})

    assert result.status == "completed"
    assert result.assignments == {"look": "r", "make": "w"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "no subtask"),
        ([Subtask(id="a b", kind="produce", description="x")], "unique identifier"),
        ([Subtask(id="a", kind="produce", description="x", depends_on=("z",))], "earlier"),
        (RuntimeError("model unavailable"), "model unavailable"),
    ],
)
def test_a_bad_or_failing_async_decomposer_is_refused_with_its_reason(
    system: ActorSystem, answer: Any, message: str
) -> None:
    orch = MultiAgentOrchestrator(system, decomposer=AsyncDecomposer(answer))
    orch.register_agent(agent("w", EXEC))

    with pytest.raises(ConfigurationError, match=message):
        orch.orchestrate_agents_sync(None, "t", {})


def test_a_temporary_agent_is_not_restarted_and_its_subtasks_fail_clearly(
    system: ActorSystem,
) -> None:
    from actorflow.runtime.supervision import RestartType

    async def crash(task: AgentTask, ctx: AgentContext) -> Any:
        raise RuntimeError("boom")

    orch = MultiAgentOrchestrator(system, retry_delay=0.0)
    orch.register_agent(agent("r", SPEC, "s"), crash, restart=RestartType.TEMPORARY)
    orch.register_agent(agent("w", EXEC), write)

    result = orch.orchestrate_agents_sync(None, "t", {})

    [research] = result.contributions["r"]
    assert result.status == "failed"
    assert research.status == "failed"
    # The crash, then retries until one finds no agent (a retry that reaches the agent
    # while it is being stopped is told it stopped, and is retried too).
    assert research.attempts in (2, 3)
    assert "unknown_recipient" in (research.error or "")


def test_registered_agents_join_the_hub_and_get_broadcasts(
    orchestrator: MultiAgentOrchestrator, system: ActorSystem
) -> None:
    from actorflow.agents import AgentCommunicationHub

    orchestrator.register_agent(agent("r", SPEC, "s"))
    orchestrator.register_agent(agent("w", EXEC))
    hub = AgentCommunicationHub(system)

    receivers = asyncio.run(hub.broadcast("boss", {"action": "status"}))
    orchestrator.unregister_agent("w")
    after = asyncio.run(hub.broadcast("boss", {"action": "status"}))

    assert sorted(receivers) == ["r", "w"]
    assert sorted(after) == ["r"]
