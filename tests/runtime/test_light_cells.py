"""Light cells: loop-dispatched actors create what they rarely use on first use, so a
process can hold many of them; they must behave exactly like before."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

import pykka
from loguru import logger

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    Message,
    RequestTimedOut,
    recipe,
)
from actorflow.messages.system import ActorStopped
from actorflow.runtime.mailbox import Mailbox, MailboxConfig, PutResult
from tests.support import Done, Log, Marker, Work, Worker


class Ask(Message):
    """Ask the receiver's child a question that nobody answers, with a timeout."""

    kind: Literal["test.light_ask"] = "test.light_ask"


class Silent(Behaviour):
    """Never answers."""

    def on_work(self, msg: Work, ctx: Context) -> None:
        pass


class Echo(Behaviour):
    """Replies Done(n) to Work(n)."""

    def on_work(self, msg: Work, ctx: Context) -> None:
        ctx.reply(Done(n=msg.n, by=ctx.path))


class Counter(Behaviour):
    """Counts Work in its own state and replies with the count."""

    def __init__(self) -> None:
        self.count = 0

    def on_work(self, msg: Work, ctx: Context) -> None:
        self.count += 1
        ctx.reply(Done(n=self.count))


class Parent(Behaviour):
    """Spawns a child, asks it with a timeout, schedules a timer; logs what arrives."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def on_start(self, ctx: Context) -> None:
        ctx.spawn(Silent, "child")

    def on_ask(self, msg: Ask, ctx: Context) -> None:
        self.log.add(("children", ctx.children))
        ctx.request(ActorPath(f"{ctx.path}/child"), Work(n=1), timeout=0.05)
        ctx.schedule(0.01, Marker(label="timer"))

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        self.log.add(("timed out", msg.request_kind))

    def on_marker(self, msg: Marker, ctx: Context) -> None:
        self.log.add(("marker", msg.label))


class Chatty(Behaviour):
    """Logs through its context's logger."""

    def on_work(self, msg: Work, ctx: Context) -> None:
        ctx.log.info("work {n}", n=msg.n)
        ctx.reply(Done(n=msg.n))


def test_thousands_of_loop_actors_each_answer_and_all_stop_cleanly() -> None:
    n = 3_000
    stopped: list[str] = []
    system = ActorSystem().start()
    system.subscribe(lambda e: stopped.append(e.reason) if isinstance(e, ActorStopped) else None)
    try:
        paths = [system.spawn(Echo, f"e{i}", dispatcher="loop") for i in range(n)]

        async def ask_all() -> list[Message]:
            return await asyncio.gather(
                *(system.ask_async(p, Work(n=i), timeout=30) for i, p in enumerate(paths))
            )

        replies = asyncio.run(ask_all())
        assert replies == [Done(n=i, by=p) for i, p in enumerate(paths)]
        assert system.statistics().processed >= n
    finally:
        system.shutdown(timeout=60)
    assert system.dead_letters.total == 0
    assert len(stopped) >= n
    assert not [r for r in stopped if "abandoned" in r]


def test_a_loop_actor_keeps_message_order_across_bursts(system: ActorSystem) -> None:
    log = Log()
    path = system.spawn(recipe(Worker, log, "w"), "w", dispatcher="loop")
    sent: list[int] = []
    for burst in range(4):
        for i in range(burst * 100, burst * 100 + 10**burst):
            system.tell(path, Work(n=i))
            sent.append(i)
        marker = ("marker", f"b{burst}", len(sent))
        system.tell(path, Marker(label=f"b{burst}"))
        log.wait_for(marker)
    assert [i[1] for i in log.snapshot() if isinstance(i, tuple) and i[0] == "w"] == sent


def test_spawning_by_class_gives_each_actor_its_own_behaviour(system: ActorSystem) -> None:
    a = system.spawn(Counter, "a", dispatcher="loop")
    b = system.spawn(Counter, "b", dispatcher="loop")
    assert system.ask(a, Work()) == Done(n=1)
    assert system.ask(a, Work()) == Done(n=2)
    assert system.ask(b, Work()) == Done(n=1)
    t = system.spawn(Counter, "t")
    assert system.ask(t, Work()) == Done(n=1)


def test_a_loop_actor_s_children_requests_and_timers_work(system: ActorSystem) -> None:
    log = Log()
    path = system.spawn(recipe(Parent, log), "parent", dispatcher="loop")
    system.tell(path, Ask())
    log.wait_for(("timed out", "test.work"))
    log.wait_for(("marker", "timer"))
    assert ("children", (ActorPath(f"{path}/child"),)) in log.snapshot()
    stats = system.actor_statistics(path)
    assert (stats.children, stats.mailbox_depth, stats.processed) == (1, 0, 3)
    system.stop(path, timeout=5)
    assert system.cell_at(ActorPath(f"{path}/child")) is None


def test_waiting_for_a_loop_actor_to_terminate_returns_once_it_stops(system: ActorSystem) -> None:
    path = system.spawn(Echo, "e", dispatcher="loop")
    cell = system.cell_at(path)
    assert cell is not None
    assert not cell.terminated.is_set()
    assert repr(cell.terminated).endswith(": unset>")
    assert not cell.terminated.wait(0.001)
    waiting = threading.Event()
    results: list[bool] = []

    def waiter() -> None:
        waiting.set()
        results.append(cell.terminated.wait(10))

    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait(5)
    system.stop(path, timeout=5)
    thread.join(10)
    assert results == [True]
    assert cell.terminated.is_set()
    assert repr(cell.terminated).endswith(": set>")
    assert cell.terminated.wait(0)


def test_pykka_stop_all_stops_loop_actors_through_their_parents() -> None:
    log = Log()
    system = ActorSystem().start()
    try:
        paths = [
            system.spawn(recipe(Worker, log, f"w{i}"), f"w{i}", dispatcher="loop")
            for i in range(20)
        ]
        for path in paths:
            assert system.ask(path, Work(n=1)) == Done(n=1, by=path)
        cells = [system.cell_at(p) for p in paths]
        pykka.ActorRegistry.stop_all(timeout=10)
        assert all(c is not None and c.terminated.is_set() for c in cells)
        assert {("stop", f"w{i}") for i in range(20)} <= set(log.snapshot())
    finally:
        system.shutdown(timeout=10)


def test_a_loop_actor_logs_with_its_path_and_run_id(system: ActorSystem) -> None:
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda m: records.append(m.record["extra"]), level="INFO")
    try:
        path = system.spawn(Chatty, "chatty", dispatcher="loop")
        assert system.ask(path, Work(n=7)) == Done(n=7)
    finally:
        logger.remove(sink)
    assert {"path": path, "run_id": system.run_id, "n": 7} in records


def test_a_fresh_loop_actor_reports_empty_statistics(system: ActorSystem) -> None:
    path = system.spawn(Echo, "e", dispatcher="loop")
    assert system.ask(path, Work(n=1)) == Done(n=1, by=path)
    stats = system.actor_statistics(path)
    assert stats.is_alive
    assert not stats.is_suspended
    assert (stats.children, stats.mailbox_depth, stats.processed, stats.failed) == (0, 0, 1, 0)


def test_a_callback_woken_mailbox_queues_takes_and_closes_like_any_other() -> None:
    wakes: list[int] = []
    box = Mailbox(MailboxConfig(batch_size=2), threaded=False)
    box.on_wake(lambda: wakes.append(len(box)))
    assert (len(box), box.empty()) == (0, True)
    assert box.take_nowait(include_user=True) == ([], [])  # now marked waiting
    assert box.offer("a") == (PutResult.QUEUED, None)
    box.offer("b")
    box.offer("c")
    assert wakes == [1]  # one wake-up, for the first message after the empty take
    assert box.take_nowait(include_user=True) == ([], ["a", "b"])
    assert box.take_nowait(include_user=True) == ([], ["c"])
    box.push_front(["b", "c"])
    assert len(box) == 2
    assert box.take_nowait(include_user=True) == ([], ["b", "c"])
    assert box.take_nowait(include_user=True) == ([], [])
    box.push_front([])
    box.offer("d")
    assert wakes == [1, 1]
    assert box.close() == ["d"]
    assert box.offer("e") == (PutResult.CLOSED, None)
    assert len(box) == 0
