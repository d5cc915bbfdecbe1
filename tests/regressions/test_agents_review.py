"""Adversarial review of the multi-agent layer (issue 14): regressions, prefix A.

Each test is marked ``xfail(strict=True)`` while its defect stands; the fix removes the
marker.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from actorflow import ActorSystem, recipe
from actorflow.agents.base import BaseAgent
from actorflow.agents.communication import AgentMessage
from actorflow.agents.context import AgentContext
from actorflow.agents.hub import AgentCommunicationHub
from actorflow.agents.models import AgentInfo
from actorflow.errors import AskTimeoutError
from actorflow.flow.messages import AgentTask, AgentTaskDone


def task(name: str, **parameters: Any) -> AgentTask:
    return AgentTask(flow_id="", step_id="", task=name, parameters=parameters)


class Hostile(BaseAgent):
    """Does what the task's name says: a hostile or careless handler."""

    def __init__(self, info: AgentInfo, gate: threading.Event | None = None) -> None:
        super().__init__(info)
        self.gate = gate

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        if task.task == "inner_cancelled":
            # A helper task is cancelled by someone else; awaiting it raises
            # CancelledError in this handler, which itself was never cancelled.
            inner = asyncio.ensure_future(asyncio.sleep(3600))
            inner.cancel()
            await inner
        if task.task == "hang":
            assert self.gate is not None
            await asyncio.to_thread(self.gate.wait, 10)
        if task.task == "params":
            return dict(task.parameters)
        return task.task


def spawn(system: ActorSystem, behaviour: Any, name: str) -> None:
    system.spawn(behaviour, name, dispatcher="loop")


@pytest.mark.xfail(
    strict=True,
    reason="A1: CancelledError from a handler is taken as the effect's cancellation: "
    "the task is never answered and the agent's slot is held forever",
)
def test_a1_cancelled_error_inside_a_handler_is_answered_and_frees_the_agent(
    system: ActorSystem,
) -> None:
    """The adversary's handler awaits a helper task that was cancelled elsewhere, so
    ``CancelledError`` escapes the handler (the handler itself was not cancelled).

    What happens: ``_guarded`` catches only ``Exception``; the effects runner sees
    ``CancelledError`` and, the effect not having timed out, treats it as the actor
    cancelling its own effect: nothing is delivered. The job stays in ``_running`` for
    ever: the requester is never answered, and with ``max_concurrency=1`` every later
    task waits behind it (the agent is wedged until restarted).

    What should happen: the task fails (an ``AgentTaskDone`` with an error) and the next
    task runs."""
    spawn(system, recipe(Hostile, AgentInfo(id="c")), "c")

    try:
        first = system.ask("/agents/c", task("inner_cancelled"), timeout=2)
    except AskTimeoutError:
        first = None
    assert isinstance(first, AgentTaskDone) and first.error
    assert system.ask("/agents/c", task("after"), timeout=2) == AgentTaskDone(result="after")
