"""Issue 10, item 10: shutting down with a hung handler.

Stop deadlines nest (each parent gives a child a deadline inside its own), so the actor
that hangs is given up on by its own parent, every other actor stops in order, the
error names the actor that hung and what it runs, and the abandoned thread ends once
its handler returns. The tests release the hung handler with an event; no sleeps.
"""

from __future__ import annotations

import threading
from typing import Literal

import pytest

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    FakeClock,
    ShutdownTimeoutError,
    SupervisorStrategy,
    recipe,
)
from actorflow.messages import ActorStopped
from actorflow.runtime.cell import Cell
from tests.support import Log, Work

Dispatcher = Literal["thread", "loop"]


class Hanging(Behaviour):
    """Blocks in its Work handler until the test sets ``release``."""

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        self.entered = entered
        self.release = release

    def on_work(self, msg: Work, ctx: Context) -> None:
        self.entered.set()
        assert self.release.wait(30), "the test never released the handler"


class Holder(Behaviour):
    """Spawns one child from a recipe in on_start."""

    def __init__(self, name: str, child: object) -> None:
        self.name = name
        self.child = child

    def on_start(self, ctx: Context) -> None:
        ctx.spawn(self.child, self.name)  # type: ignore[arg-type]


def cell(system: ActorSystem, path: str) -> Cell:
    found = system.cell_at(ActorPath(path))
    assert found is not None, path
    return found


@pytest.mark.parametrize("dispatcher", ["thread", "loop"])
def test_shutdown_names_the_hung_actor_and_its_thread_ends_when_the_handler_returns(
    dispatcher: Dispatcher,
) -> None:
    entered, release = threading.Event(), threading.Event()
    system = ActorSystem().start()
    path = system.spawn(recipe(Hanging, entered, release), "stuck", dispatcher=dispatcher)
    stuck, agents, root = cell(system, path), cell(system, "/agents"), cell(system, "/")
    system.tell(path, Work(n=1))
    system.tell(path, Work(n=2))  # queued behind the hung handler
    assert entered.wait(5)

    with pytest.raises(ShutdownTimeoutError) as raised:
        system.shutdown(timeout=0.5)

    message = str(raised.value)
    assert "did not stop within 0.5 s: '/agents/stuck' is still in its handler of 'test.work'" in (
        message
    )
    assert "'/agents'" not in message
    assert agents.terminated.is_set()
    assert root.terminated.is_set()
    assert not stuck.terminated.is_set()
    release.set()
    assert stuck.terminated.wait(10)
    assert stuck.processed == 1
    assert system.dead_letters.counts() == {"stopped": 1}  # Work(n=2)
    assert len(stuck.mailbox) == 0
    if dispatcher == "loop":
        close_the_effects_loop(system)


def close_the_effects_loop(system: ActorSystem) -> None:
    """Close the effects loop that shutdown could not close while the hung handler held
    it (a loop closed by its own thread at its end would make this unnecessary)."""
    for thread in threading.enumerate():
        if thread.name == "actorflow-effects":
            thread.join(10)
    loop = system.effects.loop
    if loop is not None and not loop.is_closed():
        loop.close()


def test_stop_deadlines_nest_so_a_parent_reports_before_its_own_parent_gives_up(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    """p waits 2 s for c; c gives up on its hung child g a tenth of that earlier."""
    log = Log()
    fake_system.subscribe(log.add)
    entered, release = threading.Event(), threading.Event()
    hanging = recipe(Hanging, entered, release)
    parent = fake_system.spawn(
        recipe(Holder, "c", recipe(Holder, "g", hanging)),
        "p",
        strategy=SupervisorStrategy(stop_timeout=2.0),
    )
    child, grandchild = ActorPath(f"{parent}/c"), ActorPath(f"{parent}/c/g")
    hung = wait_for_cell(fake_system, grandchild)
    fake_system.tell(grandchild, Work())
    assert entered.wait(5)

    fake_system.stop_nowait(parent)
    assert clock.wait_for_timers(2, timeout=5)  # p's timer for c, c's for g
    clock.advance(1.9)  # past c's deadline for g (1.8 s), before p's for c (2 s)

    log.wait_until(lambda es: any(isinstance(e, ActorStopped) and e.path == parent for e in es))
    stops = {e.path: e.reason for e in log.snapshot() if isinstance(e, ActorStopped)}
    assert stops[grandchild] == (
        "abandoned: it did not stop in time (in its handler of 'test.work')"
    )
    assert stops[child] == "parent stopping"
    assert stops[parent] == "requested"
    release.set()
    assert hung.terminated.wait(10)


class Boss(Behaviour):
    """Spawns an idle child, then hangs in its Work handler until released."""

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        self.hanging = Hanging(entered, release)

    def on_start(self, ctx: Context) -> None:
        ctx.spawn(Behaviour, "kid")

    def on_work(self, msg: Work, ctx: Context) -> None:
        self.hanging.on_work(msg, ctx)


def test_the_children_of_an_abandoned_actor_stop_without_waiting_for_it() -> None:
    entered, release = threading.Event(), threading.Event()
    system = ActorSystem().start()
    try:
        path = system.spawn(recipe(Boss, entered, release), "boss")
        boss = cell(system, path)
        kid = wait_for_cell(system, ActorPath(f"{path}/kid"))
        system.tell(path, Work())
        assert entered.wait(5)

        with pytest.raises(ShutdownTimeoutError, match=r"'/agents/boss' is still in its handler"):
            system.shutdown(timeout=0.5)

        assert kid.terminated.is_set()
        release.set()
        assert boss.terminated.wait(10)
    finally:
        release.set()


def wait_for_cell(system: ActorSystem, path: ActorPath) -> Cell:
    log = Log()
    unsubscribe = system.subscribe(log.add)
    try:
        found = system.cell_at(path)
        if found is None:
            log.wait_until(lambda es: any(getattr(e, "path", None) == path for e in es))
            found = system.cell_at(path)
    finally:
        unsubscribe()
    assert found is not None
    return found


def test_stop_names_a_hung_grandchild_and_its_thread_ends_after_release(
    system: ActorSystem,
) -> None:
    entered, release = threading.Event(), threading.Event()
    team = system.spawn(recipe(Holder, "stuck", recipe(Hanging, entered, release)), "team")
    stuck = wait_for_cell(system, ActorPath(f"{team}/stuck"))
    system.tell(stuck.path, Work())
    assert entered.wait(5)

    with pytest.raises(
        ShutdownTimeoutError,
        match=r"^Actor '/agents/team' did not stop within 0\.5 s: '/agents/team' stopped, but "
        r"'/agents/team/stuck' is still in its handler of 'test\.work'",
    ):
        system.stop(team, timeout=0.5)

    assert team not in system.paths()
    release.set()
    assert stuck.terminated.wait(10)
