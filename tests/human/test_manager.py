"""HumanCallbackManager: the seed's API, through the gateway or calling its handler."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    ConfigurationError,
    FakeClock,
    HumanCallbackManager,
    HumanRequestFailedError,
    HumanTimeoutError,
    InvalidHumanAnswerError,
    ScriptedHumanCallback,
)
from actorflow.human import HumanOutcome, list_human_requests
from actorflow.testing import NO_ANSWER, Answer, ScriptedHuman


class _InThread:
    """Runs a coroutine to completion on its own thread and event loop."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(make,))
        self._thread.start()

    def _run(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        try:
            self.result = asyncio.run(make())
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc

    def join(self) -> Any:
        self._thread.join(5)
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


def test_a_confirmation_goes_through_the_gateway(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    human = ScriptedHuman({"Deploy?": Answer(value=True, after=20)}, clock=clock)
    manager = HumanCallbackManager(human, system=fake_system)

    call = _InThread(lambda: manager.request_confirmation("Deploy?", "f1", "s1", 60))
    assert human.wait_asked(1, timeout=2)
    clock.advance(20)

    assert call.join() is True
    assert (human.asked[0].flow_id, human.asked[0].step_id) == ("f1", "s1")


def test_the_timeout_holds_when_the_handler_never_returns(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    human = ScriptedHuman({"Deploy?": NO_ANSWER})
    manager = HumanCallbackManager(human, system=fake_system)

    call = _InThread(lambda: manager.request_confirmation("Deploy?", timeout=60))
    assert human.wait_asked(1, timeout=2)
    clock.advance(60)

    with pytest.raises(HumanTimeoutError, match=r"^Human request .* timed out") as caught:
        call.join()
    assert getattr(caught.value.outcome, "outcome", None) is HumanOutcome.TIMED_OUT
    assert human.wait_cancelled(1, timeout=2)


def test_an_input_with_a_default_returns_the_default_on_timeout(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    human = ScriptedHuman.silent()
    manager = HumanCallbackManager(human, system=fake_system)

    call = _InThread(lambda: manager.request_input("Name?", timeout=30, default="anonymous"))
    assert human.wait_asked(1, timeout=2)
    clock.advance(30)

    assert call.join() == "anonymous"


def test_a_selection_of_several_options_goes_through_the_gateway(fake_system: ActorSystem) -> None:
    human = ScriptedHuman({"Which?": ["b", "c"]})
    manager = HumanCallbackManager(human, system=fake_system)

    chosen = _InThread(
        lambda: manager.request_selection("Which?", ["a", "b", "c"], multi_select=True)
    ).join()

    assert chosen == ["b", "c"]
    assert list_human_requests(fake_system) == ()


def test_a_handler_that_raises_fails_the_request(fake_system: ActorSystem) -> None:
    human = ScriptedHuman({"Help?": Answer(error=OSError("no terminal"))})
    manager = HumanCallbackManager(human, system=fake_system)

    with pytest.raises(HumanRequestFailedError, match=r"ended failed: its handler raised"):
        _InThread(lambda: manager.request_help("Help?")).join()


def test_the_handler_attribute_can_be_replaced(fake_system: ActorSystem) -> None:
    manager = HumanCallbackManager(ScriptedHumanCallback(confirm=False), system=fake_system)
    assert _InThread(lambda: manager.request_confirmation("Go?")).join() is False

    manager.callback_handler = ScriptedHumanCallback(confirm=True)

    assert _InThread(lambda: manager.request_confirmation("Go?")).join() is True


def test_without_a_system_the_manager_asks_its_handler_itself() -> None:
    manager = HumanCallbackManager(ScriptedHumanCallback({"Name?": "Ada", "Go?": True}))

    assert asyncio.run(manager.request_confirmation("Go?")) is True
    assert asyncio.run(manager.request_input("Name?")) == "Ada"


def test_without_a_system_the_timeout_runs_on_the_given_clock(clock: FakeClock) -> None:
    human = ScriptedHuman.silent()
    manager = HumanCallbackManager(human, clock=clock)

    call = _InThread(lambda: manager.request_confirmation("Go?", timeout=10))
    assert human.wait_asked(1, timeout=2)
    clock.advance(10)

    with pytest.raises(HumanTimeoutError):
        call.join()
    assert human.wait_cancelled(1, timeout=2)


def test_without_a_system_an_invalid_answer_is_refused() -> None:
    manager = HumanCallbackManager(ScriptedHumanCallback({"Go?": "maybe"}))

    with pytest.raises(InvalidHumanAnswerError, match=r"is not a bool"):
        asyncio.run(manager.request_confirmation("Go?"))


def test_an_unknown_option_is_a_configuration_error() -> None:
    manager = HumanCallbackManager(ScriptedHumanCallback(confirm=True))

    with pytest.raises(ConfigurationError, match=r"^Cannot ask 'Go\?': option 'colour'"):
        asyncio.run(manager.request_confirmation("Go?", colour="red"))
