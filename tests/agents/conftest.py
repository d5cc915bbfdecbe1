from __future__ import annotations

import queue
from typing import Literal, TypeVar, final

import pytest

from actorflow import ActorSystem, FakeClock
from actorflow.agents.resource_messages import ResourceStatistics
from actorflow.agents.resources import ensure_resource_allocator, resource_statistics
from actorflow.ids import ActorPath, SequentialIds
from actorflow.messages.base import AnyMessage, Message
from actorflow.messages.envelope import Envelope
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.context import Context
from actorflow.runtime.supervision import SupervisorStrategy

M = TypeVar("M", bound=Message)

CAPACITIES = {"gpu": 1, "cpu": 4}


class Crash(Message):
    """Make a :class:`Holder` raise (its supervisor restarts it)."""

    kind: Literal["resourcetest.crash"] = "resourcetest.crash"


class Send(Message):
    """Make a :class:`Holder` tell ``message`` to ``to`` (as itself); replied ``Sent``."""

    kind: Literal["resourcetest.send"] = "resourcetest.send"
    to: ActorPath
    message: AnyMessage


class Sync(Message):
    """Ask a :class:`Holder` for ``Sent`` once it has handled what came before."""

    kind: Literal["resourcetest.sync"] = "resourcetest.sync"


class Sent(Message):
    """A :class:`Holder` has sent what it was asked to."""

    kind: Literal["resourcetest.sent"] = "resourcetest.sent"


class Holder(Behaviour):
    """An actor that holds resources: sends what it is told to, records what it gets,
    and crashes on :class:`Crash`. Each incarnation reports its start."""

    def __init__(self, inbox: queue.Queue[Envelope], starts: queue.Queue[int]) -> None:
        self.inbox = inbox
        self.starts = starts

    def on_start(self, ctx: Context) -> None:
        self.starts.put(1)

    def on_crash(self, msg: Crash, ctx: Context) -> None:
        raise RuntimeError("holder crashed on purpose")

    def on_sync(self, msg: Sync, ctx: Context) -> None:
        ctx.reply(Sent())

    def on_send(self, msg: Send, ctx: Context) -> None:
        ctx.tell(msg.to, msg.message)
        ctx.reply(Sent())

    def on_message(self, msg: Message, ctx: Context) -> None:
        assert ctx.envelope is not None
        self.inbox.put(ctx.envelope)


class Group(Behaviour):
    """A supervisor for holders (restarts at once, without limit to speak of)."""


GROUP_STRATEGY = SupervisorStrategy(max_restarts=100_000, within=1.0)


@final
class HolderHandle:
    """A :class:`Holder` actor and what it received."""

    def __init__(self, system: ActorSystem, name: str, parent: ActorPath) -> None:
        self.system = system
        self.inbox: queue.Queue[Envelope] = queue.Queue()
        self.starts: queue.Queue[int] = queue.Queue()
        self.path = system.spawn(recipe(Holder, self.inbox, self.starts), name, parent=parent)
        self.wait_started()

    def wait_started(self, timeout: float = 2.0) -> None:
        """Wait for the next start of the holder (first start, or a restart)."""
        self.starts.get(timeout=timeout)

    def send(self, to: ActorPath, message: Message) -> None:
        """Make the holder send ``message`` (returns once it is sent)."""
        reply = self.system.ask(self.path, Send(to=to, message=message), timeout=2.0)
        assert isinstance(reply, Sent)

    def sync(self) -> None:
        """Return once the holder has handled everything sent to it before."""
        assert isinstance(self.system.ask(self.path, Sync(), timeout=2.0), Sent)

    def received(self) -> list[Message]:
        """Take what the holder received so far (without waiting)."""
        taken: list[Message] = []
        while not self.inbox.empty():
            taken.append(self.inbox.get_nowait().message)
        return taken

    def expect(self, kind: type[M], timeout: float = 2.0) -> M:
        """Return the next message the holder received, which must be a ``kind``."""
        try:
            msg = self.inbox.get(timeout=timeout).message
        except queue.Empty:
            raise AssertionError(f"{self.path} received nothing within {timeout} s") from None
        assert isinstance(msg, kind), f"{self.path} expected {kind.__name__}, got {msg!r}"
        return msg

    def nothing_received(self) -> bool:
        """Whether nothing is waiting in the holder's inbox now."""
        return self.inbox.empty()

    def crash(self) -> None:
        """Crash the holder and wait for its restart."""
        self.system.tell(self.path, Crash())
        self.wait_started()


@pytest.fixture
def resources(fake_system: ActorSystem) -> ActorPath:
    """The allocator, with ``gpu: 1`` and ``cpu: 4``, on a FakeClock system."""
    return ensure_resource_allocator(fake_system, CAPACITIES)


@pytest.fixture
def holders(fake_system: ActorSystem, resources: ActorPath) -> dict[str, HolderHandle]:
    """Holder actors ``a``, ``b``, ``c`` and ``d`` under ``/agents`` (ids a..d)."""
    return {name: HolderHandle(fake_system, name, ActorPath("/agents")) for name in "abcd"}


def stats(system: ActorSystem) -> ResourceStatistics:
    """The allocator's statistics (also: everything sent to it before has been handled)."""
    return resource_statistics(system)


__all__ = [
    "CAPACITIES",
    "GROUP_STRATEGY",
    "Crash",
    "FakeClock",
    "Group",
    "HolderHandle",
    "SequentialIds",
    "stats",
]
