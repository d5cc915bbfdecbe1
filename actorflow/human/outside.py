"""Using the human gateway from outside the actors: spawn it, answer, cancel and list
requests (scripts, the CLI, tests; these block, so never call them in a handler)."""

from __future__ import annotations

import threading
import weakref

from pydantic import JsonValue

from actorflow.errors import (
    AlreadyAnsweredError,
    HumanInputError,
    HumanRequestFailedError,
    HumanResponseExpiredError,
    HumanTimeoutError,
    InvalidHumanAnswerError,
    UnknownHumanRequestError,
)
from actorflow.human._asking import HumanHandlers
from actorflow.human.gateway import HUMAN_PATH, HumanGateway
from actorflow.human.messages import (
    AnswerHumanRequest,
    CancelHumanRequest,
    HumanAnswerAccepted,
    HumanCommandRefused,
    HumanRequestsListed,
    HumanResponse,
    ListHumanRequests,
    PendingRecord,
)
from actorflow.human.models import HumanOutcome, IHumanCallback
from actorflow.human.pending import InMemoryPendingRequests, PendingRequests
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.runtime.behaviour import recipe
from actorflow.runtime.system import SYSTEM_PATH, ActorSystem

__all__ = [
    "answer_human_request",
    "cancel_human_request",
    "ensure_human_gateway",
    "human_handlers",
    "list_human_requests",
    "outcome_value",
    "raise_refusal",
    "spawn_human_gateway",
]

_handlers: weakref.WeakKeyDictionary[ActorSystem, HumanHandlers] = weakref.WeakKeyDictionary()
_handlers_lock = threading.Lock()


def spawn_human_gateway(
    system: ActorSystem,
    handler: IHumanCallback | None = None,
    pending: PendingRequests | None = None,
    *,
    escalation_handler: IHumanCallback | None = None,
) -> ActorPath:
    """Spawn the human gateway at ``/system/human`` and return its path.

    Args:
        system: a running actor system.
        handler: asks the human (None: answers come from outside, through
            :func:`answer_human_request` or an :class:`AnswerHumanRequest` message).
        pending: where requests are kept (default: a new in-memory one); pass one that
            outlives the process for requests that survive a restart.
        escalation_handler: gets requests escalated by their policy.

    Raises:
        ActorNameTakenError: a gateway runs already.
    """
    handlers = HumanHandlers(handler, escalation_handler)
    store = pending if pending is not None else InMemoryPendingRequests()
    with _handlers_lock:
        path = system.spawn(recipe(HumanGateway, store, handlers), "human", parent=SYSTEM_PATH)
        _handlers[system] = handlers
    return path


def ensure_human_gateway(system: ActorSystem) -> HumanHandlers:
    """Return the handlers of ``system``'s gateway, spawning one (no handler, in-memory
    requests) if none runs.

    Raises:
        ActorNameTakenError: something else than :func:`spawn_human_gateway` holds
            ``/system/human``.
    """
    with _handlers_lock:
        handlers = human_handlers(system)
        if handlers is None:
            handlers = HumanHandlers()
            store = InMemoryPendingRequests()
            system.spawn(recipe(HumanGateway, store, handlers), "human", parent=SYSTEM_PATH)
            _handlers[system] = handlers
        return handlers


def human_handlers(system: ActorSystem) -> HumanHandlers | None:
    """Return the handlers of ``system``'s gateway (register named ones there), or None
    if no gateway was spawned with :func:`spawn_human_gateway`."""
    return _handlers.get(system) if system.cell_at(HUMAN_PATH) is not None else None


def raise_refusal(reply: Message) -> None:
    """Raise the error a :class:`HumanCommandRefused` carries; do nothing for another reply.

    Raises:
        InvalidHumanAnswerError, HumanResponseExpiredError, AlreadyAnsweredError,
        UnknownHumanRequestError: as the refusal says.
    """
    if not isinstance(reply, HumanCommandRefused):
        return
    classes: dict[str, type[HumanInputError]] = {
        f"actorflow.errors.{cls.__qualname__}": cls
        for cls in (
            InvalidHumanAnswerError,
            HumanResponseExpiredError,
            AlreadyAnsweredError,
            UnknownHumanRequestError,
        )
    }
    raise classes.get(reply.error.error_type, HumanInputError)(reply.error.message)


def answer_human_request(
    system: ActorSystem,
    request_id: str,
    value: JsonValue,
    *,
    responder: str | None = None,
    timeout: float = 5.0,
) -> JsonValue:
    """Answer an open request from outside the actors; return the value as stored.

    Raises:
        InvalidHumanAnswerError: the value does not fit (the request stays open).
        HumanResponseExpiredError: the request has timed out, was cancelled or failed.
        AlreadyAnsweredError: it was answered already.
        UnknownHumanRequestError: no request has that id.
        AskTimeoutError: the gateway did not reply within ``timeout`` seconds.
    """
    message = AnswerHumanRequest(request_id=request_id, value=value, responder=responder)
    reply = system.ask(HUMAN_PATH, message, timeout=timeout)
    raise_refusal(reply)
    assert isinstance(reply, HumanAnswerAccepted)
    return reply.value


def cancel_human_request(
    system: ActorSystem, request_id: str, *, reason: str = "", timeout: float = 5.0
) -> HumanResponse:
    """Cancel an open request from outside the actors; return its ``cancelled`` outcome.

    Raises:
        AlreadyAnsweredError, HumanResponseExpiredError: it had ended.
        UnknownHumanRequestError: no request has that id.
    """
    reply = system.ask(
        HUMAN_PATH, CancelHumanRequest(request_id=request_id, reason=reason), timeout=timeout
    )
    raise_refusal(reply)
    assert isinstance(reply, HumanResponse)
    return reply


def list_human_requests(system: ActorSystem, *, timeout: float = 5.0) -> tuple[PendingRecord, ...]:
    """Return the gateway's open requests, oldest first."""
    reply = system.ask(HUMAN_PATH, ListHumanRequests(), timeout=timeout)
    assert isinstance(reply, HumanRequestsListed)
    return reply.records


def outcome_value(response: HumanResponse) -> JsonValue:
    """Return the value of an outcome that has one.

    Raises:
        HumanTimeoutError: it timed out without a default.
        HumanRequestFailedError: it was cancelled or its handler failed.
    """
    if response.has_value:
        return response.value
    rid = response.request_id
    if response.outcome is HumanOutcome.TIMED_OUT:
        raise HumanTimeoutError(
            f"Human request {rid!r} timed out: {response.reason}. Give it more time, or a "
            "default value with the 'default' timeout policy.",
            outcome=response,
        )
    raise HumanRequestFailedError(
        f"Human request {rid!r} ended {response.outcome.value}: {response.reason}.",
        outcome=response,
    )
