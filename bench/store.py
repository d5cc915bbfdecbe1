"""Store benchmark (issue 11): checkpoint cost per step, actorflow against langgraph.

Run ``python bench/store.py`` (``--quick`` for fewer repeats; ``--json FILE`` appends the
figures, and ``--summarize FILE`` gives the median and spread over several invocations).
langgraph's SQLite saver comes with ``pip install 'actorflow[bench]'``. Ratios are
actorflow ÷ langgraph, both measured in the same run, alternating run by run; figures
are medians.

**The work.** A 100-step chain of sync steps that do nothing (each returns its label),
run from plain sync code: ``flow.execute_sync(plan)`` against ``graph.invoke(...)``.
Every step's state change is stored before the next step starts, on both sides:
actorflow writes each change through its store actor (a checkpoint per change, the
next step held until it is committed); langgraph runs with ``durability="sync"`` (the
checkpoint of each superstep is written before the next one starts). actorflow runs
with its journal on (durability ``batch``), as it always does in these benchmarks.

**Same durability on both sides**, checked at start: both SQLite files are in WAL mode
with the same ``synchronous`` setting (read back from each connection), and each side
stores every step before the next one starts (actorflow: one transaction per step, the
step's change as a patch on the previous version, a whole state now and then; langgraph:
two transactions per step, the superstep's writes and its whole checkpoint). Each side
writes what it needs to resume from any step; they do not write the same bytes.

**The pairings.**

1. *memory*: actorflow with a ``MemoryStore`` against langgraph with ``InMemorySaver``.
2. *SQLite*, once per ``synchronous`` setting (``off``, ``normal``, ``full``), both in
   WAL mode with that setting: actorflow's ``SqliteStore`` against langgraph's
   ``SqliteSaver`` (each run a new flow / thread in one file per side). Target ≤ 0.5x,
   reported both on the run's time and on the checkpoint cost per step (below).
3. *no store*, for the per-step cost: actorflow without a store actor (its in-memory
   state manager only) against langgraph without a checkpointer. "Checkpoint cost per
   step" is (time with the store - time without) ÷ 100, per side.
4. *resume*: a 1,000-step chain stopped after 500 steps (its flow actor stopped, the
   stored state left running) is resumed from the SQLite store in a new actor system:
   the time until the first remaining step runs, and until the flow completes. For
   information (actorflow only).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import operator
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from rich.console import Console
from rich.table import Table

from actorflow import (
    ActorSystem,
    EnhancedFlow,
    FlowPlan,
    FlowStatus,
    JournalConfig,
    create_flow_step,
)
from actorflow.stores import MemoryStore, SqliteStore, Store, spawn_store

perf = time.perf_counter
STEPS = 100
RESUME_STEPS = 1_000
console = Console(highlight=False, width=150)


def noop(label: str) -> str:
    return label


def chain_plan(n: int, flow_id: str | None = None) -> FlowPlan:
    steps = [
        create_flow_step(
            f"s{i}",
            "mcp_tool",
            {"tool_name": "noop", "arguments": {"label": f"s{i}"}},
            [f"s{i - 1}"] if i else [],
            id=f"s{i}",
        )
        for i in range(n)
    ]
    plan = FlowPlan(name="chain", steps=steps)
    if flow_id is not None:
        plan.id = flow_id
    return plan


class _State(TypedDict):
    done: Annotated[list[str], operator.add]


def build_graph(n: int, checkpointer: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    def node(label: str) -> Callable[[_State], dict[str, list[str]]]:
        def run(_state: _State) -> dict[str, list[str]]:
            return {"done": [label]}

        return run

    graph = StateGraph(_State)
    for i in range(n):
        graph.add_node(f"s{i}", node(f"s{i}"))
        graph.add_edge(START if i == 0 else f"s{i - 1}", f"s{i}")
    graph.add_edge(f"s{n - 1}", END)
    return graph.compile(checkpointer=checkpointer)


_threads = itertools.count()


@contextmanager
def actorflow_side(folder: Path, store: Store | None) -> Iterator[Callable[[], None]]:
    """A flow on a journaled system hosting ``store`` (None: no store actor)."""
    journal = JournalConfig(path=folder / f"journal-{next(_threads)}")
    with ActorSystem(journal=journal) as system:
        if store is not None:
            spawn_store(system, store)
        flow = EnhancedFlow(system=system)
        flow.register_tool("noop", noop)

        def run() -> None:
            state = flow.execute_sync(chain_plan(STEPS))
            assert state.status is FlowStatus.COMPLETED, state.error

        yield run
    if store is not None:
        store.close()


def langgraph_side(checkpointer: Any) -> Callable[[], None]:
    graph = build_graph(STEPS, checkpointer)

    def run() -> None:
        config: dict[str, Any] = {"recursion_limit": STEPS + 10}
        if checkpointer is not None:
            config["configurable"] = {"thread_id": f"t{next(_threads)}"}
            out = graph.invoke({"done": []}, config, durability="sync")
        else:
            out = graph.invoke({"done": []}, config)
        assert len(out["done"]) == STEPS

    return run


_SYNCHRONOUS = {"off": 0, "normal": 1, "full": 2}


def sqlite_saver(path: Path, synchronous: str) -> Any:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()  # WAL, its tables
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    return saver


def check_same_durability(store: SqliteStore, saver: Any, synchronous: str) -> None:
    """Both connections in WAL mode with ``synchronous`` (read back, not assumed)."""
    ours = store._conn  # the settings actually in force (the store is not in use yet)
    for side, conn in (("actorflow", ours), ("langgraph", saver.conn)):
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = conn.execute("PRAGMA synchronous").fetchone()[0]
        assert (mode, sync) == ("wal", _SYNCHRONOUS[synchronous]), (side, mode, sync)


@dataclass
class Times:
    """One side's measured runs: wall seconds, and process CPU seconds (every thread)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def alternate(
    ours: Callable[[], None], theirs: Callable[[], None], warmup: int, runs: int
) -> tuple[Times, Times]:
    """Run both sides ``runs`` times after ``warmup`` runs, alternating who goes first."""
    for _ in range(warmup):
        ours()
        theirs()
    a, b = Times(), Times()
    for i in range(runs):
        for side, out in ((ours, a), (theirs, b)) if i % 2 == 0 else ((theirs, b), (ours, a)):
            gc.collect()
            cpu, start = time.process_time(), perf()
            side()
            out.wall.append(perf() - start)
            out.cpu.append(time.process_time() - cpu)
    return a, b


def resume_figures(folder: Path) -> tuple[float, float]:
    """Seconds from ``resume`` to the first remaining step, and to the flow's end."""
    path = folder / "resume.sqlite"
    half = RESUME_STEPS // 2
    gate, first = threading.Event(), threading.Event()

    def held(label: str) -> str:
        if label == f"s{half}" and not gate.is_set():
            first.set()
            gate.wait(60)
        return label

    plan = chain_plan(RESUME_STEPS, "resume-me")
    with ActorSystem() as system:
        store = SqliteStore(path)
        spawn_store(system, store)
        flow = EnhancedFlow(system=system)
        flow.register_tool("noop", held)
        runner = threading.Thread(target=lambda: flow.execute_sync(plan), daemon=True)
        runner.start()
        assert first.wait(120)
    gate.set()
    runner.join(60)
    store.close()

    started: list[float] = []

    def timed(label: str) -> str:
        if not started:
            started.append(perf())
        return label

    with ActorSystem() as system:
        store = SqliteStore(path)
        spawn_store(system, store)
        flow = EnhancedFlow(system=system)
        flow.register_tool("noop", timed)
        begin = perf()
        state = flow.resume_sync("resume-me")
        end = perf()
    store.close()
    assert state.status is FlowStatus.COMPLETED, state.error
    return started[0] - begin, end - begin


def _spread(times: list[float]) -> str:
    ms = sorted(t * 1e3 for t in times)
    return f"{statistics.median(ms):.1f} ({ms[0]:.0f}-{ms[-1]:.0f})"


def summarize(path: Path) -> None:
    """Print the median (min-max) over the invocations recorded in ``path`` (``--json``)."""
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    table = Table(title=f"{len(runs)} invocations of bench/store.py: median (min-max)")
    keys = ("af_ms", "lg_ms", "ratio", "cpu_ratio", "af_cost_us", "lg_cost_us", "cost_ratio")
    table.add_column("pairing")
    for key in keys:
        table.add_column(key, justify="right")
    for name in runs[0]:
        if name == "resume":
            continue
        cells = []
        for key in keys:
            values = sorted(run[name][key] for run in runs if key in run[name])
            fmt = ".2f" if "ratio" in key else ".1f" if key.endswith("ms") else ".0f"
            cells.append(
                f"{statistics.median(values):{fmt}} ({values[0]:{fmt}}-{values[-1]:{fmt}})"
                if values
                else ""
            )
        table.add_row(name, *cells)
    console.print(table)
    for key in ("first_ms", "end_ms"):
        values = sorted(run["resume"][key] for run in runs)
        console.print(f"resume {key}: {statistics.median(values):.1f} "
                      f"({values[0]:.1f}-{values[-1]:.1f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="append this run's figures to a JSON-lines file")
    parser.add_argument("--summarize", type=Path, help="summarize a --json file, run nothing")
    args = parser.parse_args()
    if args.summarize is not None:
        summarize(args.summarize)
        return
    warmup, runs = (1, 5) if args.quick else (3, 15)
    from langgraph.checkpoint.memory import InMemorySaver

    rows: list[tuple[str, Times, Times, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="actorflow-bench-store-") as tmp:
        folder = Path(tmp)
        with actorflow_side(folder, None) as ours:
            bare = alternate(ours, langgraph_side(None), warmup, runs)
        rows.append(("no store", *bare, None))
        with actorflow_side(folder, MemoryStore()) as ours:
            rows.append(
                ("memory", *alternate(ours, langgraph_side(InMemorySaver()), warmup, runs), None)
            )
        for mode in ("off", "normal", "full"):
            store = SqliteStore(folder / f"af-{mode}.sqlite", synchronous=mode)
            saver = sqlite_saver(folder / f"lg-{mode}.sqlite", mode)
            check_same_durability(store, saver, mode)
            theirs = langgraph_side(saver)
            with actorflow_side(folder, store) as ours:
                rows.append((f"SQLite {mode}", *alternate(ours, theirs, warmup, runs), 0.5))
        to_first, to_end = resume_figures(folder)

    table = Table(
        title=f"100-step sync chain, every step stored before the next ({runs} runs, medians)"
    )
    for column in (
        "pairing",
        "actorflow ms",
        "langgraph ms",
        "ratio",
        "cpu ratio",
        "af cost/step µs",
        "lg cost/step µs",
        "cost ratio",
        "target ≤ 0.5x",
    ):
        table.add_column(column, justify="right")
    med = statistics.median
    base_a, base_b = med(bare[0].wall), med(bare[1].wall)
    figures: dict[str, dict[str, float]] = {}
    for name, a, b, target in rows:
        ma, mb = med(a.wall), med(b.wall)
        ratio, cpu_ratio = ma / mb, med(a.cpu) / med(b.cpu)
        figures[name] = {"af_ms": ma * 1e3, "lg_ms": mb * 1e3, "ratio": ratio,
                         "af_cpu_ms": med(a.cpu) * 1e3, "lg_cpu_ms": med(b.cpu) * 1e3,
                         "cpu_ratio": cpu_ratio}  # fmt: skip
        cells = [_spread(a.wall), _spread(b.wall), f"{ratio:.2f}x", f"{cpu_ratio:.2f}x"]
        if name == "no store":
            table.add_row(name, *cells, "", "", "", "")
            continue
        cost_a, cost_b = (ma - base_a) / STEPS, (mb - base_b) / STEPS
        figures[name] |= {"af_cost_us": cost_a * 1e6, "lg_cost_us": cost_b * 1e6,
                          "cost_ratio": cost_a / cost_b}  # fmt: skip
        marks = (
            "-"
            if target is None
            else " / ".join("met" if r <= target else "missed" for r in (ratio, cost_a / cost_b))
        )
        table.add_row(name, *cells, f"{cost_a * 1e6:.0f}", f"{cost_b * 1e6:.0f}",
                      f"{cost_a / cost_b:.2f}x", marks)  # fmt: skip
    console.print(table)
    console.print(
        "[dim]ms: median (min-max) of wall time; cpu ratio: of the medians of process CPU "
        f"time; cost/step: (median with the store - median without) / {STEPS}; target: on "
        "the run's time / on the cost per step[/]"
    )
    if args.json is not None:
        figures["resume"] = {"first_ms": to_first * 1e3, "end_ms": to_end * 1e3}
        with args.json.open("a") as out:
            out.write(json.dumps(figures) + "\n")
    console.print(
        f"resume of a {RESUME_STEPS:,}-step flow stopped after {RESUME_STEPS // 2} steps "
        f"(SQLite, normal): first remaining step after {to_first * 1e3:.1f} ms, "
        f"flow completed after {to_end * 1e3:.1f} ms"
    )
    console.print(f"[dim]{platform.python_implementation()} {sys.version.split()[0]}, "
                  f"{platform.machine()}, {os.cpu_count()} CPUs[/]")  # fmt: skip


if __name__ == "__main__":
    main()
