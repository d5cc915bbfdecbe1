"""actorflow: an actor-model runtime for multi-agent workflows.

Layering (lower layers never import upper ones; library code never imports
``actorflow.testing``)::

    errors, ids, clock  <-  messages  <-  journal  <-  runtime  <-  streams, stores, human
                        <-  flow  <-  agents  <-  scenarios  <-  cli

The library logs through loguru and is silent by default; call
``logger.enable("actorflow")`` (the CLI does) to see its logs.
"""

from __future__ import annotations

from loguru import logger

from actorflow._version import __version__
from actorflow.clock import Clock, FakeClock, SystemClock
from actorflow.errors import (
    ActorflowError,
    ActorNameTakenError,
    AskError,
    AskTimeoutError,
    BlockingCallError,
    ClockError,
    CodecError,
    ConfigurationError,
    DeliveryFailedError,
    DuplicateKindError,
    EscalationError,
    InvalidMessageError,
    JournalCorruptedError,
    JournalError,
    JournalTornError,
    MailboxFullError,
    MessageError,
    RoutingError,
    ShutdownTimeoutError,
    SupervisionError,
    SystemStoppedError,
    UnknownActorError,
    UnknownKindError,
)
from actorflow.ids import ActorPath, CorrelationId, MessageId, RunId, actor_path
from actorflow.journal import Durability, JournalConfig, open_journal
from actorflow.messages import (
    AnyMessage,
    DeadLetter,
    DeadLetterReason,
    DeliveryFailed,
    Directive,
    Envelope,
    Message,
    RequestTimedOut,
)
from actorflow.runtime import (
    AGENTS_PATH,
    FLOWS_PATH,
    SYSTEM_PATH,
    ActorStatistics,
    ActorSystem,
    Behaviour,
    Context,
    MailboxConfig,
    OverflowPolicy,
    Recipe,
    RestartType,
    SupervisorStrategy,
    SystemStatistics,
    always,
    decide_by_type,
    recipe,
)

logger.disable("actorflow")

__all__ = [
    "AGENTS_PATH",
    "ActorNameTakenError",
    "ActorPath",
    "ActorStatistics",
    "ActorSystem",
    "ActorflowError",
    "AnyMessage",
    "AskError",
    "AskTimeoutError",
    "Behaviour",
    "BlockingCallError",
    "Clock",
    "ClockError",
    "CodecError",
    "ConfigurationError",
    "Context",
    "CorrelationId",
    "DeadLetter",
    "DeadLetterReason",
    "DeliveryFailed",
    "DeliveryFailedError",
    "Directive",
    "DuplicateKindError",
    "Durability",
    "Envelope",
    "EscalationError",
    "FLOWS_PATH",
    "FakeClock",
    "InvalidMessageError",
    "JournalConfig",
    "JournalCorruptedError",
    "JournalError",
    "JournalTornError",
    "MailboxConfig",
    "MailboxFullError",
    "Message",
    "MessageError",
    "MessageId",
    "OverflowPolicy",
    "Recipe",
    "RequestTimedOut",
    "RestartType",
    "RoutingError",
    "RunId",
    "SYSTEM_PATH",
    "ShutdownTimeoutError",
    "SupervisionError",
    "SupervisorStrategy",
    "SystemClock",
    "SystemStatistics",
    "SystemStoppedError",
    "UnknownActorError",
    "UnknownKindError",
    "__version__",
    "actor_path",
    "always",
    "decide_by_type",
    "open_journal",
    "recipe",
]
