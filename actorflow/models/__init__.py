"""Language models in actorflow: clients, a model-backed planner, decomposer and agent.

- :class:`ModelClient` (protocol) and :class:`BaseModelClient`: ``complete`` and
  ``stream``; streamed tokens become TEXT / THINKING stream events for the flow or
  agent the call runs in; every call is journaled as a ``model`` effect (request,
  response or error, usage), so a replay can serve it back.
- :class:`OpenAIModelClient`: any OpenAI-compatible endpoint (``pip install
  actorflow[openai]``; configured by arguments or ``ACTORFLOW_MODEL*`` variables).
- :class:`RecordedModelClient`: answers from a list, a file or a journal.
- :class:`ModelFlowPlanner` (an ``IFlowPlanner``), :class:`ModelDecomposer` (an
  ``ITaskDecomposer``) and :class:`ModelAgent` (a ``BaseAgent``).

Layering: above ``agents`` (it builds on flows and agents); core actorflow never
imports this package, and this package imports ``openai`` only when an
``OpenAIModelClient`` is made.
"""

from actorflow.models.agent import MEMORY_KEY, ModelAgent
from actorflow.models.client import BaseModelClient, Messages, ModelClient
from actorflow.models.decomposer import ModelDecomposer, SubtaskProposal
from actorflow.models.errors import (
    ModelDecompositionError,
    ModelError,
    ModelPlanningError,
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
    OpenAINotInstalledError,
)
from actorflow.models.openai_client import (
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MODEL,
    ENV_TIMEOUT,
    OpenAIModelClient,
)
from actorflow.models.planner import PLANNER_PATH, ModelFlowPlanner, PlanProposal, ProposedStep
from actorflow.models.recorded import Recorded, RecordedModelClient, recordings_from_journal
from actorflow.models.scope import (
    MODEL_EFFECT,
    OUTSIDE_PATH,
    ModelScope,
    agent_scope,
    current_scope,
    model_scope,
)
from actorflow.models.structured import OutputMode, parse_json
from actorflow.models.tools import complete_with_tools, run_tool_call, tool_spec, tool_specs
from actorflow.models.types import (
    MessageInput,
    ModelChunk,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolSpec,
    Usage,
    to_messages,
)

__all__ = [
    "BaseModelClient",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "ENV_TIMEOUT",
    "MEMORY_KEY",
    "MODEL_EFFECT",
    "MessageInput",
    "Messages",
    "ModelAgent",
    "ModelChunk",
    "ModelClient",
    "ModelDecomposer",
    "ModelDecompositionError",
    "ModelError",
    "ModelFlowPlanner",
    "ModelMessage",
    "ModelPlanningError",
    "ModelRequest",
    "ModelRequestError",
    "ModelResponse",
    "ModelResponseError",
    "ModelScope",
    "ModelTimeoutError",
    "ModelUnavailableError",
    "OUTSIDE_PATH",
    "OpenAIModelClient",
    "OpenAINotInstalledError",
    "OutputMode",
    "PLANNER_PATH",
    "PlanProposal",
    "ProposedStep",
    "Recorded",
    "RecordedModelClient",
    "SubtaskProposal",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "agent_scope",
    "complete_with_tools",
    "current_scope",
    "model_scope",
    "parse_json",
    "recordings_from_journal",
    "run_tool_call",
    "to_messages",
    "tool_spec",
    "tool_specs",
]
