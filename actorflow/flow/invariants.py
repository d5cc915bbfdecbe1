"""What holds for every state the flow decider makes, checked for states read back.

A stored state is resumed only if it is one the decider could have made: a state that
breaks these rules would hang the flow (a step "running" that nothing will ever end),
run more steps than allowed, or crash the flow actor. :func:`state_problem` names the
first rule a state breaks; the property tests check it after every decision, so the
rules and the decider cannot drift apart.
"""

from __future__ import annotations

from actorflow.flow.core import FlowCore, StepRecord
from actorflow.flow.models import TERMINAL_STEP_STATES, FlowStatus, StepStatus

__all__ = ["state_problem"]

_RUNNING, _PENDING = StepStatus.RUNNING, StepStatus.PENDING


def state_problem(core: FlowCore) -> str | None:
    """Return the first rule ``core`` breaks (what, and where), or None."""
    return _order_problem(core) or (
        _steps_problem(core) if core.status is FlowStatus.RUNNING else None
    )


def _order_problem(core: FlowCore) -> str | None:
    spec = core.spec
    if sorted(spec.order) != sorted(spec.steps):
        return "its step order does not name each step of its plan once"
    for sid in spec.order:
        for dep in spec.steps[sid].dependencies:
            if spec.position[dep] > spec.position[sid]:
                return f"its step order puts {sid!r} before its dependency {dep!r}"
    return None


def _steps_problem(core: FlowCore) -> str | None:
    spec = core.spec
    taken = 0
    for sid, rec in core.steps.items():
        problem = _record_problem(sid, rec)
        if problem:
            return problem
        waiting = sum(core.steps[d].status not in TERMINAL_STEP_STATES
                      for d in spec.steps[sid].dependencies)  # fmt: skip
        if rec.waiting_on != waiting:
            return f"step {sid!r} waits on {rec.waiting_on} dependencies, not {waiting}"
        taken += 1 if rec.live or rec.retrying else 0
    if core.slots != taken:
        return f"it counts {core.slots} steps running, not {taken}"
    if taken > spec.settings.max_parallel_steps:
        return f"{taken} steps run, above max_parallel_steps"
    return _ready_problem(core)


def _record_problem(sid: str, rec: StepRecord) -> str | None:
    status, attempts, live, offset, retrying = (
        rec.status, rec.attempts, rec.live, rec.offset, rec.retrying
    )  # fmt: skip
    if not 0 <= offset <= attempts:
        return f"step {sid!r} has {attempts} attempts and an offset of {offset}"
    if live and (live != attempts or status is not _RUNNING or retrying):
        return f"step {sid!r} waits for attempt {live}, which is not its latest running one"
    if retrying and (status is not _RUNNING or attempts < 1):
        return f"step {sid!r} waits for a retry but is {status.value}"
    if status is _RUNNING and not (live or retrying):
        return f"step {sid!r} is running with no attempt under way and no retry due"
    return None


def _ready_problem(core: FlowCore) -> str | None:
    if len(set(core.ready)) != len(core.ready):
        return "its ready steps repeat"
    for sid in core.ready:
        rec = core.steps.get(sid)
        if rec is None:
            return f"its ready steps name {sid!r}, which is not a step of its plan"
        if rec.status is not _PENDING or rec.waiting_on:
            return f"its ready steps name {sid!r}, which is {rec.status.value}"
    ready = set(core.ready)
    for sid, rec in core.steps.items():
        if rec.status is _PENDING and not rec.waiting_on and sid not in ready:
            return f"step {sid!r} can start but is not among the ready steps"
    if core.unfinished and not core.slots and not core.ready:
        return "steps are unfinished but none runs and none can start"
    return None
