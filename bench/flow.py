"""Flow benchmark (issue 9): actorflow against langgraph in four pairings, same work.

Run ``python bench/flow.py`` (full), ``python bench/flow.py --quick`` (fewer repeats),
and add ``--json FILE`` to also write every sample. langgraph comes with
``pip install 'actorflow[bench]'``. Ratios are actorflow ÷ langgraph, both measured in
the same run.

**The work.** Every step does nothing (it returns its label), so the figures are each
engine's own overhead. Two graphs: a 100-step chain (each step waits for the one
before) and a 100-branch fan-out whose 100 branches a join step waits for (101 steps).
langgraph runs the same graph, one node per step; its state collects the labels in a
list (``Annotated[list, operator.add]``) where actorflow keeps each step's result.
actorflow always runs with its journal on (``JournalConfig``, durability ``batch``)
and its default in-memory state manager, which it cannot run without: every actorflow
figure includes its checkpoints (at most one per ``checkpoint_interval``, 5 ms by
default, while steps keep completing, and always one when the flow ends).

**The pairings.**

1. *sync* and *async*, langgraph without a checkpointer. Sync: a plain ``def`` tool
   registered with ``flow.register_tool`` against sync nodes; the time of
   ``flow.execute_sync(plan)`` against ``graph.invoke(...)``, both called from plain
   sync code. actorflow runs every sync tool call in a worker thread; langgraph runs
   a superstep's lone node inline (each chain step) and several in its thread pool
   (the fan-out). ``execute_sync`` starts an event loop per call, as a script would.
   Async: an ``async def`` tool against async nodes; ``await flow.execute(plan)``
   against ``await graph.ainvoke(...)`` in one event loop.
   Targets: sync ≤ 1.0x, async ≤ 0.5x. Two more sync rows, for information, register
   the same tool with ``inline=True`` (a sync tool that never blocks runs on the
   flows' event loop, as langgraph runs a lone node in its caller's thread).
2. *checkpoints*: the async graphs, langgraph compiled with ``InMemorySaver`` (a new
   ``thread_id`` per run, default durability ``"async"``: one checkpoint per
   superstep). actorflow twice: with its default options, and with
   ``checkpoint_interval = 0`` (a checkpoint after every step change). How many
   checkpoints each side saved per run is printed under the table. Target ≤ 0.5x.
3. *1,000 concurrent flows*: 1,000 10-step chains (async tools / nodes) started at
   once under ``asyncio.gather``: ``flow.execute(plan)`` on one EnhancedFlow and actor
   system against ``graph.ainvoke(...)`` on one compiled graph. Time: the gather alone
   (actorflow's 1,000 plans are built before it, and the time that takes is printed).
   Target ≤ 0.5x. Memory per flow, measured the same way for both sides, each in a
   fresh child process after a warm-up batch: the tracemalloc peak during the batch
   (Python allocations; actorflow's plans included), and the growth of peak RSS
   (``VmHWM``, reset through ``/proc/self/clear_refs``, over ``VmRSS`` before the
   batch), each divided by 1,000; for information, no target. actorflow's state
   manager keeps every flow's final state, so that is in its figure too.

**How.** Warm-up runs first; then the two sides alternate run by run (the order swaps
every repeat, ``gc.collect()`` before each timed run), so noise from other processes
hits both. Figures are medians of the repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import itertools
import json
import operator
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from rich.console import Console
from rich.table import Table

from actorflow import (
    ActorSystem,
    EnhancedFlow,
    FlowPlan,
    FlowState,
    FlowStatus,
    InMemoryStateManager,
    JournalConfig,
    create_flow_step,
)

perf = time.perf_counter
STEPS = 100
"""Steps of the chain, and branches of the fan-out."""
CONCURRENT = 1_000
"""Flows of pairing 3, started at once."""
CONCURRENT_STEPS = 10
"""Steps of each flow of pairing 3 (a chain)."""
PROBE_WARMUP = 100
"""Flows of the warm-up batch in a memory probe."""
PROBE_TIMEOUT = 600.0


@dataclass(frozen=True)
class Sizes:
    """Repeats of one invocation (``--quick`` or full)."""

    warmup: int
    """Untimed runs of each side before pairings 1 and 2."""
    runs: int
    """Timed runs of each side in pairings 1 and 2."""
    concurrent_warmup: int
    """Flows of each side's untimed warm-up batch in pairing 3."""
    concurrent_runs: int
    """Timed batches of 1,000 flows of each side in pairing 3."""


FULL = Sizes(warmup=3, runs=15, concurrent_warmup=200, concurrent_runs=5)
QUICK = Sizes(warmup=1, runs=3, concurrent_warmup=PROBE_WARMUP, concurrent_runs=2)


@dataclass
class Row:
    """One line of the table: both sides' samples (seconds or bytes per flow)."""

    pairing: str
    graph: str
    unit: str
    """``ms`` (samples in seconds) or ``KiB`` (samples in bytes)."""
    actorflow: list[float]
    langgraph: list[float]
    target: float | None
    """Highest acceptable ratio; None for a figure given for information."""

    @property
    def ratio(self) -> float:
        """Median of actorflow ÷ median of langgraph."""
        return statistics.median(self.actorflow) / statistics.median(self.langgraph)

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None without a target)."""
        return None if self.target is None else self.ratio <= self.target


# -- the work ---------------------------------------------------------------------------


def noop(label: str) -> str:
    """A sync tool's work: nothing."""
    return label


async def anoop(label: str) -> str:
    """An async tool's work: nothing."""
    return label


def chain_plan(n: int, tool: str) -> FlowPlan:
    """Return n steps calling ``tool``, each depending on the one before."""
    steps = []
    for i in range(n):
        deps = [f"s{i - 1}"] if i else []
        params = {"tool_name": tool, "arguments": {"label": f"s{i}"}}
        steps.append(create_flow_step(f"s{i}", "mcp_tool", params, deps, id=f"s{i}"))
    return FlowPlan(name="chain", steps=steps)


def fanout_plan(n: int, tool: str) -> FlowPlan:
    """Return n independent steps calling ``tool``, then one step joining them."""
    steps = []
    for i in range(n):
        params = {"tool_name": tool, "arguments": {"label": f"b{i}"}}
        steps.append(create_flow_step(f"b{i}", "mcp_tool", params, id=f"b{i}"))
    steps.append(create_flow_step("join", "synchronization", {}, [s.id for s in steps], id="join"))
    return FlowPlan(name="fanout", steps=steps)


PLANS: dict[str, Callable[[int, str], FlowPlan]] = {"chain": chain_plan, "fan-out": fanout_plan}


def step_count(kind: str, n: int) -> int:
    """Steps (nodes) of a graph of ``kind``."""
    return n if kind == "chain" else n + 1


class _State(TypedDict):
    done: Annotated[list[str], operator.add]


def build_graph(kind: str, n: int, *, is_async: bool, checkpointer: Any = None) -> Any:
    """Compile the langgraph twin of ``PLANS[kind](n, ...)``: sync or async nodes."""
    from langgraph.graph import END, START, StateGraph

    def node(label: str) -> Any:  # a sync or an async node function
        def run(_state: _State) -> dict[str, list[str]]:
            return {"done": [label]}

        async def arun(_state: _State) -> dict[str, list[str]]:
            return {"done": [label]}

        return arun if is_async else run

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
    return graph.compile(checkpointer=checkpointer)


_threads = itertools.count()


def graph_config(steps: int, *, checkpointer: bool) -> Any:  # a RunnableConfig
    """A run's config: a recursion limit above the steps, and a new thread if saving."""
    config: dict[str, Any] = {"recursion_limit": steps + 10}
    if checkpointer:
        config["configurable"] = {"thread_id": f"t{next(_threads)}"}
    return config


@contextmanager
def open_flow(journal_dir: Path, *, checkpoint_interval: float | None = None) -> Iterator[Any]:
    """Yield an EnhancedFlow on its own actor system, journal on, both tools registered."""
    journal = JournalConfig(path=Path(tempfile.mkdtemp(dir=journal_dir)) / "journal")
    with ActorSystem(journal=journal) as system:
        flow = EnhancedFlow(system=system)
        flow.register_tool("noop", noop)
        flow.register_tool("inline_noop", noop, inline=True)
        flow.register_tool("anoop", anoop)
        flow.config.max_parallel_steps = STEPS + 1
        flow.config.auto_save_interval = 3600  # no timed checkpoints on top
        if checkpoint_interval is not None:
            flow.config.checkpoint_interval = checkpoint_interval
        yield flow


def check_flow(state: FlowState) -> None:
    """Fail loudly if a flow did not complete."""
    assert state.status is FlowStatus.COMPLETED, state.error


def check_graph(out: dict[str, Any], steps: int) -> None:
    """Fail loudly if a graph run did not visit every node."""
    assert len(out["done"]) == steps, len(out["done"])


# -- timing: the two sides alternate ------------------------------------------------------

Timer = Callable[[], float]
AsyncTimer = Callable[[], Awaitable[float]]


def alternate(ours: Timer, theirs: Timer, sizes: Sizes) -> tuple[list[float], list[float]]:
    """Warm both up, then time them in turns (order swapped each repeat)."""
    for _ in range(sizes.warmup):
        ours()
        theirs()
    a: list[float] = []
    b: list[float] = []
    for i in range(sizes.runs):
        for fn, out in ((ours, a), (theirs, b)) if i % 2 == 0 else ((theirs, b), (ours, a)):
            gc.collect()
            out.append(fn())
    return a, b


async def alternate_async(
    ours: AsyncTimer, theirs: AsyncTimer, warmup: int, runs: int
) -> tuple[list[float], list[float]]:
    """:func:`alternate` for coroutines."""
    for _ in range(warmup):
        await ours()
        await theirs()
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        for fn, out in ((ours, a), (theirs, b)) if i % 2 == 0 else ((theirs, b), (ours, a)):
            gc.collect()
            out.append(await fn())
    return a, b


def sync_timers(flow: EnhancedFlow, kind: str, tool: str = "noop") -> tuple[Timer, Timer]:
    """Timers of one actorflow run (sync tool) and one langgraph run (sync nodes)."""
    steps = step_count(kind, STEPS)
    app = build_graph(kind, STEPS, is_async=False)

    def ours() -> float:
        plan = PLANS[kind](STEPS, tool)
        start = perf()
        state = flow.execute_sync(plan)
        elapsed = perf() - start
        check_flow(state)
        return elapsed

    def theirs() -> float:
        config = graph_config(steps, checkpointer=False)
        start = perf()
        out = app.invoke({"done": []}, config)
        elapsed = perf() - start
        check_graph(out, steps)
        return elapsed

    return ours, theirs


def async_timers(flow: EnhancedFlow, kind: str, saver: Any = None) -> tuple[AsyncTimer, AsyncTimer]:
    """Timers of one actorflow run (async tool) and one langgraph run (async nodes)."""
    steps = step_count(kind, STEPS)
    app = build_graph(kind, STEPS, is_async=True, checkpointer=saver)

    async def ours() -> float:
        plan = PLANS[kind](STEPS, "anoop")
        start = perf()
        state = await flow.execute(plan)
        elapsed = perf() - start
        check_flow(state)
        return elapsed

    async def theirs() -> float:
        config = graph_config(steps, checkpointer=saver is not None)
        start = perf()
        out = await app.ainvoke({"done": []}, config)
        elapsed = perf() - start
        check_graph(out, steps)
        return elapsed

    return ours, theirs


# -- pairings 1 and 2 ---------------------------------------------------------------------


def bench_sync(sizes: Sizes, tmp: Path) -> list[Row]:
    """Pairing 1, sync: execute_sync with a sync tool vs invoke with sync nodes."""
    rows = []
    with open_flow(tmp) as flow:
        for kind in PLANS:
            a, b = alternate(*sync_timers(flow, kind), sizes)
            rows.append(Row("1 sync", kind, "ms", a, b, 1.0))
        for kind in PLANS:  # the opt-in for sync tools that never block (no target)
            a, b = alternate(*sync_timers(flow, kind, "inline_noop"), sizes)
            rows.append(Row("1 sync, tool inline=True (info)", kind, "ms", a, b, None))
    return rows


def bench_async(sizes: Sizes, tmp: Path) -> list[Row]:
    """Pairing 1, async: execute with an async tool vs ainvoke with async nodes."""

    async def run() -> list[Row]:
        rows = []
        with open_flow(tmp) as flow:
            for kind in PLANS:
                a, b = await alternate_async(*async_timers(flow, kind), sizes.warmup, sizes.runs)
                rows.append(Row("1 async", kind, "ms", a, b, 0.5))
        return rows

    return asyncio.run(run())


def bench_checkpoints(sizes: Sizes, tmp: Path) -> list[Row]:
    """Pairing 2: async graphs, actorflow's state manager vs langgraph's InMemorySaver."""
    from langgraph.checkpoint.memory import InMemorySaver

    variants = (("2 checkpoints", None), ("2 checkpoints, every change", 0.0))

    async def run() -> list[Row]:
        rows = []
        for pairing, interval in variants:
            with open_flow(tmp, checkpoint_interval=interval) as flow:
                for kind in PLANS:
                    timers = async_timers(flow, kind, InMemorySaver())
                    a, b = await alternate_async(*timers, sizes.warmup, sizes.runs)
                    rows.append(Row(pairing, kind, "ms", a, b, 0.5))
        return rows

    return asyncio.run(run())


class CountingStateManager:
    """The in-memory state manager, counting the checkpoints saved."""

    def __init__(self) -> None:
        self.inner = InMemoryStateManager()
        self.saves = 0

    def save_state_nowait(self, flow_id: str, state: FlowState) -> None:
        """Count, then save as the in-memory manager does."""
        self.saves += 1
        self.inner.save_state_nowait(flow_id, state)

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        """Count, then save."""
        self.save_state_nowait(flow_id, state)

    async def load_state(self, flow_id: str) -> FlowState | None:
        """As the in-memory manager."""
        return await self.inner.load_state(flow_id)

    async def delete_state(self, flow_id: str) -> None:
        """As the in-memory manager."""
        await self.inner.delete_state(flow_id)

    async def list_flows(self) -> list[str]:
        """As the in-memory manager."""
        return await self.inner.list_flows()


def count_checkpoints(tmp: Path, runs: int = 5) -> dict[str, dict[str, float]]:
    """Checkpoints saved per run (mean of ``runs`` untimed runs after one warm-up)."""
    from langgraph.checkpoint.memory import InMemorySaver

    async def actorflow_saves(kind: str, interval: float | None) -> float:
        with open_flow(tmp, checkpoint_interval=interval) as flow:
            manager = CountingStateManager()
            flow.executor.state_manager = manager
            for i in range(runs + 1):
                if i == 1:
                    manager.saves = 0
                check_flow(await flow.execute(PLANS[kind](STEPS, "anoop")))
        return manager.saves / runs

    async def langgraph_saves(kind: str) -> float:
        saver = InMemorySaver()
        app = build_graph(kind, STEPS, is_async=True, checkpointer=saver)
        total = 0
        for _ in range(runs):
            config = graph_config(step_count(kind, STEPS), checkpointer=True)
            await app.ainvoke({"done": []}, config)
            total += len(list(saver.list(config)))
        return total / runs

    async def run() -> dict[str, dict[str, float]]:
        return {
            kind: {
                "actorflow_default": await actorflow_saves(kind, None),
                "actorflow_every_change": await actorflow_saves(kind, 0.0),
                "langgraph": await langgraph_saves(kind),
            }
            for kind in PLANS
        }

    return asyncio.run(run())


# -- pairing 3 ----------------------------------------------------------------------------


def langgraph_batch() -> Callable[[int], Awaitable[float]]:
    """Return ``batch(k)``: k 10-step chains at once on one compiled graph; seconds."""
    app = build_graph("chain", CONCURRENT_STEPS, is_async=True)

    async def batch(k: int) -> float:
        config = graph_config(CONCURRENT_STEPS, checkpointer=False)
        start = perf()
        outs = await asyncio.gather(*(app.ainvoke({"done": []}, config) for _ in range(k)))
        elapsed = perf() - start
        for out in outs:
            check_graph(out, CONCURRENT_STEPS)
        return elapsed

    return batch


def actorflow_batch(flow: EnhancedFlow) -> Callable[[int], Awaitable[float]]:
    """Return ``batch(k)``: k 10-step chains at once on ``flow``; seconds of the gather."""

    async def batch(k: int) -> float:
        plans = [chain_plan(CONCURRENT_STEPS, "anoop") for _ in range(k)]
        start = perf()
        states = await asyncio.gather(*(flow.execute(plan) for plan in plans))
        elapsed = perf() - start
        for state in states:
            check_flow(state)
        return elapsed

    return batch


def bench_concurrent(sizes: Sizes, tmp: Path) -> tuple[Row, float]:
    """Pairing 3, time: the gather of 1,000 flows; also the time to build their plans."""

    async def run() -> tuple[list[float], list[float]]:
        with open_flow(tmp) as flow:
            ours, theirs = actorflow_batch(flow), langgraph_batch()
            await ours(sizes.concurrent_warmup)
            await theirs(sizes.concurrent_warmup)
            return await alternate_async(
                lambda: ours(CONCURRENT), lambda: theirs(CONCURRENT), 0, sizes.concurrent_runs
            )

    a, b = asyncio.run(run())
    builds = []
    for _ in range(3):
        start = perf()
        _ = [chain_plan(CONCURRENT_STEPS, "anoop") for _ in range(CONCURRENT)]
        builds.append(perf() - start)
    row = Row("3 concurrent", f"{CONCURRENT:,} x {CONCURRENT_STEPS}-step chain", "ms", a, b, 0.5)
    return row, statistics.median(builds)


def _status_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise LookupError(field_name)


def memory_probe(side: str, method: str) -> float:
    """Bytes per flow of a 1,000-flow batch on ``side`` (runs in a fresh child process)."""

    async def measure(batch: Callable[[int], Awaitable[float]]) -> float:
        await batch(PROBE_WARMUP)
        gc.collect()
        if method == "tracemalloc":
            tracemalloc.start()
            await batch(CONCURRENT)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        else:
            before = _status_kib("VmRSS")
            with suppress(OSError):  # unreset, VmHWM may include the warm-up
                Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to VmRSS
            await batch(CONCURRENT)
            peak = (_status_kib("VmHWM") - before) * 1024
        return peak / CONCURRENT

    async def run() -> float:
        if side == "langgraph":
            return await measure(langgraph_batch())
        with tempfile.TemporaryDirectory() as tmp, open_flow(Path(tmp)) as flow:
            return await measure(actorflow_batch(flow))

    return asyncio.run(run())


def run_memory_probe(side: str, method: str) -> float:
    """Run :func:`memory_probe` in a fresh interpreter; return bytes per flow."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-probe", side, method]
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"memory probe {side}/{method} failed ({done.returncode}):\n{tail}")
    return float(json.loads(lines[-1]))


def bench_memory(errors: list[str]) -> list[Row]:
    """Pairing 3, memory per flow: both methods, each side in its own child process."""
    rows = []
    for method, label in (("tracemalloc", "tracemalloc peak"), ("rss", "peak RSS growth")):
        try:
            a = run_memory_probe("actorflow", method)
            b = run_memory_probe("langgraph", method)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            errors.append(str(exc))  # reported; the timings measured so far still print
            continue
        rows.append(Row("3 memory per flow", label, "KiB", [a], [b], None))
    return rows


# -- output -------------------------------------------------------------------------------


def fmt(value: float, unit: str) -> str:
    """A median in the table's unit."""
    return f"{value * 1e3:,.2f}" if unit == "ms" else f"{value / 1024:,.1f}"


def render(rows: Sequence[Row], console: Console) -> None:
    """Print the table."""
    table = Table(title="actorflow vs langgraph: medians (ratio = actorflow ÷ langgraph)")
    for col in ("pairing", "graph", "unit", "actorflow", "langgraph", "ratio", "target"):
        table.add_column(col, justify="left" if col in ("pairing", "graph") else "right")
    table.add_column("status")
    for row in rows:
        status = {True: "[green]met", False: "[red]missed", None: "info"}[row.met]
        table.add_row(
            row.pairing,
            row.graph,
            row.unit,
            fmt(statistics.median(row.actorflow), row.unit),
            fmt(statistics.median(row.langgraph), row.unit),
            f"{row.ratio:.2f}x",
            "" if row.target is None else f"≤ {row.target:.1f}x",
            status,
        )
    console.print(table)


def machine_info(argv: Sequence[str]) -> dict[str, Any]:
    """Where and on what the figures were taken."""
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent,
    ).stdout.strip()
    return {
        "command": " ".join(["python", "bench/flow.py", *argv]),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "langgraph": importlib.metadata.version("langgraph"),
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


@dataclass
class Report:
    """Everything one invocation measured (``--json`` writes it)."""

    machine: dict[str, Any]
    sizes: dict[str, int]
    rows: list[Row] = field(default_factory=list)
    checkpoints_per_run: dict[str, dict[str, float]] = field(default_factory=dict)
    plan_build_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data, with each row's medians and ratio."""
        rows = [
            {
                **asdict(r),
                "actorflow_median": statistics.median(r.actorflow),
                "langgraph_median": statistics.median(r.langgraph),
                "ratio": r.ratio,
                "met": r.met,
            }
            for r in self.rows
        ]
        return {**asdict(self), "rows": rows}


def print_notes(report: Report, console: Console) -> None:
    """Print what the table cannot say: checkpoint counts, plan build time."""
    for kind, counts in report.checkpoints_per_run.items():
        console.print(
            f"checkpoints saved per {kind} run: actorflow {counts['actorflow_default']:g} "
            f"(default), {counts['actorflow_every_change']:g} (every change); "
            f"langgraph InMemorySaver {counts['langgraph']:g}"
        )
    console.print(
        f"building the {CONCURRENT:,} plans of pairing 3 (actorflow only, not in its time): "
        f"{report.plan_build_s * 1e3:.1f} ms"
    )
    for error in report.errors:
        console.print(f"[red]{error}")
    console.print(
        f"{sum(r.met is True for r in report.rows)} targets met, "
        f"{sum(r.met is False for r in report.rows)} missed; {report.elapsed_s:.0f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every pairing, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw figures")
    parser.add_argument("--memory-probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        sys.stdout.write(f"{json.dumps(memory_probe(*args.memory_probe))}\n")
        return 0
    try:
        importlib.metadata.version("langgraph")
    except importlib.metadata.PackageNotFoundError:
        sys.stderr.write("langgraph is not installed: pip install 'actorflow[bench]'\n")
        return 2
    sizes = QUICK if args.quick else FULL
    console = Console() if sys.stdout.isatty() else Console(width=140)
    report = Report(machine_info(sys.argv[1:] if argv is None else argv), asdict(sizes))
    console.print(report.machine)
    started = perf()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for section in (bench_sync, bench_async, bench_checkpoints):
            console.print(f"[dim]{perf() - started:6.1f}s {section.__doc__}")
            report.rows.extend(section(sizes, Path(tmp)))
        report.checkpoints_per_run = count_checkpoints(Path(tmp))
        console.print(f"[dim]{perf() - started:6.1f}s {bench_concurrent.__doc__}")
        row, report.plan_build_s = bench_concurrent(sizes, Path(tmp))
        report.rows.append(row)
    console.print(f"[dim]{perf() - started:6.1f}s {bench_memory.__doc__}")
    report.rows.extend(bench_memory(report.errors))
    report.elapsed_s = perf() - started
    render(report.rows, console)
    print_notes(report, console)
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
