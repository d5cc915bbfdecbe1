"""Every store keeps the human gateway's requests as rows of plain JSON (schema 3), and a
schema 2 file is upgraded when it is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from actorflow import ActorSystem
from actorflow.errors import CheckpointConflictError, StoreCorruptedError, StoreDataError
from actorflow.stores import (
    SCHEMA_VERSION,
    CheckpointWrite,
    HumanRequestPut,
    HumanRequestStore,
    ListHumanRequestsRequest,
    ListHumanRequestsResponse,
    MemoryStore,
    SqliteStore,
    Store,
    WriteRequest,
    WriteResponse,
    spawn_store,
)
from actorflow.stores.actor import STORE_PATH


def put(request_id: str = "r1", status: str = "open", **fields: object) -> HumanRequestPut:
    """A human request row with a small record (``fields`` override any column)."""
    return row({"request_id": request_id, "status": status, **fields})


def row(fields: dict[str, object]) -> HumanRequestPut:
    """A human request row: defaults, with ``fields`` over them."""
    values: dict[str, object] = {
        "request_id": "r1",
        "status": "open",
        "deadline": 1000.0,
        "asked_at": 10.0,
        "record": {"question": "Proceed?", "n": [1, 2]},
        "flow_id": "f1",
        "step_id": "confirm",
    }
    values.update(fields)
    return HumanRequestPut.model_validate(values)


def test_both_backends_keep_human_requests(store: Store) -> None:
    assert isinstance(store, HumanRequestStore)


def test_a_stored_request_reads_back_as_written(store: Store) -> None:
    assert isinstance(store, HumanRequestStore)
    store.commit((put(),))

    entry = store.get_human_request("r1")

    assert entry is not None
    assert (entry.request_id, entry.status, entry.deadline, entry.asked_at) == (
        "r1",
        "open",
        1000.0,
        10.0,
    )
    assert entry.record == {"question": "Proceed?", "n": [1, 2]}
    assert (entry.flow_id, entry.step_id, entry.is_open) == ("f1", "confirm", True)
    assert store.get_human_request("nope") is None


def test_a_second_write_replaces_the_row_and_listing_keeps_open_ones_oldest_first(
    store: Store,
) -> None:
    assert isinstance(store, HumanRequestStore)
    store.commit((put("r2", asked_at=20.0), put("r1", asked_at=10.0), put("r3", asked_at=30.0)))
    store.commit((put("r3", status="answered", asked_at=30.0),))

    open_ids = [e.request_id for e in store.list_human_requests()]
    all_ids = [e.request_id for e in store.list_human_requests(open_only=False)]

    assert open_ids == ["r1", "r2"]
    assert all_ids == ["r1", "r2", "r3"]
    ended = store.get_human_request("r3")
    assert ended is not None
    assert not ended.is_open


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"request_id": ""}, "request_id"),
        ({"status": ""}, "status"),
        ({"deadline": float("inf")}, "deadline"),
        ({"flow_id": ""}, "flow or step id"),
        ({"record": {"x": float("nan")}}, "JSON"),
    ],
)
def test_an_invalid_human_request_write_is_refused_and_stores_nothing(
    store: Store, fields: dict[str, object], problem: str
) -> None:
    assert isinstance(store, HumanRequestStore)

    with pytest.raises(StoreDataError, match=problem):
        store.commit((row(fields),))

    assert store.list_human_requests(open_only=False) == ()


def test_a_human_request_and_a_checkpoint_commit_together_or_not_at_all(store: Store) -> None:
    assert isinstance(store, HumanRequestStore)
    clash = CheckpointWrite(
        flow_id="f1", state={}, status="running", steps_done=0, steps_total=1, at=1.0,
        expected_version=5,
    )  # fmt: skip

    with pytest.raises(CheckpointConflictError, match="expected version 5"):
        store.commit((put(), clash))

    assert store.get_human_request("r1") is None


def test_a_tampered_human_request_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        store.commit((put(),))
    conn = sqlite3.connect(path)
    conn.execute("""UPDATE human_requests SET record = '{"question":"Delete?"}'""")
    conn.commit()
    conn.close()

    with SqliteStore(path) as store, pytest.raises(StoreCorruptedError, match=r"checksum"):
        store.get_human_request("r1")


def test_a_schema_2_store_is_upgraded_and_keeps_its_flows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = CheckpointWrite(
        flow_id="f1", state={"a": 1}, status="running", steps_done=0, steps_total=1, at=1.0
    )
    with SqliteStore(path) as store:
        store.save_checkpoint(first)
    conn = sqlite3.connect(path)  # what a schema 2 file is: no human_requests table
    conn.executescript(
        "DROP TABLE human_requests; UPDATE meta SET value = '2' WHERE key = 'schema_version';"
    )
    conn.close()

    with SqliteStore(path) as store:
        store.commit((put(),))
        assert store.get_human_request("r1") is not None
        checkpoint = store.load_checkpoint("f1")

    assert checkpoint is not None
    assert checkpoint.state == {"a": 1}
    conn = sqlite3.connect(path)
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert version == str(SCHEMA_VERSION) == "3"


def test_the_store_actor_writes_and_lists_human_requests(system: ActorSystem) -> None:
    store = MemoryStore()
    spawn_store(system, store)

    written = system.ask(STORE_PATH, WriteRequest(writes=(put(), put("r2", status="answered"))))
    listed = system.ask(STORE_PATH, ListHumanRequestsRequest())

    assert isinstance(written, WriteResponse)
    assert isinstance(listed, ListHumanRequestsResponse)
    assert [e.request_id for e in listed.requests] == ["r1"]
