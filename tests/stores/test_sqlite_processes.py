"""One process at a time: a second process (or store object) opening the same SQLite
store is refused with a clear error; and crash points in the commit path leave the file
exactly before or exactly after the transaction, every time."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from actorflow.errors import ConfigurationError, StoreLockedError
from actorflow.stores import CRASH_ENV, CRASH_EXIT_CODE, CRASH_POINTS, SqliteStore

ROOT = Path(__file__).resolve().parents[2]

OPEN_SCRIPT = """
import sys
from actorflow.errors import StoreLockedError
from actorflow.stores import SqliteStore
try:
    SqliteStore(sys.argv[1]).close()
except StoreLockedError as exc:
    sys.stdout.write(str(exc))
    sys.exit(3)
"""

COMMIT_SCRIPT = """
import sys
from actorflow.stores import CheckpointWrite, MemoryPut, SqliteStore

def cp(n):
    return CheckpointWrite(flow_id="f", state={"n": n}, status="running", steps_done=0,
                           steps_total=1, at=float(n), write_id=f"w{n}")

store = SqliteStore(sys.argv[1], synchronous=sys.argv[2])
for n in (1, 2, 3):
    store.commit_many([(cp(n),)])
store.commit_many([
    (cp(4),),
    (MemoryPut(flow_id="f", key="k", value=4),),
    (MemoryPut(flow_id="g", key="k", value=4),),
])
store.close()
sys.stdout.write("done")
"""


def run(script: str, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_a_second_process_is_refused_while_the_store_is_open(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path):
        done = run(OPEN_SCRIPT, str(path))

    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith(f"The SQLite store {str(path)!r} is in use by another process")
    assert f"(pid {os.getpid()})" in done.stdout


def test_a_second_process_may_open_the_store_once_it_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()

    done = run(OPEN_SCRIPT, str(path))

    assert done.returncode == 0, done.stdout + done.stderr


def test_a_second_store_object_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with (
        SqliteStore(path),
        pytest.raises(StoreLockedError, match=r"is in use by another store object in this process"),
    ):
        SqliteStore(path)


def test_an_unknown_crash_point_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_ENV, "store.somewhere")

    with pytest.raises(ConfigurationError, match=r"^ACTORFLOW_CRASH_AT='store.somewhere' is not"):
        SqliteStore(tmp_path / "s.db")


def state_after_crash(path: Path) -> tuple[int, list[tuple[str, str]]]:
    """The latest checkpoint's ``n`` (0: none) and the memory entries, after a check that
    SQLite finds the file sound."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    with SqliteStore(path) as store:  # the dead process's lock is gone
        loaded = store.load_checkpoint("f")
        memory = [(f, k) for f in ("f", "g") for k in store.list_memory(f)]
    n = 0 if loaded is None else loaded.state["n"]
    assert isinstance(n, int)
    return n, memory


BEFORE: tuple[int, list[tuple[str, str]]] = (3, [])
AFTER: tuple[int, list[tuple[str, str]]] = (4, [("f", "k"), ("g", "k")])


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("store.after_begin", BEFORE),
        ("store.mid_batch", BEFORE),
        ("store.before_commit", BEFORE),
        ("store.after_commit", AFTER),
    ],
)
@pytest.mark.parametrize("synchronous", ["normal", pytest.param("full", marks=pytest.mark.slow),
                                         pytest.param("off", marks=pytest.mark.slow)])  # fmt: skip
def test_a_crash_in_the_commit_path_leaves_the_store_before_or_after_the_transaction(
    tmp_path: Path, point: str, expected: tuple[int, list[tuple[str, str]]], synchronous: str
) -> None:
    path = tmp_path / "s.db"

    done = run(COMMIT_SCRIPT, str(path), synchronous, crash_at=f"{point}@4")

    assert done.returncode == CRASH_EXIT_CODE, done.stdout + done.stderr
    assert state_after_crash(path) == expected


def test_a_crash_in_the_first_commit_leaves_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    done = run(COMMIT_SCRIPT, str(path), "normal", crash_at="store.before_commit")

    assert done.returncode == CRASH_EXIT_CODE, done.stdout + done.stderr
    assert state_after_crash(path) == (0, [])


def test_without_a_crash_point_the_script_commits_everything(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    done = run(COMMIT_SCRIPT, str(path), "normal")

    assert (done.returncode, done.stdout) == (0, "done"), done.stderr
    assert state_after_crash(path) == AFTER


def test_every_crash_point_is_covered() -> None:
    assert set(CRASH_POINTS) == {
        "store.after_begin",
        "store.mid_batch",
        "store.before_commit",
        "store.after_commit",
    }
