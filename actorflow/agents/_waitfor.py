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

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Candidate", "WaitEdge", "choose_victim", "find_cycle"]

H = TypeVar("H", bound=Hashable)


@dataclass(frozen=True, slots=True)
class WaitEdge:
    """``waiter`` waits, by request ``request_id``, for ``holder`` to release ``resource``."""

    waiter: str
    holder: str
    resource: str
    request_id: str


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
