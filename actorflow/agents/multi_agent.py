"""The seed's multi-agent API: :class:`MultiAgentOrchestrator`,
:func:`create_multi_agent_orchestrator` and :func:`create_multi_agent_flow`.

``register_agent`` spawns the agent's actor at ``/agents/<id>`` (its behaviour, or
:class:`DefaultAgent`) and enters it in the orchestrator actor's registry.
``orchestrate_agents`` asks the orchestrator actor to decompose the task and assign the
subtasks, runs them as a flow of ``agent`` steps (its ``flow``, so stream callbacks on
it see the orchestration), and reads the result back from the flow's state.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from loguru import logger
from pydantic import JsonValue

from actorflow.agents._orchestration import orchestration_plan, orchestration_result
from actorflow.agents._owned import SystemHandle, ensure_actor
from actorflow.agents._registry import OrchestratorState
from actorflow.agents.base import BaseAgent
from actorflow.agents.communication import JoinHub, LeaveHub
from actorflow.agents.conflicts import Conflict, ConflictType
from actorflow.agents.decompose import ITaskDecomposer, RoleDecomposer
from actorflow.agents.default import AgentFunction, DefaultAgent, FunctionAgent
from actorflow.agents.hub import ensure_hub
from actorflow.agents.models import AgentInfo, agent_info
from actorflow.agents.orchestrator import (
    DECOMPOSE_TIMEOUT,
    EndOrchestration,
    OrchestrationPlanned,
    Orchestrator,
    OrchestratorRefused,
    PlanOrchestration,
    RegisterAgent,
    UnregisterAgent,
)
from actorflow.agents.paths import AGENTS_PATH, ORCHESTRATOR_PATH, agent_path
from actorflow.agents.resolver import ConflictResolver
from actorflow.agents.results import OrchestrationResult
from actorflow.errors import ActorflowError, ConfigurationError, UnknownAgentError
from actorflow.flow.facade import EnhancedFlow
from actorflow.flow.jsondata import to_json_data
from actorflow.flow.state import InMemoryMemoryManager
from actorflow.flow.steps import ToolRegistry
from actorflow.runtime.behaviour import Recipe, recipe
from actorflow.runtime.mailbox import MailboxConfig
from actorflow.runtime.supervision import RestartType
from actorflow.runtime.system import ActorSystem

__all__ = [
    "AgentBehaviour",
    "MultiAgentOrchestrator",
    "create_multi_agent_flow",
    "create_multi_agent_orchestrator",
]

AgentBehaviour = type[BaseAgent] | Recipe | AgentFunction
"""What an agent does: a ``BaseAgent`` subclass (built with ``(info, memory=...)``), a
ready ``Recipe``, or a function ``(task, ctx) -> result``."""

T = TypeVar("T")
_PLAN_TIMEOUT = DECOMPOSE_TIMEOUT + 30.0
"""Seconds to wait for a plan: longer than the orchestrator gives an async decomposer, so
its refusal (with the decomposer's error) comes back rather than an ask timeout."""
_ids = itertools.count(1)
_MAX_RETRIES = 100  # a flow step's limit


class MultiAgentOrchestrator:
    """Registers agents and runs multi-agent tasks (see the module docstring).

    Args:
        system: the actor system to use (embedding); default: one of its own, started on
            first use and shut down by :meth:`close`.
        decomposer: splits tasks into subtasks (default: :class:`RoleDecomposer`).
        max_revisions: how often a rejected draft goes back to its author (for the
            default decomposer).
        subtask_timeout: seconds one attempt of a subtask may take.
        max_retries: retries of a failed subtask (an agent crash, a timeout).
        retry_delay: seconds before the first retry of a subtask (then doubled).

    Raises:
        ConfigurationError: ``subtask_timeout`` is not a finite number > 0,
            ``max_retries`` not an int from 0 to 100, or ``retry_delay`` not a finite
            number >= 0.
    """

    def __init__(
        self,
        system: ActorSystem | None = None,
        *,
        decomposer: ITaskDecomposer | None = None,
        max_revisions: int = 2,
        subtask_timeout: float = 300.0,
        max_retries: int = 2,
        retry_delay: float = 1.0,
    ) -> None:
        _check_options(subtask_timeout, max_retries, retry_delay)
        self._handle = SystemHandle(system)
        self.decomposer = decomposer or RoleDecomposer(max_revisions)
        self.subtask_timeout = subtask_timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.tools = ToolRegistry()
        """Tools default agents call by capability name (see :class:`DefaultAgent`)."""
        self.memory = InMemoryMemoryManager()
        """Where the agents registered here keep their memory (it outlives restarts)."""
        self._agents: dict[str, AgentInfo] = {}
        self._spawned: set[str] = set()
        self._flow: EnhancedFlow | None = None
        self._lock = threading.Lock()

    # -- the system -------------------------------------------------------------------

    @property
    def system(self) -> ActorSystem:
        """The actor system the agents run in (started now if owned and not running)."""
        system = self._handle.system
        ensure_actor(system, "orchestrator",
                     lambda: recipe(Orchestrator, self.decomposer, OrchestratorState()),
                     dispatcher="loop")  # fmt: skip
        return system

    @property
    def flow(self) -> EnhancedFlow:
        """The flow facade orchestrations run on (add stream callbacks to it)."""
        with self._lock:
            if self._flow is None:
                self._flow = EnhancedFlow(system=self.system)
            return self._flow

    @property
    def agents(self) -> list[AgentInfo]:
        """The agents registered through this orchestrator, in registration order."""
        return list(self._agents.values())

    # -- registry ---------------------------------------------------------------------

    def register_agent(
        self,
        agent: AgentInfo | Mapping[str, Any],
        behaviour: AgentBehaviour | None = None,
        *,
        restart: RestartType = RestartType.PERMANENT,
        mailbox: MailboxConfig | None = None,
    ) -> AgentInfo:
        """Register ``agent`` (an ``AgentInfo`` or the seed's dict) and start its actor.

        Without ``behaviour``, an actor already running at ``/agents/<id>`` is adopted
        as it is, and otherwise the agent gets :class:`DefaultAgent`. Registering the
        same agent again is a no-op. The actor runs under ``/agents``, whose strategy
        restarts a failing child with backoff and stops it for good after 5 restarts in
        60 s (``GUARDIAN_STRATEGY``); ``restart`` says whether it is restarted at all
        (``TEMPORARY``: never) and ``mailbox`` bounds its mailbox.

        Raises:
            ConfigurationError: the agent is invalid, or its id is registered with other
                details (unregister it first).
        """
        info = agent_info(agent)
        system = self.system
        with self._lock:
            known = self._agents.get(info.id)
            if known is not None:
                if known == info and behaviour is None:
                    return info
                raise ConfigurationError(
                    f"Agent {info.id!r} is registered already with other details or a "
                    "behaviour; call unregister_agent() first."
                )
            path = agent_path(info.id)
            if behaviour is not None or system.cell_at(path) is None:
                made = self._recipe(info, behaviour)
                system.spawn(made, info.id, parent=AGENTS_PATH, dispatcher="loop",
                             restart=restart, mailbox=mailbox)  # fmt: skip
                self._spawned.add(info.id)
            self._agents[info.id] = info
        system.tell(ORCHESTRATOR_PATH, RegisterAgent(info=info))
        system.tell(ensure_hub(system), JoinHub(agent_id=info.id))  # it gets broadcasts
        return info

    def unregister_agent(self, agent_id: str) -> bool:
        """Remove an agent (and stop its actor if this orchestrator started it); return
        whether it was registered."""
        with self._lock:
            info = self._agents.pop(agent_id, None)
            spawned = agent_id in self._spawned
            self._spawned.discard(agent_id)
        if info is None:
            return False
        system = self.system
        system.tell(ORCHESTRATOR_PATH, UnregisterAgent(agent_id=agent_id))
        system.tell(ensure_hub(system), LeaveHub(agent_id=agent_id))
        if spawned and system.cell_at(agent_path(agent_id)) is not None:
            system.stop_nowait(agent_path(agent_id))
        return True

    def register_tool(self, name: str, fn: Callable[..., Any], **options: Any) -> None:
        """Register a tool default agents call when ``name`` is among their capabilities."""
        self.tools.register(name, fn, **options)

    def _recipe(self, info: AgentInfo, behaviour: AgentBehaviour | None) -> Recipe:
        if behaviour is None:
            return recipe(DefaultAgent, info, self.tools, memory=self.memory)
        if isinstance(behaviour, Recipe):
            return behaviour
        if inspect.isclass(behaviour) and issubclass(behaviour, BaseAgent):
            return recipe(behaviour, info, memory=self.memory)
        if callable(behaviour):
            return recipe(FunctionAgent, info, behaviour, memory=self.memory)
        raise ConfigurationError(
            f"The behaviour of agent {info.id!r} must be a BaseAgent subclass, a Recipe or "
            f"a function (task, ctx) -> result; got {behaviour!r}."
        )

    # -- orchestration ----------------------------------------------------------------

    async def orchestrate_agents(
        self,
        agents: Sequence[AgentInfo | Mapping[str, Any]] | None = None,
        task: str = "",
        context: Mapping[str, Any] | None = None,
    ) -> OrchestrationResult:
        """Run ``task`` with ``agents`` (default: every registered agent).

        Agents not registered yet are registered with the default behaviour. The result
        says who did what, the reviews, the conflicts and the final output; a failed
        subtask (after its retries) makes a result with status ``failed``, not an
        exception.

        Raises:
            ConfigurationError: no task, no agents, an invalid agent or context, or no
                agent that can take work.
            UnknownAgentError: an agent is not registered with the orchestrator actor.
        """
        untrusted: object = task  # callers without type checks may pass anything
        if not isinstance(untrusted, str) or not task.strip():
            raise ConfigurationError("orchestrate_agents() needs a task: a non-empty string.")
        infos = [agent_info(a) for a in agents] if agents is not None else self.agents
        if not infos:
            raise ConfigurationError("orchestrate_agents() needs at least one agent.")
        data = to_json_data(
            dict(context or {}),
            where="The context of orchestrate_agents()",
            error=ConfigurationError,
            fix="Pass JSON data (dict, list, str, numbers, bool, None).",
        )
        assert isinstance(data, dict)
        for info in infos:
            if info.id not in self._agents:
                self.register_agent(info)
        started = time.time()
        orchestration_id = f"orchestration-{next(_ids)}-{uuid.uuid4().hex[:8]}"
        try:
            # Once the plan is asked for, the orchestration ends on any exit (a refusal,
            # a cancellation while it is planned or run): its loads are released.
            planned = await self._plan(orchestration_id, task, data,
                                       tuple(i.id for i in infos))  # fmt: skip
            plan = orchestration_plan(planned, task, data, timeout=self.subtask_timeout,
                                      max_retries=self.max_retries,
                                      retry_delay=self.retry_delay)  # fmt: skip
            state = await self.flow.execute(plan)
        finally:
            self.system.tell(ORCHESTRATOR_PATH,
                             EndOrchestration(orchestration_id=orchestration_id))  # fmt: skip
        result = orchestration_result(planned, task, state, started_at=started)
        if result.approved is False:
            result = await self._resolve_rejection(result, planned)
        return result

    async def _resolve_rejection(
        self, result: OrchestrationResult, planned: OrchestrationPlanned
    ) -> OrchestrationResult:
        """The last review rejected the deliverable: a RESULT_CONFLICT between its author
        and the validator goes to the resolver, and its resolution joins the result."""
        last = result.validations[-1]
        author = planned.assignments[last.subtask_id]
        infos = {a.id: a for a in planned.agents}
        conflict = Conflict(
            id=f"{result.orchestration_id}-rejected",
            conflict_type=ConflictType.RESULT_CONFLICT,
            description=(
                f"{last.validator_id} rejected {author}'s draft {last.subtask_id!r} in "
                f"review round {last.round}, the last one: {last.feedback!r}"
            )[:2000],
            involved_agents=(author, last.validator_id),
            involved_tasks=(last.subtask_id, f"review_{last.round}"),
            severity=3,
        )
        try:
            resolution = await ConflictResolver(self.system).resolve_conflict(
                conflict, [infos[author], infos[last.validator_id]]
            )
        except ActorflowError as exc:
            logger.warning("Conflict {c} was not resolved: {e}", c=conflict.id, e=exc)
            metadata = {**result.metadata, "conflict_error": str(exc)}
            return result.model_copy(update={"metadata": metadata})
        return result.model_copy(update={"conflicts": (*result.conflicts, resolution)})

    async def _plan(
        self,
        orchestration_id: str,
        task: str,
        context: dict[str, JsonValue],
        agent_ids: tuple[str, ...],
    ) -> OrchestrationPlanned:
        request = PlanOrchestration(
            orchestration_id=orchestration_id,
            task=task,
            context=context,
            agent_ids=agent_ids,
        )
        reply = await self.system.ask_async(ORCHESTRATOR_PATH, request, timeout=_PLAN_TIMEOUT)
        if isinstance(reply, OrchestratorRefused):
            error = UnknownAgentError if reply.error_type == "UnknownAgentError" else None
            raise (error or ConfigurationError)(reply.error)
        assert isinstance(reply, OrchestrationPlanned)
        return reply

    def orchestrate_agents_sync(
        self,
        agents: Sequence[AgentInfo | Mapping[str, Any]] | None = None,
        task: str = "",
        context: Mapping[str, Any] | None = None,
    ) -> OrchestrationResult:
        """Blocking twin of :meth:`orchestrate_agents` (not inside a running event loop)."""
        return _run_sync(self.orchestrate_agents(agents, task, context))

    # -- end --------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the agents this orchestrator started and, if it owns its actor system,
        shut the system down."""
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """Blocking twin of :meth:`close`."""
        if self._handle.is_owned:
            self._handle.close()
            return
        for agent_id in list(self._agents):
            self.unregister_agent(agent_id)

    async def __aenter__(self) -> MultiAgentOrchestrator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _check_options(subtask_timeout: object, max_retries: object, retry_delay: object) -> None:
    """Refuse options the flow of an orchestration could not run with (callers without
    type checks may pass anything).

    Raises:
        ConfigurationError: naming the first bad option.
    """
    if not _seconds(subtask_timeout) or subtask_timeout == 0:
        raise ConfigurationError(
            f"subtask_timeout must be a finite number of seconds > 0, got {subtask_timeout!r}."
        )
    if type(max_retries) is not int or not 0 <= max_retries <= _MAX_RETRIES:
        raise ConfigurationError(
            f"max_retries must be an int from 0 to {_MAX_RETRIES}, got {max_retries!r}."
        )
    if not _seconds(retry_delay):
        raise ConfigurationError(
            f"retry_delay must be a finite number of seconds >= 0, got {retry_delay!r}."
        )


def _seconds(value: object) -> bool:
    """Whether ``value`` is a finite, non-negative int or float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value < math.inf


def create_multi_agent_orchestrator(
    system: ActorSystem | None = None, **options: Any
) -> MultiAgentOrchestrator:
    """Return a new :class:`MultiAgentOrchestrator` (the seed's factory); ``options`` are
    its keyword arguments."""
    return MultiAgentOrchestrator(system, **options)


def create_multi_agent_flow(
    agents: Sequence[AgentInfo | Mapping[str, Any]],
    *,
    system: ActorSystem | None = None,
    behaviours: Mapping[str, AgentBehaviour] | None = None,
    **options: Any,
) -> tuple[EnhancedFlow, MultiAgentOrchestrator]:
    """Register ``agents`` (the seed's dicts, or AgentInfo) with a new orchestrator and
    return ``(flow, orchestrator)``; ``flow`` is the orchestrator's flow facade.

    ``behaviours`` maps agent ids to their behaviours (others get the default).

    Raises:
        ConfigurationError: an agent is invalid, or ``behaviours`` names an unknown id.
    """
    orchestrator = MultiAgentOrchestrator(system, **options)
    infos = [agent_info(a) for a in agents]
    unknown = set(behaviours or {}) - {i.id for i in infos}
    if unknown:
        raise ConfigurationError(f"behaviours names agents that are not given: {sorted(unknown)}.")
    for info in infos:
        orchestrator.register_agent(info, (behaviours or {}).get(info.id))
    return orchestrator.flow, orchestrator


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise ConfigurationError(
        "A *_sync method was called inside a running event loop; await the async method."
    )
