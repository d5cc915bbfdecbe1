"""Damage and undecodable records: what a reader reports, and what reopening for append does.

A torn tail is only declared when no whole valid frame follows it; damage before valid
frames is ``JournalCorruptedError`` and reopening refuses it; a whole frame whose body does
not decode is read as an :class:`UndecodedRecord` and the records after it are read too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from actorflow import ActorPath, JournalCorruptedError, MessageId
from actorflow.cli import app
from actorflow.journal import (
    JournalEntry,
    JournalHeader,
    JournalRecord,
    JournalWriter,
    TornTail,
    UndecodedRecord,
    _frames,
    open_journal,
    repair_journal,
)
from actorflow.journal._frames import Frame, FrameScanner
from actorflow.journal.format import FRAME_HEAD, MAGIC, MAX_FRAME_BYTES, crc_of, encode_body
from actorflow.messages import Envelope, envelope_to_record, pack
from tests.journal.conftest import sample_records, write_log
from tests.support import Done

Factory = Callable[..., JournalWriter]


def read_all(path: Path, *, opaque: bool = True) -> tuple[list[JournalEntry], object]:
    with open_journal(path, opaque=opaque) as reader:
        records = list(reader)
        return records, reader.torn_tail


def framed(body: bytes) -> bytes:
    return FRAME_HEAD.pack(len(body), crc_of(len(body), body)) + body


def hundred_and_one(path: Path) -> tuple[list[JournalRecord], list[int]]:
    """Write 101 deliveries; return them and where each frame ends."""
    to = ActorPath("/agents/a")
    records: list[JournalRecord] = [
        Envelope(i, MessageId(f"m{i}"), None, None, to, None, i, 100.0 + i, Done(n=i))
        for i in range(1, 102)
    ]
    return records, write_log(path, records)


def set_length(path: Path, offset: int, length: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + 4] = length.to_bytes(4, "big")
    path.write_bytes(bytes(data))


def delivery_body(seq: int, message: dict[str, object], wall_time: float = 100.0) -> bytes:
    env = Envelope(seq, MessageId("m"), None, None, ActorPath("/agents/a"), None, 0, 1.0, Done(n=1))
    record = envelope_to_record(env)
    record.update(type="delivery", message=message, wall_time=wall_time)
    return pack(record)


# -- undecodable records (issue 10 item 4) ------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [{"n": 1}, {"kind": None, "n": 1}, {"kind": 5}, {"kind": "test.done", "n": "not a number"}],
    ids=["no-kind", "kind-none", "kind-int", "fails-schema"],
)
def test_an_undecodable_delivery_is_read_as_undecoded_and_the_records_after_it_follow(
    tmp_path: Path, message: dict[str, object]
) -> None:
    path = tmp_path / "journal"
    records = sample_records()
    first = framed(encode_body(records[0]))
    rest = b"".join(framed(encode_body(r)) for r in records[1:])
    path.write_bytes(MAGIC + first + framed(delivery_body(77, message)) + rest)

    with open_journal(path) as reader:
        got = list(reader)

    assert got[0] == records[0]
    odd = got[1]
    assert isinstance(odd, UndecodedRecord)
    assert (odd.offset, odd.seq, odd.record_type) == (len(MAGIC) + len(first), 77, "delivery")
    assert odd.reason
    assert got[2:] == records[1:]
    assert reader.undecoded == 1
    assert reader.torn_tail is None


def test_an_event_whose_kind_is_none_does_not_hide_the_records_after_it(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    records = sample_records()
    event = pack({"type": "event", "seq": 5, "wall_time": 1.0, "event": {"kind": None}})
    path.write_bytes(MAGIC + framed(event) + b"".join(framed(encode_body(r)) for r in records))

    got, torn = read_all(path)

    assert isinstance(got[0], UndecodedRecord)
    assert got[0].seq == 5
    assert got[1:] == records
    assert torn is None


def test_replay_mode_refuses_an_undecodable_record_naming_its_offset_and_seq(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    path.write_bytes(MAGIC + framed(delivery_body(77, {"n": 1})))

    with pytest.raises(
        JournalCorruptedError, match=r"^Journal .* record at offset 8 \(seq 77\) does not decode"
    ):
        read_all(path, opaque=False)


@pytest.mark.parametrize("wall_time", [math.nan, math.inf, -math.inf, 1e300, -1e300])
def test_a_delivery_whose_wall_time_is_out_of_range_is_reported_as_undecoded(
    tmp_path: Path, wall_time: float
) -> None:
    path = tmp_path / "journal"
    records = sample_records()
    body = delivery_body(3, {"kind": "test.done", "n": 1}, wall_time=wall_time)
    path.write_bytes(MAGIC + framed(body) + b"".join(framed(encode_body(r)) for r in records))

    got, _ = read_all(path)

    assert isinstance(got[0], UndecodedRecord)
    assert "wall_time" in got[0].reason
    assert got[1:] == records


def test_an_event_or_header_time_out_of_range_is_reported_as_undecoded(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    event = {"type": "event", "seq": 5, "wall_time": math.inf, "event": {"kind": "test.work"}}
    header = encode_body(
        JournalHeader(format_version=1, run_id="r", started_at=1.0, actorflow_version="0")
    )
    bad_header = header.replace(pack(1.0), pack(math.nan))
    assert bad_header != header
    path.write_bytes(MAGIC + framed(pack(event)) + framed(bad_header))

    got, _ = read_all(path)

    assert [type(r) for r in got] == [UndecodedRecord, UndecodedRecord]
    assert all("out of range" in r.reason for r in got if isinstance(r, UndecodedRecord))


def test_log_show_prints_an_out_of_range_time_as_an_undecoded_row_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    records = sample_records()
    body = delivery_body(3, {"kind": "test.done", "n": 1}, wall_time=1e300)
    path.write_bytes(MAGIC + framed(body) + framed(encode_body(records[0])))

    plain = CliRunner().invoke(app, ["log", "show", str(path)])
    as_json = CliRunner().invoke(app, ["log", "show", str(path), "--json"])
    stats = CliRunner().invoke(app, ["log", "stats", str(path)])

    for result in (plain, as_json, stats):
        assert result.exit_code == 0, result.output
        assert result.exception is None
        assert "1 record could not be decoded" in result.output
    assert "undecoded" in plain.output
    assert '"type": "undecoded"' in as_json.output
    assert '"seq": 1' in as_json.output  # the record after it


# -- damage before valid frames is never a torn tail (issue 10 item 7) --------------------


@pytest.mark.parametrize(
    "length",
    [2**32 - 1, 2**31, 17 * 1024 * 1024, 16 * 1024 * 1024, 60_000, 0],
    ids=["4GiB", "2GiB", "over-cap", "at-cap", "past-end", "zero"],
)
def test_a_damaged_length_field_before_valid_frames_is_corruption_not_a_torn_tail(
    tmp_path: Path, length: int
) -> None:
    path = tmp_path / "journal"
    records, ends = hundred_and_one(path)
    set_length(path, ends[0], length)
    got: list[JournalEntry] = []

    with (
        pytest.raises(
            JournalCorruptedError,
            match=rf"^Journal .* is damaged at offset {ends[0]}: .* a valid frame follows at "
            rf"offset {ends[1]} .*actorflow log repair",
        ),
        open_journal(path) as reader,
    ):
        got.extend(reader)

    assert got == records[:1]


def test_a_flipped_bit_in_a_middle_frame_is_corruption_naming_the_last_good_seq(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    _, ends = hundred_and_one(path)
    data = bytearray(path.read_bytes())
    data[ends[49] + 20] ^= 0x10  # inside the body of the 51st frame
    path.write_bytes(bytes(data))

    with pytest.raises(JournalCorruptedError, match=r"last good record has seq 50"):
        read_all(path)


def test_a_last_frame_cut_short_with_nothing_valid_after_it_is_a_torn_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    records, ends = hundred_and_one(path)
    set_length(path, ends[-2], 60_000)  # what a crash leaves: a body that stops early

    got, torn = read_all(path)

    assert got == records[:-1]
    assert torn == (ends[-2], ends[-1] - ends[-2])


def test_a_last_frame_claiming_four_gigabytes_is_damage_even_with_nothing_after_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    _, ends = hundred_and_one(path)
    set_length(path, ends[-2], 2**32 - 1)  # no crash while writing leaves this

    with pytest.raises(
        JournalCorruptedError,
        match=rf"damaged at offset {ends[-2]}: .* No valid frame follows, but a crash while "
        r"writing cannot leave this, so it is not a torn tail\.",
    ):
        read_all(path)


def test_reopening_a_journal_damaged_before_valid_frames_refuses_and_cuts_nothing(
    tmp_path: Path, writer_factory: Factory
) -> None:
    path = tmp_path / "journal"
    _, ends = hundred_and_one(path)
    set_length(path, ends[0], 2**32 - 1)
    before = path.read_bytes()

    with pytest.raises(
        JournalCorruptedError,
        match=rf"^Cannot append to journal .*: it is damaged at offset {ends[0]} .* last good "
        r"record before the damage has seq 1.*actorflow log repair",
    ):
        writer_factory("journal")

    assert path.read_bytes() == before


def test_reopening_keeps_an_undecodable_whole_frame(
    tmp_path: Path, writer_factory: Factory
) -> None:
    path = tmp_path / "journal"
    records = sample_records()
    path.write_bytes(MAGIC + framed(delivery_body(77, {"n": 1})))

    writer = writer_factory("journal")
    writer.append(records[0])
    writer.close()

    got, torn = read_all(path)
    assert isinstance(got[0], UndecodedRecord)
    assert isinstance(got[1], JournalHeader)
    assert got[2:] == records[:1]
    assert torn is None


def _frame_of(offset: int, ends: list[int]) -> int:
    """Index of the frame holding byte ``offset``."""
    return next(i for i, end in enumerate(ends) if offset < end)


def _outcome(path: Path) -> tuple[list[JournalEntry], str | None, TornTail | None]:
    """What a tolerant reader makes of ``path``: the records, the error, the torn tail."""
    got: list[JournalEntry] = []
    try:
        with open_journal(path) as reader:
            got.extend(reader)
    except JournalCorruptedError as exc:
        return got, str(exc), None
    return got, None, reader.torn_tail


def test_a_thousand_single_byte_changes_are_torn_only_in_the_last_frame(tmp_path: Path) -> None:
    """Every change is caught at the frame it hit; only one in the last frame may be torn."""
    path = tmp_path / "journal"
    records = sample_records()
    ends = write_log(path, records)
    data = path.read_bytes()
    starts = [len(MAGIC), *ends[:-1]]
    rng = random.Random(7)

    for _ in range(1000):
        buf = bytearray(data)
        at = rng.randrange(len(MAGIC), len(buf))
        buf[at] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(buf))
        hit = _frame_of(at, ends)
        got, error, torn = _outcome(path)

        if error is None:  # torn: only when nothing valid follows
            assert hit == len(records) - 1, at
            assert torn is not None
            assert torn.offset == starts[hit], at
        else:
            assert f"damaged at offset {starts[hit]}:" in error, at
        assert got == records[:hit], at


def test_a_hostile_run_of_frame_lookalikes_after_damage_stops_the_search_not_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes built so that every 9th offset looks like the start of a 1 MiB frame would
    cost a search for the next valid frame about 100 GB of checksums; it stops at its
    budget and reports damage (never a torn tail)."""
    monkeypatch.setattr(_frames, "SCAN_BUDGET", 8 << 20)
    path = tmp_path / "journal"
    records, ends = hundred_and_one(path)
    lookalike = b"\x00\x0f\xff\xff\x00\x00\x00\x00\x80"  # 1 MiB, bad CRC, a map marker
    with path.open("r+b") as f:
        f.truncate(ends[0])
        f.seek(ends[0])
        f.write(b"\xff" * 8 + lookalike * ((2 << 20) // len(lookalike)))

    got: list[JournalEntry] = []
    with (
        pytest.raises(JournalCorruptedError, match=r"search for a valid frame after it stopped"),
        open_journal(path) as reader,
    ):
        got.extend(reader)
    report = repair_journal(path, tmp_path / "repaired")

    assert got == records[:1]
    assert [(r.start, r.end, r.torn_tail) for r in report.skipped] == [
        (ends[0], path.stat().st_size, False)
    ]
    assert "gave up" in report.skipped[0].reason


def test_log_show_with_a_time_filter_on_a_log_damaged_at_its_first_frame_is_a_clear_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    _, ends = hundred_and_one(path)
    set_length(path, len(MAGIC), 2**32 - 1)

    result = CliRunner().invoke(app, ["log", "show", str(path), "--since", "00:00:00"])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"is damaged at offset {len(MAGIC)}" in result.output
    assert f"a valid frame follows at offset {ends[0]}" in result.output


_Piece = tuple[str, int, bytes]


@given(
    st.lists(
        st.one_of(
            st.integers(0, 8).map(lambda i: ("frame", i, b"")),
            st.binary(min_size=1, max_size=40).map(lambda b: ("junk", 0, b)),
        ),
        max_size=10,
    )
)
def test_frames_mixed_with_junk_give_typed_errors_and_torn_tails_only_at_the_end(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[_Piece]
) -> None:
    path = tmp_path_factory.mktemp("j") / "journal"
    records = sample_records()
    data = MAGIC + b"".join(
        framed(encode_body(records[i])) if kind == "frame" else junk for kind, i, junk in pieces
    )
    path.write_bytes(data)

    got, error, torn = _outcome(path)

    if all(kind == "frame" for kind, _, _ in pieces):
        assert (got, error, torn) == ([records[i] for _, i, _ in pieces], None, None)
    if torn is not None:  # nothing valid may follow a torn tail
        with path.open("rb") as f:
            scanner = FrameScanner(f, len(data), MAX_FRAME_BYTES)
            assert not any(
                isinstance(scanner.frame_at(at), Frame) for at in range(torn.offset, len(data))
            )
