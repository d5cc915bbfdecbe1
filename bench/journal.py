"""Journal benchmark: append rates per durability policy, and tell throughput with the journal.

Run ``python bench/journal.py`` (full), ``--quick`` (smoke run), ``--append-only`` (skip
the tell part), ``--policy POLICY`` (append rows of that policy only) or ``--profile
POLICY`` (cProfile of the appending and writer threads of one journal run).
One run measures:

1. append rate for ``none`` / ``batch`` / ``every``, three ways, with the same records,
   the same bytes on disk and the same fsync cadence (per ``batch`` records, or per
   record for ``every``):

   - *raw, pre-encoded*: a buffered file write of frames encoded before the clock
     starts — the I/O floor, no encoding at all;
   - *raw, pre-encoded batches* (information): the same frames joined per batch before
     the clock starts, one write per batch as the journal does (the row above pays a
     buffered write call per frame);
   - *raw, encode + write*: the same loop, encoding each record first
     (``frame(encode_body(r))``, the journal's packer: ormsgpack, msgpack for what it
     refuses) — the same work as the journal, on the caller's thread;
   - *journal*: ``JournalWriter.append`` of every record until ``flush()`` returns
     (queue, writer thread, encoding, writes and fsyncs included).

   Rounds alternate the three so that a busy machine slows all of them alike; each
   figure is the median of the rounds, and the ratio column gives the median and the
   range of the per-round ratios;
2. tell throughput to one actor: raw pykka vs actorflow with the journal off vs on
   (batch policy). "Processed" stops the clock when the actor has handled the last
   message; "durable" stops it when the journal has also written everything.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgpack
import ormsgpack
import pykka
from rich.console import Console
from rich.table import Table

from actorflow import ActorPath, ActorSystem, Behaviour, Context, Message, MessageId
from actorflow.journal import Durability, JournalConfig, JournalWriter
from actorflow.journal.format import MAGIC, encode_body, frame
from actorflow.messages import Envelope

perf = time.perf_counter


class Tick(Message):
    """The benchmark's message: small, like most actor traffic."""

    kind: Literal["bench.journal_tick"] = "bench.journal_tick"
    seq: int = 0
    note: str = "hello"


def _envelopes(n: int) -> list[Envelope]:
    to = ActorPath("/agents/sink")
    return [
        Envelope(i, MessageId(f"m{i}"), None, None, to, None, 0, 1.0, Tick(seq=i))
        for i in range(1, n + 1)
    ]


def _median(runs: int, measure: Callable[..., float], *args: object) -> float:
    return statistics.median(measure(*args) for _ in range(runs))


def raw_append(
    directory: Path,
    records: list[Envelope],
    policy: Durability,
    batch: int,
    *,
    encode: bool,
    joined: bool = False,
) -> float:
    """Seconds to append the records' frames to a buffered file with the policy's fsyncs.

    With ``encode``, each record is encoded inside the timed loop; without, before it.
    With ``joined`` (not with ``encode``), the frames are joined per batch beforehand.
    """
    if joined:
        return _raw_append_batches(directory, records, policy, batch)
    path = directory / f"raw-{policy}"
    encoded = None if encode else [frame(encode_body(r)) for r in records]
    with path.open("wb") as f:
        f.write(MAGIC)
        start = perf()
        frames = (frame(encode_body(r)) for r in records) if encoded is None else encoded
        for i, data in enumerate(frames, 1):
            f.write(data)
            if policy is Durability.EVERY:
                f.flush()
                os.fsync(f.fileno())
            elif i % batch == 0:
                f.flush()
                if policy is Durability.BATCH:
                    os.fsync(f.fileno())
        f.flush()
        os.fsync(f.fileno())
        elapsed = perf() - start
    path.unlink()
    return elapsed


def _raw_append_batches(
    directory: Path, records: list[Envelope], policy: Durability, batch: int
) -> float:
    """Seconds to write pre-encoded frames one batch per write, with the policy's fsyncs."""
    path = directory / f"raw-joined-{policy}"
    size = 1 if policy is Durability.EVERY else batch
    frames = [frame(encode_body(r)) for r in records]
    chunks = [b"".join(frames[i : i + size]) for i in range(0, len(frames), size)]
    with path.open("wb") as f:
        f.write(MAGIC)
        start = perf()
        for chunk in chunks:
            f.write(chunk)
            f.flush()
            if policy is not Durability.NONE:
                os.fsync(f.fileno())
        f.flush()
        os.fsync(f.fileno())
        elapsed = perf() - start
    path.unlink()
    return elapsed


def journal_append(
    directory: Path, records: list[Envelope], policy: Durability, batch: int
) -> float:
    """Seconds to append records through a JournalWriter until all are written."""
    path = directory / f"journal-{policy}"
    config = JournalConfig(path=path, durability=policy, batch_frames=batch)
    writer = JournalWriter(config, run_id="bench", started_at=0.0)
    start = perf()
    for record in records:
        writer.append(record)
    assert writer.flush(timeout=600)
    elapsed = perf() - start
    writer.close()
    assert writer.statistics().dropped == 0
    path.unlink()
    return elapsed


def append_rows(
    directory: Path, policy: Durability, n: int, runs: int, batch: int
) -> tuple[str, ...]:
    """One table row: the three sides in alternating rounds, medians and ratios."""
    records = _envelopes(n)
    pre, joined, enc, ours = [], [], [], []
    for _ in range(runs):
        pre.append(raw_append(directory, records, policy, batch, encode=False))
        enc.append(raw_append(directory, records, policy, batch, encode=True))
        ours.append(journal_append(directory, records, policy, batch))
        joined.append(raw_append(directory, records, policy, batch, encode=False, joined=True))
    vs_pre = sorted(p / o for p, o in zip(pre, ours, strict=True))
    vs_joined = sorted(j / o for j, o in zip(joined, ours, strict=True))
    vs_enc = sorted(e / o for e, o in zip(enc, ours, strict=True))
    med = statistics.median

    def ratio(values: list[float]) -> str:
        return f"{med(values):.2f}x ({values[0]:.2f}-{values[-1]:.2f})"

    return (
        policy.value,
        f"{n:,}",
        f"{n / med(pre):,.0f}",
        f"{n / med(enc):,.0f}",
        f"{n / med(ours):,.0f}",
        ratio(vs_pre),
        ratio(vs_enc),
        f"{n / med(joined):,.0f}",
        ratio(vs_joined),
    )


def profile(directory: Path, policy: Durability, n: int, batch: int) -> None:
    """Print cProfile's top functions of the appending thread and of the writer thread."""
    records = _envelopes(n)
    writer_profile = cProfile.Profile()
    run = JournalWriter._run

    def profiled_run(self: JournalWriter) -> None:
        writer_profile.enable()
        try:
            run(self)
        finally:
            writer_profile.disable()

    JournalWriter._run = profiled_run  # type: ignore[method-assign]
    try:
        appender_profile = cProfile.Profile()
        appender_profile.enable()
        journal_append(directory, records, policy, batch)
        appender_profile.disable()
    finally:
        JournalWriter._run = run  # type: ignore[method-assign]
    for title, prof in (("appending thread", appender_profile), ("writer thread", writer_profile)):
        print(f"== {title} ({n:,} records, {policy.value})")
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)


class _Counter(pykka.ThreadingActor):
    def __init__(self, n: int, done: threading.Event) -> None:
        super().__init__()
        self.n, self.done, self.count = n, done, 0

    def on_receive(self, message: object) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


class _Sink(Behaviour):
    def __init__(self, n: int, done: threading.Event) -> None:
        self.n, self.done, self.count = n, done, 0

    def on_tick(self, msg: Tick, ctx: Context) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


def pykka_tell(n: int) -> float:
    """Seconds for raw pykka to take ``n`` tells and process them."""
    done = threading.Event()
    ref = _Counter.start(n, done)
    msg = Tick()
    start = perf()
    for _ in range(n):
        ref.tell(msg)
    assert done.wait(600)
    elapsed = perf() - start
    ref.stop()
    return elapsed


def actorflow_tell(n: int, journal: Path | None) -> tuple[float, float]:
    """Seconds until processed, and until also journaled, for ``n`` actorflow tells."""
    from actorflow import recipe

    done = threading.Event()
    config = None if journal is None else JournalConfig(path=journal)
    with ActorSystem(journal=config) as system:
        sink = system.spawn(recipe(_Sink, n, done), "sink")
        msg = Tick()
        start = perf()
        for _ in range(n):
            system.tell(sink, msg)
        assert done.wait(600)
        processed = perf() - start
        if system.journal is not None:
            assert system.journal.flush(timeout=600)
        durable = perf() - start
    if journal is not None:
        journal.unlink()
    return processed, durable


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--append-only", action="store_true", help="skip the tell benchmark")
    parser.add_argument(
        "--profile", choices=[d.value for d in Durability], help="profile one journal run"
    )
    parser.add_argument(
        "--policy",
        action="append",
        choices=[d.value for d in Durability],
        help="append benchmark for this policy only (repeatable; default: all)",
    )
    args = parser.parse_args()
    n_append = 20_000 if args.quick else 200_000
    n_every = 500 if args.quick else 3_000
    n_tell = 20_000 if args.quick else 200_000
    runs = 3 if args.quick else 5
    batch = 512
    console = Console(width=200)
    console.print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; "
        f"bodies packed by ormsgpack {ormsgpack.__version__} (msgpack "
        f"{'.'.join(map(str, msgpack.version))} for the values ormsgpack refuses)"
    )

    table = Table(title="journal append (records/s); ratios: median (range) of the rounds")
    for col in (
        "policy",
        "records",
        "raw, pre-encoded",
        "raw, encode + write",
        "journal",
        "journal / pre-encoded",
        "journal / encode + write",
        "raw, pre-encoded batches (info)",
        "journal / pre-encoded batches",
    ):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        directory = Path(tmp)
        if args.profile is not None:
            profile(directory, Durability(args.profile), n_append, batch)
            return
        for policy in Durability:
            if args.policy and policy.value not in args.policy:
                continue
            n = n_every if policy is Durability.EVERY else n_append
            table.add_row(*append_rows(directory, policy, n, runs, batch))
        console.print(table)
        if args.append_only:
            return

        tells = Table(title=f"tell throughput, {n_tell:,} messages to one actor (messages/s)")
        for col in ("system", "processed", "durable", "vs pykka (processed)"):
            tells.add_column(col, justify="right")
        base = _median(runs, pykka_tell, n_tell)
        tells.add_row("raw pykka", f"{n_tell / base:,.0f}", "-", "1.00x")
        for label, journal in (
            ("actorflow, journal off", None),
            ("actorflow, journal on (batch)", directory / "j"),
        ):
            results = [actorflow_tell(n_tell, journal) for _ in range(runs)]
            processed = statistics.median(r[0] for r in results)
            durable = statistics.median(r[1] for r in results)
            tells.add_row(
                label,
                f"{n_tell / processed:,.0f}",
                f"{n_tell / durable:,.0f}",
                f"{base / processed:.2f}x",
            )
        console.print(tells)


if __name__ == "__main__":
    main()
