"""Regressions from the adversarial review of the human gateway (issue 13): H1..Hn.

Each test shows one defect and is marked ``xfail(strict=True)`` until it is fixed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    ConfigurationError,
    FakeClock,
    FlowPlan,
    FlowState,
    FlowStatus,
    InvalidHumanAnswerError,
    create_flow_step,
)
from actorflow.human import (
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    HumanOutcome,
    HumanResponse,
    InMemoryPendingRequests,
    spawn_human_gateway,
)
from actorflow.human.validation import check_pattern, validate_answer
from actorflow.testing import Probe, ScriptedHuman
from tests.flow.support import new_flow, plan_of
from tests.human.support import ask, outcome, send


@pytest.fixture
def requester(fake_system: ActorSystem) -> Probe:
    """A probe that asks the human gateway and gets the outcomes."""
    return Probe(fake_system, "requester")


class _Handler:
    """An IHumanCallback whose every method runs ``answer``."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked = threading.Event()

    async def _call(self, data: HumanCallbackData) -> Any:
        self.asked.set()
        return await self.answer(data)

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]


def _confirm_plan() -> FlowPlan:
    step = create_flow_step(
        "ask", "human_input", {"message": "Ship it?", "input_type": "confirm"}, id="ask",
        max_retries=0,
    )  # fmt: skip
    return plan_of(step)


# -- H1: nested bounded repeats pass the pattern check ------------------------------------


@pytest.mark.xfail(strict=True, reason="H1: check_pattern accepts (?:a*){16}: ReDoS")
@pytest.mark.parametrize(
    "pattern",
    [r"(?:a*){16}b", r"((a|a){0,16}){0,16}b", r"(a{0,16}){0,16}b"],
)
def test_a_pattern_with_a_bounded_repeat_of_a_repeat_is_refused(pattern: str) -> None:
    """``(?:a*){16}b`` takes seconds on 14 a's (and years on 256): a repeat of at most 16
    is not 'long', so the check never looks inside it for nested repeats."""
    with pytest.raises(ConfigurationError, match=r"^The answer pattern .* is refused"):
        check_pattern(pattern)


# -- H2: non-text answers have no size bound ----------------------------------------------


@pytest.mark.xfail(strict=True, reason="H2: a huge non-text answer is accepted and journaled")
def test_a_huge_list_answer_to_an_untyped_input_is_refused() -> None:
    """``max_length`` caps text only: a list (or dict) answer of any size is accepted,
    then journaled as a ``human`` effect and kept in the pending records."""
    request = ask("big", HumanCallbackType.INPUT, message="Anything?")
    huge = ["x" * 100] * 200_000  # 20 MB of JSON

    with pytest.raises(InvalidHumanAnswerError, match=r"^Answer .* to human request .big."):
        validate_answer(request, huge)


# -- H3: the handler's answer for another request id is taken ---------------------------


@pytest.mark.xfail(strict=True, reason="H3: a handler's answer naming another request is taken")
def test_a_handler_answer_for_another_request_id_is_not_taken(
    fake_system: ActorSystem, requester: Probe
) -> None:
    """The gateway ignores ``HumanCallbackResponse.callback_id``: a handler that mixes up
    two requests answers the wrong one and nobody notices."""

    async def wrong_id(data: HumanCallbackData) -> HumanCallbackResponse:
        return HumanCallbackResponse(callback_id="someone-else", response_type="confirm",
                                     value=True)  # fmt: skip

    spawn_human_gateway(fake_system, _Handler(wrong_id))
    send(fake_system, ask("r1", reply_to=requester.path))

    response = outcome(requester)
    assert response.outcome is not HumanOutcome.ANSWERED


# -- H4: a handler raising CancelledError itself is taken for a gateway cancel ------------


@pytest.mark.xfail(strict=True, reason="H4: a handler's own CancelledError is swallowed")
def test_a_handler_that_raises_cancelled_error_fails_the_request(
    fake_system: ActorSystem, requester: Probe
) -> None:
    """``ask_handler`` drops every CancelledError as 'the gateway cancelled it', so a handler
    whose own awaitable was cancelled (a client library, a shut-down UI) leaves the request
    open until its deadline: the on_error policy (fail) never applies."""

    async def cancelled(data: HumanCallbackData) -> HumanCallbackResponse:
        raise asyncio.CancelledError

    spawn_human_gateway(fake_system, _Handler(cancelled))
    send(fake_system, ask("r1", reply_to=requester.path))

    response = outcome(requester, timeout=1.0)
    assert response.outcome is HumanOutcome.FAILED


# -- H5: the same plan run twice reuses the first run's answer ----------------------------


def _run(flow: Any, plan: FlowPlan) -> FlowState:
    state: FlowState = flow.execute_sync(plan)
    return state


@pytest.mark.xfail(strict=True, reason="H5: a plan run again gets the last run's human answer")
def test_running_a_plan_again_asks_the_human_again(system: ActorSystem) -> None:
    """The request id is ``flow id/step id/attempt`` and the flow id is the plan id, so
    a second run of the same plan sends a request id the gateway knows; ``_rejoin``
    tells it the first run's stored outcome and nobody is asked."""
    human = ScriptedHuman([True, False])
    flow = new_flow(system)
    flow.set_human_callback(human)
    plan = _confirm_plan()
    first = _run(flow, plan)
    assert first.steps["ask"].result is True

    second = _run(flow, plan)

    assert len(human.asked) == 2
    assert second.status is FlowStatus.COMPLETED
    assert second.steps["ask"].result is False


_ = (FakeClock, HumanResponse, InMemoryPendingRequests)
