"""Stream events benchmark (issue 12): what subscribers cost a flow.

Run ``python bench/streams.py`` (``--quick`` for fewer repeats, ``--json FILE`` to keep
every sample).

**The work.** The 100-step chain of ``bench/flow.py`` (each step a plain sync tool
that returns its label, journal on, durability ``batch``), run with
``flow.execute_sync(plan)``, under five set-ups of the same actor system, each its own
``EnhancedFlow``:

- *streams off*: ``enable_stream_callbacks = False`` (the flow tells no events): the
  baseline;
- *0 subscribers*: streams on (the default), nobody subscribed: the flow tells its
  events to ``/system/streams``, which numbers them and the journal records them;
- *1 fast sync*: one plain callback that counts events (its own subscriber actor, a
  thread);
- *1 fast sync inline*: the same callback added with ``inline=True`` (its actor runs on
  the flows' event loop);
- *1 fast async*: one ``async def`` callback that counts (a task on the effects loop);
- *10 (1 slow)*: nine fast plain callbacks and one that takes 5 ms per event (it falls
  behind; its queue of 10,000 drops the oldest when full, counted).

The time is the flow's alone: ``execute_sync`` returns when the flow ended, whether or
not subscribers have caught up (they never hold a flow). The time until the one fast
subscriber has handled every event is printed too. The set-ups run round-robin (the
order rotates every repeat, ``gc.collect()`` before each timed run) so that noise
hits all alike; figures are medians. Overhead per event = (set-up - streams off) ÷
events per run. Target (issue 12): one fast subscriber adds ≤ 10% to the chain.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from actorflow import (
    ActorSystem,
    EnhancedFlow,
    FlowPlan,
    FlowStatus,
    JournalConfig,
    StreamCallbackData,
    Subscription,
    create_flow_step,
)

perf = time.perf_counter
STEPS = 100
SLOW_SECONDS = 0.005


def noop(label: str) -> str:
    """The step's work: nothing."""
    return label


def chain_plan(n: int = STEPS) -> FlowPlan:
    """A chain of ``n`` steps, each waiting for the one before."""
    steps = []
    for i in range(n):
        deps = [f"s{i - 1}"] if i else []
        params = {"tool_name": "noop", "arguments": {"label": f"s{i}"}}
        steps.append(create_flow_step(f"s{i}", "mcp_tool", params, deps, id=f"s{i}"))
    return FlowPlan(name="chain", steps=steps)


class Counter:
    """A fast plain callback."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, data: StreamCallbackData) -> None:
        self.count += 1


class AsyncCounter:
    """A fast async callback."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, data: StreamCallbackData) -> None:
        self.count += 1


def slow(_data: StreamCallbackData) -> None:
    """A subscriber that takes 5 ms per event."""
    time.sleep(SLOW_SECONDS)


class Setup:
    """One set-up: a facade with its subscribers."""

    def __init__(self, name: str, system: ActorSystem, *, streams: bool = True) -> None:
        self.name = name
        self.flow = EnhancedFlow(system=system)
        self.flow.register_tool("noop", noop)
        self.flow.config.max_parallel_steps = STEPS
        self.flow.config.auto_save_interval = 3600
        self.flow.config.enable_stream_callbacks = streams
        self.subs: list[Subscription] = []
        self.samples: list[float] = []
        self.catch_up: list[float] = []
        self.events = 0

    def add(self, callback: Callable[[StreamCallbackData], Any], *, inline: bool = False) -> None:
        self.subs.append(self.flow.add_stream_callback(callback, inline=inline))

    def run(self, *, timed: bool) -> None:
        plan = chain_plan()
        gc.collect()
        started = perf()
        state = self.flow.execute_sync(plan)
        took = perf() - started
        assert state.status is FlowStatus.COMPLETED, state.error
        if self.subs and self.name.startswith("1 "):
            assert self.subs[0].wait_idle(30)
            caught = perf() - started
            if timed:
                self.catch_up.append(caught)
        if timed:
            self.samples.append(took)


def build(system: ActorSystem) -> list[Setup]:
    off = Setup("streams off", system, streams=False)
    none = Setup("0 subscribers", system)
    one = Setup("1 fast sync", system)
    one.add(Counter())
    one_inline = Setup("1 fast sync inline", system)
    one_inline.add(Counter(), inline=True)
    one_async = Setup("1 fast async", system)
    one_async.add(AsyncCounter())
    ten = Setup("10 (1 slow)", system)
    for _ in range(9):
        ten.add(Counter())
    ten.add(slow)
    return [off, none, one, one_inline, one_async, ten]


def events_per_run(system: ActorSystem) -> int:
    """Count the events of one chain run (a fresh facade and counter)."""
    probe = EnhancedFlow(system=system)
    probe.register_tool("noop", noop)
    counter = Counter()
    sub = probe.add_stream_callback(counter)
    probe.execute_sync(chain_plan())
    assert sub.wait_idle(30)
    sub.close()
    return counter.count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)
    warmup, runs = (1, 5) if args.quick else (3, 21)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        journal = JournalConfig(path=Path(tmp) / "journal")
        with ActorSystem(journal=journal) as system:
            setups = build(system)
            events = events_per_run(system)
            for _ in range(warmup):
                for setup in setups:
                    setup.run(timed=False)
            for r in range(runs):
                turn = setups[r % len(setups) :] + setups[: r % len(setups)]
                for setup in turn:
                    setup.run(timed=True)
            slow_sub = setups[-1].subs[-1].statistics()
    report(setups, events, slow_sub.model_dump(), console, args)
    return 0


def report(setups: list[Setup], events: int, slow_stats: dict[str, int], console: Console,
           args: argparse.Namespace) -> None:  # fmt: skip
    off = statistics.median(setups[0].samples)
    none = statistics.median(setups[1].samples)
    table = Table(title=f"100-step sync chain, {events} stream events per run (medians)")
    for column in ("set-up", "flow ms", "vs streams off", "vs 0 subscribers", "µs/event",
                   "target"):  # fmt: skip
        table.add_column(column, justify="right" if column != "set-up" else "left")
    rows = []
    for setup in setups:
        median = statistics.median(setup.samples)
        per_event = (median - off) / events * 1e6
        target = "≤ 1.10x" if setup.name.startswith("1 fast") else ""
        met = ""
        if target:
            met = " met" if median / off <= 1.10 else " MISSED"
        table.add_row(setup.name, f"{median * 1e3:.2f}", f"{median / off:.2f}x",
                      f"{median / none:.2f}x", f"{per_event:.1f}", target + met)  # fmt: skip
        rows.append({"setup": setup.name, "samples": setup.samples, "median": median,
                     "vs_off": median / off, "vs_none": median / none,
                     "us_per_event": per_event, "catch_up": setup.catch_up})  # fmt: skip
    console.print(table)
    catch = statistics.median(setups[2].catch_up)
    console.print(f"1 fast sync subscriber caught up {catch * 1e3:.2f} ms after the flow started "
                  f"(median); the slow subscriber: {slow_stats}")  # fmt: skip
    commit = subprocess.run(["git", "describe", "--always", "--dirty"],  # noqa: S607
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    machine = {"command": " ".join(["python", "bench/streams.py", *(sys.argv[1:])]),
               "python": platform.python_version(), "cores": os.cpu_count(),
               "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    console.print(machine)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "events": events, "rows": rows,
                                         "slow": slow_stats}, indent=1))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
