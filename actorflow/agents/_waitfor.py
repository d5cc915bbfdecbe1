"""The wait-for graph of the resource allocator, as pure functions.

A holder ``A`` with a request waiting on resource ``R`` waits for every holder of
``R``: edge ``A -> B`` for each ``B`` holding a lease on ``R`` (``B`` may be ``A``
itself: asking again for a resource one holds all of waits forever). Edges to the
requests queued ahead of ``A`` are not needed: a request ahead waits for ``R``'s holders
too, so any cycle through it also runs through an edge of ``A`` to one of them.

A cycle is a deadlock. Nothing here reads a clock or changes state: the allocator
builds :class:`WaitEdge` facts from its ledger and asks :func:`find_cycle` whenever a
wait forms (a request queues, or a grant gives waiters a new holder to wait for).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pydantic import JsonValue

from actorflow.agents.conflicts import Conflict, ConflictType
from actorflow.agents.paths import AGENTS_PATH

__all__ = [
    "Candidate",
    "WaitEdge",
    "WaitingRequest",
    "choose_victim",
    "deadlock_conflict",
    "find_cycle",
    "holder_id",
]

H = TypeVar("H", bound=Hashable)


@dataclass(frozen=True, slots=True)
class WaitEdge:
    """``waiter`` waits, by request ``request_id``, for ``holder`` to release ``resource``."""

    waiter: str
    holder: str
    resource: str
    request_id: str


class WaitingRequest(Protocol):
    """What the graph needs to know of a waiting request."""

    @property
    def amount(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def arrival(self) -> int:
        """Order of arrival at the allocator (larger is younger)."""

    @property
    def arrived_at(self) -> float:
        """When it arrived (epoch seconds, system clock)."""

    @property
    def task_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """A waiting request that may be aborted to break a cycle."""

    holder: str
    request_id: str
    priority: int
    arrival: int
    """Order of arrival at the allocator (larger is younger)."""


def find_cycle(start: H, successors: Callable[[H], Iterable[H]]) -> tuple[H, ...] | None:
    """Return a cycle through ``start`` as ``(start, ..., last)`` (``last`` waits for
    ``start``), or ``None`` if ``start`` is on no cycle.

    Depth first, iterative (no recursion limit), each node expanded once: O(V + E).
    """
    path: list[H] = [start]
    stacks: list[Iterator[H]] = [iter(successors(start))]
    seen: set[H] = {start}
    while stacks:
        advanced = False
        for node in stacks[-1]:  # resumes where this node's scan stopped
            if node == start:
                return tuple(path)
            if node not in seen:
                seen.add(node)
                path.append(node)
                stacks.append(iter(successors(node)))
                advanced = True
                break
        if not advanced:
            stacks.pop()
            path.pop()
    return None


def choose_victim(candidates: Sequence[Candidate]) -> Candidate:
    """The fallback rule: abort the waiter with the lowest priority; on a tie, the
    youngest request (the one that arrived last).

    Raises:
        ValueError: no candidates.
    """
    if not candidates:
        raise ValueError("choose_victim() needs at least one candidate")
    return min(candidates, key=lambda c: (c.priority, -c.arrival))


def holder_id(path: str) -> str:
    """The id of a holder in a conflict: ``<id>`` for ``/agents/<id>``, else the path."""
    prefix = f"{AGENTS_PATH}/"
    rest = path[len(prefix) :] if path.startswith(prefix) else ""
    return rest if rest and "/" not in rest else str(path)


def deadlock_conflict(
    conflict_id: str,
    edges: Sequence[WaitEdge],
    requests: Mapping[str, WaitingRequest],
    *,
    created_at: float,
) -> tuple[Conflict, tuple[dict[str, JsonValue], ...]]:
    """The ``DEADLOCK`` conflict for a cycle (``edges`` in cycle order), and the cycle's
    requests as the resolver's tasks.

    Agents are listed in the order their requests in the cycle arrived (first come
    first), so the resolver's "youngest" is the last. An agent's priority is the highest
    of its requests in the cycle. ``metadata`` holds ``cycle`` (agent ids in cycle
    order), ``waits`` (the tasks), ``priorities`` and ``arrived_at`` per agent, and
    ``holders`` (agent id -> actor path).
    """
    by_arrival = sorted(edges, key=lambda e: requests[e.request_id].arrival)
    tasks = tuple(_task_data(e, requests[e.request_id]) for e in by_arrival)
    agents = {holder_id(e.waiter): e.waiter for e in by_arrival}
    priorities: dict[str, JsonValue] = {}
    arrived: dict[str, JsonValue] = {}
    for e in by_arrival:
        agent, request = holder_id(e.waiter), requests[e.request_id]
        known = priorities.get(agent)
        priorities[agent] = max(request.priority, known if isinstance(known, int) else 0)
        arrived.setdefault(agent, request.arrived_at)
    cycle = [holder_id(e.waiter) for e in edges]
    conflict = Conflict(
        id=conflict_id,
        conflict_type=ConflictType.DEADLOCK,
        description=(
            f"Agents wait for each other's resources in a cycle: {' -> '.join((*cycle, cycle[0]))}."
        ),
        involved_agents=tuple(agents),
        involved_tasks=tuple(
            dict.fromkeys(t for e in by_arrival if (t := requests[e.request_id].task_id))
        ),
        severity=4,
        created_at=created_at,
        metadata={
            "cycle": list[JsonValue](cycle),
            "waits": list[JsonValue](tasks),
            "priorities": priorities,
            "arrived_at": arrived,
            "holders": dict[str, JsonValue](agents),
        },
    )
    return conflict, tasks


def _task_data(edge: WaitEdge, request: WaitingRequest) -> dict[str, JsonValue]:
    """A request in a cycle, as a task for the resolver (see ``actorflow.agents.strategies``)."""
    return {
        "task_id": request.task_id,
        "agent_id": holder_id(edge.waiter),
        "waits_for": holder_id(edge.holder),
        "request_id": edge.request_id,
        "resource": edge.resource,
        "amount": request.amount,
        "priority": request.priority,
        "created_at": request.arrived_at,
    }
