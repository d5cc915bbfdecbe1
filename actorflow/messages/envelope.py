"""The envelope: one delivery of one message, with its routing and timing metadata."""

from __future__ import annotations

from typing import NamedTuple

from actorflow.ids import ActorPath, CorrelationId, MessageId
from actorflow.messages.base import Message

__all__ = ["Envelope"]


class Envelope(NamedTuple):
    """One immutable delivery of a message.

    A NamedTuple rather than a model: one is built per ``tell``, so it must cost
    no more than a tuple. The codec validates every field on decode.
    """

    seq: int
    """Sequence number, unique and increasing within one actor system."""
    message_id: MessageId
    """Identity of this delivery."""
    correlation_id: CorrelationId | None
    """Joins a request to its reply; ``None`` on a plain tell."""
    sender: ActorPath | None
    """Who sent it; ``None`` when it came from outside the actor system."""
    recipient: ActorPath
    """Where it is going."""
    reply_to: ActorPath | None
    """Where a reply should go (an actor, or an outside ask's reply slot)."""
    logical_time: int
    """Lamport time: greater than every delivery the sender had seen."""
    wall_time: float
    """Wall-clock time of sending, in epoch seconds, from the system's Clock."""
    message: Message
    """The message itself."""
