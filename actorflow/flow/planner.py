"""Planning: turning a goal into a runnable plan, and replanning a flow that is under way.

The default :class:`EnhancedFlowPlanner` is deterministic. Its rules:

1. The goal is split into stages at ``then`` / ``;`` (run one after the other), and each
   stage into tasks at ``and`` / ``,`` (run in parallel). ``"fetch prices and fetch
   news, then write a report"`` is two stages: two parallel tasks, then one.
2. Each task goes to the registered tool or agent whose words match it best: the words
   of a tool's name (split at ``_``) and description, or of an agent's capabilities.
   Short common words do not count. Ties go to tools, then to the name that sorts
   first. A task nothing matches is an error naming the task — never a placeholder step.
3. A tool step (``mcp_tool``) gets as arguments the context values whose names the
   tool accepts, plus ``task`` (the task's text) and ``previous`` (the results of the
   stage before, by step id) if it accepts those. An agent step (``agent``) gets the
   task's text and the context.
4. Each stage depends on every step of the stage before. If the last stage has several
   steps, a ``synchronization`` step joins them and its result is ``final_result``.

A model-backed planner can replace it behind :class:`IFlowPlanner`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from actorflow.errors import FlowDefinitionError
from actorflow.flow.models import (
    FlowPlan,
    FlowState,
    FlowStep,
    StepStatus,
    create_flow_step,
    generate_flow_id,
)
from actorflow.flow.steps import ToolRegistry

__all__ = ["EnhancedFlowPlanner", "IFlowPlanner", "PlanningError"]

_STOP_WORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "with",
        "by",
        "from",
        "into",
        "at",
        "as",
        "is",
        "are",
        "be",
        "it",
        "its",
        "this",
        "that",
        "then",
        "create",
        "make",
        "do",
        "run",
        "get",
        "use",
        "using",
        "please",
        "some",
        "all",
    )
)


class PlanningError(FlowDefinitionError):
    """The planner cannot turn a goal into a runnable plan."""


@runtime_checkable
class IFlowPlanner(Protocol):
    """Makes plans from goals, and new versions of plans of running flows."""

    async def create_plan(self, goal: str, context: dict[str, Any]) -> FlowPlan:
        """Return a runnable plan for ``goal``."""
        ...

    async def replan(
        self, flow_id: str, current_state: FlowState, new_context: dict[str, Any]
    ) -> FlowPlan:
        """Return the next version of a flow's plan, keeping its completed steps."""
        ...


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP_WORDS}


class EnhancedFlowPlanner:
    """The deterministic default planner (rules in the module docstring)."""

    def __init__(
        self,
        tools: ToolRegistry | None = None,
        agents: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Plan with ``tools`` and ``agents`` (``{actor path: capabilities}``)."""
        self.tools = tools or ToolRegistry()
        self.agents = dict(agents or {})

    async def create_plan(self, goal: str, context: dict[str, Any] | None = None) -> FlowPlan:
        """Return a runnable plan for ``goal`` (see the module docstring for the rules).

        Raises:
            PlanningError: the goal is empty, or a task matches no tool or agent.
        """
        context = dict(context or {})
        stages = _stages(goal)
        if not stages:
            raise PlanningError("The goal is empty. Say what the flow should achieve.")
        plan = FlowPlan(
            id=generate_flow_id(),
            name=f"Plan for: {goal}",
            description=f"Automatically generated plan to achieve: {goal}",
            variables=context,
            metadata={"goal": goal, "planner": "deterministic"},
        )
        previous: list[FlowStep] = []
        steps: list[FlowStep] = []
        for number, stage in enumerate(stages, 1):
            current = [
                self._step(task, context, previous, f"s{number}_{index}")
                for index, task in enumerate(stage, 1)
            ]
            steps.extend(current)
            previous = current
        if len(previous) > 1:
            steps.append(
                create_flow_step(
                    "Collect results",
                    "synchronization",
                    {"output_key": "final_result"},
                    [s.id for s in previous],
                    id="collect",
                )
            )
        plan.steps = steps
        return plan

    def _step(
        self, task: str, context: dict[str, Any], previous: list[FlowStep], step_id: str
    ) -> FlowStep:
        kind, target = self._match(task)
        deps = [s.id for s in previous]
        if kind == "agent":
            params: dict[str, Any] = {"agent": target, "task": task, "arguments": context}
            return create_flow_step(task, "agent", params, deps, id=step_id)
        fn = self.tools.get(target)
        accepted = _accepted(fn)
        arguments = {k: v for k, v in context.items() if accepted is None or k in accepted}
        if accepted is None or "task" in accepted:
            arguments["task"] = task
        if previous and (accepted is None or "previous" in accepted):
            arguments["previous"] = {s.id: f"${{results[{s.id!r}]}}" for s in previous}
        params = {"tool_name": target, "arguments": arguments}
        return create_flow_step(task, "mcp_tool", params, deps, id=step_id)

    def _match(self, task: str) -> tuple[str, str]:
        words = _words(task)
        candidates: list[tuple[int, int, str, str]] = []
        for name, description in self.tools.describe().items():
            score = len(words & (_words(name.replace("_", " ")) | _words(description)))
            candidates.append((score, 1 if self.tools.is_builtin(name) else 2, name, "tool"))
        for path, capabilities in self.agents.items():
            score = len(words & _words(" ".join(c.replace("_", " ") for c in capabilities)))
            candidates.append((score, 0, path, "agent"))
        ranked = sorted(candidates, key=lambda c: (-c[0], -c[1], c[2]))
        best = ranked[0] if ranked else None
        if best is None or best[0] == 0:
            tools = ", ".join(sorted(self.tools.describe())) or "none"
            raise PlanningError(
                f"No registered tool or agent matches the task {task!r}. Registered tools: "
                f"{tools}. Register a tool whose name or description mentions the task's "
                "words, or build the plan by hand."
            )
        return best[3], best[2]

    async def replan(
        self, flow_id: str, current_state: FlowState, new_context: dict[str, Any]
    ) -> FlowPlan:
        """Keep the completed steps (and results) of ``current_state``'s plan; plan the rest.

        With a ``goal`` in ``new_context``, the rest is a new plan for that goal that
        runs after the completed steps; otherwise the unfinished steps are kept.
        The version is the previous ``plan_version`` + 1.
        """
        if current_state.plan is None:
            raise PlanningError(f"Flow {flow_id!r} has no plan in its state to replan from.")
        old = current_state.plan.thaw()
        kept: list[FlowStep] = []
        unfinished: list[FlowStep] = []
        for step in old.steps:
            state = current_state.steps.get(step.id)
            if state is not None and state.status is StepStatus.COMPLETED:
                step.status = StepStatus.COMPLETED
                step.result = state.result
                kept.append(step)
            else:
                unfinished.append(step)
        context = {**old.variables, **new_context}
        goal = new_context.get("goal")
        if isinstance(goal, str):
            fresh = await self.create_plan(goal, {k: v for k, v in context.items() if k != "goal"})
            after = [s.id for s in kept]
            for step in fresh.steps:
                if not step.dependencies:
                    step.dependencies = after
            rest = fresh.steps
        else:
            rest = unfinished
        version = int(current_state.metadata.get("plan_version", old.version)) + 1
        plan = FlowPlan(
            id=flow_id,
            name=old.name,
            description=old.description,
            steps=[*kept, *rest],
            variables=context,
            metadata={**old.metadata, "replanned_from": old.version},
            version=version,
        )
        current_state.metadata["plan_version"] = version
        return plan


def _stages(goal: str) -> list[list[str]]:
    stages = []
    for part in re.split(r"\bthen\b|;", goal, flags=re.IGNORECASE):
        tasks = [t.strip(" .") for t in re.split(r"\band\b|,", part, flags=re.IGNORECASE)]
        tasks = [t for t in tasks if t]
        if tasks:
            stages.append(tasks)
    return stages


def _accepted(fn: Any) -> set[str] | None:
    """Names a tool accepts, or None if it takes ``**kwargs``."""
    if fn is None:
        return set()
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params}
