"""A gateway that starts over open requests re-arms their deadlines as stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from actorflow import ActorSystem, FakeClock
from actorflow.human import (
    HUMAN_PATH,
    HumanOutcome,
    InMemoryPendingRequests,
    answer_human_request,
    spawn_human_gateway,
)
from actorflow.ids import SequentialIds
from actorflow.testing import Probe, ScriptedHuman
from tests.human.support import ask, outcome, record, send

START = datetime(2026, 1, 1, tzinfo=UTC)


def _first_incarnation(pending: InMemoryPendingRequests, timeout: float) -> float:
    """Open request r1 in a system that then stops (the process "crashes"); return its
    deadline."""
    with ActorSystem(clock=FakeClock(START), ids=SequentialIds()) as system:
        spawn_human_gateway(system, pending=pending)
        send(system, ask(timeout=timeout))
    return record(pending, "r1").deadline


def _second_system(elapsed: float) -> tuple[ActorSystem, FakeClock]:
    clock = FakeClock(START + timedelta(seconds=elapsed))
    return ActorSystem(clock=clock, ids=SequentialIds()), clock


def test_a_restart_re_arms_the_deadline_without_resetting_it(
    pending: InMemoryPendingRequests,
) -> None:
    deadline = _first_incarnation(pending, timeout=100)
    system, clock = _second_system(elapsed=40)  # down for 40 s of the 100

    with system:
        requester = Probe(system, "requester")
        spawn_human_gateway(system, pending=pending)
        send(system, ask(reply_to=requester.path))  # the resumed requester asks again
        clock.advance(59.9)
        assert requester.drain() == []
        clock.advance(0.1)
        response = outcome(requester)

    assert deadline == START.timestamp() + 100
    assert record(pending, "r1").deadline == deadline
    assert response.outcome is HumanOutcome.TIMED_OUT
    assert response.answered_at == deadline


def test_a_deadline_that_passed_while_down_times_out_at_once(
    pending: InMemoryPendingRequests,
) -> None:
    _first_incarnation(pending, timeout=100)
    system, _clock = _second_system(elapsed=500)

    with system:
        requester = Probe(system, "requester")
        spawn_human_gateway(system, pending=pending)
        send(system, ask(reply_to=requester.path))
        response = outcome(requester)

    assert response.outcome is HumanOutcome.TIMED_OUT
    assert pending.list_pending() == ()


def test_an_open_request_can_be_answered_after_a_restart(
    pending: InMemoryPendingRequests,
) -> None:
    _first_incarnation(pending, timeout=100)
    system, _clock = _second_system(elapsed=10)

    with system:
        requester = Probe(system, "requester")
        spawn_human_gateway(system, pending=pending)
        send(system, ask(reply_to=requester.path))
        answer_human_request(system, "r1", value=True, responder="ada")
        response = outcome(requester)

    assert (response.outcome, response.value) == (HumanOutcome.ANSWERED, True)


def test_a_restarted_gateway_asks_its_handler_again(pending: InMemoryPendingRequests) -> None:
    _first_incarnation(pending, timeout=100)
    system, _clock = _second_system(elapsed=10)
    human = ScriptedHuman({"Proceed?": True})

    with system:
        requester = Probe(system, "requester")
        spawn_human_gateway(system, human, pending)
        system.tell(HUMAN_PATH, ask(reply_to=requester.path))
        response = outcome(requester)

    assert response.value is True
    assert [d.request_id for d in human.asked] == ["r1"]
