"""Regressions from the second review: timers, the effects loop, effect results, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
from loguru import logger

from actorflow import (
    ActorSystem,
    Behaviour,
    ConfigurationError,
    Context,
    EffectCompleted,
    EffectFailed,
    FakeClock,
    Message,
    recipe,
)
from actorflow.clock import SystemClock
from actorflow.runtime import _run_effect
from actorflow.runtime.effects import EffectRunner


class _WatchedCondition(threading.Condition):
    """A condition that tells the test when the timer thread sleeps towards a far deadline."""

    def __init__(self) -> None:
        super().__init__()
        self.far_wait = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None or timeout > 1000:
            self.far_wait.set()
        return super().wait(timeout)


@pytest.fixture
def system_clock() -> Iterator[SystemClock]:
    clock = SystemClock()
    yield clock
    clock.close()


def test_a_far_future_timer_does_not_end_the_timer_thread(system_clock: SystemClock) -> None:
    """A timer beyond threading.TIMEOUT_MAX is waited for; later timers still fire."""
    watched = _WatchedCondition()
    system_clock._cond = watched
    fired = threading.Event()

    system_clock.call_later(1e10, lambda: None)
    assert watched.far_wait.wait(timeout=2.0)
    system_clock.call_later(0.0, fired.set)

    assert fired.wait(timeout=2.0)


@pytest.mark.parametrize("delay", [math.nan, math.inf, -1.0, "1"])
def test_call_later_refuses_a_delay_that_is_not_a_finite_non_negative_number(
    system_clock: SystemClock, delay: object
) -> None:
    with pytest.raises(ConfigurationError, match=r"^The delay "):
        system_clock.call_later(delay, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^The delay "):
        FakeClock().call_later(delay, lambda: None)  # type: ignore[arg-type]


class Go(Message):
    """Start the effect the test set up."""

    kind: Literal["test.review_effects.go"] = "test.review_effects.go"


class EffectStarter(Behaviour):
    """Runs one effect on Go and keeps what came of it: an error raised, or the outcome."""

    def __init__(self, work: Callable[[], object], timeout: object = None) -> None:
        self.work = work
        self.timeout = timeout
        self.outcomes: list[object] = []
        self.done = threading.Event()

    def on_go(self, msg: Go, ctx: Context) -> None:
        try:
            ctx.run_effect(self.work, name="work", timeout=self.timeout)  # type: ignore[arg-type]
        except ConfigurationError as exc:
            self.outcomes.append(exc)
            self.done.set()

    def on_effect_completed(self, msg: EffectCompleted, ctx: Context) -> None:
        self.outcomes.append(msg)
        self.done.set()

    def on_effect_failed(self, msg: EffectFailed, ctx: Context) -> None:
        self.outcomes.append(msg)
        self.done.set()


def _run(system: ActorSystem, starter: EffectStarter) -> list[object]:
    path = system.spawn(recipe(lambda: starter), "starter")
    system.tell(path, Go())
    assert starter.done.wait(timeout=5.0)
    return starter.outcomes


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1.0, "1"])
def test_run_effect_refuses_a_timeout_that_is_not_a_finite_non_negative_number(
    system: ActorSystem, timeout: object
) -> None:
    """The handler gets a ConfigurationError and no work starts."""
    started = threading.Event()
    starter = EffectStarter(started.set, timeout)

    outcomes = _run(system, starter)

    assert len(outcomes) == 1
    assert isinstance(outcomes[0], ConfigurationError)
    assert str(outcomes[0]).startswith("The effect timeout ")
    assert not started.is_set()


@pytest.mark.parametrize("exit_error", [SystemExit, KeyboardInterrupt])
def test_an_exit_request_from_an_effects_background_task_does_not_end_the_loop(
    exit_error: type[BaseException],
) -> None:
    """The loop runs on, so an effect submitted after it still reports its outcome."""
    runner = EffectRunner(name="test-review-effects")
    first, second = threading.Event(), threading.Event()
    results: list[object] = []

    async def exit_in_background() -> None:
        raise exit_error

    async def start_background() -> object:
        asyncio.get_running_loop().create_task(exit_in_background())
        return "started"

    async def plain() -> object:
        return "plain"

    def record(done: threading.Event) -> Callable[[object, BaseException | None], None]:
        def outcome(result: object, error: BaseException | None) -> None:
            results.append(result if error is None else error)
            done.set()

        return outcome

    try:
        runner.submit(start_background, record(first))
        assert first.wait(timeout=5.0)
        runner.submit(plain, record(second))  # queued behind the background task's step
        reported = second.wait(timeout=5.0)
    finally:
        runner.close(timeout=5.0)

    assert reported
    assert results == ["started", "plain"]


def _shared_lists(levels: int) -> list[object]:
    value: list[object] = [0]
    for _ in range(levels):
        value = [value, value]
    return value


def test_an_effect_result_too_large_through_shared_lists_fails_with_effect_result_error(
    system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few hundred bytes that are 16 million values are refused, not walked on the loop."""
    monkeypatch.setattr(_run_effect, "MAX_RESULT_NODES", 1000)  # the real budget walks 0.2 s
    starter = EffectStarter(lambda: _shared_lists(23))

    outcomes = _run(system, starter)

    assert len(outcomes) == 1
    failed = outcomes[0]
    assert isinstance(failed, EffectFailed)
    assert failed.error.error_type == "actorflow.errors.EffectResultError"
    assert "more than 1,000 values" in failed.error.message


def test_an_effect_result_with_shared_lists_within_budget_completes(system: ActorSystem) -> None:
    starter = EffectStarter(lambda: _shared_lists(3))

    outcomes = _run(system, starter)

    assert len(outcomes) == 1
    assert isinstance(outcomes[0], EffectCompleted)
    assert outcomes[0].result == _shared_lists(3)


LogLine = tuple[str, str]


@pytest.fixture
def logs() -> Iterator[list[LogLine]]:
    """Capture actorflow's loguru output (silent by default) for the test."""
    lines: list[LogLine] = []

    def sink(message: Any) -> None:
        lines.append((message.record["level"].name, message.record["message"]))

    logger.enable("actorflow")
    handler = logger.add(sink, level="DEBUG", format="{message}", catch=False)
    yield lines
    logger.remove(handler)
    logger.disable("actorflow")


def test_closing_the_effects_runner_names_an_effect_that_ignores_cancellation(
    logs: list[LogLine],
) -> None:
    """close() returns after its timeout and an ERROR names the effect still running."""
    runner = EffectRunner(name="test-review-stubborn")
    started, ended = threading.Event(), threading.Event()

    go_on = asyncio.Event()

    async def stubborn() -> object:
        started.set()
        while not go_on.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # until the test releases it
                await go_on.wait()
        return "ended"

    runner.submit(stubborn, lambda _result, _error: ended.set(), name="effect 'stubborn'")
    assert started.wait(timeout=5.0)
    runner.close(timeout=0.05)
    errors = [text for level, text in logs if level == "ERROR"]
    assert runner.loop is not None
    runner.loop.call_soon_threadsafe(go_on.set)
    assert ended.wait(timeout=5.0)
    assert runner._thread is not None
    runner._thread.join(timeout=5.0)  # the loop stops and closes now

    assert len(errors) == 1
    assert "did not stop within 0.05 s" in errors[0]
    assert "effect 'stubborn'" in errors[0]
