"""Human-in-the-loop callbacks of the seed: the data a human is asked, and the answer.

A ``human_input`` step calls the flow's human callback (``flow.set_human_callback``)
on the effects runner, never on an actor thread. The full human gateway actor comes
with a later issue; :class:`ScriptedHumanCallback` answers from a script, for
scenarios and tests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol, final, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from actorflow.errors import ConfigurationError

__all__ = [
    "HumanCallbackData",
    "HumanCallbackResponse",
    "HumanCallbackType",
    "IHumanCallback",
    "ScriptedHumanCallback",
]


class HumanCallbackType(StrEnum):
    """What is asked of the human."""

    CONFIRM = "confirm"
    INPUT = "input"
    SELECT = "select"
    HELP = "help"


class HumanCallbackData(BaseModel):
    """A request to a human."""

    model_config = ConfigDict(extra="forbid")

    type: HumanCallbackType
    message: str
    options: list[Any] | None = None
    default_value: Any = None
    timeout: float = 3600.0
    flow_id: str | None = None
    step_id: str | None = None
    timestamp: float = Field(default_factory=time.time)


class HumanCallbackResponse(BaseModel):
    """A human's answer."""

    model_config = ConfigDict(extra="forbid")

    callback_id: str
    response_type: str
    value: Any = None


@runtime_checkable
class IHumanCallback(Protocol):
    """Answers human requests (the seed's interface; all four methods are async)."""

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a yes/no confirmation."""
        ...

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a value."""
        ...

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask to pick one of ``data.options``."""
        ...

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for help or guidance."""
        ...


@final
class ScriptedHumanCallback:
    """Answers from a script: ``{message or step id: answer}``, else per-type defaults.

    Every request is kept in :attr:`asked`, so a scenario can show what was asked.
    """

    def __init__(
        self,
        answers: Mapping[str, Any] | None = None,
        *,
        confirm: bool | None = None,
        default_input: Any = None,
    ) -> None:
        self.answers = dict(answers or {})
        self.confirm = confirm
        self.default_input = default_input
        self.asked: list[HumanCallbackData] = []

    def _answer(self, data: HumanCallbackData, fallback: Any) -> HumanCallbackResponse:
        self.asked.append(data)
        for key in (data.step_id, data.message):
            if key is not None and key in self.answers:
                value = self.answers[key]
                break
        else:
            if fallback is None:
                raise ConfigurationError(
                    f"ScriptedHumanCallback has no answer for {data.message!r} "
                    f"(step {data.step_id!r}). Add it to the script's answers."
                )
            value = fallback
        return HumanCallbackResponse(
            callback_id=str(data.timestamp), response_type=data.type.value, value=value
        )

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script, else ``confirm``."""
        return self._answer(data, self.confirm)

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script, else the request's default or ``default_input``."""
        return self._answer(data, data.default_value or self.default_input)

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script, else the first option."""
        return self._answer(data, (data.options or [None])[0])

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script, else ``default_input``."""
        return self._answer(data, self.default_input)
