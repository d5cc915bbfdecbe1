"""A flow's human callback as the human gateway calls it (inside the step's attempt)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from actorflow.flow.attempt import Attempt, run_in_attempt
from actorflow.human.models import HumanCallbackData, HumanCallbackResponse, IHumanCallback

__all__ = ["AttemptScopedHuman"]

T = TypeVar("T")


class AttemptScopedHuman:
    """A flow's human callback as the gateway calls it: inside the step's attempt, so
    that ``actorflow.idempotency_key()`` works there as in a tool (the gateway names a
    flow's request ``flow id/step id/attempt@run``)."""

    def __init__(self, callback: IHumanCallback) -> None:
        self.callback = callback

    async def _in_attempt(
        self, data: HumanCallbackData, ask: Callable[[HumanCallbackData], Awaitable[T]]
    ) -> T:
        number = data.request_id.rsplit("@", 1)[0].rsplit("/", 1)[-1]
        if data.flow_id is None or data.step_id is None or not number.isdigit():
            return await ask(data)
        attempt = Attempt(data.flow_id, data.step_id, int(number))
        return await run_in_attempt(attempt, lambda: ask(data))

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a confirmation."""
        return await self._in_attempt(data, self.callback.on_human_confirm)

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for an input."""
        return await self._in_attempt(data, self.callback.on_human_input)

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a selection."""
        return await self._in_attempt(data, self.callback.on_human_select)

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for help."""
        return await self._in_attempt(data, self.callback.on_human_help)
