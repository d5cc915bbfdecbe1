"""Conflicts between agents and how they were resolved (the seed's models), and the two
messages of the resolver actor at ``/agents/resolver``.

Anyone (an agent, the orchestrator, the resource allocator on a deadlock) tells the
resolver :class:`ResolveConflict`; it answers :class:`ConflictResolved` with a
:class:`ConflictResolution`, or :class:`ConflictRefused` when the conflict is malformed or
no strategy can resolve it.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow.messages.base import Message
from actorflow.messages.system import ErrorInfo

__all__ = [
    "ActionName",
    "Conflict",
    "ConflictRefused",
    "ConflictResolution",
    "ConflictResolved",
    "ConflictType",
    "ResolveConflict",
    "ResolutionAction",
]


ActionName = Literal["grant", "wait", "abort", "retry", "reassign", "accept", "reject", "escalate"]
"""What a :class:`ResolutionAction` tells an agent to do."""


class ConflictType(StrEnum):
    """What the agents disagree on."""

    RESOURCE_CONFLICT = "resource_conflict"
    """Two or more agents want the same resource."""
    TASK_CONFLICT = "task_conflict"
    """Two or more agents claim, or were given, the same task."""
    RESULT_CONFLICT = "result_conflict"
    """Agents produced results that disagree (a validator rejected, two answers differ)."""
    PRIORITY_CONFLICT = "priority_conflict"
    """Tasks of equal standing compete for one slot."""
    DEADLOCK = "deadlock"
    """Agents wait for each other in a cycle (found by the resource allocator)."""
    COMMUNICATION_CONFLICT = "communication_conflict"
    """A request between agents went unanswered or was refused."""


class Conflict(BaseModel):
    """A conflict to resolve. ``severity`` runs from 1 (minor) to 5 (critical)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    id: str
    conflict_type: ConflictType
    description: str = ""
    involved_agents: tuple[str, ...] = ()
    """Agent ids, in the order they entered the conflict (first come first)."""
    involved_tasks: tuple[str, ...] = ()
    severity: int = Field(default=3, ge=1, le=5)
    created_at: float = Field(default_factory=time.time)
    """Seconds since the epoch."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    """Facts a strategy may use: priorities per agent, the resource, validators' votes."""


class ResolutionAction(BaseModel):
    """One thing to do to carry out a resolution."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    action: ActionName
    agent_id: str = ""
    task_id: str = ""
    detail: str = ""


class ConflictResolution(BaseModel):
    """How a conflict was resolved: by which strategy, who wins, in which order, what to
    do, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    conflict_id: str
    strategy: str
    """The strategy's name (``priority``, ``first_come``, ``role_precedence``, ``vote``,
    ``human``, or a custom one)."""
    winner: str | None = None
    """The agent that wins, if one does."""
    order: tuple[str, ...] = ()
    """All involved agents, best first."""
    actions: tuple[ResolutionAction, ...] = ()
    rationale: str = ""
    resolved_at: float = Field(default_factory=time.time)
    """When it was resolved, in epoch seconds. A strategy sets the conflict's
    ``created_at`` (so its result depends on its input only); the resolver stamps the
    time by the system clock."""
    escalated: bool = False
    """A human was asked to decide (``strategy`` is ``human`` if they did; otherwise the
    automatic strategy decided and ``rationale`` says why the human did not)."""


class ResolveConflict(Message):
    """Ask the resolver to resolve ``conflict``; answered with :class:`ConflictResolved`."""

    kind: Literal["agents.resolve_conflict"] = "agents.resolve_conflict"
    conflict: Conflict
    agents: tuple[dict[str, JsonValue], ...] = ()
    """The involved agents' ``AgentInfo`` as data (role precedence, votes use it)."""
    tasks: tuple[dict[str, JsonValue], ...] = ()
    """The involved tasks as data (priorities, deadlines)."""
    strategy: str | None = None
    """The name of the strategy to use (None: the first registered for the conflict's
    type that applies)."""


class ConflictResolved(Message):
    """The resolver's answer to :class:`ResolveConflict`."""

    kind: Literal["agents.conflict_resolved"] = "agents.conflict_resolved"
    resolution: ConflictResolution


class ConflictRefused(Message):
    """The resolver's answer to :class:`ResolveConflict` when it cannot resolve it: the
    conflict or its agents and tasks are malformed, or no strategy fits. ``error`` names
    an ``actorflow`` :class:`~actorflow.errors.ConflictError` class and says why."""

    kind: Literal["agents.conflict_refused"] = "agents.conflict_refused"
    conflict_id: str
    error: ErrorInfo
