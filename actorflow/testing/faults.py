"""Fault injection for stores: a backend wrapper that fails at seeded random moments.

:class:`FaultyStore` wraps any :class:`~actorflow.stores.Store`. With probability
``error_rate`` a commit raises :class:`~actorflow.errors.StoreTransientError`, half of
the time *before* the inner commit (nothing stored, ``committed=False``) and half of the
time *after* it (everything stored, but the caller is not told: ``committed=None``, as
when a connection drops after ``COMMIT``). Reads fail before reading with
``read_error_rate``. The same seed gives the same faults for the same calls.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import final

from pydantic import BaseModel, ConfigDict

from actorflow.errors import ConfigurationError, StoreTransientError
from actorflow.stores import (
    Checkpoint,
    CommitResult,
    FlowSummary,
    MemoryEntry,
    Store,
    StoreStatistics,
    Transaction,
)

__all__ = ["FaultStatistics", "FaultyStore"]


@final
class FaultStatistics(BaseModel):
    """Faults a :class:`FaultyStore` injected so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    before_commit: int
    """Commits failed before the inner store saw them (nothing stored)."""
    after_commit: int
    """Commits failed after the inner store committed them (stored, not acknowledged)."""
    reads: int
    """Reads failed."""


@final
class FaultyStore(Store):
    """A store that fails some commits and reads on purpose, reproducibly from ``seed``.

    Args:
        store: the store to wrap (closed when this one is).
        error_rate: chance that a commit fails (0 to 1).
        seed: seeds the random source; same seed, same faults.
        read_error_rate: chance that a read fails (default: ``error_rate``).
    """

    def __init__(
        self,
        store: Store,
        *,
        error_rate: float = 0.05,
        seed: int = 0,
        read_error_rate: float | None = None,
    ) -> None:
        reads = error_rate if read_error_rate is None else read_error_rate
        for name, rate in (("error_rate", error_rate), ("read_error_rate", reads)):
            if not 0.0 <= rate <= 1.0:
                raise ConfigurationError(f"{name} must be between 0 and 1, got {rate!r}.")
        self.inner = store
        self.error_rate = error_rate
        self.read_error_rate = reads
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._counts = {"before_commit": 0, "after_commit": 0, "reads": 0}

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def faults(self) -> FaultStatistics:
        """Return how many faults were injected so far."""
        with self._lock:
            return FaultStatistics(**self._counts)

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        """Commit through the inner store, failing before or after it at ``error_rate``.

        Raises:
            StoreTransientError: an injected fault (``committed`` False before, None after).
        """
        roll = self._draw()
        if roll < self.error_rate / 2:
            self._count("before_commit")
            raise StoreTransientError(
                f"Injected fault before commit ({len(transactions)} transactions): nothing "
                "was stored. Retry with the same write ids.",
                committed=False,
            )
        results = self.inner.commit_many(transactions)
        if roll < self.error_rate:
            self._count("after_commit")
            raise StoreTransientError(
                f"Injected fault after commit ({len(transactions)} transactions): they may "
                "be stored. Retry with the same write ids; stored checkpoints are not "
                "stored twice.",
                committed=None,
            )
        return results

    def _read_fault(self, what: str) -> None:
        if self._draw() < self.read_error_rate:
            self._count("reads")
            raise StoreTransientError(f"Injected fault reading {what}. Retry.", committed=None)

    def load_checkpoint(self, flow_id: str, *, version: int | None = None) -> Checkpoint | None:
        """Read through the inner store, failing at ``read_error_rate``."""
        self._read_fault(f"the checkpoint of flow {flow_id!r}")
        return self.inner.load_checkpoint(flow_id, version=version)

    def list_flows(self) -> tuple[FlowSummary, ...]:
        """Read through the inner store, failing at ``read_error_rate``."""
        self._read_fault("the flow list")
        return self.inner.list_flows()

    def get_memory(self, flow_id: str, key: str) -> MemoryEntry | None:
        """Read through the inner store, failing at ``read_error_rate``."""
        self._read_fault(f"memory {key!r} of flow {flow_id!r}")
        return self.inner.get_memory(flow_id, key)

    def list_memory(self, flow_id: str) -> tuple[str, ...]:
        """Read through the inner store, failing at ``read_error_rate``."""
        self._read_fault(f"the memory keys of flow {flow_id!r}")
        return self.inner.list_memory(flow_id)

    def statistics(self) -> StoreStatistics:
        """Return the inner store's counters."""
        return self.inner.statistics()

    def close(self) -> None:
        """Close the inner store."""
        self.inner.close()
