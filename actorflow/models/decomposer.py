"""``ModelDecomposer``: a language model splits a multi-agent task into subtasks.

An ``ITaskDecomposer`` whose ``decompose`` is ``async``: the orchestrator actor runs it as
its effect, so the actor never waits on the model. The model gets the task, the context
and the agents (id, role, capabilities) and answers with :class:`SubtaskProposal`
(structured output). The subtasks are checked as the orchestrator checks any
(:func:`~actorflow.agents.decompose.check_subtasks`: unique identifiers, dependencies on
earlier subtasks only, so no cycle) and each must have an agent of its role; an invalid
answer goes back to the model with the error, up to ``max_attempts`` calls, then
:class:`ModelDecompositionError`.

The deterministic :class:`~actorflow.agents.RoleDecomposer` stays the default; pass
``decomposer=ModelDecomposer(client)`` to ``MultiAgentOrchestrator`` to use a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, JsonValue

from actorflow.agents.decompose import ROLE_OF_KIND, Subtask, check_subtasks
from actorflow.agents.models import AgentInfo
from actorflow.agents.paths import ORCHESTRATOR_PATH
from actorflow.errors import ConfigurationError
from actorflow.models.client import ModelClient
from actorflow.models.errors import ModelDecompositionError
from actorflow.models.scope import model_scope
from actorflow.models.structured import OutputMode, StructuredOutputError, ask_structured
from actorflow.models.types import ModelMessage
from actorflow.secrets import redact

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["ModelDecomposer", "SubtaskProposal"]

SYSTEM_PROMPT = (
    "You split a task into subtasks for a team of agents. Kinds and who does them: "
    "plan (coordinator), research (specialist), produce (executor), review (validator: "
    "answers approved true/false), revise (executor, after a review that rejected; set "
    "author_of to the subtask whose author revises and only_if_rejected to the review). "
    "List subtasks dependencies first; depends_on and inputs name earlier subtasks only. "
    "Give each subtask the capabilities its agent needs, from the agents' capabilities. "
    "Use only kinds whose role one of the agents has."
)


class SubtaskProposal(BaseModel):
    """The model's structured answer: the subtasks, dependencies first."""

    model_config = ConfigDict(extra="forbid")

    subtasks: list[Subtask]


class ModelDecomposer:
    """Decomposes tasks with a model (see the module docstring); an ``ITaskDecomposer``.

    Args:
        client: the model client.
        max_attempts: model calls per task before :class:`ModelDecompositionError`.
        system: journals the model calls (under the orchestrator's path) when they are
            made outside an actor system's scope.
        output_mode: how the schema is asked for (see :data:`OutputMode`).
        instructions: more text for the system prompt.
    """

    def __init__(
        self,
        client: ModelClient,
        *,
        max_attempts: int = 3,
        system: ActorSystem | None = None,
        output_mode: OutputMode = "json_schema",
        instructions: str = "",
    ) -> None:
        if type(max_attempts) is not int or not 1 <= max_attempts <= 20:
            raise ConfigurationError(
                f"max_attempts must be an int from 1 to 20, got {max_attempts!r}."
            )
        self.client = client
        self.max_attempts = max_attempts
        self.system = system
        self.output_mode: OutputMode = output_mode
        self.instructions = instructions

    async def decompose(
        self, task: str, context: Mapping[str, JsonValue], agents: Sequence[AgentInfo]
    ) -> list[Subtask]:
        """Return the model's subtasks for ``task``, checked (see the module docstring).

        Raises:
            ModelDecompositionError: no valid subtasks within ``max_attempts`` calls.
            ModelError: a model call failed.
        """
        roles = {a.role for a in agents}
        team = [
            {"id": a.id, "role": a.role.value, "capabilities": list(a.capabilities)} for a in agents
        ]
        prompt = f"Task: {task}\nAgents: {json.dumps(team)}"
        if context:
            prompt += f"\nContext: {json.dumps(redact(dict(context)), default=repr)}"
        system_prompt = SYSTEM_PROMPT + (f"\n\n{self.instructions}" if self.instructions else "")
        messages = [
            ModelMessage(role="system", content=system_prompt),
            ModelMessage(role="user", content=prompt),
        ]

        def check(proposal: SubtaskProposal) -> list[Subtask]:
            subtasks = check_subtasks(proposal.subtasks)
            for subtask in subtasks:
                if ROLE_OF_KIND[subtask.kind] not in roles:
                    raise ModelDecompositionError(
                        f"Subtask {subtask.id!r} is a {subtask.kind!r}, done by a "
                        f"{ROLE_OF_KIND[subtask.kind].value}, but no agent has that role."
                    )
            return subtasks

        with model_scope(self.system, ORCHESTRATOR_PATH):
            try:
                return await ask_structured(
                    self.client,
                    messages,
                    SubtaskProposal,
                    check,
                    max_attempts=self.max_attempts,
                    mode=self.output_mode,
                    name="subtasks",
                )
            except StructuredOutputError as exc:
                raise ModelDecompositionError(
                    f"The model proposed no valid subtasks for {task!r} in "
                    f"{self.max_attempts} tries; the last problem: {exc.errors[-1]} Try "
                    "again, give it more tries (max_attempts), or use RoleDecomposer."
                ) from None
