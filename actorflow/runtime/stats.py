"""Statistics snapshots of actors and of the whole system."""

from __future__ import annotations

from collections.abc import Mapping
from typing import final

from pydantic import BaseModel, ConfigDict

from actorflow.ids import ActorPath

__all__ = ["ActorStatistics", "SystemStatistics"]


@final
class ActorStatistics(BaseModel):
    """A snapshot of one actor's counters (read from another thread: approximate while busy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: ActorPath
    behaviour: str
    is_alive: bool
    is_suspended: bool
    mailbox_depth: int
    """User messages queued and not yet taken."""
    processed: int
    """User messages its handlers finished without raising."""
    failed: int
    """Handler or hook failures."""
    restarts: int
    dead_letters: int
    """Messages addressed to it that became dead letters."""
    late_replies: int
    """Replies that arrived after their request timed out."""
    children: int


@final
class SystemStatistics(BaseModel):
    """A snapshot of system-wide counters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    actors: int
    """Live actors, the root and guardians included."""
    processed: int
    """Messages processed since the system started, by live and stopped actors."""
    failed: int
    """Handler failures since the system started."""
    restarts: int
    """Restarts since the system started."""
    mailbox_depth: int
    dead_letters: int
    dead_letters_by_reason: Mapping[str, int]
