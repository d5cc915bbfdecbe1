"""The journal writer under trouble: records it cannot encode, a bug in a drain, and
callers that keep appending or flushing after close() (a slow disk during close() is in
test_writer_bounds.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actorflow import ActorPath
from actorflow.journal import (
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
    stats = writer.statistics()
    assert (stats.dropped, stats.dropped_invalid) == (1, 1)
    errors = at_level(logs, "ERROR")
    (encode_error,) = [e for e in errors if e[1].startswith("Journal could not encode")]
    assert encode_error[2]  # with the traceback
    (summary,) = [e for e in errors if "closed: 1 records were not written" in e[1]]
    assert "1 not encodable" in summary[1]
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
