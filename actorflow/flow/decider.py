"""The flow decider: every decision of a flow as a pure function of its state and events.

``decide(state, event, at) -> (state, commands)``. ``state`` is a frozen
:class:`FlowCore` (plain data that survives JSON: :meth:`FlowCore.to_json` /
:meth:`FlowCore.from_json`); ``event`` is one of the messages a flow actor receives
(:data:`EVENT_TYPES`) and ``at`` the wall time of its delivery (the envelope's, which
the journal records); commands (:mod:`actorflow.flow.commands`) are plain data the
flow actor carries out. The decider does no I/O and reads no clock, id source or
random source: time comes with the events, attempt ids are (step id, attempt number),
and retry jitter is drawn from a generator seeded by the flow's seed (part of the
state). So running a flow, resuming it from a checkpoint and replaying its journal are
the same fold (:mod:`actorflow.flow.fold`).

Semantics, in short:

- Every step whose dependencies are terminal is started at once, up to
  ``max_parallel_steps`` (a step waiting for its retry keeps its slot).
- A step is skipped when a dependency was skipped or cancelled, when a ``condition``
  dependency was false, and (``skip_if_failed`` / ``skip_dependents_of_failed_steps``)
  when a dependency failed non-critically.
- A failed attempt is retried by the step's :class:`~actorflow.flow.retry.RetryPolicy`;
  a step out of attempts fails the flow if it is ``critical`` (the default), else it
  degrades (``failed_non_critical`` with ``{"error", "status"}`` as its result).
- The result of an attempt that is not the step's live one (it timed out, or the flow
  cancelled it) is ignored and counted.
- ``final_result``: a completed flow's variable of that name is the value stored under
  the output key ``final_result`` if a step has it, else the result of the completed
  step that comes last in the plan's topological order; a failed or cancelled flow has
  none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, cast

from pydantic import JsonValue, ValidationError

from actorflow.errors import FlowError
from actorflow.flow.commands import (
    AskHuman,
    CancelAttempt,
    Command,
    Emit,
    Finish,
    SaveState,
    ScheduleTimer,
    StartAttempt,
)
from actorflow.flow.core import FlowCore, FlowSpec, Settings, StepRecord
from actorflow.flow.expressions import Condition
from actorflow.flow.messages import (
    AttemptOutcome,
    CancelFlow,
    CheckpointSaved,
    HumanAnswered,
    ReplanFlow,
    RetryStep,
    RunFlow,
    SaveCheckpoint,
    StepAttemptFinished,
    SweepTimeouts,
)
from actorflow.flow.models import TERMINAL_STEP_STATES, FlowStatus, StepSpec, StepStatus
from actorflow.flow.references import names_for, resolve_references
from actorflow.flow.retry import StepError
from actorflow.flow.steps import HumanParameters
from actorflow.messages import freeze
from actorflow.messages.base import Message

__all__ = [
    "EVENT_TYPES",
    "FlowCore",
    "FlowSpec",
    "Settings",
    "StepRecord",
    "decide",
    "human_deadline",
]

INLINE_TYPES: Final = frozenset({"condition", "synchronization"})
"""Pure, bounded step types the decider evaluates itself (when ``inline`` is on)."""
_DEGRADED = "failed_non_critical"
_HUMAN = "human_input"
_HUMAN_TIMEOUT: Final = "actorflow.errors.HumanTimeoutError"
HUMAN_GRACE: Final = 60.0
"""Seconds after a human request's last deadline the flow times the step out itself
(only if the human gateway never answered: it was stopped, or lost the request)."""
_QUESTION: Final = ("input_type", "message", "options", "default_value")
_QUESTION_OPTIONS: Final = ("on_timeout", "escalation_timeout", "multi_select", "value_type",
                            "pattern")  # fmt: skip
"""Parameters of a human step's question passed on only when the step sets them."""
"""The parameters of a ``human_input`` step that make up its question."""


_RUNNING, _PENDING, _COMPLETED = StepStatus.RUNNING, StepStatus.PENDING, StepStatus.COMPLETED


# -- the transaction: a private, mutable draft of the next state -------------------------


class _Draft:
    """The next state while one event is decided; the input state is never touched."""

    __slots__ = (
        "at",
        "commands",
        "dirty",
        "error",
        "finished",
        "finished_at",
        "ignored",
        "last_completed",
        "outputs",
        "own",
        "ready",
        "results",
        "slots",
        "spec",
        "started_at",
        "status",
        "steps",
        "sweep_at",
        "unfinished",
    )

    def __init__(self, core: FlowCore, at: float) -> None:
        self.at = at
        self.commands: list[Command] = []
        self.reset(core)

    def reset(self, core: FlowCore) -> None:
        """Make ``core`` the draft's state (commands so far are kept)."""
        self.spec = core.spec
        self.status = core.status
        self.steps = core.steps
        self.ready = list(core.ready)
        self.slots = core.slots
        self.error = core.error
        self.started_at = core.started_at
        self.finished_at = core.finished_at
        self.sweep_at = core.sweep_at
        self.ignored = core.ignored
        self.finished = core.finished
        self.results = core.results
        self.outputs = core.outputs
        self.unfinished = core.unfinished
        self.last_completed = core.last_completed
        self.own: set[str] = set()  # containers already copied for this draft
        self.dirty = False  # a step's published state changed: checkpoint

    def put(self, sid: str, rec: StepRecord) -> None:
        if "steps" not in self.own:
            self.steps = dict(self.steps)
            self.own.add("steps")
        self.steps[sid] = rec  # type: ignore[index]  # the draft's own copy
        self.dirty = True

    def keep_result(self, sid: str, result: JsonValue) -> None:
        if "results" not in self.own:
            self.results = dict(self.results)
            self.own.add("results")
        self.results[sid] = result  # type: ignore[index]  # the draft's own copy
        key = self.spec.output_keys[sid]
        if key is not None:
            if "outputs" not in self.own:
                self.outputs = dict(self.outputs)
                self.own.add("outputs")
            shared = self.spec.shared_keys.get(key)
            if shared is not None:  # the step latest in the plan's order holds the key
                holder = [s for s in shared if s in self.results][-1]
                result = self.results[holder]
            self.outputs[key] = result  # type: ignore[index]

    def freeze(self) -> FlowCore:
        return FlowCore(
            self.spec,
            self.status,
            self.steps,
            tuple(self.ready),
            self.slots,
            self.error,
            self.started_at,
            self.finished_at,
            self.sweep_at,
            self.ignored,
            self.finished,
            self.results,
            self.outputs,
            self.unfinished,
            self.last_completed,
        )


# -- decide ------------------------------------------------------------------------------


def decide(state: FlowCore | None, event: Message, at: float) -> tuple[FlowCore, list[Command]]:
    """Return the flow's next state and the commands that carry it out.

    Args:
        state: the flow's state; ``None`` before it started (``event`` is then its
            ``RunFlow``).
        event: a message the flow received; kinds other than :data:`EVENT_TYPES`
            change nothing.
        at: the event's time (its delivery's wall time, epoch seconds).

    Raises:
        FlowError: the first event of a flow is not ``RunFlow``.
    """
    if state is None:
        if not isinstance(event, RunFlow) or event.plan is None:
            raise FlowError(
                f"A flow starts with a RunFlow carrying its plan, not {type(event).__name__}."
            )
        if event.snapshot is not None:
            return _go_on(event, event.snapshot, at)
        return _start(event, at)
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return state, []
    draft = _Draft(state, at)
    handler(draft, event)
    if draft.dirty and draft.status is FlowStatus.RUNNING:
        draft.commands.append(SaveState())
    return draft.freeze(), draft.commands


def _start(run: RunFlow, at: float) -> tuple[FlowCore, list[Command]]:
    assert run.plan is not None
    spec = FlowSpec(
        run.plan,
        run.order,
        Settings.from_config(run.config),
        seed=run.seed,
        context=run.context,
        inline=run.inline,
    )
    steps = {s.id: StepRecord(waiting_on=len(s.dependencies)) for s in run.plan.steps}
    draft = _Draft(FlowCore.create(spec, FlowStatus.PENDING, steps), at)
    draft.status, draft.started_at = FlowStatus.RUNNING, at
    settings = spec.settings
    draft.commands.append(Emit("flow_started", detail={"steps": len(steps)}))
    draft.commands.append(ScheduleTimer(settings.auto_save_interval, SaveCheckpoint()))
    if settings.flow_timeout is not None:
        reason = f"the flow timed out after {settings.flow_timeout:g} s (flow_timeout)"
        timeout = CancelFlow(reason=reason, failed=True)
        draft.commands.append(ScheduleTimer(settings.flow_timeout, timeout))
    _restore(draft, run.resume or {})
    for sid in spec.order:
        if draft.steps[sid].status is _PENDING and not spec.steps[sid].dependencies:
            draft.ready.append(sid)
    _advance(draft)
    if draft.status is FlowStatus.RUNNING:
        draft.commands.append(SaveState())
    return draft.freeze(), draft.commands


def _go_on(
    run: RunFlow, snapshot: Mapping[str, JsonValue], at: float
) -> tuple[FlowCore, list[Command]]:
    """Go on from a stored decider state (resume after a crash or a stop)."""
    core = FlowCore.from_json(snapshot)
    if core.status is not FlowStatus.RUNNING:
        raise FlowError(
            f"Flow {core.flow_id!r} ended ({core.status.value}); there is nothing to resume. "
            "Read its final state instead."
        )
    if core.spec.plan != run.plan:
        raise FlowError(
            f"The stored state of flow {core.flow_id!r} belongs to another plan than the "
            "one given to resume it."
        )
    draft = _Draft(core._replace(sweep_at=None), at)
    settings = core.spec.settings
    done = sum(r.status is _COMPLETED for r in core.steps.values())
    draft.commands.append(Emit("flow_resumed", detail={"steps": len(core.steps), "done": done}))
    draft.commands.append(ScheduleTimer(settings.auto_save_interval, SaveCheckpoint()))
    if settings.flow_timeout is not None and core.started_at is not None:
        left = max(0.0, core.started_at + settings.flow_timeout - at)
        reason = f"the flow timed out after {settings.flow_timeout:g} s (flow_timeout)"
        draft.commands.append(ScheduleTimer(left, CancelFlow(reason=reason, failed=True)))
    for sid in core.spec.order:
        rec = core.steps[sid]
        if rec.live:  # the attempt under way when the state was stored runs again
            _start_attempt(draft, sid, again=True)
        elif rec.retrying:
            delay = 0.0 if rec.deadline is None else max(0.0, rec.deadline - at)
            draft.commands.append(
                ScheduleTimer(delay, RetryStep(step_id=sid, attempt=rec.attempts + 1))
            )
    _advance(draft)
    if draft.status is FlowStatus.RUNNING:
        draft.commands.append(SaveState())
    return draft.freeze(), draft.commands


def _restore(draft: _Draft, resume: Mapping[str, JsonValue]) -> None:
    """Settle the steps completed by an earlier run (resume) or carried over (replan)."""
    for sid in draft.spec.order:
        done = resume.get(sid)
        spec = draft.spec.steps[sid]
        if isinstance(done, dict) and done.get("status") == _COMPLETED.value:
            attempts = done.get("attempts")
            _settle(draft, sid, _COMPLETED, result=cast("JsonValue", freeze(done.get("result"))))
            rec = draft.steps[sid]
            draft.put(sid, _replace(rec, attempts=attempts if isinstance(attempts, int) else 0))
        elif spec.metadata.get("completed") is True:
            carried = freeze(spec.metadata.get("carried_result"))
            _settle(draft, sid, _COMPLETED, result=cast("JsonValue", carried))


def _advance(draft: _Draft) -> None:
    """Start ready steps while slots are free; complete the flow when all are done."""
    limit = draft.spec.settings.max_parallel_steps
    while draft.ready and draft.slots < limit and draft.status is FlowStatus.RUNNING:
        sid = draft.ready.pop(0)
        if draft.steps[sid].status is not _PENDING:
            continue
        reason = _skip_reason(draft, sid)
        if reason is not None:
            _settle(draft, sid, StepStatus.SKIPPED, error=reason)
            draft.commands.append(Emit("step_skipped", sid, {"reason": reason}))
            continue
        _start_attempt(draft, sid)
    if draft.status is FlowStatus.RUNNING and draft.unfinished == 0:
        _end(draft, FlowStatus.COMPLETED, None)


def _skip_reason(draft: _Draft, sid: str) -> str | None:
    spec = draft.spec.steps[sid]
    skip_failed = spec.parameters.get("skip_if_failed")
    if skip_failed is None:
        skip_failed = draft.spec.settings.skip_dependents_of_failed_steps
    for dep_id in spec.dependencies:
        dep = draft.steps[dep_id]
        if dep.status in (StepStatus.SKIPPED, StepStatus.CANCELLED):
            return f"dependency {dep_id!r} was {dep.status.value}"
        if draft.spec.steps[dep_id].type == "condition":
            if dep.status is not _COMPLETED:  # a guard that failed never lets anything by
                return f"condition {dep_id!r} did not hold: it {dep.status.value.replace('_', ' ')}"
            if not dep.result:
                return f"condition {dep_id!r} was false"
        elif dep.status in (StepStatus.FAILED_NON_CRITICAL, StepStatus.TIMED_OUT) and skip_failed:
            return f"dependency {dep_id!r} failed"
    return None


def _start_attempt(draft: _Draft, sid: str, *, again: bool = False) -> None:
    """Start the step's next attempt; ``again``: its live one once more (resume), under
    the same number, with the same deadline, in the slot it holds."""
    rec = draft.steps[sid]
    spec = draft.spec.steps[sid]
    timeout = draft.spec.timeouts[sid]
    if again:
        attempt, deadline = rec.live, rec.deadline
        draft.slots -= 1  # taken again below
    else:
        attempt = rec.attempts + 1
        deadline = _deadline(draft, spec, timeout)
    draft.put(
        sid,
        StepRecord(
            _RUNNING,
            attempt,
            rec.waiting_on,
            None,
            rec.error,
            rec.started_at or draft.at,
            None,
            attempt,
            deadline,
            False,  # noqa: FBT003 - positional: one record is made per change
            rec.offset,
        ),
    )
    draft.slots += 1
    names = names_for(draft.spec.base, draft.results, draft.outputs)
    try:
        if not draft.spec.has_references(sid):
            parameters = spec.parameters  # nothing to resolve (and never changed in place)
        elif spec.type == "agent":
            parameters = dict(spec.parameters)
            for name in ("agent", "task", "arguments"):
                parameters[name] = resolve_references(parameters.get(name, {}), names)
        else:
            parameters = resolve_references(dict(spec.parameters), names)
        if draft.spec.inline and spec.type in INLINE_TYPES:
            result: JsonValue = _evaluate_inline(spec, names)
    except Exception as exc:  # noqa: BLE001 - bad references or conditions fail the attempt
        _attempt_over(draft, sid, _error_of(exc))
        return
    if draft.spec.inline and spec.type in INLINE_TYPES:
        draft.commands.append(Emit("step_started", sid, {"attempt": attempt}))
        _attempt_over(draft, sid, None, result)
        return
    draft.commands.append(Emit("step_started", sid, {"attempt": attempt}))
    if spec.type == _HUMAN:
        request = {key: parameters.get(key) for key in _QUESTION}
        request.update((k, parameters[k]) for k in _QUESTION_OPTIONS if k in parameters)
        draft.commands.append(AskHuman(sid, attempt, request, timeout))
    else:
        draft.commands.append(StartAttempt(sid, attempt, parameters, names, timeout))
    if deadline is not None and (draft.sweep_at is None or deadline < draft.sweep_at):
        draft.sweep_at = deadline
        delay = max(0.0, deadline - draft.at)
        draft.commands.append(ScheduleTimer(delay, SweepTimeouts()))


def _deadline(draft: _Draft, spec: StepSpec, timeout: float | None) -> float | None:
    """When a new attempt of ``spec`` times out (None: never). The human gateway times a
    human step's request by its policy; the flow's own deadline is then a backstop after
    the request's last one (should the gateway be gone)."""
    if timeout is None:
        return None
    if spec.type == _HUMAN and draft.spec.settings.human_gateway:
        return draft.at + timeout + _escalation_seconds(spec, timeout) + HUMAN_GRACE
    return draft.at + timeout


def _escalation_seconds(spec: StepSpec, timeout: float) -> float:
    """Seconds a human step's request may spend escalated after its first deadline: as
    the gateway takes them (through :class:`HumanParameters`: ``"300"`` is 300 s; none
    given is ``timeout``). 0 if the step does not escalate, or if its policy or its
    escalation time is a reference (known only once the attempt runs)."""
    params = spec.parameters
    fields = {
        "message": "",
        "on_timeout": params.get("on_timeout", "fail"),
        "escalation_timeout": params.get("escalation_timeout"),
    }
    try:
        checked = HumanParameters.model_validate(fields)
    except ValidationError:
        return 0.0
    if checked.on_timeout != "escalate":
        return 0.0
    return timeout if checked.escalation_timeout is None else checked.escalation_timeout


def human_deadline(core: FlowCore, step_id: str) -> float | None:
    """The absolute first deadline of the live attempt's human gateway request (epoch
    seconds), or None if the gateway times it alone.

    It follows from the attempt's deadline, which is kept when a flow resumes, so a
    resumed flow asks again with the deadline it asked with first (never reset).
    """
    record = core.steps[step_id]
    spec = core.spec.steps[step_id]
    timeout = core.spec.timeouts[step_id]
    if record.deadline is None or timeout is None or spec.type != _HUMAN:
        return None
    if not core.spec.settings.human_gateway:
        return None
    return record.deadline - HUMAN_GRACE - _escalation_seconds(spec, timeout)


def _evaluate_inline(spec: StepSpec, names: Mapping[str, Any]) -> JsonValue:
    """Evaluate a condition or synchronization step (pure and bounded)."""
    if spec.type == "condition":
        text = spec.parameters.get("condition")
        assert isinstance(text, str)  # checked by plan validation
        return bool(Condition.parse(text).evaluate(names))
    results = names["results"]
    return cast("JsonValue", freeze({dep: results.get(dep) for dep in spec.dependencies}))


def _error_of(exc: BaseException) -> StepError:
    from actorflow.flow.retry import error_hierarchy  # noqa: PLC0415 - cold path only

    marker = getattr(exc, "retryable", None)
    return StepError(
        error_hierarchy(type(exc)),
        str(exc) or type(exc).__name__,
        retryable=marker if isinstance(marker, bool) else None,
    )


def _on_attempt_finished(draft: _Draft, msg: AttemptOutcome) -> None:
    rec = draft.steps.get(msg.step_id)
    if (
        rec is None
        or rec.live == 0
        or msg.attempt != rec.live
        # A human step's answer comes as HumanAnswered, any other step's outcome not.
        or (draft.spec.steps[msg.step_id].type == _HUMAN) != isinstance(msg, HumanAnswered)
    ):
        draft.ignored += 1  # a superseded attempt (it timed out) or a cancelled one
        return
    if msg.ok:
        _attempt_over(draft, msg.step_id, None, msg.result)
    else:
        error = StepError(
            msg.error_types or (msg.error_type,),
            msg.error,
            retryable=msg.retryable,
            status_code=msg.status_code,
        )
        # The human gateway timed the request out (by a policy without a default).
        timed_out = isinstance(msg, HumanAnswered) and _HUMAN_TIMEOUT in msg.error_types
        _attempt_over(draft, msg.step_id, error, timed_out=timed_out)
    _advance(draft)


def _attempt_over(
    draft: _Draft,
    sid: str,
    error: StepError | None,
    result: JsonValue = None,
    *,
    timed_out: bool = False,
) -> None:
    """End the live attempt of ``sid``: complete the step, retry it, or fail it."""
    draft.slots -= 1
    if error is None:
        if isinstance(result, dict) and result.get("status") == _DEGRADED and "error" in result:
            # The seed's convention (its RobustFlowExecutor): a degraded outcome as a result;
            # a step marked critical cannot degrade, so there it is a failure.
            text = str(result["error"])
            if draft.spec.steps[sid].parameters.get("critical") is True:
                draft.slots += 1  # _attempt_over takes the slot again
                error = StepError(("actorflow.errors.NonRetryableStepError",), text)
                _attempt_over(draft, sid, error)
                return
            _settle(draft, sid, StepStatus.FAILED_NON_CRITICAL, result=result, error=text)
            draft.commands.append(Emit("step_failed", sid, {"error": text}))
        else:
            _settle(draft, sid, _COMPLETED, result=result, error=None)
            draft.commands.append(Emit("step_completed", sid))
        return
    rec = draft.steps[sid]
    kind = "TimeoutError" if timed_out else error.type
    text = f"{kind}: {error.message}" if error.hierarchy else error.message
    policy = draft.spec.policy(sid)
    tries = rec.attempts - rec.offset  # attempts under this version of the plan
    if draft.status is FlowStatus.RUNNING and policy.should_retry(error, tries):
        delay = policy.delay_before(tries + 1, seed=draft.spec.seed, key=sid)
        due = draft.at + delay  # kept, so that a resumed flow retries on time
        draft.put(sid, _replace(rec, error=text, live=0, deadline=due, retrying=True))
        draft.slots += 1  # the step keeps its slot while it waits
        draft.commands.append(
            ScheduleTimer(delay, RetryStep(step_id=sid, attempt=rec.attempts + 1))
        )
        retry: dict[str, JsonValue] = {"attempt": rec.attempts + 1, "delay": delay, "error": text}
        if timed_out:
            retry["timed_out"] = True
        draft.commands.append(Emit("retry_scheduled", sid, retry))
        return
    failed: dict[str, JsonValue] = {"error": text, "attempts": rec.attempts}
    if timed_out:
        failed["timed_out"] = True
    draft.commands.append(Emit("step_failed", sid, failed))
    if draft.spec.critical[sid]:
        _settle(draft, sid, StepStatus.TIMED_OUT if timed_out else StepStatus.FAILED, error=text)
        _end(draft, FlowStatus.FAILED, f"critical step {sid!r} failed: {text}")
        return
    degraded: JsonValue = {"error": text, "status": _DEGRADED}
    status = StepStatus.TIMED_OUT if timed_out else StepStatus.FAILED_NON_CRITICAL
    _settle(draft, sid, status, result=degraded, error=text)


def _replace(rec: StepRecord, **changes: Any) -> StepRecord:
    return rec._replace(**changes)


def _settle(
    draft: _Draft,
    sid: str,
    status: StepStatus,
    *,
    result: JsonValue = None,
    error: str | None = "",
) -> None:
    """Put a step in a terminal state and release its dependents.

    ``error=""`` keeps the step's last error; ``None`` clears it (a step that completed
    after failed attempts has no error).
    """
    rec = draft.steps[sid]
    if rec.status not in TERMINAL_STEP_STATES:
        draft.unfinished -= 1
    draft.put(
        sid,
        StepRecord(
            status,
            rec.attempts,
            rec.waiting_on,
            result,
            rec.error if error == "" else error,
            rec.started_at,
            draft.at,
            0,
            None,
            False,  # noqa: FBT003 - positional: one record is made per change
            rec.offset,
        ),
    )
    if status is _COMPLETED:
        last = draft.last_completed
        position = draft.spec.position
        if last is None or position[sid] > position[last]:
            draft.last_completed = sid
    if status is _COMPLETED or result is not None:
        draft.keep_result(sid, result)
    for dep_id in draft.spec.dependents[sid]:
        d = draft.steps[dep_id]
        waiting = d.waiting_on - 1
        draft.put(
            dep_id,
            StepRecord(d.status, d.attempts, waiting, d.result, d.error, d.started_at,
                       d.completed_at, d.live, d.deadline, d.retrying, d.offset),
        )  # fmt: skip
        if waiting == 0 and d.status is _PENDING:
            draft.ready.append(dep_id)


def _on_retry(draft: _Draft, msg: RetryStep) -> None:
    rec = draft.steps.get(msg.step_id)
    if (
        rec is None
        or not rec.retrying
        or msg.attempt != rec.attempts + 1
        or draft.status is not FlowStatus.RUNNING
    ):
        return
    draft.put(msg.step_id, _replace(rec, retrying=False))
    draft.slots -= 1
    _start_attempt(draft, msg.step_id)
    _advance(draft)


def _on_sweep(draft: _Draft, msg: SweepTimeouts) -> None:
    """Time out every live attempt whose deadline passed; arm the next sweep."""
    draft.sweep_at = None
    for sid in draft.spec.order:
        if draft.status is not FlowStatus.RUNNING:
            return
        rec = draft.steps[sid]
        if rec.live and rec.deadline is not None and rec.deadline <= draft.at:
            timeout = draft.spec.timeouts[sid] or 0.0
            draft.commands.append(CancelAttempt(sid, rec.live))
            error = StepError(
                ("builtins.TimeoutError", "builtins.OSError", "builtins.Exception"),
                f"attempt {rec.live} timed out after {timeout:g} s",
                # A person who did not answer in time is not asked again unbidden.
                retryable=False if draft.spec.steps[sid].type == _HUMAN else None,
            )
            _attempt_over(draft, sid, error, timed_out=True)
    deadlines = [r.deadline for r in draft.steps.values() if r.live and r.deadline is not None]
    if deadlines and draft.status is FlowStatus.RUNNING:
        draft.sweep_at = min(deadlines)
        draft.commands.append(ScheduleTimer(max(0.0, draft.sweep_at - draft.at), SweepTimeouts()))
    _advance(draft)


def _on_cancel(draft: _Draft, msg: CancelFlow) -> None:
    _end(draft, FlowStatus.FAILED if msg.failed else FlowStatus.CANCELLED, msg.reason)


def _on_autosave(draft: _Draft, msg: SaveCheckpoint) -> None:
    if draft.status is FlowStatus.RUNNING:
        draft.commands.append(SaveState())
        interval = draft.spec.settings.auto_save_interval
        draft.commands.append(ScheduleTimer(interval, SaveCheckpoint()))


def _on_checkpoint_saved(draft: _Draft, msg: CheckpointSaved) -> None:
    if msg.final and not draft.finished and draft.status is not FlowStatus.RUNNING:
        draft.finished = True
        draft.commands.append(Finish())


def _on_replan(draft: _Draft, msg: ReplanFlow) -> None:
    """Go on by a new version of the plan (see :class:`ReplanFlow` for what is kept)."""
    old, plan = draft.spec, msg.plan
    reason = _replan_refusal(draft, plan, msg.order)
    if reason is not None:
        draft.commands.append(Emit("plan_refused", None, {"reason": reason}))
        return
    spec = FlowSpec(plan, msg.order, old.settings, seed=old.seed, context=old.context,
                    inline=old.inline)  # fmt: skip
    steps: dict[str, StepRecord] = {}
    kept: set[str] = set()
    slots = 0
    for sid in spec.order:
        rec = draft.steps.get(sid)
        new = spec.steps[sid]
        if (
            rec is not None
            and rec.status in (_COMPLETED, _RUNNING)
            and _same_step(old.steps[sid], new)
            and all(dep in kept for dep in new.dependencies)
        ):
            kept.add(sid)
            steps[sid] = rec._replace(waiting_on=0)
            slots += 1 if rec.status is _RUNNING else 0
            continue
        waiting = sum(steps[dep].status not in TERMINAL_STEP_STATES for dep in new.dependencies)
        # Attempt numbers go on, so that a cancelled attempt's outcome is never taken for
        # the new step's; its retry budget starts again.
        attempts = rec.attempts if rec else 0
        steps[sid] = StepRecord(_PENDING, attempts, waiting, offset=attempts)
    cancelled = [sid for sid in old.order if draft.steps[sid].live and sid not in kept]
    for sid in cancelled:
        draft.commands.append(CancelAttempt(sid, draft.steps[sid].live))
    ready = tuple(sid for sid in spec.order if steps[sid].status is _PENDING
                  and steps[sid].waiting_on == 0)  # fmt: skip
    core = FlowCore.create(spec, FlowStatus.RUNNING, steps, ready=ready, slots=slots,
                           started_at=draft.started_at, sweep_at=draft.sweep_at,
                           ignored=draft.ignored)  # fmt: skip
    draft.reset(core)
    draft.dirty = True
    detail: dict[str, JsonValue] = {"version": plan.version, "kept": [*sorted(kept)],
                                    "cancelled": list(cancelled)}  # fmt: skip
    draft.commands.append(Emit("plan_changed", None, detail))
    _advance(draft)


def _replan_refusal(draft: _Draft, plan: Any, order: tuple[str, ...]) -> str | None:
    current = draft.spec.plan
    if draft.status is not FlowStatus.RUNNING:
        return f"the flow is {draft.status.value}, not running: a new plan cannot change it"
    if plan.id != current.id:
        return f"the new plan's id {plan.id!r} is not the flow's ({current.id!r})"
    if plan.version <= current.version:
        return (
            f"the new plan's version {plan.version} is not above the running plan's "
            f"({current.version}): give the new plan a higher version"
        )
    return _plan_problem(plan, order)


def _plan_problem(plan: Any, order: tuple[str, ...]) -> str | None:
    """Why a plan cannot run in ``order`` (its senders validate it; a flow checks again)."""
    ids = [step.id for step in plan.steps]
    if len(set(ids)) != len(ids):
        return "the new plan has two steps with one id: validate it first"
    position = {sid: index for index, sid in enumerate(order or ids)}
    if sorted(position) != sorted(ids):
        return "the new plan's step order does not name its steps: validate it first"
    for step in plan.steps:
        for dep in step.dependencies:
            if dep not in position or position[dep] >= position[step.id]:
                return (
                    f"step {step.id!r} of the new plan depends on {dep!r}, which is missing "
                    "or not before it: validate the plan first"
                )
    return None


def _same_step(old: StepSpec, new: StepSpec) -> bool:
    """Whether a new plan's step does what the old plan's did (names and metadata aside)."""
    return (
        old.type == new.type
        and old.parameters == new.parameters
        and old.dependencies == new.dependencies
        and old.timeout == new.timeout
        and old.max_retries == new.max_retries
    )


def _end(draft: _Draft, status: FlowStatus, error: str | None) -> None:
    """End the flow once: cancel what runs, checkpoint, then (once saved) finish."""
    if draft.status is not FlowStatus.RUNNING:
        return
    draft.status, draft.error, draft.finished_at = status, error, draft.at
    for sid in draft.spec.order:
        rec = draft.steps[sid]
        if rec.status is _RUNNING or rec.status is _PENDING:
            if rec.live:
                draft.commands.append(CancelAttempt(sid, rec.live))
            draft.put(sid, _replace(rec, status=StepStatus.CANCELLED, live=0, deadline=None,
                                    retrying=False))  # fmt: skip
    draft.ready.clear()
    draft.slots, draft.sweep_at, draft.unfinished = 0, None, 0
    detail: dict[str, JsonValue] = {"error": error} if error else {}
    draft.commands.append(Emit(f"flow_{status.value}", None, detail))
    draft.commands.append(SaveState(final=True))


_HANDLERS: Final[dict[type[Message], Callable[[_Draft, Any], None]]] = {
    StepAttemptFinished: _on_attempt_finished,
    HumanAnswered: _on_attempt_finished,
    ReplanFlow: _on_replan,
    RetryStep: _on_retry,
    SweepTimeouts: _on_sweep,
    CancelFlow: _on_cancel,
    SaveCheckpoint: _on_autosave,
    CheckpointSaved: _on_checkpoint_saved,
}

EVENT_TYPES: Final = frozenset({RunFlow, *_HANDLERS})
"""The message classes the decider takes as events."""
