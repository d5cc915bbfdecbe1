"""The orchestrator actor at ``/agents/orchestrator``: the registry of agents and their
load, and the planning of multi-agent tasks (decomposition and assignment).

It never runs work itself: ``PlanOrchestration`` is answered with the subtasks and who
does each (``OrchestrationPlanned``), and the facade runs them as a flow of ``agent``
steps, so retries, timeouts, checkpoints, stream events and replay come from the flow
core. The load of an agent is the number of subtasks assigned to it by orchestrations
that have not ended (``EndOrchestration``).
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from pydantic import JsonValue, ValidationError

from actorflow.agents._registry import OrchestratorState
from actorflow.agents.assignment import assign_subtasks
from actorflow.agents.decompose import ITaskDecomposer, RoleDecomposer, Subtask, check_subtasks
from actorflow.agents.models import AgentInfo
from actorflow.errors import ActorflowError, ConfigurationError
from actorflow.ids import CorrelationId
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.runtime.behaviour import Behaviour
from actorflow.runtime.context import Context
from actorflow.runtime.effect_messages import EffectCompleted, EffectFailed

__all__ = [
    "AgentRegistered",
    "AgentsListed",
    "EndOrchestration",
    "ListAgents",
    "OrchestrationPlanned",
    "Orchestrator",
    "OrchestratorRefused",
    "PlanOrchestration",
    "RegisterAgent",
    "UnregisterAgent",
]


class RegisterAgent(Message):
    """Add an agent to the registry (replacing an entry with the same id); answered with
    :class:`AgentRegistered`."""

    kind: Literal["agents.register"] = "agents.register"
    info: AgentInfo


class UnregisterAgent(Message):
    """Remove an agent from the registry; answered with :class:`AgentRegistered` (with
    ``registered`` false)."""

    kind: Literal["agents.unregister"] = "agents.unregister"
    agent_id: str


class AgentRegistered(Message):
    """The registry changed for ``agent_id``."""

    kind: Literal["agents.registered"] = "agents.registered"
    agent_id: str
    registered: bool = True


class ListAgents(Message):
    """Ask for the registry; answered with :class:`AgentsListed`."""

    kind: Literal["agents.list"] = "agents.list"


class AgentsListed(Message):
    """The registered agents (in registration order) and their loads."""

    kind: Literal["agents.listed"] = "agents.listed"
    agents: tuple[AgentInfo, ...]
    loads: dict[str, int]


class PlanOrchestration(Message):
    """Decompose ``task`` for the agents ``agent_ids`` and assign the subtasks; answered
    with :class:`OrchestrationPlanned` or :class:`OrchestratorRefused`."""

    kind: Literal["agents.plan_orchestration"] = "agents.plan_orchestration"
    orchestration_id: str
    task: str
    context: dict[str, JsonValue]
    agent_ids: tuple[str, ...]


class OrchestrationPlanned(Message):
    """The subtasks of an orchestration, who does each, and the agents as registered."""

    kind: Literal["agents.orchestration_planned"] = "agents.orchestration_planned"
    orchestration_id: str
    subtasks: tuple[Subtask, ...]
    assignments: dict[str, str]
    agents: tuple[AgentInfo, ...]


class EndOrchestration(Message):
    """An orchestration ended: its subtasks no longer count in the agents' loads."""

    kind: Literal["agents.end_orchestration"] = "agents.end_orchestration"
    orchestration_id: str


class OrchestratorRefused(Message):
    """A request the orchestrator could not carry out, and why."""

    kind: Literal["agents.orchestrator_refused"] = "agents.orchestrator_refused"
    error_type: str
    error: str


@dataclass(frozen=True, slots=True)
class _Planning:
    envelope: Envelope
    request: PlanOrchestration
    agents: tuple[AgentInfo, ...]


AsyncDecompose = Callable[
    [str, Mapping[str, JsonValue], Sequence[AgentInfo]], Awaitable[list[Subtask]]
]


async def _decompose_as_data(
    decompose: AsyncDecompose,
    task: str,
    context: Mapping[str, JsonValue],
    agents: Sequence[AgentInfo],
) -> JsonValue:
    subtasks = await decompose(task, context, agents)
    return [s.model_dump(mode="json") for s in subtasks]


def _sync_subtasks(result: list[Subtask] | Awaitable[list[Subtask]]) -> list[Subtask]:
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()
        raise ConfigurationError(
            "The decomposer's decompose() returned an awaitable from a plain method; "
            "define it with 'async def' so the orchestrator runs it as its effect."
        )
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


DECOMPOSE_TIMEOUT = 120.0
"""Seconds an ``async`` decomposer may take before its planning is refused."""


class Orchestrator(Behaviour):
    """Keeps the registry and the loads (in its :class:`OrchestratorState`); plans
    orchestrations (pure decisions).

    Args:
        decomposer: splits tasks into subtasks (default: :class:`RoleDecomposer`).
        state: the registry and loads; give one in the recipe so a restart keeps them.
        decompose_timeout: seconds an ``async`` decomposer may take.
    """

    def __init__(
        self,
        decomposer: ITaskDecomposer | None = None,
        state: OrchestratorState | None = None,
        *,
        decompose_timeout: float = DECOMPOSE_TIMEOUT,
    ) -> None:
        self.decomposer: ITaskDecomposer = decomposer or RoleDecomposer()
        self.decompose_timeout = decompose_timeout
        self.decomposing: dict[CorrelationId, _Planning] = {}
        """Plannings waiting for an async decomposer, by effect id."""
        self.state = state if state is not None else OrchestratorState()
        """The registry and the loads (pass one in the recipe so they outlive restarts)."""

    @property
    def agents(self) -> dict[str, AgentInfo]:
        """The registry: agent id -> its entry."""
        return self.state.agents

    @property
    def running(self) -> dict[str, Counter[str]]:
        """Orchestration id -> subtasks per agent."""
        return self.state.running

    def loads(self) -> dict[str, int]:
        """Subtasks assigned per agent by orchestrations under way."""
        return self.state.loads()

    def on_register_agent(self, msg: RegisterAgent, ctx: Context) -> None:
        """Add or replace a registry entry."""
        self.agents[msg.info.id] = msg.info
        self._reply(ctx, AgentRegistered(agent_id=msg.info.id))

    def on_unregister_agent(self, msg: UnregisterAgent, ctx: Context) -> None:
        """Remove a registry entry."""
        self.agents.pop(msg.agent_id, None)
        self._reply(ctx, AgentRegistered(agent_id=msg.agent_id, registered=False))

    def on_list_agents(self, msg: ListAgents, ctx: Context) -> None:
        """Answer with the registry."""
        ctx.reply(AgentsListed(agents=tuple(self.agents.values()), loads=self.loads()))

    def on_plan_orchestration(self, msg: PlanOrchestration, ctx: Context) -> None:
        """Decompose and assign; the assigned subtasks count in the loads until the end.

        An ``async`` decomposer (a model's) runs as this actor's effect, so the actor goes
        on taking messages meanwhile; a plain one runs here and must be quick.
        """
        missing = [a for a in msg.agent_ids if a not in self.agents]
        if missing:
            ctx.reply(OrchestratorRefused(
                error_type="UnknownAgentError",
                error=f"Agents {missing} are not registered with the orchestrator; call "
                "register_agent() for each first.",
            ))  # fmt: skip
            return
        agents = tuple(self.agents[a] for a in msg.agent_ids)
        assert ctx.envelope is not None
        decompose = self.decomposer.decompose
        if inspect.iscoroutinefunction(decompose):
            work = partial(_decompose_as_data, decompose, msg.task, msg.context, agents)
            effect_id = ctx.run_effect(work, name="decompose", timeout=self.decompose_timeout)
            self.decomposing[effect_id] = _Planning(ctx.envelope, msg, agents)
            return
        try:
            subtasks = check_subtasks(_sync_subtasks(decompose(msg.task, msg.context, agents)))
        except ActorflowError as exc:
            ctx.reply(OrchestratorRefused(error_type=type(exc).__name__, error=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a decomposer's bug is refused, not a crash
            ctx.reply(OrchestratorRefused(
                error_type=type(exc).__name__,
                error=f"The decomposer failed: {type(exc).__name__}: {_first_line(exc)}",
            ))  # fmt: skip
            return
        self._assign(_Planning(ctx.envelope, msg, agents), subtasks, ctx)

    def on_effect_completed(self, msg: EffectCompleted, ctx: Context) -> None:
        """An async decomposer answered: check its subtasks and assign them."""
        planning = self.decomposing.pop(msg.effect_id, None)
        if planning is None:
            return
        try:
            raw = msg.result if isinstance(msg.result, list) else []
            subtasks = check_subtasks([Subtask.model_validate(item) for item in raw])
        except (ActorflowError, ValidationError) as exc:
            refusal = OrchestratorRefused(
                error_type="ConfigurationError",
                error=f"The decomposer's subtasks are invalid: {_first_line(exc)}",
            )
            ctx.reply(refusal, to=planning.envelope)
            return
        self._assign(planning, subtasks, ctx)

    def on_effect_failed(self, msg: EffectFailed, ctx: Context) -> None:
        """An async decomposer failed or timed out: the planning is refused with its error."""
        planning = self.decomposing.pop(msg.effect_id, None)
        if planning is not None:
            error = msg.error
            refusal = OrchestratorRefused(
                error_type=error.error_type.rsplit(".", 1)[-1],
                error=f"The decomposer failed: {error.message}",
            )
            ctx.reply(refusal, to=planning.envelope)

    def _assign(self, planning: _Planning, subtasks: list[Subtask], ctx: Context) -> None:
        msg, agents = planning.request, planning.agents
        try:
            assignments = assign_subtasks(subtasks, agents, self.loads(), msg.context)
        except ActorflowError as exc:
            refusal = OrchestratorRefused(error_type=type(exc).__name__, error=str(exc))
            ctx.reply(refusal, to=planning.envelope)
            return
        self.running[msg.orchestration_id] = Counter(assignments.values())
        planned = OrchestrationPlanned(
            orchestration_id=msg.orchestration_id,
            subtasks=tuple(subtasks),
            assignments=assignments,
            agents=agents,
        )
        ctx.reply(planned, to=planning.envelope)

    def on_end_orchestration(self, msg: EndOrchestration, ctx: Context) -> None:
        """Release the loads of an orchestration; one still being planned (its asker gave
        up) is dropped, so its plan is never recorded."""
        self.running.pop(msg.orchestration_id, None)
        for effect_id, planning in list(self.decomposing.items()):
            if planning.request.orchestration_id == msg.orchestration_id:
                del self.decomposing[effect_id]

    @staticmethod
    def _reply(ctx: Context, message: Message) -> None:
        env = ctx.envelope
        if env is not None and (env.reply_to or env.sender):
            ctx.reply(message)
