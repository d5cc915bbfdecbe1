"""The orchestrator actor's registry and loads, kept outside its behaviour.

The state object is passed in the orchestrator's recipe, so a restart of the actor (a
crash in a decomposer, say) builds a new behaviour around the same registry and loads,
as the hub and the allocator keep theirs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from actorflow.agents.models import AgentInfo

__all__ = ["OrchestratorState"]


@dataclass(slots=True)
class OrchestratorState:
    """The registered agents and the subtasks per agent of orchestrations under way.

    Used only by the orchestrator actor (one message at a time), so it needs no lock.
    """

    agents: dict[str, AgentInfo] = field(default_factory=dict)
    """Agent id -> its registry entry, in registration order."""
    running: dict[str, Counter[str]] = field(default_factory=dict)
    """Orchestration id -> subtasks per agent."""

    def loads(self) -> dict[str, int]:
        """Subtasks assigned per agent by orchestrations under way."""
        total: Counter[str] = Counter()
        for counts in self.running.values():
            total.update(counts)
        return dict(total)
