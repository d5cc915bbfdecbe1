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
    │   ├── FlowFailedError         a flow ended failed or cancelled (told to listeners)
    │   ├── StepFailedError         a step failed (after its retries)
    │   ├── StepResultError         a step returned a value that cannot be stored as JSON
    │   ├── RetryableStepError      raise it from a tool: the attempt is worth a retry
    │   ├── NonRetryableStepError   raise it from a tool: retrying cannot help
    │   └── StepHTTPError           an HTTP answer with an error status (4xx: not retried)
    ├── JournalError                a message log cannot be written or read
    │   ├── JournalCorruptedError   a damaged frame before the tail
    │   ├── JournalTornError        a partial last frame (strict readers only)
    │   └── ReplayDivergenceError   a replay decided differently from the recorded run
    ├── EffectError                 outside work (a model, tool or HTTP call) went wrong
    │   ├── EffectPoolExhaustedError  every effects thread is held by an abandoned blocking call
    │   └── EffectResultError       an effect returned a value that is not JSON data
    ├── HumanInputError             a human request or answer went wrong
    │   ├── InvalidHumanAnswerError   an answer does not fit its request (the request stays open)
    │   ├── HumanResponseExpiredError an answer came after the request timed out or was closed
    │   ├── AlreadyAnsweredError      a second answer to a request that was answered
    │   ├── UnknownHumanRequestError  no human request has that id
    │   └── HumanRequestFailedError   a request ended without an answer (cancelled, handler failed)
    │       └── HumanTimeoutError     a request timed out and its policy has no default
    ├── StoreError                  a state store cannot be opened, written or read
    │   ├── StoreSchemaError        not an actorflow store, or a schema this version cannot read
    │   ├── StoreLockedError        another process (or store object) has the store open
    │   ├── StoreClosedError        the store was used after close()
    │   ├── StoreDataError          a value given to the store is not plain JSON data
    │   ├── StoreTransientError     a write or read failed, and retrying it may succeed
    │   ├── CheckpointConflictError  a checkpoint's expected version is not the stored one
    │   └── StoreCorruptedError     a stored row failed validation (damaged or tampered)
    │       └── CheckpointRejectedError  a stored checkpoint cannot be trusted
    │           └── PlanMismatchError    its stored plan's hash differs from the recorded one
    ├── AgentError                  an agent, the orchestrator or the hub cannot do what was asked
    │   ├── UnknownAgentError       no agent is registered (or alive) under that id
    │   ├── AgentTaskFailedError    an agent's task handler failed, or a subtask ran out of tries
    │   │   └── AgentCrashedError   the handler raised a bug-like error; the agent was restarted
    │   └── AgentResponseTimeoutError  no response to an agent message in its response_timeout
    ├── ResourceError               a resource request cannot be granted
    │   ├── UnknownResourceError    no resource has that name
    │   ├── ResourceCapacityError   more was asked than the resource will ever have
    │   ├── ResourceTimeoutError    a request waited past its timeout
    │   ├── DeadlockError           a request was refused to break a wait-for cycle
    │   └── LeaseError              release of a lease that is unknown or released already
    ├── ConflictError               a conflict cannot be resolved (no strategy, bad conflict)
    ├── SystemStoppedError          the actor system is not running
    └── ShutdownTimeoutError        actors that did not stop in time

Messages say what failed, for which object, why, and what to do.
"""

from __future__ import annotations

__all__ = [
    "ActorNameTakenError",
    "ActorflowError",
    "AgentCrashedError",
    "AgentError",
    "AgentResponseTimeoutError",
    "AgentTaskFailedError",
    "AlreadyAnsweredError",
    "AskError",
    "AskTimeoutError",
    "BlockingCallError",
    "CheckpointConflictError",
    "CheckpointRejectedError",
    "ClockError",
    "CodecError",
    "ConditionError",
    "ConditionEvaluationError",
    "ConfigurationError",
    "ConflictError",
    "DeadlockError",
    "DeliveryFailedError",
    "DuplicateKindError",
    "DuplicateStepError",
    "EffectError",
    "EffectPoolExhaustedError",
    "EffectResultError",
    "EscalationError",
    "FlowDefinitionError",
    "FlowError",
    "FlowFailedError",
    "HumanInputError",
    "HumanRequestFailedError",
    "HumanResponseExpiredError",
    "HumanTimeoutError",
    "InvalidHumanAnswerError",
    "InvalidMessageError",
    "InvalidStepParametersError",
    "JournalCorruptedError",
    "JournalError",
    "JournalTornError",
    "LeaseError",
    "MailboxFullError",
    "MessageError",
    "MessageFrozenError",
    "MissingDependencyError",
    "NonRetryableStepError",
    "PlanCycleError",
    "PlanMismatchError",
    "ReplayDivergenceError",
    "ResourceCapacityError",
    "ResourceError",
    "ResourceTimeoutError",
    "RetryableStepError",
    "RoutingError",
    "ShutdownTimeoutError",
    "StepFailedError",
    "StepHTTPError",
    "StepResultError",
    "StoreClosedError",
    "StoreCorruptedError",
    "StoreDataError",
    "StoreError",
    "StoreLockedError",
    "StoreSchemaError",
    "StoreTransientError",
    "SupervisionError",
    "SystemStoppedError",
    "UnknownActorError",
    "UnknownAgentError",
    "UnknownHumanRequestError",
    "UnknownKindError",
    "UnknownResourceError",
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


class FlowFailedError(FlowError):
    """A flow ended failed or cancelled (what flow event listeners are told)."""


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


class ReplayDivergenceError(JournalError):
    """Replaying a recorded run against the current code decided differently: the message
    names the first differing event (seq, expected and actual, recipient, payload diff)."""


class JournalTornError(JournalError):
    """The log ends in a partial frame (strict mode only; tolerant readers report it)."""


class HumanInputError(ActorflowError):
    """A human request could not be asked, answered or completed."""


class InvalidHumanAnswerError(HumanInputError):
    """An answer does not fit its request (not a bool, not among the options, wrong type,
    no match for the pattern, too long); the request stays open for a valid answer.

    ``reason`` is the short why ("is not yes or no"), for prompts that ask again.
    """

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class HumanResponseExpiredError(HumanInputError):
    """An answer came after its request timed out, was cancelled or failed."""


class AlreadyAnsweredError(HumanInputError):
    """A request was answered already; a second answer is refused."""


class UnknownHumanRequestError(HumanInputError):
    """No human request has the given id (never asked here, or its record was lost)."""


class HumanRequestFailedError(HumanInputError):
    """A human request ended without an answer: it was cancelled, or its handler failed.

    ``outcome`` is the request's final ``HumanResponse``.
    """

    def __init__(self, message: str, *, outcome: object = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class HumanTimeoutError(HumanRequestFailedError):
    """A human request reached its deadline unanswered, and its timeout policy gives no
    default value."""


class StoreError(ActorflowError):
    """A state store could not be opened, written or read."""


class StoreSchemaError(StoreError):
    """A store file is not an actorflow store, or has a schema this version cannot read."""


class StoreLockedError(StoreError):
    """Another process (or another store object in this one) has the store open."""


class StoreClosedError(StoreError):
    """A store was used after it was closed."""


class StoreDataError(StoreError):
    """A value given to a store is not plain JSON data (NaN, a set, an object, a cycle)."""


class StoreTransientError(StoreError):
    """A store operation failed in a way that retrying it may cure (I/O, a busy file, an
    injected fault).

    ``committed`` says whether the write is known to be stored (``True``), known not to
    be (``False``), or unknown (``None``); retry with the same ``write_id`` to be safe.
    """

    def __init__(self, message: str, *, committed: bool | None = None) -> None:
        super().__init__(message)
        self.committed = committed


class CheckpointConflictError(StoreError):
    """A checkpoint write expected another version than the stored one (a second writer)."""


class StoreCorruptedError(StoreError):
    """A stored row failed validation: damaged, truncated or changed outside actorflow."""


class CheckpointRejectedError(StoreCorruptedError):
    """A stored checkpoint cannot be trusted, so a flow must not resume from it."""


class PlanMismatchError(CheckpointRejectedError):
    """A checkpoint's stored plan does not hash to the plan hash the checkpoint recorded."""


class AgentError(ActorflowError):
    """An agent, the orchestrator or the communication hub cannot do what was asked."""


class UnknownAgentError(AgentError):
    """No agent is registered, or alive, under the given id."""


class AgentTaskFailedError(AgentError):
    """An agent's task handler failed, or a subtask failed after its tries.

    ``retryable`` is the failed handler's own verdict (``None``: it did not say); the
    flow's retry rules read it.
    """

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable


class AgentCrashedError(AgentTaskFailedError):
    """An agent's task handler raised an unexpected error (not an ``ActorflowError``): the
    task failed and the agent's actor was restarted by its supervisor."""


class AgentResponseTimeoutError(AgentError):
    """An agent message that requires a response got none within its ``response_timeout``."""


class ResourceError(ActorflowError):
    """A resource request cannot be granted."""


class UnknownResourceError(ResourceError):
    """No resource has the given name; declare it with its capacity first."""


class ResourceCapacityError(ResourceError):
    """A request asks for more than the resource's whole capacity (it could never be granted)."""


class ResourceTimeoutError(ResourceError):
    """A resource request waited in the queue past its timeout."""


class DeadlockError(ResourceError):
    """A resource request was refused to break a wait-for cycle between holders."""


class LeaseError(ResourceError):
    """A lease was released that is unknown, or released already."""


class ConflictError(ActorflowError):
    """A conflict cannot be resolved: no strategy fits it, or the conflict is malformed."""
