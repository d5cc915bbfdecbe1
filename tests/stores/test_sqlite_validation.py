"""What the SQLite store reads is validated like network input: tampered rows, damaged
blobs, other schemas and files that are no store are refused with typed errors."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from actorflow.errors import (
    CheckpointRejectedError,
    ConfigurationError,
    PlanMismatchError,
    StoreCorruptedError,
    StoreDataError,
    StoreError,
    StoreSchemaError,
    StoreTransientError,
)
from actorflow.stores import SCHEMA_VERSION, CheckpointWrite, SqliteStore
from tests.stores.support import PLAN, checkpoint


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A store file with flow f1 (two checkpoints, a plan) and a memory entry, closed."""
    file = tmp_path / "s.db"
    with SqliteStore(file) as store:
        store.save_checkpoint(checkpoint(n=1, plan=PLAN))
        store.save_checkpoint(checkpoint(n=2))
        store.put_memory("f1", "k", {"v": 1})
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


def test_an_untouched_store_reads_back(path: Path) -> None:
    with SqliteStore(path) as store:
        loaded = store.load_checkpoint("f1")
        assert store.integrity_check() == "ok"

    assert loaded is not None
    assert loaded.version == 2
    assert loaded.plan == PLAN


def test_a_truncated_state_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE checkpoints SET state = substr(state, 1, 10)")

    with pytest.raises(
        CheckpointRejectedError,
        match=r"^The stored JSON of checkpoint 2 of flow 'f1' in .* does not match its checksum",
    ):
        load(path)


def test_a_state_changed_without_its_checksum_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE checkpoints SET state = replace(state, '\"n\":2', '\"n\":3')")

    with pytest.raises(CheckpointRejectedError, match=r"does not match its checksum"):
        load(path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"n": 2', r"cannot be read"),
        ('{"n": NaN}', r"cannot be read \(NaN is not JSON\)"),
        ('{"n": 1, "n": 2}', r"cannot be read \(duplicate key 'n'\)"),
        ("[1, 2]", r"is a JSON list, not an object"),
    ],
)
def test_a_state_that_is_not_a_strict_json_object_is_rejected(
    path: Path, text: str, why: str
) -> None:
    tamper(
        path,
        "UPDATE checkpoints SET state = ?, state_sha256 = ? WHERE version = 2",
        args=(text, sha(text)),
    )

    with pytest.raises(CheckpointRejectedError, match=why):
        load(path)


def test_a_changed_plan_is_a_plan_mismatch(path: Path) -> None:
    tamper(path, """UPDATE plans SET plan = '{"id":"evil"}'""")

    with pytest.raises(PlanMismatchError, match=r"does not hash to the plan hash"):
        load(path)


def test_a_checkpoint_naming_another_plan_hash_is_a_plan_mismatch(path: Path) -> None:
    other = "ab" * 32
    tamper(
        path,
        "UPDATE checkpoints SET plan_hash = ? WHERE version = 2",
        "UPDATE flows SET plan_hash = ?",
        args=(other,),
    )

    with pytest.raises(PlanMismatchError, match=r"records plan hash 'abababababab'\.\.\., but no"):
        load(path)


def test_a_plan_mismatch_is_a_checkpoint_rejection() -> None:
    assert issubclass(PlanMismatchError, CheckpointRejectedError)
    assert issubclass(CheckpointRejectedError, StoreCorruptedError)


def test_a_field_of_the_wrong_type_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE flows SET version = 'two'")

    with pytest.raises(CheckpointRejectedError, match=r"^The row of the listing of flow 'f1' .*"
                       r"has invalid version: it was changed outside actorflow"):  # fmt: skip
        load(path)


def test_a_listing_that_disagrees_with_its_checkpoint_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE flows SET status = 'completed'")

    with pytest.raises(CheckpointRejectedError, match=r"^The listing of flow 'f1' does not match"):
        load(path)


def test_a_listing_without_its_checkpoint_is_rejected(path: Path) -> None:
    tamper(path, "DELETE FROM checkpoints")

    with pytest.raises(CheckpointRejectedError, match=r"lists checkpoint 2 as its latest, but no"):
        load(path)


def test_a_listing_with_more_steps_done_than_total_is_rejected(path: Path) -> None:
    tamper(path, "UPDATE flows SET steps_done = 9")

    with SqliteStore(path) as store, pytest.raises(CheckpointRejectedError, match=r"steps_total"):
        store.list_flows()


def test_a_tampered_memory_value_is_rejected(path: Path) -> None:
    tamper(path, """UPDATE memory SET value = '{"v":2}'""")

    with SqliteStore(path) as store, pytest.raises(StoreCorruptedError, match=r"checksum"):
        store.get_memory("f1", "k")


def test_a_write_over_a_damaged_listing_is_refused_and_stores_nothing(path: Path) -> None:
    tamper(path, "UPDATE flows SET version = -1")

    with SqliteStore(path) as store:
        with pytest.raises(CheckpointRejectedError, match=r"invalid version"):
            store.save_checkpoint(checkpoint(n=3, memory_put={"new": 1}))
        assert store.get_memory("f1", "new") is None


def test_a_newer_schema_is_refused(path: Path) -> None:
    tamper(
        path,
        "UPDATE meta SET value = ? WHERE key = 'schema_version'",
        args=(str(SCHEMA_VERSION + 1),),
    )

    with pytest.raises(
        StoreSchemaError, match=rf"newer than the {SCHEMA_VERSION} this actorflow reads: .*Upgrade"
    ):
        SqliteStore(path)


def test_an_older_schema_is_refused(path: Path) -> None:
    tamper(path, "UPDATE meta SET value = '0' WHERE key = 'schema_version'")

    with pytest.raises(
        StoreSchemaError, match=rf"older than {SCHEMA_VERSION}, and there is no upgrader"
    ):
        SqliteStore(path)


SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE flows (
    flow_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    steps_done INTEGER NOT NULL, steps_total INTEGER NOT NULL, updated_at REAL NOT NULL,
    plan_hash TEXT, write_id TEXT NOT NULL
);
CREATE TABLE checkpoints (
    flow_id TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
    state_sha256 TEXT NOT NULL, status TEXT NOT NULL, steps_done INTEGER NOT NULL,
    steps_total INTEGER NOT NULL, at REAL NOT NULL, plan_hash TEXT, write_id TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);
CREATE TABLE plans (
    flow_id TEXT NOT NULL, plan_hash TEXT NOT NULL, plan TEXT NOT NULL,
    PRIMARY KEY (flow_id, plan_hash)
);
CREATE TABLE memory (
    flow_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    value_sha256 TEXT NOT NULL, PRIMARY KEY (flow_id, key)
);
CREATE TABLE memory_expiry (flow_id TEXT PRIMARY KEY NOT NULL, expires_at REAL NOT NULL);
INSERT INTO meta VALUES ('application', 'actorflow'), ('schema_version', '1');
"""


def test_a_store_of_schema_1_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """Schema 1 (every checkpoint stored whole) has no upgrader: there are no users yet."""
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(SCHEMA_1)
    conn.close()

    with pytest.raises(
        StoreSchemaError,
        match=r"^The SQLite store .* has schema version 1, older than 3, .* move it aside and "
        r"start a new store",
    ):
        SqliteStore(old)


def test_a_schema_version_that_is_not_a_number_is_refused(path: Path) -> None:
    tamper(path, "UPDATE meta SET value = 'one' WHERE key = 'schema_version'")

    with pytest.raises(StoreSchemaError, match=r"schema version 'one', which is not a number"):
        SqliteStore(path)


def test_an_unknown_meta_entry_is_refused(path: Path) -> None:
    tamper(path, "INSERT INTO meta VALUES ('extra', 'x')")

    with pytest.raises(StoreSchemaError, match=r"unexpected 'meta' entries"):
        SqliteStore(path)


def test_an_unknown_column_is_refused(path: Path) -> None:
    tamper(path, "ALTER TABLE checkpoints ADD COLUMN extra TEXT")

    with pytest.raises(StoreSchemaError, match=r"changed: checkpoints\)"):
        SqliteStore(path)


def test_an_unknown_table_is_refused(path: Path) -> None:
    tamper(path, "CREATE TABLE extra (x)")

    with pytest.raises(StoreSchemaError, match=r"unknown, missing or changed: extra"):
        SqliteStore(path)


def test_a_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    tamper(other, "CREATE TABLE users (name TEXT)")

    with pytest.raises(StoreSchemaError, match=r"has tables \(users\) but no actorflow 'meta'"):
        SqliteStore(other)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)

    with pytest.raises(StoreSchemaError, match=r"is not a SQLite database"):
        SqliteStore(junk)


def test_a_store_in_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"lock file .* cannot be created"):
        SqliteStore(tmp_path / "missing" / "s.db")


def test_an_unknown_synchronous_mode_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^synchronous='sometimes' is not a SQLite"):
        SqliteStore(tmp_path / "s.db", synchronous="sometimes")


def test_write_values_outside_the_rules_are_refused(tmp_path: Path) -> None:
    bad = CheckpointWrite(
        flow_id="f1", state={}, status="running", steps_done=3, steps_total=2, at=1.0
    )

    with SqliteStore(tmp_path / "s.db") as store:
        with pytest.raises(StoreDataError, match=r"^CheckpointWrite of flow 'f1' has steps_done=3"):
            store.save_checkpoint(bad)
        with pytest.raises(StoreDataError, match=r"has flow_id '', which must be 1 to 512"):
            store.save_checkpoint(bad.model_copy(update={"flow_id": ""}))


def test_a_write_blocked_by_an_outside_writer_is_a_transient_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path, busy_timeout=0.05) as store:
        outside = sqlite3.connect(path, isolation_level=None)
        outside.execute("BEGIN IMMEDIATE")  # a tool that ignores the lock file
        try:
            with pytest.raises(
                StoreTransientError, match=r"failed before committing: database is locked\. Nothing"
            ) as caught:
                store.save_checkpoint(checkpoint())
        finally:
            outside.execute("ROLLBACK")
            outside.close()

        assert caught.value.committed is False
        assert store.save_checkpoint(checkpoint()).version == 1
