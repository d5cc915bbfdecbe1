"""Regression tests for journal defects found in review: the writer and reader agree on
what a record may hold, repair's search budget is per run, non-regular files are refused,
and diagram participant names are cleaned."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
from typer.testing import CliRunner

from actorflow import ActorPath, JournalError, MessageId
from actorflow.cli import app
from actorflow.journal import JournalConfig, JournalEvent, JournalRecord, JournalWriter
from actorflow.journal._frames import Damage, FrameScanner
from actorflow.journal.diagram import DiagramFormat, sequence_diagram
from actorflow.journal.format import (
    JOURNAL_MAX_DEPTH,
    MAGIC,
    MAX_FRAME_BYTES,
    encode_frames,
    frame,
)
from actorflow.journal.reader import JournalReader, append_offset, open_journal
from actorflow.journal.repair import repair_journal
from actorflow.messages import EffectRecorded, Envelope
from tests.support import Work

# -- 1. the writer never writes a record its reader refuses --------------------------------


def _effect(seq: int, value: object) -> JournalEvent:
    msg = EffectRecorded(actor=ActorPath("/a"), effect="tool", name="n", value=value, during_seq=1)
    return JournalEvent(seq, 100.0, msg)


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def _write(path: Path, records: list[JournalRecord]) -> tuple[int, list[object]]:
    out = bytearray(MAGIC)
    count, failed = encode_frames(records, out)
    path.write_bytes(bytes(out))
    return count, [record for record, _ in failed]


def test_records_past_the_old_codec_limits_are_written_and_read_back(tmp_path: Path) -> None:
    records: list[JournalRecord] = [
        _effect(1, _nested(40)),
        _effect(2, "x" * (5 * 1024 * 1024)),
        _effect(3, list(range(150_000))),
    ]
    path = tmp_path / "big.jnl"
    count, failed = _write(path, records)
    assert (count, failed) == (3, [])
    with open_journal(path, opaque=False) as reader:
        read = list(reader)
    assert [type(r) for r in read] == [JournalEvent] * 3
    assert [r.seq for r in read] == [1, 2, 3]  # type: ignore[union-attr]
    assert reader.undecoded == 0


def test_the_writer_refuses_what_the_reader_would_refuse(tmp_path: Path) -> None:
    too_deep = _effect(1, _nested(JOURNAL_MAX_DEPTH))  # plus the body's and event's maps
    too_big = _effect(2, "x" * (MAX_FRAME_BYTES + 1))
    fine = _effect(3, _nested(JOURNAL_MAX_DEPTH - 8))
    path = tmp_path / "refused.jnl"
    count, failed = _write(path, [too_deep, too_big, fine])
    assert count == 1
    assert failed == [too_deep, too_big]
    with JournalReader(path, opaque=False) as reader:
        read = list(reader)
    assert [type(r) for r in read] == [JournalEvent]
    assert reader.undecoded == 0


def test_the_writer_counts_a_too_deep_record_as_dropped_invalid(writer_factory) -> None:  # type: ignore[no-untyped-def]
    writer = writer_factory()
    writer.append(_effect(1, _nested(JOURNAL_MAX_DEPTH)))
    writer.append(_effect(2, 1))
    assert writer.close()
    assert writer.statistics().dropped_invalid == 1
    with open_journal(writer.path, opaque=False) as reader:
        seqs = [getattr(r, "seq", None) for r in reader]
    assert 2 in seqs
    assert 1 not in seqs
    assert reader.undecoded == 0


# -- 2. repair's search budget is per run, not per search ---------------------------------


def _many_damaged_places(path: Path, places: int) -> int:
    """A journal with ``places`` damaged spots, each followed by 30 frame lookalikes of
    4 KiB (bad CRC) and then one valid frame; a valid 8 KiB frame ends the file."""
    small = frame(msgpack.packb({"type": "x"}))
    lookalike = struct.pack(">I", 4096) + b"\0\0\0\0" + b"\x80"
    cluster = b"\xff" + lookalike * 30 + small
    big = frame(msgpack.packb({"type": "pad", "b": b"\0" * 8192}, use_bin_type=True))
    path.write_bytes(MAGIC + cluster * places + big)
    return path.stat().st_size


def test_repair_stops_searching_once_its_budget_for_the_whole_file_is_spent(
    tmp_path: Path,
) -> None:
    # Each search costs about 30 * (4096 + 256) bytes, well under the budget on its own;
    # 20 searches together cost over twice the budget.
    budget = 1 << 20
    size = _many_damaged_places(tmp_path / "spin.jnl", 20)
    report = repair_journal(tmp_path / "spin.jnl", tmp_path / "out.jnl", scan_budget=budget)
    last = report.skipped[-1]
    assert last.end == size
    assert not last.torn_tail
    assert "gave up" in last.reason
    assert "rest of the file" in last.reason
    assert report.frames < 20  # stopped before recovering every place
    with (tmp_path / "spin.jnl").open("rb") as f:
        scanner = FrameScanner(f, size, MAX_FRAME_BYTES, budget)
        items = list(scanner.frames(len(MAGIC)))
    assert scanner.scan_spent <= budget + 4096 + 256
    assert isinstance(items[-1], Damage)
    assert items[-1].gave_up


def test_repair_within_its_budget_recovers_every_frame(tmp_path: Path) -> None:
    _many_damaged_places(tmp_path / "spin.jnl", 20)
    report = repair_journal(tmp_path / "spin.jnl", tmp_path / "out.jnl", scan_budget=16 << 20)
    assert report.frames == 21
    assert len(report.skipped) == 20
    assert not any("gave up" in r.reason for r in report.skipped)


# -- 3. a FIFO (or anything not a regular file) is refused, never opened --------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO holding non-journal bytes, its both ends held open by the test (O_RDWR never
    blocks on Linux), so that code that wrongly opens it fails instead of hanging."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    os.write(fd, b"not a journal, just bytes")
    yield path
    os.close(fd)


def test_readers_and_repair_refuse_a_fifo(fifo: Path, tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="not a regular file"):
        open_journal(fifo)
    with pytest.raises(JournalError, match="not a regular file"):
        append_offset(fifo)
    with pytest.raises(JournalError, match="not a regular file"):
        repair_journal(fifo, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_writer_refuses_a_fifo(fifo: Path) -> None:
    with pytest.raises(JournalError, match="not a regular file"):
        JournalWriter(JournalConfig(path=fifo), run_id="run-test", started_at=1.0)


def test_the_writer_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="not a regular file"):
        JournalWriter(JournalConfig(path=tmp_path), run_id="run-test", started_at=1.0)


@pytest.mark.parametrize("command", ["show", "stats", "diagram", "repair"])
def test_the_log_commands_refuse_a_fifo_with_one_line(fifo: Path, command: str) -> None:
    result = CliRunner().invoke(app, ["log", command, str(fifo)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "not a regular file" in lines[0]


# -- 4. diagram participant names are cleaned like labels -----------------------------------

_HOSTILE_RECIPIENT = "/a\nparticipant evil as INJECTED\r\nNote over p1: hi\u2028x"
_HOSTILE_SENDER = '/b" as x\n@enduml;#`{<>}'


@pytest.mark.parametrize("fmt", ["mermaid", "plantuml"])
def test_a_diagram_lets_no_newline_or_quote_from_a_path_through(fmt: DiagramFormat) -> None:
    env = Envelope(
        1, MessageId("m1"), None, ActorPath(_HOSTILE_SENDER), ActorPath(_HOSTILE_RECIPIENT),
        None, 1, 100.0, Work(n=1),
    )  # fmt: skip
    text = sequence_diagram([env], fmt)
    lines = text.splitlines()
    if fmt == "mermaid":
        assert len(lines) == 4  # sequenceDiagram, two participants, one arrow
        assert lines[0] == "sequenceDiagram"
        assert lines[1].startswith("    participant p1 as /b")
        assert lines[2].startswith("    participant p2 as /a participant evil")
        assert lines[3].startswith("    p1->>p2: ")
    else:
        assert len(lines) == 5  # @startuml, two participants, one arrow, @enduml
        assert [line.count('"') for line in lines[1:3]] == [2, 2]  # only the delimiters
        assert lines[1].startswith('participant "/b')
        assert lines[1].endswith('" as p1')
        assert lines[2].endswith('" as p2')
        assert lines[3].startswith("p1 -> p2 : ")
        assert lines[4] == "@enduml"
    assert text.count("\n") == len(lines)
    for bad in ("\r", "\u2028", ";", "#", "`", "{", "<"):
        assert bad not in text
    assert not any(line.startswith(("@", "Note", "participant evil")) for line in lines[1:-1])
