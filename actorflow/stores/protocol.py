"""The ``Store`` protocol: what every backend (memory, SQLite, a server database) offers.

A backend has one write operation, :meth:`Store.commit_many`, which stores several
transactions durably at once (a group commit): each transaction is all-or-nothing on its
own, so one refused transaction (a version conflict, data that is not JSON) does not
hold back the others. Reads are validated like network input. Backends are thread-safe,
but meant to be driven by one thread: the store actor's (see ``actorflow.stores.actor``).

Subclass :class:`Store` to get the one-write helpers (:meth:`Store.save_checkpoint`,
:meth:`Store.put_memory` ...) for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, JsonValue, ValidationError

from actorflow.errors import StoreDataError, StoreError
from actorflow.stores.records import (
    Checkpoint,
    CheckpointWrite,
    FlowSummary,
    HumanRequestEntry,
    MemoryDelete,
    MemoryEntry,
    MemoryPurge,
    MemoryPut,
    MemoryRelease,
    StoreStatistics,
    Transaction,
    WriteReceipt,
)

__all__ = ["CommitResult", "HumanRequestStore", "Store", "build_write"]

W = TypeVar("W", bound=BaseModel)


def build_write(cls: type[W], /, **fields: object) -> W:
    """Build the write ``cls(**fields)``, refusing bad fields with a typed error.

    Raises:
        StoreDataError: a field has the wrong type or is not JSON data.
    """
    try:
        return cls(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()[:3]
        )
        flow = fields.get("flow_id")
        whose = f" for flow {flow!r}" if isinstance(flow, str) else ""
        raise StoreDataError(
            f"Cannot build a {cls.__name__}{whose}: {problems}. Store only JSON data (dicts "
            "with str keys, lists, str, int, finite float, bool, None)."
        ) from exc


CommitResult = tuple[WriteReceipt, ...] | StoreError
"""The outcome of one transaction: a receipt per write, or why it was refused."""


@runtime_checkable
class Store(Protocol):
    """Keeps flow checkpoints, plans, listings and per-flow memory as plain JSON data."""

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        """Store ``transactions`` durably, together (one commit), each all-or-nothing.

        Returns:
            One result per transaction, in order: its receipts, or the
            :class:`~actorflow.errors.StoreError` that refused it (nothing of it stored).

        Raises:
            StoreTransientError: the commit failed; none of the transactions is stored
                (unless the error's ``committed`` says otherwise).
            StoreClosedError: the store is closed.
        """
        ...

    def load_checkpoint(self, flow_id: str, *, version: int | None = None) -> Checkpoint | None:
        """Return the latest checkpoint of ``flow_id`` (or the kept ``version``), or None.

        The checkpoint holds the whole state, also when it was stored as a patch.

        Raises:
            CheckpointRejectedError: the stored checkpoint or its plan fails validation.
            StoreCorruptedError, StoreSchemaError: the store itself is damaged.
        """
        ...

    def list_flows(self) -> tuple[FlowSummary, ...]:
        """Return every stored flow, by flow id.

        Raises:
            CheckpointRejectedError: a flow's listing row fails validation.
        """
        ...

    def get_memory(self, flow_id: str, key: str) -> MemoryEntry | None:
        """Return the memory entry ``key`` of ``flow_id``, or None if there is none.

        Raises:
            StoreCorruptedError: the stored entry fails validation.
        """
        ...

    def list_memory(self, flow_id: str) -> tuple[str, ...]:
        """Return the memory keys of ``flow_id``, sorted."""
        ...

    def statistics(self) -> StoreStatistics:
        """Return the store's counters."""
        ...

    def close(self) -> None:
        """Release the store (files, locks); later calls raise ``StoreClosedError``.

        Closing twice is allowed.
        """
        ...

    @property
    def is_blocking(self) -> bool:
        """Whether a commit may wait on the disk (an fsync per commit), so the store actor
        needs a thread of its own.

        ``False`` (a backend whose commits only compute, or write without waiting for the
        disk) lets :func:`~actorflow.stores.spawn_store` run the store actor on the flows'
        event loop, which saves two thread hand-offs per checkpoint. The default is
        ``True``: a backend says otherwise only when it knows.
        """
        return True

    # -- one-write helpers (built on commit_many) -------------------------------------

    def commit(self, transaction: Transaction) -> tuple[WriteReceipt, ...]:
        """Store one transaction and return its receipts.

        Raises:
            StoreError: it was refused, or the commit failed.
        """
        result = self.commit_many([transaction])[0]
        if isinstance(result, StoreError):
            raise result
        return result

    def save_checkpoint(self, write: CheckpointWrite) -> WriteReceipt:
        """Store a checkpoint (one transaction) and return its receipt.

        Raises:
            CheckpointConflictError: ``write.expected_version`` (or ``write.patch_of``, for
                a patch) is not the stored version.
            StoreDataError: the state, plan or memory values are not JSON data.
            StoreTransientError: the commit failed.
        """
        return self.commit((write,))[0]

    def put_memory(self, flow_id: str, key: str, value: JsonValue) -> None:
        """Store ``value`` under ``key`` in ``flow_id``'s memory.

        Raises:
            StoreDataError: ``value`` is not JSON data.
        """
        self.commit((build_write(MemoryPut, flow_id=flow_id, key=key, value=value),))

    def delete_memory(self, flow_id: str, key: str) -> None:
        """Forget ``key`` in ``flow_id``'s memory (nothing happens if it is absent)."""
        self.commit((build_write(MemoryDelete, flow_id=flow_id, key=key),))

    def release_memory(self, flow_id: str, *, at: float, retain_for: float = 0.0) -> int:
        """Delete ``flow_id``'s memory now, or ``retain_for`` seconds after ``at``.

        Returns:
            How many entries were deleted now.
        """
        write = build_write(MemoryRelease, flow_id=flow_id, at=at, retain_for=retain_for)
        return self.commit((write,))[0].removed

    def purge_memory(self, now: float) -> int:
        """Delete the memory whose retention ended by ``now``; return how many entries."""
        return self.commit((build_write(MemoryPurge, now=now),))[0].removed


@runtime_checkable
class HumanRequestStore(Protocol):
    """A store that keeps the human gateway's requests (written with
    :class:`~actorflow.stores.records.HumanRequestPut`); both built-in backends do."""

    def get_human_request(self, request_id: str) -> HumanRequestEntry | None:
        """Return the stored human request ``request_id``, or None.

        Raises:
            StoreCorruptedError: its row fails validation.
        """
        ...

    def list_human_requests(self, *, open_only: bool = True) -> tuple[HumanRequestEntry, ...]:
        """Return the stored human requests (the open ones, or all), oldest first.

        Raises:
            StoreCorruptedError: a row fails validation.
        """
        ...
