"""The flow actor: runs one plan as a DAG under ``/flows/<flow_id>``.

Every step whose dependencies are done is dispatched at once (up to
``max_parallel_steps``) — there is no superstep barrier, so a slow branch never
delays an independent one. Step attempts run on the effects runner through
``executor.execute_step``; their results come back as ``StepAttemptFinished``
messages tagged with the attempt number, so the result of a superseded
(timed-out) attempt is recognised and ignored. Timeouts and retry delays are
timers on the system's clock; jitter comes from a seeded random source.

All state here belongs to the flow actor's thread.
"""

from __future__ import annotations

import heapq
import inspect
import math
import random
from collections import deque
from typing import Any

from actorflow._trusted import trusted
from actorflow.errors import FlowError
from actorflow.flow._attempts import (
    StepRun,
    attempt_finished,
    is_retryable,
    json_or_repr,
    retry_delay,
    snapshot_of,
)
from actorflow.flow.executor import EnhancedFlowExecutor
from actorflow.flow.messages import (
    AgentTask,
    AgentTaskDone,
    CancelFlow,
    CheckpointSaved,
    FlowFinished,
    FlushCheckpoint,
    RetryStep,
    RunFlow,
    SaveCheckpoint,
    StepAttemptFinished,
    StepAttemptTimedOut,
    SweepTimeouts,
)
from actorflow.flow.models import (
    FlowConfig,
    FlowState,
    FlowStatus,
    FlowStep,
    PlanSpec,
    StepSpec,
    StepState,
    StepStatus,
)
from actorflow.flow.steps import FlowServices, StepContext, resolve_references, step_type
from actorflow.ids import ActorPath, CorrelationId
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeliveryFailed, RequestTimedOut
from actorflow.runtime.behaviour import Behaviour
from actorflow.runtime.context import Context

__all__ = ["FlowRunner"]

_HUMAN_KEYS = {"confirm": "user_confirmed", "input": "user_input", "select": "user_selection"}
_AGENT_TIMEOUT = 3600.0
_INLINE = frozenset({"condition", "synchronization"})
"""Pure, bounded step types the flow actor runs itself (with the default executor)."""


class FlowRunner(Behaviour):
    """Behaviour of a flow actor (one per running flow)."""

    def __init__(
        self,
        plan: PlanSpec,
        config: FlowConfig,
        executor: EnhancedFlowExecutor,
        services: FlowServices,
        order: tuple[str, ...],
        *,
        resume_from: FlowState | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.plan = plan
        self.config = config
        self.executor = executor
        self.services = services
        self.order = order
        self.resume_from = resume_from
        self.base_names: dict[str, Any] = {**plan.variables, **(context or {})}
        self.status = FlowStatus.PENDING
        self.error: str | None = None
        self.asker: Envelope | None = None
        self.replied = False
        self.context_record = json_or_repr(context or {})
        """The context as JSON, kept in checkpoints so that ``resume`` gets it back."""
        self.saving = False
        """Whether a checkpoint save (of a manager without ``save_state_nowait``) runs."""
        self.unsaved: FlowState | None = None
        """The newest checkpoint waiting for the running save to end."""
        self.finishing = False
        """The flow ended; the reply waits for its final checkpoint to be saved."""
        self.final_state: FlowState | None = None
        self.stopped = False
        self.ignored_results = 0
        self.rng = random.Random(config.random_seed)

    # -- setup -------------------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        """Build the step table (flow actor thread)."""
        self.steps: dict[str, StepRun] = {
            s.id: StepRun(spec=s, waiting_on=len(s.dependencies)) for s in self.plan.steps
        }
        self.snapshots: dict[str, StepState] = {}
        self.changed: dict[str, None] = dict.fromkeys(self.steps)  # an ordered set; all at first
        self.dependents: dict[str, list[str]] = {sid: [] for sid in self.steps}
        for s in self.plan.steps:
            for dep in s.dependencies:
                self.dependents[dep].append(s.id)
        self.results: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.unfinished = len(self.steps)
        self.position = {sid: index for index, sid in enumerate(self.order)}
        self.last_completed: str | None = None
        """The completed step latest in plan order: its result is the default final_result."""
        self.ready: deque[str] = deque()
        self.running = 0
        self.agent_calls: dict[CorrelationId, tuple[str, int]] = {}
        self.clock = ctx.clock
        self.started = ctx.clock.monotonic()
        self.started_at = ctx.clock.now()
        self.dirty = False
        self.last_checkpoint = -math.inf
        self.flush_pending = False
        self.deadlines: list[tuple[float, str, int, float]] = []
        """(deadline, step id, attempt, timeout) of running attempts, earliest first."""
        self.sweep_at: float | None = None
        self._restore()

    def _restore(self) -> None:
        """Mark steps completed by an earlier run (resume) or carried over (replan) as done."""
        done: dict[str, StepState] = {}
        if self.resume_from is not None:
            done = {
                sid: st
                for sid, st in self.resume_from.steps.items()
                if st.status is StepStatus.COMPLETED and sid in self.steps
            }
        for sid in self.order:
            step = self.steps[sid]
            carried = step.spec.metadata.get("carried_result")
            if sid in done:
                self._settle(step, StepStatus.COMPLETED, result=done[sid].result)
                step.attempts = done[sid].attempts
            elif step.spec.metadata.get("completed") is True:
                self._settle(step, StepStatus.COMPLETED, result=carried)
        for sid in self.order:  # the roots; _settle queued the rest as they were released
            step = self.steps[sid]
            if step.status is StepStatus.PENDING and not step.spec.dependencies:
                self.ready.append(sid)

    # -- messages ----------------------------------------------------------------------

    def on_stop(self, ctx: Context) -> None:
        """If the flow actor stops before the flow ended, its steps are cancelled, a final
        checkpoint is saved, and the waiting caller learns it."""
        self.stopped = True  # a save still running finishes without telling this actor
        if self.status is FlowStatus.RUNNING:
            self._end(FlowStatus.FAILED, "the flow actor stopped before the flow ended", ctx)
        if not self.replied and self.asker is not None:
            self.replied = True
            ctx.reply(self._finished_message(self.final_state), to=self.asker)

    def on_run_flow(self, msg: RunFlow, ctx: Context) -> None:
        """Start running; the reply (FlowFinished) goes to whoever sent RunFlow."""
        self.asker = ctx.envelope
        self.status = FlowStatus.RUNNING
        ctx.log.info("Flow {flow} started: {n} steps", flow=self.plan.id, n=len(self.steps))
        ctx.schedule(self.config.auto_save_interval, SaveCheckpoint())
        if self.config.flow_timeout is not None:
            ctx.schedule(self.config.flow_timeout, CancelFlow(reason="flow timeout"))
        self._advance(ctx)

    def on_step_attempt_finished(self, msg: StepAttemptFinished, ctx: Context) -> None:
        """An attempt ended: complete the step, retry it, or fail it."""
        step = self.steps.get(msg.step_id)
        if step is None or msg.attempt != step.live_attempt:
            self.ignored_results += 1  # a superseded attempt (it timed out) or a cancelled one
            return
        self._stop_attempt(step, ctx, finished=True)
        if msg.ok:
            self._complete(step, msg.result)
        else:
            self._attempt_failed(step, msg.error_type, msg.error, ctx)
        self._advance(ctx)

    def on_step_attempt_timed_out(self, msg: StepAttemptTimedOut, ctx: Context) -> None:
        """An attempt ran past its timeout: cancel it (cooperatively) and treat it as failed."""
        step = self.steps.get(msg.step_id)
        if step is None or msg.attempt != step.live_attempt:
            return
        self._stop_attempt(step, ctx)
        error = f"attempt {msg.attempt} timed out after {msg.timeout:g} s"
        self._attempt_failed(step, "TimeoutError", error, ctx, timed_out=True)
        self._advance(ctx)

    def on_retry_step(self, msg: RetryStep, ctx: Context) -> None:
        """The retry delay passed: start the next attempt."""
        step = self.steps.get(msg.step_id)
        if step is None or not step.retry_pending or self.status is not FlowStatus.RUNNING:
            return
        step.retry_pending = False
        self.running -= 1
        self._start(step, ctx)
        self._advance(ctx)

    def on_agent_task_done(self, msg: AgentTaskDone, ctx: Context) -> None:
        """An agent answered an ``agent`` step."""
        call = self._agent_call(ctx)
        if call is not None:
            step_id, attempt = call
            finished = StepAttemptFinished(
                flow_id=self.plan.id,
                step_id=step_id,
                attempt=attempt,
                ok=not msg.error,
                result=msg.result,
                error_type="AgentError" if msg.error else "",
                error=msg.error,
            )
            self.on_step_attempt_finished(finished, ctx)

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        """An ``agent`` step's request got no answer in time."""
        call = self.agent_calls.pop(msg.correlation_id, None)
        if call is not None:
            timed_out = StepAttemptTimedOut(step_id=call[0], attempt=call[1], timeout=msg.timeout)
            self.on_step_attempt_timed_out(timed_out, ctx)

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        """An ``agent`` step's request could not be delivered or the agent failed on it."""
        call = self._agent_call(ctx)
        if call is not None:
            failed = StepAttemptFinished(
                flow_id=self.plan.id,
                step_id=call[0],
                attempt=call[1],
                ok=False,
                error_type="DeliveryFailed",
                error=f"{msg.reason.value}: {msg.detail}",
            )
            self.on_step_attempt_finished(failed, ctx)

    def on_cancel_flow(self, msg: CancelFlow, ctx: Context) -> None:
        """Stop the flow: running steps are cancelled."""
        if self.status is FlowStatus.RUNNING:
            self._end(FlowStatus.CANCELLED, msg.reason, ctx)

    def on_sweep_timeouts(self, msg: SweepTimeouts, ctx: Context) -> None:
        """Time out every attempt whose deadline passed; arm the next sweep."""
        self.sweep_at = None
        now = ctx.clock.monotonic()
        while self.status is FlowStatus.RUNNING and self.deadlines and self.deadlines[0][0] <= now:
            _, step_id, attempt, timeout = heapq.heappop(self.deadlines)
            timed_out = StepAttemptTimedOut(step_id=step_id, attempt=attempt, timeout=timeout)
            self.on_step_attempt_timed_out(timed_out, ctx)
        self._arm_sweep(ctx)

    def _arm_sweep(self, ctx: Context) -> None:
        # One timer per flow, for the earliest deadline; finished attempts stay in the
        # heap until their deadline and are skipped then (cheaper than cancelling).
        if not self.deadlines or self.status is not FlowStatus.RUNNING:
            return
        earliest = self.deadlines[0][0]
        if self.sweep_at is None or earliest < self.sweep_at:
            self.sweep_at = earliest
            ctx.schedule(max(0.0, earliest - ctx.clock.monotonic()), SweepTimeouts())

    def on_flush_checkpoint(self, msg: FlushCheckpoint, ctx: Context) -> None:
        """Save the checkpoint that the minimum interval held back."""
        self.flush_pending = False
        if self.dirty and self.status is FlowStatus.RUNNING:
            self._checkpoint(ctx)

    def on_save_checkpoint(self, msg: SaveCheckpoint, ctx: Context) -> None:
        """Auto-save tick."""
        if self.status is FlowStatus.RUNNING:
            self._checkpoint(ctx)
            ctx.schedule(self.config.auto_save_interval, SaveCheckpoint())

    # -- scheduling --------------------------------------------------------------------

    def _advance(self, ctx: Context) -> None:
        if self.status is not FlowStatus.RUNNING:
            return
        while (
            self.ready
            and self.running < self.config.max_parallel_steps
            and self.status is FlowStatus.RUNNING
        ):
            step = self.steps[self.ready.popleft()]
            if step.status is not StepStatus.PENDING:
                continue
            reason = self._skip_reason(step)
            if reason is not None:
                self._settle(step, StepStatus.SKIPPED, error=reason)
                continue
            self._start(step, ctx)
        if self._has_ended():
            return  # a step failed critically while starting: the flow has ended
        if self.unfinished == 0 and self.running == 0:
            self._end(FlowStatus.COMPLETED, None, ctx)
        elif self.dirty:
            self._maybe_checkpoint(ctx)

    def _has_ended(self) -> bool:
        return self.status is not FlowStatus.RUNNING

    def _maybe_checkpoint(self, ctx: Context) -> None:
        wait = self.config.checkpoint_interval - (ctx.clock.monotonic() - self.last_checkpoint)
        if wait <= 0:
            self._checkpoint(ctx)
        elif not self.flush_pending:
            self.flush_pending = True
            ctx.schedule(wait, FlushCheckpoint())

    def _skip_reason(self, step: StepSpec | StepRun) -> str | None:
        spec = step.spec if isinstance(step, StepRun) else step
        skip_failed = spec.parameters.get("skip_if_failed")
        if skip_failed is None:
            skip_failed = self.config.skip_dependents_of_failed_steps
        for dep_id in spec.dependencies:
            dep = self.steps[dep_id]
            if dep.status in (StepStatus.SKIPPED, StepStatus.CANCELLED):
                return f"dependency {dep_id!r} was {dep.status.value}"
            if (
                dep.spec.type == "condition"
                and dep.status is StepStatus.COMPLETED
                and not dep.result
            ):
                return f"condition {dep_id!r} was false"
            degraded = (StepStatus.FAILED_NON_CRITICAL, StepStatus.TIMED_OUT)
            if dep.status in degraded and skip_failed:
                return f"dependency {dep_id!r} failed"
        return None

    def _start(self, step: StepRun, ctx: Context) -> None:
        step.attempts += 1
        self._touch(step)
        step.status = StepStatus.RUNNING
        step.started_at = step.started_at or ctx.clock.time()
        self.running += 1
        self.dirty = True
        attempt = step.attempts
        step.live_attempt = attempt
        timeout = step.spec.timeout or self.config.default_step_timeout
        if step.spec.type == "agent":
            self._start_agent(step, attempt, timeout, ctx)
            return
        try:
            names = self._names()
            flow_step = self._flow_step(step, names)
        except Exception as exc:  # noqa: BLE001 - a bad reference fails the attempt
            self._fail_now(step, exc, ctx)
            return
        context = StepContext(
            names,
            flow_id=self.plan.id,
            step_id=step.spec.id,
            attempt=attempt,
            results=self.results,
            services=self.services,
        )
        if step.spec.type in _INLINE and type(self.executor) is EnhancedFlowExecutor:
            self._run_inline(step, flow_step, context, ctx)
            return
        system, me, flow_id, executor = ctx.system, ctx.path, self.plan.id, self.executor

        def outcome(result: object, error: BaseException | None) -> None:
            system.send(
                me, attempt_finished(flow_id, step.spec.id, attempt, result, error), sender=me
            )

        step.handle = system.effects.submit(
            lambda: executor.execute_step(flow_step, context), outcome
        )
        if timeout is not None:
            deadline = ctx.clock.monotonic() + timeout
            heapq.heappush(self.deadlines, (deadline, step.spec.id, attempt, timeout))
            self._arm_sweep(ctx)

    def _run_inline(
        self, step: StepRun, flow_step: FlowStep, context: StepContext, ctx: Context
    ) -> None:
        """Run a pure, bounded step (condition, synchronization) on this thread: the same
        handler the default executor would run, without two thread hops."""
        coro = step_type(step.spec.type).handler(flow_step, context)
        try:
            assert inspect.iscoroutine(coro)
            coro.send(None)
        except StopIteration as done:
            finished = attempt_finished(self.plan.id, step.spec.id, step.attempts, done.value, None)
        except Exception as exc:  # noqa: BLE001 - the step's failure, handled as a result
            finished = attempt_finished(self.plan.id, step.spec.id, step.attempts, None, exc)
        else:  # it awaited something after all: not pure; never happens for these types
            coro.close()
            error = FlowError(f"step type {step.spec.type!r} suspended while running inline")
            finished = attempt_finished(self.plan.id, step.spec.id, step.attempts, None, error)
        ctx.tell(ctx.path, finished)

    def _start_agent(
        self, step: StepRun, attempt: int, timeout: float | None, ctx: Context
    ) -> None:
        params = step.spec.parameters
        try:
            arguments = resolve_references(params.get("arguments", {}), self._names())
            task = str(resolve_references(params["task"], self._names()))
        except Exception as exc:  # noqa: BLE001 - a bad reference fails the attempt
            self._fail_now(step, exc, ctx)
            return
        request = AgentTask(
            flow_id=self.plan.id, step_id=step.spec.id, task=task, parameters=arguments
        )
        agent = ActorPath(str(params["agent"]))
        cid = ctx.request(agent, request, timeout=timeout or _AGENT_TIMEOUT)
        self.agent_calls[cid] = (step.spec.id, attempt)

    def _agent_call(self, ctx: Context) -> tuple[str, int] | None:
        env = ctx.envelope
        if env is None or env.correlation_id is None:
            return None
        return self.agent_calls.pop(env.correlation_id, None)

    def _fail_now(self, step: StepRun, exc: Exception, ctx: Context) -> None:
        self.running -= 1
        step.live_attempt = None
        error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        self._attempt_failed(step, error_type, str(exc), ctx)

    def _stop_attempt(self, step: StepRun, ctx: Context, *, finished: bool = False) -> None:
        """End the live attempt; cancel its work unless it ``finished`` by itself."""
        self.running -= 1
        step.live_attempt = None
        if step.handle is not None and not finished:
            step.handle.cancel()
        step.handle = None

    def _attempt_failed(
        self, step: StepRun, error_type: str, error: str, ctx: Context, *, timed_out: bool = False
    ) -> None:
        step.error = f"{error_type}: {error}" if error_type else error
        self._touch(step)
        if is_retryable(step, error_type) and step.attempts <= step.spec.max_retries:
            delay = retry_delay(step, self.config, self.rng)
            ctx.log.warning(
                "Step {step} attempt {n} failed ({error}); retrying in {delay:.3f} s",
                step=step.spec.id,
                n=step.attempts,
                error=step.error,
                delay=delay,
            )
            step.retry_pending = True
            self.running += 1  # the step keeps its slot while it waits
            ctx.schedule(delay, RetryStep(step_id=step.spec.id, attempt=step.attempts + 1))
            self.dirty = True
            return
        critical = bool(step.option("critical", default=True))
        if critical:
            self._settle(step, StepStatus.TIMED_OUT if timed_out else StepStatus.FAILED)
            self._end(
                FlowStatus.FAILED, f"critical step {step.spec.id!r} failed: {step.error}", ctx
            )
            return
        degraded = {"error": step.error, "status": "failed_non_critical"}
        status = StepStatus.TIMED_OUT if timed_out else StepStatus.FAILED_NON_CRITICAL
        self._settle(step, status, result=degraded, error=step.error)

    def _complete(self, step: StepRun, result: Any) -> None:
        self._settle(step, StepStatus.COMPLETED, result=result)

    def _settle(
        self, step: StepRun, status: StepStatus, *, result: Any = None, error: str | None = None
    ) -> None:
        """Put a step in a terminal state and release its dependents."""
        self._touch(step)
        if not step.is_terminal:
            self.unfinished -= 1
        step.status = status
        step.result = result
        if error is not None:
            step.error = error
        step.completed_at = self._now()
        self.dirty = True
        if status is StepStatus.COMPLETED:
            last = self.last_completed
            if last is None or self.position[step.spec.id] > self.position[last]:
                self.last_completed = step.spec.id
        if status is StepStatus.COMPLETED or result is not None:
            self.results[step.spec.id] = result
            key = step.spec.parameters.get("output_key")
            if key is None and step.spec.type == "human_input":
                key = _HUMAN_KEYS.get(str(step.spec.parameters.get("input_type", "input")))
            if isinstance(key, str):
                self.outputs[key] = result
        for dep_id in self.dependents[step.spec.id]:
            dependent = self.steps[dep_id]
            dependent.waiting_on -= 1
            if dependent.waiting_on == 0 and dependent.status is StepStatus.PENDING:
                self.ready.append(dep_id)

    def _now(self) -> float:
        return self.clock.time()

    # -- names, state, end -------------------------------------------------------------

    def _names(self) -> dict[str, Any]:
        names = {**self.base_names, **self.results, **self.outputs}
        names["context"] = dict(names)
        names["results"] = dict(self.results)
        return names

    def _flow_step(self, step: StepRun, names: dict[str, Any]) -> FlowStep:
        spec = step.spec
        return trusted(  # every field comes from a validated StepSpec
            FlowStep,
            id=spec.id,
            name=spec.name,
            type=spec.type,
            parameters=resolve_references(dict(spec.parameters), names),
            dependencies=list(spec.dependencies),
            timeout=spec.timeout,
            retry_count=step.attempts - 1,
            max_retries=spec.max_retries,
            status=StepStatus.RUNNING,
            metadata=dict(spec.metadata),
            result=None,
            error=None,
            started_at=None,
            completed_at=None,
        )

    def _variables(self) -> dict[str, Any]:
        variables = {**self.base_names, **self.results, **self.outputs}
        if "final_result" not in self.outputs and self.last_completed is not None:
            variables["final_result"] = self.results[self.last_completed]
        return variables

    def state(self, ctx: Context) -> FlowState:
        """Return a snapshot of the flow's state (flow actor thread).

        Built without validation from values this actor already validated, and reusing
        the snapshots of steps that did not change: checkpoints happen after every step
        change, so their cost must not grow with the square of the plan's size.
        """
        snapshots = self.snapshots
        for sid in self.changed:
            snapshots[sid] = snapshot_of(self.steps[sid])
        self.changed.clear()
        steps = dict(snapshots)
        return trusted(
            FlowState,
            flow_id=self.plan.id,
            status=self.status,
            steps=steps,
            variables=self._variables(),
            execution_time=ctx.clock.monotonic() - self.started,
            metadata={
                "plan_version": self.plan.version,
                "ignored_results": self.ignored_results,
                "context": self.context_record,
            },
            error=self.error,
            started_at=self.started_at,
            completed_at=ctx.clock.now() if self.status is not FlowStatus.RUNNING else None,
            plan=self.plan,
        )

    def _touch(self, step: StepRun) -> None:
        """Note that a step's published state changed (its next snapshot is rebuilt)."""
        step.snapshot = None
        self.changed[step.spec.id] = None

    def _checkpoint(self, ctx: Context, state: FlowState | None = None) -> None:
        """Save the flow's state. A manager without ``save_state_nowait`` saves on the
        effects loop, one save at a time: a checkpoint taken meanwhile replaces any other
        that waits, so saves land in order and the newest always lands."""
        self.dirty = False
        self.last_checkpoint = ctx.clock.monotonic()
        if state is None:
            state = self.state(ctx)
        manager = self.executor.state_manager
        nowait = getattr(manager, "save_state_nowait", None)
        if callable(nowait):  # a manager that never blocks (in-memory) saves right here
            nowait(self.plan.id, state)
        elif self.saving:
            self.unsaved = state
        else:
            self._save(state, ctx)

    def _save(self, state: FlowState, ctx: Context) -> None:
        self.saving = True
        manager = self.executor.state_manager
        system, me, flow_id, log = ctx.system, ctx.path, self.plan.id, ctx.log

        def saved(_: object, error: BaseException | None) -> None:
            if error is not None:
                log.opt(exception=error).error("Checkpoint of flow {flow} failed", flow=flow_id)
            if not self.stopped:
                system.send(me, CheckpointSaved(), sender=me)

        system.effects.submit(lambda: manager.save_state(flow_id, state), saved)

    def on_checkpoint_saved(self, msg: CheckpointSaved, ctx: Context) -> None:
        """A save ended: start the newest waiting one, or finish the ended flow."""
        self.saving = False
        if self.unsaved is not None:
            state, self.unsaved = self.unsaved, None
            self._save(state, ctx)
        elif self.finishing:
            self._reply_and_stop(ctx)

    def _end(self, status: FlowStatus, error: str | None, ctx: Context) -> None:
        if self.status is not FlowStatus.RUNNING:
            return  # ended already
        self.status = status
        self.error = error
        for step in self.steps.values():
            step.retry_pending = False
            if step.status is StepStatus.RUNNING:
                if step.handle is not None:
                    step.handle.cancel()
                step.handle = None
                step.live_attempt = None  # a late result or timeout of it is ignored
                step.status = StepStatus.CANCELLED
                self._touch(step)
            elif step.status is StepStatus.PENDING:
                step.status = StepStatus.CANCELLED
                self._touch(step)
        self.running = 0
        ctx.log.info("Flow {flow} {status}", flow=self.plan.id, status=status.value)
        self.final_state = self.state(ctx)
        self._checkpoint(ctx, self.final_state)
        if self.saving:  # the reply waits until the final checkpoint is stored
            self.finishing = True
        else:
            self._reply_and_stop(ctx)

    def _reply_and_stop(self, ctx: Context) -> None:
        self.finishing = False
        if self.asker is not None and not self.replied:
            self.replied = True
            ctx.reply(self._finished_message(self.final_state), to=self.asker)
        ctx.stop()

    def _finished_message(self, state: FlowState | None) -> FlowFinished:
        """The reply to RunFlow; never raises (its failure would leave the caller waiting)."""
        if state is None:  # ending failed before the final state was built
            minimal = {"flow_id": self.plan.id, "status": self.status.value, "error": self.error}
            return trusted(
                FlowFinished, flow_id=self.plan.id, status=self.status.value, state=minimal
            )
        try:
            dumped = state.model_dump(mode="json", exclude={"plan"}, fallback=repr)
        except Exception:  # noqa: BLE001 - a value JSON cannot hold (in the context)
            dumped = state.model_dump(mode="json", exclude={"plan", "variables", "metadata"})
            dumped["variables"] = {k: json_or_repr(v) for k, v in state.variables.items()}
            dumped["metadata"] = {k: json_or_repr(v) for k, v in state.metadata.items()}
        # The dump is JSON data (the field's type), so the message is built as it is.
        return trusted(FlowFinished, flow_id=self.plan.id, status=state.status.value, state=dumped)
