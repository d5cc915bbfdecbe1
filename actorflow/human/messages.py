"""Messages of the human gateway at ``/system/human``.

In: :class:`HumanRequest` (ask a human), :class:`AnswerHumanRequest` (an answer from
outside the handler), :class:`CancelHumanRequest`, :class:`ListHumanRequests`.
Out: one :class:`HumanResponse` per request, told to the requester when the request
ends; :class:`HumanAnswerAccepted` or :class:`HumanCommandRefused` to whoever
answered or cancelled. The gateway also sends itself :class:`DeadlinePassed`,
:class:`HandlerAnswered` and :class:`HandlerFailed`, so that every event that decides
a request is a journaled delivery.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from actorflow.errors import InvalidMessageError
from actorflow.human.models import (
    DEFAULT_MAX_LENGTH,
    ErrorPolicy,
    HumanCallbackData,
    HumanCallbackType,
    HumanOutcome,
    TimeoutPolicy,
    ValueType,
)
from actorflow.ids import ActorPath, CorrelationId
from actorflow.messages.base import Message
from actorflow.messages.system import ErrorInfo

__all__ = [
    "AnswerHumanRequest",
    "CancelHumanRequest",
    "DeadlinePassed",
    "HandlerAnswered",
    "HandlerFailed",
    "HumanAnswerAccepted",
    "HumanCommandRefused",
    "HumanRequest",
    "HumanRequestsListed",
    "HumanResponse",
    "ListHumanRequests",
    "PendingRecord",
    "Waiter",
]


class HumanRequest(Message):
    """Ask a human something; the gateway answers with one :class:`HumanResponse`.

    Sending the same ``request_id`` again never asks twice: while the request is open
    the new sender becomes the one told the outcome; once it has ended, the stored
    outcome is told again (how a resumed flow gets an answer given while it was down).
    """

    kind: Literal["human.request"] = "human.request"
    request_id: str
    type: HumanCallbackType
    message: str
    options: tuple[JsonValue, ...] | None = None
    default_value: JsonValue = None
    timeout: float = 3600.0
    """Seconds the human has, from when the gateway takes the request."""
    deadline: float | None = None
    """Absolute deadline in epoch seconds of the system clock; overrides ``timeout``
    (a resumed requester passes the first deadline, so it is never reset)."""
    multi_select: bool = False
    value_type: ValueType | None = None
    pattern: str | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    on_timeout: TimeoutPolicy = TimeoutPolicy.FAIL
    escalation_timeout: float | None = None
    """Seconds the escalation handler gets after the first deadline (None: ``timeout``)."""
    on_error: ErrorPolicy = ErrorPolicy.FAIL
    handler: str | None = None
    """Name of the registered handler that asks (None: the gateway's default handler;
    an unregistered name: nobody asks, the answer comes from outside)."""
    escalate_to: str | None = None
    """Name of the handler an escalation goes to (None: the gateway's escalation
    handler)."""
    flow_id: str | None = None
    step_id: str | None = None
    timestamp: float | None = None
    """When the request was made (the seed's ``timestamp``), if known."""
    metadata: Annotated[dict[str, JsonValue], Field(default_factory=dict)]
    reply_to: ActorPath | None = None
    """Where to tell the outcome (None: reply to the sender, keeping the correlation id,
    so ``ctx.request`` and ``ActorSystem.ask`` get it as their reply)."""

    @classmethod
    def from_data(
        cls,
        data: HumanCallbackData,
        *,
        reply_to: ActorPath | None = None,
        deadline: float | None = None,
        handler: str | None = None,
        escalate_to: str | None = None,
    ) -> HumanRequest:
        """Build the request message for the seed's :class:`HumanCallbackData`.

        Raises:
            InvalidMessageError: the options, default or metadata are not JSON data.
        """
        try:
            return cls(
                request_id=data.request_id,
                type=data.type,
                message=data.message,
                options=None if data.options is None else tuple(data.options),
                default_value=data.default_value,
                timeout=data.timeout,
                deadline=deadline,
                multi_select=data.multi_select,
                value_type=data.value_type,
                pattern=data.pattern,
                max_length=data.max_length,
                on_timeout=data.on_timeout,
                escalation_timeout=data.escalation_timeout,
                on_error=data.on_error,
                handler=handler,
                escalate_to=escalate_to,
                flow_id=data.flow_id,
                step_id=data.step_id,
                timestamp=data.timestamp,
                metadata=data.metadata,
                reply_to=reply_to,
            )
        except ValidationError as exc:
            raise InvalidMessageError(
                f"Human request {data.request_id!r} ({data.message!r}) cannot be sent: "
                f"{str(exc).strip().splitlines()[-1]}. Options, default value and metadata "
                "must be JSON data (str, numbers, bool, None, lists, dicts)."
            ) from None

    def to_data(self) -> HumanCallbackData:
        """Return the seed's :class:`HumanCallbackData` for a handler (plain, mutable)."""
        dumped = self.model_dump(mode="json")
        return HumanCallbackData(
            type=self.type,
            message=self.message,
            options=dumped["options"],
            default_value=dumped["default_value"],
            timeout=self.timeout,
            flow_id=self.flow_id,
            step_id=self.step_id,
            timestamp=self.timestamp if self.timestamp is not None else 0.0,
            request_id=self.request_id,
            multi_select=self.multi_select,
            value_type=self.value_type,
            pattern=self.pattern,
            max_length=self.max_length,
            on_timeout=self.on_timeout,
            escalation_timeout=self.escalation_timeout,
            on_error=self.on_error,
            metadata=dumped["metadata"],
        )


class HumanResponse(Message):
    """A human request ended: answered, timed out, cancelled or failed (exactly once)."""

    kind: Literal["human.response"] = "human.response"
    request_id: str
    outcome: HumanOutcome
    value: JsonValue = None
    """The answer; after a timeout under the ``default`` policy, the default value."""
    used_default: bool = False
    """The request timed out and its default value was used."""
    responder: str | None = None
    answered_at: float | None = None
    """When the request ended, in epoch seconds of the system clock."""
    error: ErrorInfo | None = None
    """Why it failed (outcome ``failed``)."""
    reason: str = ""
    """A sentence on how it ended, for people and logs."""
    flow_id: str | None = None
    step_id: str | None = None

    @property
    def has_value(self) -> bool:
        """Whether there is a value to go on with: answered, or timed out to the default."""
        return self.outcome is HumanOutcome.ANSWERED or self.used_default


class AnswerHumanRequest(Message):
    """Answer an open request from outside its handler (a CLI, a web form, a test).

    The reply is :class:`HumanAnswerAccepted`, or :class:`HumanCommandRefused` naming
    why (invalid answer: the request stays open; late; answered already; unknown id).
    """

    kind: Literal["human.answer"] = "human.answer"
    request_id: str
    value: JsonValue = None
    responder: str | None = None


class CancelHumanRequest(Message):
    """Cancel an open request; its requester gets a ``cancelled`` :class:`HumanResponse`.

    The reply is that response, or :class:`HumanCommandRefused` if it had ended.
    """

    kind: Literal["human.cancel"] = "human.cancel"
    request_id: str
    reason: str = ""


class HumanAnswerAccepted(Message):
    """The answer was taken: the request ended answered with ``value``."""

    kind: Literal["human.answer_accepted"] = "human.answer_accepted"
    request_id: str
    value: JsonValue = None
    """The answer as stored (a float answer to a ``float`` input is a float)."""


class HumanCommandRefused(Message):
    """An answer or a cancellation was refused; ``error`` says why (its ``error_type``
    is an ``actorflow.errors`` class: InvalidHumanAnswerError, HumanResponseExpiredError,
    AlreadyAnsweredError or UnknownHumanRequestError)."""

    kind: Literal["human.command_refused"] = "human.command_refused"
    request_id: str
    error: ErrorInfo


class ListHumanRequests(Message):
    """Ask the gateway for the open requests; the reply is :class:`HumanRequestsListed`."""

    kind: Literal["human.list"] = "human.list"


class DeadlinePassed(Message):
    """The gateway's own timer: a request's deadline (of ``stage``) has come."""

    kind: Literal["human.deadline_passed"] = "human.deadline_passed"
    request_id: str
    stage: int
    """0 for the first deadline, 1 after an escalation; a stale stage is ignored."""


class HandlerAnswered(Message):
    """A handler returned an answer (told by the effects loop to the gateway)."""

    kind: Literal["human.handler_answered"] = "human.handler_answered"
    request_id: str
    stage: int
    value: JsonValue = None
    responder: str | None = None


class HandlerFailed(Message):
    """A handler raised (or returned something that is not an answer)."""

    kind: Literal["human.handler_failed"] = "human.handler_failed"
    request_id: str
    stage: int
    error: ErrorInfo


class Waiter(BaseModel):
    """One more sender of an open request, told its outcome when it ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reply_to: ActorPath
    correlation_id: CorrelationId | None = None


class PendingRecord(BaseModel):
    """A human request as the gateway keeps it: open (``outcome`` None) or ended.

    Plain JSON data (``model_dump(mode="json")``), so a store can keep it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: HumanRequest
    deadline: float
    """Absolute deadline of the current stage, in epoch seconds of the system clock."""
    asked_at: float
    """When the gateway took the request, in epoch seconds."""
    stage: int = 0
    """0: with the first handler; 1: escalated."""
    reply_to: ActorPath | None = None
    """Who is told the outcome."""
    correlation_id: CorrelationId | None = None
    """The correlation id the outcome carries (the requester's ``ask`` or request)."""
    also: tuple[Waiter, ...] = ()
    """Others that sent the same request while it was open, told the outcome too."""
    outcome: HumanResponse | None = None

    def waiters(self) -> tuple[tuple[ActorPath | None, CorrelationId | None], ...]:
        """Everyone told the outcome: the requester, then the others, in order."""
        others = tuple((w.reply_to, w.correlation_id) for w in self.also)
        return ((self.reply_to, self.correlation_id), *others)

    @property
    def request_id(self) -> str:
        """The request's id."""
        return self.request.request_id

    @property
    def is_open(self) -> bool:
        """Whether the request still waits for its outcome."""
        return self.outcome is None


class HumanRequestsListed(Message):
    """The gateway's open requests, oldest first."""

    kind: Literal["human.requests_listed"] = "human.requests_listed"
    records: tuple[PendingRecord, ...] = ()
