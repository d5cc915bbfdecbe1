"""What a store writes and reads: plain JSON data in small frozen models.

A store knows nothing of flow models: a checkpoint is a JSON object (the flow's state),
a few plain summary fields for listings, and optionally the flow's plan (another JSON
object, kept once per distinct plan and recorded in each checkpoint by its hash).

Writes are grouped into transactions (a tuple of writes that is stored all together or
not at all). A flow's checkpoint is one :class:`CheckpointWrite`, which may carry the
flow's memory changes too, so "one checkpoint = one transaction". A checkpoint write may
hold only what changed since the flow's previous version (``patch_of``); the store keeps
it as a patch, so its cost follows the change, not the state, and a checkpoint read back
always holds the whole state.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "Checkpoint",
    "CheckpointWrite",
    "FlowDelete",
    "FlowSummary",
    "HUMAN_OPEN",
    "HumanRequestEntry",
    "HumanRequestPut",
    "JsonObject",
    "MemoryDelete",
    "MemoryEntry",
    "MemoryPurge",
    "MemoryPut",
    "MemoryRelease",
    "StoreStatistics",
    "StoreWrite",
    "Transaction",
    "WriteReceipt",
]

JsonObject = dict[str, JsonValue]
"""A JSON object: what a checkpoint's state and a plan are."""

_RECORD = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
# Field values are checked when a write is prepared (StoreDataError), not here: a write
# is also message data, and messages are built and decoded without store rules.
FlowId = str
Key = str
Count = int
Time = float


class CheckpointWrite(BaseModel):
    """Store a new checkpoint of a flow (its version is the previous one plus 1)."""

    model_config = _RECORD

    op: Literal["checkpoint"] = "checkpoint"
    flow_id: FlowId
    state: JsonObject
    """The flow's state as a JSON object (opaque to the store)."""
    status: str
    """The flow's status, for listings (``running``, ``completed`` ...)."""
    steps_done: Count
    steps_total: Count
    at: Time
    """When the state changed (epoch seconds, from the caller's clock)."""
    plan: JsonObject | None = None
    """The flow's plan, or ``None`` to keep the plan of the previous checkpoint."""
    expected_version: int | None = None
    """Refuse the write unless the flow's latest version is this (0: no checkpoint yet);
    ``None`` writes whatever is stored."""
    write_id: str = ""
    """Idempotency key: a write whose id equals the flow's last stored write id is not
    stored again (its earlier receipt is returned), so a retry after an unclear failure
    is safe. Empty: no key."""
    memory_put: dict[Key, JsonValue] = Field(default_factory=dict)
    """Memory entries of the flow stored in the same transaction."""
    memory_delete: tuple[Key, ...] = ()
    """Memory keys of the flow deleted in the same transaction."""
    patch_of: int | None = None
    """The version whose state ``state`` changes (a patch), or ``None``: ``state`` is the
    whole state. A patch's top-level keys replace the stored ones, and each key named in
    ``merge`` holds an object whose entries replace the stored object's entries. A patch
    on another version than the flow's latest is refused (``CheckpointConflictError``)."""
    merge: tuple[Key, ...] = ()
    """Top-level keys of a patch whose objects are merged entry by entry."""


class MemoryPut(BaseModel):
    """Store ``value`` under ``key`` in a flow's memory (replacing what was there)."""

    model_config = _RECORD

    op: Literal["memory_put"] = "memory_put"
    flow_id: FlowId
    key: Key
    value: JsonValue


class MemoryDelete(BaseModel):
    """Forget ``key`` in a flow's memory (nothing happens if it is absent)."""

    model_config = _RECORD

    op: Literal["memory_delete"] = "memory_delete"
    flow_id: FlowId
    key: Key


class MemoryRelease(BaseModel):
    """A flow is done with its memory: delete it now, or after ``retain_for`` seconds.

    With a retention, the memory stays readable until a :class:`MemoryPurge` at or after
    ``at + retain_for`` removes it.
    """

    model_config = _RECORD

    op: Literal["memory_release"] = "memory_release"
    flow_id: FlowId
    at: Time
    retain_for: float = 0.0


class MemoryPurge(BaseModel):
    """Delete the memory of every flow whose retention ended at or before ``now``."""

    model_config = _RECORD

    op: Literal["memory_purge"] = "memory_purge"
    now: Time


class FlowDelete(BaseModel):
    """Forget a flow: its checkpoints, plans and listing entry (its memory stays)."""

    model_config = _RECORD

    op: Literal["flow_delete"] = "flow_delete"
    flow_id: FlowId


class HumanRequestPut(BaseModel):
    """Store a human request as the human gateway keeps it (new, changed or ended),
    replacing the row of its request id.

    The record is opaque JSON to the store; the other fields are plain columns, so that
    the open requests can be listed (``actorflow pending``) without knowing the record.
    """

    model_config = _RECORD

    op: Literal["human_put"] = "human_put"
    request_id: str
    status: str
    """``open``, or how the request ended (``answered``, ``timed_out`` ...)."""
    deadline: Time
    """Absolute deadline of the request's current stage (epoch seconds)."""
    asked_at: Time
    """When the gateway took the request (epoch seconds)."""
    record: JsonObject
    """The gateway's whole record of the request."""
    flow_id: FlowId | None = None
    step_id: str | None = None


StoreWrite = Annotated[
    CheckpointWrite
    | MemoryPut
    | MemoryDelete
    | MemoryRelease
    | MemoryPurge
    | FlowDelete
    | HumanRequestPut,
    Field(discriminator="op"),
]
"""Any one write."""

Transaction = tuple[StoreWrite, ...]
"""Writes stored all together or not at all."""


class WriteReceipt(BaseModel):
    """What a stored write did."""

    model_config = _RECORD

    op: str
    """The write's ``op``."""
    flow_id: str = ""
    version: int = 0
    """The checkpoint's version (checkpoint writes only)."""
    plan_hash: str | None = None
    """The hash of the checkpoint's plan (checkpoint writes only)."""
    duplicate: bool = False
    """Whether the write had the flow's last write id and was not stored again."""
    removed: int = 0
    """How many entries a delete, release or purge removed."""


class Checkpoint(BaseModel):
    """A stored checkpoint, as read back (validated)."""

    model_config = _RECORD

    flow_id: str
    version: int
    state: JsonObject
    status: str
    steps_done: int
    steps_total: int
    at: float
    plan_hash: str | None
    plan: JsonObject | None
    """The plan whose hash is ``plan_hash`` (checked when read)."""
    write_id: str


class FlowSummary(BaseModel):
    """One stored flow in a listing: plain fields of its latest checkpoint."""

    model_config = _RECORD

    flow_id: str
    status: str
    steps_done: int
    steps_total: int
    updated_at: float
    """When its latest checkpoint's state changed (epoch seconds)."""
    version: int
    """Its latest checkpoint's version."""


class MemoryEntry(BaseModel):
    """A stored memory value (a stored JSON ``null`` is an entry, absence is not)."""

    model_config = _RECORD

    flow_id: str
    key: str
    value: JsonValue


class HumanRequestEntry(BaseModel):
    """A stored human request, as read back (validated)."""

    model_config = _RECORD

    request_id: str
    status: str
    """``open``, or how the request ended."""
    deadline: float
    asked_at: float
    record: JsonObject
    flow_id: str | None = None
    step_id: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the request still waits for its outcome."""
        return self.status == HUMAN_OPEN


HUMAN_OPEN = "open"
"""The ``status`` of a human request that waits for its outcome."""


class StoreStatistics(BaseModel):
    """Counters of a store since it was opened."""

    model_config = _RECORD

    backend: str
    transactions: int = 0
    """Transactions committed (or refused) by ``commit_many``."""
    commits: int = 0
    """Times the backend made writes durable (several transactions may share one)."""
    reads: int = 0
