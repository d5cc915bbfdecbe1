"""Behaviours for agents registered without one: :class:`DefaultAgent`, and
:class:`FunctionAgent` for an agent given as a plain function.

``DefaultAgent`` does real work that can be inspected, never invented text:

- For a ``review`` task (a validator's), it checks the draft: present, not empty, no
  ``error`` key, and every input it was built from present. It approves when every
  check passes and says which failed.
- For any other task, it calls each tool registered in the orchestrator's
  :class:`ToolRegistry` under a capability that both the agent and the subtask have,
  with the keyword arguments the tool accepts among ``task``, ``context``, ``inputs``
  and ``subtask``. Its result records what it did: the tools called and their results,
  the inputs it got, and a one-line summary.

It emits a THINKING event when it starts and a TEXT event with its summary.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import JsonValue

from actorflow.agents.base import BaseAgent
from actorflow.agents.context import AgentContext
from actorflow.agents.models import AgentInfo
from actorflow.flow.messages import AgentTask
from actorflow.flow.state import IMemoryManager
from actorflow.flow.steps import ToolRegistry

__all__ = ["AgentFunction", "DefaultAgent", "FunctionAgent", "review_checks"]

AgentFunction = Callable[[AgentTask, AgentContext], Any]
"""A plain or async function ``(task, ctx) -> result`` that is an agent's whole behaviour."""

_TOOL_ARGUMENTS = ("task", "context", "inputs", "subtask")


class DefaultAgent(BaseAgent):
    """The documented default behaviour (see the module docstring).

    Args:
        info: who the agent is.
        tools: the tools it may call, by capability name.
        memory: where its memory lives.
    """

    def __init__(
        self,
        info: AgentInfo | Mapping[str, Any] | None = None,
        tools: ToolRegistry | None = None,
        *,
        memory: IMemoryManager | None = None,
    ) -> None:
        super().__init__(info, memory=memory)
        self.tools = tools or ToolRegistry()

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        """Review a draft, or run the matching tools (see the module docstring)."""
        info = ctx.info
        ctx.think(f"{info.display_name} ({info.role.value}) starts {task.task!r}")
        if task.task == "review":
            failed: list[JsonValue] = list(review_checks(task.parameters))
            verdict: dict[str, JsonValue] = {
                "approved": not failed,
                "feedback": failed or ["all checks passed"],
                "reviewer": info.id,
            }
            ctx.say(f"{info.display_name}: {'approved' if not failed else 'rejected'}")
            return verdict
        return await self._work(task, ctx)

    async def _work(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        info, params = ctx.info, task.parameters
        subtask = params.get("subtask")
        listed = subtask.get("capabilities") if isinstance(subtask, Mapping) else None
        wanted = [c for c in listed if isinstance(c, str)] if isinstance(listed, list) else []
        usable = [c for c in info.capabilities if (c in wanted or not wanted) and c in self.tools]
        results: dict[str, JsonValue] = {}
        for name in usable:
            results[name] = await _call_tool(self.tools, name, params)
        inputs = params.get("inputs")
        inputs = inputs if isinstance(inputs, Mapping) else {}
        summary = (
            f"{info.display_name} ({info.role.value}) did {task.task!r}"
            + (f" with tools {usable}" if usable else " (no tool matches its capabilities)")
            + (f" from {sorted(inputs)}" if inputs else "")
        )
        ctx.say(summary)
        return {
            "agent": info.id,
            "role": info.role.value,
            "task": task.task,
            "summary": summary,
            "tools": results,
            "inputs": [*sorted(inputs)],
            "missing_inputs": [k for k in sorted(inputs) if _is_empty(inputs[k])],
        }


class FunctionAgent(BaseAgent):
    """An agent whose behaviour is one function ``(task, ctx) -> result`` (plain or async;
    a plain one runs in a worker thread)."""

    def __init__(
        self,
        info: AgentInfo | Mapping[str, Any] | None,
        function: AgentFunction,
        *,
        memory: IMemoryManager | None = None,
    ) -> None:
        super().__init__(info, memory=memory)
        self.function = function
        if inspect.iscoroutinefunction(function):
            self.handle_task = self._call_async  # type: ignore[method-assign]
        else:
            self.handle_task = self._call_sync  # type: ignore[method-assign,assignment]

    async def _call_async(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        result: Awaitable[JsonValue] = self.function(task, ctx)
        return await result

    def _call_sync(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        value: JsonValue = self.function(task, ctx)
        return value


def review_checks(parameters: Mapping[str, JsonValue]) -> list[str]:
    """The checks a default validator makes on the draft (``inputs["work"]`` of a review
    task); returns the failed ones (empty: approve)."""
    inputs = parameters.get("inputs")
    work = inputs.get("work") if isinstance(inputs, Mapping) else None
    failed: list[str] = []
    if _is_empty(work):
        failed.append("the draft is empty")
    elif isinstance(work, Mapping):
        if "error" in work:
            failed.append(f"the draft reports an error: {work['error']!r}")
        missing = work.get("missing_inputs")
        if isinstance(missing, list) and missing:
            failed.append(f"the draft was built without inputs {missing}")
    return failed


def _is_empty(value: object) -> bool:
    return value is None or value in ("", {}, [])


async def _call_tool(tools: ToolRegistry, name: str, params: Mapping[str, JsonValue]) -> Any:
    fn = tools.get(name)
    assert fn is not None
    accepted = _accepted(fn)
    kwargs = {k: params.get(k) for k in _TOOL_ARGUMENTS if k in accepted or "**" in accepted}
    if tools.is_async(name):
        return await fn(**kwargs)
    return await asyncio.to_thread(fn, **kwargs)


def _accepted(fn: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    names = {p.name for p in parameters}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        names.add("**")
    return names
