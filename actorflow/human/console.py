"""``ConsoleHumanCallback``: asks at the terminal with rich prompts.

Each answer is checked as the gateway would check it (yes/no for a confirmation, an
option or its number for a selection, the value type and pattern for an input); an
invalid answer is explained and asked again, and an empty line takes the request's
default when it has one. The prompt runs in the effects thread pool (reading a line
blocks), never on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TextIO, final

from pydantic import JsonValue
from rich.console import Console
from rich.prompt import InvalidResponse, PromptBase
from rich.text import Text

from actorflow.errors import HumanInputError, InvalidHumanAnswerError
from actorflow.human.messages import HumanRequest
from actorflow.human.models import HumanCallbackData, HumanCallbackResponse, HumanCallbackType
from actorflow.human.validation import parse_answer, validate_answer

__all__ = ["ConsoleHumanCallback"]


class _AnswerPrompt(PromptBase[JsonValue]):
    """A rich prompt whose answers are parsed and checked for one request."""

    def __init__(self, request: HumanRequest, console: Console) -> None:
        choices = None
        if request.type is HumanCallbackType.SELECT:
            choices = [str(o) for o in request.options or ()]
        elif request.type is HumanCallbackType.CONFIRM:
            choices = ["y", "n"]
        super().__init__(Text(request.message), console=console, choices=choices)
        self.request = request

    def process_response(self, value: str) -> JsonValue:
        """Parse and check the typed answer.

        Raises:
            InvalidResponse: it is not a valid answer (rich prints the reason and asks again).
        """
        try:
            return parse_answer(self.request, value)
        except InvalidHumanAnswerError as exc:
            note = f"{exc.reason or exc}. Please try again."
            raise InvalidResponse(Text(note, style="prompt.invalid")) from None

    @classmethod
    def get_input(
        cls, console: Console, prompt: Text | str, password: bool, stream: TextIO | None = None
    ) -> str:
        """Read one line, without its surrounding blanks.

        Raises:
            EOFError: the input has ended.
        """
        if stream is None:
            return console.input(prompt, password=password).strip()
        console.print(prompt, end="")
        line = stream.readline()
        if line == "":
            raise EOFError
        return line.strip()


@final
class ConsoleHumanCallback:
    """Asks a person at the console (rich prompts); an IHumanCallback.

    Args:
        console: where prompts and error notes go (default: a new rich Console).
        stream: where answers are read from (default: standard input); a test passes
            ``io.StringIO("yes\\n")``.
        responder: the name answers are given under.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        stream: TextIO | None = None,
        responder: str = "console",
    ) -> None:
        self.console = console or Console()
        self.stream = stream
        self.responder = responder
        self._turn = threading.Lock()
        """Held while a prompt is open."""

    def ask_sync(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask at the console until a valid answer comes (blocks; any thread but an actor's).

        Raises:
            HumanInputError: the input ended before a valid answer.
        """
        request = HumanRequest.from_data(data)
        prompt = _AnswerPrompt(request, self.console)
        if data.type is HumanCallbackType.SELECT:
            for number, option in enumerate(request.options or (), start=1):
                self.console.print(f"  {number}. {option}", markup=False, highlight=False)
        default = _usable_default(request)
        try:
            value = prompt(default=default, stream=self.stream)
        except EOFError:
            raise HumanInputError(
                f"The console input ended before human request {data.request_id!r} "
                f"({data.message!r}) got a valid answer."
            ) from None
        return HumanCallbackResponse(
            callback_id=data.request_id,
            response_type=data.type.value,
            value=value,
            responder=self.responder,
        )

    async def _ask(self, data: HumanCallbackData) -> HumanCallbackResponse:
        cancelled = threading.Event()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self._ask_in_turn, data, cancelled)
        except asyncio.CancelledError:
            cancelled.set()  # a read cannot be interrupted; it learns this when it returns
            raise

    def _ask_in_turn(
        self, data: HumanCallbackData, cancelled: threading.Event
    ) -> HumanCallbackResponse:
        """Ask once no other prompt is open (a pool thread): parallel requests never share
        the terminal. A call cancelled meanwhile (its request timed out) asks nothing, or
        says that the line just read was not used."""
        with self._turn:
            if cancelled.is_set():
                raise asyncio.CancelledError  # ended while it waited: nobody awaits it
            response = self.ask_sync(data)
            if cancelled.is_set():
                self.console.print(
                    f"Request {data.request_id} ended before this answer (timed out or "
                    "cancelled); the answer was not used.",
                    markup=False,
                )
            return response

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask yes or no."""
        return await self._ask(data)

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for a value of the request's type."""
        return await self._ask(data)

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for an option (or its number; several, comma-separated, if multi-select)."""
        return await self._ask(data)

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask for guidance (free text)."""
        return await self._ask(data)


def _usable_default(request: HumanRequest) -> object:
    """The request's default if it is a valid answer, else ``...`` (rich: no default)."""
    if request.default_value is None:
        return ...
    try:
        return validate_answer(request, request.default_value)
    except InvalidHumanAnswerError:
        return ...
