"""A scripted human for tests and scenarios: answers from a mapping or a list, after a
delay on a (fake) clock, or never.

Example::

    human = ScriptedHuman({"Proceed?": True, "Name?": Answer("Ada", after=30)}, clock=clock)
    spawn_human_gateway(system, human)
    ...
    human.wait_asked(1, timeout=1.0)   # the question reached the human
    clock.advance(30)                  # ... who answers "Ada" now
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, final

from actorflow.clock import Clock
from actorflow.errors import ConfigurationError
from actorflow.human.models import HumanCallbackData, HumanCallbackResponse

__all__ = ["NO_ANSWER", "Answer", "ScriptedHuman"]


@final
@dataclass(frozen=True, slots=True)
class Answer:
    """An answer given ``after`` seconds of the human's clock (``error``: raise it)."""

    value: Any = None
    after: float = 0.0
    error: BaseException | None = None


NO_ANSWER = Answer(after=float("inf"))
"""Never answer this question (to test timeouts): the call waits until cancelled."""


@final
class ScriptedHuman:
    """An IHumanCallback that answers from a script.

    Args:
        answers: a mapping from message (or step id) to answer, or a list of answers
            given in order. An answer is a plain value, an :class:`Answer` (with a
            delay or an error to raise), or :data:`NO_ANSWER`.
        clock: the clock delays run on (required for delays; a FakeClock in tests).
        delay: seconds every plain answer waits.
        responder: the name answers are given under.

    Every request is kept in :attr:`asked`; :meth:`wait_asked` waits for them. A request
    the script has no answer for is never answered (and noted in :attr:`unscripted`).
    """

    def __init__(
        self,
        answers: Mapping[str, Any] | Sequence[Any] = (),
        *,
        clock: Clock | None = None,
        delay: float = 0.0,
        responder: str = "scripted",
    ) -> None:
        self._by_key = dict(answers) if isinstance(answers, Mapping) else None
        self._in_order = list(answers) if not isinstance(answers, Mapping) else []
        self.clock = clock
        self.delay = delay
        self.responder = responder
        self.asked: list[HumanCallbackData] = []
        self.unscripted: list[HumanCallbackData] = []
        self.cancelled: list[str] = []
        """Ids of requests whose call was cancelled before it answered."""
        self._changed = threading.Condition()

    @classmethod
    def silent(cls) -> ScriptedHuman:
        """Return a human who never answers anything."""
        return cls({})

    def wait_asked(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` requests were asked; False after ``timeout`` s."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.asked) >= count, timeout)

    def wait_cancelled(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` calls were cancelled; False after ``timeout`` s."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.cancelled) >= count, timeout)

    def _next(self, data: HumanCallbackData) -> Answer:
        with self._changed:
            self.asked.append(data)
            self._changed.notify_all()
            entry = self._scripted(data)
            if entry is None:
                self.unscripted.append(data)
                entry = NO_ANSWER
        return entry if isinstance(entry, Answer) else Answer(entry, after=self.delay)

    def _scripted(self, data: HumanCallbackData) -> object:
        """The script's entry for ``data`` (None: the script has none)."""
        if self._by_key is None:
            return self._in_order.pop(0) if self._in_order else None
        for key in (data.step_id, data.message):
            if key is not None and key in self._by_key:
                return self._by_key[key]
        return None

    async def _answer(self, data: HumanCallbackData) -> HumanCallbackResponse:
        answer = self._next(data)
        try:
            await self._wait(answer.after)
        except asyncio.CancelledError:
            with self._changed:
                self.cancelled.append(data.request_id)
                self._changed.notify_all()
            raise
        if answer.error is not None:
            raise answer.error
        return HumanCallbackResponse(
            callback_id=data.request_id,
            response_type=data.type.value,
            value=answer.value,
            responder=self.responder,
            answered_at=None if self.clock is None else self.clock.time(),
        )

    async def _wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if seconds == float("inf"):
            await loop.create_future()  # until cancelled
            return
        if seconds <= 0:
            return
        if self.clock is None:
            raise ConfigurationError(
                f"ScriptedHuman was asked to answer after {seconds:g} s but has no clock. "
                "Pass clock= (a FakeClock in tests)."
            )
        due: asyncio.Future[None] = loop.create_future()

        def settle() -> None:  # the loop's thread
            if not due.done():
                due.set_result(None)

        def fire() -> None:  # the clock's thread (FakeClock: whoever advances it)
            loop.call_soon_threadsafe(settle)

        timer = self.clock.call_later(seconds, fire)
        try:
            await due
        finally:
            timer.cancel()

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script."""
        return await self._answer(data)

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script."""
        return await self._answer(data)

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script."""
        return await self._answer(data)

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Answer from the script."""
        return await self._answer(data)
