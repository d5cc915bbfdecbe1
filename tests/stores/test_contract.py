"""The contract every Store backend passes (memory and SQLite here; a server backend later).

Add a backend to the ``backend`` fixture in ``conftest.py`` and it runs all of these.
"""

from __future__ import annotations

import math

import pytest

from actorflow.errors import (
    CheckpointConflictError,
    StoreClosedError,
    StoreDataError,
    StoreError,
)
from actorflow.stores import (
    CheckpointWrite,
    FlowDelete,
    MemoryDelete,
    MemoryPut,
    MemoryStore,
    SqliteStore,
    Store,
    WriteReceipt,
)
from tests.stores.support import PLAN, checkpoint


def test_an_empty_store_has_no_checkpoint_flow_or_memory(store: Store) -> None:
    assert store.load_checkpoint("f1") is None
    assert store.list_flows() == ()
    assert store.get_memory("f1", "k") is None
    assert store.list_memory("f1") == ()


def test_backends_implement_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_checkpoint_versions_increase_by_one_per_save(store: Store) -> None:
    first = store.save_checkpoint(checkpoint(n=1, plan=PLAN))
    second = store.save_checkpoint(checkpoint(n=2))

    assert (first.version, second.version) == (1, 2)
    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.version == 2
    assert loaded.state == {"n": 2, "steps": {"a": {"status": "completed"}}}
    assert (loaded.status, loaded.steps_done, loaded.steps_total, loaded.at) == (
        "running",
        2,
        2,
        1002.0,
    )


def test_a_checkpoint_without_a_plan_keeps_the_previous_plan(store: Store) -> None:
    first = store.save_checkpoint(checkpoint(n=1, plan=PLAN))
    store.save_checkpoint(checkpoint(n=2))

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.plan == PLAN
    assert loaded.plan_hash == first.plan_hash
    assert first.plan_hash is not None
    assert len(first.plan_hash) == 64


def test_the_plan_hash_does_not_depend_on_key_order(store: Store) -> None:
    a = store.save_checkpoint(checkpoint("a", plan={"x": 1, "y": [1, 2]}))
    b = store.save_checkpoint(checkpoint("b", plan={"y": [1, 2], "x": 1}))

    assert a.plan_hash == b.plan_hash


def test_a_new_plan_replaces_the_old_one_in_later_checkpoints(store: Store) -> None:
    store.save_checkpoint(checkpoint(n=1, plan=PLAN))
    replanned = {**PLAN, "version": 2}
    store.save_checkpoint(checkpoint(n=2, plan=replanned))

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.plan == replanned


def test_a_flow_without_a_plan_has_none(store: Store) -> None:
    store.save_checkpoint(checkpoint())

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert (loaded.plan, loaded.plan_hash) == (None, None)


def test_expected_version_refuses_a_write_after_another_writer(store: Store) -> None:
    store.save_checkpoint(checkpoint(n=1, expected_version=0))
    store.save_checkpoint(checkpoint(n=2, expected_version=1))

    with pytest.raises(
        CheckpointConflictError, match=r"^Checkpoint of flow 'f1' expected version 1 "
    ):
        store.save_checkpoint(checkpoint(n=3, expected_version=1, memory_put={"k": 1}))

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.version == 2
    assert store.get_memory("f1", "k") is None


def test_a_repeated_write_id_is_not_stored_twice(store: Store) -> None:
    first = store.save_checkpoint(checkpoint(n=1, write_id="w1", plan=PLAN))
    again = store.save_checkpoint(checkpoint(n=1, write_id="w1", expected_version=0))

    assert again == WriteReceipt(
        op="checkpoint", flow_id="f1", version=1, plan_hash=first.plan_hash, duplicate=True
    )
    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.version == 1


def test_flows_are_listed_with_plain_fields_by_flow_id(store: Store) -> None:
    store.save_checkpoint(checkpoint("f2", 1))
    store.save_checkpoint(checkpoint("f1", 1))
    store.save_checkpoint(checkpoint("f1", 2, status="completed"))

    flows = store.list_flows()

    assert [(f.flow_id, f.status, f.steps_done, f.steps_total, f.version) for f in flows] == [
        ("f1", "completed", 2, 2, 2),
        ("f2", "running", 1, 2, 1),
    ]
    assert flows[0].updated_at == 1002.0


def test_memory_entries_are_stored_read_listed_and_deleted(store: Store) -> None:
    store.put_memory("f1", "b", {"x": [1, 2.5, None, True, "s"]})
    store.put_memory("f1", "a", None)
    store.put_memory("f2", "a", 1)

    assert store.list_memory("f1") == ("a", "b")
    entry = store.get_memory("f1", "a")
    assert entry is not None
    assert entry.value is None
    b = store.get_memory("f1", "b")
    assert b is not None
    assert b.value == {"x": [1, 2.5, None, True, "s"]}
    store.delete_memory("f1", "b")
    store.delete_memory("f1", "nothing")
    assert store.list_memory("f1") == ("a",)
    assert store.list_memory("f2") == ("a",)


def test_a_checkpoint_stores_its_memory_changes_in_the_same_transaction(store: Store) -> None:
    store.put_memory("f1", "old", 1)
    store.save_checkpoint(checkpoint(memory_put={"new": {"v": 2}}, memory_delete=("old",)))

    assert store.list_memory("f1") == ("new",)


def test_a_refused_transaction_stores_none_of_its_writes(store: Store) -> None:
    transaction = (
        MemoryPut(flow_id="f1", key="k", value=1),
        checkpoint(expected_version=5),
    )

    with pytest.raises(CheckpointConflictError):
        store.commit(transaction)

    assert store.get_memory("f1", "k") is None
    assert store.load_checkpoint("f1") is None


def test_one_refused_transaction_does_not_hold_back_the_others(store: Store) -> None:
    results = store.commit_many(
        [
            (MemoryPut(flow_id="f1", key="a", value=1),),
            (checkpoint(expected_version=3),),
            (MemoryPut(flow_id="f1", key="b", value=float("nan")),),
            (MemoryPut(flow_id="f1", key="c", value=3),),
        ]
    )

    assert isinstance(results[1], CheckpointConflictError)
    assert isinstance(results[2], StoreDataError)
    assert results[0] == (WriteReceipt(op="memory_put", flow_id="f1"),)
    assert store.list_memory("f1") == ("a", "c")


def test_values_that_are_not_json_data_are_refused(store: Store) -> None:
    bad = MemoryPut.model_construct(flow_id="f1", key="k", value={"x": {1, 2}})  # type: ignore[dict-item] # not JSON on purpose

    with pytest.raises(StoreDataError, match=r"^The memory value 'k' of flow 'f1' is not plain"):
        store.commit((bad,))
    with pytest.raises(StoreDataError, match=r"not plain JSON data"):
        store.save_checkpoint(
            CheckpointWrite.model_construct(**{**dict(checkpoint()), "state": {"x": math.inf}})
        )


def test_something_that_is_not_a_write_is_refused(store: Store) -> None:
    with pytest.raises(StoreDataError, match=r"^str is not a store write"):
        store.commit(("nope",))  # type: ignore[arg-type]


def test_reads_return_copies(store: Store) -> None:
    store.save_checkpoint(checkpoint())
    store.put_memory("f1", "k", [1])
    loaded = store.load_checkpoint("f1")
    entry = store.get_memory("f1", "k")
    assert loaded is not None
    assert entry is not None

    loaded.state["n"] = 99
    assert isinstance(entry.value, list)
    entry.value.append(2)

    again = store.load_checkpoint("f1")
    assert again is not None
    assert again.state["n"] == 1
    entry_again = store.get_memory("f1", "k")
    assert entry_again is not None
    assert entry_again.value == [1]


def test_releasing_memory_without_retention_deletes_it_now(store: Store) -> None:
    store.put_memory("f1", "a", 1)
    store.put_memory("f1", "b", 2)

    removed = store.release_memory("f1", at=10.0)

    assert removed == 2
    assert store.list_memory("f1") == ()


def test_retained_memory_is_purged_when_its_retention_ends(store: Store) -> None:
    store.put_memory("f1", "a", 1)
    store.put_memory("f2", "a", 1)
    store.release_memory("f1", at=10.0, retain_for=5.0)
    store.release_memory("f2", at=10.0, retain_for=50.0)

    assert store.purge_memory(14.0) == 0
    assert store.list_memory("f1") == ("a",)
    assert store.purge_memory(15.0) == 1
    assert store.list_memory("f1") == ()
    assert store.list_memory("f2") == ("a",)
    assert store.purge_memory(15.0) == 0


def test_deleting_a_flow_forgets_its_checkpoints_but_not_its_memory(store: Store) -> None:
    store.save_checkpoint(checkpoint(n=1, plan=PLAN))
    store.save_checkpoint(checkpoint(n=2))
    store.put_memory("f1", "k", 1)

    (receipt,) = store.commit((FlowDelete(flow_id="f1"),))

    assert receipt.removed == 1
    assert store.load_checkpoint("f1") is None
    assert store.list_flows() == ()
    assert store.list_memory("f1") == ("k",)
    assert store.save_checkpoint(checkpoint(n=1, expected_version=0)).version == 1


def test_older_versions_are_kept_as_configured(backend: str, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    store: Store = (
        MemoryStore(keep_versions=2)
        if backend == "memory"
        else SqliteStore(tmp_path / "k.db", keep_versions=2)
    )
    try:
        store.save_checkpoint(checkpoint(n=1, plan=PLAN))
        store.save_checkpoint(checkpoint(n=2, plan={"other": True}))
        store.save_checkpoint(checkpoint(n=3))

        older = store.load_checkpoint("f1", version=2)
        assert older is not None
        assert older.state["n"] == 2
        assert older.plan == {"other": True}
        assert store.load_checkpoint("f1", version=1) is None
        assert store.load_checkpoint("f1", version=4) is None
    finally:
        store.close()


def test_a_closed_store_refuses_every_call(store: Store) -> None:
    store.close()
    store.close()

    with pytest.raises(StoreClosedError, match=r"was closed"):
        store.load_checkpoint("f1")
    with pytest.raises(StoreClosedError):
        store.save_checkpoint(checkpoint())


def test_statistics_count_commits_and_transactions(store: Store) -> None:
    store.commit_many([(MemoryDelete(flow_id="f", key="k"),)] * 3)
    store.list_flows()

    stats = store.statistics()

    assert (stats.commits, stats.transactions, stats.reads) == (1, 3, 1)


def test_every_store_error_is_a_store_error() -> None:
    assert issubclass(CheckpointConflictError, StoreError)
    assert issubclass(StoreDataError, StoreError)


def test_a_transaction_refused_before_applying_does_not_undo_its_neighbour(store: Store) -> None:
    results = store.commit_many(
        [
            (MemoryPut(flow_id="f1", key="a", value=1),),
            (MemoryPut(flow_id="", key="b", value=2),),
        ]
    )

    assert isinstance(results[1], StoreDataError)
    assert results[0] == (WriteReceipt(op="memory_put", flow_id="f1"),)
    assert store.list_memory("f1") == ("a",)


def test_a_lone_refused_transaction_stores_nothing(store: Store) -> None:
    store.save_checkpoint(checkpoint(n=1))

    (result,) = store.commit_many(
        [(MemoryPut(flow_id="f1", key="a", value=1), checkpoint(expected_version=0))]
    )

    assert isinstance(result, CheckpointConflictError)
    assert store.list_memory("f1") == ()
    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.version == 1
