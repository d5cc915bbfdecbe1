"""The in-memory store: dicts of JSON text, for tests and short scripts.

It keeps exactly what the SQLite store keeps (the same rows, as JSON text), runs the same
logic and validation (``_engine``), and passes the same contract suite; only durability
differs: everything is gone when the process ends.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar, final

from actorflow.errors import ConfigurationError, StoreClosedError, StoreError
from actorflow.stores._engine import (
    apply_transaction,
    prepare,
)
from actorflow.stores._pieces import StateTexts
from actorflow.stores._reading import TableReads
from actorflow.stores._tables import CheckpointRow, FlowRow, HumanRow, MemoryRow
from actorflow.stores.protocol import CommitResult, Store
from actorflow.stores.records import (
    StoreStatistics,
    Transaction,
)

__all__ = ["MemoryStore"]

_MISSING = object()
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
Row = tuple[object, ...]


class _MemoryTables:
    """Rows in dicts; every change records its undo, so a refused transaction leaves none."""

    where = "the memory store"

    def __init__(self) -> None:
        self.flows: dict[str, Row] = {}
        self.checkpoints: dict[str, dict[int, Row]] = {}
        """Each flow's rows by version, in version order (versions only grow)."""
        self.plans: dict[str, dict[str, str]] = {}
        self.memory: dict[str, dict[str, Row]] = {}
        self.expiry: dict[str, float] = {}
        self.human: dict[str, Row] = {}
        self.undo: list[Callable[[], object]] = []

    def _set(self, table: dict[K, V], key: K, value: V) -> None:
        if key in table:
            old = table[key]
            self.undo.append(partial(table.__setitem__, key, old))
        else:
            self.undo.append(partial(table.pop, key, None))
        table[key] = value

    def _pop(self, table: dict[K, V], key: K) -> bool:
        if key not in table:
            return False
        old = table.pop(key)
        self.undo.append(partial(table.__setitem__, key, old))
        return True

    def _table(self, tables: dict[str, dict[K, V]], flow_id: str) -> dict[K, V]:
        table = tables.get(flow_id)
        if table is None:
            table = tables[flow_id] = {}
            self.undo.append(partial(tables.pop, flow_id, None))
        return table

    def rollback(self) -> None:
        while self.undo:
            self.undo.pop()()

    def flow_row(self, flow_id: str) -> tuple[object, ...] | None:
        return self.flows.get(flow_id)

    def flow_rows(self) -> list[tuple[object, ...]]:
        return [self.flows[k] for k in sorted(self.flows)]

    def put_flow(self, row: FlowRow) -> None:
        self._set(self.flows, row.flow_id, tuple(row))

    def checkpoint_row(self, flow_id: str, version: int) -> tuple[object, ...] | None:
        return self.checkpoints.get(flow_id, {}).get(version)

    def checkpoint_rows(self, flow_id: str, first: int, last: int) -> list[tuple[object, ...]]:
        versions = self.checkpoints.get(flow_id, {})
        return [row for v in range(first, last + 1) if (row := versions.get(v)) is not None]

    def put_checkpoint(self, row: CheckpointRow) -> None:
        versions = self._table(self.checkpoints, row.flow_id)
        self._set(versions, row.version, tuple(row))

    def prune_checkpoints(self, flow_id: str, below: int) -> int:
        versions = self.checkpoints.get(flow_id, {})
        old = list(itertools.takewhile(lambda v: v < below, versions))  # oldest first
        for version in old:
            self._pop(versions, version)
        if old:
            used = {row[9] for row in versions.values()}
            plans = self.plans.get(flow_id, {})
            for key in [k for k in plans if k not in used]:
                self._pop(plans, key)
        return len(old)

    def plan_text(self, flow_id: str, plan_hash: str) -> object | None:
        return self.plans.get(flow_id, {}).get(plan_hash)

    def put_plan(self, flow_id: str, plan_hash: str, text: str) -> None:
        plans = self._table(self.plans, flow_id)
        if plan_hash not in plans:
            self._set(plans, plan_hash, text)

    def delete_flow(self, flow_id: str) -> int:
        removed = len(self.checkpoints.get(flow_id, {}))
        self._pop(self.flows, flow_id)
        self._pop(self.checkpoints, flow_id)
        self._pop(self.plans, flow_id)
        return removed

    def memory_row(self, flow_id: str, key: str) -> tuple[object, ...] | None:
        return self.memory.get(flow_id, {}).get(key)

    def memory_keys(self, flow_id: str) -> Sequence[object]:
        return sorted(self.memory.get(flow_id, {}))

    def put_memory(self, row: MemoryRow) -> None:
        entries = self._table(self.memory, row.flow_id)
        self._set(entries, row.key, tuple(row))

    def delete_memory(self, flow_id: str, key: str | None) -> int:
        entries = self.memory.get(flow_id)
        if entries is None:
            return 0
        if key is not None:
            return int(self._pop(entries, key))
        removed = len(entries)
        self._pop(self.memory, flow_id)
        return removed

    def set_expiry(self, flow_id: str, expires_at: float | None) -> None:
        if expires_at is None:
            self._pop(self.expiry, flow_id)
        else:
            self._set(self.expiry, flow_id, expires_at)

    def expired(self, now: float) -> list[tuple[object, ...]]:
        return [(f, t) for f, t in sorted(self.expiry.items()) if t <= now]

    def human_row(self, request_id: str) -> tuple[object, ...] | None:
        return self.human.get(request_id)

    def human_rows(self, *, open_only: bool) -> list[tuple[object, ...]]:
        rows = [r for r in self.human.values() if not open_only or r[3] == "open"]
        return sorted(rows, key=lambda r: (r[5], r[0]))

    def put_human(self, row: HumanRow) -> None:
        self._set(self.human, row.request_id, tuple(row))


@final
class MemoryStore(TableReads, Store):
    """A store in this process's memory (thread-safe; nothing survives the process).

    Args:
        keep_versions: how many of each flow's latest checkpoints are kept (at least 1).
    """

    def __init__(self, *, keep_versions: int = 1) -> None:
        if keep_versions < 1:
            raise ConfigurationError(
                f"keep_versions must be at least 1, got {keep_versions!r}: a store keeps at "
                "least each flow's latest checkpoint."
            )
        self.keep_versions = keep_versions
        self._tables = _MemoryTables()
        self._texts = StateTexts()
        self._lock = threading.Lock()
        self._closed = False
        self._stats = {"transactions": 0, "commits": 0, "reads": 0}

    @property
    def is_blocking(self) -> bool:
        """``False``: a commit only computes (see :attr:`Store.is_blocking`)."""
        return False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("The memory store was closed; create a new MemoryStore.")

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        """Apply each transaction all-or-nothing; see :meth:`Store.commit_many`."""
        results: list[CommitResult] = []
        with self._lock:
            self._check_open()
            tables, texts = self._tables, self._texts
            for transaction in transactions:
                kept = False
                try:
                    prepared = prepare(transaction)
                    results.append(
                        apply_transaction(
                            tables, prepared, keep_versions=self.keep_versions, texts=texts
                        )
                    )
                    kept = True
                except StoreError as exc:
                    tables.rollback()
                    results.append(exc)
                finally:  # each transaction is stored (or not) on its own here
                    texts.end_transaction(kept=kept)
                    texts.end_commit(committed=kept)
                tables.undo.clear()
            self._stats["transactions"] += len(results)
            self._stats["commits"] += 1
        return results

    def _read(self, read: Callable[[_MemoryTables], T]) -> T:
        with self._lock:
            self._check_open()
            self._stats["reads"] += 1
            return read(self._tables)

    def statistics(self) -> StoreStatistics:
        """Return the store's counters."""
        with self._lock:
            return StoreStatistics(backend="memory", **self._stats)

    def close(self) -> None:
        """Close the store (its data is dropped)."""
        with self._lock:
            self._closed = True
            self._tables = _MemoryTables()
            self._texts.clear()
