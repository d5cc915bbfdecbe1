"""The actorflow exception hierarchy.

Every error actorflow raises on purpose is an :class:`ActorflowError`, so
``except ActorflowError`` catches all of them and nothing else::

    ActorflowError
    ├── ConfigurationError          invalid option, recipe or scenario file
    ├── ClockError                  a FakeClock asked to go backwards
    ├── MessageError
    │   ├── InvalidMessageError     not a Message, or fails its schema
    │   ├── MessageFrozenError      code tried to change a sent message's data in place
    │   ├── DuplicateKindError      two message classes claim one kind tag
    │   ├── UnknownKindError        a decoded kind tag has no registered class
    │   └── CodecError              bytes that are not a valid, bounded msgpack envelope
    ├── RoutingError
    │   ├── UnknownActorError       no live actor holds the path
    │   ├── ActorNameTakenError     spawn under a path that is already taken
    │   └── MailboxFullError        the recipient's overflow policy rejects the message
    ├── AskError
    │   ├── AskTimeoutError         no reply to an outside ask in time
    │   ├── DeliveryFailedError     the asked actor failed, stopped or dropped the request
    │   └── BlockingCallError       a blocking wait from inside an actor handler
    ├── SupervisionError
    │   └── EscalationError         a failure escalated past the root: the system stopped
    ├── FlowError                   a flow cannot be defined or run
    │   ├── FlowDefinitionError     a plan is invalid (checked before anything runs)
    │   │   ├── DuplicateStepError
    │   │   ├── MissingDependencyError
    │   │   ├── PlanCycleError
    │   │   ├── UnknownStepTypeError
    │   │   ├── InvalidStepParametersError
    │   │   └── ConditionError      a condition expression is malformed or unsafe
    │   ├── ConditionEvaluationError  a valid condition failed on the flow's data
    │   ├── StepFailedError         a step failed (after its retries)
    │   ├── StepResultError         a step returned a value that cannot be stored as JSON
    │   ├── RetryableStepError      raise it from a tool: the attempt is worth a retry
    │   ├── NonRetryableStepError   raise it from a tool: retrying cannot help
    │   └── StepHTTPError           an HTTP answer with an error status (4xx: not retried)
    ├── JournalError                a message log cannot be written or read
    │   ├── JournalCorruptedError   a damaged frame before the tail
    │   └── JournalTornError        a partial last frame (strict readers only)
    ├── EffectError                 outside work (a model, tool or HTTP call) went wrong
    │   ├── EffectPoolExhaustedError  every effects thread is held by an abandoned blocking call
    │   └── EffectResultError       an effect returned a value that is not JSON data
    ├── SystemStoppedError          the actor system is not running
    └── ShutdownTimeoutError        actors that did not stop in time

Messages say what failed, for which object, why, and what to do.
"""

from __future__ import annotations

__all__ = [
    "ActorNameTakenError",
    "ActorflowError",
    "AskError",
    "AskTimeoutError",
    "BlockingCallError",
    "ClockError",
    "CodecError",
    "ConditionError",
    "ConditionEvaluationError",
    "ConfigurationError",
    "DeliveryFailedError",
    "DuplicateKindError",
    "DuplicateStepError",
    "EffectError",
    "EffectPoolExhaustedError",
    "EffectResultError",
    "EscalationError",
    "FlowDefinitionError",
    "FlowError",
    "InvalidMessageError",
    "InvalidStepParametersError",
    "JournalCorruptedError",
    "JournalError",
    "JournalTornError",
    "MailboxFullError",
    "MessageError",
    "MessageFrozenError",
    "MissingDependencyError",
    "NonRetryableStepError",
    "PlanCycleError",
    "RetryableStepError",
    "RoutingError",
    "ShutdownTimeoutError",
    "StepFailedError",
    "StepHTTPError",
    "StepResultError",
    "SupervisionError",
    "SystemStoppedError",
    "UnknownActorError",
    "UnknownKindError",
    "UnknownStepTypeError",
]


class ActorflowError(Exception):
    """Base class of every error actorflow raises on purpose."""


class ConfigurationError(ActorflowError):
    """An option, recipe, or scenario file is invalid."""


class ClockError(ActorflowError):
    """A clock was asked to do something impossible, such as go backwards."""


class MessageError(ActorflowError):
    """A message, its kind tag, or its encoding is wrong."""


class InvalidMessageError(MessageError):
    """An object is not a valid actorflow message."""


class MessageFrozenError(MessageError, TypeError):
    """Code tried to change a message's list or dict in place; message data is read-only.

    Also a ``TypeError``, like changing a tuple.
    """


class DuplicateKindError(MessageError):
    """Two message classes claim the same kind tag."""


class UnknownKindError(MessageError):
    """A kind tag has no registered message class."""


class CodecError(MessageError):
    """Bytes could not be decoded into a valid envelope or message."""


class RoutingError(ActorflowError):
    """A message could not be routed to its recipient."""


class UnknownActorError(RoutingError):
    """No live actor holds the path."""


class ActorNameTakenError(RoutingError):
    """An actor already holds the path a spawn asked for."""


class MailboxFullError(RoutingError):
    """The recipient's mailbox is full and its overflow policy rejects new messages."""


class AskError(ActorflowError):
    """An ask from outside the actor system did not get its answer."""


class AskTimeoutError(AskError):
    """No reply arrived before the ask's timeout."""


class DeliveryFailedError(AskError):
    """The asked actor failed on the request, or the request became a dead letter."""


class BlockingCallError(AskError):
    """A blocking wait was attempted on an actor thread, where it could deadlock."""


class SupervisionError(ActorflowError):
    """A supervision decision could not be carried out."""


class EscalationError(SupervisionError):
    """A failure escalated past the root supervisor, so the system stopped."""


class EffectError(ActorflowError):
    """Outside work run by the effects runner (a model, tool or HTTP call) went wrong."""


class EffectPoolExhaustedError(EffectError):
    """Every thread the effects pool may have is held by a blocking call whose caller gave
    up (cancelled or timed out); new blocking calls are refused until some return."""


class EffectResultError(EffectError):
    """An effect started with ``ctx.run_effect`` returned a value that is not JSON data."""


class SystemStoppedError(ActorflowError):
    """The actor system is not running."""


class ShutdownTimeoutError(ActorflowError):
    """Some actors did not stop within the shutdown timeout."""


class FlowError(ActorflowError):
    """A flow cannot be defined or run."""


class FlowDefinitionError(FlowError):
    """A plan is invalid; raised before any of its steps runs."""


class DuplicateStepError(FlowDefinitionError):
    """Two steps of a plan share an id."""


class MissingDependencyError(FlowDefinitionError):
    """A step depends on a step id the plan does not have."""


class PlanCycleError(FlowDefinitionError):
    """The plan's dependencies form a cycle."""


class UnknownStepTypeError(FlowDefinitionError):
    """A step's type has no registered handler."""


class InvalidStepParametersError(FlowDefinitionError):
    """A step's parameters do not fit its type."""


class ConditionError(FlowDefinitionError):
    """A condition expression is malformed, too large, or uses something not allowed."""


class ConditionEvaluationError(FlowError):
    """A well-formed condition failed on the flow's data (missing key, wrong type, limit)."""


class StepFailedError(FlowError):
    """A step failed after its retries."""


class StepResultError(FlowError):
    """A step returned a value that cannot be stored as JSON (binary data, a cycle)."""


class RetryableStepError(FlowError):
    """A step failed in a way worth retrying (a network error, a 5xx answer, ...).

    Raise it from a tool to have the attempt retried even when the step's ``retry_on``
    does not name the underlying error.
    """


class NonRetryableStepError(FlowError):
    """A step failed in a way a retry cannot cure (bad input, a refused request).

    Raise it from a tool to fail the attempt for good, whatever ``retry_on`` says. An
    exception with an attribute ``retryable = False`` is treated the same way.
    """


class StepHTTPError(FlowError):
    """An HTTP request of a step got an error status; 4xx other than 408 and 429 are
    deterministic and never retried."""

    def __init__(self, message: str, *, status_code: int, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


class JournalError(ActorflowError):
    """A message log could not be written or read."""


class JournalCorruptedError(JournalError):
    """A frame before the log's tail is damaged; the log cannot be trusted past it."""


class JournalTornError(JournalError):
    """The log ends in a partial frame (strict mode only; tolerant readers report it)."""
