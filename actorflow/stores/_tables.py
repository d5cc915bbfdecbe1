"""The row-level seam between the shared store logic (``_engine``) and a backend.

A backend implements :class:`Tables` over its storage (dicts, SQLite tables); the
engine does versioning, idempotency, plans, pruning and validation on top, so every
backend behaves the same. Rows cross this seam raw (tuples of whatever the storage
returned) and are validated by the engine, never trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = ["CheckpointRow", "FlowRow", "HumanRow", "MemoryRow", "Tables"]

FLOW_COLUMNS = (
    "flow_id", "version", "status", "steps_done", "steps_total", "updated_at", "plan_hash",
    "write_id", "snapshot", "snapshot_size", "patch_size",
)  # fmt: skip
CHECKPOINT_COLUMNS = (
    "flow_id", "version", "snapshot", "state", "state_sha256", "status", "steps_done",
    "steps_total", "at", "plan_hash", "write_id",
)  # fmt: skip
PLAN_COLUMNS = ("flow_id", "plan_hash", "plan")
MEMORY_COLUMNS = ("flow_id", "key", "value", "value_sha256")
EXPIRY_COLUMNS = ("flow_id", "expires_at")
HUMAN_COLUMNS = (
    "request_id", "flow_id", "step_id", "status", "deadline", "asked_at", "record",
    "record_sha256",
)  # fmt: skip


class FlowRow(NamedTuple):
    """A flow's listing row (validated)."""

    flow_id: str
    version: int
    status: str
    steps_done: int
    steps_total: int
    updated_at: float
    plan_hash: str | None
    write_id: str
    snapshot: int
    """The version of the latest checkpoint stored whole (the latest builds on it)."""
    snapshot_size: int
    """Characters of that whole state's JSON."""
    patch_size: int
    """Characters of the patches stored since it (a new snapshot is due when they
    outweigh it)."""


class CheckpointRow(NamedTuple):
    """A checkpoint row to write (its JSON already encoded).

    A row either holds the whole state (``snapshot == version``; ``state`` is a JSON
    object) or a patch on the previous version (``state`` is the JSON array
    ``[version - 1, merge keys, changes]``); the state of a patch row is its snapshot's
    state with the patches of every version up to it applied in order.
    """

    flow_id: str
    version: int
    snapshot: int
    """The version of the whole-state row this row's state builds on (its own if whole)."""
    state: str
    state_sha256: str
    status: str
    steps_done: int
    steps_total: int
    at: float
    plan_hash: str | None
    write_id: str


class MemoryRow(NamedTuple):
    """A memory row to write."""

    flow_id: str
    key: str
    value: str
    value_sha256: str


class HumanRow(NamedTuple):
    """A human request row to write (its record's JSON already encoded)."""

    request_id: str
    flow_id: str | None
    step_id: str | None
    status: str
    deadline: float
    asked_at: float
    record: str
    record_sha256: str


class Tables(Protocol):
    """Raw row access inside one transaction (writes) or one snapshot (reads)."""

    where: str
    """The store, for error messages (a file path, ``'the memory store'``)."""

    def flow_row(self, flow_id: str) -> tuple[object, ...] | None:
        """Return the flows row of ``flow_id`` as stored (``FLOW_COLUMNS``), or None."""
        ...

    def flow_rows(self) -> list[tuple[object, ...]]:
        """Return every flows row, by flow id."""
        ...

    def put_flow(self, row: FlowRow) -> None:
        """Insert or replace a flows row."""
        ...

    def checkpoint_row(self, flow_id: str, version: int) -> tuple[object, ...] | None:
        """Return a checkpoints row as stored (``CHECKPOINT_COLUMNS``), or None."""
        ...

    def checkpoint_rows(self, flow_id: str, first: int, last: int) -> list[tuple[object, ...]]:
        """Return the flow's checkpoints rows with versions ``first`` to ``last``, by
        version (the ones stored: missing rows are left out, not filled in)."""
        ...

    def put_checkpoint(self, row: CheckpointRow) -> None:
        """Insert a checkpoints row (its key is new)."""
        ...

    def prune_checkpoints(self, flow_id: str, below: int) -> int:
        """Delete the flow's checkpoints with a version below ``below`` and, if there were
        any, its plans no remaining checkpoint refers to; return how many rows went."""
        ...

    def plan_text(self, flow_id: str, plan_hash: str) -> object | None:
        """Return the stored plan JSON with that hash, or None (no row)."""
        ...

    def put_plan(self, flow_id: str, plan_hash: str, text: str) -> None:
        """Insert a plan unless one with that hash is stored for the flow."""
        ...

    def delete_flow(self, flow_id: str) -> int:
        """Delete the flow's listing row, checkpoints and plans; return checkpoint rows
        removed."""
        ...

    def memory_row(self, flow_id: str, key: str) -> tuple[object, ...] | None:
        """Return a memory row as stored (``MEMORY_COLUMNS``), or None."""
        ...

    def memory_keys(self, flow_id: str) -> Sequence[object]:
        """Return the flow's memory keys, sorted."""
        ...

    def put_memory(self, row: MemoryRow) -> None:
        """Insert or replace a memory row."""
        ...

    def delete_memory(self, flow_id: str, key: str | None) -> int:
        """Delete one memory entry (``key``) or all of the flow's; return how many."""
        ...

    def set_expiry(self, flow_id: str, expires_at: float | None) -> None:
        """Set (or with None clear) when the flow's memory is purged."""
        ...

    def expired(self, now: float) -> list[tuple[object, ...]]:
        """Return the expiry rows (``EXPIRY_COLUMNS``) due at or before ``now``."""
        ...

    def human_row(self, request_id: str) -> tuple[object, ...] | None:
        """Return a human request row as stored (``HUMAN_COLUMNS``), or None."""
        ...

    def human_rows(self, *, open_only: bool) -> list[tuple[object, ...]]:
        """Return the human request rows (only those with status ``open``, or all), by
        ``asked_at`` then request id."""
        ...

    def put_human(self, row: HumanRow) -> None:
        """Insert or replace a human request row."""
        ...
