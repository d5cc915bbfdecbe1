"""Runtime benchmark: actorflow against raw pykka, plain queues and plain msgpack.

Run ``python bench/runtime.py`` (full, a few minutes on 2 cores) or
``python bench/runtime.py --quick`` (smoke run, well under 30 s). One run measures:

1. tell throughput (pre-built message, and a new message per tell);
2. outside ask round trip (p50/p99) against a two-thread ``queue.Queue`` round trip;
3. actor-to-actor ping-pong, time per hop;
4. a 1,000-way fan-out round (one coordinator, 1,000 workers that each reply);
5. spawning 1,000 and 10,000 actors (wall time and RSS growth per actor), each in a
   fresh subprocess so earlier phases do not pollute the RSS figures;
6. message and envelope encode+decode against plain dicts through msgpack;
7. the cost of immutable message data: building and telling messages whose lists and
   dicts are frozen, against the same class without the freezing step (issue 10).

Every figure is the median of several repeats after a warm-up; the pykka and
actorflow repeats are interleaved so that drift (turbo, other load) hits both.
``--json PATH`` and ``--markdown PATH`` also write the figures (and every sample)
to files; ``--only SECTION ...`` runs a subset (tell, ask, hop, fanout, spawn, codec,
frozen).
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import msgpack
import pykka
from pydantic import JsonValue
from rich.console import Console
from rich.table import Table

from actorflow import ActorPath, ActorSystem, Behaviour, Context, Message, recipe
from actorflow.errors import ActorflowError
from actorflow.ids import CorrelationId, MessageId
from actorflow.messages import (
    Envelope,
    decode_envelope,
    decode_message,
    encode_envelope,
    encode_message,
)

perf = time.perf_counter
WAIT = 300.0
"""Longest wait for any single measurement to complete, in seconds."""


# -- messages --------------------------------------------------------------------------


class Tick(Message):
    """The tell-throughput message."""

    kind: Literal["bench.tick"] = "bench.tick"
    seq: int = 0


class Ping(Message):
    """A request (ask) or a ball (ping-pong)."""

    kind: Literal["bench.ping"] = "bench.ping"


class Pong(Message):
    """The reply to a Ping."""

    kind: Literal["bench.pong"] = "bench.pong"


class Go(Message):
    """Starts one fan-out round."""

    kind: Literal["bench.go"] = "bench.go"


class Work(Message):
    """One worker's share of a fan-out round."""

    kind: Literal["bench.work"] = "bench.work"


class Done(Message):
    """A worker's reply in a fan-out round."""

    kind: Literal["bench.done"] = "bench.done"


class StepReport(Message):
    """A typical small message: a few str and int fields."""

    kind: Literal["bench.step_report"] = "bench.step_report"
    flow_id: str
    step: str
    status: str
    attempt: int
    tokens: int


class Basket(Message):
    """A message with a list and a JSON dict, which are frozen when it is built."""

    kind: Literal["bench.basket"] = "bench.basket"
    items: list[str]
    data: dict[str, JsonValue]


class BasketUnfrozen(Message):
    """Basket's fields without the freezing step: what such a message cost before issue 10."""

    kind: Literal["bench.basket_unfrozen"] = "bench.basket_unfrozen"
    items: list[str]
    data: dict[str, JsonValue]


# The baseline class is rebuilt as it was before issue 10: pydantic's own JSON validation
# instead of actorflow's validate-and-freeze walk, and no freezing hook. The two classes
# differ in nothing else.
for _field in BasketUnfrozen.__pydantic_fields__.values():
    _field.metadata = [m for m in _field.metadata if type(m).__name__ != "_JsonData"]
BasketUnfrozen.frozen_fields = ()
BasketUnfrozen.__pydantic_post_init__ = None
BasketUnfrozen.model_rebuild(force=True)
assert type(BasketUnfrozen(items=[], data={}).data) is dict


TICK = Tick()
PING = Ping()
PONG = Pong()
GO = Go()
WORK = Work()
DONE = Done()


# -- sizes and results -----------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    repeats: int
    tells: int
    asks: int
    ask_chunk: int
    hops: int
    fanout_workers: int
    fanout_rounds: int
    spawn_counts: tuple[int, ...]
    spawn_repeats: tuple[int, ...]
    codec_ops: int


FULL = Sizes(
    repeats=7,
    tells=100_000,
    asks=20_000,
    ask_chunk=1_000,
    hops=20_000,
    fanout_workers=1_000,
    fanout_rounds=40,
    spawn_counts=(1_000, 10_000),
    spawn_repeats=(9, 3),
    codec_ops=50_000,
)
QUICK = Sizes(
    repeats=2,
    tells=20_000,
    asks=2_000,
    ask_chunk=500,
    hops=5_000,
    fanout_workers=1_000,
    fanout_rounds=5,
    spawn_counts=(100, 1_000),
    spawn_repeats=(2, 2),
    codec_ops=5_000,
)


@dataclass
class Row:
    """One line of the results table."""

    section: str
    metric: str
    unit: Literal["msg/s", "us", "ms", "KiB", "s"]
    actorflow: float | None
    baseline: float | None
    baseline_name: str
    target: str = ""
    higher_is_better: bool = False
    limit: float | None = None
    """Ratio limit (``<=`` unless higher_is_better) or, with ``absolute``, a value limit."""
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
        """Whether the target is met (``None`` when there is no target or no figure)."""
        if self.limit is None:
            return None
        value = self.actorflow if self.absolute else self.ratio
        if value is None:
            return False
        return value >= self.limit if self.higher_is_better else value <= self.limit


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def fresh() -> None:
    """Collect garbage before a timed section so no earlier garbage is collected inside it."""
    gc.collect()


class Countdown:
    """Counts events from any thread and sets ``done`` at zero."""

    def __init__(self, n: int) -> None:
        self.remaining = n
        self.done = threading.Event()
        self._lock = threading.Lock()

    def hit(self) -> None:
        """Count one event (thread-safe)."""
        with self._lock:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()

    def wait(self, what: str) -> None:
        """Wait for zero or raise."""
        if not self.done.wait(WAIT):
            raise TimeoutError(f"{what} did not complete within {WAIT:g} s")


# -- pykka actors ----------------------------------------------------------------------


class PykkaCounter(pykka.ThreadingActor):
    """Counts messages; sets the event on the last one (single consumer, no lock)."""

    use_daemon_thread = True

    def __init__(self, n: int, done: threading.Event) -> None:
        super().__init__()
        self.remaining = n
        self.done = done

    def on_receive(self, _message: Any) -> Any:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()


class PykkaGated(pykka.ThreadingActor):
    """Blocks on ``gate`` in its first message, then counts like PykkaCounter."""

    use_daemon_thread = True

    def __init__(self, gate: threading.Event, n: int, done: threading.Event) -> None:
        super().__init__()
        self.gate = gate
        self.remaining = n + 1
        self.done = done

    def on_receive(self, _message: Any) -> Any:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()
        elif not self.gate.is_set():
            self.gate.wait()


class PykkaEcho(pykka.ThreadingActor):
    """Answers every ask with PONG."""

    use_daemon_thread = True

    def on_receive(self, _message: Any) -> Any:
        return PONG


class HopState:
    """Shared by the two ping-pong actors; only one of them runs at a time."""

    def __init__(self, hops: int) -> None:
        self.remaining = hops
        self.done = threading.Event()


class PykkaBouncer(pykka.ThreadingActor):
    """Ping-pong: the message is the sender's ref; answer it with our own ref."""

    use_daemon_thread = True

    def __init__(self, state: HopState) -> None:
        super().__init__()
        self.state = state

    def on_receive(self, message: Any) -> Any:
        state = self.state
        state.remaining -= 1
        if state.remaining <= 0:
            state.done.set()
            return
        message.tell(self.actor_ref)


class PykkaWorker(pykka.ThreadingActor):
    """Fan-out worker: the message is the coordinator's ref; answer it with DONE."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        message.tell(DONE)


class PykkaCoordinator(pykka.ThreadingActor):
    """Fan-out coordinator: GO tells every worker; the last DONE ends the round."""

    use_daemon_thread = True

    def __init__(self, workers: list[pykka.ActorRef[Any]], round_done: threading.Event) -> None:
        super().__init__()
        self.workers = workers
        self.round_done = round_done
        self.remaining = 0

    def on_receive(self, message: Any) -> Any:
        if message is DONE:
            self.remaining -= 1
            if self.remaining == 0:
                self.round_done.set()
            return
        self.remaining = len(self.workers)
        me = self.actor_ref
        for worker in self.workers:
            worker.tell(me)


class PykkaIdle(pykka.ThreadingActor):
    """Does nothing; reports that its thread has started."""

    use_daemon_thread = True

    def __init__(self, started: Countdown) -> None:
        super().__init__()
        self.started = started

    def on_start(self) -> None:
        self.started.hit()


# -- actorflow behaviours --------------------------------------------------------------


class AfCounter(Behaviour):
    """Counts Ticks; sets the event on the last one."""

    def __init__(self, n: int, done: threading.Event) -> None:
        self.remaining = n
        self.done = done

    def on_tick(self, _msg: Tick, _ctx: Context) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()


class AfGated(Behaviour):
    """Blocks on ``gate`` in its first message, then counts like AfCounter."""

    def __init__(self, gate: threading.Event, n: int, done: threading.Event) -> None:
        self.gate = gate
        self.remaining = n + 1
        self.done = done

    def on_tick(self, _msg: Tick, _ctx: Context) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()
        elif not self.gate.is_set():
            self.gate.wait()


class AfEcho(Behaviour):
    """Replies PONG to every PING."""

    def on_ping(self, _msg: Ping, ctx: Context) -> None:
        ctx.reply(PONG)


class AfBouncer(Behaviour):
    """Ping-pong: send the ball back to whoever sent it."""

    def __init__(self, state: HopState) -> None:
        self.state = state

    def on_ping(self, msg: Ping, ctx: Context) -> None:
        state = self.state
        state.remaining -= 1
        if state.remaining <= 0:
            state.done.set()
            return
        sender = ctx.sender
        assert sender is not None
        ctx.tell(sender, msg)


class AfWorker(Behaviour):
    """Fan-out worker: reply DONE."""

    def on_work(self, _msg: Work, ctx: Context) -> None:
        ctx.reply(DONE)


class AfCoordinator(Behaviour):
    """Fan-out coordinator: GO tells every worker; the last DONE ends the round."""

    def __init__(self, workers: list[ActorPath], round_done: threading.Event) -> None:
        self.workers = workers
        self.round_done = round_done
        self.remaining = 0

    def on_go(self, _msg: Go, ctx: Context) -> None:
        self.remaining = len(self.workers)
        for worker in self.workers:
            ctx.tell(worker, WORK)

    def on_done(self, _msg: Done, _ctx: Context) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.round_done.set()


class AfBasketCounter(Behaviour):
    """Counts Baskets (frozen or not); sets the event on the last one."""

    def __init__(self, n: int, done: threading.Event) -> None:
        self.remaining = n
        self.done = done

    def on_basket(self, _msg: Basket, _ctx: Context) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()

    on_basket_unfrozen = on_basket


class AfIdle(Behaviour):
    """Does nothing; reports that its thread has started."""

    def __init__(self, started: Countdown) -> None:
        self.started = started

    def on_start(self, _ctx: Context) -> None:
        self.started.hit()


# -- 1. tell throughput ----------------------------------------------------------------


def tell_pykka(n: int, *, construct: bool) -> float:
    """Messages per second from the first tell until the actor has handled the last."""
    done = threading.Event()
    ref = PykkaCounter.start(n, done)
    tell = ref.tell
    try:
        fresh()
        t0 = perf()
        if construct:
            for i in range(n):
                tell(Tick(seq=i))
        else:
            msg = TICK
            for _ in range(n):
                tell(msg)
        if not done.wait(WAIT):
            raise TimeoutError("pykka tell run did not complete")
        return n / (perf() - t0)
    finally:
        ref.stop()


def tell_actorflow(system: ActorSystem, n: int, name: str, *, construct: bool) -> float:
    """Messages per second from the first tell until the actor has handled the last."""
    done = threading.Event()
    path = system.spawn(recipe(AfCounter, n, done), name)
    tell = system.tell
    try:
        fresh()
        t0 = perf()
        if construct:
            for i in range(n):
                tell(path, Tick(seq=i))
        else:
            msg = TICK
            for _ in range(n):
                tell(path, msg)
        if not done.wait(WAIT):
            raise TimeoutError("actorflow tell run did not complete")
        return n / (perf() - t0)
    finally:
        system.stop(path, timeout=WAIT)


def bench_tell(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 1."""
    rows: list[Row] = []
    with ActorSystem() as system:
        for construct in (False, True):
            label = "new Tick per tell" if construct else "pre-built Tick"
            log(f"tell throughput, {label}")
            tell_pykka(sizes.tells // 10, construct=construct)  # warm-up
            tell_actorflow(system, sizes.tells // 10, f"warm-{construct}", construct=construct)
            pk: list[float] = []
            af: list[float] = []
            for r in range(sizes.repeats):
                pk.append(tell_pykka(sizes.tells, construct=construct))
                af.append(
                    tell_actorflow(
                        system, sizes.tells, f"count-{construct}-{r}", construct=construct
                    )
                )
            rows.append(
                Row(
                    "1 tell",
                    f"tell throughput, {label} (N={sizes.tells:,})",
                    "msg/s",
                    median(af),
                    median(pk),
                    "pykka ref.tell" + (" (also builds a Tick)" if construct else ""),
                    target=">= 0.7x",
                    higher_is_better=True,
                    limit=0.7,
                    samples={"actorflow": af, "pykka": pk},
                )
            )
        log("tell cost split: sending thread vs actor thread")
        split: dict[str, list[tuple[float, float]]] = {"pykka": [], "actorflow": []}
        split_pykka(sizes.tells // 10)  # warm-up
        split_actorflow(system, sizes.tells // 10, "split-warm")
        for r in range(sizes.repeats):
            split["pykka"].append(split_pykka(sizes.tells))
            split["actorflow"].append(split_actorflow(system, sizes.tells, f"split-{r}"))
    for index, what in enumerate(
        ("sending thread per tell (actor blocked)", "actor thread per message (mailbox pre-filled)")
    ):
        af = [pair[index] for pair in split["actorflow"]]
        pk = [pair[index] for pair in split["pykka"]]
        rows.append(
            Row(
                "1 tell",
                f"time on the {what}",
                "us",
                median(af),
                median(pk),
                "pykka",
                note="info",
                samples={"actorflow": af, "pykka": pk},
            )
        )
    return rows


def timed_split(
    tell: Callable[[Message], None], gate: threading.Event, done: threading.Event, n: int
) -> tuple[float, float]:
    """Microseconds per message spent sending (the actor is blocked) and then handling."""
    tell(TICK)  # the actor blocks on the gate in this one
    time.sleep(0.05)
    msg = TICK
    fresh()
    t0 = perf()
    for _ in range(n):
        tell(msg)
    t1 = perf()
    fresh()
    t2 = perf()
    gate.set()
    if not done.wait(WAIT):
        raise TimeoutError("split run did not complete")
    return (t1 - t0) / n * 1e6, (perf() - t2) / n * 1e6


def split_pykka(n: int) -> tuple[float, float]:
    """Send and handle cost per message for pykka."""
    gate, done = threading.Event(), threading.Event()
    ref = PykkaGated.start(gate, n, done)
    try:
        return timed_split(ref.tell, gate, done, n)
    finally:
        ref.stop()


def split_actorflow(system: ActorSystem, n: int, name: str) -> tuple[float, float]:
    """Send and handle cost per message for actorflow."""
    gate, done = threading.Event(), threading.Event()
    path = system.spawn(recipe(AfGated, gate, n, done), name)
    try:
        return timed_split(functools.partial(system.tell, path), gate, done, n)
    finally:
        system.stop(path, timeout=WAIT)


# -- 2. outside ask --------------------------------------------------------------------


class QueueEcho:
    """The baseline: a worker thread that moves each item from one queue.Queue to another."""

    def __init__(self) -> None:
        self.requests: queue.Queue[object] = queue.Queue()
        self.replies: queue.Queue[object] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="bench-queue-echo", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        get, put = self.requests.get, self.replies.put
        while True:
            item = get()
            put(item)
            if item is None:
                return

    def round_trips(self, n: int) -> list[float]:
        """``n`` round trips (main puts, worker gets and puts, main gets), in seconds."""
        put, get = self.requests.put, self.replies.get
        samples: list[float] = []
        for _ in range(n):
            t0 = perf()
            put(PING)
            get()
            samples.append(perf() - t0)
        return samples

    def close(self) -> None:
        """Stop the worker thread."""
        self.requests.put(None)
        self.thread.join()


def ask_pykka(ref: pykka.ActorRef[Any], n: int) -> list[float]:
    """``n`` ``ref.ask`` round trips, in seconds."""
    ask = ref.ask
    samples: list[float] = []
    for _ in range(n):
        t0 = perf()
        ask(PING)
        samples.append(perf() - t0)
    return samples


def ask_actorflow(system: ActorSystem, path: ActorPath, n: int) -> list[float]:
    """``n`` ``system.ask`` round trips, in seconds."""
    ask = system.ask
    samples: list[float] = []
    for _ in range(n):
        t0 = perf()
        ask(path, PING, timeout=5.0)
        samples.append(perf() - t0)
    return samples


def bench_ask(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 2: per repeat, the three methods take turns in chunks of ``ask_chunk``."""
    log("outside ask round trip")
    names = ("queue", "pykka", "actorflow")
    p50: dict[str, list[float]] = {name: [] for name in names}
    p99: dict[str, list[float]] = {name: [] for name in names}
    echo = QueueEcho()
    ref = PykkaEcho.start()
    try:
        with ActorSystem() as system:
            path = system.spawn(AfEcho, "echo")
            runs: dict[str, Callable[[int], list[float]]] = {
                "queue": echo.round_trips,
                "pykka": lambda n: ask_pykka(ref, n),
                "actorflow": lambda n: ask_actorflow(system, path, n),
            }
            for run in runs.values():  # warm-up
                run(sizes.ask_chunk)
            for _ in range(sizes.repeats):
                pooled: dict[str, list[float]] = {name: [] for name in names}
                for _ in range(max(1, sizes.asks // sizes.ask_chunk)):
                    for name, run in runs.items():
                        fresh()
                        pooled[name].extend(run(sizes.ask_chunk))
                for name, samples in pooled.items():
                    p50[name].append(percentile(samples, 0.50) * 1e6)
                    p99[name].append(percentile(samples, 0.99) * 1e6)
    finally:
        ref.stop()
        echo.close()
    mid50 = {k: median(v) for k, v in p50.items()}
    mid99 = {k: median(v) for k, v in p99.items()}
    n = f"(N={sizes.asks:,})"
    return [
        Row(
            "2 ask",
            f"outside ask p50 {n}",
            "us",
            mid50["actorflow"],
            mid50["queue"],
            "queue.Queue round trip p50",
            target="<= 1.5x",
            limit=1.5,
            samples=p50,
        ),
        Row(
            "2 ask",
            f"outside ask p99 {n}",
            "us",
            mid99["actorflow"],
            mid99["queue"],
            "queue.Queue round trip p99",
            target="<= 300 us",
            limit=300.0,
            absolute=True,
            samples=p99,
        ),
        Row(
            "2 ask",
            f"outside ask p50 vs pykka {n}",
            "us",
            mid50["actorflow"],
            mid50["pykka"],
            "pykka ref.ask p50",
            note="reference",
        ),
        Row(
            "2 ask",
            f"outside ask p99 vs pykka {n}",
            "us",
            mid99["actorflow"],
            mid99["pykka"],
            "pykka ref.ask p99",
            note="reference",
        ),
    ]


# -- 3. ping-pong ----------------------------------------------------------------------


def pingpong_pykka(hops: int) -> float:
    """Seconds per hop (one actor-to-actor message)."""
    state = HopState(hops)
    a = PykkaBouncer.start(state)
    b = PykkaBouncer.start(state)
    try:
        fresh()
        t0 = perf()
        a.tell(b)  # a answers b with its own ref, and so on
        if not state.done.wait(WAIT):
            raise TimeoutError("pykka ping-pong did not complete")
        return (perf() - t0) / hops
    finally:
        a.stop()
        b.stop()


def pingpong_actorflow(system: ActorSystem, hops: int, tag: str) -> float:
    """Seconds per hop (one actor-to-actor message)."""
    state = HopState(hops)
    a = system.spawn(recipe(AfBouncer, state), f"ping-{tag}")
    b = system.spawn(recipe(AfBouncer, state), f"pong-{tag}")
    try:
        fresh()
        t0 = perf()
        # The first hop is sent as b, so a answers b (the outside tell has no sender).
        system.send(a, PING, sender=b)
        if not state.done.wait(WAIT):
            raise TimeoutError("actorflow ping-pong did not complete")
        return (perf() - t0) / hops
    finally:
        system.stop(a, timeout=WAIT)
        system.stop(b, timeout=WAIT)


def bench_pingpong(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 3."""
    log("actor-to-actor ping-pong")
    pk: list[float] = []
    af: list[float] = []
    with ActorSystem() as system:
        pingpong_pykka(sizes.hops // 10)
        pingpong_actorflow(system, sizes.hops // 10, "warm")
        for r in range(sizes.repeats):
            pk.append(pingpong_pykka(sizes.hops) * 1e6)
            af.append(pingpong_actorflow(system, sizes.hops, str(r)) * 1e6)
    return [
        Row(
            "3 hop",
            f"ping-pong, time per hop (N={sizes.hops:,})",
            "us",
            median(af),
            median(pk),
            "pykka",
            target="<= 1.2x",
            limit=1.2,
            samples={"actorflow": af, "pykka": pk},
        )
    ]


# -- 4. fan-out ------------------------------------------------------------------------


def bench_fanout_rounds(workers: int, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per round for pykka and actorflow; both sets run at once, rounds alternate."""
    pk_done = threading.Event()
    af_done = threading.Event()
    refs = [PykkaWorker.start() for _ in range(workers)]
    pk_coordinator = PykkaCoordinator.start(refs, pk_done)
    pk: list[float] = []
    af: list[float] = []
    try:
        with ActorSystem() as system:
            paths = [system.spawn(AfWorker, f"worker-{i}") for i in range(workers)]
            af_coordinator = system.spawn(recipe(AfCoordinator, paths, af_done), "coordinator")
            for r in range(rounds + 1):  # round 0 is the warm-up
                pk_time = one_round(lambda: pk_coordinator.tell(GO), pk_done)
                af_time = one_round(lambda: system.tell(af_coordinator, GO), af_done)
                if r:
                    pk.append(pk_time)
                    af.append(af_time)
            system.shutdown(timeout=WAIT)
    finally:
        pykka.ActorRegistry.stop_all(timeout=WAIT)
    return pk, af


def one_round(start: Callable[[], None], round_done: threading.Event) -> float:
    """Seconds from ``start()`` until ``round_done`` is set."""
    round_done.clear()
    fresh()
    t0 = perf()
    start()
    if not round_done.wait(WAIT):
        raise TimeoutError("fan-out round did not complete")
    return perf() - t0


def bench_fanout(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 4."""
    log(f"{sizes.fanout_workers:,}-way fan-out")
    pk_s, af_s = bench_fanout_rounds(sizes.fanout_workers, sizes.fanout_rounds)
    pk = [t * 1e3 for t in pk_s]
    af = [t * 1e3 for t in af_s]
    return [
        Row(
            "4 fan-out",
            f"{sizes.fanout_workers:,}-way fan-out round ({sizes.fanout_rounds} rounds)",
            "ms",
            median(af),
            median(pk),
            "pykka",
            target="<= 1.2x",
            limit=1.2,
            samples={"actorflow": af, "pykka": pk},
        )
    ]


# -- 5. spawning (each run in a fresh subprocess) --------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm."""
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def spawn_child(lib: str, n: int) -> dict[str, Any]:
    """Spawn ``n`` idle actors in this (fresh) process and measure; runs in the child."""
    started = Countdown(n)
    result: dict[str, Any] = {"lib": lib, "n": n, "error": None, "spawned": 0}
    system = ActorSystem().start() if lib == "actorflow" else None
    fresh()
    rss0 = rss_bytes()
    cpu0 = time.process_time()
    t0 = perf()
    try:
        for i in range(n):
            if system is None:
                PykkaIdle.start(started)
            else:
                system.spawn(recipe(AfIdle, started), f"idle-{i}")
            result["spawned"] += 1
        started.wait(f"starting {n} {lib} actors")
    except (RuntimeError, OSError, MemoryError, ActorflowError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc} (after {result['spawned']:,} actors)"
    result["wall_s"] = perf() - t0
    result["cpu_s"] = time.process_time() - cpu0
    result["rss_per_actor_kib"] = (rss_bytes() - rss0) / max(1, result["spawned"]) / 1024
    t1 = perf()
    if system is None:
        pykka.ActorRegistry.stop_all(timeout=WAIT)
    else:
        system.shutdown(timeout=WAIT)
    result["stop_s"] = perf() - t1
    return result


def run_spawn_child(lib: str, n: int) -> dict[str, Any]:
    """Run :func:`spawn_child` in a fresh interpreter and return its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--spawn-child", lib, str(n)]
    try:
        done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            cmd, capture_output=True, text=True, timeout=3 * WAIT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"lib": lib, "n": n, "error": f"subprocess timed out after {3 * WAIT:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"lib": lib, "n": n, "error": f"subprocess exit {done.returncode}: {last}"}
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def bench_spawn(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 5."""
    rows: list[Row] = []
    for n, repeats in zip(sizes.spawn_counts, sizes.spawn_repeats, strict=True):
        log(f"spawning {n:,} actors ({repeats} fresh subprocesses each)")
        runs: dict[str, list[dict[str, Any]]] = {"pykka": [], "actorflow": []}
        libs = ("pykka", "actorflow")
        for lib in libs:  # warm-up: page cache, allocator, CPU frequency
            run_spawn_child(lib, n)
        for r in range(repeats):
            for lib in libs if r % 2 == 0 else libs[::-1]:  # ABBA, so order bias cancels
                runs[lib].append(run_spawn_child(lib, n))
        errors = [f"{r['lib']}: {r['error']}" for rs in runs.values() for r in rs if r["error"]]
        note = "; ".join(dict.fromkeys(errors))

        def mid(lib: str, key: str, rs: dict[str, list[dict[str, Any]]] = runs) -> float | None:
            values = [r[key] for r in rs[lib] if not r.get("error") and key in r]
            return median(values) if values else None

        for metric, key, unit, scale in (
            ("wall time to spawn and start", "wall_s", "ms", 1e3),
            ("CPU time to spawn and start (all threads)", "cpu_s", "ms", 1e3),
            ("RSS growth per actor", "rss_per_actor_kib", "KiB", 1.0),
            ("wall time to stop all", "stop_s", "ms", 1e3),
        ):
            af, pk = mid("actorflow", key), mid("pykka", key)
            info = key in ("stop_s", "cpu_s")
            rows.append(
                Row(
                    "5 spawn",
                    f"{metric}, {n:,} actors",
                    unit,  # type: ignore[arg-type]
                    None if af is None else af * scale,
                    None if pk is None else pk * scale,
                    "pykka",
                    target="" if info else "<= 1.2x",
                    limit=None if info else 1.2,
                    note="; ".join(x for x in ("info" if info else "", note) if x),
                    samples={
                        lib: [r[key] * scale for r in rs if key in r and not r.get("error")]
                        for lib, rs in runs.items()
                    },
                )
            )
    return rows


# -- 6. codec --------------------------------------------------------------------------


def per_op(fn: Callable[[], object], n: int) -> float:
    """Microseconds per call of ``fn``, over ``n`` calls."""
    fresh()
    t0 = perf()
    for _ in range(n):
        fn()
    return (perf() - t0) / n * 1e6


def bench_codec(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 6."""
    log("message and envelope encode+decode")
    msg = StepReport(
        flow_id="flow-7f3a", step="summarise", status="completed", attempt=2, tokens=812
    )
    plain = msg.model_dump(mode="json")
    env = Envelope(
        seq=41,
        message_id=MessageId("m41"),
        correlation_id=CorrelationId("/agents/planner#3"),
        sender=ActorPath("/agents/planner"),
        recipient=ActorPath("/agents/writer"),
        reply_to=ActorPath("/agents/planner"),
        logical_time=17,
        wall_time=1_700_000_000.25,
        message=msg,
    )
    plain_env = {**env._asdict(), "message": plain}
    packb, unpackb = msgpack.packb, msgpack.unpackb
    assert decode_message(encode_message(msg)) == msg
    assert decode_envelope(encode_envelope(env)) == env

    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "message encode+decode (5 fields)",
            lambda: decode_message(encode_message(msg)),
            lambda: unpackb(packb(plain, use_bin_type=True), raw=False),
        ),
        (
            "envelope encode+decode",
            lambda: decode_envelope(encode_envelope(env)),
            lambda: unpackb(packb(plain_env, use_bin_type=True), raw=False),
        ),
    ]
    rows: list[Row] = []
    for label, af_fn, base_fn in cases:
        per_op(af_fn, sizes.codec_ops // 10)
        per_op(base_fn, sizes.codec_ops // 10)
        af: list[float] = []
        base: list[float] = []
        for _ in range(sizes.repeats):
            base.append(per_op(base_fn, sizes.codec_ops))
            af.append(per_op(af_fn, sizes.codec_ops))
        rows.append(
            Row(
                "6 codec",
                f"{label} (N={sizes.codec_ops:,})",
                "us",
                median(af),
                median(base),
                "dict via msgpack packb+unpackb",
                target="<= 3x",
                limit=3.0,
                samples={"actorflow": af, "msgpack": base},
            )
        )
    return rows


# -- 7. immutable message data ---------------------------------------------------------


SMALL_ITEMS = ["alpha", "beta", "gamma", "delta", "epsilon"]
SMALL_DATA: dict[str, JsonValue] = {
    "step": "summarise",
    "attempt": 2,
    "ok": True,
    "tokens": [812, 90],
    "usage": {"prompt": 700, "completion": 112},
    "tags": ["draft", {"lang": "en"}],
}
BIG_DATA: dict[str, JsonValue] = {
    "rows": [{"id": i, "tags": ["a", "b"], "score": i / 7} for i in range(200)]
}  # 1,000 JSON values
BASKET_RUNS = itertools.count()


def tell_baskets(system: ActorSystem, cls: type[Basket | BasketUnfrozen], n: int) -> float:
    """Messages per second, a new ``cls`` per tell, until the actor has handled the last."""
    done = threading.Event()
    path = system.spawn(recipe(AfBasketCounter, n, done), f"baskets-{next(BASKET_RUNS)}")
    tell = system.tell
    try:
        fresh()
        t0 = perf()
        for _ in range(n):
            tell(path, cls(items=SMALL_ITEMS, data=SMALL_DATA))
        if not done.wait(WAIT):
            raise TimeoutError("basket tell run did not complete")
        return n / (perf() - t0)
    finally:
        system.stop(path, timeout=WAIT)


def bench_frozen(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Section 7."""
    log("immutable message data: build and tell, frozen against not frozen")
    rows: list[Row] = []
    builds: list[tuple[str, dict[str, Any], int]] = [
        ("build a message with a 5-item list and a 6-key JSON dict", {"data": SMALL_DATA}, 1),
        ("build a message with 1,000 JSON values", {"data": BIG_DATA}, 50),
    ]
    for label, fields, cost in builds:
        n = max(100, sizes.codec_ops // cost)
        after = functools.partial(Basket, items=SMALL_ITEMS, **fields)
        before = functools.partial(BasketUnfrozen, items=SMALL_ITEMS, **fields)
        per_op(after, n // 10)
        per_op(before, n // 10)
        af: list[float] = []
        base: list[float] = []
        for _ in range(sizes.repeats):
            base.append(per_op(before, n))
            af.append(per_op(after, n))
        rows.append(
            Row(
                "7 frozen",
                f"{label} (N={n:,})",
                "us",
                median(af),
                median(base),
                "same class, not frozen",
                note="info",
                samples={"frozen": af, "not frozen": base},
            )
        )
    with ActorSystem() as system:
        tell_baskets(system, Basket, sizes.tells // 10)  # warm-up
        tell_baskets(system, BasketUnfrozen, sizes.tells // 10)
        af, base = [], []
        for _ in range(sizes.repeats):
            base.append(tell_baskets(system, BasketUnfrozen, sizes.tells))
            af.append(tell_baskets(system, Basket, sizes.tells))
    rows.append(
        Row(
            "7 frozen",
            f"tell throughput, new list/dict message per tell (N={sizes.tells:,})",
            "msg/s",
            median(af),
            median(base),
            "same class, not frozen",
            higher_is_better=True,
            note="info",
            samples={"frozen": af, "not frozen": base},
        )
    )
    return rows


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
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "pykka": metadata.version("pykka"),
        "pydantic": metadata.version("pydantic"),
        "msgpack": metadata.version("msgpack"),
        "actorflow": metadata.version("actorflow"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt(value: float | None, unit: str) -> str:
    """Format one figure with its unit."""
    if value is None:
        return "n/a"
    if unit == "msg/s":
        return f"{value:,.0f} msg/s"
    if unit == "us":
        return f"{value:,.1f} us" if value < 100 else f"{value:,.0f} us"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "KiB":
        return f"{value:,.1f} KiB"
    return f"{value:,.3f} {unit}"


def verdict(row: Row) -> str:
    """met / MISSED / blank."""
    if row.met is None:
        return ""
    return "met" if row.met else "MISSED"


def render(rows: list[Row], info: dict[str, str], console: Console) -> None:
    """Print machine info and the results table."""
    for key, value in info.items():
        console.print(f"[bold]{key}[/]: {value}")
    table = Table(title="actorflow runtime benchmark (medians)", show_lines=False)
    for col, justify in (
        ("#", "left"),
        ("measurement", "left"),
        ("actorflow", "right"),
        ("baseline", "right"),
        ("baseline is", "left"),
        ("ratio", "right"),
        ("target", "left"),
        ("", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        ratio = row.ratio
        status = verdict(row)
        style = {"met": "green", "MISSED": "bold red"}.get(status, "")
        table.add_row(
            row.section,
            row.metric + (f" [dim]({row.note})[/]" if row.note else ""),
            fmt(row.actorflow, row.unit),
            fmt(row.baseline, row.unit),
            row.baseline_name,
            "n/a" if ratio is None else f"{ratio:.2f}x",
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
        ratio = row.ratio
        metric = row.metric + (f" ({row.note})" if row.note else "")
        out.append(
            f"| {row.section} | {metric} | {fmt(row.actorflow, row.unit)} | "
            f"{fmt(row.baseline, row.unit)} | {row.baseline_name} | "
            f"{'n/a' if ratio is None else f'{ratio:.2f}x'} | {row.target} | "
            f"{verdict(row) or '-'} |"
        )
    return "\n".join(out) + "\n"


SECTIONS: dict[str, Callable[[Sizes, Callable[[str], None]], list[Row]]] = {
    "tell": bench_tell,
    "ask": bench_ask,
    "hop": bench_pingpong,
    "fanout": bench_fanout,
    "spawn": bench_spawn,
    "codec": bench_codec,
    "frozen": bench_frozen,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run under 30 s")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SECTIONS), help="run only these sections"
    )
    parser.add_argument("--json", type=Path, help="also write figures and samples as JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown")
    parser.add_argument("--spawn-child", nargs=2, metavar=("LIB", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.spawn_child:
        lib, n = args.spawn_child
        print(json.dumps(spawn_child(lib, int(n))))
        return 0

    sizes = QUICK if args.quick else FULL
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    info = machine_info()
    info["command"] = " ".join(["python", "bench/runtime.py", *(argv or sys.argv[1:])])
    started = perf()

    def log(text: str) -> None:
        console.print(f"[dim]{perf() - started:7.1f}s[/] {text}")

    rows: list[Row] = []
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        try:
            rows.extend(section(sizes, log))
        finally:
            pykka.ActorRegistry.stop_all(timeout=WAIT)  # nothing may outlive its section
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
