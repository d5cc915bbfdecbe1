"""Assigning subtasks to agents by capability match and current load (pure).

For each subtask, in order, the candidates are the agents whose role does that kind
of subtask (a revision goes to the author of the draft). The best candidate has, in
this order: the most of the subtask's capabilities, the most specializations named in
the task's context, the lowest load (tasks it runs for all orchestrations, plus
subtasks given to it here, divided by its ``max_concurrency``), and comes first in
the list of agents. No randomness: the same inputs give the same assignment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from pydantic import JsonValue

from actorflow.agents.decompose import Subtask
from actorflow.agents.models import AgentInfo
from actorflow.errors import ConfigurationError

__all__ = ["assign_subtasks"]


def assign_subtasks(
    subtasks: Sequence[Subtask],
    agents: Sequence[AgentInfo],
    loads: Mapping[str, int],
    context: Mapping[str, JsonValue] | None = None,
) -> dict[str, str]:
    """Return subtask id -> agent id.

    Raises:
        ConfigurationError: a subtask has no agent of its role.
    """
    words = _context_words(context or {})
    extra: dict[str, int] = {}
    chosen: dict[str, str] = {}
    for subtask in subtasks:
        if subtask.author_of:
            chosen[subtask.id] = chosen[subtask.author_of]
        else:
            chosen[subtask.id] = _best(subtask, agents, loads, extra, words).id
        extra[chosen[subtask.id]] = extra.get(chosen[subtask.id], 0) + 1
    return chosen


def _best(
    subtask: Subtask,
    agents: Sequence[AgentInfo],
    loads: Mapping[str, int],
    extra: Mapping[str, int],
    words: frozenset[str],
) -> AgentInfo:
    candidates = [(i, a) for i, a in enumerate(agents) if a.role is subtask.role]
    if not candidates:
        raise ConfigurationError(
            f"Subtask {subtask.id!r} needs a {subtask.role.value} agent, and none takes part."
        )
    wanted = set(subtask.capabilities)

    def rank(item: tuple[int, AgentInfo]) -> tuple[int, int, Fraction, int]:
        index, agent = item
        match = len(wanted & set(agent.capabilities))
        known = len(words & {s.lower() for s in agent.specializations})
        load = Fraction(loads.get(agent.id, 0) + extra.get(agent.id, 0), agent.max_concurrency)
        return (-match, -known, load, index)

    return min(candidates, key=rank)[1]


def _context_words(context: Mapping[str, JsonValue]) -> frozenset[str]:
    """Lower-case words of the context's string values (for specialization matches)."""
    words: set[str] = set()
    for value in context.values():
        if isinstance(value, str):
            words.update(value.lower().replace("-", "_").split())
            words.add(value.lower().replace(" ", "_"))
    return frozenset(words)
