"""Store benchmark (issue 11): checkpoint cost per step, actorflow against langgraph.

Run ``python bench/store.py`` (``--quick`` for fewer repeats). langgraph's SQLite saver
comes with ``pip install 'actorflow[bench]'``. Ratios are actorflow ÷ langgraph, both
measured in the same run, alternating run by run; figures are medians.

**The work.** A 100-step chain of sync steps that do nothing (each returns its label),
run from plain sync code: ``flow.execute_sync(plan)`` against ``graph.invoke(...)``.
Every step's state change is stored before the next step starts, on both sides:
actorflow writes each change through its store actor (a checkpoint per change, the
next step held until it is committed); langgraph runs with ``durability="sync"`` (the
checkpoint of each superstep is written before the next one starts). actorflow runs
with its journal on (durability ``batch``), as it always does in these benchmarks.

**The pairings.**

1. *memory*: actorflow with a ``MemoryStore`` against langgraph with ``InMemorySaver``.
2. *SQLite*, once per ``synchronous`` setting (``off``, ``normal``, ``full``), both in
   WAL mode with that setting: actorflow's ``SqliteStore`` against langgraph's
   ``SqliteSaver`` (each run a new flow / thread in one file per side). Target ≤ 0.5x.
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
console = Console(highlight=False)


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


def sqlite_saver(path: Path, synchronous: str) -> Any:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()  # WAL, its tables
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    return saver


def alternate(
    ours: Callable[[], None], theirs: Callable[[], None], warmup: int, runs: int
) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        ours()
        theirs()
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        for side, out in ((ours, a), (theirs, b)) if i % 2 == 0 else ((theirs, b), (ours, a)):
            gc.collect()
            start = perf()
            side()
            out.append(perf() - start)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    warmup, runs = (1, 5) if args.quick else (3, 15)
    from langgraph.checkpoint.memory import InMemorySaver

    rows: list[tuple[str, list[float], list[float], float | None]] = []
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
            theirs = langgraph_side(sqlite_saver(folder / f"lg-{mode}.sqlite", mode))
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
        "target",
        "af cost/step µs",
        "lg cost/step µs",
    ):
        table.add_column(column, justify="right")
    base_a, base_b = statistics.median(bare[0]), statistics.median(bare[1])
    for name, a, b, target in rows:
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = ma / mb
        mark = "" if target is None else (" ✓" if ratio <= target else " ✗")
        cost_a = "" if name == "no store" else f"{(ma - base_a) / STEPS * 1e6:.0f}"
        cost_b = "" if name == "no store" else f"{(mb - base_b) / STEPS * 1e6:.0f}"
        table.add_row(name, f"{ma * 1e3:.1f}", f"{mb * 1e3:.1f}", f"{ratio:.2f}x{mark}",
                      "-" if target is None else f"≤ {target}x", cost_a, cost_b)  # fmt: skip
    console.print(table)
    console.print(
        f"resume of a {RESUME_STEPS:,}-step flow stopped after {RESUME_STEPS // 2} steps "
        f"(SQLite, normal): first remaining step after {to_first * 1e3:.1f} ms, "
        f"flow completed after {to_end * 1e3:.1f} ms"
    )
    console.print(f"[dim]{platform.python_implementation()} {sys.version.split()[0]}, "
                  f"{platform.machine()}, {os.cpu_count()} CPUs[/]")  # fmt: skip


if __name__ == "__main__":
    main()
