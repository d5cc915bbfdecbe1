"""Stores: flow checkpoints, plans, listings and per-flow memory, as plain JSON data.

Layer: above ``runtime``, below ``flow`` (a store knows nothing of flow models).

- :class:`Store` is the protocol every backend implements; :class:`MemoryStore` (tests)
  and :class:`SqliteStore` (the embedded default) are the backends here.
- Writes are records (:class:`CheckpointWrite`, :class:`MemoryPut` ...) grouped into
  transactions; a checkpoint with its memory changes is one transaction.
- :class:`StorePendingLog` keeps the human gateway's requests in the store (see
  ``actorflow.human.DurablePendingRequests``).
- :class:`StoreKeeper` is the store actor that owns a backend at ``/system/store``
  (:func:`spawn_store`); its requests and replies are in ``actorflow.stores.messages``.
"""

from __future__ import annotations

from actorflow.stores._crash import CRASH_ENV, CRASH_EXIT_CODE, CRASH_POINTS
from actorflow.stores.actor import (
    STORE_PATH,
    StoreKeeper,
    failure_reply,
    spawn_store,
    store_recipe,
)
from actorflow.stores.memory import MemoryStore
from actorflow.stores.messages import (
    GetMemoryRequest,
    GetMemoryResponse,
    ListFlowsRequest,
    ListFlowsResponse,
    ListHumanRequestsRequest,
    ListHumanRequestsResponse,
    ListMemoryRequest,
    ListMemoryResponse,
    LoadCheckpointRequest,
    LoadCheckpointResponse,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    StoreRequestFailed,
    WriteRequest,
    WriteResponse,
)
from actorflow.stores.pending import StorePendingLog
from actorflow.stores.protocol import CommitResult, HumanRequestStore, Store, build_write
from actorflow.stores.records import (
    HUMAN_OPEN,
    Checkpoint,
    CheckpointWrite,
    FlowDelete,
    FlowSummary,
    HumanRequestEntry,
    HumanRequestPut,
    JsonObject,
    MemoryDelete,
    MemoryEntry,
    MemoryPurge,
    MemoryPut,
    MemoryRelease,
    StoreStatistics,
    StoreWrite,
    Transaction,
    WriteReceipt,
)
from actorflow.stores.sqlite import (
    SCHEMA_VERSION,
    SqliteStore,
    Synchronous,
    open_sqlite_store,
    peek_human_requests,
)

__all__ = [
    "CRASH_ENV",
    "CRASH_EXIT_CODE",
    "CRASH_POINTS",
    "Checkpoint",
    "CheckpointWrite",
    "CommitResult",
    "FlowDelete",
    "FlowSummary",
    "GetMemoryRequest",
    "GetMemoryResponse",
    "HUMAN_OPEN",
    "HumanRequestEntry",
    "HumanRequestPut",
    "HumanRequestStore",
    "JsonObject",
    "ListFlowsRequest",
    "ListFlowsResponse",
    "ListHumanRequestsRequest",
    "ListHumanRequestsResponse",
    "ListMemoryRequest",
    "ListMemoryResponse",
    "LoadCheckpointRequest",
    "LoadCheckpointResponse",
    "MemoryDelete",
    "MemoryEntry",
    "MemoryPurge",
    "MemoryPut",
    "MemoryRelease",
    "MemoryStore",
    "SCHEMA_VERSION",
    "STORE_PATH",
    "SaveCheckpointRequest",
    "SaveCheckpointResponse",
    "SqliteStore",
    "Store",
    "StoreKeeper",
    "StorePendingLog",
    "StoreRequestFailed",
    "StoreStatistics",
    "StoreWrite",
    "Synchronous",
    "Transaction",
    "WriteReceipt",
    "WriteRequest",
    "WriteResponse",
    "build_write",
    "failure_reply",
    "open_sqlite_store",
    "peek_human_requests",
    "spawn_store",
    "store_recipe",
]
