"""Tools, human callbacks and executors read the attempt they run in (idempotency keys)."""

from __future__ import annotations

import pytest

import actorflow
from actorflow import ActorSystem, ConfigurationError, FlowStatus, ScriptedHumanCallback
from actorflow.flow.human import HumanCallbackData, HumanCallbackResponse
from tests.flow.support import new_flow, plan_of, step


def test_sync_async_and_inline_tools_see_their_attempts_key(system: ActorSystem) -> None:
    flow = new_flow(system)
    seen: dict[str, list[str]] = {}
    failed = set()

    def plain(label: str) -> str:
        seen.setdefault(label, []).append(actorflow.idempotency_key())
        if label == "flaky" and label not in failed:
            failed.add(label)
            raise ConnectionError("once")
        return label

    async def coro(label: str) -> str:
        seen.setdefault(label, []).append(actorflow.idempotency_key())
        return label

    def inline(label: str) -> str:
        attempt = actorflow.current_attempt()
        assert attempt is not None
        seen.setdefault(label, []).append(attempt.idempotency_key)
        return label

    flow.register_tool("plain", plain)
    flow.register_tool("coro", coro)
    flow.register_tool("inline", inline, inline=True)
    plan = plan_of(
        step("p", "plain"),
        step("flaky", "plain", max_retries=2),
        step("c", "coro"),
        step("i", "inline"),
    )
    plan.id = "pay"

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert seen == {
        "p": ["pay/p/1"],
        "flaky": ["pay/flaky/1", "pay/flaky/2"],
        "c": ["pay/c/1"],
        "i": ["pay/i/1"],
    }


def test_a_human_callback_sees_its_attempts_key(system: ActorSystem) -> None:
    flow = new_flow(system)
    keys: list[str] = []

    class Human(ScriptedHumanCallback):
        async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
            keys.append(actorflow.idempotency_key())
            return await super().on_human_confirm(data)

    flow.set_human_callback(Human(confirm=True))
    plan = plan_of(
        actorflow.create_flow_step(
            "ask", "human_input", {"message": "Go?", "input_type": "confirm"}, id="ask"
        )
    )
    plan.id = "h"

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert keys == ["h/ask/1"]


def test_outside_a_step_there_is_no_attempt() -> None:
    assert actorflow.current_attempt() is None
    with pytest.raises(ConfigurationError, match="outside a flow step"):
        actorflow.idempotency_key()
