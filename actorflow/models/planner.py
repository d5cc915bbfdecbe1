"""``ModelFlowPlanner``: a language model proposes the plan, actorflow checks it.

The model gets the goal, the context, the step types, the registered tools (name,
description, parameters) and agents (path, capabilities), and answers with a
:class:`PlanProposal` (structured output). The proposal becomes a ``FlowPlan`` checked
like any plan (:func:`~actorflow.flow.validation.validate_plan`: unknown step types,
unknown tools, arguments that do not fit, missing dependencies, cycles); an invalid one
goes back to the model with the error, up to ``max_attempts`` calls, then
:class:`ModelPlanningError`. Replanning keeps the completed steps and asks the model
for the rest, as the deterministic planner's :meth:`replan` does.

The deterministic :class:`~actorflow.flow.planner.EnhancedFlowPlanner` stays the default;
pass ``planner=ModelFlowPlanner(client, flow.executor.tools, flow.agents)`` to
``EnhancedFlow`` (or assign ``flow.planner``) to plan with a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow.errors import ConfigurationError
from actorflow.flow.models import FlowPlan, create_flow_step, generate_flow_id
from actorflow.flow.planner import EnhancedFlowPlanner
from actorflow.flow.steps import FlowServices, ToolRegistry, step_types
from actorflow.flow.validation import validate_plan
from actorflow.models.client import ModelClient
from actorflow.models.errors import ModelPlanningError
from actorflow.models.scope import model_scope
from actorflow.models.structured import OutputMode, StructuredOutputError, ask_structured
from actorflow.models.tools import tool_specs
from actorflow.models.types import ModelMessage
from actorflow.secrets import redact

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["PLANNER_PATH", "ModelFlowPlanner", "PlanProposal", "ProposedStep"]

PLANNER_PATH = "/outside/planner"
"""The path the planner's model calls are journaled under."""

SYSTEM_PROMPT = (
    "You plan workflows for actorflow. A plan is a list of steps; a step runs when all "
    "the steps it depends on are done, and steps without mutual dependencies run in "
    "parallel. Use only the step types, tools and agents listed. Step ids are short "
    "identifiers (letters, digits, '_'). A step's parameters may refer to an earlier "
    "step's result as \"${results['step_id']}\"."
)


class ProposedStep(BaseModel):
    """One step the model proposes."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    type: str
    """A registered step type: ``mcp_tool`` (a tool), ``agent``, ``condition`` ..."""
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    dependencies: list[str] = Field(default_factory=list)


class PlanProposal(BaseModel):
    """The model's structured answer: a plan."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    description: str = ""
    steps: list[ProposedStep]


class ModelFlowPlanner(EnhancedFlowPlanner):
    """Plans with a model (see the module docstring); an ``IFlowPlanner``.

    Args:
        client: the model client.
        tools: the tools plans may use (``flow.executor.tools``).
        agents: the agents plans may use, ``{actor path: capabilities}`` (``flow.agents``).
        max_attempts: model calls per plan before :class:`ModelPlanningError`.
        system: journals the planner's model calls (under :data:`PLANNER_PATH`).
        output_mode: how the plan's schema is asked for (see :data:`OutputMode`).
        instructions: more text for the system prompt (house rules, preferences).
    """

    def __init__(
        self,
        client: ModelClient,
        tools: ToolRegistry | None = None,
        agents: Mapping[str, Sequence[str]] | None = None,
        *,
        max_attempts: int = 3,
        system: ActorSystem | None = None,
        output_mode: OutputMode = "json_schema",
        instructions: str = "",
    ) -> None:
        super().__init__(tools, agents)
        if type(max_attempts) is not int or not 1 <= max_attempts <= 20:
            raise ConfigurationError(
                f"max_attempts must be an int from 1 to 20, got {max_attempts!r}."
            )
        self.client = client
        self.max_attempts = max_attempts
        self.system = system
        self.output_mode: OutputMode = output_mode
        self.instructions = instructions

    async def create_plan(self, goal: str, context: dict[str, Any] | None = None) -> FlowPlan:
        """Return the model's plan for ``goal``, checked (see the module docstring).

        Raises:
            PlanningError: the goal is empty.
            ModelPlanningError: no valid plan within ``max_attempts`` calls.
            ModelError: a model call failed.
        """
        context = dict(context or {})
        if not goal.strip():
            raise ModelPlanningError("The goal is empty. Say what the flow should achieve.")
        plan_id = generate_flow_id()
        messages = [
            ModelMessage(role="system", content=self._system_prompt()),
            ModelMessage(role="user", content=_goal_prompt(goal, context)),
        ]

        def check(proposal: PlanProposal) -> FlowPlan:
            return self._plan(proposal, plan_id, goal, context)

        with model_scope(self.system, PLANNER_PATH):
            try:
                return await ask_structured(
                    self.client,
                    messages,
                    PlanProposal,
                    check,
                    max_attempts=self.max_attempts,
                    mode=self.output_mode,
                    name="plan",
                )
            except StructuredOutputError as exc:
                raise ModelPlanningError(
                    f"The model proposed no valid plan for {goal!r} in {self.max_attempts} "
                    f"tries; the last problem: {exc.errors[-1]} Try again, give the model "
                    "more tries (max_attempts), or plan with EnhancedFlowPlanner."
                ) from None

    def _plan(
        self, proposal: PlanProposal, plan_id: str, goal: str, context: dict[str, Any]
    ) -> FlowPlan:
        steps = [
            create_flow_step(
                s.name or s.id, s.type, dict(s.parameters), list(s.dependencies), id=s.id
            )
            for s in proposal.steps
        ]
        if not steps:
            raise ModelPlanningError("The plan has no step; give at least one.")
        plan = FlowPlan(
            id=plan_id,
            name=proposal.name or f"Plan for: {goal}",
            description=proposal.description or f"Plan proposed by a model for: {goal}",
            steps=steps,
            variables=context,
            metadata={"goal": goal, "planner": "model", "model": self.client.model},
        )
        validate_plan(plan.freeze(), FlowServices(tools=self.tools))
        return plan

    def _system_prompt(self) -> str:
        types = {}
        for name, info in sorted(step_types().items()):
            schema = info.parameters.model_json_schema() if info.parameters else {}
            types[name] = schema.get("properties", {})
        tools = [t.model_dump(mode="json") for t in tool_specs(self.tools)]
        parts = [
            SYSTEM_PROMPT,
            "Step types and their parameters: " + json.dumps(types, separators=(",", ":")),
            "Tools (step type mcp_tool, parameters tool_name and arguments): "
            + json.dumps(tools, separators=(",", ":")),
        ]
        if self.agents:
            parts.append(
                "Agents (step type agent, parameters agent (the path), task and arguments): "
                + json.dumps(self.agents, separators=(",", ":"))
            )
        if self.instructions:
            parts.append(self.instructions)
        return "\n\n".join(parts)


def _goal_prompt(goal: str, context: Mapping[str, Any]) -> str:
    text = f"Goal: {goal}"
    if context:
        shown = redact(dict(context))  # the model needs no secret of the context
        text += "\nContext: " + json.dumps(shown, default=repr, separators=(",", ":"))
    return text
