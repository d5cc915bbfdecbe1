"""The writer's fast paths: the batch encoder gives exactly the frames of the one-record
encoder for every message kind, and under ``batch`` each batch's fsync runs on the I/O
thread, one batch at a time, in order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorflow import ActorPath, JournalError
from actorflow.journal import Durability, JournalEvent, JournalRecord, JournalWriter, open_journal
from actorflow.journal import format as journal_format
from actorflow.journal.format import decode_body, encode_body, encode_frames, frame, journal_limits
from actorflow.messages import ActorSpawned, Envelope
from tests.journal.conftest import sample_records
from tests.message_strategies import actorflow_kinds, envelopes, for_message

Factory = Callable[..., JournalWriter]


def slow_frames(records: list[JournalRecord]) -> bytes:
    """The frames of ``records`` through the one-record path (:func:`encode_body`)."""
    return b"".join(frame(encode_body(record)) for record in records)


def records_of(data: bytes) -> list[JournalRecord]:
    """Decode back-to-back frames (no magic prefix)."""
    found, offset, limits = [], 0, journal_limits()
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        found.append(decode_body(data[offset + 8 : offset + 8 + length], limits))
        offset += 8 + length
    return found


@pytest.mark.parametrize("kind", sorted(actorflow_kinds()))
@given(data=st.data())
def test_each_message_kind_encodes_in_a_batch_exactly_as_alone(
    kind: str, data: st.DataObject
) -> None:
    """Deliveries and events of the kind, twice each (the second time the class is known)."""
    message = data.draw(for_message(actorflow_kinds()[kind]))
    envelope = data.draw(envelopes())._replace(message=message)
    event = JournalEvent(7, 100.0, message)
    records: list[JournalRecord] = [envelope, event, envelope, event]
    out = bytearray()

    count, failed = encode_frames(records, out)

    assert (count, failed) == (4, [])
    assert bytes(out) == slow_frames(records)
    assert records_of(bytes(out)) == records


@given(st.lists(envelopes(), max_size=20))
def test_a_batch_of_mixed_envelopes_encodes_as_each_alone_and_reads_back(
    batch: list[Envelope],
) -> None:
    records: list[JournalRecord] = [*batch, *sample_records()]
    out = bytearray()

    count, failed = encode_frames(records, out)

    assert (count, failed) == (len(records), [])
    assert bytes(out) == slow_frames(records)
    assert records_of(bytes(out)) == records


def test_frames_are_right_when_the_crc_seed_cache_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal_format, "_CRC_SEEDS", {})
    monkeypatch.setattr(journal_format, "_MAX_SEEDS", 2)
    records = sample_records()
    out = bytearray()

    encode_frames(records, out)

    assert bytes(out) == slow_frames(records)
    assert len(journal_format._CRC_SEEDS) <= 2


def test_an_empty_batch_appends_nothing() -> None:
    out = bytearray(b"x")

    assert encode_frames([], out) == (0, [])
    assert out == b"x"


class IoLog:
    """Records the order of the writer's writes and fsyncs (after the header's)."""

    def __init__(self, writer: JournalWriter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[tuple[str, str]] = []
        real_write, real_sync = writer._write, writer._sync

        def write(data: Any, count: int, *, sync: bool) -> None:
            self.steps.append(("write", threading.current_thread().name))
            real_write(data, count, sync=sync)

        def sync() -> None:
            self.steps.append(("sync", threading.current_thread().name))
            real_sync()

        monkeypatch.setattr(writer, "_write", write)
        monkeypatch.setattr(writer, "_sync", sync)


def test_under_batch_the_io_thread_syncs_each_batch_before_it_writes_the_next(
    writer_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_factory(durability=Durability.BATCH, batch_frames=3, batch_interval=60)
    log = IoLog(writer, monkeypatch)
    records = [
        JournalEvent(n, 100.0 + n, ActorSpawned(path=ActorPath(f"/agents/a{n}"), behaviour="A"))
        for n in range(1, 20)
    ]
    for record in records:
        writer.append(record)
    assert writer.flush(timeout=10)
    synced = writer.statistics().fsyncs
    writer.close()

    batches = log.steps[:-1]  # close() syncs once more, on the writer thread
    io = "actorflow-journal-io"
    assert batches == [("write", io), ("sync", io)] * (len(batches) // 2)
    assert len(batches) // 2 >= len(records) // 3
    assert synced == 1 + len(batches) // 2  # the header's, then one per batch
    assert log.steps[-1] == ("sync", "actorflow-journal")
    with open_journal(writer.path) as reader:
        assert list(reader)[1:] == records
    assert writer._io is not None
    writer._io.thread.join(10)
    assert not writer._io.thread.is_alive()


class _NoSync:
    """Stands in for the journal file: writes work, every fsync fails (a bad descriptor)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def fileno(self) -> int:
        return 1 << 30  # no such descriptor: EBADF

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_failed_fsync_on_the_io_thread_counts_its_batch_as_unwritten(
    writer_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = writer_factory(durability=Durability.BATCH)
    monkeypatch.setattr(writer, "_file", _NoSync(writer._file))
    for record in sample_records()[:3]:
        writer.append(record)

    flushed = writer.flush(timeout=10)
    with pytest.raises(JournalError, match=r"^Cannot sync journal .*Bad file descriptor"):
        writer.close()

    assert not flushed
    stats = writer.statistics()
    assert (stats.frames, stats.dropped_unwritten, stats.pending) == (1, 3, 0)
    assert not writer._thread.is_alive()


def test_the_other_policies_have_no_io_thread(writer_factory: Factory) -> None:
    for durability in (Durability.NONE, Durability.EVERY):
        writer = writer_factory(f"j-{durability}", durability=durability)

        assert writer._io is None
