"""Messages the runtime itself sends: supervision, lifecycle events, dead letters, timeouts.

``SystemMessage`` subclasses travel in a mailbox's priority lane and are handled by
the cell, never by a behaviour; they get through even while a cell is suspended.
The other classes here are ordinary messages a behaviour may handle
(``RequestTimedOut``, ``DeliveryFailed``, ``DeadLetter``) or events a listener
receives (``ActorSpawned`` ...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import JsonValue

from actorflow.ids import ActorPath, CorrelationId
from actorflow.messages.base import AnyMessage, Message

__all__ = [
    "ActorFailed",
    "ActorRestarted",
    "ActorResumed",
    "ActorSpawned",
    "ActorStopped",
    "ChildAdded",
    "ChildFailed",
    "ChildStopped",
    "DeadLetter",
    "DeadLetterReason",
    "DeliveryFailed",
    "Directive",
    "DirectiveDone",
    "EffectRecorded",
    "ErrorInfo",
    "LifecycleEvent",
    "RequestTimedOut",
    "StopActor",
    "StopTimedOut",
    "Supervise",
    "SystemEscalated",
    "SystemMessage",
]


class Directive(StrEnum):
    """A supervisor's answer to a child's failure."""

    RESUME = "resume"
    """Keep the behaviour and its state; go on with the next message."""
    RESTART = "restart"
    """Build a new behaviour from the recipe; the mailbox and its messages stay."""
    STOP = "stop"
    """Stop the child; its queued messages become dead letters."""
    ESCALATE = "escalate"
    """Fail the supervisor itself and let its own parent decide."""


class DeadLetterReason(StrEnum):
    """Why a message could not be processed."""

    UNKNOWN_RECIPIENT = "unknown_recipient"
    """No live actor holds the recipient path."""
    STOPPED = "stopped"
    """The recipient stopped before it processed the message."""
    OVERFLOW = "overflow"
    """The recipient's mailbox was full."""
    INVALID = "invalid"
    """The object sent is not a valid message."""
    UNHANDLED = "unhandled"
    """The recipient's behaviour has no handler for the message's type."""
    FAILED = "failed"
    """The recipient's handler raised while processing it."""
    LATE_REPLY = "late_reply"
    """A reply that arrived after its request had timed out."""


class ErrorInfo(Message):
    """A serialisable description of an exception."""

    kind: Literal["error.info"] = "error.info"
    error_type: str
    """Qualified name of the exception class."""
    error_types: tuple[str, ...] = ()
    """Qualified names along the exception's MRO, for deciders that match base classes."""
    message: str
    """``str()`` of the exception."""
    traceback: str = ""
    """A short formatted traceback."""
    escalated_by: tuple[str, ...] = ()
    """For an escalation: the supervisors it passed, nearest first.

    ``message`` then describes the root cause."""


class SystemMessage(Message, abstract=True):
    """Base of runtime control messages; they bypass suspension and go first."""


class ChildAdded(SystemMessage):
    """Retired: children are now adopted without a message. The class stays so that logs
    written by version 0.1.0 pre-releases still decode (a kind tag is never reused)."""

    kind: Literal["supervision.child_added"] = "supervision.child_added"
    child: ActorPath
    spawn_id: int = 0
    """Identifies this spawn, so the parent adopts exactly the cell that was spawned."""


class ChildFailed(SystemMessage):
    """A child's behaviour raised; the child is suspended until its parent decides."""

    kind: Literal["supervision.child_failed"] = "supervision.child_failed"
    child: ActorPath
    error: ErrorInfo
    message_kind: str | None = None
    """Kind of the message being handled, or ``None`` if the failure was in a hook."""
    incarnation: int = 0
    """Restart count of the child when it failed, so stale reports are recognised."""


class ChildStopped(SystemMessage):
    """A child has stopped and released its path."""

    kind: Literal["supervision.child_stopped"] = "supervision.child_stopped"
    child: ActorPath
    reason: str = "requested"
    """``self`` when the child stopped itself, which a permanent child's parent answers
    by spawning it again."""


class Supervise(SystemMessage):
    """A supervisor's directive to one child, acknowledged with ``DirectiveDone``.

    ``terminate`` and ``start`` are the two halves of a restart: the first stops the
    old behaviour (and the child's own children), the second builds the new one.
    """

    kind: Literal["supervision.supervise"] = "supervision.supervise"
    action: Literal["resume", "suspend", "terminate", "start"]


class DirectiveDone(SystemMessage):
    """A child finished carrying out a ``Supervise`` directive."""

    kind: Literal["supervision.directive_done"] = "supervision.directive_done"
    child: ActorPath
    action: Literal["resume", "suspend", "terminate", "start"]


class StopActor(SystemMessage):
    """Stop this actor: its children in reverse start order first, then itself."""

    kind: Literal["lifecycle.stop"] = "lifecycle.stop"
    reason: str = "requested"


class StopTimedOut(SystemMessage):
    """A child asked to stop did not report back within the stop timeout."""

    kind: Literal["supervision.stop_timed_out"] = "supervision.stop_timed_out"
    child: ActorPath


class RequestTimedOut(Message):
    """A request made with ``ctx.request`` got no reply in time."""

    kind: Literal["request.timed_out"] = "request.timed_out"
    correlation_id: CorrelationId
    recipient: ActorPath
    request_kind: str
    timeout: float
    """The timeout that passed, in seconds."""


class DeliveryFailed(Message):
    """Reply sent in place of an answer when a request became a dead letter."""

    kind: Literal["request.delivery_failed"] = "request.delivery_failed"
    recipient: ActorPath
    request_kind: str
    reason: DeadLetterReason
    detail: str = ""


class DeadLetter(Message):
    """A message that could not be processed, and why."""

    kind: Literal["deadletter.recorded"] = "deadletter.recorded"
    reason: DeadLetterReason
    recipient: ActorPath
    sender: ActorPath | None = None
    seq: int | None = None
    """Sequence number of the envelope, when one was built."""
    message: AnyMessage | None = None
    detail: str = ""
    """What went wrong, such as the handler's error."""


class EffectRecorded(Message):
    """A value that came from outside the actors (clock, id, tool, model, human), kept so
    a replay can feed it back instead of asking the outside world again."""

    kind: Literal["effect.recorded"] = "effect.recorded"
    actor: ActorPath
    effect: str
    """What kind of outside value: ``clock``, ``id``, ``tool``, ``model``, ``human`` ..."""
    name: str = ""
    """Which one: a tool name, an id prefix, a question ..."""
    value: JsonValue = None
    during_seq: int | None = None
    """Sequence number of the delivery being handled when it was recorded."""


class LifecycleEvent(Message, abstract=True):
    """Base of events about an actor's life, sent to system listeners."""

    path: ActorPath


class ActorSpawned(LifecycleEvent):
    """An actor was spawned."""

    kind: Literal["lifecycle.spawned"] = "lifecycle.spawned"
    behaviour: str


class ActorFailed(LifecycleEvent):
    """An actor's behaviour raised; the actor is suspended and its parent is told."""

    kind: Literal["lifecycle.failed"] = "lifecycle.failed"
    error: ErrorInfo
    message_kind: str | None = None


class ActorRestarted(LifecycleEvent):
    """An actor got a new behaviour from its recipe, keeping its mailbox."""

    kind: Literal["lifecycle.restarted"] = "lifecycle.restarted"
    restarts: int


class ActorResumed(LifecycleEvent):
    """A suspended actor was resumed with its behaviour and state kept."""

    kind: Literal["lifecycle.resumed"] = "lifecycle.resumed"


class ActorStopped(LifecycleEvent):
    """An actor stopped and released its path."""

    kind: Literal["lifecycle.stopped"] = "lifecycle.stopped"
    reason: str = "requested"


class SystemEscalated(LifecycleEvent):
    """A failure reached the root supervisor; the system is stopping."""

    kind: Literal["lifecycle.escalated"] = "lifecycle.escalated"
    error: ErrorInfo
