"""``actorflow log repair``: copy every valid frame of a damaged journal to a new file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from actorflow import ActorPath, MessageId
from actorflow.cli import app
from actorflow.journal import JournalRecord, open_journal
from actorflow.journal.format import MAGIC
from actorflow.messages import Envelope
from tests.journal.conftest import write_log
from tests.support import Done


def _records(n: int) -> list[JournalRecord]:
    to = ActorPath("/agents/a")
    return [
        Envelope(i, MessageId(f"m{i}"), None, None, to, None, i, 100.0 + i, Done(n=i))
        for i in range(1, n + 1)
    ]


def _damage(path: Path, at: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + len(value)] = value
    path.write_bytes(bytes(data))


def test_repair_copies_every_valid_frame_and_names_the_byte_ranges_it_skipped(
    tmp_path: Path,
) -> None:
    path, out = tmp_path / "journal", tmp_path / "fixed"
    records = _records(101)
    ends = write_log(path, records)
    _damage(path, ends[0], b"\xff\xff\xff\xff")  # frame 2 claims 4 GiB
    _damage(path, ends[49] + 20, b"\x00")  # frame 51's body changed
    with path.open("ab") as f:
        f.write(b"\x00\x00\x01\x00torn")  # a partial frame at the end

    result = CliRunner().invoke(app, ["log", "repair", str(path), "--output", str(out)])

    assert result.exit_code == 0, result.output
    assert "copied 99 frames" in result.output
    assert "skipped 3 damaged ranges" in result.output
    assert f"bytes {ends[0]}-{ends[1]}" in result.output
    assert f"bytes {ends[49]}-{ends[50]}" in result.output
    assert f"bytes {ends[-1]}-{ends[-1] + 8} (8 bytes, torn tail)" in result.output
    with open_journal(out) as reader:
        got = list(reader)
    assert reader.torn_tail is None
    assert got == [r for i, r in enumerate(records) if i not in (1, 50)]


def test_repair_without_output_writes_beside_the_journal_and_keeps_the_original(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    ends = write_log(path, _records(3))
    _damage(path, ends[0] + 9, b"\x00")
    before = path.read_bytes()

    result = CliRunner().invoke(app, ["log", "repair", str(path)])

    assert result.exit_code == 0, result.output
    assert path.read_bytes() == before
    repaired = tmp_path / "journal.repaired"
    with open_journal(repaired) as reader:
        assert [r.seq for r in reader if isinstance(r, Envelope)] == [1, 3]


def test_repair_of_an_undamaged_journal_copies_it_and_says_so(tmp_path: Path) -> None:
    path, out = tmp_path / "journal", tmp_path / "copy"
    write_log(path, _records(5))

    result = CliRunner().invoke(app, ["log", "repair", str(path), "--output", str(out)])

    assert result.exit_code == 0, result.output
    assert "no damage found" in result.output
    assert out.read_bytes() == path.read_bytes()


def test_repair_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    path, out = tmp_path / "journal", tmp_path / "taken"
    write_log(path, _records(2))
    out.write_text("keep me")

    result = CliRunner().invoke(app, ["log", "repair", str(path), "--output", str(out)])

    assert result.exit_code == 2
    assert "already exists" in result.output
    assert out.read_text() == "keep me"


def test_repair_of_a_file_that_is_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes"
    path.write_bytes(b"hello, world" + MAGIC)

    result = CliRunner().invoke(app, ["log", "repair", str(path)])

    assert result.exit_code == 2
    assert "is not an actorflow journal" in result.output
    assert not (tmp_path / "notes.repaired").exists()
