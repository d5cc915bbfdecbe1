"""Helpers for store tests."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from actorflow.stores import (
    Checkpoint,
    CheckpointWrite,
    CommitResult,
    FlowSummary,
    MemoryEntry,
    MemoryStore,
    Store,
    StoreStatistics,
    Transaction,
)

PLAN: dict[str, JsonValue] = {"id": "p1", "steps": [{"id": "a"}, {"id": "b"}], "version": 1}


def checkpoint(
    flow_id: str = "f1",
    n: int = 1,
    *,
    plan: dict[str, JsonValue] | None = None,
    expected_version: int | None = None,
    write_id: str = "",
    memory_put: dict[str, JsonValue] | None = None,
    memory_delete: tuple[str, ...] = (),
    status: str = "running",
) -> CheckpointWrite:
    """A checkpoint whose state says it is the ``n``-th."""
    return CheckpointWrite(
        flow_id=flow_id,
        state={"n": n, "steps": {"a": {"status": "completed"}}},
        status=status,
        steps_done=min(n, 2),
        steps_total=2,
        at=1000.0 + n,
        plan=plan,
        expected_version=expected_version,
        write_id=write_id,
        memory_put=memory_put or {},
        memory_delete=memory_delete,
    )


class DelegatingStore(Store):
    """A store that passes every call to ``inner``: subclass it to change one call."""

    def __init__(self, inner: Store | None = None) -> None:
        self.inner: Store = inner or MemoryStore()

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        return self.inner.commit_many(transactions)

    def load_checkpoint(self, flow_id: str, *, version: int | None = None) -> Checkpoint | None:
        return self.inner.load_checkpoint(flow_id, version=version)

    def list_flows(self) -> tuple[FlowSummary, ...]:
        return self.inner.list_flows()

    def get_memory(self, flow_id: str, key: str) -> MemoryEntry | None:
        return self.inner.get_memory(flow_id, key)

    def list_memory(self, flow_id: str) -> tuple[str, ...]:
        return self.inner.list_memory(flow_id)

    def statistics(self) -> StoreStatistics:
        return self.inner.statistics()

    def close(self) -> None:
        self.inner.close()
