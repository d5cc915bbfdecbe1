"""``ConsoleHumanCallback``: asks at the terminal with rich prompts.

Each answer is checked as the gateway would check it (yes/no for a confirmation, an
option or its number for a selection, the value type and pattern for an input); an
invalid answer is explained and asked again, and an empty line takes the request's
default when it has one. Prompts are asked one at a time, in order, by one reader
thread per console (reading a line blocks): never on the event loop, and a prompt
waiting for its turn holds no thread. A request that ends while its prompt is on
screen leaves it at once; the line being typed then answers the next prompt.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from dataclasses import dataclass
from typing import TextIO, cast, final

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
        self._lock = threading.Lock()
        self._queue: collections.deque[_Prompt] = collections.deque()
        """Prompts waiting for an answer, first come first asked."""
        self._reader: threading.Thread | None = None
        """The thread that reads lines while prompts wait (none when none waits)."""
        self._shown: _Prompt | None = None
        """The prompt on screen: the next line read is its answer."""
        self._reading = False
        """Whether the reader waits for a line now."""

    def ask_sync(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Ask at the console until a valid answer comes (blocks; any thread but an actor's).

        Raises:
            HumanInputError: the input ended before a valid answer.
        """
        request = HumanRequest.from_data(data)
        prompt = _AnswerPrompt(request, self.console)
        self._show_options(request)
        try:
            value = cast("JsonValue", prompt(default=_usable_default(request), stream=self.stream))
        except EOFError:
            raise _input_ended(data) from None
        return self._response(data, value)

    async def _ask(self, data: HumanCallbackData) -> HumanCallbackResponse:
        """Queue a prompt for the console's reader thread and await its answer: waiting
        for the terminal holds no thread, and a cancelled prompt leaves the queue at once
        (the line being read then answers the next prompt)."""
        loop = asyncio.get_running_loop()
        prompt = _Prompt(data, HumanRequest.from_data(data), loop, loop.create_future())
        with self._lock:
            self._queue.append(prompt)
            if self._reader is None:
                self._reader = threading.Thread(
                    target=self._read, name="console-human", daemon=True
                )
                self._reader.start()
            elif self._reading and self._shown is None:
                self._show_head()  # a read is under way: this prompt takes its line
        try:
            return await prompt.future
        except asyncio.CancelledError:
            self._withdraw(prompt)
            raise

    def _withdraw(self, prompt: _Prompt) -> None:
        """Drop a cancelled prompt; if it is on screen, the line being read goes to the
        next one, which is shown now."""
        with self._lock:
            if prompt in self._queue:
                self._queue.remove(prompt)
            if self._shown is not prompt:
                return
            self._shown = None
            self.console.print(
                f"\nRequest {prompt.data.request_id} ended (timed out or cancelled).",
                markup=False,
            )
            if self._reading and self._queue:
                self._show_head()

    def _read(self) -> None:
        """The reader thread: show the first prompt, read a line, hand it to whichever
        prompt is first then; until no prompt is left."""
        while True:
            with self._lock:
                if not self._queue:
                    self._reader = None
                    return
                if self._shown is None:
                    self._show_head()
                self._reading = True
            try:
                line = self._readline()
            except EOFError:
                self._end_input()
                return
            with self._lock:
                self._reading = False
                self._take(line)

    def _readline(self) -> str:
        """Read one line without its surrounding blanks (blocks).

        Raises:
            EOFError: the input has ended.
        """
        if self.stream is None:
            return input().strip()
        line = self.stream.readline()
        if line == "":
            raise EOFError
        return line.strip()

    def _take(self, line: str) -> None:
        """Hand ``line`` to the prompt on screen (lock held)."""
        prompt, self._shown = self._shown, None
        if prompt is None or prompt not in self._queue:
            self.console.print(
                "A request ended before this answer (timed out or cancelled); the answer "
                "was not used.",
                markup=False,
            )
            return
        request = prompt.request
        default = _usable_default(request)
        try:
            value = (
                cast("JsonValue", default)
                if line == "" and default is not ...
                else parse_answer(request, line)
            )
        except InvalidHumanAnswerError as exc:
            note = f"{exc.reason or exc}. Please try again."
            self.console.print(Text(note, style="prompt.invalid"))
            return
        self._queue.remove(prompt)
        prompt.settle(self._response(prompt.data, value), None)

    def _end_input(self) -> None:
        with self._lock:
            waiting, self._queue = list(self._queue), collections.deque()
            self._reader, self._shown, self._reading = None, None, False
        for prompt in waiting:
            prompt.settle(None, _input_ended(prompt.data))

    def _show_head(self) -> None:
        """Show the first prompt (lock held)."""
        prompt = self._queue[0]
        self._shown = prompt
        request = prompt.request
        self._show_options(request)
        shown = _AnswerPrompt(request, self.console).make_prompt(_usable_default(request))
        self.console.print(shown, end="")

    def _show_options(self, request: HumanRequest) -> None:
        if request.type is HumanCallbackType.SELECT:
            for number, option in enumerate(request.options or (), start=1):
                self.console.print(f"  {number}. {option}", markup=False, highlight=False)

    def _response(self, data: HumanCallbackData, value: JsonValue) -> HumanCallbackResponse:
        return HumanCallbackResponse(
            callback_id=data.request_id,
            response_type=data.type.value,
            value=value,
            responder=self.responder,
        )

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


@dataclass(eq=False)
class _Prompt:
    """A question waiting at the console for its answer."""

    data: HumanCallbackData
    request: HumanRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[HumanCallbackResponse]

    def settle(self, response: HumanCallbackResponse | None, error: BaseException | None) -> None:
        """Resolve the awaiting call from the reader thread (on its loop)."""

        def resolve() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(response)  # type: ignore[arg-type] # set when no error

        with contextlib.suppress(RuntimeError):  # its loop closed: nobody awaits it
            self.loop.call_soon_threadsafe(resolve)


def _input_ended(data: HumanCallbackData) -> HumanInputError:
    return HumanInputError(
        f"The console input ended before human request {data.request_id!r} "
        f"({data.message!r}) got a valid answer."
    )


def _usable_default(request: HumanRequest) -> object:
    """The request's default if it is a valid answer, else ``...`` (rich: no default)."""
    if request.default_value is None:
        return ...
    try:
        return validate_answer(request, request.default_value)
    except InvalidHumanAnswerError:
        return ...
