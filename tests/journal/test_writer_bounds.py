"""The journal writer's bounds: a bounded queue, a close() that keeps its timeout, and what
each durability policy keeps after a SIGKILL (tested on real subprocesses)."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actorflow import ActorPath, JournalError
from actorflow.journal import (
    Durability,
    JournalConfig,
    JournalEntry,
    JournalEvent,
    JournalHeader,
    JournalWriter,
    open_journal,
)
from actorflow.messages import ActorSpawned

Factory = Callable[..., JournalWriter]


def event(n: int) -> JournalEvent:
    return JournalEvent(n, 100.0 + n, ActorSpawned(path=ActorPath(f"/agents/a{n}"), behaviour="A"))


def written(path: Path) -> list[JournalEntry]:
    """The records of a journal, without its header."""
    with open_journal(path) as reader:
        return list(reader)[1:]


class Gate:
    """Holds the writer's next batch write until opened (on the writer thread, or under
    ``batch`` on its I/O thread)."""

    def __init__(self, writer: JournalWriter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        real_write = writer._write
        batch_threads = {writer._thread} | ({writer._io.thread} if writer._io else set())

        def slow_write(data: Any, count: int, *, sync: bool) -> None:
            if threading.current_thread() in batch_threads:
                self.entered.set()
                assert self.opened.wait(30), "the test never opened the gate"
            real_write(data, count, sync=sync)

        monkeypatch.setattr(writer, "_write", slow_write)

    def open(self) -> None:
        self.opened.set()


@pytest.fixture
def warnings_seen() -> Iterator[dict[str, threading.Event]]:
    """Events set when actorflow logs a WARNING or ERROR containing a key of the dict."""
    wanted: dict[str, threading.Event] = {}

    def sink(message: Any) -> None:
        for key, seen in wanted.items():
            if key in message.record["message"]:
                seen.set()

    logger.enable("actorflow")
    handler = logger.add(sink, level="WARNING", format="{message}", catch=False)
    yield wanted
    logger.remove(handler)
    logger.disable("actorflow")


def test_a_full_queue_drops_appends_that_find_no_room_and_counts_them(
    writer_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_factory(
        durability=Durability.NONE, batch_frames=1, max_pending=4, append_timeout=0
    )
    gate = Gate(writer, monkeypatch)
    writer.append(event(1))  # the writer thread takes it and hangs in the write
    assert gate.entered.wait(10)
    for n in range(2, 9):
        writer.append(event(n))  # 2..5 fill the queue, 6..8 find no room

    full = writer.statistics()
    gate.open()
    writer.close()

    assert (full.pending, full.max_pending, full.dropped_full, full.dropped) == (4, 4, 3, 3)
    assert written(writer.path) == [event(n) for n in range(1, 6)]
    assert writer.statistics().dropped == 3


def test_an_append_to_a_full_queue_waits_for_room(
    writer_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    warnings_seen: dict[str, threading.Event],
) -> None:
    waiting = warnings_seen.setdefault("appenders wait", threading.Event())
    writer = writer_factory(
        durability=Durability.NONE, batch_frames=1, max_pending=2, append_timeout=30
    )
    gate = Gate(writer, monkeypatch)
    writer.append(event(1))
    assert gate.entered.wait(10)
    writer.append(event(2))
    writer.append(event(3))
    appender = threading.Thread(target=writer.append, args=(event(4),))
    appender.start()

    assert waiting.wait(10)  # the fourth append is waiting for room
    assert appender.is_alive()
    gate.open()
    appender.join(10)
    assert not appender.is_alive()
    writer.close()

    assert written(writer.path) == [event(n) for n in range(1, 5)]
    stats = writer.statistics()
    assert (stats.dropped, stats.waits) == (0, 1)


def test_close_keeps_its_timeout_when_a_write_hangs_and_counts_what_it_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = JournalConfig(
        path=tmp_path / "journal", durability=Durability.BATCH, batch_frames=2, batch_interval=60
    )
    writer = JournalWriter(config, run_id="run-test", started_at=1.0)
    gate = Gate(writer, monkeypatch)
    for n in range(1, 8):
        writer.append(event(n))  # the second fills a batch: the writer thread hangs in it
    assert gate.entered.wait(10)

    closed = threading.Event()
    result: list[bool] = []

    def close() -> None:
        result.append(writer.close(timeout=0.05))
        closed.set()

    closer = threading.Thread(target=close)
    closer.start()
    try:
        returned_while_hung = closed.wait(20)
        writer.append(event(99))  # after close() began: dropped, not written
    finally:
        gate.open()
        closer.join(10)
        writer._thread.join(10)

    assert returned_while_hung
    assert result == [False]
    assert not writer._thread.is_alive()
    got = written(writer.path)
    assert got == [event(n) for n in range(1, len(got) + 1)]  # in order, a prefix
    stats = writer.statistics()
    assert stats.frames - 1 == len(got)  # the header is a frame too
    assert (stats.dropped_closed, stats.pending) == (1, 0)
    assert stats.dropped_unwritten == 7 - len(got)
    assert stats.dropped == stats.dropped_closed + stats.dropped_unwritten


def test_under_every_append_returns_only_once_its_record_is_synced(
    writer_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_factory(durability=Durability.EVERY)
    gate = Gate(writer, monkeypatch)
    appended = threading.Event()

    def append() -> None:
        writer.append(event(1))
        appended.set()

    appender = threading.Thread(target=append)
    appender.start()
    assert gate.entered.wait(10)  # the writer thread is writing the record

    returned_before_the_write = appended.is_set()
    gate.open()
    appender.join(10)

    assert not returned_before_the_write
    assert appended.is_set()
    assert written(writer.path) == [event(1)]
    assert writer.statistics().fsyncs >= 2  # the header's and the record's


def test_under_every_concurrent_appenders_all_get_their_records_written(
    writer_factory: Factory,
) -> None:
    writer = writer_factory(durability=Durability.EVERY)

    def append_fifty(k: int) -> None:
        for i in range(50):
            writer.append(event(k * 100 + i))

    threads = [threading.Thread(target=append_fifty, args=(k,)) for k in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    got = written(writer.path)
    assert sorted(r.seq for r in got if isinstance(r, JournalEvent)) == sorted(
        k * 100 + i for k in range(1, 5) for i in range(50)
    )
    assert writer.statistics().pending == 0


class _FullDisk:
    """Stands in for the journal file: every write fails as on a full disk."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_after_a_disk_failure_nothing_waits_and_every_lost_record_is_counted(
    writer_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_factory(durability=Durability.BATCH)
    monkeypatch.setattr(writer, "_file", _FullDisk(writer._file))
    for n in range(1, 4):
        writer.append(event(n))

    flushed = writer.flush(timeout=10)  # the write fails: the flush says so
    writer.append(event(4))  # the writer has stopped: dropped at once
    with pytest.raises(JournalError, match=r"^Cannot write journal .*No space left"):
        writer.close()

    assert not flushed
    stats = writer.statistics()
    assert (stats.dropped_unwritten, stats.dropped, stats.pending) == (4, 4, 0)
    assert not writer._thread.is_alive()


_KILLED = """
import sys
from actorflow import ActorPath, JournalError
from actorflow.journal import Durability, JournalConfig, JournalEvent, JournalWriter
from actorflow.messages import ActorSpawned

path, durability, mark = sys.argv[1], Durability(sys.argv[2]), int(sys.argv[3])
writer = JournalWriter(
    JournalConfig(path=path, durability=durability, batch_frames=64, batch_interval=0.5),
    run_id="killed",
    started_at=1.0,
)
n = 0
while True:
    n += 1
    writer.append(JournalEvent(n, 1.0, ActorSpawned(path=ActorPath("/agents/a"), behaviour="A")))
    if n == mark:
        if durability is not Durability.EVERY:
            assert writer.flush(timeout=30)
        print(f"kept {n}", flush=True)
"""


def run_and_kill(path: Path, durability: Durability, mark: int) -> None:
    """Run a process that journals until killed; kill it once it says ``kept <mark>``."""
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(path), durability.value, str(mark)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert line == f"kept {mark}"


@pytest.mark.parametrize("durability", list(Durability))
def test_after_a_sigkill_every_record_the_policy_promised_is_in_the_journal(
    tmp_path: Path, durability: Durability
) -> None:
    """``every``: all records whose append() returned; ``batch``/``none``: all records
    before a flush() that returned True. Either way: a gapless prefix, whole frames."""
    path = tmp_path / "journal"
    run_and_kill(path, durability, mark=300)

    with open_journal(path) as reader:
        records = list(reader)

    assert isinstance(records[0], JournalHeader)
    seqs = [r.seq for r in records[1:] if isinstance(r, JournalEvent)]
    assert len(seqs) == len(records) - 1
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= 300
