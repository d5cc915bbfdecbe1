"""The store as the human gateway's durable log of requests (``StorePendingLog``).

It satisfies ``actorflow.human.durable.PendingLog`` on JSON alone (this layer never
imports the human one): records are written with :class:`HumanRequestPut` through the
store actor, and loaded with :class:`ListHumanRequestsRequest`. Wire it up above both
layers::

    pending = DurablePendingRequests(StorePendingLog(system))
    spawn_human_gateway(system, handler, pending)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import final

from pydantic import JsonValue

from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.runtime.system import ActorSystem
from actorflow.stores.actor import STORE_PATH
from actorflow.stores.messages import (
    ListHumanRequestsRequest,
    ListHumanRequestsResponse,
    StoreRequestFailed,
    WriteRequest,
    WriteResponse,
)
from actorflow.stores.records import HumanRequestPut, JsonObject

__all__ = ["StorePendingLog"]


@final
class StorePendingLog:
    """Human requests kept by the store actor at ``path`` (default ``/system/store``).

    Args:
        system: the running actor system that hosts the store actor.
        path: the store actor's path.
        timeout: seconds :meth:`load` waits for the store.
    """

    def __init__(
        self, system: ActorSystem, *, path: ActorPath = STORE_PATH, timeout: float = 30.0
    ) -> None:
        self.system = system
        self._path = path
        self.timeout = timeout

    @property
    def path(self) -> ActorPath:
        """The store actor the writes go to."""
        return self._path

    def load(self) -> Sequence[Mapping[str, JsonValue]]:
        """Return every stored record, oldest first (blocks: never call it in a handler).

        Raises:
            StoreError: the store refused the read (the typed error it named).
            AskTimeoutError, DeliveryFailedError: no store actor answered.
        """
        request = ListHumanRequestsRequest(open_only=False)
        reply = self.system.ask(self._path, request, timeout=self.timeout)
        if isinstance(reply, StoreRequestFailed):
            raise reply.to_error()
        assert isinstance(reply, ListHumanRequestsResponse)
        return [entry.record for entry in reply.requests]

    def write_message(
        self,
        record: Mapping[str, JsonValue],
        *,
        request_id: str,
        status: str,
        deadline: float,
        asked_at: float,
        flow_id: str | None,
        step_id: str | None,
    ) -> Message:
        """Return the store write that keeps ``record`` (replacing the one of its id)."""
        put = HumanRequestPut(
            request_id=request_id,
            status=status,
            deadline=deadline,
            asked_at=asked_at,
            record=_object(record),
            flow_id=flow_id,
            step_id=step_id,
        )
        return WriteRequest(writes=(put,))

    def write_error(self, reply: Message) -> str | None:
        """Return why ``reply`` says the write failed, or None if it is committed."""
        if isinstance(reply, WriteResponse):
            return None
        if isinstance(reply, StoreRequestFailed):
            return f"{reply.error_type}: {reply.error}"
        return f"the store answered {reply.kind_tag!r}, not a write receipt"


def _object(record: Mapping[str, JsonValue]) -> JsonObject:
    return dict(record)
