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
import contextlib
import inspect
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, final

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
"""Where the reply slots of outside asks live (``ActorSystem.ask``)."""


@dataclass(slots=True)
class _Job:
    envelope: Envelope
    task: AgentTask
    message: AgentMessage | None = None
    """Set when the work came as a hub message (answered with an AgentResponse)."""
    abandon: _Abandon | None = None
    """Set while its handler runs: cancels it once its requester has given up."""


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
        limit = self.info.max_concurrency
        if not self._waiting and len(self._running) >= limit:
            self._reap(ctx)  # a slot held for a requester that gave up is freed
        if not self._waiting and len(self._running) < limit:
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
        if _requester_gone(ctx, job.envelope):
            logger.debug(
                "Agent {agent} skips task {task!r}: its requester gave up on it",
                agent=self.info.id,
                task=job.task.task,
            )
            return
        timeout = job.task.timeout
        if timeout is not None and math.isfinite(timeout):
            timeout -= ctx.clock.now().timestamp() - job.envelope.wall_time
            if timeout <= 0:  # it waited here past its requester's deadline
                self._answer_error(job, ctx, _timed_out(self.info.id, job.task))
                return
        else:
            timeout = None
        if self._memory_manager is None:
            self._memory_manager = InMemoryMemoryManager()
        memory = AgentMemory(self._memory_manager, self.info.id)
        actx = AgentContext(self.info, ctx.system, ctx.path, job.task, memory)
        job.abandon = _Abandon()
        work = _guarded(self._handler_for(job), actx, job.abandon)
        effect_id = ctx.run_effect(work, name=f"{self.info.id}:{job.task.task}", timeout=timeout)
        self._running[effect_id] = job

    def _reap(self, ctx: Context) -> None:
        """Free the slots of running tasks whose requester gave up (an ask that timed
        out, a requester that stopped): nobody waits for their answers, so their
        handlers are cancelled (an ``async`` one; a blocking one runs on, its result
        dropped) and the next tasks run."""
        gone = [eid for eid, job in self._running.items() if _requester_gone(ctx, job.envelope)]
        for effect_id in gone:
            job = self._running.pop(effect_id)
            logger.debug(
                "Agent {agent} cancels task {task!r}: its requester gave up on it",
                agent=self.info.id,
                task=job.task.task,
            )
            if job.abandon is not None:
                job.abandon()

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


def _guarded(handler: Callable[[AgentContext], Any], actx: AgentContext, abandon: _Abandon) -> Any:
    """The handler as effect work whose outcome is always data: ``{"ok": True,
    "result": ...}`` or ``{"ok": False, "error": ..., "error_types": [...], "retryable":
    ..., "crash": ...}``. A coroutine function stays one (it runs on the effects loop); a
    plain one stays plain (it runs in the pool)."""
    target = handler.func if isinstance(handler, partial) else handler
    if inspect.iscoroutinefunction(target):

        async def run_async() -> JsonValue:
            abandon.bind()
            try:
                return {"ok": True, "result": await handler(actx)}
            except asyncio.CancelledError as exc:
                return _cancelled(exc, abandon)
            except Exception as exc:  # noqa: BLE001 - every failure is the task's outcome
                return _failure(exc)

        return run_async

    def run() -> JsonValue:
        try:
            result = handler(actx)
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - every failure is the task's outcome
            return _failure(exc)
        if inspect.isawaitable(result):
            return _awaited(result, abandon)  # type: ignore[return-value]
        return {"ok": True, "result": result}

    return run


async def _awaited(result: Awaitable[Any], abandon: _Abandon) -> JsonValue:
    """A plain handler that returned an awaitable: it is awaited on the effects loop."""
    abandon.bind()
    try:
        return {"ok": True, "result": await result}
    except asyncio.CancelledError as exc:
        return _cancelled(exc, abandon)
    except Exception as exc:  # noqa: BLE001 - every failure is the task's outcome
        return _failure(exc)


def _cancelled(exc: asyncio.CancelledError, abandon: _Abandon) -> JsonValue:
    """A ``CancelledError`` out of a handler: re-raised when the effect itself is being
    cancelled (its actor stops or restarts, or it timed out); otherwise it escaped from
    something the handler awaited (a helper task cancelled elsewhere), which is the
    handler's failure, answered like any other.

    The agent's own cancellation of a task whose requester gave up is taken back, so
    the effect ends with an outcome (the agent, which forgot the task, ignores it)."""
    task = asyncio.current_task()
    if task is not None and abandon.cancelled:
        task.uncancel()
    if task is not None and task.cancelling():
        raise exc
    return _failure(exc)


@final
class _Abandon:
    """Cancels a running ``async`` handler from the agent's thread once its requester has
    given up; exactly one cancellation, whichever of :meth:`bind` (the handler starts,
    on the effects loop) and :meth:`__call__` (the agent) comes last."""

    __slots__ = ("_lock", "_loop", "_requested", "_task", "cancelled")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requested = False
        self.cancelled = False
        """Whether the handler's task was (or is about to be) cancelled by the agent."""

    def bind(self) -> None:
        """The handler starts on the effects loop (its task)."""
        task = asyncio.current_task()
        with self._lock:
            self._task, self._loop = task, asyncio.get_running_loop()
            cancel = self._requested and task is not None and not self.cancelled
            self.cancelled = self.cancelled or cancel
        if cancel:
            assert task is not None
            task.cancel()

    def __call__(self) -> None:
        """The agent gave the task up."""
        with self._lock:
            self._requested = True
            task, loop = self._task, self._loop
            cancel = task is not None and loop is not None and not self.cancelled
            self.cancelled = self.cancelled or cancel
        if cancel:
            assert task is not None
            assert loop is not None
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing runs there
                loop.call_soon_threadsafe(task.cancel)


def _requester_gone(ctx: Context, envelope: Envelope) -> bool:
    """Whether nobody waits for this task's answer any more: the outside ask that sent
    it timed out (its reply slot is closed), or the actor that asked has stopped. A task
    told with no reply address never had anyone waiting, so it is not given up."""
    target = envelope.reply_to or envelope.sender
    if target is None:
        return False
    return not ctx.system.is_listening(target)


def _timed_out(agent_id: str, task: AgentTask) -> dict[str, Any]:
    return {
        "error": (
            f"agent {agent_id!r} did not start task {task.task!r} within its "
            f"{task.timeout:g} s timeout"
        ),
        "error_types": list(error_hierarchy(TimeoutError)),
        "retryable": None,
    }


def _failure(exc: BaseException) -> JsonValue:
    marker = getattr(exc, "retryable", None)
    return {
        "ok": False,
        "error": str(exc) or type(exc).__name__,
        "error_types": list(error_hierarchy(type(exc))),
        "retryable": marker if isinstance(marker, bool) else None,
        "crash": not isinstance(exc, ActorflowError),
    }
