"""Starting the attempts a flow's decider asks for, and hearing how they end.

The flow actor's :class:`Launcher` carries out ``StartAttempt`` and ``AskHuman``: a
tool or other step runs on the effects runner through ``executor.execute_step`` (a
registered sync tool, under the default executor, runs in the effects pool and reports
from the pool thread: ``EffectRunner.call_blocking``), a
person is asked through the flow's human callback, an ``agent`` step is a request to
the agent actor. However an attempt ends, its outcome comes back to the flow actor as
the event the decider takes (``StepAttemptFinished`` or ``HumanAnswered``), told to the
flow itself, so the journal holds every event the decider saw. Flow actor thread only.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from typing import cast

from pydantic import JsonValue

from actorflow._trusted import trusted
from actorflow.errors import HumanRequestFailedError, HumanTimeoutError
from actorflow.flow.attempt import Attempt, call_in_attempt, run_in_attempt
from actorflow.flow.commands import AskHuman, StartAttempt
from actorflow.flow.core import FlowCore
from actorflow.flow.decider import human_deadline
from actorflow.flow.executor import EnhancedFlowExecutor
from actorflow.flow.messages import AgentTask, AgentTaskDone, HumanAnswered
from actorflow.flow.models import FlowStep, StepStatus
from actorflow.flow.outcomes import attempt_failed, attempt_finished
from actorflow.flow.retry import error_hierarchy
from actorflow.flow.steps import (
    FlowServices,
    StepContext,
    ask_human,
    blocking_tool_call,
    human_question,
)
from actorflow.human.gateway import HUMAN_PATH
from actorflow.human.messages import CancelHumanRequest, HumanRequest, HumanResponse
from actorflow.human.models import HumanOutcome
from actorflow.human.validation import validate_answer
from actorflow.ids import ActorPath, CorrelationId
from actorflow.messages.system import (
    DeadLetterReason,
    DeliveryFailed,
    EffectRecorded,
    RequestTimedOut,
)
from actorflow.runtime.context import Context
from actorflow.runtime.effects import EffectHandle
from actorflow.runtime.system import ActorSystem
from actorflow.streams import STREAMS_PATH, StreamCallbackData, StreamEvents, StreamRegistry

__all__ = ["Launcher", "is_default_executor"]

_AGENT_TIMEOUT = 3600.0
_AGENT_MARGIN = 1.0
"""An agent request outlives the step's own timeout, which the decider enforces."""


def is_default_executor(executor: EnhancedFlowExecutor) -> bool:
    """Whether ``executor`` runs steps as ``EnhancedFlowExecutor`` does (no subclass and no
    instance attribute replaces its ``execute_step``)."""
    return type(
        executor
    ).execute_step is EnhancedFlowExecutor.execute_step and "execute_step" not in vars(executor)


class Launcher:
    """Runs one flow's attempts (flow actor thread only)."""

    def __init__(
        self, executor: EnhancedFlowExecutor, services: FlowServices, topic: str | None = None
    ) -> None:
        self.executor = executor
        self.services = services
        self.topic = topic
        """Stream topic of the flow's events (None: its streams are off)."""
        self.streams: StreamRegistry | None = None
        """The system's stream registry (set by the flow actor when it starts)."""
        self.handles: dict[tuple[str, int], EffectHandle] = {}
        self.stops: dict[tuple[str, int], threading.Event] = {}
        self.human_calls: dict[str, tuple[str, int]] = {}
        self.human_timeouts: dict[str, float] = {}
        """Open human gateway requests of this flow, by request id."""
        self._system: ActorSystem | None = None
        """What tells a running attempt's code that the flow cancelled it."""
        self.agent_calls: dict[CorrelationId, tuple[str, int]] = {}

    def start(self, command: StartAttempt, core: FlowCore, ctx: Context) -> None:
        """Run attempt ``command.attempt`` of a step."""
        spec = core.spec.steps[command.step_id]
        flow_id, step_id, attempt = core.flow_id, command.step_id, command.attempt
        if spec.type == "agent":
            params = command.parameters
            request = AgentTask(
                flow_id=flow_id,
                step_id=step_id,
                task=str(params["task"]),
                parameters=params.get("arguments") or {},
                attempt=attempt,
                timeout=command.timeout,  # the agent gives up when the attempt times out
            )
            timeout = (command.timeout or _AGENT_TIMEOUT) + _AGENT_MARGIN
            cid = ctx.request(ActorPath(str(params["agent"])), request, timeout=timeout)
            self.agent_calls[cid] = (step_id, attempt)
            return
        system, me, executor = ctx.system, ctx.path, self.executor
        call = None
        if is_default_executor(executor):
            call = blocking_tool_call(spec.type, command.parameters, self.services, step_id=step_id)
        if call is not None:  # a plain sync tool: from the pool thread straight to the mailbox
            current = self._attempt(flow_id, step_id, attempt, ctx)

            def told(result: object, error: BaseException | None) -> None:  # any thread
                finished = attempt_finished(flow_id, step_id, attempt, result, error)
                system.send(me, finished, sender=me)

            def in_attempt() -> object:
                result = call_in_attempt(current, call)
                if inspect.isawaitable(result):  # awaited on the loop: in the attempt too
                    return run_in_attempt(current, lambda: result)
                return result

            self.handles[(step_id, attempt)] = system.effects.call_blocking(in_attempt, told)
            return
        step = trusted(  # every field comes from a validated StepSpec and the decider
            FlowStep,
            id=spec.id,
            name=spec.name,
            type=spec.type,
            parameters=dict(command.parameters),
            dependencies=list(spec.dependencies),
            timeout=spec.timeout,
            retry_count=attempt - 1,
            max_retries=spec.max_retries,
            status=StepStatus.RUNNING,
            metadata=dict(spec.metadata),
            result=None,
            error=None,
            started_at=None,
            completed_at=None,
        )
        context = StepContext(
            command.names,
            flow_id=flow_id,
            step_id=step_id,
            attempt=attempt,
            results=command.names["results"],
            services=self.services,
        )

        def outcome(result: object, error: BaseException | None) -> None:
            system.send(me, attempt_finished(flow_id, step_id, attempt, result, error), sender=me)

        current = self._attempt(flow_id, step_id, attempt, ctx)
        self.handles[(step_id, attempt)] = system.effects.submit(
            lambda: run_in_attempt(current, lambda: executor.execute_step(step, context)), outcome
        )

    def ask(self, command: AskHuman, core: FlowCore, ctx: Context) -> None:
        """Ask a person for attempt ``command.attempt`` of a ``human_input`` step:
        through the human gateway if one runs (its answer comes back as a
        ``HumanResponse``), else through the flow's human callback directly."""
        flow_id, step_id, attempt = core.flow_id, command.step_id, command.attempt
        system, me, services, request = ctx.system, ctx.path, self.services, command.request
        if (
            core.spec.settings.human_gateway
            # a flow without a callback asks the gateway's own handler, or waits for an
            # answer from outside (answer_human_request, `actorflow answer`)
            and (services.human_callback is None or services.human_handler is not None)
            and system.cell_at(HUMAN_PATH) is not None
        ):
            self._ask_gateway(command, core, ctx)
            return

        async def ask() -> object:
            question = human_question(step_id, request, flow_id, services)
            value = await ask_human(question, services)
            # the same checks as the gateway's: an answer that does not fit is refused
            answer = validate_answer(HumanRequest.from_data(question), cast("JsonValue", value))
            system.emit(EffectRecorded(actor=me, effect="human", value=answer,
                                       name=f"{flow_id}/{step_id}/{attempt}"))  # fmt: skip
            return answer

        current = self._attempt(flow_id, step_id, attempt, ctx)

        async def answer() -> object:
            return await run_in_attempt(current, ask)

        def outcome(result: object, error: BaseException | None) -> None:
            if error is not None and getattr(error, "retryable", None) is None:
                with contextlib.suppress(AttributeError):  # a person is not asked again
                    error.retryable = False  # type: ignore[attr-defined] # unbidden
            told = attempt_finished(flow_id, step_id, attempt, result, error, message=HumanAnswered)
            system.send(me, told, sender=me)

        self.handles[(step_id, attempt)] = system.effects.submit(answer, outcome)

    def _attempt(self, flow_id: str, step_id: str, number: int, ctx: Context) -> Attempt:
        stop = self.stops[(step_id, number)] = threading.Event()
        topic, streams = self.topic, self.streams
        if topic is None or streams is None:
            return Attempt(flow_id, step_id, number, stop)
        system, me = ctx.system, ctx.path

        def emit(item: StreamCallbackData) -> None:  # any thread
            if not stop.is_set() and streams.is_heard(system):  # none after its end
                system.send(STREAMS_PATH, StreamEvents(items=(item,), topic=topic), sender=me)

        return Attempt(flow_id, step_id, number, stop, emit)

    def _ask_gateway(self, command: AskHuman, core: FlowCore, ctx: Context) -> None:
        flow_id, step_id, attempt = core.flow_id, command.step_id, command.attempt
        # The same when a resumed flow asks again (started_at is kept), another when the
        # plan runs anew under the same flow id.
        run = round((core.started_at or 0.0) * 1000)
        request_id = f"{flow_id}/{step_id}/{attempt}@{run}"
        try:
            question = human_question(step_id, command.request, flow_id, self.services)
            env = ctx.envelope  # its time is journaled: the request is stamped by the clock
            asked_at = env.wall_time if env is not None else ctx.clock.now().timestamp()
            update: dict[str, object] = {"request_id": request_id, "timestamp": asked_at}
            if command.timeout is not None:
                update["timeout"] = command.timeout
            question = question.model_copy(update=update)
            message = HumanRequest.from_data(
                question,
                reply_to=ctx.path,
                handler=self.services.human_handler,
                # the first deadline, also when a resumed flow asks again: never reset
                deadline=human_deadline(core, step_id),
            )
        except Exception as exc:  # noqa: BLE001 - a question that cannot be asked fails the step
            told = attempt_finished(flow_id, step_id, attempt, None, exc, message=HumanAnswered)
            ctx.tell(ctx.path, told)
            return
        self.human_calls[request_id] = (step_id, attempt)
        self.human_timeouts[request_id] = message.timeout
        self._system = ctx.system
        ctx.tell(HUMAN_PATH, message)

    def human_responded(self, msg: HumanResponse, flow_id: str, ctx: Context) -> None:
        """The gateway ended a request of this flow: its outcome becomes the event."""
        call = self.human_calls.pop(msg.request_id, None)
        timeout = self.human_timeouts.pop(msg.request_id, 0.0)
        if call is None:
            return  # a cancelled attempt's request
        step_id, attempt = call
        error: HumanRequestFailedError | None = None
        if msg.outcome is HumanOutcome.TIMED_OUT and not msg.has_value:
            error = HumanTimeoutError(f"attempt {attempt} timed out after {timeout:g} s")
        elif not msg.has_value:
            why = msg.reason or (msg.error.message if msg.error else "")
            error = HumanRequestFailedError(f"the request was {msg.outcome.value}: {why}")
        if error is not None:  # a person is not asked again unbidden
            error.retryable = False  # type: ignore[attr-defined]
        told = attempt_finished(
            flow_id, step_id, attempt, msg.value if error is None else None, error,
            message=HumanAnswered,
        )  # fmt: skip
        ctx.tell(ctx.path, told)

    def ended(self, step_id: str, attempt: int) -> None:
        """An attempt's outcome arrived: forget its handle."""
        self.handles.pop((step_id, attempt), None)
        self.stops.pop((step_id, attempt), None)

    def cancel(self, step_id: str, attempt: int, *, keep_request: bool = False) -> None:
        """Cancel an attempt (its outcome, if one still comes, is ignored by the decider)."""
        stop = self.stops.pop((step_id, attempt), None)
        if stop is not None:
            stop.set()
        system = self._system
        for request_id, call in list(self.human_calls.items()):
            if call == (step_id, attempt) and system is not None and not keep_request:
                del self.human_calls[request_id]
                self.human_timeouts.pop(request_id, None)
                system.send(HUMAN_PATH, CancelHumanRequest(request_id=request_id,
                                  reason="the flow cancelled the step"), quiet=True)  # fmt: skip
        handle = self.handles.pop((step_id, attempt), None)
        if handle is not None:
            handle.cancel()

    # -- agent replies become attempt outcomes ----------------------------------------

    def agent_answered(self, msg: AgentTaskDone, flow_id: str, ctx: Context) -> None:
        """An agent answered an ``agent`` step (the reply's correlation id says which)."""
        call = self._call(ctx)
        if call is None:
            return
        if not msg.error:
            ctx.tell(ctx.path, attempt_finished(flow_id, *call, msg.result, None))
            return
        types = msg.error_types or error_hierarchy(_AgentError)
        failed = attempt_failed(
            flow_id, *call, error=msg.error, error_types=types, retryable=msg.retryable
        )
        ctx.tell(ctx.path, failed)

    def agent_timed_out(self, msg: RequestTimedOut, flow_id: str, ctx: Context) -> bool:
        """An agent gave no answer in time; return whether the request was an agent step's."""
        call = self.agent_calls.pop(msg.correlation_id, None)
        if call is None:
            return False
        error = TimeoutError(f"agent gave no answer in {msg.timeout:g} s")
        ctx.tell(ctx.path, attempt_finished(flow_id, *call, None, error))
        return True

    def agent_unreached(self, msg: DeliveryFailed, flow_id: str, ctx: Context) -> bool:
        """An agent step's request could not be delivered, or the agent failed on it;
        return whether it was an agent step's."""
        call = self._call(ctx)
        if call is None:
            return False
        error = _AgentError(f"{msg.reason.value}: {msg.detail}")
        error.retryable = False if msg.reason is DeadLetterReason.UNKNOWN_RECIPIENT else None
        ctx.tell(ctx.path, attempt_finished(flow_id, *call, None, error))
        return True

    def _call(self, ctx: Context) -> tuple[str, int] | None:
        env = ctx.envelope
        cid = None if env is None else env.correlation_id
        return None if cid is None else self.agent_calls.pop(cid, None)


class _AgentError(Exception):
    """An agent answered an ``agent`` step with an error."""

    retryable: bool | None = None
