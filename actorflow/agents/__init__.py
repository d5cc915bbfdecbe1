"""Agents: agent actors, the orchestrator, the communication hub, the resource
allocator and the conflict resolver (see ARCHITECTURE.md §6).

Every agent is an actor at ``/agents/<id>`` whose behaviour is a :class:`BaseAgent`;
the orchestrator plans multi-agent tasks and runs them as flows of ``agent`` steps.
"""

from __future__ import annotations

from actorflow.agents.base import BaseAgent, task_from_message
from actorflow.agents.communication import AgentMessage, AgentResponse, CommunicationType
from actorflow.agents.conflicts import (
    Conflict,
    ConflictResolution,
    ConflictResolved,
    ConflictType,
    ResolutionAction,
    ResolveConflict,
)
from actorflow.agents.context import AgentContext, AgentMemory
from actorflow.agents.decompose import ITaskDecomposer, RoleDecomposer, Subtask
from actorflow.agents.default import AgentFunction, DefaultAgent, FunctionAgent
from actorflow.agents.models import AgentInfo, AgentRole, agent_info
from actorflow.agents.multi_agent import (
    AgentBehaviour,
    MultiAgentOrchestrator,
    create_multi_agent_flow,
    create_multi_agent_orchestrator,
)
from actorflow.agents.paths import (
    HUB_PATH,
    ORCHESTRATOR_PATH,
    RESOLVER_PATH,
    RESOURCES_PATH,
    agent_path,
)
from actorflow.agents.results import Contribution, OrchestrationResult, Validation
from actorflow.flow.messages import AgentTask, AgentTaskDone

__all__ = [
    "HUB_PATH",
    "ORCHESTRATOR_PATH",
    "RESOLVER_PATH",
    "RESOURCES_PATH",
    "AgentBehaviour",
    "AgentContext",
    "AgentFunction",
    "AgentInfo",
    "AgentMemory",
    "AgentMessage",
    "AgentResponse",
    "AgentRole",
    "AgentTask",
    "AgentTaskDone",
    "BaseAgent",
    "CommunicationType",
    "Conflict",
    "ConflictResolution",
    "ConflictResolved",
    "ConflictType",
    "Contribution",
    "DefaultAgent",
    "FunctionAgent",
    "ITaskDecomposer",
    "MultiAgentOrchestrator",
    "OrchestrationResult",
    "ResolutionAction",
    "ResolveConflict",
    "RoleDecomposer",
    "Subtask",
    "Validation",
    "agent_info",
    "agent_path",
    "create_multi_agent_flow",
    "create_multi_agent_orchestrator",
    "task_from_message",
]
