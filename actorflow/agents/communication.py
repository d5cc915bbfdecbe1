"""Messages between agents, as the seed's communication hub knows them.

:class:`AgentMessage` is itself an actor message (kind ``agent.message``), so every
message an agent sends another is a mailbox delivery and is in the journal; a
response is an :class:`AgentResponse` (kind ``agent.response``).
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field, JsonValue

from actorflow.messages.base import Message

__all__ = ["AgentMessage", "AgentResponse", "CommunicationType"]


class CommunicationType(StrEnum):
    """What an agent message is for."""

    REQUEST = "request"
    """Asks the receiver to do something; usually ``requires_response``."""
    RESPONSE = "response"
    """Answers a request (``correlation_id`` is the request's id)."""
    NOTIFICATION = "notification"
    """Tells the receiver something; no answer expected."""
    BROADCAST = "broadcast"
    """Sent to every registered agent."""
    QUERY = "query"
    """Asks for information only (no side effects expected)."""
    ERROR = "error"
    """Says a request could not be done (a response with a failure)."""


class AgentMessage(Message):
    """A message from one agent to another (or to all, for a broadcast)."""

    kind: Literal["agent.message"] = "agent.message"
    id: str = Field(default_factory=lambda: f"msg-{uuid.uuid4().hex[:16]}")
    sender_id: str
    receiver_id: str
    """The receiving agent's id (``"*"`` for a broadcast)."""
    message_type: CommunicationType = CommunicationType.NOTIFICATION
    content: JsonValue = None
    requires_response: bool = False
    response_timeout: float = Field(default=30.0, gt=0, le=7 * 24 * 3600)
    """Seconds the sender waits for a response."""
    correlation_id: str = ""
    """For a response: the id of the message it answers."""
    timestamp: float = Field(default_factory=time.time)
    """Seconds since the epoch, when the message was made."""


class AgentResponse(Message):
    """The response to an :class:`AgentMessage` that required one."""

    kind: Literal["agent.response"] = "agent.response"
    message_id: str
    """The id of the message this answers."""
    sender_id: str
    """Who answers (the original receiver)."""
    content: JsonValue = None
    error: str = ""
    """Set when the receiver could not do what was asked."""
    timestamp: float = Field(default_factory=time.time)
