"""Checkpoint patches in the backends: a patch is stored as its change, and read back as
the whole state (the contract every backend passes, and a property over both)."""

from __future__ import annotations

import copy
import hashlib
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from actorflow.errors import CheckpointConflictError, CheckpointRejectedError, StoreDataError
from actorflow.stores import (
    CheckpointWrite,
    MemoryPut,
    MemoryStore,
    SqliteStore,
    Store,
    Transaction,
    _codec,
    _engine,
)
from tests.stores.support import PLAN

WHOLE: dict[str, JsonValue] = {"status": "running", "steps": {"a": [1], "b": [2]}, "slots": 1}


def write(
    state: dict[str, Any],
    version: int,
    *,
    patch: bool = True,
    merge: tuple[str, ...] = ("steps",),
    flow_id: str = "f1",
    write_id: str = "",
) -> CheckpointWrite:
    """Version ``version + 1`` of the flow: a patch on ``version`` (or whole)."""
    return CheckpointWrite(
        flow_id=flow_id,
        state=state,
        status="running",
        steps_done=0,
        steps_total=2,
        at=float(version),
        plan=PLAN if version == 0 else None,
        expected_version=version,
        write_id=write_id,
        patch_of=version if patch else None,
        merge=merge if patch else (),
    )


def merged(state: dict[str, Any], changes: dict[str, Any], merge: tuple[str, ...]) -> None:
    """What a patch means, written out plainly (the model the stores must agree with)."""
    for key, value in changes.items():
        if key in merge and isinstance(value, dict) and isinstance(state.get(key), dict):
            state[key] = {**state[key], **value}
        else:
            state[key] = value


def test_a_patch_reads_back_as_the_whole_state_with_its_changes(store: Store) -> None:
    store.save_checkpoint(write(WHOLE, 0, patch=False))

    receipt = store.save_checkpoint(write({"steps": {"b": [3], "c": [4]}, "slots": 0}, 1))

    assert receipt.version == 2
    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.state == {
        "status": "running",
        "steps": {"a": [1], "b": [3], "c": [4]},
        "slots": 0,
    }
    assert loaded.plan == PLAN


def test_a_key_not_named_in_merge_is_replaced_whole(store: Store) -> None:
    store.save_checkpoint(write(WHOLE, 0, patch=False))

    store.save_checkpoint(write({"steps": {"b": [3]}}, 1, merge=()))

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.state["steps"] == {"b": [3]}


def test_a_patch_on_another_version_is_refused_as_a_conflict(store: Store) -> None:
    store.save_checkpoint(write(WHOLE, 0, patch=False))
    stale = write({"slots": 5}, 1).model_copy(update={"patch_of": 0, "expected_version": None})

    with pytest.raises(
        CheckpointConflictError,
        match=r"^A change to checkpoint 0 of flow 'f1' came, but .* holds checkpoint 1: .*"
        r"Send the whole state\.$",
    ):
        store.save_checkpoint(stale)

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert (loaded.version, loaded.state) == (1, WHOLE)


def test_a_patch_of_a_flow_without_checkpoints_is_refused_as_a_conflict(store: Store) -> None:
    with pytest.raises(CheckpointConflictError, match=r"holds no checkpoint"):
        store.save_checkpoint(write({"slots": 5}, 0).model_copy(update={"plan": None}))

    assert store.load_checkpoint("f1") is None


def test_a_retried_patch_with_its_write_id_is_not_stored_twice(store: Store) -> None:
    store.save_checkpoint(write(WHOLE, 0, patch=False))
    patch = write({"slots": 7}, 1, write_id="f1@2")
    store.save_checkpoint(patch)

    again = store.save_checkpoint(patch)

    assert (again.version, again.duplicate) == (2, True)
    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert (loaded.version, loaded.state["slots"]) == (2, 7)


def test_merge_keys_on_a_whole_state_are_refused(store: Store) -> None:
    bad = write(WHOLE, 0, patch=False).model_copy(update={"merge": ("steps",)})

    with pytest.raises(
        StoreDataError,
        match=r"^CheckpointWrite of flow 'f1' names keys to merge \['steps'\] but is not a patch",
    ):
        store.save_checkpoint(bad)


def test_many_patches_read_back_across_snapshots(store: Store) -> None:
    """Hundreds of patches on a large state: the store writes new snapshots as they pile up,
    and every version reads back whole."""
    steps = {f"s{i}": {"status": "pending", "result": None} for i in range(300)}
    model: dict[str, Any] = {"status": "running", "steps": steps, "done": 0}
    store.save_checkpoint(write(model, 0, patch=False))
    model = copy.deepcopy(model)
    for version in range(1, 601):
        sid = f"s{version % 300}"
        changes = {"steps": {sid: {"status": "completed", "result": version}}, "done": version}
        store.save_checkpoint(write(changes, version))
        merged(model, copy.deepcopy(changes), ("steps",))

    loaded = store.load_checkpoint("f1")

    assert loaded is not None
    assert (loaded.version, loaded.state) == (601, model)


def test_older_kept_versions_of_patches_read_back_whole(backend: str, tmp_path: Path) -> None:
    store: Store = (
        MemoryStore(keep_versions=3)
        if backend == "memory"
        else SqliteStore(tmp_path / "k.db", keep_versions=3)
    )
    try:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        for version in range(1, 6):
            store.save_checkpoint(write({"steps": {"a": [version]}, "slots": version}, version))

        older = store.load_checkpoint("f1", version=4)
        assert older is not None
        assert older.state == {"status": "running", "steps": {"a": [3], "b": [2]}, "slots": 3}
        assert store.load_checkpoint("f1", version=3) is None  # not among the latest 3
    finally:
        store.close()


def test_a_patch_is_stored_as_its_change_not_the_whole_state(tmp_path: Path) -> None:
    big = {f"s{i}": {"status": "pending"} for i in range(200)}
    with SqliteStore(tmp_path / "s.db") as store:
        store.save_checkpoint(write({"steps": big}, 0, patch=False))
        store.save_checkpoint(write({"steps": {"s7": {"status": "completed"}}}, 1))
        rows = store._tables.conn.execute(
            "SELECT version, snapshot, length(state) FROM checkpoints ORDER BY version"
        ).fetchall()

    (_, _, whole), (version, snapshot, patch) = rows
    assert (version, snapshot) == (2, 1)
    assert patch < 100
    assert whole > 4000


@pytest.mark.parametrize("grouped", [False, True])
def test_a_refused_patch_leaves_no_trace_in_the_next_whole_state(
    store: Store, monkeypatch: pytest.MonkeyPatch, grouped: bool
) -> None:
    """A patch applied, then undone with its refused transaction (alone, or next to
    another in a group commit), is not part of the state the store later writes whole."""
    monkeypatch.setattr(_engine, "MIN_PATCHES_SIZE", 50)  # room for one small patch
    store.save_checkpoint(write(WHOLE, 0, patch=False))
    refused: Transaction = (write({"slots": 100}, 1), write({}, 5, patch=False, flow_id="f2"))
    batch: list[Transaction] = [refused]
    if grouped:
        batch.insert(0, (MemoryPut(flow_id="f1", key="k", value=1),))

    assert isinstance(store.commit_many(batch)[-1], CheckpointConflictError)
    store.save_checkpoint(write({"slots": 2}, 1))
    store.save_checkpoint(write({"steps": {"c": [5]}}, 2))  # due: stored whole

    loaded = store.load_checkpoint("f1")
    assert loaded is not None
    assert loaded.state == {
        "status": "running",
        "steps": {"a": [1], "b": [2], "c": [5]},
        "slots": 2,
    }


def test_a_reopened_store_writes_whole_states_from_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new store object knows no flow's latest state: it reads it back to store it whole."""
    monkeypatch.setattr(_engine, "MIN_PATCHES_SIZE", 50)
    with SqliteStore(tmp_path / "s.db") as store:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        store.save_checkpoint(write({"slots": 2}, 1))
    with SqliteStore(tmp_path / "s.db") as store:
        store.save_checkpoint(write({"steps": {"c": [5]}}, 2))
        rows = store._tables.conn.execute("SELECT version, snapshot FROM checkpoints").fetchall()
        loaded = store.load_checkpoint("f1")

    assert rows == [(3, 3)]
    assert loaded is not None
    assert loaded.state == {
        "status": "running",
        "steps": {"a": [1], "b": [2], "c": [5]},
        "slots": 2,
    }


# -- property: any sequence of whole writes and patches reads back merged ---------------

KEYS = st.sampled_from(["steps", "x", "y"])
INNER = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 9), max_size=2)
VALUES = st.one_of(st.integers(0, 9), INNER, st.text(max_size=3))
STATES = st.dictionaries(KEYS, VALUES, max_size=3)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["whole", "patch", "patch", "patch", "stale"]),
        STATES,
        st.lists(KEYS, max_size=2, unique=True).map(tuple),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPS, st.sampled_from([1, 3]), st.sampled_from([0, 30]))
def test_any_sequence_of_whole_writes_and_patches_reads_back_merged(
    ops: list[tuple[str, dict[str, Any], tuple[str, ...]]], keep: int, min_patches_size: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patcher:
        # Small thresholds make the stores write snapshots among the patches.
        patcher.setattr(_engine, "MIN_PATCHES_SIZE", min_patches_size)
        patcher.setattr(_engine, "MAX_CHAIN", 4)
        stores: list[Store] = [
            MemoryStore(keep_versions=keep),
            SqliteStore(Path(tmp) / "s.db", keep_versions=keep),
        ]
        try:
            check_sequence(stores, ops, keep)
            sqlite = stores[1]
            assert isinstance(sqlite, SqliteStore)
            assert sqlite.integrity_check() == "ok"
        finally:
            for store in stores:
                store.close()


def check_sequence(
    stores: list[Store], ops: list[tuple[str, dict[str, Any], tuple[str, ...]]], keep: int
) -> None:
    history: list[dict[str, Any]] = []
    for kind, state, merge in ops:
        version = len(history)
        if kind == "stale" or (kind == "patch" and not history):
            bad = write(state, version, merge=merge).model_copy(
                update={"patch_of": version + 1, "expected_version": None}
            )
            for store in stores:
                with pytest.raises(CheckpointConflictError):
                    store.save_checkpoint(bad)
            continue
        whole = kind == "whole"
        new = copy.deepcopy(state) if whole else copy.deepcopy(history[-1])
        if not whole:
            merged(new, copy.deepcopy(state), merge)
        for store in stores:
            receipt = store.save_checkpoint(write(state, version, patch=not whole, merge=merge))
            assert receipt.version == version + 1
        history.append(new)
        for store in stores:
            for back in range(min(keep, len(history))):
                loaded = store.load_checkpoint("f1", version=len(history) - back)
                assert loaded is not None
                assert loaded.state == history[-1 - back]


# -- tampered patch rows ---------------------------------------------------------------


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A store file with flow f1 stored whole at version 1 and as patches at 2 and 3."""
    file = tmp_path / "s.db"
    with SqliteStore(file) as store:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        store.save_checkpoint(write({"steps": {"b": [3]}}, 1))
        store.save_checkpoint(write({"slots": 9}, 2))
    return file


def tamper(path: Path, *statements: str, args: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement, args if "?" in statement else ())
        conn.commit()
    finally:
        conn.close()


def load(path: Path) -> object:
    with SqliteStore(path) as store:
        return store.load_checkpoint("f1")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_untampered_patch_rows_read_back(path: Path) -> None:
    loaded = load(path)

    assert getattr(loaded, "state", None) == {
        "status": "running",
        "steps": {"a": [1], "b": [3]},
        "slots": 9,
    }


def test_a_changed_patch_row_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE checkpoints SET state = replace(state, '[3]', '[4]') WHERE version = 2")

    with pytest.raises(
        CheckpointRejectedError,
        match=r"^The stored JSON of checkpoint 2 of flow 'f1' in .* does not match its checksum",
    ):
        load(path)


def test_a_missing_patch_row_is_rejected(path: Path) -> None:
    tamper(path, "DELETE FROM checkpoints WHERE version = 2")

    with pytest.raises(
        CheckpointRejectedError,
        match=r"^The state of checkpoint 3 of flow 'f1' in .* builds on checkpoint 1 and the "
        r"patches after it, but only 1 of the 2 rows before it are stored\. Do not resume",
    ):
        load(path)


def test_a_patch_row_on_another_version_is_rejected(path: Path) -> None:
    text = '[5,["steps"],{"slots":9}]'
    tamper(
        path,
        "UPDATE checkpoints SET state = ?, state_sha256 = ? WHERE version = 3",
        args=(text, sha(text)),
    )

    with pytest.raises(
        CheckpointRejectedError,
        match=r"^The stored patch of checkpoint 3 of flow 'f1' .* is not \[2, merge keys, ",
    ):
        load(path)


def test_a_snapshot_pointing_at_a_patch_row_is_rejected(path: Path) -> None:
    tamper(
        path,
        "UPDATE checkpoints SET snapshot = 2 WHERE version >= 2",
        "UPDATE flows SET snapshot = 2",
    )

    with pytest.raises(
        CheckpointRejectedError, match=r"of checkpoint 2 of flow 'f1' .* is a JSON list, not an"
    ):
        load(path)


def test_a_patch_row_claiming_another_snapshot_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE checkpoints SET snapshot = 2 WHERE version = 2")

    with pytest.raises(
        CheckpointRejectedError, match=r"^The row of checkpoint 2 .* has invalid snapshot"
    ):
        load(path)


def test_a_listing_that_names_another_snapshot_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE flows SET snapshot = 3")

    with pytest.raises(
        CheckpointRejectedError, match=r"^The listing of flow 'f1' does not match checkpoint 3"
    ):
        load(path)


# -- whole states written from the pieces the store keeps -------------------------------


def test_a_whole_state_written_from_pieces_is_the_text_of_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store writes a due whole state by joining the pieces it kept: the very text
    encoding the merged state gives, byte for byte."""
    monkeypatch.setattr(_engine, "MIN_PATCHES_SIZE", 50)
    with SqliteStore(tmp_path / "s.db") as store:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        store.save_checkpoint(write({"slots": 2, "steps": {"b": [1.5, "é"]}}, 1))
        store.save_checkpoint(write({"steps": {"c": {"n": None}}, "extra": [True]}, 2))
        text, version, snapshot = store._tables.conn.execute(
            "SELECT state, version, snapshot FROM checkpoints ORDER BY version DESC LIMIT 1"
        ).fetchone()
        loaded = store.load_checkpoint("f1")

    assert (version, snapshot) == (3, 3)
    assert loaded is not None
    assert loaded.state == {
        "status": "running",
        "steps": {"a": [1], "b": [1.5, "é"], "c": {"n": None}},
        "slots": 2,
        "extra": [True],
    }
    assert text == _codec.encode(loaded.state, what="the state")


def test_a_patch_row_changed_while_the_store_is_open_is_rejected_by_the_next_whole_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing a whole state from pieces still checks every row it replaces."""
    monkeypatch.setattr(_engine, "MIN_PATCHES_SIZE", 50)
    file = tmp_path / "s.db"
    with SqliteStore(file) as store:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        store.save_checkpoint(write({"steps": {"b": [3]}}, 1))
        tamper(
            file, "UPDATE checkpoints SET state = replace(state, '[3]', '[4]') WHERE version = 2"
        )

        with pytest.raises(
            CheckpointRejectedError,
            match=r"^The stored JSON of checkpoint 2 of flow 'f1' in .* does not match its "
            "checksum",
        ):
            store.save_checkpoint(write({"steps": {"c": [5]}}, 2))  # due: stored whole
        versions = store._tables.conn.execute("SELECT version FROM checkpoints").fetchall()

    assert versions == [(1,), (2,)]


def _versions(store: SqliteStore) -> list[int]:
    rows = store._tables.conn.execute("SELECT version FROM checkpoints ORDER BY version")
    return [version for (version,) in rows]


def test_keeping_one_version_leaves_only_the_rows_the_latest_state_builds_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine, "MIN_PATCHES_SIZE", 50)
    with SqliteStore(tmp_path / "s.db") as store:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        for version in range(1, 11):  # whole again at 4, 7 and 10
            store.save_checkpoint(write({"slots": version}, version))
        flow = store._tables.flow_row("f1")
        versions = _versions(store)

    assert flow is not None
    assert flow[8] == 10  # the snapshot the latest version builds on
    assert versions == [10, 11]


def test_a_store_reopened_to_keep_fewer_versions_prunes_the_older_ones_at_its_next_write(
    tmp_path: Path,
) -> None:
    with SqliteStore(tmp_path / "s.db", keep_versions=3) as store:
        store.save_checkpoint(write(WHOLE, 0, patch=False))
        for version in range(1, 4):
            store.save_checkpoint(write({"slots": version}, version, patch=False))
    with SqliteStore(tmp_path / "s.db") as store:
        store.save_checkpoint(write({"slots": 9}, 4))
        versions = _versions(store)

    assert versions == [4, 5]
