"""Human in the loop: the seed's callback API and the human gateway at ``/system/human``.

Modules: ``models`` (the seed's HumanCallbackType, HumanCallbackData,
HumanCallbackResponse, IHumanCallback; timeout and error policies, outcomes),
``messages`` (HumanRequest, HumanResponse and the gateway's other messages),
``validation`` (answer checks, bounded patterns, typed text into answers), ``pending``
(where requests are kept), ``durable`` (kept in memory and written ahead to a store, so
they survive a restart), ``gateway`` (the gateway actor), ``outside`` (spawning it,
answering and cancelling from outside the actors), ``manager`` (HumanCallbackManager),
``console`` (ConsoleHumanCallback), ``scripted`` (ScriptedHumanCallback).

This layer sits beside streams and stores: it imports the runtime and below, never
flows, stores or the CLI.
"""

from __future__ import annotations

from actorflow.human._asking import HumanHandlers
from actorflow.human.console import ConsoleHumanCallback
from actorflow.human.durable import DurablePendingRequests, PendingLog, WriteAhead
from actorflow.human.gateway import HUMAN_PATH, HumanGateway
from actorflow.human.manager import HumanCallbackManager
from actorflow.human.messages import (
    AnswerHumanRequest,
    CancelHumanRequest,
    DeadlinePassed,
    HandlerAnswered,
    HandlerFailed,
    HumanAnswerAccepted,
    HumanCommandRefused,
    HumanRequest,
    HumanRequestsListed,
    HumanResponse,
    ListHumanRequests,
    PendingRecord,
)
from actorflow.human.models import (
    DEFAULT_MAX_LENGTH,
    ErrorPolicy,
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    HumanOutcome,
    IHumanCallback,
    TimeoutPolicy,
    ValueType,
    new_request_id,
)
from actorflow.human.outside import (
    answer_human_request,
    cancel_human_request,
    ensure_human_gateway,
    human_handlers,
    list_human_requests,
    outcome_value,
    raise_refusal,
    spawn_human_gateway,
)
from actorflow.human.pending import InMemoryPendingRequests, PendingRequests
from actorflow.human.scripted import ScriptedHumanCallback
from actorflow.human.validation import check_pattern, check_request, parse_answer, validate_answer

__all__ = [
    "AnswerHumanRequest",
    "CancelHumanRequest",
    "ConsoleHumanCallback",
    "DEFAULT_MAX_LENGTH",
    "DeadlinePassed",
    "DurablePendingRequests",
    "ErrorPolicy",
    "HUMAN_PATH",
    "HandlerAnswered",
    "HandlerFailed",
    "HumanAnswerAccepted",
    "HumanCallbackData",
    "HumanCallbackManager",
    "HumanCallbackResponse",
    "HumanCallbackType",
    "HumanCommandRefused",
    "HumanGateway",
    "HumanHandlers",
    "HumanOutcome",
    "HumanRequest",
    "HumanRequestsListed",
    "HumanResponse",
    "IHumanCallback",
    "InMemoryPendingRequests",
    "ListHumanRequests",
    "PendingLog",
    "PendingRecord",
    "PendingRequests",
    "ScriptedHumanCallback",
    "TimeoutPolicy",
    "ValueType",
    "WriteAhead",
    "answer_human_request",
    "cancel_human_request",
    "check_pattern",
    "check_request",
    "ensure_human_gateway",
    "human_handlers",
    "list_human_requests",
    "new_request_id",
    "outcome_value",
    "parse_answer",
    "raise_refusal",
    "spawn_human_gateway",
    "validate_answer",
]
