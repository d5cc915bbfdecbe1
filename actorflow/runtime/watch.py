"""Death watch: tell an actor when another actor stops or restarts.

``watch(system, watcher, target)`` asks the system to tell ``watcher`` a
:class:`WatchedActorDown` when the actor at ``target`` stops (``restarted=False``; the
watch ends) or is restarted by its supervisor (``restarted=True``: its behaviour, and
the state in it, is gone; the watch goes on). A target that holds no live actor when it
is watched is reported at once, as Erlang's monitors do, so a watch never misses a death.
Each (watcher, target) pair is told once per event, however often it was watched.

A watch is of one *incarnation*: the actor holding the path when it was watched
(:func:`incarnation_of` numbers them). A new actor spawned at the path of one that
stopped is another incarnation: the old one's stop does not end a watch of the new one
(watching the path again moves the watch to the actor now there). A stop notice is sent
after the stopped actor released its path: one for a path whose actor is still
``incarnation_of`` the one a watcher watched is about an older actor.

One lifecycle listener per system (:meth:`ActorSystem.subscribe`) does the work: it runs
on the thread of the actor that stopped or restarted, costs one dict lookup for an actor
nobody watches, and takes a lock only for a watched one. A watcher that stops has its
own watches dropped. Watches are kept outside the watcher's behaviour, so they outlive
its restarts.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Literal, final

from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.messages.system import ActorRestarted, ActorStopped
from actorflow.runtime.system import ActorSystem

__all__ = [
    "NOT_ALIVE",
    "WatchedActorDown",
    "incarnation_of",
    "unwatch",
    "watch",
    "watch_incarnation",
    "watched_by",
]

NOT_ALIVE = "not alive when watched"
"""The ``reason`` of a :class:`WatchedActorDown` for a target that was already gone."""


class WatchedActorDown(Message):
    """A watched actor stopped, or was restarted (its behaviour's state is gone)."""

    kind: Literal["watch.actor_down"] = "watch.actor_down"
    path: ActorPath
    """The watched actor."""
    reason: str
    """Why it stopped (the stop reason), ``restarted``, or ``not alive when watched``."""
    restarted: bool = False
    """True when it lives on with a new behaviour (the watch goes on); False when it
    stopped (the watch has ended)."""


@final
class _Watches:
    """The watches of one system and the lifecycle listener that reports them."""

    def __init__(self, system: ActorSystem) -> None:
        self._system = weakref.ref(system)  # the system holds this listener, not vice versa
        self._lock = threading.Lock()
        self._targets: dict[str, dict[ActorPath, int]] = {}
        """Target path -> watcher path -> the incarnation watched."""
        self._watching: dict[str, set[str]] = {}
        """Watcher path -> target paths (to drop a stopped watcher's watches)."""

    def add(self, watcher: ActorPath, target: ActorPath, incarnation: int) -> None:
        with self._lock:
            self._targets.setdefault(target, {})[watcher] = incarnation
            self._watching.setdefault(watcher, set()).add(target)

    def remove(self, watcher: ActorPath, target: ActorPath, incarnation: int | None = None) -> bool:
        """Drop the pair (only if it watches ``incarnation``, when given)."""
        with self._lock:
            watched = self._targets.get(target, {}).get(watcher)
            if incarnation is not None and watched != incarnation:
                return False
            return self._remove_locked(watcher, target)

    def _remove_locked(self, watcher: str, target: str) -> bool:
        watchers = self._targets.get(target)
        if watchers is None or watcher not in watchers:
            return False
        del watchers[ActorPath(watcher)]
        if not watchers:
            del self._targets[target]
        targets = self._watching.get(watcher)
        if targets is not None:
            targets.discard(target)
            if not targets:
                del self._watching[watcher]
        return True

    def targets_of(self, watcher: ActorPath) -> frozenset[ActorPath]:
        with self._lock:
            return frozenset(ActorPath(t) for t in self._watching.get(watcher, ()))

    def __call__(self, event: Message) -> None:
        """The lifecycle listener (the thread of the actor the event is about)."""
        kind = type(event)
        if kind is ActorStopped:
            assert isinstance(event, ActorStopped)
            path = event.path
            # Unlocked membership tests: the common case (nobody watches it) stays cheap.
            if path in self._targets or path in self._watching:
                self._stopped(path, event.reason)
        elif kind is ActorRestarted:
            assert isinstance(event, ActorRestarted)
            if event.path in self._targets:
                live = self._live(event.path)  # a restarted actor keeps its path
                with self._lock:
                    watched = self._targets.get(event.path, {})
                    told = tuple((w, i) for w, i in watched.items() if i == live)
                self._tell(told, event.path, "restarted", restarted=True)

    def _live(self, path: ActorPath) -> int:
        """The incarnation holding ``path`` now (0: none, or one nobody watched)."""
        system = self._system()
        cell = None if system is None else system.cell_at(path)
        return 0 if cell is None else _numbers.get(cell, 0)

    def _stopped(self, path: ActorPath, reason: str) -> None:
        # The stopped actor has released its path: a watch of the actor holding it now
        # (a new incarnation) is not about this stop.
        live = self._live(path)
        with self._lock:
            watched = self._targets.get(path, {})
            told = tuple((w, i) for w, i in watched.items() if i != live)
            for watcher, _ in told:
                self._remove_locked(watcher, path)
            if not live:
                for target in tuple(self._watching.get(path, ())):
                    self._remove_locked(path, target)  # a stopped watcher watches nothing
        self._tell(told, path, reason, restarted=False)

    def _tell(
        self,
        told: tuple[tuple[ActorPath, int], ...],
        path: ActorPath,
        reason: str,
        *,
        restarted: bool,
    ) -> None:
        system = self._system()
        if system is None or not told or not system.is_running:
            return  # at shutdown everyone stops: nobody needs telling
        down = WatchedActorDown(path=path, reason=reason, restarted=restarted)
        for watcher, _ in told:
            system.send(watcher, down)


_registries: weakref.WeakKeyDictionary[ActorSystem, _Watches] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()
_numbers: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
"""The incarnation number of each actor (cell) that was asked for one."""
_counter = itertools.count(1)
_numbers_lock = threading.Lock()


def incarnation_of(system: ActorSystem, path: ActorPath) -> int:
    """Number the actor holding ``path`` now (the same number for its whole life, restarts
    included; another actor later at that path gets another); 0 if none holds it."""
    cell = system.cell_at(path)
    if cell is None:
        return 0
    with _numbers_lock:
        number = _numbers.get(cell)
        if number is None:
            number = _numbers[cell] = next(_counter)
        return number


def _watches(system: ActorSystem) -> _Watches:
    with _registries_lock:
        watches = _registries.get(system)
        if watches is None:
            watches = _Watches(system)
            system.subscribe(watches)
            _registries[system] = watches
        return watches


def watch(system: ActorSystem, watcher: ActorPath, target: ActorPath) -> bool:
    """Tell ``watcher`` a :class:`WatchedActorDown` when ``target`` stops or restarts.

    Safe on any thread, handlers included (it never waits). Watching a pair again is
    harmless: each event is told once per pair.

    Returns:
        Whether ``target`` was alive. If it was not, ``watcher`` is told at once
        (``reason="not alive when watched"``) and nothing stays registered.
    """
    return watch_incarnation(system, watcher, target) != 0


def watch_incarnation(system: ActorSystem, watcher: ActorPath, target: ActorPath) -> int:
    """Like :func:`watch`, and return the incarnation watched (0: ``target`` was not
    alive). Watching a path again moves the watch to the actor holding it now."""
    watches = _watches(system)
    incarnation = incarnation_of(system, target)
    if incarnation:
        watches.add(watcher, target, incarnation)
        # Checked after registering: a stop in between is reported once, by whichever
        # of the listener and this check removes the pair first.
        if incarnation_of(system, target) == incarnation:
            return incarnation
    if not incarnation or watches.remove(watcher, target, incarnation):
        system.send(watcher, WatchedActorDown(path=target, reason=NOT_ALIVE))
    return 0


def unwatch(system: ActorSystem, watcher: ActorPath, target: ActorPath) -> bool:
    """Stop watching ``target``; return whether ``watcher`` was watching it.

    A notice already sent is not taken back.
    """
    return _watches(system).remove(watcher, target)


def watched_by(system: ActorSystem, watcher: ActorPath) -> frozenset[ActorPath]:
    """Return the paths ``watcher`` watches now."""
    return _watches(system).targets_of(watcher)
