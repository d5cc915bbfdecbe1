"""An actor spawned at a path right after its old actor stopped stays supervised."""

from __future__ import annotations

import threading
from typing import Literal

from actorflow import ActorSystem, Behaviour, Context, Message
from actorflow.runtime.behaviour import recipe
from tests.support import Log, Worker


class Hold(Message):
    kind: Literal["test.respawn_hold"] = "test.respawn_hold"


class BusyParent(Behaviour):
    """A parent that is busy (in a handler) until the gate opens."""

    def __init__(self, held: threading.Event, gate: threading.Event) -> None:
        self.held, self.gate = held, gate

    def on_hold(self, msg: Hold, ctx: Context) -> None:
        self.held.set()
        assert self.gate.wait(5)


def test_respawning_at_a_stopped_path_keeps_the_new_actor_a_child() -> None:
    # The old child's ChildStopped reached the busy parent after the new child was
    # adopted, and removed the new one from the parent's children: shutdown then hung
    # on it (ShutdownTimeoutError naming the child).
    held, gate, log = threading.Event(), threading.Event(), Log()
    with ActorSystem() as system:
        parent = system.spawn(recipe(BusyParent, held, gate), "parent")
        child = system.spawn(recipe(Worker, log), "child", parent=parent)
        system.tell(parent, Hold())
        assert held.wait(5)
        system.stop(child, timeout=2)
        again = system.spawn(recipe(Worker, log), "child", parent=parent)
        gate.set()
        assert again == child
    # leaving the block shut everything down, the new child included
