"""ConsoleHumanCallback driven through a stdin fixture."""

from __future__ import annotations

import asyncio
import io
import queue
import threading
from collections.abc import Callable

import pytest
from rich.console import Console

from actorflow import ActorSystem, ConsoleHumanCallback, FakeClock, HumanInputError
from actorflow.human import (
    HUMAN_PATH,
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    HumanOutcome,
    HumanResponse,
    spawn_human_gateway,
)
from actorflow.testing import Probe
from tests.human.support import ask

Typed = Callable[[str], ConsoleHumanCallback]


@pytest.fixture
def screen() -> io.StringIO:
    """What the console prints."""
    return io.StringIO()


@pytest.fixture
def typed(screen: io.StringIO) -> Typed:
    """A console callback that reads the given lines as if typed."""

    def make(lines: str) -> ConsoleHumanCallback:
        console = Console(file=screen, force_terminal=False, width=100)
        return ConsoleHumanCallback(console, stream=io.StringIO(lines))

    return make


def confirm(**fields: object) -> HumanCallbackData:
    return HumanCallbackData(type=HumanCallbackType.CONFIRM, message="Proceed?", **fields)


def test_a_valid_answer_is_taken(typed: Typed) -> None:
    response = asyncio.run(typed("yes\n").on_human_confirm(confirm()))

    assert (response.value, response.responder, response.response_type) == (
        True,
        "console",
        "confirm",
    )


def test_an_invalid_answer_is_explained_and_asked_again(typed: Typed, screen: io.StringIO) -> None:
    response = asyncio.run(typed("perhaps\nno\n").on_human_confirm(confirm()))

    assert response.value is False
    assert "'perhaps'" in screen.getvalue()
    assert "'perhaps' is not yes or no. Please try again." in screen.getvalue()
    assert screen.getvalue().count("Proceed?") == 2


def test_an_empty_line_takes_the_default(typed: Typed) -> None:
    data = HumanCallbackData(type=HumanCallbackType.INPUT, message="Name?", default_value="Ada")

    response = asyncio.run(typed("\n").on_human_input(data))

    assert response.value == "Ada"


def test_an_empty_line_without_a_default_is_asked_again(typed: Typed) -> None:
    data = HumanCallbackData(type=HumanCallbackType.INPUT, message="Age?", value_type="int")

    response = asyncio.run(typed("\nabc\n42\n").on_human_input(data))

    assert response.value == 42


def test_a_selection_takes_an_option_or_its_number(typed: Typed, screen: io.StringIO) -> None:
    data = HumanCallbackData(
        type=HumanCallbackType.SELECT, message="Colour?", options=["red", "green"]
    )

    assert asyncio.run(typed("2\n").on_human_select(data)).value == "green"
    assert "1. red" in screen.getvalue()


def test_input_that_ends_before_a_valid_answer_fails_the_call(typed: Typed) -> None:
    with pytest.raises(HumanInputError, match=r"console input ended before human request"):
        asyncio.run(typed("perhaps\n").on_human_confirm(confirm()))


def test_without_a_stream_it_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    human = ConsoleHumanCallback(Console(file=screen, force_terminal=False))

    assert asyncio.run(human.on_human_confirm(confirm())).value is False


def test_the_gateway_asks_at_the_console(fake_system: ActorSystem, typed: Typed) -> None:
    requester = Probe(fake_system, "requester")
    spawn_human_gateway(fake_system, typed("maybe\ny\n"))

    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))

    assert requester.expect(HumanResponse, timeout=2).value is True


class _Keyboard:
    """Standard input a test types into line by line; ``waiting`` is set while a read
    waits for a line."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.waiting = threading.Event()

    def readline(self) -> str:
        self.waiting.set()
        line = self.lines.get(timeout=5)
        self.waiting.clear()
        return line


class _Screen(io.StringIO):
    """A console file that sets ``noted`` once ``text`` was written."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.noted = threading.Event()

    def write(self, s: str, /) -> int:
        written = super().write(s)
        if self.text in self.getvalue():
            self.noted.set()
        return written


class _Watched:
    """Passes confirmations to ``inner``; sets ``cancelled`` when a call is cancelled."""

    def __init__(self, inner: ConsoleHumanCallback) -> None:
        self.inner = inner
        self.cancelled = threading.Event()

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        try:
            return await self.inner.on_human_confirm(data)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    on_human_input = on_human_select = on_human_help = on_human_confirm


def test_an_answer_typed_after_the_request_timed_out_is_noted_as_unused(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    keyboard, screen = _Keyboard(), _Screen("ended before this answer")
    console = Console(file=screen, force_terminal=False, width=200)
    human = _Watched(ConsoleHumanCallback(console, stream=keyboard))  # type: ignore[arg-type]
    requester = Probe(fake_system, "requester")
    spawn_human_gateway(fake_system, human)
    fake_system.tell(HUMAN_PATH, ask(timeout=10, reply_to=requester.path))
    assert keyboard.waiting.wait(2)

    clock.advance(10)
    assert requester.expect(HumanResponse, timeout=2).outcome is HumanOutcome.TIMED_OUT
    assert human.cancelled.wait(2)
    keyboard.lines.put("y\n")

    assert screen.noted.wait(2)
