"""Nothing disappears: sent = processed + dead-lettered + queued, exactly."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeliveryFailedError,
    MailboxConfig,
    OverflowPolicy,
    SupervisorStrategy,
    recipe,
)
from actorflow.runtime.cell import Cell
from tests.support import Marker, Work

NAMES = ("a", "b", "c")


class Counting(Behaviour):
    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail:
            raise RuntimeError("injected crash")

    def on_marker(self, msg: Marker, ctx: Context) -> None:
        ctx.reply(msg)


class Conservation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        strategy = SupervisorStrategy(max_restarts=1_000_000, within=1.0)
        self.system = ActorSystem(guardian_strategy=strategy).start()
        self.sent: Counter[str] = Counter()
        self.cells: dict[str, Cell] = {}
        self.stopped: set[str] = set()
        for i, name in enumerate(NAMES):
            policy = (OverflowPolicy.DROP_NEW, OverflowPolicy.DROP_OLDEST)[i % 2]
            mailbox = MailboxConfig(capacity=4 + i, overflow=policy, batch_size=1 + i)
            path = self.system.spawn(recipe(Counting), name, mailbox=mailbox)
            cell = self.system.cell_at(path)
            assert cell is not None
            self.cells[path] = cell

    def _tell(self, path: str, msg: Work) -> None:
        self.sent[path] += 1
        self.system.tell(path, msg)

    @rule(index=st.sampled_from(range(len(NAMES))), burst=st.integers(1, 12))
    def tell(self, index: int, burst: int) -> None:
        path = list(self.cells)[index]
        for n in range(burst):
            self._tell(path, Work(n=n))

    @rule(index=st.sampled_from(range(len(NAMES))))
    def crash(self, index: int) -> None:
        self._tell(list(self.cells)[index], Work(fail=True))

    @precondition(lambda self: len(self.stopped) < len(NAMES) - 1)
    @rule(index=st.sampled_from(range(len(NAMES))))
    def stop(self, index: int) -> None:
        path = list(self.cells)[index]
        if path not in self.stopped:
            self.system.stop(path, timeout=10)
            self.stopped.add(path)

    @rule()
    def sync(self) -> None:
        """Ask every live actor for a marker, so all it was sent before is done."""
        for path in self.cells:
            if path in self.stopped:
                continue
            while True:
                self.sent[path] += 1
                try:
                    self.system.ask(path, Marker(), timeout=10)
                    break
                except DeliveryFailedError:
                    continue  # the marker overflowed or met a crash; it is counted, retry
            self._check(path)

    def _check(self, path: str) -> None:
        cell = self.cells[path]
        dead = self.system.dead_letters.count_for(ActorPath(path))
        assert self.sent[path] == cell.processed + dead + len(cell.mailbox), path

    @invariant()
    def never_more_accounted_than_sent(self) -> None:
        for path, cell in self.cells.items():
            dead = self.system.dead_letters.count_for(ActorPath(path))
            assert cell.processed + dead <= self.sent[path]

    def teardown(self) -> None:
        self.system.shutdown(timeout=10)
        for path in self.cells:
            self._check(path)


TestConservation = Conservation.TestCase
TestConservation.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)


@pytest.mark.slow
class TestConservationSoak(Conservation.TestCase):  # type: ignore[misc,valid-type]
    settings = settings(max_examples=500, stateful_step_count=60, deadline=None)
