"""``ModelAgent``: an agent whose tasks a language model does.

It is a :class:`~actorflow.agents.BaseAgent` like any other: an actor at
``/agents/<id>`` taking ``AgentTask``s (from a flow's ``agent`` step, the orchestrator,
another agent) and hub messages, its handler running as the actor's effect. For each
task it sends the model its system prompt, its memory of earlier tasks (the last
``remember`` exchanges, kept in the agent's memory so they survive a restart) and the
task; tools the model asks for run as actorflow tools of its ``ToolRegistry``
(TOOL_USE / TOOL_RESULT events); streamed tokens are TEXT / THINKING events for the
task's flow; each model call is journaled as the agent's ``model`` effect.

A model failure fails the task with the error's class and ``retryable`` marker (a 5xx
or a timeout is retried by the flow; a 4xx is not).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from actorflow.agents.base import BaseAgent
from actorflow.agents.context import AgentContext
from actorflow.agents.models import AgentInfo
from actorflow.errors import ConfigurationError
from actorflow.flow.messages import AgentTask
from actorflow.flow.state import IMemoryManager
from actorflow.flow.steps import ToolRegistry
from actorflow.models.client import ModelClient
from actorflow.models.scope import agent_scope
from actorflow.models.tools import DEFAULT_MAX_ROUNDS, complete_with_tools
from actorflow.models.types import ModelMessage, ModelResponse
from actorflow.runtime.behaviour import Recipe, recipe
from actorflow.secrets import redact

__all__ = ["MEMORY_KEY", "ModelAgent"]

MEMORY_KEY = "model_conversation"
"""The key of a model agent's remembered exchanges in its memory."""


class ModelAgent(BaseAgent):
    """An agent backed by a model (see the module docstring).

    Args:
        info: who the agent is (its role and capabilities also go into the prompt).
        client: the model client.
        system_prompt: the agent's instructions.
        tools: tools the model may call.
        memory: where its memory lives (pass the same manager in the recipe so that it
            survives restarts; see :meth:`recipe`).
        remember: how many earlier exchanges (task and answer) it sends the model.
        stream: stream the answers (tokens become TEXT / THINKING events as they come).
        max_rounds: model calls per task when the model keeps asking for tools.
        options: chat-completions parameters for every call (``temperature`` ...).
    """

    def __init__(
        self,
        info: AgentInfo | Mapping[str, Any] | None = None,
        *,
        client: ModelClient,
        system_prompt: str = "",
        tools: ToolRegistry | None = None,
        memory: IMemoryManager | None = None,
        remember: int = 10,
        stream: bool = True,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        options: Mapping[str, JsonValue] | None = None,
    ) -> None:
        super().__init__(info, memory=memory)
        if type(remember) is not int or remember < 0:
            raise ConfigurationError(f"remember must be an int >= 0, got {remember!r}.")
        self.client = client
        self.system_prompt = system_prompt
        self.tools = tools or ToolRegistry()
        self.remember = remember
        self.stream = stream
        self.max_rounds = max_rounds
        self.options: dict[str, Any] = dict(options or {})

    @classmethod
    def recipe(
        cls,
        info: AgentInfo | Mapping[str, Any],
        client: ModelClient,
        *,
        memory: IMemoryManager | None = None,
        **options: Any,
    ) -> Recipe:
        """A recipe for this agent (what ``register_agent`` and ``spawn`` take); pass the
        orchestrator's ``memory`` so the agent's memory outlives restarts."""
        return recipe(cls, info, client=client, memory=memory, **options)

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        """Ask the model to do ``task`` (with tools and memory) and return its answer."""
        history = await ctx.memory.retrieve(MEMORY_KEY, [])
        question = ModelMessage(role="user", content=self.task_prompt(task))
        messages = [self._system_message(), *_messages(history), question]
        with agent_scope(ctx):
            if self.tools.describe():
                response, _ = await complete_with_tools(
                    self.client,
                    messages,
                    self.tools,
                    max_rounds=self.max_rounds,
                    stream=self.stream,
                    **self.options,
                )
            else:
                response = await self.client.complete(messages, stream=self.stream, **self.options)
        if self.remember:
            kept = [
                *history,
                question.model_dump(mode="json"),
                response.as_message().model_dump(mode="json"),
            ]
            await ctx.memory.store(MEMORY_KEY, kept[-2 * self.remember :])
        return self.result(task, response)

    def task_prompt(self, task: AgentTask) -> str:
        """The user message for ``task``: its name and parameters (override to shape it)."""
        text = f"Task: {task.task}"
        if task.parameters:
            shown = redact(dict(task.parameters))
            text += "\nParameters: " + json.dumps(shown, default=repr, sort_keys=True)
        return text

    def result(self, task: AgentTask, response: ModelResponse) -> JsonValue:
        """The task's result from the model's answer (default: its text; override to parse
        it, e.g. a reviewer's ``{"approved": ...}``)."""
        return response.content

    def _system_message(self) -> ModelMessage:
        info = self.info
        who = f"You are agent {info.name or info.id!r}, role {info.role.value}"
        if info.capabilities:
            who += f", able to: {', '.join(info.capabilities)}"
        text = f"{who}.\n\n{self.system_prompt}" if self.system_prompt else f"{who}."
        return ModelMessage(role="system", content=text)


def _messages(history: object) -> list[ModelMessage]:
    if not isinstance(history, list):
        return []
    out = []
    for item in history:
        try:
            out.append(ModelMessage.model_validate(item))
        except ValueError:
            continue  # an entry of an older format: forgotten
    return out
