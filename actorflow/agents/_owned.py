"""The actor system behind an agents-layer facade: given (embedding), or owned (started on
first use, shut down by ``close``), and actors spawned once per system."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Literal

from actorflow.errors import ActorNameTakenError
from actorflow.ids import ActorPath
from actorflow.runtime.behaviour import Recipe
from actorflow.runtime.system import AGENTS_PATH, ActorSystem

__all__ = ["SystemHandle", "ensure_actor"]

_spawn_lock = threading.Lock()


class SystemHandle:
    """An actor system a facade uses: ``system`` given (the application's, never shut down
    here) or ``None`` (a system of its own, started on first use, shut down by
    :meth:`close`)."""

    def __init__(self, system: ActorSystem | None = None) -> None:
        self._system = system
        self.is_owned = system is None
        self._lock = threading.Lock()

    @property
    def system(self) -> ActorSystem:
        """The actor system (started now if this handle owns it and it is not running)."""
        with self._lock:
            if self._system is None:
                self._system = ActorSystem().start()
            return self._system

    @property
    def is_started(self) -> bool:
        """Whether the system exists (an owned one is made on first use)."""
        return self._system is not None

    def close(self, timeout: float = 10.0) -> None:
        """Shut the system down if this handle owns it; a given system is left running."""
        with self._lock:
            system, owned = self._system, self.is_owned
            if owned:
                self._system = None
        if owned and system is not None and system.is_running:
            system.shutdown(timeout)


def ensure_actor(
    system: ActorSystem,
    name: str,
    make: Callable[[], Recipe],
    *,
    parent: ActorPath = AGENTS_PATH,
    dispatcher: Literal["thread", "loop"] = "thread",
) -> ActorPath:
    """Return the path ``parent/name``, spawning ``make()`` there if no actor holds it."""
    path = ActorPath(f"{parent}/{name}")
    with _spawn_lock:
        if system.cell_at(path) is None:
            with suppress(ActorNameTakenError):  # spawned by another caller in between
                system.spawn(make(), name, parent=parent, dispatcher=dispatcher)
    return path
