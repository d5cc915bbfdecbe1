"""The journal writer under trouble: records it cannot encode, a slow disk during close(),
and callers that keep appending or flushing after close()."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from loguru import logger

from actorflow import ActorPath
from actorflow.journal import (
    Durability,
    JournalConfig,
    JournalEntry,
    JournalEvent,
    JournalWriter,
    open_journal,
)
from actorflow.messages import EffectRecorded
from tests.journal.conftest import sample_records

Factory = Callable[..., JournalWriter]
LogLine = tuple[str, str, bool]
"""A captured log line: level name, message, whether an exception was attached."""


@pytest.fixture
def logs() -> Iterator[list[LogLine]]:
    """Capture actorflow's loguru output (silent by default) for the test."""
    lines: list[LogLine] = []

    def sink(message: Any) -> None:
        record = message.record
        lines.append((record["level"].name, record["message"], record["exception"] is not None))

    logger.enable("actorflow")
    handler = logger.add(sink, level="DEBUG", format="{message}", catch=False)
    yield lines
    logger.remove(handler)
    logger.disable("actorflow")


def written(path: Path) -> list[JournalEntry]:
    """The records of a journal, without its header."""
    with open_journal(path) as reader:
        return list(reader)[1:]


def at_level(lines: list[LogLine], level: str) -> list[LogLine]:
    return [line for line in lines if line[0] == level]


class _LockWatch:
    """Wraps the writer's lock; sets ``waiting`` when a thread other than the writer
    thread is about to wait for it (close() queuing up behind a slow write)."""

    def __init__(
        self, inner: Any, writer_thread: threading.Thread, waiting: threading.Event
    ) -> None:
        self.inner = inner
        self.writer_thread = writer_thread
        self.waiting = waiting

    def __enter__(self) -> bool:
        if threading.current_thread() is not self.writer_thread:
            self.waiting.set()
        acquired: bool = self.inner.__enter__()
        return acquired

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.inner.__exit__(exc_type, exc, tb)


def test_a_record_msgpack_cannot_encode_is_dropped_and_logged_and_the_writer_goes_on(
    writer_factory: Factory, logs: list[LogLine]
) -> None:
    writer = writer_factory(batch_frames=100, batch_interval=60)  # one batch for all
    records = sample_records()
    too_big = JournalEvent(
        100, 101.0, EffectRecorded(actor=ActorPath("/agents/a"), effect="tool", value={"n": 2**70})
    )
    for record in records[:4]:
        writer.append(record)
    writer.append(too_big)  # msgpack raises OverflowError for ints >= 2**64
    for record in records[4:]:
        writer.append(record)

    assert writer.flush(timeout=5)
    writer.append(records[0])  # the writer thread still serves later records
    assert writer.flush(timeout=5)
    writer.close()

    assert written(writer.path) == [*records, records[0]]
    assert writer.statistics().dropped == 1
    errors = at_level(logs, "ERROR")
    assert len(errors) == 1
    assert errors[0][1].startswith("Journal could not encode")
    assert errors[0][2]  # with the traceback
    assert not at_level(logs, "CRITICAL")


def test_the_writer_thread_survives_an_unexpected_error_in_a_drain(
    writer_factory: Factory, logs: list[LogLine], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_factory()
    real_drain = writer._drain
    calls: list[int] = []

    def failing_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        real_drain()

    monkeypatch.setattr(writer, "_drain", failing_once)
    records = sample_records()
    for record in records:
        writer.append(record)

    assert writer.flush(timeout=5)
    writer.close()

    assert written(writer.path) == records
    critical = at_level(logs, "CRITICAL")
    assert len(critical) == 1
    assert critical[0][2]


def test_a_close_that_outwaits_a_slow_write_keeps_every_record_in_order(
    tmp_path: Path, logs: list[LogLine], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = JournalConfig(
        path=tmp_path / "journal", durability=Durability.NONE, batch_frames=2, batch_interval=60
    )
    writer = JournalWriter(config, run_id="run-test", started_at=1.0)
    writer_thread = writer._thread
    gate, in_write = threading.Event(), threading.Event()
    real_write = writer._write

    def slow_write(frames: list[bytes], *, sync: bool) -> None:
        if threading.current_thread() is writer_thread:  # a slow disk for the writer thread
            in_write.set()
            gate.wait(10)
        real_write(frames, sync=sync)

    monkeypatch.setattr(writer, "_write", slow_write)
    close_waits_or_returns = threading.Event()
    watch = _LockWatch(writer._lock, writer_thread, close_waits_or_returns)
    monkeypatch.setattr(writer, "_lock", watch)
    records = sample_records()
    for record in records:
        writer.append(record)  # the second one fills a batch and wakes the writer thread
    assert in_write.wait(5)

    closed = threading.Event()

    def close() -> None:
        writer.close(timeout=0)  # gives up joining the writer thread at once
        closed.set()
        close_waits_or_returns.set()

    closer = threading.Thread(target=close, name="test-closer")
    closer.start()
    try:
        # Either close() now waits for the writer thread's write, or (the bug) it has
        # written the rest itself and closed the file under the writer thread.
        assert close_waits_or_returns.wait(5)
        writer.append(records[0])  # after close() began: dropped, not written
        assert not writer.flush(timeout=5)  # at once: close() has not written the rest yet
    finally:
        gate.set()
        closer.join(10)
        writer_thread.join(10)
    assert closed.is_set()
    assert not writer_thread.is_alive()

    assert written(writer.path) == records
    stats = writer.statistics()
    assert (stats.dropped, stats.pending) == (1, 0)
    assert stats.frames == len(records) + 1
    assert any("closed" in message for _, message, _ in at_level(logs, "WARNING"))


def test_after_close_appends_are_dropped_with_one_warning_and_flush_returns_at_once(
    writer_factory: Factory, logs: list[LogLine]
) -> None:
    writer = writer_factory()
    records = sample_records()
    writer.append(records[0])
    writer.close()

    for record in records:
        writer.append(record)
    assert writer.flush(timeout=1)  # nothing appended before close() is left unwritten

    assert written(writer.path) == records[:1]
    stats = writer.statistics()
    assert (stats.dropped, stats.pending) == (len(records), 0)
    warnings = at_level(logs, "WARNING")
    assert len(warnings) == 1
    assert "closed" in warnings[0][1]
