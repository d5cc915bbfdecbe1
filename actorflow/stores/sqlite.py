"""The SQLite store: the embedded default (stdlib ``sqlite3``, WAL, one writer).

One process at a time: opening takes an exclusive lock on ``<file>.lock`` for the
store's lifetime, so a second process (or a second store object on the same file) is
refused with :class:`~actorflow.errors.StoreLockedError` naming the holder's pid.

Every :meth:`SqliteStore.commit_many` is one SQLite transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``): a group commit of several transactions, each in its own savepoint, made
durable by one sync. ``synchronous`` chooses what a commit survives (see
``docs/stores.md``): ``normal`` (the default) survives an application crash and loses at
most the last commits on power loss; ``full`` survives power loss too; ``off`` survives
an application crash only.

The file carries its schema version in a ``meta`` table; a file of another schema, or
with tables or columns this version does not know, is refused with
:class:`~actorflow.errors.StoreSchemaError`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar, final

from loguru import logger

from actorflow.errors import (
    ConfigurationError,
    StoreClosedError,
    StoreCorruptedError,
    StoreError,
    StoreSchemaError,
    StoreTransientError,
)
from actorflow.stores._crash import CrashPoints
from actorflow.stores._engine import (
    Prepared,
    apply_transaction,
    prepare,
)
from actorflow.stores._pieces import StateTexts
from actorflow.stores._reading import TableReads, read_human_requests
from actorflow.stores._schema import (
    SCHEMA_VERSION,
    Synchronous,
    connect,
    is_schema_number,
    lock_file,
    synchronous_mode,
    unlock_file,
)
from actorflow.stores._tables import (
    CHECKPOINT_COLUMNS,
    FLOW_COLUMNS,
    HUMAN_COLUMNS,
    MEMORY_COLUMNS,
    CheckpointRow,
    FlowRow,
    HumanRow,
    MemoryRow,
)
from actorflow.stores.protocol import CommitResult, Store
from actorflow.stores.records import (
    HumanRequestEntry,
    StoreStatistics,
    Transaction,
)

__all__ = [
    "SCHEMA_VERSION",
    "SqliteStore",
    "Synchronous",
    "open_sqlite_store",
    "peek_human_requests",
]

T = TypeVar("T")
_FLOW_SELECT = f"SELECT {', '.join(FLOW_COLUMNS)} FROM flows"  # noqa: S608 - constant names
_CHECKPOINT_SELECT = f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints"  # noqa: S608
_MEMORY_SELECT = f"SELECT {', '.join(MEMORY_COLUMNS)} FROM memory"  # noqa: S608
_PUT_FLOW = f"INSERT OR REPLACE INTO flows VALUES ({', '.join('?' * len(FLOW_COLUMNS))})"  # noqa: S608
_PUT_CHECKPOINT = f"INSERT INTO checkpoints VALUES ({', '.join('?' * len(CHECKPOINT_COLUMNS))})"  # noqa: S608
_HUMAN_SELECT = f"SELECT {', '.join(HUMAN_COLUMNS)} FROM human_requests"  # noqa: S608
_PUT_HUMAN = f"INSERT OR REPLACE INTO human_requests VALUES ({', '.join('?' * len(HUMAN_COLUMNS))})"  # noqa: S608


class _SqliteTables:
    """Row access on the store's connection (called with the store's lock held)."""

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self.conn = conn
        self.where = where

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        row: tuple[object, ...] | None = self.conn.execute(sql, args).fetchone()
        return row

    def flow_row(self, flow_id: str) -> tuple[object, ...] | None:
        return self._one(f"{_FLOW_SELECT} WHERE flow_id = ?", (flow_id,))

    def flow_rows(self) -> list[tuple[object, ...]]:
        return self.conn.execute(f"{_FLOW_SELECT} ORDER BY flow_id").fetchall()

    def put_flow(self, row: FlowRow) -> None:
        self.conn.execute(_PUT_FLOW, row)

    def checkpoint_row(self, flow_id: str, version: int) -> tuple[object, ...] | None:
        sql = f"{_CHECKPOINT_SELECT} WHERE flow_id = ? AND version = ?"
        return self._one(sql, (flow_id, version))

    def checkpoint_rows(self, flow_id: str, first: int, last: int) -> list[tuple[object, ...]]:
        sql = f"{_CHECKPOINT_SELECT} WHERE flow_id = ? AND version BETWEEN ? AND ? ORDER BY version"
        return self.conn.execute(sql, (flow_id, first, last)).fetchall()

    def put_checkpoint(self, row: CheckpointRow) -> None:
        self.conn.execute(_PUT_CHECKPOINT, row)

    def prune_checkpoints(self, flow_id: str, below: int) -> int:
        execute = self.conn.execute
        sql = "DELETE FROM checkpoints WHERE flow_id = ? AND version < ?"
        removed: int = execute(sql, (flow_id, below)).rowcount
        if not removed:
            return 0
        execute(
            "DELETE FROM plans WHERE flow_id = ? AND plan_hash NOT IN (SELECT plan_hash FROM "
            "checkpoints WHERE flow_id = ? AND plan_hash IS NOT NULL)",
            (flow_id, flow_id),
        )
        return removed

    def plan_text(self, flow_id: str, plan_hash: str) -> object | None:
        sql = "SELECT plan FROM plans WHERE flow_id = ? AND plan_hash = ?"
        row = self._one(sql, (flow_id, plan_hash))
        return None if row is None else row[0]

    def put_plan(self, flow_id: str, plan_hash: str, text: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO plans VALUES (?, ?, ?)", (flow_id, plan_hash, text)
        )

    def delete_flow(self, flow_id: str) -> int:
        execute = self.conn.execute
        execute("DELETE FROM flows WHERE flow_id = ?", (flow_id,))
        execute("DELETE FROM plans WHERE flow_id = ?", (flow_id,))
        return execute("DELETE FROM checkpoints WHERE flow_id = ?", (flow_id,)).rowcount

    def memory_row(self, flow_id: str, key: str) -> tuple[object, ...] | None:
        return self._one(f"{_MEMORY_SELECT} WHERE flow_id = ? AND key = ?", (flow_id, key))

    def memory_keys(self, flow_id: str) -> Sequence[object]:
        rows = self.conn.execute(
            "SELECT key FROM memory WHERE flow_id = ? ORDER BY key", (flow_id,)
        )
        return [row[0] for row in rows]

    def put_memory(self, row: MemoryRow) -> None:
        self.conn.execute("INSERT OR REPLACE INTO memory VALUES (?, ?, ?, ?)", row)

    def delete_memory(self, flow_id: str, key: str | None) -> int:
        if key is None:
            return self.conn.execute("DELETE FROM memory WHERE flow_id = ?", (flow_id,)).rowcount
        sql = "DELETE FROM memory WHERE flow_id = ? AND key = ?"
        return self.conn.execute(sql, (flow_id, key)).rowcount

    def set_expiry(self, flow_id: str, expires_at: float | None) -> None:
        if expires_at is None:
            self.conn.execute("DELETE FROM memory_expiry WHERE flow_id = ?", (flow_id,))
        else:
            sql = "INSERT OR REPLACE INTO memory_expiry VALUES (?, ?)"
            self.conn.execute(sql, (flow_id, expires_at))

    def expired(self, now: float) -> list[tuple[object, ...]]:
        sql = "SELECT flow_id, expires_at FROM memory_expiry WHERE expires_at <= ? ORDER BY flow_id"
        return self.conn.execute(sql, (now,)).fetchall()

    def human_row(self, request_id: str) -> tuple[object, ...] | None:
        return self._one(f"{_HUMAN_SELECT} WHERE request_id = ?", (request_id,))

    def human_rows(self, *, open_only: bool) -> list[tuple[object, ...]]:
        where = " WHERE status = 'open'" if open_only else ""
        return self.conn.execute(f"{_HUMAN_SELECT}{where} ORDER BY asked_at, request_id").fetchall()

    def put_human(self, row: HumanRow) -> None:
        self.conn.execute(_PUT_HUMAN, row)


@final
class SqliteStore(TableReads, Store):
    """A store in one SQLite file (WAL), held open by one process at a time.

    Thread-safe (one lock around the connection); the store actor's thread is meant to
    be its only writer.

    Args:
        path: the database file (created with its schema if missing or empty).
        synchronous: ``"normal"`` (default), ``"full"`` or ``"off"``; see
            :class:`Synchronous` and ``docs/stores.md``.
        keep_versions: how many of each flow's latest checkpoints are kept (at least 1).
        busy_timeout: seconds SQLite waits for a lock held by another connection (only
            tools outside actorflow can hold one).

    Raises:
        StoreLockedError: another process or store object has the file open.
        StoreSchemaError: the file is not an actorflow store of this schema version.
        StoreError: the file cannot be opened (a missing directory, permissions).
        ConfigurationError: an option is invalid, or ``ACTORFLOW_CRASH_AT`` is.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous | str = Synchronous.NORMAL,
        keep_versions: int = 1,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = Path(path).absolute()
        self.synchronous = synchronous_mode(synchronous)
        if keep_versions < 1:
            raise ConfigurationError(
                f"keep_versions must be at least 1, got {keep_versions!r}: a store keeps at "
                "least each flow's latest checkpoint."
            )
        self.keep_versions = keep_versions
        self._crash = CrashPoints.from_environment()
        self._lock = threading.Lock()
        self._stats = {"transactions": 0, "commits": 0, "reads": 0}
        self._file_lock = lock_file(self.path)
        try:
            self._conn = connect(self.path, self.synchronous, busy_timeout)
        except BaseException:
            unlock_file(self._file_lock)
            raise
        self._tables = _SqliteTables(self._conn, str(self.path))
        self._texts = StateTexts()
        self._closed = False
        logger.debug("Opened SQLite store {path} ({sync})", path=self.path, sync=self.synchronous)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, synchronous={self.synchronous.value!r})"

    @property
    def is_blocking(self) -> bool:
        """Whether a commit waits for the disk: only with ``synchronous="full"`` (an fsync
        per commit). With ``normal`` and ``off`` a commit writes to the WAL without waiting
        for the disk, so the store actor may run on the flows' event loop (see
        :attr:`Store.is_blocking`); what the loop then still waits for, now and then: with
        ``normal``, the sync of a WAL checkpoint (every 1,000 pages or so), and a lock held
        by a program outside actorflow (up to ``busy_timeout``)."""
        return self.synchronous is Synchronous.FULL

    # -- writing ---------------------------------------------------------------------

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        """Store ``transactions`` in one SQLite transaction; see :meth:`Store.commit_many`."""
        results: list[CommitResult | None] = []
        prepared: list[tuple[Prepared, ...] | None] = []
        for transaction in transactions:  # encoding is done before taking the lock
            try:
                prepared.append(prepare(transaction))
                results.append(None)
            except StoreError as exc:
                prepared.append(None)
                results.append(exc)
        with self._lock:
            self._check_open()
            self._commit(prepared, results)
            self._stats["transactions"] += len(results)
            self._stats["commits"] += 1
        self._crash.reached("store.after_commit")
        done: list[CommitResult] = [r for r in results if r is not None]
        assert len(done) == len(results)
        return done

    def _commit(
        self, prepared: list[tuple[Prepared, ...] | None], results: list[CommitResult | None]
    ) -> None:
        committed = False
        try:
            committed = self._commit_or_roll_back(prepared, results)
        finally:  # the states in pieces follow what is stored
            self._texts.end_commit(committed=committed)

    def _commit_or_roll_back(
        self, prepared: list[tuple[Prepared, ...] | None], results: list[CommitResult | None]
    ) -> bool:
        """Apply and commit; return False if it was all rolled back (one refused
        transaction alone)."""
        conn, crash = self._conn, self._crash
        try:
            conn.execute("BEGIN IMMEDIATE")
            crash.reached("store.after_begin")
            # One transaction alone needs no savepoint: if it is refused, all is rolled back.
            alone = sum(writes is not None for writes in prepared) == 1
            applied = 0
            refused = False
            for i, writes in enumerate(prepared):
                if writes is not None:
                    results[i] = self._apply(writes, savepoint=not alone)
                    refused = isinstance(results[i], StoreError)
                    applied += 1
                    if applied == 1:
                        crash.reached("store.mid_batch")
            if alone and refused:
                self._rollback()
                return False
            crash.reached("store.before_commit")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._transient(exc, "before committing", committed=False) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._transient(exc, "while committing", committed=None) from exc
        return True

    def _apply(self, writes: tuple[Prepared, ...], *, savepoint: bool) -> CommitResult:
        execute = self._conn.execute
        if savepoint:
            execute("SAVEPOINT tx")
        try:
            result: CommitResult = apply_transaction(
                self._tables, writes, keep_versions=self.keep_versions, texts=self._texts
            )
        except StoreError as exc:
            result = exc
        except sqlite3.IntegrityError as exc:  # rows changed outside actorflow collide
            result = StoreCorruptedError(
                f"A write to {str(self.path)!r} collided with a stored row ({exc}): the file "
                "was changed outside actorflow. Restore it from a backup."
            )
        self._texts.end_transaction(kept=not isinstance(result, StoreError))
        if savepoint:
            if isinstance(result, StoreError):
                execute("ROLLBACK TO tx")
            execute("RELEASE tx")
        return result

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.opt(exception=True).warning("Rollback in {path} failed", path=self.path)

    def _transient(self, exc: sqlite3.Error, when: str, *, committed: bool | None) -> StoreError:
        """The error to raise for a failed write: transient (I/O, a full disk, a busy file),
        or corrupted when SQLite finds the file itself damaged."""
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return StoreCorruptedError(
                f"Writing to the SQLite store {str(self.path)!r} failed {when}: {exc}. The "
                "file is damaged; restore it from a backup."
            )
        state = "Nothing of it was stored" if committed is False else "It may be stored or not"
        return StoreTransientError(
            f"Writing to the SQLite store {str(self.path)!r} failed {when}: {exc}. {state}; "
            "retry with the same write ids (a stored checkpoint is not stored twice), and "
            "check the disk (space, permissions) if it keeps failing.",
            committed=committed,
        )

    # -- reading ---------------------------------------------------------------------

    def _read(self, read: Callable[[_SqliteTables], T]) -> T:
        with self._lock:
            self._check_open()
            self._stats["reads"] += 1
            try:
                return read(self._tables)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise StoreTransientError(
                        f"Reading the SQLite store {str(self.path)!r} failed: {exc}. Retry; "
                        "check the disk if it keeps failing.",
                        committed=None,
                    ) from exc
                raise StoreCorruptedError(
                    f"The SQLite store {str(self.path)!r} cannot be read: {exc}. Restore it "
                    "from a backup."
                ) from exc

    def integrity_check(self) -> str:
        """Return SQLite's ``PRAGMA integrity_check`` answer (``'ok'`` when all is well)."""
        return self._read(lambda t: str(t.conn.execute("PRAGMA integrity_check").fetchone()[0]))

    def statistics(self) -> StoreStatistics:
        """Return the store's counters."""
        with self._lock:
            return StoreStatistics(backend="sqlite", **self._stats)

    # -- closing ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(
                f"The SQLite store {str(self.path)!r} was closed; open it again to use it."
            )

    def close(self) -> None:
        """Close the connection and release the file lock (closing twice is allowed)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._texts.clear()
            try:
                self._conn.close()
            finally:
                unlock_file(self._file_lock)
        logger.debug("Closed SQLite store {path}", path=self.path)


def open_sqlite_store(
    path: str | os.PathLike[str],
    *,
    synchronous: Synchronous | str = Synchronous.NORMAL,
    keep_versions: int = 1,
) -> SqliteStore:
    """Open (or create) the SQLite store at ``path``; use it as a context manager.

    Raises:
        StoreLockedError, StoreSchemaError, StoreError: see :class:`SqliteStore`.
    """
    return SqliteStore(path, synchronous=synchronous, keep_versions=keep_versions)


def peek_human_requests(
    path: str | os.PathLike[str], *, open_only: bool = True
) -> tuple[HumanRequestEntry, ...]:
    """Read the human requests of the SQLite store at ``path`` without opening the store:
    read-only, beside the process that has it open (WAL lets a reader see its last
    commit while it writes). For listings only; answers go through the open store.

    Raises:
        StoreError: the file is missing or cannot be read.
        StoreSchemaError: it is not an actorflow store of this (or the previous) schema.
        StoreCorruptedError: a row fails validation.
    """
    file = Path(path).absolute()
    if not file.is_file():
        raise StoreError(f"There is no SQLite store at {str(file)!r}. Pass --store PATH.")
    try:
        conn = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot read the SQLite store {str(file)!r}: {exc}.") from exc
    try:
        version = _peek_version(conn, file)
        if version < SCHEMA_VERSION:  # no human_requests table yet: none asked
            return ()
        tables = _SqliteTables(conn, str(file))
        return read_human_requests(tables, open_only=open_only)
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot read the SQLite store {str(file)!r}: {exc}.") from exc
    finally:
        conn.close()


def _peek_version(conn: sqlite3.Connection, file: Path) -> int:
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise StoreSchemaError(
            f"The file {str(file)!r} is not an actorflow store ({exc}). Point --store at "
            "another file."
        ) from exc
    version = rows.get("schema_version")
    if rows.get("application") != "actorflow" or not is_schema_number(str(version)):
        raise StoreSchemaError(f"The file {str(file)!r} is not an actorflow store.")
    number = int(str(version))
    if number > SCHEMA_VERSION:
        raise StoreSchemaError(
            f"The SQLite store {str(file)!r} has schema version {number}, newer than the "
            f"{SCHEMA_VERSION} this actorflow reads. Upgrade actorflow."
        )
    return number
