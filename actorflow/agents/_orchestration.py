"""An orchestration as a flow: the plan of ``agent`` steps (and the condition gates of
the review loop) for planned subtasks, and the result read back from the flow's state."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from actorflow.agents.conflicts import ConflictResolution
from actorflow.agents.decompose import Subtask
from actorflow.agents.orchestrator import OrchestrationPlanned
from actorflow.agents.paths import agent_path
from actorflow.agents.results import Contribution, OrchestrationResult, Validation
from actorflow.flow.models import FlowPlan, FlowState, FlowStatus, FlowStep, StepStatus

__all__ = ["approved", "orchestration_plan", "orchestration_result"]


def orchestration_plan(
    planned: OrchestrationPlanned,
    task: str,
    context: Mapping[str, JsonValue],
    *,
    timeout: float,
    max_retries: int,
    retry_delay: float = 1.0,
) -> FlowPlan:
    """The flow that runs ``planned``: one ``agent`` step per subtask; a revision runs
    only if its review rejected (a ``condition`` gate between them).

    Everything the agents get that comes from the caller (the task, the context, the
    subtasks' descriptions) is in the plan's variables and reaches the steps by
    reference, so no caller text is ever read as a ``${...}`` reference.
    """
    subtasks = {s.id: s.model_dump(mode="json") for s in planned.subtasks}
    steps: list[FlowStep] = []
    for subtask in planned.subtasks:
        depends = list(subtask.depends_on)
        if subtask.only_if_rejected:
            gate = f"gate_{subtask.id}"  # check_subtasks keeps 'gate_*' ids free
            steps += _gate(gate, subtask.only_if_rejected)
            depends = [gate]
        agent = planned.assignments[subtask.id]
        arguments: dict[str, Any] = {
            "task": "${orchestration_task}",
            "context": "${orchestration_context}",
            "subtask": f"${{orchestration_subtasks['{subtask.id}']}}",
            "inputs": {name: f"${{{source}}}" for name, source in subtask.inputs.items()},
        }
        steps.append(
            FlowStep(
                id=subtask.id,
                name=f"{subtask.kind} by {agent}",
                type="agent",
                parameters={"agent": agent_path(agent), "task": subtask.kind,
                            "arguments": arguments, "retry_delay": retry_delay},
                dependencies=depends,
                timeout=timeout,
                max_retries=max_retries,
                metadata={"agent_id": agent, "kind": subtask.kind},
            )
        )  # fmt: skip
    return FlowPlan(
        id=planned.orchestration_id,
        name=f"orchestrate: {task[:60]}",
        description=task[:500],
        steps=steps,
        variables={
            "orchestration_task": task,
            "orchestration_context": dict(context),
            "orchestration_subtasks": subtasks,
        },
        metadata={"orchestration": True},
    )


def _gate(gate: str, review: str) -> list[FlowStep]:
    """The steps that let a revision run only if ``review`` did not approve, as
    :func:`approved` reads it.

    The expression language has no type test, so the verdict is computed by a step of its
    own (``<gate>.verdict``, an id no subtask or gate can have): it gives ``True`` or
    ``False`` for a verdict that is a bool or a dict, and fails (non-critically, with no
    retry) on any other (None, a text, a list, a number), which counts as a rejection.
    The gate itself (a condition) then holds unless the verdict step gave ``True``.
    """
    verdict = f"{gate}.verdict"
    is_approved = (
        f"True is {review} or (False is not {review} and 'approved' in {review} "
        f"and True is {review}['approved'])"
    )
    return [
        FlowStep(
            id=verdict,
            name=f"read {review}'s verdict",
            type="parallel_task",
            parameters={"value": f"${{{is_approved}}}", "critical": False},
            dependencies=[review],
            max_retries=0,
        ),
        FlowStep(
            id=gate,
            name=f"revise if {review} rejected",
            type="condition",
            parameters={
                "condition": f"not ({verdict!r} in results and True is results[{verdict!r}])",
                "skip_if_failed": False,
            },
            dependencies=[verdict],
        ),
    ]


def approved(review: Any) -> bool:
    """Whether a review's result approves (``True``, or a dict with ``approved`` true)."""
    if review is True:
        return True
    return isinstance(review, Mapping) and review.get("approved") is True


def orchestration_result(
    planned: OrchestrationPlanned,
    task: str,
    state: FlowState,
    *,
    started_at: float,
    conflicts: Sequence[ConflictResolution] = (),
) -> OrchestrationResult:
    """Read an orchestration's result back from its flow's final state."""
    contributions: dict[str, list[Contribution]] = {a.id: [] for a in planned.agents}
    for subtask in planned.subtasks:
        agent = planned.assignments[subtask.id]
        contributions.setdefault(agent, []).append(_contribution(subtask, agent, state))
    validations = _validations(planned, state)
    status = {FlowStatus.COMPLETED: "completed", FlowStatus.CANCELLED: "cancelled"}.get(
        state.status, "failed"
    )
    return OrchestrationResult(
        orchestration_id=planned.orchestration_id,
        flow_id=state.flow_id,
        task=task,
        status=status,
        subtasks=planned.subtasks,
        assignments=dict(planned.assignments),
        contributions={k: tuple(v) for k, v in contributions.items()},
        validations=tuple(validations),
        approved=validations[-1].approved if validations else None,
        conflicts=tuple(conflicts),
        final_output=_final_output(planned.subtasks, state),
        error=state.error,
        started_at=started_at,
        seconds=round(time.time() - started_at, 6),
    )


def _contribution(subtask: Subtask, agent: str, state: FlowState) -> Contribution:
    step = state.steps.get(subtask.id)
    if step is None:
        return Contribution(subtask_id=subtask.id, agent_id=agent, kind=subtask.kind,
                            status=StepStatus.PENDING.value)  # fmt: skip
    seconds = None
    if step.started_at is not None and step.completed_at is not None:
        seconds = (step.completed_at - step.started_at).total_seconds()
    return Contribution(
        subtask_id=subtask.id,
        agent_id=agent,
        kind=subtask.kind,
        status=step.status.value,
        result=step.result,
        error=step.error,
        attempts=step.attempts,
        seconds=seconds,
    )


def _validations(planned: OrchestrationPlanned, state: FlowState) -> list[Validation]:
    found: list[Validation] = []
    for subtask in planned.subtasks:
        step = state.steps.get(subtask.id)
        if subtask.kind != "review" or step is None or step.status is not StepStatus.COMPLETED:
            continue
        result = step.result
        feedback = result.get("feedback") if isinstance(result, Mapping) else None
        found.append(
            Validation(
                round=subtask.round,
                validator_id=planned.assignments[subtask.id],
                subtask_id=subtask.inputs.get("work", ""),
                approved=approved(result),
                feedback=feedback,
            )
        )
    return found


def _final_output(subtasks: Sequence[Subtask], state: FlowState) -> JsonValue:
    """The last draft that completed; without one, the research (or the plan) results."""
    done = {
        sid: step.result for sid, step in state.steps.items() if step.status is StepStatus.COMPLETED
    }
    drafts = [s.id for s in subtasks if s.kind in ("produce", "revise") and s.id in done]
    if drafts:
        value: JsonValue = done[drafts[-1]]
        return value
    research = {s.id: done[s.id] for s in subtasks if s.kind == "research" and s.id in done}
    if research:
        return research
    return done.get("plan")
