from __future__ import annotations

import threading

import pytest

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeadLetterReason,
    MailboxConfig,
    MailboxFullError,
    OverflowPolicy,
    recipe,
)
from tests.support import Log, Marker, Work


class Gated(Behaviour):
    """Holds its thread on Work n=0 until the test opens the gate; logs the rest."""

    def __init__(self, gate: threading.Event, entered: threading.Event, log: Log) -> None:
        self.gate = gate
        self.entered = entered
        self.log = log

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.n == 0:
            self.entered.set()
            assert self.gate.wait(5), "the test never opened the gate"
        self.log.add(msg.n)

    def on_marker(self, msg: Marker, ctx: Context) -> None:
        self.log.add("marker")


def _blocked_actor(
    system: ActorSystem, policy: OverflowPolicy, log: Log
) -> tuple[ActorPath, threading.Event]:
    gate, entered = threading.Event(), threading.Event()
    mailbox = MailboxConfig(capacity=3, overflow=policy)
    path = system.spawn(recipe(Gated, gate, entered, log), "gated", mailbox=mailbox)
    system.tell(path, Work(n=0))
    assert entered.wait(5)
    return path, gate


@pytest.mark.parametrize(
    ("policy", "kept", "dropped"),
    [
        (OverflowPolicy.DROP_NEW, [1, 2, 3], [4, 5]),
        (OverflowPolicy.DROP_OLDEST, [3, 4, 5], [1, 2]),
    ],
)
def test_full_mailbox_turns_the_overflow_into_dead_letters_by_policy(
    system: ActorSystem, policy: OverflowPolicy, kept: list[int], dropped: list[int]
) -> None:
    log = Log()
    path, gate = _blocked_actor(system, policy, log)

    for n in range(1, 6):
        system.tell(path, Work(n=n))
    gate.set()
    log.wait_until(lambda items: len(items) == 4)

    assert log.snapshot() == [0, *kept]
    dead = system.dead_letters.recent()
    assert [d.message.n for d in dead] == dropped  # type: ignore[union-attr]
    assert {d.reason for d in dead} == {DeadLetterReason.OVERFLOW}


def test_reject_policy_raises_to_the_sender_and_records_the_dead_letter(
    system: ActorSystem,
) -> None:
    log = Log()
    path, gate = _blocked_actor(system, OverflowPolicy.REJECT, log)
    for n in range(1, 4):
        system.tell(path, Work(n=n))

    with pytest.raises(MailboxFullError, match=r"^Mailbox of '/agents/gated' is full \(3"):
        system.tell(path, Work(n=4))
    gate.set()

    log.wait_until(lambda items: items == [0, 1, 2, 3])
    assert system.dead_letters.counts() == {"overflow": 1}


def test_messages_queued_when_an_actor_stops_become_dead_letters(system: ActorSystem) -> None:
    log = Log()
    path, gate = _blocked_actor(system, OverflowPolicy.DROP_NEW, log)
    system.tell(path, Work(n=1))
    system.stop_nowait(path)
    gate.set()

    cell = system.cell_at(path)
    assert cell is not None
    assert cell.terminated.wait(5)

    assert log.snapshot() == [0]
    assert [(d.reason, d.message) for d in system.dead_letters.recent()] == [
        (DeadLetterReason.STOPPED, Work(n=1))
    ]


def test_message_to_an_unknown_path_is_a_dead_letter(system: ActorSystem) -> None:
    system.tell("/agents/nobody", Work(n=9))

    (dead,) = system.dead_letters.recent()
    assert dead.reason is DeadLetterReason.UNKNOWN_RECIPIENT
    assert dead.recipient == "/agents/nobody"


def test_unhandled_message_is_a_dead_letter_not_a_failure(system: ActorSystem) -> None:
    log = Log()
    path, gate = _blocked_actor(system, OverflowPolicy.DROP_NEW, log)
    gate.set()
    from tests.support import Stranger

    system.tell(path, Stranger())
    system.tell(path, Marker())

    log.wait_for("marker")
    (dead,) = system.dead_letters.recent()
    assert dead.reason is DeadLetterReason.UNHANDLED
    assert dead.detail == "Gated has no handler for Stranger"
    assert system.actor_statistics(path).failed == 0


def test_dead_letters_reach_callback_and_actor_subscribers(system: ActorSystem) -> None:
    from actorflow import DeadLetter
    from actorflow.testing import Probe
    from tests.support import Log as Seen

    seen = Seen()
    system.dead_letters.subscribe(seen.add)
    probe = Probe(system)
    system.dead_letters.subscribe_actor(probe.path)

    system.tell("/agents/nobody", Work(n=1))

    letter = probe.expect(DeadLetter, timeout=5)
    seen.wait_for(letter)
    assert letter.message == Work(n=1)
