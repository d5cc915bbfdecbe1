"""Helpers for testing code built on actorflow: probes that record what they receive,
a store that fails on purpose (``faults``), and a scripted human (``human``).

Library code never imports this package.
"""

from __future__ import annotations

import queue
from typing import TypeVar, final

from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.context import Context
from actorflow.runtime.system import AGENTS_PATH, ActorSystem
from actorflow.testing.faults import FaultStatistics, FaultyStore
from actorflow.testing.human import NO_ANSWER, Answer, ScriptedHuman

__all__ = ["NO_ANSWER", "Answer", "FaultStatistics", "FaultyStore", "Probe", "ScriptedHuman"]

M = TypeVar("M", bound=Message)


class _Recorder(Behaviour):
    def __init__(self, inbox: queue.Queue[Envelope]) -> None:
        self._inbox = inbox

    def on_message(self, msg: Message, ctx: Context) -> None:
        assert ctx.envelope is not None
        self._inbox.put(ctx.envelope)


@final
class Probe:
    """An actor whose received messages a test can wait for.

    Example::

        probe = Probe(system, "probe")
        system.tell(worker, Work(reply_to=probe.path))
        done = probe.expect(WorkDone, timeout=1.0)
    """

    def __init__(
        self, system: ActorSystem, name: str = "probe", *, parent: ActorPath = AGENTS_PATH
    ) -> None:
        self._inbox: queue.Queue[Envelope] = queue.Queue()
        self.path = system.spawn(recipe(_Recorder, self._inbox), name, parent=parent)

    def expect_envelope(self, timeout: float = 1.0) -> Envelope:
        """Return the next envelope received, waiting up to ``timeout`` seconds.

        Raises:
            AssertionError: nothing arrived in time.
        """
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"Probe {self.path} received nothing within {timeout} s") from None

    def expect(self, kind: type[M], timeout: float = 1.0) -> M:
        """Return the next message, which must be a ``kind``, waiting up to ``timeout``.

        Raises:
            AssertionError: nothing arrived in time, or something else arrived first.
        """
        msg = self.expect_envelope(timeout).message
        if not isinstance(msg, kind):
            raise AssertionError(f"Probe {self.path} expected {kind.__name__}, got {msg!r}")
        return msg

    def drain(self) -> list[Envelope]:
        """Return everything received and not yet taken, without waiting."""
        items: list[Envelope] = []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items
