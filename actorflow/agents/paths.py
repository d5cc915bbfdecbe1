"""Where the agents layer's actors live (see the actor tree in ARCHITECTURE.md)."""

from __future__ import annotations

from actorflow.ids import ActorPath
from actorflow.runtime.system import AGENTS_PATH

__all__ = [
    "AGENTS_PATH",
    "HUB_PATH",
    "ORCHESTRATOR_PATH",
    "RESOLVER_PATH",
    "RESOURCES_PATH",
    "agent_path",
]

ORCHESTRATOR_PATH = ActorPath("/agents/orchestrator")
RESOLVER_PATH = ActorPath("/agents/resolver")
RESOURCES_PATH = ActorPath("/agents/resources")
HUB_PATH = ActorPath("/agents/hub")


def agent_path(agent_id: str) -> ActorPath:
    """The path of the agent actor with id ``agent_id``."""
    return ActorPath(f"{AGENTS_PATH}/{agent_id}")
