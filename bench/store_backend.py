"""Store micro-benchmark: the cost of one checkpoint in the store actor, by flow size.

Run ``python bench/store_backend.py`` (``--quick`` for fewer writes). For flows of 10,
100 and 1,000 steps it writes a flow's state whole once, then ``--writes`` patches as a
running flow sends them (one changed step record and the flow's own fields, on the
stored version, ``merge=("steps",)``), and reports in microseconds (the median and 90th
percentile of a write, and its mean, which includes the whole states a store writes now
and then):

- *keeper*: one patch request handled by the store actor's behaviour and its group
  commit (``on_save_checkpoint_request`` then ``on_flush_writes``), driven directly on
  this thread with a stand-in context, so no thread hand-off is measured;
- *load*: reading the flow's latest checkpoint back (what a resume does; median of 5).

Each is measured on a ``MemoryStore`` and a ``SqliteStore`` (``synchronous="normal"``).
The numbers depend only on the store layer, so the same script measures any version
of it (``PYTHONPATH=old-tree python bench/store_backend.py``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from loguru import logger

from actorflow.ids import ActorPath
from actorflow.stores import (
    CheckpointWrite,
    MemoryStore,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    SqliteStore,
    Store,
    StoreKeeper,
)
from actorflow.stores.messages import FlushWrites

perf = time.perf_counter
SIZES = (10, 100, 1_000)
PLAN = {"id": "p", "steps": [{"id": f"s{i}"} for i in range(8)]}


class _Envelope:
    """What the store actor reads of an envelope."""

    def __init__(self, message: Any) -> None:
        self.message = message
        self.reply_to = ActorPath("/user/flow")
        self.sender = ActorPath("/user/flow")
        self.correlation_id = "c"


class _Context:
    """A stand-in for the store actor's context: keeps its replies and self-tells."""

    def __init__(self) -> None:
        self.path = ActorPath("/system/store")
        self.log = logger
        self.envelope: _Envelope | None = None
        self.replies: list[Any] = []
        self.told: list[Any] = []

    def tell(self, to: ActorPath, message: Any) -> None:
        self.told.append(message)

    def reply(self, message: Any, *, to: Any = None) -> None:
        self.replies.append(message)


def record(i: int, status: str) -> dict[str, Any]:
    """A step record shaped like a flow's (``StepRecord.to_json()``)."""
    return {
        "status": status,
        "attempt": 1 if status != "pending" else 0,
        "result": f"result of step s{i}" if status == "completed" else None,
        "error": None,
        "started_at": 1_800_000_000.5 if status != "pending" else None,
        "finished_at": 1_800_000_001.25 if status == "completed" else None,
        "deadline": None,
        "waiting": None,
    }


def flow_fields(done: int) -> dict[str, Any]:
    return {
        "status": "running",
        "ready": [f"s{done}"],
        "slots": 1,
        "error": None,
        "started_at": 1_800_000_000.0,
        "finished_at": None,
        "sweep_at": None,
        "ignored": 0,
        "finished": False,
    }


def write(n: int, state: dict[str, Any], version: int) -> CheckpointWrite:
    return CheckpointWrite(
        flow_id="f",
        state=state,
        status="running",
        steps_done=min(version, n),
        steps_total=n,
        at=1_800_000_000.0 + version,
        plan=PLAN if version == 0 else None,
        expected_version=version,
        write_id=f"f@{version + 1}",
    )


def run_keeper(store: Store, n: int, writes: int) -> tuple[list[float], float]:
    """Write a flow of ``n`` steps whole, then ``writes`` patches; return the time of each
    patch in the store actor (µs) and the time to load the result back (µs)."""
    keeper = StoreKeeper(store)
    ctx = _Context()
    steps = {f"s{i}": record(i, "pending") for i in range(n)}
    whole = {"format": 1, "spec": {"order": list(steps)}, "steps": steps, **flow_fields(0)}
    handle(keeper, ctx, SaveCheckpointRequest(write=write(n, whole, 0)))
    times = []
    for version in range(1, writes + 1):
        i = (version - 1) % n
        status = "running" if version % 2 else "completed"
        patch = {"steps": {f"s{i}": record(i, status)}, **flow_fields(i)}
        request = SaveCheckpointRequest(
            write=write(n, patch, version), patch_of=version, merge=("steps",)
        )
        start = perf()
        handle(keeper, ctx, request)
        times.append((perf() - start) * 1e6)
    loads = []
    for _ in range(5):
        start = perf()
        loaded = store.load_checkpoint("f")
        loads.append((perf() - start) * 1e6)
    load = statistics.median(loads)
    assert loaded is not None
    assert loaded.version == writes + 1
    assert len(loaded.state["steps"]) == n  # type: ignore[arg-type]
    return times, load


def handle(keeper: StoreKeeper, ctx: _Context, request: SaveCheckpointRequest) -> None:
    ctx.envelope = _Envelope(request)
    keeper.on_save_checkpoint_request(request, ctx)  # type: ignore[arg-type]
    ctx.envelope = _Envelope(FlushWrites())
    keeper.on_flush_writes(FlushWrites(), ctx)  # type: ignore[arg-type]
    reply = ctx.replies.pop()
    assert isinstance(reply, SaveCheckpointResponse), reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer writes per size")
    parser.add_argument("--writes", type=int, default=0, help="patches per size")
    args = parser.parse_args()
    writes = args.writes or (300 if args.quick else 2_000)
    print(
        f"{'backend':<8} {'steps':>6} {'keeper p50 µs':>14} {'p90 µs':>8} {'mean µs':>8} "
        f"{'load µs':>9}"
    )
    for backend in ("memory", "sqlite"):
        for n in SIZES:
            with tempfile.TemporaryDirectory() as tmp:
                store: Store = (
                    MemoryStore() if backend == "memory" else SqliteStore(Path(tmp) / "s.db")
                )
                try:
                    times, load = run_keeper(store, n, writes)
                finally:
                    store.close()
            times = times[len(times) // 10 :]  # warm-up
            p50 = statistics.median(times)
            p90 = statistics.quantiles(times, n=10)[-1]
            mean = statistics.fmean(times)
            print(f"{backend:<8} {n:>6} {p50:>14.1f} {p90:>8.1f} {mean:>8.1f} {load:>9.0f}")


if __name__ == "__main__":
    main()
