"""Requests to the store actor and its replies (kinds ``store.*``).

Every request is answered by a tell to its reply-to path (or sender) with the request's
correlation id: its ``…Response``, or :class:`StoreRequestFailed` saying which typed
error refused it. A write is acknowledged only once it is committed.
"""

from __future__ import annotations

from typing import Literal

from actorflow import errors
from actorflow.errors import StoreError, StoreTransientError
from actorflow.messages.base import Message
from actorflow.stores.records import (
    Checkpoint,
    CheckpointWrite,
    FlowSummary,
    HumanRequestEntry,
    MemoryEntry,
    StoreWrite,
    WriteReceipt,
)

__all__ = [
    "FlushWrites",
    "GetMemoryRequest",
    "GetMemoryResponse",
    "ListHumanRequestsRequest",
    "ListHumanRequestsResponse",
    "ListFlowsRequest",
    "ListFlowsResponse",
    "ListMemoryRequest",
    "ListMemoryResponse",
    "LoadCheckpointRequest",
    "LoadCheckpointResponse",
    "SaveCheckpointRequest",
    "SaveCheckpointResponse",
    "StoreRequestFailed",
    "WriteRequest",
    "WriteResponse",
]


class SaveCheckpointRequest(Message):
    """Store a flow's checkpoint (with its memory changes) as one transaction.

    With ``patch_of``, ``write.state`` holds only what changed since the flow's checkpoint
    ``patch_of``: its top-level keys replace the stored ones, and each key named in
    ``merge`` holds an object whose entries replace the stored object's entries. The store
    writes the whole state; a patch on another version than the stored one is refused
    (``CheckpointConflictError``), so the sender sends the whole state again.
    """

    kind: Literal["store.save_checkpoint"] = "store.save_checkpoint"
    write: CheckpointWrite
    patch_of: int | None = None
    """The checkpoint version ``write.state`` changes, or None: it is the whole state."""
    merge: tuple[str, ...] = ()
    """Top-level keys whose objects are merged entry by entry (with ``patch_of``)."""


class SaveCheckpointResponse(Message):
    """The checkpoint is committed (durable as the store's ``synchronous`` setting says)."""

    kind: Literal["store.checkpoint_saved"] = "store.checkpoint_saved"
    receipt: WriteReceipt


class WriteRequest(Message):
    """Store ``writes`` as one transaction (all of them or none)."""

    kind: Literal["store.write"] = "store.write"
    writes: tuple[StoreWrite, ...]


class WriteResponse(Message):
    """The writes are committed; one receipt per write, in order."""

    kind: Literal["store.written"] = "store.written"
    receipts: tuple[WriteReceipt, ...]


class LoadCheckpointRequest(Message):
    """Read a flow's latest checkpoint (or a kept ``version``)."""

    kind: Literal["store.load_checkpoint"] = "store.load_checkpoint"
    flow_id: str
    version: int | None = None


class LoadCheckpointResponse(Message):
    """The checkpoint, validated, or ``None`` if the flow has none."""

    kind: Literal["store.checkpoint_loaded"] = "store.checkpoint_loaded"
    checkpoint: Checkpoint | None


class ListFlowsRequest(Message):
    """List every stored flow."""

    kind: Literal["store.list_flows"] = "store.list_flows"


class ListFlowsResponse(Message):
    """Every stored flow, by flow id."""

    kind: Literal["store.flows_listed"] = "store.flows_listed"
    flows: tuple[FlowSummary, ...]


class GetMemoryRequest(Message):
    """Read one memory entry of a flow."""

    kind: Literal["store.get_memory"] = "store.get_memory"
    flow_id: str
    key: str


class GetMemoryResponse(Message):
    """The entry, or ``None`` if there is none (a stored ``null`` is an entry)."""

    kind: Literal["store.memory_read"] = "store.memory_read"
    entry: MemoryEntry | None


class ListMemoryRequest(Message):
    """List a flow's memory keys."""

    kind: Literal["store.list_memory"] = "store.list_memory"
    flow_id: str


class ListMemoryResponse(Message):
    """A flow's memory keys, sorted."""

    kind: Literal["store.memory_listed"] = "store.memory_listed"
    keys: tuple[str, ...]


class ListHumanRequestsRequest(Message):
    """Read the stored human requests (the open ones, or all)."""

    kind: Literal["store.list_human_requests"] = "store.list_human_requests"
    open_only: bool = True


class ListHumanRequestsResponse(Message):
    """The stored human requests, oldest first (none if the store keeps none)."""

    kind: Literal["store.human_requests_listed"] = "store.human_requests_listed"
    requests: tuple[HumanRequestEntry, ...]


class StoreRequestFailed(Message):
    """A store request was refused or failed; nothing of a refused write is stored."""

    kind: Literal["store.request_failed"] = "store.request_failed"
    request_kind: str
    """The kind of the request that failed."""
    error_type: str
    """The error's class name in ``actorflow.errors`` (``CheckpointConflictError`` ...)."""
    error: str
    """The error's message: what failed, why, and what to do."""
    transient: bool = False
    """Whether retrying the same request may succeed."""
    committed: bool | None = False
    """Whether a failed write is stored: no, yes, or unknown (``None``); retry a write
    with the same ``write_id`` when unsure."""

    def to_error(self) -> StoreError:
        """Return the error this reply reports, as its class in ``actorflow.errors`` (a
        plain :class:`~actorflow.errors.StoreError` if the name is not a store error)."""
        found = getattr(errors, self.error_type, None)
        if isinstance(found, type) and issubclass(found, StoreTransientError):
            return found(self.error, committed=self.committed)
        if isinstance(found, type) and issubclass(found, StoreError):
            return found(self.error)
        return StoreError(self.error)


class FlushWrites(Message):
    """Store actor to itself: commit the writes gathered so far (a group commit)."""

    kind: Literal["store.flush_writes"] = "store.flush_writes"
