"""The runtime's death watch: a watcher is told once when a watched actor stops or restarts."""

from __future__ import annotations

import threading
from typing import Literal

from actorflow import ActorSystem
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.runtime.behaviour import Behaviour
from actorflow.runtime.context import Context
from actorflow.runtime.watch import NOT_ALIVE, WatchedActorDown, unwatch, watch, watched_by
from actorflow.testing import Probe
from tests.agents.conftest import GROUP_STRATEGY, Group


class Fail(Message):
    kind: Literal["watchtest.fail"] = "watchtest.fail"


class Fragile(Behaviour):
    def on_fail(self, msg: Fail, ctx: Context) -> None:
        raise RuntimeError("fragile failed on purpose")


def test_a_watcher_is_told_when_the_watched_actor_stops(system: ActorSystem) -> None:
    watcher = Probe(system, "watcher")
    target = system.spawn(Fragile, "target")

    assert watch(system, watcher.path, target)
    system.stop(target)

    down = watcher.expect(WatchedActorDown)
    assert down == WatchedActorDown(path=target, reason="requested", restarted=False)
    assert watched_by(system, watcher.path) == frozenset()


def test_a_watcher_is_told_of_each_restart_and_keeps_watching(system: ActorSystem) -> None:
    watcher = Probe(system, "watcher")
    group = system.spawn(Group, "group", strategy=GROUP_STRATEGY)
    target = system.spawn(Fragile, "target", parent=group)
    watch(system, watcher.path, target)

    system.tell(target, Fail())
    first = watcher.expect(WatchedActorDown)
    system.tell(target, Fail())
    second = watcher.expect(WatchedActorDown)

    assert first == second == WatchedActorDown(path=target, reason="restarted", restarted=True)
    assert watched_by(system, watcher.path) == {target}


def test_watching_a_path_no_actor_holds_is_told_at_once(system: ActorSystem) -> None:
    watcher = Probe(system, "watcher")
    ghost = ActorPath("/agents/ghost")

    alive = watch(system, watcher.path, ghost)

    assert alive is False
    assert watcher.expect(WatchedActorDown) == WatchedActorDown(path=ghost, reason=NOT_ALIVE)
    assert watched_by(system, watcher.path) == frozenset()


def test_an_unwatched_actor_is_not_reported(system: ActorSystem) -> None:
    watcher = Probe(system, "watcher")
    target = system.spawn(Fragile, "target")
    other = system.spawn(Fragile, "other")
    watch(system, watcher.path, target)
    watch(system, watcher.path, other)

    assert unwatch(system, watcher.path, target)
    system.stop(target)
    system.stop(other)

    assert watcher.expect(WatchedActorDown).path == other
    assert watcher.drain() == []
    assert not unwatch(system, watcher.path, target)


def test_watching_twice_tells_once(system: ActorSystem) -> None:
    watcher = Probe(system, "watcher")
    target = system.spawn(Fragile, "target")
    other = system.spawn(Fragile, "other")
    watch(system, watcher.path, target)
    watch(system, watcher.path, target)
    watch(system, watcher.path, other)

    system.stop(target)
    system.stop(other)

    assert [watcher.expect(WatchedActorDown).path for _ in range(2)] == [target, other]
    assert watcher.drain() == []


def test_a_watcher_that_stops_watches_nothing_more(system: ActorSystem) -> None:
    watcher = Probe(system, "watcher")
    target = system.spawn(Fragile, "target")
    watch(system, watcher.path, target)

    system.stop(watcher.path)
    system.stop(target)

    assert watched_by(system, watcher.path) == frozenset()
    assert system.dead_letters.counts() == {}


def test_many_actors_stopping_at_once_are_each_reported_exactly_once(
    system: ActorSystem,
) -> None:
    """Stop events fire on the stopping actors' own threads, all at once."""
    watchers = [Probe(system, f"watcher{i}") for i in range(3)]
    targets = [system.spawn(Fragile, f"t{i}") for i in range(40)]
    for target in targets:
        for watcher in watchers:
            watch(system, watcher.path, target)
    start = threading.Barrier(len(targets))

    def stop(path: ActorPath) -> None:
        start.wait(timeout=5.0)
        system.stop(path)

    threads = [threading.Thread(target=stop, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10.0)

    for watcher in watchers:
        told = sorted(watcher.expect(WatchedActorDown).path for _ in targets)
        assert told == sorted(targets)
        assert watcher.drain() == []
