"""What the flow decider asks its shell to do: plain, frozen data.

The decider (:mod:`actorflow.flow.decider`) returns these; the flow actor
(:mod:`actorflow.flow.runner`) carries them out, in order. None of them holds a live
object, so a command sequence can be compared, stored and replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from actorflow.messages.base import Message

__all__ = [
    "CancelAttempt",
    "Command",
    "Emit",
    "Finish",
    "SaveState",
    "ScheduleTimer",
    "StartAttempt",
]


@dataclass(frozen=True, slots=True)
class StartAttempt:
    """Run attempt ``attempt`` of step ``step_id`` with these resolved parameters.

    ``names`` are the flow's names the step sees (its context); ``timeout`` is
    informative (the decider schedules the timeout itself).
    """

    step_id: str
    attempt: int
    parameters: Mapping[str, Any]
    names: Mapping[str, Any] = field(compare=False, repr=False)
    timeout: float | None = None

    @property
    def idempotency_key(self) -> str:
        """``flow id/step id/attempt`` without the flow id: the shell prefixes it."""
        return f"{self.step_id}/{self.attempt}"


@dataclass(frozen=True, slots=True)
class CancelAttempt:
    """Cancel attempt ``attempt`` of step ``step_id`` (its result will be ignored)."""

    step_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    """Deliver ``message`` to the flow after ``delay`` seconds (by the system's clock)."""

    delay: float
    message: Message


@dataclass(frozen=True, slots=True)
class SaveState:
    """Checkpoint the flow's state; ``final`` for the flow's end (the decider then waits
    for ``CheckpointSaved(final=True)`` before it finishes)."""

    final: bool = False


@dataclass(frozen=True, slots=True)
class Emit:
    """Report something that happened in the flow (for logs, streams and listeners)."""

    event: str
    """``flow_started``, ``flow_completed``, ``flow_failed``, ``flow_cancelled``,
    ``step_started``, ``step_completed``, ``step_failed``, ``step_skipped``,
    ``retry_scheduled``."""
    step_id: str | None = None
    detail: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finish:
    """Reply to whoever started the flow with its final state, then stop."""


Command = StartAttempt | CancelAttempt | ScheduleTimer | SaveState | Emit | Finish
"""Everything the decider may ask for."""
