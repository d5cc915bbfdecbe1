"""The seed's human-in-the-loop models: what a human is asked, and the answer.

:class:`HumanCallbackData` is what a handler (an :class:`IHumanCallback`) sees;
:class:`HumanCallbackResponse` is what it returns. Both keep the seed's fields and add
a request id, multi-select, answer checks (a value type, a pattern, a length cap), the
request's policies and free metadata. The gateway's messages
(:mod:`actorflow.human.messages`) carry the same data, frozen.
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "ErrorPolicy",
    "HumanCallbackData",
    "HumanCallbackResponse",
    "HumanCallbackType",
    "HumanOutcome",
    "IHumanCallback",
    "TimeoutPolicy",
    "ValueType",
    "new_request_id",
]

DEFAULT_MAX_LENGTH = 10_000
"""Longest text answer a request takes unless it says otherwise (characters)."""

ValueType = Literal["str", "int", "float", "bool"]
"""The type an ``input`` answer must have (``None`` on a request: any JSON value)."""


class HumanCallbackType(StrEnum):
    """What is asked of the human."""

    CONFIRM = "confirm"
    INPUT = "input"
    SELECT = "select"
    HELP = "help"


class TimeoutPolicy(StrEnum):
    """What happens when a request reaches its deadline unanswered."""

    FAIL = "fail"
    """The request ends timed out, without a value."""
    DEFAULT = "default"
    """The request ends timed out with its ``default_value`` as the value."""
    ESCALATE = "escalate"
    """The request goes to the escalation handler with a new deadline (once); if that
    deadline passes too, the request ends timed out."""


class ErrorPolicy(StrEnum):
    """What happens when the handler asking the human raises."""

    FAIL = "fail"
    """The request ends failed, with the error."""
    WAIT = "wait"
    """The request stays open for an answer from outside until its deadline."""
    ESCALATE = "escalate"
    """The request goes to the escalation handler with a new deadline (once)."""


class HumanOutcome(StrEnum):
    """How a human request ended; each request gets exactly one outcome."""

    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    FAILED = "failed"


def new_request_id() -> str:
    """Return a new random human request id (``human-`` and 32 hex digits)."""
    return f"human-{uuid.uuid4().hex}"


class HumanCallbackData(BaseModel):
    """A request to a human (the seed's fields, then actorflow's)."""

    model_config = ConfigDict(extra="forbid")

    type: HumanCallbackType
    message: str
    options: list[Any] | None = None
    default_value: Any = None
    timeout: float = 3600.0
    flow_id: str | None = None
    step_id: str | None = None
    timestamp: float = Field(default_factory=time.time)
    request_id: str = Field(default_factory=new_request_id)
    """Identifies the request: answers, cancellations and the journal name it."""
    multi_select: bool = False
    """A selection takes a list of distinct options instead of one."""
    value_type: ValueType | None = None
    """The type an ``input`` answer must have (None: any JSON value)."""
    pattern: str | None = None
    """A regular expression a text answer must match in full (bounded; see
    :func:`actorflow.human.validation.check_pattern`)."""
    max_length: int = DEFAULT_MAX_LENGTH
    """Longest text answer taken, in characters."""
    on_timeout: TimeoutPolicy = TimeoutPolicy.FAIL
    escalation_timeout: float | None = None
    """Seconds the escalation handler gets (None: ``timeout`` again)."""
    on_error: ErrorPolicy = ErrorPolicy.FAIL
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free details for the handler (who asks, why, links); JSON data."""


class HumanCallbackResponse(BaseModel):
    """A human's answer."""

    model_config = ConfigDict(extra="forbid")

    callback_id: str
    response_type: str
    value: Any = None
    responder: str | None = None
    """Who answered (a user name, ``console``, ``scripted``)."""
    answered_at: float | None = None
    """When the answer was given, in epoch seconds (None: not said)."""


@runtime_checkable
class IHumanCallback(Protocol):
    """Answers human requests (the seed's interface; all four methods are async)."""

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a yes/no confirmation."""
        ...

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a value."""
        ...

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask to pick one of ``data.options`` (several, if ``data.multi_select``)."""
        ...

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for help or guidance."""
        ...
