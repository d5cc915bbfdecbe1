"""The seed-compatible scripted human: answers from a script, at once.

For answers after a delay on a FakeClock, answers in order, or a human that never
answers, see ``actorflow.testing.ScriptedHuman``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

from actorflow.errors import ConfigurationError
from actorflow.human.models import HumanCallbackData, HumanCallbackResponse

__all__ = ["ScriptedHumanCallback"]


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
            callback_id=data.request_id,
            response_type=data.type.value,
            value=value,
            responder="scripted",
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
