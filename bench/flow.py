"""Flow benchmark: a 100-step chain and a 100-branch fan-out, actorflow vs langgraph.

Run ``python bench/flow.py`` (full) or ``python bench/flow.py --quick``. Each graph's
steps do nothing (they return a constant), so the figures are the engines' own
per-step overhead. actorflow runs with the journal on (batch policy) and the
in-memory state manager; langgraph (if installed: ``pip install 'actorflow[bench]'``)
runs the same graph compiled without a checkpointer. Figures are medians of
several runs after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
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

perf = time.perf_counter


def noop(label: str) -> str:
    """The step's work: nothing."""
    return label


async def anoop(label: str) -> str:
    """The step's work, async: nothing."""
    return label


def chain_plan(n: int) -> FlowPlan:
    """n steps, each depending on the one before."""
    steps = []
    for i in range(n):
        deps = [f"s{i - 1}"] if i else []
        params = {"tool_name": "noop", "arguments": {"label": f"s{i}"}}
        steps.append(create_flow_step(f"s{i}", "mcp_tool", params, deps, id=f"s{i}"))
    return FlowPlan(name="chain", steps=steps)


def fanout_plan(n: int) -> FlowPlan:
    """n independent steps, then one step joining them."""
    steps = []
    for i in range(n):
        params = {"tool_name": "noop", "arguments": {"label": f"b{i}"}}
        steps.append(create_flow_step(f"b{i}", "mcp_tool", params, id=f"b{i}"))
    steps.append(create_flow_step("join", "synchronization", {}, [s.id for s in steps], id="join"))
    return FlowPlan(name="fanout", steps=steps)


def run_actorflow(make: Callable[[int], FlowPlan], n: int, runs: int, journal_dir: Path) -> float:
    """Median seconds per flow run."""
    times = []
    journal = JournalConfig(path=journal_dir / "journal")
    with ActorSystem(journal=journal) as system:
        flow = EnhancedFlow(system=system)
        flow.register_tool("noop", anoop)
        flow.config.max_parallel_steps = n + 1
        flow.config.auto_save_interval = 3600

        async def once() -> float:
            plan = make(n)
            start = perf()
            state = await flow.execute(plan)
            elapsed = perf() - start
            assert state.status is FlowStatus.COMPLETED, state.error
            return elapsed

        async def all_runs() -> None:
            await once()  # warm-up
            for _ in range(runs):
                times.append(await once())

        asyncio.run(all_runs())
    return statistics.median(times)


class _State(TypedDict):
    done: Annotated[list[str], operator.add]


def run_langgraph(kind: str, n: int, runs: int) -> float | None:
    """Median seconds per graph run, or None if langgraph is not installed."""
    try:
        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None

    def node(label: str) -> Callable[[_State], dict[str, Any]]:
        def run(_state: _State) -> dict[str, Any]:
            return {"done": [label]}

        return run

    graph = StateGraph(_State)
    if kind == "chain":
        for i in range(n):
            graph.add_node(f"s{i}", node(f"s{i}"))
            graph.add_edge(START if i == 0 else f"s{i - 1}", f"s{i}")
        graph.add_edge(f"s{n - 1}", END)
    else:
        for i in range(n):
            graph.add_node(f"b{i}", node(f"b{i}"))
            graph.add_edge(START, f"b{i}")
        graph.add_node("join", node("join"))
        graph.add_edge([f"b{i}" for i in range(n)], "join")
        graph.add_edge("join", END)
    app = graph.compile()
    app.invoke({"done": []}, {"recursion_limit": n + 10})  # warm-up
    times = []
    for _ in range(runs):
        start = perf()
        app.invoke({"done": []}, {"recursion_limit": n + 10})
        times.append(perf() - start)
    return statistics.median(times)


def main() -> None:
    """Run and print the table."""
    parser = argparse.ArgumentParser(description="Flow engine benchmark")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, runs = 100, (3 if args.quick else 15)
    console = Console()
    console.print(f"python {platform.python_version()}, {os.cpu_count()} cores")
    table = Table(title=f"{n}-step graphs: time per run (ms) and per step (µs)")
    for col in ("graph", "actorflow (journal on)", "per step", "langgraph", "per step", "ratio"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for kind, make in (("chain", chain_plan), ("fan-out", fanout_plan)):
            ours = run_actorflow(make, n, runs, Path(tmp))
            theirs = run_langgraph("chain" if kind == "chain" else "fanout", n, runs)
            steps = n if kind == "chain" else n + 1
            table.add_row(
                kind,
                f"{ours * 1e3:.1f}",
                f"{ours / steps * 1e6:.0f}",
                "-" if theirs is None else f"{theirs * 1e3:.1f}",
                "-" if theirs is None else f"{theirs / steps * 1e6:.0f}",
                "-" if theirs is None else f"{ours / theirs:.2f}x",
            )
    console.print(table)


if __name__ == "__main__":
    main()
