"""The effects pool: a blocking call never starves other work; calls whose caller gave up
are replaced by new threads up to a hard cap, and past it blocking calls fail with a
typed error instead of queueing forever."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from actorflow import (
    ActorSystem,
    EffectPoolExhaustedError,
    EnhancedFlow,
    FakeClock,
    FlowPlan,
    FlowState,
    FlowStatus,
    FlowStep,
    StepStatus,
    create_flow_step,
)
from actorflow.runtime.effects import EffectHandle, EffectRunner, Outcome
from tests.support import Log

_WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")
EXHAUSTED = r"^The effects thread pool is exhausted: all 2 of its threads are held by blocking"


class Blocker:
    """A blocking call that logs ("start", label) and waits until the test releases it."""

    def __init__(self) -> None:
        self.log = Log()
        self.release = threading.Event()

    def __call__(self, label: str) -> str:
        self.log.add(("start", label))
        assert self.release.wait(10), f"{label} was never released"
        return label


@pytest.fixture
def blocker() -> Iterator[Blocker]:
    calls = Blocker()
    yield calls
    calls.release.set()  # threads held by abandoned calls end before the thread check


def _recorder(log: Log, label: str) -> Outcome:
    def outcome(result: object, error: BaseException | None) -> None:
        log.add((label, error if error is not None else result))

    return outcome


def _outcome_of(log: Log, label: str) -> object:
    log.wait_until(lambda items: any(item[0] == label for item in items))  # type: ignore[index]
    (found,) = (item[1] for item in log.snapshot() if item[0] == label)  # type: ignore[index]
    return found


def _abandon(runner: EffectRunner, blocker: Blocker, outcomes: Log, label: str) -> None:
    """Start a blocking call, wait until it runs, cancel it and wait for its outcome."""
    handle: EffectHandle = runner.submit_blocking(
        partial(blocker, label), _recorder(outcomes, label)
    )
    blocker.log.wait_for(("start", label))
    handle.cancel()
    assert isinstance(_outcome_of(outcomes, label), asyncio.CancelledError)


def test_a_blocking_call_does_not_stop_other_effects(blocker: Blocker) -> None:
    runner = EffectRunner(max_threads=2)
    outcomes = Log()
    try:
        runner.submit_blocking(partial(blocker, "held"), _recorder(outcomes, "held"))
        blocker.log.wait_for(("start", "held"))

        async def answer() -> int:
            await asyncio.sleep(0)
            return 42

        runner.submit(answer, _recorder(outcomes, "async"))
        runner.submit_blocking(lambda: "quick", _recorder(outcomes, "blocking"))

        assert _outcome_of(outcomes, "async") == 42
        assert _outcome_of(outcomes, "blocking") == "quick"
        assert runner.statistics().busy == 1
        assert ("held", "held") not in outcomes.snapshot()
    finally:
        blocker.release.set()
        runner.close()


def test_abandoned_calls_beyond_the_pool_size_do_not_starve_new_calls(blocker: Blocker) -> None:
    runner = EffectRunner(max_threads=2, thread_limit=16)
    outcomes = Log()
    try:
        for n in range(5):
            _abandon(runner, blocker, outcomes, f"stuck-{n}")
        runner.submit_blocking(lambda: "fresh", _recorder(outcomes, "fresh"))

        assert _outcome_of(outcomes, "fresh") == "fresh"
        stats = runner.statistics()
        assert (stats.abandoned, stats.abandoned_total, stats.busy) == (5, 5, 0)
        assert stats.threads <= stats.thread_limit
    finally:
        blocker.release.set()
        runner.close()


def test_past_the_thread_limit_a_blocking_call_fails_with_a_typed_error(
    blocker: Blocker,
) -> None:
    runner = EffectRunner(max_threads=1, thread_limit=2)
    outcomes = Log()
    try:
        _abandon(runner, blocker, outcomes, "stuck-1")
        _abandon(runner, blocker, outcomes, "stuck-2")
        runner.submit_blocking(lambda: "refused", _recorder(outcomes, "late"))

        error = _outcome_of(outcomes, "late")
        assert isinstance(error, EffectPoolExhaustedError)
        with pytest.raises(EffectPoolExhaustedError, match=EXHAUSTED):
            raise error
        stats = runner.statistics()
        assert (stats.threads, stats.abandoned, stats.rejected) == (2, 2, 1)
    finally:
        blocker.release.set()
        runner.close()


def test_queued_calls_fail_when_the_pool_becomes_exhausted(blocker: Blocker) -> None:
    runner = EffectRunner(max_threads=1, thread_limit=1)
    outcomes = Log()
    try:
        first = runner.submit_blocking(partial(blocker, "first"), _recorder(outcomes, "first"))
        blocker.log.wait_for(("start", "first"))
        runner.submit_blocking(lambda: "queued", _recorder(outcomes, "queued"))
        first.cancel()

        assert isinstance(_outcome_of(outcomes, "queued"), EffectPoolExhaustedError)
        assert runner.statistics().queued == 0
    finally:
        blocker.release.set()
        runner.close()


def test_the_pool_serves_calls_again_once_abandoned_calls_return(blocker: Blocker) -> None:
    runner = EffectRunner(max_threads=1, thread_limit=2)
    outcomes = Log()
    try:
        _abandon(runner, blocker, outcomes, "stuck-1")
        _abandon(runner, blocker, outcomes, "stuck-2")
        blocker.release.set()
        assert runner.wait_no_abandoned_calls(timeout=5)
        runner.submit_blocking(lambda: "served", _recorder(outcomes, "after"))

        assert _outcome_of(outcomes, "after") == "served"
        stats = runner.statistics()
        assert (stats.abandoned, stats.abandoned_total, stats.threads) == (0, 2, 1)
    finally:
        runner.close()


def test_call_blocking_reports_result_and_error_on_the_thread_that_ran_the_call() -> None:
    runner = EffectRunner(max_threads=2)
    outcomes = Log()
    threads: list[str] = []

    def work() -> str:
        threads.append(threading.current_thread().name)
        return "done"

    def fail() -> str:
        raise ValueError("no")

    def record(label: str) -> Outcome:
        def outcome(result: object, error: BaseException | None) -> None:
            threads.append(f"{label}:{threading.current_thread().name}")
            outcomes.add((label, error if error is not None else result))

        return outcome

    try:
        runner.call_blocking(work, record("ok"))
        runner.call_blocking(fail, record("err"))

        assert _outcome_of(outcomes, "ok") == "done"
        assert isinstance(_outcome_of(outcomes, "err"), ValueError)
        assert f"ok:{threads[0]}" in threads  # the outcome came from the pool thread
        assert len(outcomes.snapshot()) == 2
    finally:
        runner.close()


def test_a_cancelled_call_blocking_reports_once_and_drops_the_late_result(
    blocker: Blocker,
) -> None:
    runner = EffectRunner(max_threads=1, thread_limit=4)
    outcomes = Log()
    try:
        running = runner.call_blocking(partial(blocker, "running"), _recorder(outcomes, "running"))
        blocker.log.wait_for(("start", "running"))
        queued = runner.call_blocking(lambda: "never", _recorder(outcomes, "queued"))
        queued.cancel()
        running.cancel()
        blocker.release.set()
        assert runner.wait_no_abandoned_calls(timeout=5)
        runner.call_blocking(lambda: "after", _recorder(outcomes, "after"))

        assert _outcome_of(outcomes, "after") == "after"
        assert isinstance(_outcome_of(outcomes, "running"), asyncio.CancelledError)
        assert isinstance(_outcome_of(outcomes, "queued"), asyncio.CancelledError)
        assert len(outcomes.snapshot()) == 3  # the running call's late result was dropped
        assert runner.statistics().abandoned_total == 1
    finally:
        blocker.release.set()
        runner.close()


def test_call_blocking_awaits_a_returned_coroutine_and_cancel_reaches_it() -> None:
    runner = EffectRunner(max_threads=1)
    outcomes = Log()
    started, cancelled = threading.Event(), threading.Event()

    async def waits() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    async def quick() -> str:
        return "awaited"

    try:
        runner.call_blocking(quick, _recorder(outcomes, "quick"))  # a function returning one
        handle = runner.call_blocking(waits, _recorder(outcomes, "waits"))
        assert started.wait(5)
        handle.cancel()

        assert _outcome_of(outcomes, "quick") == "awaited"
        assert isinstance(_outcome_of(outcomes, "waits"), asyncio.CancelledError)
        assert cancelled.wait(5)
        assert len(outcomes.snapshot()) == 2
    finally:
        runner.close()


def test_call_blocking_past_the_thread_limit_reports_a_typed_error(blocker: Blocker) -> None:
    runner = EffectRunner(max_threads=1, thread_limit=1)
    outcomes = Log()
    try:
        _abandon(runner, blocker, outcomes, "stuck")
        runner.call_blocking(lambda: "refused", _recorder(outcomes, "late"))

        assert isinstance(_outcome_of(outcomes, "late"), EffectPoolExhaustedError)
    finally:
        blocker.release.set()
        runner.close()


def test_call_blocking_runs_in_a_copy_of_the_callers_context() -> None:
    runner = EffectRunner(max_threads=1)
    outcomes = Log()
    token = _WHO.set("caller")
    try:
        runner.call_blocking(_WHO.get, _recorder(outcomes, "who"))

        assert _outcome_of(outcomes, "who") == "caller"
    finally:
        _WHO.reset(token)
        runner.close()


def test_a_cancelled_call_that_never_started_leaves_no_abandoned_thread(
    blocker: Blocker,
) -> None:
    runner = EffectRunner(max_threads=1)
    outcomes = Log()
    try:
        runner.submit_blocking(partial(blocker, "held"), _recorder(outcomes, "held"))
        blocker.log.wait_for(("start", "held"))
        queued = runner.submit_blocking(partial(blocker, "queued"), _recorder(outcomes, "queued"))
        queued.cancel()

        assert isinstance(_outcome_of(outcomes, "queued"), asyncio.CancelledError)
        stats = runner.statistics()
        assert (stats.abandoned, stats.busy, stats.queued) == (0, 1, 0)
        assert ("start", "queued") not in blocker.log.snapshot()
    finally:
        blocker.release.set()
        runner.close()


# -- issue 9 item 6: two flows, one with timed-out blocking sync tools ----------------------


def _tool_step(step_id: str, tool: str, *, timeout: float | None = None) -> FlowStep:
    parameters = {"tool_name": tool, "arguments": {"label": step_id}, "critical": False}
    return create_flow_step(
        step_id, "mcp_tool", parameters, id=step_id, max_retries=0, timeout=timeout
    )


def _flow(system: ActorSystem, tools: dict[str, Callable[[str], str]]) -> EnhancedFlow:
    flow = EnhancedFlow(system=system)
    flow.config.default_step_timeout = None
    flow.config.auto_save_interval = 1000
    flow.config.checkpoint_interval = 0.0
    for name, fn in tools.items():
        flow.register_tool(name, fn)
    return flow


def _execute_in_background(
    flow: EnhancedFlow, plan: FlowPlan
) -> tuple[threading.Thread, list[FlowState]]:
    out: list[FlowState] = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(flow.execute(plan))))
    thread.start()
    return thread, out


def test_a_flow_completes_while_another_flows_sync_tools_time_out_and_block(
    blocker: Blocker,
) -> None:
    """More timed-out blocking tool calls than the pool has threads, plus one still running,
    do not stop another flow's sync tool (issue 9, item 6)."""
    clock = FakeClock()
    stuck = [_tool_step(f"stuck-{n}", "block", timeout=1.0) for n in range(8)]
    with ActorSystem(clock=clock) as system:
        slow = _flow(system, {"block": blocker})
        quick = _flow(system, {"echo": lambda label: f"echo {label}"})
        assert system.effects.statistics().max_threads == 8
        slow_thread, slow_out = _execute_in_background(
            slow, FlowPlan(name="slow", steps=[*stuck, _tool_step("held", "block")])
        )
        blocker.log.wait_until(lambda items: len(items) == 8)  # the 9th call waits its turn
        assert clock.wait_for_timers(2, timeout=5)  # the auto-save and the timeout sweep

        clock.advance(1.0)  # the 8 stuck calls time out; their threads stay blocked
        blocker.log.wait_for(("start", "held"))
        quick_thread, quick_out = _execute_in_background(
            quick, FlowPlan(name="quick", steps=[_tool_step("hello", "echo")])
        )
        quick_thread.join(10)
        blocker.release.set()
        slow_thread.join(10)

    (state,) = quick_out
    assert state.status is FlowStatus.COMPLETED
    assert state.steps["hello"].result == "echo hello"
    assert slow_out[0].steps["held"].result == "held"
    assert slow_out[0].steps["stuck-0"].status is StepStatus.TIMED_OUT
