from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorflow import ActorPath, JournalCorruptedError, JournalError, JournalTornError, MessageId
from actorflow.journal import (
    Durability,
    JournalEntry,
    JournalEvent,
    JournalHeader,
    JournalRecord,
    JournalWriter,
    UndecodedRecord,
    open_journal,
)
from actorflow.journal.format import FRAME_HEAD, MAGIC, crc_of, encode_body, encode_frames, frame
from actorflow.messages import EffectRecorded, Envelope, pack
from tests.journal.conftest import sample_records, write_log
from tests.support import Done

Factory = Callable[..., JournalWriter]


def read_all(path: Path, *, strict: bool = False) -> tuple[list[JournalEntry], object]:
    with open_journal(path, strict=strict) as reader:
        records = list(reader)
        return records, reader.torn_tail


def test_every_record_type_round_trips_through_the_writer(writer_factory: Factory) -> None:
    writer = writer_factory()
    for record in sample_records():
        writer.append(record)

    assert writer.flush(timeout=5)
    records, torn = read_all(writer.path)

    header, *rest = records
    assert isinstance(header, JournalHeader)
    assert (header.run_id, header.format_version, header.started_at) == ("run-test", 1, 1.0)
    assert rest == sample_records()
    assert torn is None


@pytest.mark.parametrize("durability", list(Durability))
def test_each_durability_policy_writes_every_record(
    writer_factory: Factory, durability: Durability
) -> None:
    writer = writer_factory(durability=durability, batch_frames=3)
    for record in sample_records():
        writer.append(record)
    writer.close()

    records, _ = read_all(writer.path)
    assert records[1:] == sample_records()
    stats = writer.statistics()
    assert stats.frames == len(sample_records()) + 1
    if durability is Durability.EVERY:
        assert stats.fsyncs >= len(sample_records())
    if durability is Durability.NONE:
        assert stats.fsyncs <= 1  # only close() syncs


def test_truncating_a_small_log_at_every_offset_keeps_exactly_the_whole_frames(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    records = sample_records()
    ends = write_log(path, records)
    data = path.read_bytes()

    for cut in range(len(MAGIC), len(data) + 1):
        path.write_bytes(data[:cut])
        got, torn = read_all(path)

        whole = sum(1 for end in ends if end <= cut)
        assert got == records[:whole], cut
        last_end = ends[whole - 1] if whole else len(MAGIC)
        assert torn == (None if cut == last_end else (last_end, cut - last_end)), cut


def test_a_torn_tail_raises_in_strict_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    write_log(path, sample_records())
    path.write_bytes(path.read_bytes()[:-3])

    with pytest.raises(JournalTornError, match=r"ends in a partial frame at offset \d+"):
        read_all(path, strict=True)


def test_reopening_a_torn_log_cuts_the_tail_and_appends_after_the_whole_frames(
    tmp_path: Path, writer_factory: Factory
) -> None:
    path = tmp_path / "journal"
    ends = write_log(path, sample_records())
    path.write_bytes(path.read_bytes()[: ends[4] + 5])

    writer = writer_factory("journal")
    writer.append(sample_records()[0])
    writer.close()

    got, torn = read_all(path)
    assert torn is None
    assert got[:5] == sample_records()[:5]
    assert isinstance(got[5], JournalHeader)
    assert got[6:] == sample_records()[:1]


@pytest.mark.parametrize(
    "count", [100, pytest.param(1000, marks=pytest.mark.slow)], ids=["100", "1000"]
)
def test_cutting_a_ten_megabyte_log_at_random_offsets_keeps_the_whole_frames(
    tmp_path: Path, writer_factory: Factory, count: int
) -> None:
    path = tmp_path / "journal"
    big = "x" * 10_000
    records: list[JournalRecord] = [
        Envelope(i, MessageId(f"m{i}"), None, None, ActorPath("/agents/a"), None, i, float(i), Done(n=i, by=big))  # noqa: E501
        for i in range(1, 1050)
    ]  # fmt: skip
    ends = write_log(path, records)
    assert path.stat().st_size > 10 * 1024 * 1024
    rng = random.Random(1234)
    cuts = sorted((rng.randrange(len(MAGIC), ends[-1]) for _ in range(count)), reverse=True)

    for i, cut in enumerate(cuts):  # ever shorter, in place: no rewriting of 10 MiB each time
        with path.open("r+b") as f:
            f.truncate(cut)
        got, torn = read_all(path)

        whole = sum(1 for end in ends if end <= cut)
        assert len(got) == whole
        assert got[-1:] == records[whole - 1 : whole]
        assert torn is not None or cut in ends
        if i % (count // 10) == 0:  # reopening for append works at this cut too
            keep = ends[whole - 1] if whole else len(MAGIC)
            with path.open("rb") as f:
                f.seek(keep)
                torn_bytes = f.read()
            writer = writer_factory()
            writer.append(records[0])
            writer.close()
            again, torn_again = read_all(path)
            assert torn_again is None
            assert len(again) == whole + 2
            assert again[-1] == records[0]
            with path.open("r+b") as f:  # put the torn state back for the next, shorter cuts
                f.truncate(keep)
                f.seek(keep)
                f.write(torn_bytes)


@given(st.binary(max_size=2048))
def test_random_bytes_after_the_magic_give_only_typed_errors(
    tmp_path_factory: pytest.TempPathFactory, junk: bytes
) -> None:
    path = tmp_path_factory.mktemp("j") / "journal"
    path.write_bytes(MAGIC + junk)

    with contextlib.suppress(JournalError):
        read_all(path)


def _framed(body: bytes) -> bytes:
    return FRAME_HEAD.pack(len(body), crc_of(len(body), body)) + body


@pytest.mark.parametrize(
    "body",
    [
        b"\xdd\xff\xff\xff\xff",  # array of 4 billion items
        b"\xdb\xff\xff\xff\xff",  # string of 4 GiB
        b"\xc6\xff\xff\xff\xff",  # binary of 4 GiB
        b"\x91" * 100_000 + b"\xc0",  # 100,000 nested arrays
        b"\xc7\x05\x01hello",  # an extension type
        pack([1, 2, 3]),
    ],
    ids=["array", "str", "bin", "nested-arrays", "ext", "list"],
)
def test_a_frame_whose_body_is_not_a_map_is_damage(tmp_path: Path, body: bytes) -> None:
    """Every record is a map: anything else is not a frame a writer wrote."""
    path = tmp_path / "journal"
    path.write_bytes(MAGIC + _framed(body) + _framed(pack({"type": "x"})))

    with pytest.raises(JournalCorruptedError, match=r"is damaged at offset 8: its body is not a"):
        read_all(path)


@pytest.mark.parametrize(
    "body",
    [
        b"\xdf\xff\xff\xff\xff",  # map of 4 billion pairs
        b"\x81\xa1k" * 50_000 + b"\xc0",  # 50,000 nested maps
        b"\x81\xa1k\xc7\x05\x01hello",  # an extension type in a map
        pack({"type": "event", "seq": 1, "wall_time": 1.0, "event": {"kind": "lifecycle.spawned"}}),
    ],
    ids=["map", "nested-maps", "ext-in-map", "bad-event"],
)
def test_msgpack_bombs_in_a_whole_frame_are_read_as_undecoded_without_decoding_them(
    tmp_path: Path, body: bytes
) -> None:
    path = tmp_path / "journal"
    path.write_bytes(MAGIC + _framed(body) + _framed(pack({"type": "x"})))

    records, torn = read_all(path)

    assert [type(r) for r in records] == [UndecodedRecord, UndecodedRecord]
    assert records[0].offset == 8  # type: ignore[union-attr]
    assert "Unknown journal record type 'x'" in records[1].reason  # type: ignore[union-attr]
    assert torn is None


def test_a_frame_claiming_more_than_the_cap_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    path.write_bytes(MAGIC + FRAME_HEAD.pack(2**31, 0) + b"\0" * (17 * 1024 * 1024))

    with pytest.raises(JournalCorruptedError, match=r"offset 8: its length field"):
        read_all(path)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    with pytest.raises(JournalCorruptedError, match=r"is not an actorflow journal"):
        read_all(path)


def test_a_missing_file_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"^Cannot open journal"):
        read_all(tmp_path / "missing")


def test_the_batch_encoder_writes_exactly_the_frames_of_encode_body_and_reports_failures() -> None:
    records = sample_records()
    a = ActorPath("/agents/a")
    huge_int = JournalEvent(100, 1.0, EffectRecorded(actor=a, effect="tool", value={"n": 2**70}))
    over_cap = JournalEvent(101, 1.0, EffectRecorded(actor=a, effect="tool", value="x" * 2**24))
    out = bytearray()

    count, failed = encode_frames([*records, huge_int, over_cap, *records], out)

    assert bytes(out) == b"".join(frame(encode_body(r)) for r in [*records, *records])
    assert count == 2 * len(records)
    assert [record for record, _ in failed] == [huge_int, over_cap]
    assert isinstance(failed[0][1], OverflowError)
    assert "exceeds the frame cap" in str(failed[1][1])
