"""Helpers for the human gateway tests."""

from __future__ import annotations

from typing import Any

from actorflow import ActorSystem
from actorflow.human import (
    HUMAN_PATH,
    HumanCallbackType,
    HumanRequest,
    HumanResponse,
    InMemoryPendingRequests,
    PendingRecord,
    list_human_requests,
)
from actorflow.ids import ActorPath
from actorflow.testing import Probe


def ask(
    request_id: str = "r1",
    type: HumanCallbackType = HumanCallbackType.CONFIRM,
    *,
    message: str = "Proceed?",
    reply_to: ActorPath | None = None,
    **fields: Any,
) -> HumanRequest:
    """A human request (a confirmation by default), told to ``reply_to``."""
    return HumanRequest(
        request_id=request_id, type=type, message=message, reply_to=reply_to, **fields
    )


def send(system: ActorSystem, request: HumanRequest) -> None:
    """Tell the gateway ``request`` and wait until it has taken it (its deadline armed)."""
    system.tell(HUMAN_PATH, request)
    list_human_requests(system)  # the gateway handles mail in order: it took the request


def outcome(probe: Probe, timeout: float = 2.0) -> HumanResponse:
    """The next outcome the requester probe gets."""
    return probe.expect(HumanResponse, timeout=timeout)


def record(pending: InMemoryPendingRequests, request_id: str) -> PendingRecord:
    """The stored record of ``request_id``."""
    found = pending.get(request_id)
    assert found is not None
    return found
