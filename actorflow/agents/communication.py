"""Messages between agents, as the seed's communication hub knows them, and the messages
of the hub actor at ``/agents/hub``.

:class:`AgentMessage` is itself an actor message (kind ``agent.message``), so every
message an agent sends another is a mailbox delivery and is in the journal; a
response is an :class:`AgentResponse` (kind ``agent.response``).

What the hub answers (see :mod:`actorflow.agents.hub` for the rules):

- an ``AgentMessage`` that requires a response: the first :class:`AgentResponse`, or
  :class:`AgentMessageFailed` (timed out, refused, the receiving agent failed on it);
- any other ``AgentMessage``: :class:`MessageAccepted` once it is forwarded or queued, or
  :class:`AgentMessageFailed`;
- an ``AgentResponse``: :class:`AgentResponseAccepted` (only to an asker: an ``ask`` or a
  ``ctx.request``), or :class:`AgentResponseRefused` (always, to the responder);
- :class:`ReceiveMessages`: :class:`MessagesReceived`; :class:`JoinHub` and
  :class:`LeaveHub`: :class:`HubMembership` (only to an asker).

The errors the hub refuses with are :class:`AgentError` subclasses defined here
(:class:`InvalidAgentMessageError`, :class:`AgentInboxFullError`,
:class:`AgentResponseRefusedError`) or in :mod:`actorflow.errors`
(:class:`~actorflow.errors.AgentResponseTimeoutError`,
:class:`~actorflow.errors.UnknownAgentError`,
:class:`~actorflow.errors.AgentTaskFailedError`); :func:`agent_error` turns a failure
message's :class:`~actorflow.messages.system.ErrorInfo` back into the exception.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Container
from enum import StrEnum
from typing import Literal

from pydantic import Field, JsonValue

from actorflow.errors import (
    AgentError,
    AgentResponseTimeoutError,
    AgentTaskFailedError,
    UnknownAgentError,
)
from actorflow.flow.jsondata import to_json_data
from actorflow.messages.base import Message
from actorflow.messages.system import ErrorInfo

__all__ = [
    "AgentInboxFullError",
    "AgentMessage",
    "AgentMessageFailed",
    "AgentResponse",
    "AgentResponseAccepted",
    "AgentResponseRefused",
    "AgentResponseRefusedError",
    "BROADCAST_RECEIVER",
    "CommunicationType",
    "HubMembership",
    "InvalidAgentMessageError",
    "JoinHub",
    "LeaveHub",
    "MessageAccepted",
    "MessagesReceived",
    "ReceiveDeadline",
    "ReceiveMessages",
    "ResponseDeadline",
    "agent_error",
    "check_agent_id",
    "check_message",
    "is_broadcast",
    "json_content",
]

BROADCAST_RECEIVER = "*"
"""The ``receiver_id`` of a message for every agent the hub knows."""
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_JSON_FIX = "Send plain JSON data (dicts with str keys, lists, str, finite numbers, bool)."


class InvalidAgentMessageError(AgentError):
    """An agent message or response the hub cannot take: an empty or malformed agent id,
    content that is not JSON data, a broadcast that asks for a response, or the id of a
    message that still waits for its response."""


class AgentInboxFullError(AgentError):
    """The receiver's inbox at the hub holds as many messages as it may; nothing was
    queued (the receiver must take its messages with ``receive_messages`` first)."""


class AgentResponseRefusedError(AgentError):
    """A response to a message that is unknown, answered already, or timed out, or that was
    sent by another agent than the message's receiver."""


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


def check_agent_id(agent_id: object, what: str = "agent id") -> str:
    """Return ``agent_id`` if it can name an agent (``/agents/<id>``).

    Raises:
        InvalidAgentMessageError: it is not 1-128 letters, digits, ``_``, ``-`` or ``.``
            (not starting with ``.``), or it is ``hub``.
    """
    if (
        not isinstance(agent_id, str)
        or not 0 < len(agent_id) <= 128
        or not set(agent_id) <= _ID_CHARS
        or agent_id[0] == "."
    ):
        raise InvalidAgentMessageError(
            f"The {what} {agent_id!r} cannot name an agent: use 1-128 letters, digits, '_', "
            "'-' or '.' (not starting with '.'), as in 'agent_2'."
        )
    if agent_id == "hub":
        raise InvalidAgentMessageError(
            f"The {what} 'hub' names the communication hub itself, not an agent; "
            "choose another agent id."
        )
    return agent_id


def check_message(msg: AgentMessage, *, waiting: Container[str] = ()) -> None:
    """Raise :class:`InvalidAgentMessageError` if the hub cannot take ``msg`` (``waiting``:
    the ids of messages that wait for their response)."""
    if not msg.id:
        raise InvalidAgentMessageError("An agent message needs a non-empty id.")
    check_agent_id(msg.sender_id, "sender id")
    if not is_broadcast(msg):
        check_agent_id(msg.receiver_id, "receiver id")
    elif msg.requires_response:
        raise InvalidAgentMessageError(
            f"Broadcast {msg.id!r} requires a response, but a broadcast has many receivers "
            "and no one response; send each agent its own message instead."
        )
    json_content(msg.content, f"The content of agent message {msg.id!r}")
    if msg.requires_response and msg.id in waiting:
        raise InvalidAgentMessageError(
            f"Agent message {msg.id!r} is already waiting for its response; give a new "
            "message a new id."
        )


def json_content(value: object, where: str) -> JsonValue:
    """Return ``value`` as JSON data the journal can hold (finite numbers, 64-bit ints).

    Raises:
        InvalidAgentMessageError: it is not (``where`` names it in the message).
    """
    return to_json_data(value, where=where, error=InvalidAgentMessageError, fix=_JSON_FIX)


def is_broadcast(msg: AgentMessage) -> bool:
    """Whether ``msg`` goes to every known agent (``receiver_id`` ``*`` or type broadcast)."""
    return msg.receiver_id == BROADCAST_RECEIVER or msg.message_type is CommunicationType.BROADCAST


class AgentMessageFailed(Message):
    """An agent message could not be done: refused by the hub, timed out waiting for its
    response, or failed by the agent it was forwarded to."""

    kind: Literal["agent.message_failed"] = "agent.message_failed"
    message_id: str
    receiver_id: str
    error: ErrorInfo
    """What went wrong; :func:`agent_error` turns it back into the exception."""


class MessageAccepted(Message):
    """An agent message that needs no response was forwarded or queued (the hub's ack)."""

    kind: Literal["agent.message_accepted"] = "agent.message_accepted"
    message_id: str
    forwarded: tuple[str, ...] = ()
    """Receivers whose live agent actor (``/agents/<id>``) was told the message."""
    queued: tuple[str, ...] = ()
    """Receivers whose inbox at the hub now holds it, for ``receive_messages``."""

    @property
    def receivers(self) -> tuple[str, ...]:
        """Every receiver of the message, sorted."""
        return tuple(sorted((*self.forwarded, *self.queued)))


class AgentResponseAccepted(Message):
    """A response was taken and handed to whoever waits for it."""

    kind: Literal["agent.response_accepted"] = "agent.response_accepted"
    message_id: str


class AgentResponseRefused(Message):
    """A response was refused (unknown, answered or timed-out message, wrong responder)."""

    kind: Literal["agent.response_refused"] = "agent.response_refused"
    message_id: str
    error: ErrorInfo


class JoinHub(Message):
    """Make an agent id known to the hub: it gets broadcasts, and messages queued for it
    while it had no live actor are forwarded to its actor once it has one."""

    kind: Literal["agent.join_hub"] = "agent.join_hub"
    agent_id: str


class LeaveHub(Message):
    """Forget an agent id for broadcasts (its inbox, if it holds messages, stays)."""

    kind: Literal["agent.leave_hub"] = "agent.leave_hub"
    agent_id: str


class HubMembership(Message):
    """The hub's answer to :class:`JoinHub` or :class:`LeaveHub`."""

    kind: Literal["agent.hub_membership"] = "agent.hub_membership"
    agent_id: str
    is_member: bool
    forwarded: int = 0
    """Messages that waited in its inbox and were forwarded to its live actor on joining."""


class ReceiveMessages(Message):
    """Take the messages queued for ``agent_id``, oldest first."""

    kind: Literal["agent.receive_messages"] = "agent.receive_messages"
    agent_id: str
    limit: int | None = Field(default=None, ge=1)
    """Take at most this many (``None``: all)."""
    wait: float = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    """If the inbox is empty, wait up to this many seconds (system clock) for a message."""


class MessagesReceived(Message):
    """The messages taken from an inbox, in the order they were sent."""

    kind: Literal["agent.messages_received"] = "agent.messages_received"
    agent_id: str
    messages: tuple[AgentMessage, ...] = ()


class ResponseDeadline(Message):
    """The hub's timer: the response to ``message_id`` is due (sent to the hub itself)."""

    kind: Literal["agent.response_deadline"] = "agent.response_deadline"
    message_id: str


class ReceiveDeadline(Message):
    """The hub's timer: a waiting ``receive_messages`` has waited long enough."""

    kind: Literal["agent.receive_deadline"] = "agent.receive_deadline"
    agent_id: str
    waiter: int
    """Which wait of that agent (a number the hub gave it)."""


_ERRORS: dict[str, type[AgentError]] = {
    f"{cls.__module__}.{cls.__qualname__}": cls
    for cls in (
        AgentError,
        AgentInboxFullError,
        AgentResponseRefusedError,
        AgentResponseTimeoutError,
        AgentTaskFailedError,
        InvalidAgentMessageError,
        UnknownAgentError,
    )
}


def agent_error(error: ErrorInfo) -> AgentError:
    """Return the exception a hub failure message describes (an :class:`AgentError`)."""
    return _ERRORS.get(error.error_type, AgentError)(error.message)
