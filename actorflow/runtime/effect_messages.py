"""Messages that bring the outcome of ``ctx.run_effect`` back to the actor that started it.

Each arrives with the effect id ``ctx.run_effect`` returned, both in ``effect_id`` and as
the envelope's correlation id, and is journaled like any delivery.
"""

from __future__ import annotations

from typing import Literal, final

from pydantic import JsonValue

from actorflow.ids import CorrelationId
from actorflow.messages.base import Message
from actorflow.messages.system import ErrorInfo

__all__ = ["EffectCompleted", "EffectFailed"]


@final
class EffectCompleted(Message):
    """An effect started with ``ctx.run_effect`` returned a result."""

    kind: Literal["effect.completed"] = "effect.completed"
    effect_id: CorrelationId
    """The id ``ctx.run_effect`` returned."""
    name: str = ""
    """The name given to ``ctx.run_effect``."""
    result: JsonValue = None
    """What the work returned (always JSON data: anything else arrives as EffectFailed)."""


@final
class EffectFailed(Message):
    """An effect started with ``ctx.run_effect`` raised, timed out, or returned a value
    that is not JSON data."""

    kind: Literal["effect.failed"] = "effect.failed"
    effect_id: CorrelationId
    """The id ``ctx.run_effect`` returned."""
    name: str = ""
    """The name given to ``ctx.run_effect``."""
    error: ErrorInfo
    """The error; ``error.error_type`` is its class's qualified name, for example
    ``builtins.TimeoutError`` after the timeout, ``actorflow.errors.EffectResultError``
    for a result that is not JSON data, ``actorflow.errors.EffectPoolExhaustedError``
    when no thread was left for a blocking call."""
