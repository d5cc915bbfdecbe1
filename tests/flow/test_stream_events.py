"""A flow's stream events, its listeners' hooks and stream_execute, end to end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    ConfigurationError,
    FlowFailedError,
    FlowPlan,
    FlowState,
    FlowStatus,
    FlowStep,
    IFlowEventListener,
    InvalidMessageError,
    StepFailedError,
    StepStatus,
    StreamCallbackData,
    StreamCallbackType,
    create_flow_step,
    emit_stream,
    report_file,
    report_progress,
)
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.journal import JournalConfig, open_journal
from actorflow.messages import Envelope
from actorflow.runtime import Behaviour, Context
from actorflow.streams import StreamEvents, emit_event, streams_of
from tests.flow.support import Recorder, held_at_b, new_flow, plan_of, step
from tests.support import Collector

T = StreamCallbackType


def flow_events(got: Collector) -> list[tuple[str, str | None]]:
    return [(i.event, i.step_id) for i in got.items if i.event]


def mixed_plan() -> FlowPlan:
    """A retried step, a false condition that skips one, a degraded one, a completed one."""
    return plan_of(
        step("flaky"),
        create_flow_step("check", "condition", {"condition": "1 > 2"}, ["flaky"], id="check"),
        step("skipped", deps=["check"]),
        step("broken", deps=["flaky"], critical=False, max_retries=0),
        step("last", deps=["broken"]),
    )


def run_mixed(system: ActorSystem, recorder: Recorder) -> tuple[Collector, FlowState]:
    recorder.fail_times.update(flaky=1, broken=5)
    flow = new_flow(system, recorder)
    got = Collector()
    flow.add_stream_callback(got)
    state = flow.execute_sync(mixed_plan())
    assert got.done.wait(5)
    return got, state


def test_a_flow_tells_its_course_as_stream_events_in_order(
    system: ActorSystem, recorder: Recorder
) -> None:
    got, state = run_mixed(system, recorder)
    assert state.status is FlowStatus.COMPLETED
    assert [i.seq for i in got.items] == list(range(1, len(got.items) + 1))
    assert {i.source for i in got.items} == {f"/flows/{state.flow_id}"}
    events = flow_events(got)
    assert events[0] == ("flow_started", None)
    assert events[-1] == ("flow_completed", None)
    assert events[1:5] == [
        ("step_started", "flaky"),
        ("retry_scheduled", "flaky"),
        ("step_started", "flaky"),
        ("step_completed", "flaky"),
    ]
    assert ("step_skipped", "skipped") in events
    assert ("step_failed", "broken") in events
    assert ("step_completed", "last") in events
    by_event = {(i.event, i.step_id): i for i in got.items}
    use = by_event["step_started", "flaky"]
    assert use.type is T.TOOL_USE
    assert use.content == {"tool": "record", "arguments": {"label": "flaky"}}
    retry = by_event["retry_scheduled", "flaky"]
    assert retry.type is T.WORKFLOW
    assert retry.metadata["attempt"] == 1
    assert retry.metadata["next_attempt"] == 2
    assert "attempt 1 failed" in str(retry.content)
    assert "ConnectionError" in str(retry.content)
    assert "retrying in" in str(retry.content)
    result = by_event["step_completed", "flaky"]
    assert (result.type, result.content) == (T.TOOL_RESULT, "flaky#2")
    degraded = by_event["step_failed", "broken"]
    assert degraded.type is T.ERROR
    assert degraded.metadata["degraded"] is True
    assert by_event["step_skipped", "skipped"].type is T.WORKFLOW
    finish = got.items[-1]
    assert finish.type is T.FINISH
    assert finish.metadata["state"]["status"] == "completed"  # type: ignore[index]


def test_a_failed_flow_ends_with_an_error_event(system: ActorSystem, recorder: Recorder) -> None:
    recorder.fail_times["a"] = 9
    flow = new_flow(system, recorder)
    got = Collector()
    flow.add_stream_callback(got)
    state = flow.execute_sync(plan_of(step("a", max_retries=0), step("b", deps=["a"])))
    assert state.status is FlowStatus.FAILED
    assert got.done.wait(5)
    last = got.items[-1]
    assert (last.type, last.event, last.step_id) == (T.ERROR, "flow_failed", None)
    assert "critical step 'a' failed" in str(last.content)
    assert [e for e, _ in flow_events(got)].count("step_failed") == 1


def test_events_are_frozen_for_every_subscriber(system: ActorSystem, recorder: Recorder) -> None:
    got, _ = run_mixed(system, recorder)
    with pytest.raises(TypeError):
        got.items[0].metadata["event"] = "changed"  # type: ignore[index]


class Monitor(IFlowEventListener):
    """The seed's FlowMonitor, recording its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.done = threading.Event()

    async def on_flow_started(self, flow_id: str, plan: FlowPlan) -> None:
        self.calls.append(("flow_started", flow_id, plan))

    async def on_flow_completed(self, flow_id: str, state: FlowState) -> None:
        self.calls.append(("flow_completed", flow_id, state))
        self.done.set()

    async def on_flow_failed(self, flow_id: str, state: FlowState, error: Exception) -> None:
        self.calls.append(("flow_failed", flow_id, state, error))
        self.done.set()

    async def on_step_started(self, flow_id: str, step: FlowStep) -> None:
        self.calls.append(("step_started", flow_id, step))

    async def on_step_completed(self, flow_id: str, step: FlowStep) -> None:
        self.calls.append(("step_completed", flow_id, step))

    def on_step_failed(self, flow_id: str, step: FlowStep, error: Exception) -> None:  # type: ignore[override]
        self.calls.append(("step_failed", flow_id, step, error))  # a plain hook works too


def test_each_listener_hook_is_called_once_per_event_with_its_arguments(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times.update(flaky=1, broken=5)
    flow = new_flow(system, recorder)
    monitor = Monitor()
    flow.add_event_listener(monitor)
    plan = mixed_plan()
    state = flow.execute_sync(plan)
    assert monitor.done.wait(5)
    names = [c[0] for c in monitor.calls]
    assert names.count("flow_started") == 1
    assert names.count("flow_completed") == 1
    assert names.count("step_started") == 5  # flaky twice, check, broken, last
    assert names.count("step_completed") == 3  # flaky, check, last
    assert names.count("step_failed") == 1
    started = monitor.calls[0]
    assert started[1] == state.flow_id
    assert started[2] is plan
    completed = next(c for c in monitor.calls if c[0] == "flow_completed")
    assert isinstance(completed[2], FlowState)
    assert completed[2].status is FlowStatus.COMPLETED
    assert completed[2].steps["last"].result == "last#1"
    done = [c[2] for c in monitor.calls if c[0] == "step_completed"]
    assert (done[0].id, done[0].status, done[0].result) == (
        "flaky",
        StepStatus.COMPLETED,
        "flaky#2",
    )
    assert done[0].retry_count == 1
    failed = next(c for c in monitor.calls if c[0] == "step_failed")
    assert failed[2].id == "broken"
    assert isinstance(failed[3], StepFailedError)
    assert "broken failed on call 1" in str(failed[3])


def test_a_failed_flow_reaches_on_flow_failed_with_its_error(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.fail_times["a"] = 9
    flow = new_flow(system, recorder)
    monitor = Monitor()
    flow.add_event_listener(monitor)
    flow.execute_sync(plan_of(step("a", max_retries=0)))
    assert monitor.done.wait(5)
    failed = monitor.calls[-1]
    assert failed[0] == "flow_failed"
    assert failed[2].status is FlowStatus.FAILED
    assert isinstance(failed[3], FlowFailedError)
    assert "critical step 'a' failed" in str(failed[3])


def test_a_slow_subscriber_does_not_slow_the_flow(system: ActorSystem, recorder: Recorder) -> None:
    gate = threading.Event()
    seen: list[int] = []

    def slow(data: StreamCallbackData) -> None:  # would take forever per event
        seen.append(data.seq)
        assert gate.wait(30)

    flow = new_flow(system, recorder)
    fast = Collector()
    sub = flow.add_stream_callback(slow)
    flow.add_stream_callback(fast)
    try:
        state = flow.execute_sync(
            plan_of(*(step(f"s{i}", deps=[f"s{i - 1}"] if i else []) for i in range(20)))
        )
        # The flow finished, and the fast subscriber saw it all, while the slow one holds
        # its first event.
        assert state.status is FlowStatus.COMPLETED
        assert fast.done.wait(5)
        assert seen == [1]
        stats = sub.statistics()
        assert stats.delivered == 0
        assert stats.pending > 0  # the rest wait in its queue (all but the batch it took)
    finally:
        gate.set()
    assert sub.wait_idle(10)
    assert seen == [i.seq for i in fast.items]


def test_a_raising_callback_neither_stops_the_flow_nor_starves_the_others(
    system: ActorSystem, recorder: Recorder
) -> None:
    def broken(_data: StreamCallbackData) -> None:
        raise RuntimeError("callback bug")

    flow = new_flow(system, recorder)
    bad = flow.add_stream_callback(broken)
    good = Collector()
    flow.add_stream_callback(good)
    state = flow.execute_sync(plan_of(step("a"), step("b", deps=["a"])))
    assert state.status is FlowStatus.COMPLETED
    assert good.done.wait(5)
    assert bad.wait_idle(5)
    assert bad.statistics().errors == len(good.items)


def test_fail_flow_cancels_the_flow_a_callback_raised_on(
    system: ActorSystem, recorder: Recorder
) -> None:
    recorder.gates["a"] = gate = threading.Event()

    def strict(data: StreamCallbackData) -> None:
        if data.event == "step_started":
            raise RuntimeError("refuse to watch")

    flow = new_flow(system, recorder)
    flow.add_stream_callback(strict, fail_flow=True)
    try:
        state = flow.execute_sync(plan_of(step("a")))
    finally:
        gate.set()
    assert state.status is FlowStatus.FAILED
    assert "stream callback raised" in str(state.error)


def test_streams_off_means_no_events(system: ActorSystem, recorder: Recorder) -> None:
    flow = new_flow(system, recorder, enable_stream_callbacks=False)
    got = Collector()
    sub = flow.add_stream_callback(got)
    flow.execute_sync(plan_of(step("a")))
    assert sub.wait_idle(5)
    assert got.items == []
    with pytest.raises(ConfigurationError, match="enable_stream_callbacks"):
        next(flow.stream_execute_sync(plan_of(step("b"))))


# -- stream_execute ------------------------------------------------------------------


def test_stream_execute_yields_the_runs_events_in_order_and_ends_after_finish(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow = new_flow(system, recorder)
    items = list(flow.stream_execute_sync(plan_of(step("a"), step("b", deps=["a"]))))
    assert [i.seq for i in items] == list(range(1, len(items) + 1))
    assert items[-1].type is T.FINISH
    assert [i.event for i in items] == [
        "flow_started", "step_started", "step_completed", "step_started", "step_completed",
        "flow_completed",
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_stream_execute_ends_with_error_when_the_flow_fails(system: ActorSystem) -> None:
    recorder = Recorder()
    recorder.fail_times["a"] = 9
    flow = new_flow(system, recorder)
    items = [i async for i in flow.stream_execute(plan_of(step("a", max_retries=0)))]
    assert (items[-1].type, items[-1].event) == (T.ERROR, "flow_failed")


@pytest.mark.asyncio
async def test_stream_execute_plans_a_goal_first(system: ActorSystem) -> None:
    flow = new_flow(system)
    items = [i async for i in flow.stream_execute(goal="Analyze data", context={"n": [1, 2]})]
    assert items[0].event == "plan_created"
    assert items[0].flow_id == items[-1].flow_id
    assert items[-1].type is T.FINISH
    assert [i.seq for i in items] == list(range(1, len(items) + 1))


@pytest.mark.asyncio
async def test_stream_execute_without_a_plan_runs_the_current_one_or_says_what_to_pass(
    system: ActorSystem,
) -> None:
    flow = new_flow(system)
    with pytest.raises(ConfigurationError, match="goal="):
        async for _ in flow.stream_execute():
            pass
    plan = await flow.plan("Analyze data", {"n": [1]})
    items = [i async for i in flow.stream_execute()]
    assert items[-1].flow_id == plan.id
    assert items[-1].type is T.FINISH


@pytest.mark.asyncio
async def test_stream_execute_raises_the_runs_own_error(system: ActorSystem) -> None:
    flow = new_flow(system)
    bad = plan_of(step("a", deps=["missing"]))
    with pytest.raises(Exception, match="missing"):
        async for _ in flow.stream_execute(bad):
            pass


@pytest.mark.asyncio
async def test_leaving_stream_execute_early_cancels_the_flow(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow, plan, gate = held_at_b(system, recorder)
    events = flow.stream_execute(plan)
    async for item in events:
        if item.event == "step_started" and item.step_id == "b":
            break
    await events.aclose()  # what the loop's end does, at once (else when collected)
    gate.set()
    state = await flow.get_state(plan.id)
    assert state is not None
    assert state.status is FlowStatus.CANCELLED


def test_the_sync_iterator_left_early_cancels_the_flow_too(
    system: ActorSystem, recorder: Recorder
) -> None:
    flow, plan, gate = held_at_b(system, recorder)
    events = flow.stream_execute_sync(plan)
    for item in events:
        if item.step_id == "b":
            break
    events.close()  # type: ignore[attr-defined]
    gate.set()
    state = flow.get_state_sync(plan.id)
    assert state is not None
    assert state.status is FlowStatus.CANCELLED


# -- events from inside steps --------------------------------------------------------


def chatty(n: int = 3) -> Iterator[str]:
    report_progress(0, n, "starting")
    for i in range(n):
        yield f"part{i} "
    report_file("out.txt", "write")


async def async_chatty(n: int = 3) -> AsyncIterator[dict[str, int]]:
    for i in range(n):
        await asyncio.sleep(0)
        yield {"i": i}


def test_tools_stream_progress_files_and_generator_output(system: ActorSystem) -> None:
    flow = new_flow(system)
    flow.register_tool("chatty", chatty)
    flow.register_tool("async_chatty", async_chatty)
    plan = plan_of(
        create_flow_step("c", "mcp_tool", {"tool_name": "chatty", "arguments": {"n": 3}}, id="c"),
        create_flow_step(
            "d", "mcp_tool", {"tool_name": "async_chatty", "arguments": {"n": 2}}, ["c"], id="d"
        ),
    )
    items = list(flow.stream_execute_sync(plan))
    kinds = [(i.type, i.step_id) for i in items]
    assert kinds[1:8] == [
        (T.TOOL_USE, "c"), (T.TOOL_RUNNING, "c"), (T.TOOL_STREAMING, "c"),
        (T.TOOL_STREAMING, "c"), (T.TOOL_STREAMING, "c"), (T.FILE, "c"), (T.TOOL_RESULT, "c"),
    ]  # fmt: skip
    assert items[7].content == "part0 part1 part2 "
    assert items[6].content == "out.txt"
    assert items[6].metadata["operation"] == "write"
    streamed = [i.content for i in items if i.type is T.TOOL_STREAMING and i.step_id == "d"]
    assert streamed == [{"i": 0}, {"i": 1}]
    assert next(i for i in items if i.type is T.TOOL_RESULT and i.step_id == "d").content == [
        {"i": 0}, {"i": 1}]  # fmt: skip


def test_ten_thousand_events_through_stream_execute_none_lost(system: ActorSystem) -> None:
    def many(n: int) -> Iterator[int]:
        yield from range(n)

    flow = new_flow(system)
    flow.register_tool("many", many)
    parameters = {"tool_name": "many", "arguments": {"n": 10_000}}
    plan = plan_of(create_flow_step("m", "mcp_tool", parameters, id="m"))
    items = list(flow.stream_execute_sync(plan))
    assert [i.seq for i in items] == list(range(1, len(items) + 1))
    chunks = [i.content for i in items if i.type is T.TOOL_STREAMING]
    assert chunks == list(range(10_000))


def test_emitting_outside_a_step_does_nothing_and_bad_content_is_refused(
    system: ActorSystem,
) -> None:
    assert emit_stream(T.TEXT, "hello") is False
    assert report_progress(1, 2) is False

    def bad() -> str:
        emit_stream(T.TEXT, {1, 2})  # type: ignore[arg-type]
        return "never"

    flow = new_flow(system)
    flow.register_tool("bad", bad)
    state = flow.execute_sync(
        plan_of(create_flow_step("b", "mcp_tool", {"tool_name": "bad"}, id="b", max_retries=0))
    )
    assert state.status is FlowStatus.FAILED
    assert "InvalidMessageError" in str(state.error)
    assert InvalidMessageError.__name__ in str(state.steps["b"].error)


class ThinkingAgent(Behaviour):
    """An agent that thinks aloud (THINKING, TEXT) while it works on a flow's step."""

    def on_agent_task(self, msg: AgentTask, ctx: Context) -> None:
        where = {"flow_id": msg.flow_id, "step_id": msg.step_id}
        emit_event(ctx, T.THINKING, f"how to research {msg.task}?", **where)
        emit_event(ctx, T.TEXT, "Here is what I found.", **where)
        ctx.reply(AgentTaskDone(result="found"))


def test_an_agents_thinking_reaches_the_flows_subscribers_in_place(system: ActorSystem) -> None:
    agent = system.spawn(ThinkingAgent, "thinker")
    flow = new_flow(system)
    plan = plan_of(create_flow_step("ask", "agent", {"agent": agent, "task": "LLMs"}, id="ask"))
    items = list(flow.stream_execute_sync(plan))
    kinds = [(i.type, i.source) for i in items]
    flow_path = f"/flows/{plan.id}"
    assert kinds == [
        (T.WORKFLOW, flow_path), (T.WORKFLOW, flow_path), (T.THINKING, str(agent)),
        (T.TEXT, str(agent)), (T.WORKFLOW, flow_path), (T.FINISH, flow_path),
    ]  # fmt: skip
    assert items[2].content == "how to research LLMs?"
    assert items[2].step_id == "ask"
    assert [i.seq for i in items] == list(range(1, 7))


def test_events_nobody_would_get_are_not_built(system: ActorSystem, recorder: Recorder) -> None:
    flow = new_flow(system, recorder)
    flow.execute_sync(plan_of(step("a"), step("b", deps=["a"])))
    assert streams_of(system).numbered == 0  # no subscriber, no journal


def test_with_a_journal_every_event_is_recorded_even_unheard(
    tmp_path: Path, recorder: Recorder
) -> None:
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        flow = new_flow(system, recorder)
        state = flow.execute_sync(plan_of(step("a"), step("b", deps=["a"])))
    with open_journal(path) as journal:
        told = [
            item
            for record in journal
            if isinstance(record, Envelope) and isinstance(record.message, StreamEvents)
            for item in record.message.items
        ]
    assert [i.metadata["event"] for i in told] == [
        "flow_started", "step_started", "step_completed", "step_started", "step_completed",
        "flow_completed",
    ]  # fmt: skip
    assert {i.flow_id for i in told} == {state.flow_id}
