"""Property: the memory and SQLite backends answer every sequence of writes and reads
alike (the contract suite's examples, generalised), and versions only ever grow by one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from actorflow.errors import StoreError
from actorflow.stores import (
    CheckpointWrite,
    CommitResult,
    FlowDelete,
    MemoryDelete,
    MemoryPurge,
    MemoryPut,
    MemoryRelease,
    MemoryStore,
    SqliteStore,
    Store,
    StoreWrite,
    Transaction,
)

FLOWS = st.sampled_from(["f1", "f2"])
KEYS = st.sampled_from(["a", "b"])
VALUES: st.SearchStrategy[JsonValue] = st.one_of(
    st.none(), st.integers(-5, 5), st.text(max_size=3), st.lists(st.integers(0, 3), max_size=2)
)
PLANS = st.sampled_from([None, {"id": "p", "v": 1}, {"v": 2, "id": "p"}, {"id": "q"}])
TIMES = st.integers(0, 20).map(float)

checkpoints = st.builds(
    lambda flow, n, plan, expected, write_id, put, delete: CheckpointWrite(
        flow_id=flow,
        state={"n": n},
        status="running",
        steps_done=0,
        steps_total=n,
        at=float(n),
        plan=plan,
        expected_version=expected,
        write_id=write_id,
        memory_put=put,
        memory_delete=delete,
    ),
    FLOWS,
    st.integers(0, 9),
    PLANS,
    st.none() | st.integers(0, 3),
    st.sampled_from(["", "w1", "w2"]),
    st.dictionaries(KEYS, VALUES, max_size=2),
    st.lists(KEYS, max_size=2).map(tuple),
)
writes: st.SearchStrategy[StoreWrite] = st.one_of(
    checkpoints,
    st.builds(MemoryPut, flow_id=FLOWS, key=KEYS, value=VALUES),
    st.builds(MemoryDelete, flow_id=FLOWS, key=KEYS),
    st.builds(MemoryRelease, flow_id=FLOWS, at=TIMES, retain_for=st.sampled_from([0.0, 5.0])),
    st.builds(MemoryPurge, now=TIMES),
    st.builds(FlowDelete, flow_id=FLOWS),
    st.just(MemoryPut(flow_id="", key="a", value=1)),  # refused before it is applied
)
transactions: st.SearchStrategy[Transaction] = st.lists(writes, min_size=1, max_size=2).map(tuple)
batches = st.lists(st.lists(transactions, min_size=1, max_size=3), min_size=1, max_size=8)


def outcome(result: CommitResult) -> object:
    return type(result).__name__ if isinstance(result, StoreError) else result


def snapshot(store: Store) -> object:
    flows = store.list_flows()
    checkpoints = [store.load_checkpoint(f) for f in ("f1", "f2")]
    memory = {
        (f, k): (None if (e := store.get_memory(f, k)) is None else e.value)
        for f in ("f1", "f2")
        for k in store.list_memory(f)
    }
    return flows, checkpoints, memory


def check_versions(
    batch: list[Transaction], results: list[CommitResult], versions: dict[str, int]
) -> None:
    """Each stored checkpoint is its flow's previous version + 1; a duplicate repeats it."""
    for transaction, result in zip(batch, results, strict=True):
        if isinstance(result, StoreError):
            continue
        for write, receipt in zip(transaction, result, strict=True):
            if isinstance(write, CheckpointWrite):
                before = versions.get(write.flow_id, 0)
                assert receipt.version == (before if receipt.duplicate else before + 1)
                versions[write.flow_id] = receipt.version
            elif isinstance(write, FlowDelete):
                versions[write.flow_id] = 0


@given(batches)
def test_memory_and_sqlite_backends_behave_alike(batches: list[list[Transaction]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        memory, sqlite = MemoryStore(), SqliteStore(Path(tmp) / "s.db")
        versions: dict[str, int] = {}
        try:
            for batch in batches:
                memory_results = memory.commit_many(batch)
                expected = [outcome(r) for r in memory_results]
                got = [outcome(r) for r in sqlite.commit_many(batch)]

                assert got == expected
                assert snapshot(sqlite) == snapshot(memory)
                check_versions(batch, memory_results, versions)
            assert sqlite.integrity_check() == "ok"
        finally:
            memory.close()
            sqlite.close()
