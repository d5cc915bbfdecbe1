"""Who an agent is: :class:`AgentRole` and :class:`AgentInfo` (the seed's models).

An ``AgentInfo`` is data only (it travels in messages and the journal); an agent's
behaviour, what it does with a task, is given separately when it is registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from actorflow.errors import ConfigurationError

__all__ = ["AgentInfo", "AgentRole", "agent_info"]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
RESERVED_AGENT_IDS = frozenset({"orchestrator", "resolver", "resources", "hub"})
"""Ids of the actors the agents layer keeps under ``/agents`` itself."""


class AgentRole(StrEnum):
    """What part an agent plays in a multi-agent task."""

    COORDINATOR = "coordinator"
    """Plans and coordinates: gets the planning subtask, and the final assembly."""
    SPECIALIST = "specialist"
    """Gathers and analyses (research, data): gets the first subtasks."""
    EXECUTOR = "executor"
    """Produces the deliverable from what specialists found."""
    VALIDATOR = "validator"
    """Reviews work; may reject it, which sends it back to its author."""
    MONITOR = "monitor"
    """Watches: gets every subtask's result as a notification, assigned no work."""


class AgentInfo(BaseModel):
    """An agent's identity and what it can do.

    ``id`` names its actor (``/agents/<id>``): letters, digits, ``_``, ``-`` and ``.``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    id: str
    name: str = ""
    """A display name (default: the id)."""
    role: AgentRole = AgentRole.EXECUTOR
    capabilities: tuple[str, ...] = ()
    """What it can do (``web_search``, ``editing``): subtasks are matched against these."""
    specializations: tuple[str, ...] = ()
    """Domains it knows (``academic_research``): a tie-breaker when assigning."""
    max_concurrency: int = Field(default=1, ge=1, le=10_000)
    """How many tasks it works on at once; more wait in its queue."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not value or len(value) > 128 or not set(value) <= _ID_CHARS or value[0] == ".":
            raise ValueError(
                f"agent id {value!r} must be 1-128 letters, digits, '_', '-' or '.' "
                "(not starting with '.'); it names the actor /agents/<id>"
            )
        if value in RESERVED_AGENT_IDS:
            raise ValueError(
                f"agent id {value!r} is reserved for the agents layer's own actor; "
                "choose another id"
            )
        return value

    @property
    def display_name(self) -> str:
        """The name, or the id when no name was given."""
        return self.name or self.id


def agent_info(agent: AgentInfo | Mapping[str, Any]) -> AgentInfo:
    """Return ``agent`` as an :class:`AgentInfo`; a dict is read in the seed's format
    (``{"id": ..., "role": "specialist", "capabilities": [...]}``).

    Raises:
        ConfigurationError: the dict is not a valid agent (says which field and why).
    """
    if isinstance(agent, AgentInfo):
        return agent
    if not isinstance(agent, Mapping):
        raise ConfigurationError(
            f"An agent must be an AgentInfo or a dict with at least an 'id', got "
            f"{type(agent).__name__}."
        )
    try:
        return AgentInfo.model_validate(dict(agent))
    except ValidationError as exc:
        where = agent.get("id", "<no id>")
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'agent'}: {e['msg']}" for e in exc.errors()
        )
        roles = ", ".join(r.value for r in AgentRole)
        raise ConfigurationError(
            f"Agent {where!r} is invalid: {problems}. Roles are: {roles}."
        ) from None
