"""Soak tests of the journal (``pytest -m slow tests/journal/test_soak.py``).

- 20 SIGKILLs of a journaling actor system at random moments, all into one file: after
  each, the journal reads back (clean or with a torn tail), reopens, takes a record and
  reads back clean with every earlier segment intact.
- 10,000 single-byte changes at random offsets: none is read silently, and none is
  called a torn tail when a valid frame follows it.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from actorflow import ActorPath, JournalCorruptedError, MessageId
from actorflow.journal import (
    Durability,
    JournalConfig,
    JournalEntry,
    JournalEvent,
    JournalHeader,
    JournalRecord,
    JournalWriter,
    TornTail,
    open_journal,
    repair_journal,
)
from actorflow.journal.format import MAGIC
from actorflow.messages import ActorSpawned, Envelope, OpaqueMessage
from tests.journal.conftest import sample_records, write_log
from tests.support import Done

pytestmark = pytest.mark.slow

_CHILD = """
import sys
from typing import Literal
from actorflow import ActorSystem, Behaviour, Durability, JournalConfig, Message

class Tick(Message):
    kind: Literal["soak.tick"] = "soak.tick"
    n: int
    pad: str = "x" * 4000  # batches of about 1 MB: a kill may land inside a write

class Sink(Behaviour):
    def on_tick(self, msg, ctx):
        pass

config = JournalConfig(path=sys.argv[1], durability=Durability(sys.argv[2]), batch_frames=256,
                       batch_interval=0.002)
system = ActorSystem(journal=config).start()
sink = system.spawn(Sink, "sink")
n = 0
while True:
    n += 1
    system.tell(sink, Tick(n=n))
    if n % 50 == 0:
        print(f"sent {n}", flush=True)
"""


def _ticks(records: list[JournalEntry], start: int) -> list[int]:
    """The ``n`` of every Tick delivery after index ``start`` (opaque here: its class
    lives in the killed process)."""
    return [
        int(r.message.fields["n"])  # type: ignore[arg-type]
        for r in records[start:]
        if isinstance(r, Envelope)
        and isinstance(r.message, OpaqueMessage)
        and r.message.original_kind == "soak.tick"
    ]


def test_twenty_sigkills_at_random_moments_leave_a_journal_that_reads_reopens_and_grows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    rng = random.Random(20)
    kept: list[JournalEntry] = []
    torn_tails = 0

    for kill in range(20):
        durability = rng.choice(list(Durability))
        lines = rng.randint(1, 6)
        with subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), durability.value],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for _ in range(lines):  # a random moment: after 50 to 300 tells
                assert proc.stdout.readline().startswith("sent "), kill
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

        with open_journal(path) as reader:
            records = list(reader)
        torn: TornTail | None = reader.torn_tail
        torn_tails += torn is not None
        assert records[: len(kept)] == kept, kill  # every earlier segment intact
        assert isinstance(records[len(kept)], JournalHeader), kill
        ticks = _ticks(records, len(kept))
        assert ticks == list(range(1, len(ticks) + 1)), kill  # a gapless prefix

        writer = JournalWriter(
            JournalConfig(path=path, durability=Durability.BATCH), run_id=f"r{kill}", started_at=1.0
        )
        marker = JournalEvent(10**6 + kill, 2.0, ActorSpawned(path=ActorPath("/k"), behaviour="K"))
        writer.append(marker)
        assert writer.close(timeout=30)

        with open_journal(path) as reader:
            again = list(reader)
        assert reader.torn_tail is None, kill
        assert again[: len(records)] == records, kill
        assert isinstance(again[len(records)], JournalHeader)
        assert again[len(records) + 1 :] == [marker]
        kept = again

    print(f"20 kills, {torn_tails} left a torn tail, {len(kept)} records in the end")  # noqa: T201


def _mixed_records() -> list[JournalRecord]:
    """About 200 records of every type and of different sizes."""
    to = ActorPath("/agents/a")
    records: list[JournalRecord] = []
    for i in range(1, 21):
        records.extend(sample_records())
        done = Done(n=i, by="x" * i * 37)
        records.append(Envelope(i, MessageId(f"m{i}"), None, None, to, None, i, 100.0 + i, done))
    return records


def test_ten_thousand_single_byte_changes_are_never_read_silently_nor_taken_for_a_torn_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal"
    records = _mixed_records()
    ends = write_log(path, records)
    data = path.read_bytes()
    starts = [len(MAGIC), *ends[:-1]]
    rng = random.Random(10_000)
    outcomes = {"damage": 0, "torn": 0, "damage at the end": 0}

    for trial in range(10_000):
        buf = bytearray(data)
        at = rng.randrange(len(MAGIC), len(buf))
        buf[at] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(buf))
        hit = next(i for i, end in enumerate(ends) if at < end)
        got: list[JournalEntry] = []
        error: str | None = None
        try:
            with open_journal(path) as reader:
                got.extend(reader)
        except JournalCorruptedError as exc:
            error = str(exc)

        assert got == records[:hit], (trial, at)  # nothing changed is ever read as a record
        if hit < len(records) - 1:  # a valid frame follows: damage, never a torn tail
            assert error is not None, (trial, at)
            assert f"damaged at offset {starts[hit]}: " in error, (trial, at)
            assert f"a valid frame follows at offset {ends[hit]} " in error, (trial, at)
            outcomes["damage"] += 1
        elif error is None:
            assert reader.torn_tail == (starts[hit], ends[hit] - starts[hit]), (trial, at)
            outcomes["torn"] += 1
        else:
            assert f"damaged at offset {starts[hit]}: " in error, (trial, at)
            outcomes["damage at the end"] += 1
        if trial % 1000 == 0:  # repair keeps every other frame
            out = tmp_path / f"repaired-{trial}"
            report = repair_journal(path, out)
            assert report.frames == len(records) - 1
            with open_journal(out) as reader:
                assert list(reader) == records[:hit] + records[hit + 1 :]

    assert sum(outcomes.values()) == 10_000
    print(f"10,000 single-byte changes: {outcomes}")  # noqa: T201
