"""What the flow decider asks its shell to do: plain, frozen data.

The decider (:mod:`actorflow.flow.decider`) returns these; the flow actor
(:mod:`actorflow.flow.runner`) carries them out, in order. None of them holds a live
object, so a command sequence can be compared, stored and replayed. They are named
tuples (several are made per step); compare sequences of them with ``==``, and tell
them apart with ``isinstance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic import JsonValue

from actorflow.messages.base import Message

__all__ = [
    "AskHuman",
    "CancelAttempt",
    "Command",
    "Emit",
    "Finish",
    "SaveState",
    "ScheduleTimer",
    "StartAttempt",
]


_NO_DETAIL: Mapping[str, JsonValue] = MappingProxyType({})


class StartAttempt(NamedTuple):
    """Run attempt ``attempt`` of step ``step_id`` with these resolved parameters.

    ``names`` are the flow's names the step sees (its context); ``timeout`` is
    informative (the decider schedules the timeout itself).
    """

    step_id: str
    attempt: int
    parameters: Mapping[str, Any]
    names: Mapping[str, Any]
    timeout: float | None = None


class AskHuman(NamedTuple):
    """Ask a person for attempt ``attempt`` of the ``human_input`` step ``step_id``.

    ``request`` is the question as plain data (``input_type``, ``message``, ``options``,
    ``default_value``, references resolved); ``timeout`` is informative (the decider
    schedules the timeout on the flow's clock). The answer comes back as the event
    ``HumanAnswered``.
    """

    step_id: str
    attempt: int
    request: Mapping[str, Any]
    timeout: float | None = None


class CancelAttempt(NamedTuple):
    """Cancel attempt ``attempt`` of step ``step_id`` (its result will be ignored)."""

    step_id: str
    attempt: int


class ScheduleTimer(NamedTuple):
    """Deliver ``message`` to the flow after ``delay`` seconds (by the system's clock)."""

    delay: float
    message: Message


class SaveState(NamedTuple):
    """Checkpoint the flow's state; ``final`` for the flow's end (the decider then waits
    for ``CheckpointSaved(final=True)`` before it finishes)."""

    final: bool = False


class Emit(NamedTuple):
    """Report something that happened in the flow (for logs, streams and listeners)."""

    event: str
    """``flow_started``, ``flow_completed``, ``flow_failed``, ``flow_cancelled``,
    ``step_started``, ``step_completed``, ``step_failed``, ``step_skipped``,
    ``retry_scheduled``, ``plan_changed``, ``plan_refused``."""
    step_id: str | None = None
    detail: Mapping[str, JsonValue] = _NO_DETAIL


class Finish(NamedTuple):
    """Reply to whoever started the flow with its final state, then stop."""

    command: str = "finish"
    """Its name (a named tuple needs a field; this keeps it unequal to other commands)."""


Command = StartAttempt | AskHuman | CancelAttempt | ScheduleTimer | SaveState | Emit | Finish
"""Everything the decider may ask for."""
