"""Checking a plan before anything runs: ids, dependencies, cycles, types, parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actorflow.errors import (
    DuplicateStepError,
    InvalidStepParametersError,
    MissingDependencyError,
    PlanCycleError,
)
from actorflow.flow.expressions import Condition
from actorflow.flow.models import PlanSpec, StepSpec
from actorflow.flow.references import check_references
from actorflow.flow.steps import EngineOptions, FlowServices, step_type
from actorflow.ids import ActorPath

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["topological_order", "validate_plan"]


def validate_plan(
    plan: PlanSpec, services: FlowServices | None = None, *, system: ActorSystem | None = None
) -> tuple[str, ...]:
    """Check ``plan`` and return its step ids in a dependency-respecting order.

    With ``services``, tool steps must name a known tool and their arguments must bind
    to its signature; with ``system``, ``agent`` steps must name a live actor.

    Raises:
        DuplicateStepError: two steps share an id.
        MissingDependencyError: a dependency names no step (or the step itself).
        PlanCycleError: the dependencies form a cycle (the message names it).
        UnknownStepTypeError: a step's type is not registered.
        InvalidStepParametersError: a step's parameters do not fit its type.
        ConditionError: a condition step's expression is malformed or unsafe.
    """
    seen: set[str] = set()
    for step in plan.steps:
        if step.id in seen:
            raise DuplicateStepError(
                f"Plan {plan.id!r} has two steps with id {step.id!r}. Give each step its own id."
            )
        seen.add(step.id)
    for step in plan.steps:
        for dep in step.dependencies:
            if dep == step.id:
                raise MissingDependencyError(
                    f"Step {step.id!r} of plan {plan.id!r} depends on itself. Remove that "
                    "dependency."
                )
            if dep not in seen:
                raise MissingDependencyError(
                    f"Step {step.id!r} of plan {plan.id!r} depends on {dep!r}, which is not a "
                    "step of the plan. Add that step or remove the dependency."
                )
    order = topological_order(plan)
    owners: dict[str, str] = {}
    for step in plan.steps:
        _check_step(step, services)
        _check_output_key(step, owners, plan)
        if system is not None and step.type == "agent":
            _check_agent(step, system)
    return order


def _check_agent(step: StepSpec, system: ActorSystem) -> None:
    target = step.parameters.get("agent")
    if not isinstance(target, str) or "${" in target:
        return
    if system.cell_at(ActorPath(target)) is None:
        hint = f" Did you mean '/{target}'?" if not target.startswith("/") else ""
        raise InvalidStepParametersError(
            f"Step {step.id!r} sends its task to agent {target!r}, but no actor lives at that "
            f"path.{hint} Spawn the agent before running the flow, or fix the step's 'agent'."
        )


def _check_output_key(step: StepSpec, owners: dict[str, str], plan: PlanSpec) -> None:
    key = step.parameters.get("output_key")
    if not isinstance(key, str):
        return
    other = owners.setdefault(key, step.id)
    if other != step.id:
        raise InvalidStepParametersError(
            f"Steps {other!r} and {step.id!r} of plan {plan.id!r} both store their result under "
            f"output_key {key!r}; which one later steps see would depend on timing. Give "
            "each its own output_key."
        )


def _check_step(step: StepSpec, services: FlowServices | None) -> None:
    EngineOptions.check(step)
    step_type(step.type).check(step, services)
    check_references(step.parameters, where=f"Step {step.id!r}")
    if step.type == "condition":
        text = step.parameters.get("condition")
        assert isinstance(text, str)
        Condition.parse(text)


def topological_order(plan: PlanSpec) -> tuple[str, ...]:
    """Return step ids so that every step comes after its dependencies (plan order on ties).

    Raises:
        PlanCycleError: there is a cycle; the message shows it.
    """
    deps = {s.id: s.dependencies for s in plan.steps}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    order: list[str] = []
    for root in deps:
        if state.get(root) == 2:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            children: Sequence[str] = deps[node]
            if index < len(children):
                stack.append((node, index + 1))
                child = children[index]
                if state.get(child) == 1:
                    cycle = [*path[path.index(child) :], child]
                    raise PlanCycleError(
                        f"Plan {plan.id!r} has a dependency cycle: {' -> '.join(cycle)}. "
                        "Remove one of these dependencies or split the step."
                    )
                if state.get(child) != 2:
                    stack.append((child, 0))
                continue
            state[node] = 2
            path.pop()
            order.append(node)
    return tuple(order)
