"""The effects runner: outside work on one event loop, outcomes reported exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from actorflow.runtime.cell import current_cell
from actorflow.runtime.effects import EffectRunner, Outcome
from tests.support import Log


@pytest.fixture
def runner() -> Iterator[EffectRunner]:
    effects = EffectRunner(max_threads=2)
    yield effects
    effects.close()


def _recorder(log: Log) -> Outcome:
    def outcome(result: object, error: BaseException | None) -> None:
        log.add((type(error).__name__ if error is not None else "ok", result))

    return outcome


def test_results_and_errors_reach_the_outcome_once(runner: EffectRunner) -> None:
    log = Log()

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> int:
        raise ValueError("no")

    runner.submit(answer, _recorder(log))
    runner.submit(fail, _recorder(log))

    log.wait_until(lambda items: len(items) == 2)
    assert sorted(log.snapshot(), key=str) == [("ValueError", None), ("ok", 42)]


def test_work_runs_inside_a_task_so_asyncio_timeouts_work(runner: EffectRunner) -> None:
    log = Log()

    async def timed() -> str:
        assert asyncio.current_task() is not None
        async with asyncio.timeout(5):
            return "in a task"

    runner.submit(timed, _recorder(log))

    log.wait_until(lambda items: len(items) == 1)
    assert log.snapshot() == [("ok", "in a task")]


def test_cancelled_work_reports_cancellation(runner: EffectRunner) -> None:
    log = Log()
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    handle = runner.submit(forever, _recorder(log))
    assert started.wait(5)
    handle.cancel()

    log.wait_until(lambda items: len(items) == 1)
    assert log.snapshot() == [("CancelledError", None)]


def test_work_cancelled_before_it_started_reports_cancellation(runner: EffectRunner) -> None:
    log = Log()
    gate = threading.Event()
    loop = runner.dispatcher().loop
    loop.call_soon_threadsafe(gate.wait, 5)  # hold the loop so the next submit waits

    async def never() -> str:
        return "ran"

    handle = runner.submit(never, _recorder(log))
    handle.cancel()
    gate.set()

    log.wait_until(lambda items: len(items) == 1)
    assert log.snapshot() == [("CancelledError", None)]


def test_on_the_loop_thread_work_that_never_waits_finishes_within_submit(
    runner: EffectRunner,
) -> None:
    log = Log()
    seen: list[object] = []

    async def quick() -> str:
        return "done"

    def submit_here() -> None:
        runner.submit(quick, _recorder(log))
        seen.extend(log.snapshot())  # already reported when submit returns

    runner.dispatcher().loop.call_soon_threadsafe(submit_here)

    log.wait_until(lambda items: len(items) == 1)
    assert seen == [("ok", "done")]


def test_work_started_eagerly_runs_as_its_task_and_outside_any_actor(
    runner: EffectRunner,
) -> None:
    log = Log()
    seen: list[object] = []

    async def probe() -> str:
        seen.append(asyncio.current_task() is not None)
        seen.append(current_cell())
        await asyncio.sleep(0)  # the rest runs in the same task
        seen.append(asyncio.current_task() is not None)
        return "done"

    def submit_here() -> None:
        runner.submit(probe, _recorder(log))
        seen.append("submitted")

    runner.dispatcher().loop.call_soon_threadsafe(submit_here)

    log.wait_until(lambda items: len(items) == 1)
    assert log.snapshot() == [("ok", "done")]
    assert seen == [True, None, "submitted", True]


def test_work_submitted_from_inside_a_task_starts_on_a_later_iteration(
    runner: EffectRunner,
) -> None:
    log = Log()
    seen: list[object] = []

    async def inner() -> str:
        return "inner"

    async def outer() -> str:
        runner.submit(inner, _recorder(log))
        seen.extend(log.snapshot())  # a step cannot run inside this task: not reported yet
        return "outer"

    runner.submit(outer, _recorder(log))

    log.wait_until(lambda items: len(items) == 2)
    assert seen == []
    assert sorted(log.snapshot(), key=str) == [("ok", "inner"), ("ok", "outer")]


@pytest.mark.parametrize("exit_error", [SystemExit, KeyboardInterrupt])
def test_work_raising_an_exit_request_is_reported_and_the_loop_lives_on(
    runner: EffectRunner, exit_error: type[BaseException]
) -> None:
    log = Log()

    async def leave() -> None:
        raise exit_error

    async def after() -> str:
        return "still serving"

    runner.submit(leave, _recorder(log))
    log.wait_until(lambda items: len(items) == 1)
    runner.submit(after, _recorder(log))

    log.wait_until(lambda items: len(items) == 2)
    assert log.snapshot() == [(exit_error.__name__, None), ("ok", "still serving")]


def test_closing_reports_the_cancellation_of_every_effect(runner: EffectRunner) -> None:
    log = Log()
    started = threading.Event()

    async def running() -> None:
        started.set()
        await asyncio.Event().wait()

    async def queued() -> None:
        await asyncio.Event().wait()

    runner.submit(running, _recorder(log))
    assert started.wait(5)
    runner.submit(queued, _recorder(log))  # from this thread: its task starts on the loop later

    runner.close()

    log.wait_until(lambda items: len(items) == 2)
    assert log.snapshot() == [("CancelledError", None), ("CancelledError", None)]
