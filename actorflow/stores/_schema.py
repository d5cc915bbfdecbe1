"""Opening a SQLite store file: the process lock, the connection and its settings, and
the schema (created in an empty file, checked in any other).

The schema's exact tables and columns are read from a fresh in-memory copy of it, so a
file with an unknown, missing or changed table or column is refused with
:class:`~actorflow.errors.StoreSchemaError`, as is any ``meta`` that is not this
version's.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from pathlib import Path

from loguru import logger

from actorflow.errors import ConfigurationError, StoreError, StoreLockedError, StoreSchemaError
from actorflow.stores import _filelock

__all__ = [
    "SCHEMA_VERSION",
    "Synchronous",
    "connect",
    "is_schema_number",
    "lock_file",
    "synchronous_mode",
    "unlock_file",
]

SCHEMA_VERSION = 3
"""The schema this version writes and reads. A file of version 2 is upgraded when it is
opened; files of any other version are refused.

2: checkpoints may be stored as patches on the previous version (``snapshot`` columns
in ``flows`` and ``checkpoints``, ``patch_size`` and ``snapshot_size`` in ``flows``).
3: the ``human_requests`` table (the human gateway's requests, open and ended)."""
_APPLICATION = "actorflow"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE flows (
    flow_id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    steps_done INTEGER NOT NULL, steps_total INTEGER NOT NULL, updated_at REAL NOT NULL,
    plan_hash TEXT, write_id TEXT NOT NULL, snapshot INTEGER NOT NULL,
    snapshot_size INTEGER NOT NULL, patch_size INTEGER NOT NULL
);
CREATE TABLE checkpoints (
    flow_id TEXT NOT NULL, version INTEGER NOT NULL, snapshot INTEGER NOT NULL,
    state TEXT NOT NULL,
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
"""
_HUMAN_SCHEMA = """
CREATE TABLE human_requests (
    request_id TEXT PRIMARY KEY NOT NULL, flow_id TEXT, step_id TEXT, status TEXT NOT NULL,
    deadline REAL NOT NULL, asked_at REAL NOT NULL, record TEXT NOT NULL,
    record_sha256 TEXT NOT NULL
);
CREATE INDEX human_requests_by_status ON human_requests (status, asked_at, request_id);
"""
_UPGRADES = {2: _HUMAN_SCHEMA}
"""What turns a file of schema version N into N + 1 (run in one transaction)."""
_SCHEMA += _HUMAN_SCHEMA


class Synchronous(enum.StrEnum):
    """SQLite's ``synchronous`` setting: what a commit survives (WAL mode)."""

    OFF = "off"
    """No fsync: survives an application crash; a power loss can lose recent commits and,
    rarely, damage the file."""
    NORMAL = "normal"
    """fsync at WAL checkpoints: survives an application crash; a power loss can lose the
    last commits (the file stays consistent)."""
    FULL = "full"
    """fsync at every commit: a commit survives power loss once it returned."""


def synchronous_mode(value: object) -> Synchronous:
    try:
        return Synchronous(str(value).lower())
    except ValueError:
        raise ConfigurationError(
            f"synchronous={value!r} is not a SQLite synchronous mode. Use 'normal' (the "
            "default), 'full' (commits survive power loss) or 'off'."
        ) from None


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def lock_file(path: Path) -> int:
    lock = _lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"Cannot open the SQLite store {str(path)!r}: its lock file {str(lock)!r} cannot be "
            f"created ({exc.strerror}). Check that the directory exists and is writable."
        ) from exc
    if not _filelock.try_lock(fd):
        holder = _filelock.read_holder(fd) or "unknown"
        os.close(fd)
        who = (
            "another store object in this process"
            if holder == str(os.getpid())
            else f"another process (pid {holder})"
        )
        raise StoreLockedError(
            f"The SQLite store {str(path)!r} is in use by {who}: its lock file "
            f"{str(lock)!r} is held. One process at a time may open a store; stop the other "
            "process or close the other store first (several processes need a server "
            "database backend)."
        )
    _filelock.write_holder(fd)
    return fd


def unlock_file(fd: int) -> None:
    try:
        _filelock.unlock(fd)
    finally:
        os.close(fd)


def connect(path: Path, synchronous: Synchronous, busy_timeout: float) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(
            f"Cannot open the SQLite store {str(path)!r}: {exc}. Check that the directory "
            "exists and the file is readable and writable."
        ) from exc
    try:
        _configure(conn, path, synchronous)
        _check_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path, synchronous: Synchronous) -> None:
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute(f"PRAGMA synchronous = {synchronous.value.upper()}")
    except sqlite3.DatabaseError as exc:
        raise StoreSchemaError(
            f"The file {str(path)!r} is not a SQLite database ({exc}), so it is not an "
            "actorflow store. Point the store at another file."
        ) from exc
    if mode != "wal":
        raise StoreError(
            f"The SQLite store {str(path)!r} could not switch to WAL mode (got {mode!r}); "
            "the file system may not support it. Put the store on a local disk."
        )


def _expected_layout() -> dict[str, list[tuple[object, ...]]]:
    """The tables and columns of the current schema, read from a fresh in-memory copy."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_SCHEMA)
        return _layout(conn)
    finally:
        conn.close()


def _layout(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: [tuple(col[1:]) for col in conn.execute(f"PRAGMA table_info({name!r})")]
        for name in names
    }


_EXPECTED = _expected_layout()


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    try:
        layout = _layout(conn)
        if not layout:
            _create(conn)
            return
        if "meta" not in layout:
            raise StoreSchemaError(
                f"The SQLite file {str(path)!r} has tables ({', '.join(layout)}) but no "
                "actorflow 'meta' table: it is not an actorflow store. Point the store at "
                "another file."
            )
        version = _check_meta(conn, path)
        if version < SCHEMA_VERSION:
            _upgrade(conn, path, version)
            layout = _layout(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreSchemaError(
            f"The SQLite file {str(path)!r} cannot be read as an actorflow store: {exc}. "
            "Restore it from a backup, or point the store at another file."
        ) from exc
    if layout != _EXPECTED:
        unknown = sorted(set(layout) ^ set(_EXPECTED)) or sorted(
            t for t in layout if layout[t] != _EXPECTED.get(t)
        )
        raise StoreSchemaError(
            f"The SQLite store {str(path)!r} says schema version {SCHEMA_VERSION}, but its "
            f"tables differ from that schema (unknown, missing or changed: "
            f"{', '.join(unknown)}): it was changed outside actorflow. Restore it from a "
            "backup."
        )


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        _run_script(conn, _SCHEMA)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("application", _APPLICATION), ("schema_version", str(SCHEMA_VERSION))],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _upgrade(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring a file of schema ``version`` up to :data:`SCHEMA_VERSION`, one version per
    step, all in one transaction (a crash midway leaves the old version whole)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for old in range(version, SCHEMA_VERSION):
            _run_script(conn, _UPGRADES[old])
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    logger.info(
        "Upgraded the SQLite store {path} from schema version {old} to {new}",
        path=str(path),
        old=version,
        new=SCHEMA_VERSION,
    )


def is_schema_number(text: str) -> bool:
    """Whether ``text`` is a schema version as actorflow writes it: ASCII digits, short
    (``str.isdigit`` also takes '²' and other digits ``int`` refuses)."""
    return 0 < len(text) <= 9 and text.isascii() and text.isdigit()


def _check_meta(conn: sqlite3.Connection, path: Path) -> int:
    """Check the ``meta`` table and return the file's schema version (one this version
    reads or upgrades).

    Raises:
        StoreSchemaError: not an actorflow store, or a version it cannot open.
    """
    rows = conn.execute("SELECT key, value FROM meta").fetchall()
    meta = dict(rows)
    where = f"The SQLite store {str(path)!r}"
    if len(meta) != len(rows) or set(meta) != {"application", "schema_version"}:
        raise StoreSchemaError(
            f"{where} has unexpected 'meta' entries ({sorted(map(str, meta))}); expected "
            "'application' and 'schema_version'. It is not an actorflow store, or it was "
            "changed outside actorflow."
        )
    if meta["application"] != _APPLICATION:
        raise StoreSchemaError(
            f"{where} belongs to application {meta['application']!r}, not actorflow. Point the "
            "store at another file."
        )
    version = meta["schema_version"]
    if not isinstance(version, str) or not is_schema_number(version):
        raise StoreSchemaError(
            f"{where} has schema version {version!r}, which is not a number: the 'meta' "
            "table was changed outside actorflow. Restore the file from a backup."
        )
    if int(version) > SCHEMA_VERSION:
        raise StoreSchemaError(
            f"{where} has schema version {int(version)}, newer than the {SCHEMA_VERSION} this "
            "actorflow reads: it was written by a newer actorflow. Upgrade actorflow to "
            "open it."
        )
    if int(version) < SCHEMA_VERSION and int(version) not in _UPGRADES:
        raise StoreSchemaError(
            f"{where} has schema version {int(version)}, older than {SCHEMA_VERSION}, and "
            "there is no upgrader for it. Open it with the actorflow that wrote it, or move "
            "it aside and start a new store (its flows cannot be resumed by this version)."
        )
    return int(version)
