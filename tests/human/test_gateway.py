"""The human gateway: one outcome per request, answers checked, deadlines on the clock."""

from __future__ import annotations

import pytest

from actorflow import (
    ActorSystem,
    AlreadyAnsweredError,
    Behaviour,
    Context,
    FakeClock,
    HumanResponseExpiredError,
    InvalidHumanAnswerError,
    Message,
    UnknownHumanRequestError,
)
from actorflow.human import (
    HUMAN_PATH,
    ErrorPolicy,
    HumanCallbackType,
    HumanOutcome,
    HumanRequest,
    HumanResponse,
    InMemoryPendingRequests,
    ScriptedHumanCallback,
    TimeoutPolicy,
    answer_human_request,
    cancel_human_request,
    list_human_requests,
    spawn_human_gateway,
)
from actorflow.messages import EffectRecorded
from actorflow.runtime import recipe
from actorflow.testing import NO_ANSWER, Answer, Probe, ScriptedHuman
from tests.human.support import ask, outcome, record, send

SELECT = HumanCallbackType.SELECT
INPUT = HumanCallbackType.INPUT


def test_a_handler_answers_a_request_and_the_requester_is_told(
    fake_system: ActorSystem, requester: Probe
) -> None:
    spawn_human_gateway(fake_system, ScriptedHuman({"Proceed?": True}))

    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))
    response = outcome(requester)

    assert response.outcome is HumanOutcome.ANSWERED
    assert response.value is True
    assert response.responder == "scripted"
    assert response.has_value


def test_an_answer_from_outside_ends_the_request(
    fake_system: ActorSystem, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(reply_to=requester.path))

    stored = answer_human_request(fake_system, "r1", value=False, responder="ada")
    response = outcome(requester)

    assert stored is False
    assert (response.outcome, response.value, response.responder) == (
        HumanOutcome.ANSWERED,
        False,
        "ada",
    )


def test_an_invalid_answer_is_refused_and_the_request_stays_open(
    fake_system: ActorSystem, requester: Probe, pending: InMemoryPendingRequests
) -> None:
    spawn_human_gateway(fake_system, pending=pending)
    send(fake_system, ask(reply_to=requester.path))

    with pytest.raises(InvalidHumanAnswerError, match=r"^Answer 'yes' to human request 'r1'"):
        answer_human_request(fake_system, "r1", "yes")

    assert record(pending, "r1").is_open
    assert [r.request_id for r in list_human_requests(fake_system)] == ["r1"]
    assert requester.drain() == []
    answer_human_request(fake_system, "r1", value=True)
    assert outcome(requester).value is True


def test_a_selection_must_be_among_the_options(fake_system: ActorSystem, requester: Probe) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(type=SELECT, options=("a", "b"), reply_to=requester.path))

    with pytest.raises(InvalidHumanAnswerError, match=r"is not one of the options"):
        answer_human_request(fake_system, "r1", "c")
    answer_human_request(fake_system, "r1", "b")

    assert outcome(requester).value == "b"


def test_a_multi_select_takes_a_list_of_distinct_options(
    fake_system: ActorSystem, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    request = ask(type=SELECT, options=("a", "b", "c"), multi_select=True)
    send(fake_system, request.model_copy(update={"reply_to": requester.path}))

    with pytest.raises(InvalidHumanAnswerError, match=r"names an option twice"):
        answer_human_request(fake_system, "r1", ["a", "a"])
    answer_human_request(fake_system, "r1", ["c", "a"])

    assert outcome(requester).value == ["c", "a"]


def test_a_second_answer_gets_already_answered(fake_system: ActorSystem, requester: Probe) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(reply_to=requester.path))
    answer_human_request(fake_system, "r1", value=True)

    with pytest.raises(AlreadyAnsweredError, match=r"^Human request 'r1' .* answered already"):
        answer_human_request(fake_system, "r1", value=False)

    assert outcome(requester).value is True
    assert requester.drain() == []


def test_a_late_answer_gets_expired(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(timeout=60, reply_to=requester.path))
    clock.advance(60)
    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT

    with pytest.raises(HumanResponseExpiredError, match=r"^Human request 'r1' .* has ended"):
        answer_human_request(fake_system, "r1", value=True)


def test_an_answer_sent_after_the_deadline_is_late_even_before_the_timer_is_handled(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(timeout=60, reply_to=requester.path))

    clock.advance(60)  # the timer's message and the answer may be handled in any order
    with pytest.raises(HumanResponseExpiredError):
        answer_human_request(fake_system, "r1", value=True)

    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT
    assert requester.drain() == []


def test_an_unknown_request_id_is_refused(fake_system: ActorSystem) -> None:
    spawn_human_gateway(fake_system)

    with pytest.raises(UnknownHumanRequestError, match=r"^No human request has the id 'nope'"):
        answer_human_request(fake_system, "nope", value=True)


def test_a_timeout_under_the_fail_policy_ends_timed_out_without_value(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(timeout=30, reply_to=requester.path))

    clock.advance(29.9)
    assert requester.drain() == []
    clock.advance(0.1)
    response = outcome(requester)

    assert response.outcome is HumanOutcome.TIMED_OUT
    assert not response.has_value
    assert response.answered_at == clock.time()


def test_a_timeout_under_the_default_policy_uses_the_default(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    request = ask(timeout=30, default_value=False, on_timeout=TimeoutPolicy.DEFAULT)
    send(fake_system, request.model_copy(update={"reply_to": requester.path}))

    clock.advance(30)
    response = outcome(requester)

    assert (response.outcome, response.value, response.used_default) == (
        HumanOutcome.TIMED_OUT,
        False,
        True,
    )
    assert response.has_value


def test_a_timeout_under_the_escalate_policy_asks_the_escalation_handler_with_a_new_deadline(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    first = ScriptedHuman.silent()
    second = ScriptedHuman({"Proceed?": Answer(value=True, after=5)}, clock=clock, responder="boss")
    spawn_human_gateway(fake_system, first, escalation_handler=second)
    request = ask(timeout=30, on_timeout=TimeoutPolicy.ESCALATE, escalation_timeout=10)
    fake_system.tell(HUMAN_PATH, request.model_copy(update={"reply_to": requester.path}))
    assert first.wait_asked(1, timeout=2)

    clock.advance(30)
    assert second.wait_asked(1, timeout=2)
    assert first.wait_cancelled(1, timeout=2)
    clock.advance(5)
    response = outcome(requester)

    assert (response.outcome, response.value, response.responder) == (
        HumanOutcome.ANSWERED,
        True,
        "boss",
    )


def test_an_escalated_request_that_is_not_answered_either_times_out(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    request = ask(timeout=30, on_timeout=TimeoutPolicy.ESCALATE, escalation_timeout=10)
    send(fake_system, request.model_copy(update={"reply_to": requester.path}))

    clock.advance(30)
    list_human_requests(fake_system)
    assert requester.drain() == []
    clock.advance(10)

    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT


def test_a_handler_that_never_returns_still_times_out_and_its_call_is_cancelled(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    human = ScriptedHuman({"Proceed?": NO_ANSWER})
    spawn_human_gateway(fake_system, human)
    fake_system.tell(HUMAN_PATH, ask(timeout=60, reply_to=requester.path))
    assert human.wait_asked(1, timeout=2)

    clock.advance(60)

    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT
    assert human.wait_cancelled(1, timeout=2)


def test_a_handler_that_raises_fails_the_request(
    fake_system: ActorSystem, requester: Probe
) -> None:
    human = ScriptedHuman({"Proceed?": Answer(error=RuntimeError("console gone"))})
    spawn_human_gateway(fake_system, human)

    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))
    response = outcome(requester)

    assert response.outcome is HumanOutcome.FAILED
    assert response.error is not None
    assert response.error.error_type == "builtins.RuntimeError"
    assert response.reason == "its handler raised builtins.RuntimeError: console gone"


def test_under_the_wait_error_policy_a_failed_handler_leaves_the_request_open(
    fake_system: ActorSystem, requester: Probe, pending: InMemoryPendingRequests
) -> None:
    human = ScriptedHuman({"Proceed?": Answer(error=RuntimeError("console gone"))})
    spawn_human_gateway(fake_system, human, pending)
    fake_system.tell(HUMAN_PATH, ask(on_error=ErrorPolicy.WAIT, reply_to=requester.path))
    assert human.wait_asked(1, timeout=2)

    list_human_requests(fake_system)  # the failure has come back by now, or comes later
    answer_human_request(fake_system, "r1", value=True)

    assert outcome(requester).value is True


def test_a_handler_answer_that_does_not_fit_leaves_the_request_open(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system, ScriptedHumanCallback({"Proceed?": "sure"}))
    fake_system.tell(HUMAN_PATH, ask(timeout=60, reply_to=requester.path))

    assert [r.request_id for r in list_human_requests(fake_system)] == ["r1"]
    clock.advance(60)
    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT


def test_a_cancelled_request_ends_cancelled_and_takes_no_answer(
    fake_system: ActorSystem, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)
    send(fake_system, ask(reply_to=requester.path))

    cancelled = cancel_human_request(fake_system, "r1", reason="the flow was cancelled")

    assert cancelled.outcome is HumanOutcome.CANCELLED
    assert outcome(requester).reason == "the flow was cancelled"
    with pytest.raises(HumanResponseExpiredError):
        answer_human_request(fake_system, "r1", value=True)
    with pytest.raises(HumanResponseExpiredError):
        cancel_human_request(fake_system, "r1")


def test_an_invalid_request_fails_at_once_with_the_reason(
    fake_system: ActorSystem, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)

    fake_system.tell(HUMAN_PATH, ask(type=SELECT, options=(), reply_to=requester.path))
    response = outcome(requester)

    assert response.outcome is HumanOutcome.FAILED
    assert response.reason.startswith("Human request 'r1' is a selection without options")


def test_a_request_sent_again_is_not_asked_twice_and_gets_the_stored_outcome(
    fake_system: ActorSystem, requester: Probe
) -> None:
    human = ScriptedHuman({"Proceed?": True})
    spawn_human_gateway(fake_system, human)
    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))
    first = outcome(requester)

    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))
    again = outcome(requester)

    assert again == first
    assert len(human.asked) == 1


def test_an_accepted_answer_is_recorded_as_a_human_effect(
    fake_system: ActorSystem, requester: Probe
) -> None:
    effects: list[EffectRecorded] = []
    fake_system.subscribe(lambda e: effects.append(e) if isinstance(e, EffectRecorded) else None)
    spawn_human_gateway(fake_system)
    send(fake_system, ask(type=INPUT, message="Name?", reply_to=requester.path))

    answer_human_request(fake_system, "r1", "Ada")
    outcome(requester)

    human = [(e.effect, e.name, e.value, e.actor) for e in effects if e.effect == "human"]
    assert human == [("human", "r1", "Ada", HUMAN_PATH)]


class _Asker(Behaviour):
    """Asks the gateway with ctx.request and forwards what comes back to a probe."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def on_start(self, ctx: Context) -> None:
        ctx.request(HUMAN_PATH, ask(timeout=10), timeout=20)

    def on_message(self, msg: Message, ctx: Context) -> None:
        ctx.tell(self.probe.path, msg)


def test_an_actor_gets_the_outcome_as_the_reply_to_its_request(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    human = ScriptedHuman({"Proceed?": Answer(value=True, after=3)}, clock=clock)
    spawn_human_gateway(fake_system, human)
    fake_system.spawn(recipe(_Asker, requester), "asker")
    assert human.wait_asked(1, timeout=2)

    clock.advance(3)

    assert outcome(requester).value is True


def test_a_request_message_carries_the_seed_data_both_ways() -> None:
    from actorflow.human import HumanCallbackData

    data = HumanCallbackData(
        type=SELECT, message="Pick", options=["a", "b"], multi_select=True, metadata={"k": 1}
    )

    request = HumanRequest.from_data(data)

    assert request.request_id == data.request_id
    assert request.options == ("a", "b")
    assert request.to_data() == data


def test_the_outcome_message_names_the_flow_and_step(
    fake_system: ActorSystem, requester: Probe
) -> None:
    spawn_human_gateway(fake_system, ScriptedHuman({"Proceed?": True}))

    fake_system.tell(HUMAN_PATH, ask(flow_id="f", step_id="s", reply_to=requester.path))
    response: HumanResponse = outcome(requester)

    assert (response.flow_id, response.step_id) == ("f", "s")


def test_an_outside_ask_gets_the_outcome_as_its_reply(
    fake_system: ActorSystem,
) -> None:
    spawn_human_gateway(fake_system, ScriptedHuman({"Proceed?": True}))

    reply = fake_system.ask(HUMAN_PATH, ask(), timeout=2)

    assert isinstance(reply, HumanResponse)
    assert reply.value is True


def test_under_the_escalate_error_policy_a_failed_handler_hands_over(
    fake_system: ActorSystem, requester: Probe
) -> None:
    broken = ScriptedHuman({"Proceed?": Answer(error=RuntimeError("console gone"))})
    spawn_human_gateway(fake_system, broken, escalation_handler=ScriptedHuman({"Proceed?": False}))

    fake_system.tell(HUMAN_PATH, ask(on_error=ErrorPolicy.ESCALATE, reply_to=requester.path))
    response = outcome(requester)

    assert (response.outcome, response.value) == (HumanOutcome.ANSWERED, False)


def test_a_request_with_a_deadline_in_the_past_times_out_at_once(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    spawn_human_gateway(fake_system)

    fake_system.tell(HUMAN_PATH, ask(deadline=clock.time() - 1, reply_to=requester.path))

    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT


def test_the_gateway_is_spawned_on_demand_without_a_handler(fake_system: ActorSystem) -> None:
    from actorflow.human import ensure_human_gateway, human_handlers

    handlers = ensure_human_gateway(fake_system)

    assert ensure_human_gateway(fake_system) is handlers
    assert human_handlers(fake_system) is handlers
    assert handlers.get(handlers.DEFAULT) is None
