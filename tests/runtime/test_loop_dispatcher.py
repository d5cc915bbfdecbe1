"""Actors spawned with dispatcher="loop" run as callbacks on the effects event loop."""

from __future__ import annotations

import threading

from actorflow import ActorSystem, Behaviour, Context, DeadLetterReason, recipe
from tests.support import Done, Log, Marker, Work, Worker


class WhereAmI(Behaviour):
    def __init__(self, log: Log) -> None:
        self.log = log

    def on_work(self, msg: Work, ctx: Context) -> None:
        self.log.add(threading.current_thread().name)
        ctx.reply(Done(n=msg.n))


def test_a_loop_actor_runs_on_the_effects_loop_thread_and_answers_asks(
    system: ActorSystem,
) -> None:
    log = Log()
    path = system.spawn(recipe(WhereAmI, log), "where", dispatcher="loop")

    assert system.ask(path, Work(n=1)) == Done(n=1)
    assert log.snapshot() == ["actorflow-effects"]
    assert system.cell_at(path).thread is None  # type: ignore[union-attr]


def test_a_loop_actor_is_supervised_like_any_other(system: ActorSystem) -> None:
    log = Log()
    path = system.spawn(recipe(Worker, log, "w", frozenset({2})), "w", dispatcher="loop")

    for n in (1, 2, 3):
        system.tell(path, Work(n=n))
    system.tell(path, Marker(label="end"))

    log.wait_until(
        lambda items: any(i[:2] == ("marker", "end") for i in items if isinstance(i, tuple))
    )
    assert [i[1] for i in log.snapshot() if isinstance(i, tuple) and i[0] == "w"] == [1, 3]
    assert [d.reason for d in system.dead_letters.recent()] == [DeadLetterReason.FAILED]
    assert system.actor_statistics(path).restarts == 1


def test_many_loop_actors_exchange_messages_and_stop_cleanly(system: ActorSystem) -> None:
    log = Log()
    paths = [
        system.spawn(recipe(Worker, log, f"w{i}"), f"w{i}", dispatcher="loop") for i in range(50)
    ]
    for path in paths:
        for n in range(20):
            system.tell(path, Work(n=n))

    log.wait_until(
        lambda items: sum(1 for i in items if isinstance(i, tuple) and i[0] != "start") == 1000
    )

    for path in paths:
        system.stop(path, timeout=5)
    assert not [p for p in system.paths() if p.startswith("/agents/w")]


def test_a_blocking_ask_inside_a_loop_actor_raises_instead_of_freezing_the_loop(
    system: ActorSystem,
) -> None:
    from actorflow import BlockingCallError

    log = Log()

    class Asker(Behaviour):
        def on_work(self, msg: Work, ctx: Context) -> None:
            try:
                ctx.system.ask("/agents/anyone", Work(), timeout=30)
            except BlockingCallError:
                log.add("refused")

    system.tell(system.spawn(Asker, "asker", dispatcher="loop"), Work())

    log.wait_for("refused")
