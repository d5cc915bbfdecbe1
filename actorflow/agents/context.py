"""What an agent's task handler gets: :class:`AgentContext`.

A task handler runs outside the agent's actor (as its effect: on the effects event
loop when it is ``async``, in the effects thread pool when it is plain), so the context
offers only calls that are safe there: emitting stream events, asking another agent,
asking a human, resources, the hub, and the agent's memory. Every call is a mailbox
delivery (or a stream event), so the journal holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from actorflow.agents.communication import AgentMessage, AgentResponse, CommunicationType
from actorflow.agents.hub import AgentCommunicationHub
from actorflow.agents.models import AgentInfo
from actorflow.agents.paths import agent_path
from actorflow.agents.resources import Lease, acquire_resource, release_resource
from actorflow.errors import (
    AgentError,
    AgentResponseTimeoutError,
    AgentTaskFailedError,
    AskTimeoutError,
    DeliveryFailedError,
    UnknownAgentError,
)
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.flow.state import IMemoryManager
from actorflow.human.manager import HumanCallbackManager
from actorflow.ids import ActorPath
from actorflow.streams import STREAMS_PATH, StreamCallbackType, StreamEvents
from actorflow.streams.hub import outside_event, streams_of

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["AgentContext", "AgentMemory"]

DEFAULT_REQUEST_TIMEOUT = 60.0
"""Seconds an agent waits for another agent's answer unless it says otherwise."""


class AgentMemory:
    """An agent's memory: values by key, kept in a memory manager under the agent's id.

    The memory manager is given when the agent is registered, so the memory outlives a
    restart of the agent's actor; an ``SqliteMemoryManager`` keeps it across processes.
    """

    __slots__ = ("_manager", "_namespace")

    def __init__(self, manager: IMemoryManager, agent_id: str) -> None:
        self._manager = manager
        self._namespace = f"agent:{agent_id}"

    async def store(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key`` (replacing what was there)."""
        await self._manager.store_memory(self._namespace, key, value)

    async def retrieve(self, key: str, default: Any = None) -> Any:
        """Return the value under ``key``, or ``default``."""
        value = await self._manager.retrieve_memory(self._namespace, key)
        return default if value is None else value

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        await self._manager.delete_memory(self._namespace, key)


class AgentContext:
    """What an agent's task handler may do: stream events (:meth:`think`, :meth:`say`,
    :meth:`emit`), ask another agent (:meth:`request`), message agents through the hub
    (:meth:`send_message`, :meth:`broadcast`), hold resources (:meth:`acquire`,
    :meth:`release`), ask a human (``ctx.human``) and remember (``ctx.memory``).

    Attributes:
        info: the agent's own :class:`AgentInfo`.
        task: the task being worked on (its ``flow_id`` and ``step_id`` say which flow
            step asked, if a flow did).
        memory: the agent's :class:`AgentMemory`.
    """

    __slots__ = ("_human", "info", "memory", "path", "system", "task")

    def __init__(
        self,
        info: AgentInfo,
        system: ActorSystem,
        path: ActorPath,
        task: AgentTask,
        memory: AgentMemory,
    ) -> None:
        self.info = info
        self.system = system
        self.path = path
        self.task = task
        self.memory = memory
        self._human: HumanCallbackManager | None = None

    @property
    def human(self) -> HumanCallbackManager:
        """Asks a human through the system's gateway (made on first use)."""
        if self._human is None:
            self._human = HumanCallbackManager(system=self.system)
        return self._human

    # -- stream events ----------------------------------------------------------------

    def emit(
        self, type: StreamCallbackType | str, content: JsonValue = None, **metadata: JsonValue
    ) -> None:
        """Emit a stream event for the task's flow (if a flow asked) from this agent.

        Raises:
            InvalidMessageError: the type is unknown, or content or metadata is not JSON.
        """
        task = self.task
        item = outside_event(
            f"{self.path}",
            type,
            content,
            {**metadata, "agent_id": self.info.id},  # stamped last: it names this agent
            flow_id=task.flow_id or None,
            step_id=task.step_id or None,
            timestamp=self.system.clock.now().timestamp(),
        )
        streams_of(self.system)
        # Sent as the agent (the hub names an event's source by its sender), from its effect.
        self.system.send(STREAMS_PATH, StreamEvents(items=(item,)), sender=self.path)

    def think(self, text: str, **metadata: JsonValue) -> None:
        """Emit a THINKING event (what the agent is considering)."""
        self.emit(StreamCallbackType.THINKING, text, **metadata)

    def say(self, text: str, **metadata: JsonValue) -> None:
        """Emit a TEXT event (output meant for the user)."""
        self.emit(StreamCallbackType.TEXT, text, **metadata)

    # -- other agents -----------------------------------------------------------------

    async def request(
        self,
        agent_id: str,
        task: str,
        arguments: Mapping[str, JsonValue] | None = None,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> JsonValue:
        """Ask agent ``agent_id`` to do ``task`` and return its result.

        The request is an ``AgentTask`` delivered to ``/agents/<agent_id>``; its answer
        comes back as an ``AgentTaskDone``.

        Raises:
            UnknownAgentError: no agent runs under that id.
            AgentResponseTimeoutError: no answer within ``timeout`` seconds.
            AgentTaskFailedError: the agent failed the task (``retryable`` as it said).
            AgentError: the agent would ask itself while it works on one task at a time.
        """
        if agent_id == self.info.id and self.info.max_concurrency == 1:
            raise AgentError(
                f"Agent {agent_id!r} asked itself to do {task!r} while working on "
                f"{self.task.task!r}; with max_concurrency=1 it would wait for itself "
                "forever. Call the work directly, or raise max_concurrency."
            )
        request = AgentTask(
            flow_id=self.task.flow_id,
            step_id=self.task.step_id,
            task=task,
            parameters=dict(arguments or {}),
            # The agent gives up on it when this request does (a bad timeout is refused
            # by the ask below, with a ConfigurationError).
            timeout=timeout if _positive(timeout) else None,
        )
        reply = await _ask(self.system, agent_id, request, timeout)
        if not isinstance(reply, AgentTaskDone):
            raise AgentTaskFailedError(
                f"Agent {agent_id!r} answered task {task!r} with a {type(reply).__name__}, "
                "not an AgentTaskDone; is a BaseAgent running there?"
            )
        if reply.error:
            raise AgentTaskFailedError(
                f"Agent {agent_id!r} failed task {task!r}: {reply.error}",
                retryable=reply.retryable,
            )
        return reply.result

    async def send_message(
        self,
        receiver_id: str,
        content: JsonValue = None,
        *,
        message_type: CommunicationType = CommunicationType.NOTIFICATION,
        requires_response: bool = False,
        response_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> AgentResponse | None:
        """Send an :class:`AgentMessage` from this agent through the communication hub
        (``/agents/hub``, started if none runs); with ``requires_response``, wait for
        the response and return it.

        Raises:
            AgentResponseTimeoutError: no response within ``response_timeout``.
            AgentError: the hub refused the message (a bad id, a full inbox ...).
        """
        message = AgentMessage(
            sender_id=self.info.id,
            receiver_id=receiver_id,
            message_type=message_type,
            content=content,
            requires_response=requires_response,
            response_timeout=response_timeout,
        )
        return await AgentCommunicationHub(self.system).send_message(message)

    async def broadcast(self, content: JsonValue = None) -> tuple[str, ...]:
        """Send ``content`` to every agent the hub knows but this one; return who got it."""
        return await AgentCommunicationHub(self.system).broadcast(self.info.id, content)

    # -- resources --------------------------------------------------------------------

    async def acquire(
        self, resource: str, amount: int = 1, *, priority: int = 0, timeout: float | None = None
    ) -> Lease:
        """Wait for ``amount`` units of ``resource`` from the allocator at
        ``/agents/resources``, held by this agent (released if it stops or restarts);
        ``async with await ctx.acquire("gpu"):`` releases it at the end.

        Raises:
            UnknownResourceError, ResourceCapacityError, ResourceTimeoutError,
            DeadlockError, ResourceError: the request was refused, as the error says.
        """
        task = self.task
        return await acquire_resource(
            self.system,
            resource,
            amount,
            holder=self.path,
            priority=priority,
            timeout=timeout,
            task_id=task.step_id or task.task,
        )

    async def release(self, lease: Lease) -> None:
        """Give ``lease`` back (see :func:`release_resource`)."""
        await release_resource(self.system, lease)


async def _ask(system: ActorSystem, agent_id: str, request: AgentTask, timeout: float) -> object:
    path = agent_path(agent_id)
    try:
        return await system.ask_async(path, request, timeout=timeout)
    except AskTimeoutError:
        raise AgentResponseTimeoutError(
            f"Agent {agent_id!r} gave no answer to task {request.task!r} in {timeout:g} s."
        ) from None
    except DeliveryFailedError as exc:
        if system.cell_at(path) is None:
            raise UnknownAgentError(
                f"No agent runs under {path!r}, so task {request.task!r} was not delivered; "
                "register the agent first."
            ) from None
        raise AgentTaskFailedError(
            f"Agent {agent_id!r} could not take task {request.task!r}: {exc}"
        ) from None


def _positive(timeout: object) -> bool:
    return isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
