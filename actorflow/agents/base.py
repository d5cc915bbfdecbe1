"""``BaseAgent``: the behaviour of an agent actor at ``/agents/<id>``.

An agent takes tasks as messages: an ``AgentTask`` (from a flow's ``agent`` step, the
orchestrator, another agent, or ``system.ask``) is answered with an ``AgentTaskDone``;
an ``AgentMessage`` forwarded by the communication hub is answered, when it requires a
response, with an ``AgentResponse``. Override :meth:`BaseAgent.handle_task` (``async``,
or plain for blocking work) and, if messages need their own treatment,
:meth:`BaseAgent.handle_message`.

The handler runs as the actor's effect, never on its mailbox: the actor goes on
taking messages, at most ``AgentInfo.max_concurrency`` tasks run at once, and the rest
wait in arrival order.

Failures:

- A handler that raises an ``ActorflowError`` (``RetryableStepError``,
  ``NonRetryableStepError``, ``AgentTaskFailedError``, an error of a nested request)
  fails its task; the requester gets the error with its class hierarchy, so a flow
  retries it or not by its usual rules.
- Any other exception is a crash ("let it crash"): the task fails with
  ``AgentCrashedError``'s hierarchy first, then the actor raises, and its supervisor
  restarts it with a fresh behaviour. Tasks it was still running or holding are told
  they failed (retryable) when it stops, so none disappears. The agent's memory is
  kept (it lives in the memory manager the agent was registered with).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from loguru import logger
from pydantic import JsonValue

from actorflow.agents.communication import AgentMessage, AgentResponse, CommunicationType
from actorflow.agents.context import AgentContext, AgentMemory
from actorflow.agents.models import AgentInfo, agent_info
from actorflow.errors import ActorflowError, AgentCrashedError, AgentTaskFailedError
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.flow.retry import error_hierarchy
from actorflow.flow.state import IMemoryManager, InMemoryMemoryManager
from actorflow.ids import CorrelationId
from actorflow.messages.envelope import Envelope
from actorflow.runtime.behaviour import Behaviour
from actorflow.runtime.context import Context
from actorflow.runtime.effect_messages import EffectCompleted, EffectFailed

__all__ = ["BaseAgent", "task_from_message"]

_NOT_JSON = "actorflow.errors.EffectResultError"


@dataclass(slots=True)
class _Job:
    envelope: Envelope
    task: AgentTask
    message: AgentMessage | None = None
    """Set when the work came as a hub message (answered with an AgentResponse)."""


class BaseAgent(Behaviour):
    """Base class of agent behaviours (see the module docstring for the protocol).

    Args:
        info: who the agent is (an ``AgentInfo`` or the seed's dict); ``None`` makes an
            executor named after its actor path when it starts.
        memory: where its memory lives (default: a new in-memory manager). Pass the same
            manager in the recipe so the memory survives restarts.
    """

    crash_on_error: ClassVar[bool] = True
    """Whether an unexpected exception from a handler restarts the agent (see above)."""

    def __init__(
        self,
        info: AgentInfo | Mapping[str, Any] | None = None,
        *,
        memory: IMemoryManager | None = None,
    ) -> None:
        self._info = None if info is None else agent_info(info)
        self._memory_manager: IMemoryManager | None = memory  # made on first use if None
        self._running: dict[CorrelationId, _Job] = {}
        self._waiting: deque[_Job] | None = None
        """Tasks past ``max_concurrency``, made on first need (an idle agent holds none:
        760 bytes each, for 100,000 agents)."""

    @property
    def info(self) -> AgentInfo:
        """Who this agent is."""
        if self._info is None:
            raise AgentTaskFailedError(
                f"{type(self).__name__} has no AgentInfo until it runs as an actor; pass "
                "info=AgentInfo(...) to know it before."
            )
        return self._info

    # -- what subclasses override --------------------------------------------------------

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        """Do ``task`` and return its result (JSON data). Override it (``async``, or plain
        for blocking work, which then runs in a worker thread)."""
        raise AgentTaskFailedError(
            f"Agent {self.info.id!r} got task {task.task!r} but {type(self).__name__} does "
            "not override handle_task; subclass BaseAgent and define it.",
            retryable=False,
        )

    async def handle_message(self, message: AgentMessage, ctx: AgentContext) -> JsonValue:
        """Answer a hub message (the return value is the response's content when the
        message requires one). Not overridden: the message runs as a task
        (:func:`task_from_message`) through :meth:`handle_task`."""
        raise NotImplementedError  # never called: see _handler_for

    # -- the actor side ------------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        """Name the agent after its path if it was built without an ``AgentInfo``."""
        if self._info is None:
            self._info = AgentInfo(id=ctx.path.rsplit("/", 1)[-1])

    def on_agent_task(self, msg: AgentTask, ctx: Context) -> None:
        """Run (or queue) a task."""
        assert ctx.envelope is not None
        self._take(_Job(ctx.envelope, msg), ctx)

    def on_agent_message(self, msg: AgentMessage, ctx: Context) -> None:
        """Run (or queue) a hub message; a message needing no response is still handled."""
        assert ctx.envelope is not None
        self._take(_Job(ctx.envelope, task_from_message(msg), msg), ctx)

    def on_effect_completed(self, msg: EffectCompleted, ctx: Context) -> None:
        """A handler ended: answer its requester, then start the next waiting task."""
        job = self._running.pop(msg.effect_id, None)
        if job is None:
            return
        outcome = msg.result if isinstance(msg.result, Mapping) else {}
        if outcome.get("ok"):
            self._answer(job, ctx, result=outcome.get("result"))
        else:
            self._answer_error(job, ctx, outcome)
            if outcome.get("crash") and self.crash_on_error:
                raise AgentCrashedError(
                    f"Agent {self.info.id!r} crashed on task {job.task.task!r}: "
                    f"{outcome.get('error')}; its supervisor restarts it."
                )
        self._pump(ctx)

    def on_effect_failed(self, msg: EffectFailed, ctx: Context) -> None:
        """A handler's result was not JSON data, or it timed out: the task failed."""
        job = self._running.pop(msg.effect_id, None)
        if job is None:
            return
        error = msg.error
        retryable = False if error.error_type == _NOT_JSON else None
        # ErrorInfo keeps the class itself apart from its bases: the answer names it first.
        types = list(dict.fromkeys((error.error_type, *error.error_types)))
        failure = {"error": error.message or error.error_type, "error_types": types}
        self._answer_error(job, ctx, {**failure, "retryable": retryable})
        self._pump(ctx)

    def on_stop(self, ctx: Context) -> None:
        """Tell every task still running or waiting that it failed (retryable): this
        actor is stopping or being restarted, and its effects are cancelled."""
        jobs = [*self._running.values(), *(self._waiting or ())]
        self._running.clear()
        self._waiting = None
        why = {
            "error": f"agent {self.info.id!r} stopped or restarted before finishing",
            "error_types": list(error_hierarchy(AgentTaskFailedError)),
            "retryable": True,
        }
        for job in jobs:
            try:
                self._answer_error(job, ctx, why)
            except Exception:  # noqa: BLE001 - one unanswerable job must not lose the rest
                logger.opt(exception=True).warning(
                    "Agent {agent} could not tell task {task!r} it failed",
                    agent=self.info.id,
                    task=job.task.task,
                )

    # -- internals -----------------------------------------------------------------------

    def _take(self, job: _Job, ctx: Context) -> None:
        if not self._waiting and len(self._running) < self.info.max_concurrency:
            self._start(job, ctx)
            return
        if self._waiting is None:
            self._waiting = deque()
        self._waiting.append(job)

    def _pump(self, ctx: Context) -> None:
        waiting, limit = self._waiting, self.info.max_concurrency
        while waiting and len(self._running) < limit:
            self._start(waiting.popleft(), ctx)
        if waiting is not None and not waiting:
            self._waiting = None

    def _start(self, job: _Job, ctx: Context) -> None:
        if self._memory_manager is None:
            self._memory_manager = InMemoryMemoryManager()
        memory = AgentMemory(self._memory_manager, self.info.id)
        actx = AgentContext(self.info, ctx.system, ctx.path, job.task, memory)
        work = _guarded(self._handler_for(job), actx)
        effect_id = ctx.run_effect(work, name=f"{self.info.id}:{job.task.task}")
        self._running[effect_id] = job

    def _handler_for(self, job: _Job) -> Callable[[AgentContext], Any]:
        if job.message is not None and type(self).handle_message is not BaseAgent.handle_message:
            return partial(self.handle_message, job.message)
        return partial(self.handle_task, job.task)

    def _answer(self, job: _Job, ctx: Context, *, result: JsonValue) -> None:
        message = job.message
        if message is None:
            self._reply(job, ctx, AgentTaskDone(result=result))
        elif message.requires_response:
            response = AgentResponse(message_id=message.id, sender_id=self.info.id, content=result)
            self._reply(job, ctx, response)

    def _answer_error(self, job: _Job, ctx: Context, outcome: Mapping[str, Any]) -> None:
        text = str(outcome.get("error") or "the agent failed")
        types = tuple(outcome.get("error_types") or ())
        if outcome.get("crash"):
            types = (*error_hierarchy(AgentCrashedError)[:1], *types)
        retryable = outcome.get("retryable")
        message = job.message
        if message is None:
            done = AgentTaskDone(error=text, error_types=types, retryable=retryable)
            self._reply(job, ctx, done)
        elif message.requires_response:
            response = AgentResponse(message_id=message.id, sender_id=self.info.id, error=text)
            self._reply(job, ctx, response)

    def _reply(self, job: _Job, ctx: Context, answer: AgentTaskDone | AgentResponse) -> None:
        """Answer ``job``'s requester; a task told with no reply address (``system.tell``:
        fire and forget) has nobody to answer, so its answer is dropped (logged)."""
        envelope = job.envelope
        if envelope.reply_to is None and envelope.sender is None:
            logger.debug(
                "Agent {agent} finished task {task!r}, told with no reply address; "
                "its answer is dropped",
                agent=self.info.id,
                task=job.task.task,
            )
            return
        ctx.reply(answer, to=envelope)


def task_from_message(message: AgentMessage) -> AgentTask:
    """The task a hub message asks for: its content's ``action`` (or ``task``) names it,
    and a dict content is the task's parameters (else ``{"content": content}``)."""
    content = message.content
    if isinstance(content, Mapping):
        name = content.get("action") or content.get("task") or message.message_type.value
        parameters = dict(content)
    else:
        name = message.message_type.value
        parameters = {"content": content}
    parameters["sender_id"] = message.sender_id  # the hub's word, whatever the content says
    if message.message_type is CommunicationType.BROADCAST:
        parameters.setdefault("broadcast", True)
    return AgentTask(flow_id="", step_id="", task=str(name), parameters=parameters)


def _guarded(handler: Callable[[AgentContext], Any], actx: AgentContext) -> Any:
    """The handler as effect work whose outcome is always data: ``{"ok": True,
    "result": ...}`` or ``{"ok": False, "error": ..., "error_types": [...], "retryable":
    ..., "crash": ...}``. A coroutine function stays one (it runs on the effects loop); a
    plain one stays plain (it runs in the pool)."""
    target = handler.func if isinstance(handler, partial) else handler
    if inspect.iscoroutinefunction(target):

        async def run_async() -> JsonValue:
            try:
                return {"ok": True, "result": await handler(actx)}
            except asyncio.CancelledError as exc:
                return _cancelled(exc)
            except Exception as exc:  # noqa: BLE001 - every failure is the task's outcome
                return _failure(exc)

        return run_async

    def run() -> JsonValue:
        try:
            result = handler(actx)
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - every failure is the task's outcome
            return _failure(exc)
        if inspect.isawaitable(result):
            return _awaited(result)  # type: ignore[return-value]
        return {"ok": True, "result": result}

    return run


async def _awaited(result: Awaitable[Any]) -> JsonValue:
    """A plain handler that returned an awaitable: it is awaited on the effects loop."""
    try:
        return {"ok": True, "result": await result}
    except asyncio.CancelledError as exc:
        return _cancelled(exc)
    except Exception as exc:  # noqa: BLE001 - every failure is the task's outcome
        return _failure(exc)


def _cancelled(exc: asyncio.CancelledError) -> JsonValue:
    """A ``CancelledError`` out of a handler: re-raised when the effect itself is being
    cancelled (its actor stops or restarts, or it timed out); otherwise it escaped from
    something the handler awaited (a helper task cancelled elsewhere), which is the
    handler's failure, answered like any other."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise exc
    return _failure(exc)


def _failure(exc: BaseException) -> JsonValue:
    marker = getattr(exc, "retryable", None)
    return {
        "ok": False,
        "error": str(exc) or type(exc).__name__,
        "error_types": list(error_hierarchy(type(exc))),
        "retryable": marker if isinstance(marker, bool) else None,
        "crash": not isinstance(exc, ActorflowError),
    }
