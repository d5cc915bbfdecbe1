"""Agents benchmark (issue 14): many agent actors in one process, request/response and
broadcast against autogen-core's ``SingleThreadedAgentRuntime``, and what
``orchestrate_agents`` adds to a 3-agent task.

Run ``python bench/agents.py`` (full, a few minutes on 2 cores), ``--quick`` (smoke run),
``--only population autogen orchestrate`` for a subset, ``--json FILE`` to keep every
sample. Needs ``pip install '.[bench]'`` (autogen-core) for section 2.

**1. Population** (each configuration in a fresh subprocess, so RSS figures do not mix):
spawn N agents, wait until every one has run ``on_start``, then one round in which a
coordinator actor tells every agent one request and counts the N replies (pykka: a
coordinator actor tells every worker its ref, each worker tells it back). Figures: spawn
time per agent, RSS growth per agent (after the round, with the C heap's free memory
given back by ``malloc_trim``; after spawning and untrimmed in the note: the untrimmed
figure also holds what the round's N queued messages left free for reuse), round trips
per second across the agents, and the time to stop them all. Configurations:
raw pykka ``ThreadingActor`` at 10,000 (the baseline; a thread each, its practical
ceiling), actorflow's thread dispatcher at 10,000, and the loop dispatcher at 10,000 and
100,000; each actorflow one with a minimal ``Behaviour`` that answers (the runtime's own
cost) and with ``BaseAgent`` (a no-op ``handle_task``: the agent layer, whose every task
runs as an effect). Target: 100,000 agents on the loop dispatcher at ≤ 4 KiB each.

**2. Against autogen-core** (one process, one run, repeats interleaved; target ≥ 5x its
throughput, higher is better):

- *outside request/response*: ``await runtime.send_message(Ping, agent)`` against
  ``await system.ask_async(path, Ping)`` to a loop-dispatched actor, one at a time;
  also to a ``BaseAgent`` (an ``AgentTask``);
- *agent-to-agent request/response*: an autogen agent's handler awaits
  ``self.send_message`` N times; a loop actor chains N ``ctx.request`` (the reply is a
  message); and a ``BaseAgent`` task awaits ``ctx.request(agent, task)`` N times;
- *broadcast to 1,000 agents*: ``runtime.publish_message`` to a topic 1,000 agent types
  subscribe to, until all have handled it; an outside loop of ``system.tell`` to 1,000
  loop actors; and ``AgentCommunicationHub.broadcast`` to 1,000 ``BaseAgent``s.

**3. orchestrate_agents overhead**: a coordinator, a specialist and an executor whose
work is a no-op coroutine. ``orchestrate_agents`` (decompose into plan → research →
produce, run as a flow of ``agent`` steps) against asking the same three agent actors
for the same three tasks directly (``ask_async`` in dependency order), and against
calling the three functions.

Throughput numbers move with the VM's load (other sessions share its 2 cores); memory
numbers do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pykka
from pydantic import JsonValue
from rich.console import Console
from rich.table import Table

from actorflow import ActorPath, ActorSystem, Behaviour, Context, Message, recipe
from actorflow.agents import (
    AgentCommunicationHub,
    AgentContext,
    AgentInfo,
    AgentRole,
    BaseAgent,
)
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.messages.system import RequestTimedOut

perf = time.perf_counter
WAIT = 600.0
"""Longest wait for any single measurement, in seconds."""
CALL_WAIT = 60.0
"""Longest wait for one call of sections 2 and 3 (a lost wake-up fails fast)."""


# -- messages and actors ---------------------------------------------------------------


class Ping(Message):
    """A request."""

    kind: Literal["bench.agents.ping"] = "bench.agents.ping"


class Pong(Message):
    """Its reply."""

    kind: Literal["bench.agents.pong"] = "bench.agents.pong"


class Go(Message):
    """Starts a round (coordinator) or a chain of requests (caller)."""

    kind: Literal["bench.agents.go"] = "bench.agents.go"
    n: int = 0


PING = Ping()
PONG = Pong()
NOOP_TASK = AgentTask(flow_id="bench", step_id="s", task="noop")


class Countdown:
    """Counts hits from any thread and sets ``done`` at zero."""

    def __init__(self, n: int) -> None:
        self.remaining = n
        self.done = threading.Event()
        self._lock = threading.Lock()

    def hit(self) -> None:
        """Count one (thread-safe)."""
        with self._lock:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()

    def wait(self, what: str) -> None:
        """Wait for zero or raise."""
        if not self.done.wait(WAIT):
            raise TimeoutError(f"{what} did not complete within {WAIT:g} s")


class Agent(Behaviour):
    """The minimal agent: reports its start, answers every Ping."""

    def __init__(self, started: Countdown | None = None) -> None:
        self.started = started

    def on_start(self, ctx: Context) -> None:
        if self.started is not None:
            self.started.hit()

    def on_ping(self, _msg: Ping, ctx: Context) -> None:
        ctx.reply(PONG)


class NoopAgent(BaseAgent):
    """A BaseAgent whose task does nothing; reports its start and each broadcast."""

    def __init__(
        self,
        info: AgentInfo | None = None,
        started: Countdown | None = None,
        heard: Countdown | None = None,
    ) -> None:
        super().__init__(info)
        self.started = started
        self.heard = heard

    def on_start(self, ctx: Context) -> None:
        super().on_start(ctx)
        if self.started is not None:
            self.started.hit()

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        if task.task == "broadcast" and self.heard is not None:
            self.heard.hit()
        return None


class ChainAgent(BaseAgent):
    """A BaseAgent whose task asks agent ``target`` for ``n`` tasks, one after another."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        target = str(task.parameters["target"])
        n = int(str(task.parameters["n"]))
        for _ in range(n):
            await ctx.request(target, "noop", timeout=WAIT)
        return n


class Coordinator(Behaviour):
    """Tells every agent one request and counts the replies (a population round)."""

    def __init__(self, agents: list[ActorPath], request: Message, done: threading.Event) -> None:
        self.agents = agents
        self.request = request
        self.done = done
        self.remaining = 0

    def on_go(self, _msg: Go, ctx: Context) -> None:
        self.remaining = len(self.agents)
        for path in self.agents:
            ctx.tell(path, self.request)

    def _replied(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()

    def on_pong(self, _msg: Pong, _ctx: Context) -> None:
        self._replied()

    def on_agent_task_done(self, msg: AgentTaskDone, _ctx: Context) -> None:
        assert not msg.error, msg.error
        self._replied()


class Caller(Behaviour):
    """Chains ``n`` requests to ``target`` with ctx.request: the next one goes when the
    reply to the last has arrived (as a message)."""

    def __init__(self, target: ActorPath, done: threading.Event) -> None:
        self.target = target
        self.done = done
        self.remaining = 0

    def on_go(self, msg: Go, ctx: Context) -> None:
        self.remaining = msg.n
        ctx.request(self.target, PING, timeout=WAIT)

    def on_pong(self, _msg: Pong, ctx: Context) -> None:
        self.remaining -= 1
        if self.remaining:
            ctx.request(self.target, PING, timeout=WAIT)
        else:
            self.done.set()

    def on_request_timed_out(self, msg: RequestTimedOut, _ctx: Context) -> None:
        raise TimeoutError(f"request {msg.correlation_id} timed out")


class Broadcast(Message):
    """What the runtime-level broadcast tells every agent."""

    kind: Literal["bench.agents.broadcast"] = "bench.agents.broadcast"


class Broadcaster(Behaviour):
    """Tells every listener one Broadcast per Go (a fan-out inside the actor system)."""

    def __init__(self, listeners: list[ActorPath]) -> None:
        self.listeners = listeners

    def on_go(self, _msg: Go, ctx: Context) -> None:
        msg = Broadcast()
        for path in self.listeners:
            ctx.tell(path, msg)


class Listener(Behaviour):
    """Counts broadcasts."""

    def __init__(self, heard: list[Countdown]) -> None:
        self.heard = heard

    def on_broadcast(self, _msg: Broadcast, _ctx: Context) -> None:
        self.heard[0].hit()


class PykkaAgent(pykka.ThreadingActor):
    """The pykka baseline agent: the message is the coordinator's ref; tell it back."""

    use_daemon_thread = True

    def __init__(self, started: Countdown) -> None:
        super().__init__()
        self.started = started

    def on_start(self) -> None:
        self.started.hit()

    def on_receive(self, message: Any) -> Any:
        message.tell(PONG)


class PykkaCoordinator(pykka.ThreadingActor):
    """Tells every worker its own ref; counts the replies."""

    use_daemon_thread = True

    def __init__(self, workers: list[pykka.ActorRef[Any]], done: threading.Event) -> None:
        super().__init__()
        self.workers = workers
        self.done = done
        self.remaining = 0

    def on_receive(self, message: Any) -> Any:
        if message is PONG:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()
            return
        self.remaining = len(self.workers)
        me = self.actor_ref
        for worker in self.workers:
            worker.tell(me)


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    repeats: int
    population: tuple[tuple[str, str, int], ...]
    """(library, agent kind, count) per configuration."""
    asks: int
    chain: int
    broadcast_agents: int
    broadcasts: int
    orchestrations: int


_POPULATION = (
    ("pykka", "thread", 10_000),
    ("thread", "behaviour", 10_000),
    ("thread", "base_agent", 10_000),
    ("loop", "behaviour", 10_000),
    ("loop", "base_agent", 10_000),
    ("loop", "behaviour", 100_000),
    ("loop", "base_agent", 100_000),
)
FULL = Sizes(7, _POPULATION, 2_000, 2_000, 1_000, 20, 20)
QUICK = Sizes(
    2,
    (("pykka", "thread", 1_000), ("thread", "behaviour", 1_000), ("loop", "behaviour", 1_000),
     ("loop", "base_agent", 1_000), ("loop", "behaviour", 10_000)),
    300, 300, 1_000, 3, 3,
)  # fmt: skip

Unit = Literal["/s", "us", "ms", "KiB", "s"]


@dataclass
class Row:
    """One line of the results table."""

    section: str
    metric: str
    unit: Unit
    actorflow: float | None
    baseline: float | None
    baseline_name: str
    target: str = ""
    higher_is_better: bool = False
    limit: float | None = None
    """Ratio limit (``<=``, or ``>=`` if higher_is_better) or, with ``absolute``, a value."""
    absolute: bool = False
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """actorflow / baseline."""
        if self.actorflow is None or not self.baseline:
            return None
        return self.actorflow / self.baseline

    @property
    def met(self) -> bool | None:
        """Whether the target is met (``None`` without a target)."""
        if self.limit is None:
            return None
        value = self.actorflow if self.absolute else self.ratio
        if value is None:
            return False
        return value >= self.limit if self.higher_is_better else value <= self.limit


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return statistics.median(values)


def trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc ``malloc_trim``), so RSS
    counts what is live, not what the round's queued messages left free for reuse."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: RSS keeps it
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


# -- 1. population (in a child process) ------------------------------------------------


def population_child(lib: str, kind: str, n: int) -> dict[str, Any]:
    """Spawn ``n`` agents, run one round, stop them; runs in a fresh process."""
    result: dict[str, Any] = {"lib": lib, "kind": kind, "n": n, "error": None}
    started = Countdown(n)
    round_done = threading.Event()
    system = None if lib == "pykka" else ActorSystem().start()
    gc.collect()
    rss0 = rss_bytes()
    t0 = perf()
    if system is None:
        refs = [PykkaAgent.start(started) for _ in range(n)]
        started.wait("starting pykka actors")
        result["spawn_s"] = perf() - t0
        result["rss_spawn_kib"] = (rss_bytes() - rss0) / n / 1024
        coordinator = PykkaCoordinator.start(refs, round_done)
        t1 = perf()
        coordinator.tell(PING)
    else:
        dispatcher: Literal["thread", "loop"] = "loop" if lib == "loop" else "thread"
        paths = spawn_agents(system, kind, n, started, dispatcher)
        started.wait(f"starting {lib} agents")
        result["spawn_s"] = perf() - t0
        result["rss_spawn_kib"] = (rss_bytes() - rss0) / n / 1024
        request = PING if kind == "behaviour" else NOOP_TASK
        coordinator_path = system.spawn(
            recipe(Coordinator, paths, request, round_done), "coordinator", dispatcher="loop"
        )
        t1 = perf()
        system.tell(coordinator_path, Go())
    if not round_done.wait(WAIT):
        raise TimeoutError("the round did not complete")
    result["round_s"] = perf() - t1
    gc.collect()
    result["rss_round_raw_kib"] = (rss_bytes() - rss0) / n / 1024
    trim_heap()
    result["rss_round_kib"] = (rss_bytes() - rss0) / n / 1024
    t2 = perf()
    if system is None:
        pykka.ActorRegistry.stop_all(timeout=WAIT)
    else:
        system.shutdown(timeout=WAIT)
    result["stop_s"] = perf() - t2
    return result


def spawn_agents(
    system: ActorSystem,
    kind: str,
    n: int,
    started: Countdown,
    dispatcher: Literal["thread", "loop"],
) -> list[ActorPath]:
    """Spawn ``n`` agents of ``kind`` under /agents (a BaseAgent gets its own AgentInfo)."""
    if kind == "behaviour":
        shared = recipe(Agent, started)  # what spawn(Agent, ...) does: one recipe for all
        return [system.spawn(shared, f"a{i}", dispatcher=dispatcher) for i in range(n)]
    return [
        system.spawn(
            recipe(NoopAgent, AgentInfo(id=f"a{i}"), started), f"a{i}", dispatcher=dispatcher
        )
        for i in range(n)
    ]


def run_child(args: Sequence[str]) -> dict[str, Any]:
    """Run a child configuration in a fresh interpreter; return its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    try:
        done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            cmd, capture_output=True, text=True, timeout=3 * WAIT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"subprocess timed out after {3 * WAIT:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return {"error": f"subprocess exit {done.returncode}: {last}"}
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def bench_population(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 1."""
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {c: [] for c in sizes.population}
    repeats = max(1, min(3, sizes.repeats))
    for r in range(repeats):
        order = list(sizes.population) if r % 2 == 0 else list(reversed(sizes.population))
        for lib, kind, n in order:
            log(f"population: {lib} {kind} x {n:,} (run {r + 1} of {repeats})")
            runs[(lib, kind, n)].append(run_child([lib, kind, str(n)]))
    base_key = next(c for c in sizes.population if c[0] == "pykka")

    def mid(config: tuple[str, str, int], key: str, scale: float = 1.0) -> float | None:
        values = [x[key] * scale for x in runs[config] if not x.get("error") and key in x]
        return median(values) if values else None

    rows: list[Row] = []
    metrics: tuple[tuple[str, str, Unit, Callable[[float, int], float], bool], ...] = (
        ("spawn and start, per agent", "spawn_s", "us", lambda v, n: v / n * 1e6, False),
        ("RSS growth per agent", "rss_round_kib", "KiB", lambda v, _: v, False),
        ("round trips across all agents", "round_s", "/s", lambda v, n: n / v, True),
        ("stop all, per agent", "stop_s", "us", lambda v, n: v / n * 1e6, False),
    )
    for config in sizes.population:
        lib, kind, n = config
        if config == base_key:
            continue
        name = f"{lib} dispatcher, {'BaseAgent' if kind == 'base_agent' else 'Behaviour'}"
        errors = "; ".join(dict.fromkeys(x["error"] for x in runs[config] if x.get("error")))
        for label, key, unit, per, higher in metrics:
            values = [per(x[key], n) for x in runs[config] if not x.get("error") and key in x]
            base = [per(x[key], base_key[2]) for x in runs[base_key] if key in x]
            af = median(values) if values else None
            pk = median(base) if base else None
            target, limit, absolute = "", None, False
            if key == "rss_round_kib" and lib == "loop" and n >= 100_000:
                target, limit, absolute = "<= 4 KiB", 4.0, True
            rows.append(
                Row(
                    "1 population",
                    f"{name} x {n:,}: {label}",
                    unit,
                    af,
                    pk,
                    f"pykka ThreadingActor x {base_key[2]:,}",
                    target=target,
                    higher_is_better=higher,
                    limit=limit,
                    absolute=absolute,
                    note=errors,
                    samples={"actorflow": values, "pykka": base},
                )
            )
        spawned, raw = mid(config, "rss_spawn_kib"), mid(config, "rss_round_raw_kib")
        if spawned is not None and raw is not None:
            seen = f"after a round, trimmed; after spawn {spawned:.2f}, untrimmed {raw:.2f}"
            rows[-3].note = "; ".join(x for x in (rows[-3].note, seen) if x)
    return rows


# -- 2. against autogen-core -----------------------------------------------------------


try:  # section 2's baseline (pip install '.[bench]')
    from autogen_core import (
        AgentId,
        MessageContext,
        RoutedAgent,
        SingleThreadedAgentRuntime,
        TopicId,
        TypeSubscription,
        message_handler,
    )
except ImportError:  # pragma: no cover - section 2 says it is skipped
    HAVE_AUTOGEN = False
else:
    HAVE_AUTOGEN = True

if HAVE_AUTOGEN:
    # At module level: autogen routes by the handlers' type hints, which it resolves in
    # the module's namespace.
    @dataclass
    class APing:
        pass

    @dataclass
    class AGo:
        n: int

    @dataclass
    class ANews:
        pass

    class AEcho(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("echo")

        @message_handler
        async def on_ping(self, message: APing, ctx: MessageContext) -> APing:
            return message

    class ACaller(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("caller")

        @message_handler
        async def on_go(self, message: AGo, ctx: MessageContext) -> AGo:
            target = AgentId("echo", "default")
            ping = APing()
            for _ in range(message.n):
                await self.send_message(ping, target)
            return message

    class AListener(RoutedAgent):
        heard: Callable[[], None] = staticmethod(lambda: None)

        def __init__(self) -> None:
            super().__init__("listener")

        @message_handler
        async def on_news(self, message: ANews, ctx: MessageContext) -> None:
            AListener.heard()

    class Side:
        """One autogen runtime with an echo, a caller and ``listeners`` subscribers."""

        def __init__(self) -> None:
            self.runtime = SingleThreadedAgentRuntime()
            self.echo = AgentId("echo", "default")
            self.caller = AgentId("caller", "default")
            self.topic = TopicId("news", "default")
            self.ping = APing()

        async def start(self, listeners: int) -> None:
            await AEcho.register(self.runtime, "echo", AEcho)
            await ACaller.register(self.runtime, "caller", ACaller)
            for i in range(listeners):
                await AListener.register(self.runtime, f"listener{i}", AListener)
                await self.runtime.add_subscription(TypeSubscription("news", f"listener{i}"))
            self.runtime.start()

        async def send(self) -> None:
            await self.runtime.send_message(self.ping, self.echo)

        async def chain(self, n: int) -> None:
            await self.runtime.send_message(AGo(n), self.caller)

        async def publish(self, heard: Callable[[], None]) -> None:
            AListener.heard = heard
            await self.runtime.publish_message(ANews(), self.topic)

        async def stop(self) -> None:
            await self.runtime.stop()


@dataclass(frozen=True)
class Case:
    """One pairing of section 2: ``calls`` calls of each side, ``per_call`` round trips or
    deliveries in each call."""

    label: str
    how: str
    ours: Callable[[], Awaitable[object]]
    theirs: Callable[[], Awaitable[object]]
    calls: int
    per_call: int = 1


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> float:
    """Seconds per call of ``fn``, called ``n`` times one after another."""
    gc.collect()
    t0 = perf()
    for _ in range(n):
        await fn()
    return (perf() - t0) / n


async def wait_event(event: threading.Event) -> None:
    """Wait for a threading.Event without blocking the running loop.

    Raises:
        TimeoutError: it was not set within ``CALL_WAIT`` seconds.
    """
    if not event.is_set() and not await asyncio.to_thread(event.wait, CALL_WAIT):
        raise TimeoutError(f"not done within {CALL_WAIT:g} s")


@dataclass
class Ours:
    """The actorflow side of section 2: one system with every actor it needs."""

    system: ActorSystem
    echo: ActorPath
    agent: ActorPath
    caller: ActorPath
    caller_done: threading.Event
    listeners: list[ActorPath]
    broadcaster: ActorPath
    heard: list[Countdown]
    hub: AgentCommunicationHub
    hub_heard: list[Countdown]


def build_ours(listeners: int) -> Ours:
    """Start a system with the section's actors (every agent loop-dispatched)."""
    system = ActorSystem().start()
    echo = system.spawn(Agent, "echo", dispatcher="loop")
    agent = system.spawn(recipe(NoopAgent, AgentInfo(id="noop")), "noop", dispatcher="loop")
    system.spawn(recipe(ChainAgent, AgentInfo(id="chain")), "chain", dispatcher="loop")
    done = threading.Event()
    caller = system.spawn(recipe(Caller, echo, done), "caller", dispatcher="loop")
    heard = [Countdown(0)]
    shared = recipe(Listener, heard)
    paths = [system.spawn(shared, f"l{i}", dispatcher="loop") for i in range(listeners)]
    broadcaster = system.spawn(recipe(Broadcaster, paths), "broadcaster", dispatcher="loop")
    hub = AgentCommunicationHub(system)
    hub_heard = [Countdown(0)]
    hub_started = Countdown(listeners)
    for i in range(listeners):
        info = AgentInfo(id=f"h{i}")
        system.spawn(recipe(_HubAgent, info, hub_started, hub_heard), info.id, dispatcher="loop")
        hub.register_agent(info.id)
    hub_started.wait("starting hub agents")
    return Ours(system, echo, agent, caller, done, paths, broadcaster, heard, hub, hub_heard)


class _HubAgent(NoopAgent):
    """A NoopAgent whose broadcast counter is swapped per round."""

    def __init__(self, info: AgentInfo, started: Countdown, heard: list[Countdown]) -> None:
        super().__init__(info, started)
        self.heard_box = heard

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> JsonValue:
        self.heard_box[0].hit()
        return None


async def ours_chain(ours: Ours, n: int) -> None:
    """n actor-to-actor round trips (ctx.request chain)."""
    ours.caller_done.clear()
    ours.system.tell(ours.caller, Go(n=n))
    await wait_event(ours.caller_done)


async def ours_agent_chain(ours: Ours, n: int) -> None:
    """n BaseAgent-to-BaseAgent round trips (``await ctx.request`` in a task)."""
    task = AgentTask(flow_id="b", step_id="s", task="chain", parameters={"target": "noop", "n": n})
    reply = await ours.system.ask_async("/agents/chain", task, timeout=CALL_WAIT)
    assert isinstance(reply, AgentTaskDone), reply
    assert not reply.error, reply


async def ours_broadcast(ours: Ours) -> None:
    """Tell every listener one Broadcast (from outside); wait until all have it."""
    ours.heard[0] = countdown = Countdown(len(ours.listeners))
    tell, msg = ours.system.tell, Broadcast()
    for path in ours.listeners:
        tell(path, msg)
    await wait_event(countdown.done)


async def ours_actor_broadcast(ours: Ours) -> None:
    """One Go to the broadcaster actor, which tells every listener; wait until all have
    it."""
    ours.heard[0] = countdown = Countdown(len(ours.listeners))
    ours.system.tell(ours.broadcaster, Go())
    await wait_event(countdown.done)


async def ours_hub_broadcast(ours: Ours, n: int) -> None:
    """One hub broadcast to ``n`` BaseAgents; wait until every one has handled it."""
    ours.hub_heard[0] = countdown = Countdown(n)
    got = await ours.hub.broadcast("bench", {"action": "broadcast"})
    assert len(got) == n, len(got)
    await wait_event(countdown.done)


async def autogen_broadcast(side: Any, n: int) -> None:
    """One publish to ``n`` subscribed autogen agents; wait until all have it."""
    left = [n]
    finished = asyncio.Event()

    def heard() -> None:
        left[0] -= 1
        if left[0] == 0:
            finished.set()

    await side.publish(heard)
    await asyncio.wait_for(finished.wait(), CALL_WAIT)


async def bench_autogen_async(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 2 (inside one event loop)."""
    side = Side()
    listeners = sizes.broadcast_agents
    log(f"autogen-core: registering 1 echo, 1 caller, {listeners:,} subscribers")
    await side.start(listeners)
    log(f"actorflow: spawning {listeners:,} listeners and {listeners:,} hub BaseAgents")
    ours = await asyncio.to_thread(build_ours, listeners)
    try:
        ask_echo = partial(ours.system.ask_async, ours.echo, PING, timeout=CALL_WAIT)
        ask_agent = partial(ours.system.ask_async, ours.agent, NOOP_TASK, timeout=CALL_WAIT)
        asks, chain, rounds = sizes.asks, sizes.chain, sizes.broadcasts
        theirs_chain = partial(side.chain, chain)
        theirs_broadcast = partial(autogen_broadcast, side, listeners)
        a2a, bcast = "agent-to-agent request/response", f"broadcast to {listeners:,} agents"
        cases: list[Case] = [
            Case("outside request/response", "Behaviour, ask_async", ask_echo, side.send, asks),
            Case("outside request/response", "BaseAgent, ask_async AgentTask", ask_agent,
                 side.send, asks),
            Case(a2a, "Behaviour, ctx.request chain", partial(ours_chain, ours, chain),
                 theirs_chain, 1, chain),
            Case(a2a, "BaseAgent, await ctx.request", partial(ours_agent_chain, ours, chain),
                 theirs_chain, 1, chain),
            Case(bcast, "Behaviour, an actor's ctx.tell to each",
                 partial(ours_actor_broadcast, ours), theirs_broadcast, rounds, listeners),
            Case(bcast, "Behaviour, outside system.tell to each", partial(ours_broadcast, ours),
                 theirs_broadcast, rounds, listeners),
            Case(bcast, "BaseAgent, hub.broadcast", partial(ours_hub_broadcast, ours, listeners),
                 theirs_broadcast, rounds, listeners),
        ]  # fmt: skip
        rows: list[Row] = []
        for case in cases:
            log(f"{case.label}: {case.how}")
            await case.ours()  # warm-up (autogen makes its agents on their first message)
            await case.theirs()
            af: list[float] = []
            ag: list[float] = []
            for r in range(sizes.repeats):
                if r % 2 == 0:
                    af.append(case.per_call / await timed(case.ours, case.calls))
                    ag.append(case.per_call / await timed(case.theirs, case.calls))
                else:
                    ag.append(case.per_call / await timed(case.theirs, case.calls))
                    af.append(case.per_call / await timed(case.ours, case.calls))
            unit_note = "deliveries" if case.label.startswith("broadcast") else "round trips"
            rows.append(
                Row(
                    "2 autogen",
                    f"{case.label} ({case.how}; {unit_note} per second)",
                    "/s",
                    median(af),
                    median(ag),
                    "autogen-core SingleThreadedAgentRuntime",
                    target=">= 5x",
                    higher_is_better=True,
                    limit=5.0,
                    samples={"actorflow": af, "autogen": ag},
                )
            )
        return rows
    finally:
        await side.stop()
        await asyncio.to_thread(ours.system.shutdown, WAIT)


def bench_autogen(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 2."""
    if not HAVE_AUTOGEN:
        log("autogen-core is not installed: pip install '.[bench]'; section 2 skipped")
        return []
    return asyncio.run(bench_autogen_async(sizes, log))


# -- 3. orchestrate_agents overhead ----------------------------------------------------


async def noop_work(task: AgentTask, ctx: AgentContext) -> JsonValue:
    """A no-op agent's work."""
    return f"{task.task} done"


async def bench_orchestrate_async(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 3 (inside one event loop)."""
    from actorflow.agents import create_multi_agent_orchestrator

    system = await asyncio.to_thread(ActorSystem().start)
    orchestrator = create_multi_agent_orchestrator(system, subtask_timeout=60.0)
    infos = [
        AgentInfo(id="coordinator", role=AgentRole.COORDINATOR, capabilities=("planning",)),
        AgentInfo(id="specialist", role=AgentRole.SPECIALIST, capabilities=("research",)),
        AgentInfo(id="executor", role=AgentRole.EXECUTOR, capabilities=("writing",)),
    ]
    for info in infos:
        await asyncio.to_thread(orchestrator.register_agent, info, noop_work)
    tasks = [
        (f"/agents/{info.id}", AgentTask(flow_id="direct", step_id=kind, task=kind))
        for info, kind in zip(infos, ("plan", "research", "produce"), strict=True)
    ]

    async def orchestrate() -> None:
        result = await orchestrator.orchestrate_agents(infos, "write a short report")
        assert result.status == "completed", result

    async def direct() -> None:
        for path, task in tasks:
            reply = await system.ask_async(path, task, timeout=CALL_WAIT)
            assert isinstance(reply, AgentTaskDone), reply
            assert not reply.error, reply

    async def functions() -> None:
        for _, task in tasks:
            await noop_work(task, None)  # type: ignore[arg-type] # it reads only the task

    try:
        log("orchestrate_agents: 3 no-op agents (plan -> research -> produce)")
        for fn in (orchestrate, direct, functions):
            await fn()
        samples: dict[str, list[float]] = {"orchestrate": [], "direct": [], "functions": []}
        for _ in range(sizes.repeats):
            samples["orchestrate"].append(await timed(orchestrate, sizes.orchestrations) * 1e6)
            samples["direct"].append(await timed(direct, sizes.orchestrations * 10) * 1e6)
            samples["functions"].append(await timed(functions, sizes.orchestrations * 100) * 1e6)
        orch = median(samples["orchestrate"])
        return [
            Row("3 orchestrate", "3-agent task: orchestrate_agents", "us", orch,
                median(samples["direct"]), "the 3 agent actors asked directly (ask_async)",
                note="info", samples=samples),
            Row("3 orchestrate", "3-agent task: orchestrate_agents (same run)", "us", orch,
                median(samples["functions"]), "the 3 agent functions called directly",
                note="info", samples=samples),
        ]  # fmt: skip
    finally:
        await asyncio.to_thread(system.shutdown, WAIT)


def bench_orchestrate(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 3."""
    try:
        from actorflow.agents import create_multi_agent_orchestrator  # noqa: F401
    except ImportError:  # TODO(issue 14): remove once the orchestrator is always there
        log("skipped: not built (actorflow.agents.create_multi_agent_orchestrator)")
        return []
    return asyncio.run(bench_orchestrate_async(sizes, log))


# -- reporting -------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    """CPU, cores, Python and library versions."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("pykka", "pydantic", "autogen-core", "actorflow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        **versions,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt(value: float | None, unit: str) -> str:
    """Format one figure with its unit."""
    if value is None:
        return "n/a"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit in ("us", "ms"):
        return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    if unit == "KiB":
        return f"{value:,.2f} KiB"
    return f"{value:,.3f} {unit}"


def verdict(row: Row) -> str:
    """met / MISSED / blank."""
    if row.met is None:
        return ""
    return "met" if row.met else "MISSED"


def ratio_text(row: Row) -> str:
    """The ratio as text."""
    ratio = row.ratio
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def render(rows: list[Row], info: dict[str, str], console: Console) -> None:
    """Print machine info and the results table."""
    for key, value in info.items():
        console.print(f"[bold]{key}[/]: {value}")
    table = Table(title="actorflow agents benchmark (medians)")
    for col in ("#", "measurement", "actorflow", "baseline", "baseline is", "ratio", "target", ""):
        table.add_column(
            col, justify="right" if col in ("actorflow", "baseline", "ratio") else "left"
        )
    for row in rows:
        status = verdict(row)
        style = {"met": "green", "MISSED": "bold red"}.get(status, "")
        table.add_row(
            row.section,
            row.metric + (f" [dim]({row.note})[/]" if row.note else ""),
            fmt(row.actorflow, row.unit),
            fmt(row.baseline, row.unit),
            row.baseline_name,
            ratio_text(row),
            row.target,
            f"[{style}]{status}[/]" if style else status,
        )
    console.print(table)


def markdown(rows: list[Row]) -> str:
    """The results table as GitHub markdown."""
    out = [
        "| # | measurement | actorflow | baseline | baseline is | ratio | target | status |",
        "|---|---|---:|---:|---|---:|---|---|",
    ]
    for row in rows:
        metric = row.metric + (f" ({row.note})" if row.note else "")
        out.append(
            f"| {row.section} | {metric} | {fmt(row.actorflow, row.unit)} | "
            f"{fmt(row.baseline, row.unit)} | {row.baseline_name} | {ratio_text(row)} | "
            f"{row.target} | {verdict(row) or '-'} |"
        )
    return "\n".join(out) + "\n"


SECTIONS: dict[str, Callable[[Sizes, Callable[[str], None]], list[Row]]] = {
    "population": bench_population,
    "autogen": bench_autogen,
    "orchestrate": bench_orchestrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run these only")
    parser.add_argument("--json", type=Path, help="also write figures and samples as JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown")
    parser.add_argument("--child", nargs=3, metavar=("LIB", "KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        lib, kind, n = args.child
        print(json.dumps(population_child(lib, kind, int(n))))  # the parent reads it
        return 0

    sizes = QUICK if args.quick else FULL
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    info = machine_info()
    info["command"] = " ".join(["python", "bench/agents.py", *(argv or sys.argv[1:])])
    started = perf()

    def log(text: str) -> None:
        console.print(f"[dim]{perf() - started:7.1f}s[/] {text}")

    rows: list[Row] = []
    for name, section in SECTIONS.items():
        if not args.only or name in args.only:
            rows.extend(section(sizes, log))
    info["elapsed"] = f"{perf() - started:.1f} s"
    render(rows, info, console)
    missed = [r.metric for r in rows if r.met is False]
    console.print(f"targets met: {sum(r.met is True for r in rows)}, missed: {len(missed)}")
    if args.json:
        payload = {
            "machine": info,
            "sizes": asdict(sizes),
            "rows": [
                {**asdict(r), "ratio": r.ratio, "met": r.met, "status": verdict(r)} for r in rows
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
