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
5. With an MCP client (``create_enhanced_flow(mcp_client)``), the tools it lists are
   candidates too, matched by the words of their names and descriptions, ranked after
   the tools you register and before the built-in ones. A server tool is a candidate
   only if the plan can fill every argument its input schema requires: an argument
   whose name is a context key gets that value (``{"data_source": "database"}`` fills
   ``data_source``), ``task`` gets the task's text and ``previous`` the results of the
   stage before; other context keys are left out. A server tool with the name of a
   registered tool is not planned (the registered one would run).

A model-backed planner can replace it behind :class:`IFlowPlanner`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
        *,
        mcp_client: Any = None,
    ) -> None:
        """Plan with ``tools``, ``agents`` (``{actor path: capabilities}``) and the tools
        ``mcp_client`` lists (anything with ``async list_tools()``)."""
        self.tools = tools or ToolRegistry()
        self.agents = dict(agents or {})
        self.mcp_client = mcp_client

    async def create_plan(self, goal: str, context: dict[str, Any] | None = None) -> FlowPlan:
        """Return a runnable plan for ``goal`` (see the module docstring for the rules).

        Raises:
            PlanningError: the goal is empty, a task matches no tool or agent, or the
                MCP client cannot list its tools.
        """
        context = dict(context or {})
        stages = _stages(goal)
        if not stages:
            raise PlanningError("The goal is empty. Say what the flow should achieve.")
        remote = await self._remote_tools()
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
                self._step(task, context, previous, f"s{number}_{index}", remote)
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

    async def _remote_tools(self) -> dict[str, _RemoteTool]:
        """The MCP client's tools that a plan may call, by name."""
        client = self.mcp_client
        if client is None or not hasattr(client, "list_tools"):
            return {}
        try:
            listed = await client.list_tools()
        except Exception as exc:
            raise PlanningError(
                f"The MCP client {client!r} could not list its tools: {exc}. Start the "
                "server (or check its address), or plan without the MCP client."
            ) from exc
        tools = (_remote(t) for t in getattr(listed, "tools", listed))
        return {t.name: t for t in tools if t.name not in self.tools}

    def _step(
        self,
        task: str,
        context: dict[str, Any],
        previous: list[FlowStep],
        step_id: str,
        remote: Mapping[str, _RemoteTool],
    ) -> FlowStep:
        kind, target = self._match(task, _fillable(remote, context, previous))
        deps = [s.id for s in previous]
        if kind == "agent":
            params: dict[str, Any] = {"agent": target, "task": task, "arguments": context}
            return create_flow_step(task, "agent", params, deps, id=step_id)
        fn = self.tools.get(target)
        accepted = _accepted(fn) if target not in remote else set(remote[target].properties)
        arguments = {k: v for k, v in context.items() if accepted is None or k in accepted}
        if accepted is None or "task" in accepted:
            arguments["task"] = task
        if previous and (accepted is None or "previous" in accepted):
            arguments["previous"] = {s.id: f"${{results[{s.id!r}]}}" for s in previous}
        params = {"tool_name": target, "arguments": arguments}
        return create_flow_step(task, "mcp_tool", params, deps, id=step_id)

    def _match(self, task: str, remote: Sequence[_RemoteTool] = ()) -> tuple[str, str]:
        words = _words(task)
        candidates: list[tuple[int, int, str, str]] = []
        for name, description in self.tools.describe().items():
            score = len(words & (_words(name.replace("_", " ")) | _words(description)))
            candidates.append((score, 1 if self.tools.is_builtin(name) else 3, name, "tool"))
        for tool in remote:
            score = len(words & (_words(tool.name.replace("_", " ")) | _words(tool.description)))
            candidates.append((score, 2, tool.name, "tool"))
        for path, capabilities in self.agents.items():
            score = len(words & _words(" ".join(c.replace("_", " ") for c in capabilities)))
            candidates.append((score, 0, path, "agent"))
        ranked = sorted(candidates, key=lambda c: (-c[0], -c[1], c[2]))
        best = ranked[0] if ranked else None
        if best is None or best[0] == 0:
            names = [*self.tools.describe(), *(t.name for t in remote)]
            tools = ", ".join(sorted(names)) or "none"
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


@dataclass(frozen=True, slots=True)
class _RemoteTool:
    """A tool the MCP client lists: its name, description and input schema's names."""

    name: str
    description: str
    properties: tuple[str, ...]
    required: tuple[str, ...]


def _remote(tool: Any) -> _RemoteTool:
    """Read a listed tool: an ``MCPToolInfo``, the SDK's ``Tool``, or a mapping."""

    def field(*names: str) -> Any:
        for name in names:
            value = tool.get(name) if isinstance(tool, Mapping) else getattr(tool, name, None)
            if value is not None:
                return value
        return None

    schema = field("input_schema", "inputSchema") or {}
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    required = schema.get("required") if isinstance(schema, Mapping) else None
    return _RemoteTool(
        name=str(field("name")),
        description=str(field("description") or ""),
        properties=tuple(props) if isinstance(props, Mapping) else (),
        required=tuple(str(r) for r in required) if isinstance(required, list) else (),
    )


def _fillable(
    remote: Mapping[str, _RemoteTool], context: Mapping[str, Any], previous: Sequence[FlowStep]
) -> list[_RemoteTool]:
    """The remote tools whose required arguments the plan can fill (rule 5)."""
    known = set(context) | {"task"} | ({"previous"} if previous else set())
    return [t for t in remote.values() if set(t.required) <= known]


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
