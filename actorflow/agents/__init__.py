"""Agents: agent actors, the orchestrator, the communication hub, the resource
allocator and the conflict resolver (see ARCHITECTURE.md §6).

Every agent is an actor at ``/agents/<id>`` whose behaviour is a :class:`BaseAgent`;
the orchestrator plans multi-agent tasks and runs them as flows of ``agent`` steps.
"""

from __future__ import annotations

from actorflow.agents.base import BaseAgent, task_from_message
from actorflow.agents.communication import (
    AgentInboxFullError,
    AgentMessage,
    AgentResponse,
    AgentResponseRefusedError,
    CommunicationType,
    InvalidAgentMessageError,
)
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
from actorflow.agents.hub import AgentCommunicationHub, CommunicationHub, ensure_hub
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
from actorflow.agents.resolver import ConflictArbiter, ConflictResolver, ensure_conflict_resolver
from actorflow.agents.resource_messages import HolderGoneError, ResourceStatistics
from actorflow.agents.resources import (
    Lease,
    ResourceAllocator,
    acquire_resource,
    define_resource,
    ensure_resource_allocator,
    release_resource,
    resource_statistics,
)
from actorflow.agents.results import Contribution, OrchestrationResult, Validation
from actorflow.agents.strategies import (
    ConflictStrategy,
    DeadlockStrategy,
    FirstComeStrategy,
    PriorityStrategy,
    RolePrecedenceStrategy,
    StrategyRegistry,
    UndecidableConflictError,
    VoteStrategy,
)
from actorflow.flow.messages import AgentTask, AgentTaskDone

__all__ = [
    "AgentBehaviour",
    "AgentCommunicationHub",
    "AgentContext",
    "AgentFunction",
    "AgentInboxFullError",
    "AgentInfo",
    "AgentMemory",
    "AgentMessage",
    "AgentResponse",
    "AgentResponseRefusedError",
    "AgentRole",
    "AgentTask",
    "AgentTaskDone",
    "BaseAgent",
    "CommunicationHub",
    "CommunicationType",
    "Conflict",
    "ConflictArbiter",
    "ConflictResolution",
    "ConflictResolved",
    "ConflictResolver",
    "ConflictStrategy",
    "ConflictType",
    "Contribution",
    "DeadlockStrategy",
    "DefaultAgent",
    "FirstComeStrategy",
    "FunctionAgent",
    "HUB_PATH",
    "HolderGoneError",
    "ITaskDecomposer",
    "InvalidAgentMessageError",
    "Lease",
    "MultiAgentOrchestrator",
    "ORCHESTRATOR_PATH",
    "OrchestrationResult",
    "PriorityStrategy",
    "RESOLVER_PATH",
    "RESOURCES_PATH",
    "ResolutionAction",
    "ResolveConflict",
    "ResourceAllocator",
    "ResourceStatistics",
    "RoleDecomposer",
    "RolePrecedenceStrategy",
    "StrategyRegistry",
    "Subtask",
    "UndecidableConflictError",
    "Validation",
    "VoteStrategy",
    "acquire_resource",
    "agent_info",
    "agent_path",
    "create_multi_agent_flow",
    "create_multi_agent_orchestrator",
    "define_resource",
    "ensure_conflict_resolver",
    "ensure_hub",
    "ensure_resource_allocator",
    "release_resource",
    "resource_statistics",
    "task_from_message",
]
