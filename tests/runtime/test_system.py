from __future__ import annotations

import threading

import pytest

from actorflow import (
    ActorNameTakenError,
    ActorPath,
    ActorSystem,
    Behaviour,
    ConfigurationError,
    Context,
    FakeClock,
    SupervisorStrategy,
    SystemStoppedError,
    UnknownActorError,
    recipe,
)
from actorflow.messages import ActorStopped
from actorflow.testing import Probe
from tests.support import Done, Log, Marker, Work, Worker


def test_the_tree_has_root_guardians_and_the_dead_letter_office(system: ActorSystem) -> None:
    assert system.paths() == ("/", "/agents", "/flows", "/system", "/system/deadletters")


def test_spawn_under_an_unknown_parent_names_the_parent(system: ActorSystem) -> None:
    with pytest.raises(UnknownActorError, match=r"no live actor holds the parent path '/nope'"):
        system.spawn(Worker, "w", parent="/nope")


def test_spawn_of_a_taken_path_is_refused(system: ActorSystem) -> None:
    system.spawn(recipe(Worker, Log()), "w")

    with pytest.raises(ActorNameTakenError, match=r"^Cannot spawn '/agents/w': an actor already"):
        system.spawn(recipe(Worker, Log()), "w")


@pytest.mark.parametrize("name", ["", "a/b", "-x", "with space", "x" * 200])
def test_spawn_with_an_invalid_name_is_a_configuration_error(
    system: ActorSystem, name: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"^Actor name .* is not a valid path segment"):
        system.spawn(recipe(Worker, Log()), name)


def test_spawn_of_something_that_is_not_a_behaviour_is_refused(system: ActorSystem) -> None:
    with pytest.raises(ConfigurationError, match=r"needs a Behaviour subclass or a Recipe"):
        system.spawn(dict, "d")  # type: ignore[arg-type]


def test_a_system_that_was_shut_down_refuses_new_work() -> None:
    system = ActorSystem().start()
    system.shutdown()

    with pytest.raises(SystemStoppedError, match=r"is not running"):
        system.spawn(recipe(Worker, Log()), "w")
    with pytest.raises(SystemStoppedError):
        system.tell("/agents", Marker())


def test_statistics_count_processing_per_actor_and_system_wide(system: ActorSystem) -> None:
    path = system.spawn(recipe(Worker, Log()), "w")
    for n in range(5):
        system.ask(path, Work(n=n))
    system.tell("/agents/ghost", Marker())

    stats = system.actor_statistics(path)
    totals = system.statistics()

    assert (stats.processed, stats.failed, stats.restarts, stats.mailbox_depth) == (5, 0, 0, 0)
    assert stats.is_alive
    assert totals.dead_letters_by_reason == {"unknown_recipient": 1}
    assert totals.actors == 6


def test_system_statistics_keep_the_counts_of_actors_that_stopped(system: ActorSystem) -> None:
    path = system.spawn(recipe(Worker, Log()), "w")
    for n in range(3):
        system.ask(path, Work(n=n))
    before = system.statistics().processed

    system.stop(path)

    assert system.statistics().processed >= before >= 3


def test_probe_records_what_it_is_sent(system: ActorSystem) -> None:
    probe = Probe(system, "probe")
    worker = system.spawn(recipe(Worker, Log()), "w")

    system.send(worker, Work(n=4), sender=probe.path, reply_to=probe.path)

    assert probe.expect(Done, timeout=5) == Done(n=4, by=worker)


class Stuck(Behaviour):
    """Its on_stop hangs until released: a child that will not stop in time."""

    def __init__(self, release: threading.Event, log: Log) -> None:
        self.release = release
        self.log = log

    def on_stop(self, ctx: Context) -> None:
        self.log.add("stopping")
        assert self.release.wait(10), "the test never released the stuck actor"


class Parent(Behaviour):
    def __init__(self, release: threading.Event, log: Log) -> None:
        self.release = release
        self.log = log

    def on_start(self, ctx: Context) -> None:
        ctx.spawn(recipe(Stuck, self.release, self.log), "stuck")

    def on_stop(self, ctx: Context) -> None:
        self.log.add("parent stopped")


def test_a_child_that_does_not_stop_in_time_is_abandoned_and_the_parent_stops(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    release, log = threading.Event(), Log()
    stopped = Log()
    fake_system.subscribe(stopped.add)
    strategy = SupervisorStrategy(stop_timeout=2.0)
    parent = fake_system.spawn(recipe(Parent, release, log), "parent", strategy=strategy)
    stuck = ActorPath(f"{parent}/stuck")
    fake_system.tell(stuck, Marker())  # proves it started before we stop it
    assert fake_system.dead_letters.wait_for(1, timeout=5)  # Stuck has no marker handler

    fake_system.stop_nowait(parent)
    log.wait_for("stopping")
    clock.advance(2.0)

    stopped.wait_for(ActorStopped(path=parent, reason="requested"))
    assert "parent stopped" in log.snapshot()
    assert stuck not in fake_system.paths()
    release.set()
