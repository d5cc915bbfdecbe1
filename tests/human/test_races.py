"""Races between an answer and the deadline: exactly one outcome each, never two."""

from __future__ import annotations

import random
import threading

import pytest

from actorflow import ActorSystem, FakeClock
from actorflow.human import (
    HUMAN_PATH,
    AnswerHumanRequest,
    HumanOutcome,
    HumanResponse,
    InMemoryPendingRequests,
    list_human_requests,
    spawn_human_gateway,
)
from actorflow.testing import Probe
from tests.human.support import ask

TIMEOUT = 10.0


def _race(
    system: ActorSystem, clock: FakeClock, rid: str, requester: Probe, rng: random.Random
) -> HumanOutcome:
    """Open ``rid``; deliver an answer and move the clock past the deadline in a random
    order; return the outcome that order must give."""
    deadline = clock.time() + TIMEOUT
    request = ask(rid, deadline=deadline, reply_to=requester.path)
    system.tell(HUMAN_PATH, request)
    if rng.random() < 0.5:  # sometimes the gateway has taken the request before the race
        list_human_requests(system)
    answer = AnswerHumanRequest(request_id=rid, value=True)
    if rng.random() < 0.5:
        clock.advance(rng.uniform(0, TIMEOUT * 0.999))
        system.tell(HUMAN_PATH, answer)
        clock.advance(TIMEOUT)
        return HumanOutcome.ANSWERED
    clock.advance(rng.choice([TIMEOUT, TIMEOUT + rng.uniform(0, 5)]))  # at or past it
    system.tell(HUMAN_PATH, answer)
    return HumanOutcome.TIMED_OUT


def test_a_thousand_seeded_races_end_each_request_exactly_once_as_their_order_says(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    pending = InMemoryPendingRequests()
    spawn_human_gateway(fake_system, pending=pending)
    rng = random.Random(20261130)

    expected = {f"r{i}": _race(fake_system, clock, f"r{i}", requester, rng) for i in range(1000)}
    got = [requester.expect(HumanResponse, timeout=5) for _ in expected]
    list_human_requests(fake_system)  # anything still queued at the gateway is handled

    assert requester.drain() == []
    assert sorted(r.request_id for r in got) == sorted(expected)
    assert {r.request_id: r.outcome for r in got} == expected
    assert pending.list_pending() == ()


@pytest.mark.slow
def test_answers_from_another_thread_racing_the_clock_end_each_request_once(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    """A soak: the answer is told from a second thread while the test advances the clock,
    so the order is up to the scheduler; whatever it is, one outcome, consistent with
    what the answerer was told."""
    pending = InMemoryPendingRequests()
    spawn_human_gateway(fake_system, pending=pending)
    rids = [f"t{i}" for i in range(5000)]

    for rid in rids:
        deadline = clock.time() + TIMEOUT
        fake_system.tell(HUMAN_PATH, ask(rid, deadline=deadline, reply_to=requester.path))
        answerer = threading.Thread(target=_answer, args=(fake_system, rid))
        answerer.start()
        clock.advance(TIMEOUT)
        answerer.join(5)
    got = [requester.expect(HumanResponse, timeout=5) for _ in rids]
    list_human_requests(fake_system)

    assert requester.drain() == []
    assert sorted(r.request_id for r in got) == sorted(rids)
    for response in got:
        stored = pending.get(response.request_id)
        assert stored is not None
        assert stored.outcome == response
        assert response.outcome in (HumanOutcome.ANSWERED, HumanOutcome.TIMED_OUT)


def _answer(system: ActorSystem, rid: str) -> None:
    system.tell(HUMAN_PATH, AnswerHumanRequest(request_id=rid, value=True))
