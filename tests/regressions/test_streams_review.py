"""Regressions from an adversarial review of stream events: the hub, subscriptions,
listeners, ``stream_execute`` and the events tools emit (S1-S18, all fixed)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from actorflow import (
    SYSTEM_PATH,
    ActorSystem,
    ConfigurationError,
    FlowStatus,
    IFlowEventListener,
    InvalidMessageError,
    StreamCallbackData,
    StreamCallbackType,
    emit_stream,
)
from actorflow.errors import FlowError
from actorflow.ids import child_path
from actorflow.journal import JournalConfig, open_journal
from actorflow.messages.envelope import Envelope
from actorflow.streams import (
    STREAMS_PATH,
    StreamEvents,
    StreamHub,
    Subscription,
    streams_of,
    subscribe,
)
from actorflow.streams import hub as hub_module
from actorflow.streams.manager import StreamCallbackManager
from tests.flow.support import Recorder, held_at_b, new_flow, plan_of, step, wait_for
from tests.support import Collector

T = StreamCallbackType
_WAIT = 5.0


def poll_until(predicate: Callable[[], bool], timeout: float = _WAIT) -> None:
    """Poll ``predicate()`` until it holds (fails the test after ``timeout`` seconds): only
    for a state no event announces (where another thread's code is waiting, S9)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def text(content: int, flow_id: str = "f") -> StreamCallbackData:
    return StreamCallbackData(type=T.TEXT, content=content, metadata={}, flow_id=flow_id)


def tell(system: ActorSystem, *items: StreamCallbackData, topic: str = "") -> None:
    """Tell the hub one message holding ``items``."""
    streams_of(system)
    system.tell(STREAMS_PATH, StreamEvents(items=items, topic=topic))


def hold_loop(system: ActorSystem) -> threading.Event:
    """Block the system's event loop (where the hub runs) until the returned event is set."""
    hold, held = threading.Event(), threading.Event()

    def block_loop() -> None:
        held.set()
        hold.wait(_WAIT)

    loop = system.effects.loop
    assert loop is not None
    loop.call_soon_threadsafe(block_loop)
    assert held.wait(_WAIT)
    return hold


def hub_of(system: ActorSystem) -> StreamHub:
    cell = system.cell_at(STREAMS_PATH)
    assert cell is not None
    assert streams_of(system).barrier().wait(_WAIT)  # the hub took a message: it runs
    hub = cell.behaviour
    assert isinstance(hub, StreamHub)
    return hub


@contextlib.contextmanager
def unraisables() -> Iterator[list[str]]:
    """Keep what the interpreter reports as "Exception ignored in ..." meanwhile, and
    collect the garbage left behind, so that nothing leaks into later tests."""
    caught: list[str] = []
    previous = sys.unraisablehook

    def keep(unraisable: sys.UnraisableHookArgs) -> None:
        caught.append(f"{unraisable.object!r}: {unraisable.exc_value!r}")

    sys.unraisablehook = keep
    try:
        yield caught
    finally:
        for _ in range(3):
            gc.collect()
        sys.unraisablehook = previous


# -- S1: metadata that names a flow event -------------------------------------------------


def test_a_tool_cannot_end_its_flows_stream_by_naming_a_last_event(system: ActorSystem) -> None:
    """The metadata key "event" is the flows' own: a tool that sets it gets an error
    (its attempt fails), and the stream has one last event, numbered in order."""

    def tool(label: str) -> str:
        emit_stream(T.TEXT, "looks final", event="flow_completed")
        return label

    flow = new_flow(system)
    flow.register_tool("record", tool, replace=True)
    got = Collector()
    flow.add_stream_callback(got)
    state = flow.execute_sync(plan_of(step("a", max_retries=0), step("b", deps=["a"])))
    assert got.done.wait(_WAIT)

    assert "reserved metadata key 'event'" in str(state.error)
    assert [i.seq for i in got.items] == list(range(1, len(got.items) + 1))
    assert [i.event for i in got.items if i.is_last] == ["flow_failed"]


# -- S2: a callback that removes itself ---------------------------------------------------


def test_a_callback_removed_by_itself_gets_no_further_event(system: ActorSystem) -> None:
    flow = new_flow(system)
    calls: list[object] = []

    def once(data: StreamCallbackData) -> None:
        calls.append(data.content)
        flow.remove_stream_callback(once)

    sub = flow.add_stream_callback(once)
    actor = system.cell_at(child_path(SYSTEM_PATH, sub.name))
    assert actor is not None
    tell(system, text(0), text(1), text(2), topic=flow.stream_topic)
    assert actor.terminated.wait(_WAIT)  # a closed subscriber's actor stops

    assert calls == [0]


# -- S3: a coroutine callback raising a BaseException --------------------------------------


def test_an_async_callback_raising_generator_exit_is_counted_and_gets_the_next_event(
    system: ActorSystem,
) -> None:
    seen: list[object] = []

    async def callback(data: StreamCallbackData) -> None:
        seen.append(data.content)
        if data.content == 0:
            raise GeneratorExit

    sub = subscribe(system, callback)
    tell(system, text(0))
    tell(system, text(1))
    assert streams_of(system).barrier().wait(_WAIT)
    idle = sub.wait_idle(2.0)

    assert idle
    assert seen == [0, 1]
    assert sub.statistics().errors == 1


# -- S4: the loop of an async callback ends while it runs ----------------------------------


def test_an_async_callback_whose_loop_ended_mid_event_is_closed(system: ActorSystem) -> None:
    """asyncio.run() cancels the pump while it awaits the callback; the subscription is
    neither closed nor idle afterwards, and later events pile up uncounted."""
    started = threading.Event()

    async def main() -> Subscription:
        async def stuck(data: StreamCallbackData) -> None:
            started.set()
            await asyncio.Event().wait()

        sub = subscribe(system, stuck)
        tell(system, text(0))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, _WAIT)
        return sub

    sub = asyncio.run(main())
    tell(system, text(1))
    assert streams_of(system).barrier().wait(_WAIT)
    idle = sub.wait_idle(1.0)

    assert idle
    assert sub.is_closed


# -- S5: a streaming tool that outlives its attempt ----------------------------------------


def test_no_event_of_a_flow_follows_its_last_event(system: ActorSystem) -> None:
    gate, ended = threading.Event(), threading.Event()

    def slow_stream(label: str) -> Iterator[str]:
        try:
            yield "first"
            gate.wait(_WAIT)
            yield "late"  # pulled after the attempt timed out: not told, and the end
            yield "later"
        finally:
            ended.set()

    flow = new_flow(system)
    flow.register_tool("record", slow_stream, replace=True)
    got = Collector()
    sub = flow.add_stream_callback(got)
    state = flow.execute_sync(plan_of(step("s", timeout=0.05, max_retries=0)))
    assert got.done.wait(_WAIT)
    gate.set()
    assert ended.wait(_WAIT)  # closed once the cancelled attempt yielded again
    assert sub.wait_caught_up(_WAIT)
    hub = hub_of(system)

    assert state.status is FlowStatus.FAILED
    assert got.items[-1].is_last
    assert [i.content for i in got.items if i.type is T.TOOL_STREAMING] == ["first"]
    assert state.flow_id not in hub.seqs
    assert state.flow_id not in hub.topics


# -- S6: a plain callback raising a BaseException -----------------------------------------


def test_a_plain_callback_raising_generator_exit_is_counted_and_gets_the_next_event(
    system: ActorSystem,
) -> None:
    seen: list[object] = []

    def callback(data: StreamCallbackData) -> None:
        seen.append(data.content)
        if data.content == 0:
            raise GeneratorExit

    sub = subscribe(system, callback)
    tell(system, text(0))
    tell(system, text(1))
    assert streams_of(system).barrier().wait(_WAIT)
    sub.wait_caught_up(_WAIT)

    assert seen == [0, 1]
    assert sub.statistics().errors == 1
    assert not sub.is_closed


# -- S7: hub state of plans never run ------------------------------------------------------


@pytest.mark.asyncio
async def test_planning_without_running_leaves_bounded_state_in_the_hub(
    system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan made and never run never tells its end: the hub keeps the numbering of at
    most MAX_TRACKED_FLOWS flows (the least recently heard go first)."""
    monkeypatch.setattr(hub_module, "MAX_TRACKED_FLOWS", 2)
    flow = new_flow(system)
    flow.add_stream_callback(Collector())
    plans = [await flow.plan("Analyze data", {"n": [1]}) for _ in range(3)]
    assert await asyncio.to_thread(streams_of(system).barrier().wait, _WAIT)
    hub = hub_of(system)

    assert list(hub.seqs) == [plans[1].id, plans[2].id]
    assert set(hub.topics) <= {plans[1].id, plans[2].id}


# -- S8: a listener that is not one --------------------------------------------------------


def test_an_object_that_is_not_a_listener_is_refused(system: ActorSystem) -> None:
    flow = new_flow(system)

    with pytest.raises(ConfigurationError, match="IFlowEventListener"):
        flow.add_event_listener(object())  # type: ignore[arg-type]


# -- S9: Ctrl-C in the sync iterator -------------------------------------------------------


def _main_thread_waits_in_select(main: int) -> bool:
    frame = sys._current_frames().get(main)
    return frame is not None and frame.f_code.co_name in {"select", "poll"}


def test_ctrl_c_in_the_sync_iterator_raises_keyboard_interrupt_and_cancels_the_flow(
    system: ActorSystem,
) -> None:
    flow, plan, gate = held_at_b(system, Recorder())
    main = threading.get_ident()
    reached_b = threading.Event()

    def press_ctrl_c() -> None:
        assert reached_b.wait(_WAIT)
        poll_until(lambda: _main_thread_waits_in_select(main))
        signal.pthread_kill(main, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    raised: BaseException | None = None
    with unraisables() as caught:
        events = flow.stream_execute_sync(plan)
        try:
            for item in events:
                if item.step_id == "b":
                    reached_b.set()
        except BaseException as exc:  # noqa: BLE001 - what reaches the script is the point
            raised = exc
        finally:
            presser.join(_WAIT)
            gate.set()
            del events
    state = flow.get_state_sync(plan.id)

    assert isinstance(raised, KeyboardInterrupt)
    assert state is not None
    assert state.status is FlowStatus.CANCELLED
    assert caught == [], caught


# -- S10: the sync iterator collected inside a running loop --------------------------------


def test_a_sync_stream_collected_inside_an_event_loop_still_cancels_its_flow(
    system: ActorSystem,
) -> None:
    flow, plan, gate = held_at_b(system, Recorder())
    events: Iterator[StreamCallbackData] | None = flow.stream_execute_sync(plan)
    assert events is not None
    for item in events:
        if item.step_id == "b":
            break

    async def drop_it() -> None:
        nonlocal events
        events = None
        gc.collect()

    with unraisables() as caught:
        try:
            asyncio.run(drop_it())
        finally:
            gate.set()
    state = flow.get_state_sync(plan.id)

    assert state is not None
    assert state.status is FlowStatus.CANCELLED
    assert caught == [], caught


# -- S11: wait_streams_idle and the hub's mailbox ------------------------------------------


def test_wait_streams_idle_is_true_only_once_events_told_before_it_were_handled(
    system: ActorSystem,
) -> None:
    """execute_sync() then wait_streams_idle_sync() misses the flow's last events most
    of the time; holding the hub's loop makes that deterministic."""
    flow = new_flow(system)
    got = Collector()
    flow.add_stream_callback(got)
    streams_of(system)
    hold = hold_loop(system)
    try:
        flow.stream_callbacks.emit_nowait(T.TEXT, "hello", flow_id="f")
        idle = flow.wait_streams_idle_sync(0.2)
        delivered = [i.content for i in got.items]
    finally:
        hold.set()

    assert not idle or delivered == ["hello"]


# -- S12: events the journal cannot hold ---------------------------------------------------


def test_subscribers_see_only_events_the_journal_holds(tmp_path: Path) -> None:
    """Emitting refuses an event the journal cannot hold, or the journal holds it."""
    huge = "x" * (17 * 1024 * 1024)  # over the journal's 16 MiB frame limit
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        manager = StreamCallbackManager(system)
        got = Collector()
        sub = manager.add_callback(got)
        with contextlib.suppress(InvalidMessageError):
            manager.emit_nowait(T.TEXT, huge, flow_id="f")
        assert sub.wait_caught_up(_WAIT)
    with open_journal(path) as journal:
        journaled = [
            len(str(item.content))
            for record in journal
            if isinstance(record, Envelope) and isinstance(record.message, StreamEvents)
            for item in record.message.items
        ]

    assert [len(str(i.content)) for i in got.items] == journaled


# -- S13: the listener adapter's plans of flows that never started -------------------------


def test_a_run_that_never_started_leaves_no_plan_in_the_listeners(system: ActorSystem) -> None:
    """Facade B runs a plan whose flow id facade A is running: B's run is refused, but
    B's listener adapter keeps the plan (it only forgets a plan at the flow's last event)."""
    recorder = Recorder()
    recorder.gates["a"] = gate = threading.Event()
    first, second = new_flow(system, recorder), new_flow(system, recorder)
    second.add_event_listener(IFlowEventListener())
    plan = plan_of(step("a"))
    running = threading.Thread(target=first.execute_sync, args=(plan,))
    running.start()
    try:
        wait_for(lambda: recorder.calls.get("a") == 1, recorder.log)
        with pytest.raises(FlowError):
            second.execute_sync(plan)
    finally:
        gate.set()
        running.join(_WAIT)
    (adapter,) = second._adapters.values()

    assert adapter.plans == {}


# -- S14: bound methods as callbacks -------------------------------------------------------


class Screen:
    """Shows events; its ``show`` method is the callback (a new bound method per access)."""

    def __init__(self) -> None:
        self.shown: list[object] = []

    def show(self, data: StreamCallbackData) -> None:
        self.shown.append(data.content)


def test_a_bound_method_callback_can_be_removed(system: ActorSystem) -> None:
    flow = new_flow(system)
    screen = Screen()
    flow.add_stream_callback(screen.show)

    assert flow.remove_stream_callback(screen.show)
    assert flow.stream_callbacks.callbacks == []


def test_a_bound_method_added_twice_gets_each_event_once(system: ActorSystem) -> None:
    flow = new_flow(system)
    screen = Screen()
    first = flow.add_stream_callback(screen.show)
    second = flow.add_stream_callback(screen.show)
    tell(system, text(0), topic=flow.stream_topic)
    assert streams_of(system).barrier().wait(_WAIT)
    assert first.wait_caught_up(_WAIT)
    assert second.wait_caught_up(_WAIT)

    assert screen.shown == [0]


# -- S15: a streaming tool of a cancelled flow ---------------------------------------------


def test_the_generator_tool_of_a_cancelled_flow_is_closed(system: ActorSystem) -> None:
    pulled, closed, stop = threading.Event(), threading.Event(), threading.Event()

    def endless(label: str) -> Iterator[int]:
        try:
            n = 0
            while not stop.is_set():  # the test's own way out, so no thread outlives it
                pulled.set()
                yield n
                n += 1
        finally:
            closed.set()

    flow = new_flow(system)
    flow.register_tool("record", endless, replace=True)
    plan = plan_of(step("s"))
    events = flow.stream_execute_sync(plan)
    try:
        for item in events:
            if item.type is T.TOOL_STREAMING:
                break
        events.close()  # type: ignore[attr-defined]
        state = flow.get_state_sync(plan.id)
        was_closed = closed.wait(2.0)
    finally:
        stop.set()
        assert closed.wait(_WAIT)

    assert pulled.is_set()
    assert state is not None
    assert state.status is FlowStatus.CANCELLED
    assert was_closed


# -- S16: async subscribers behind at shutdown ---------------------------------------------


def test_shutdown_closes_an_async_subscriber_and_counts_what_it_had_queued() -> None:
    started = threading.Event()

    async def stuck(data: StreamCallbackData) -> None:
        started.set()
        await asyncio.Event().wait()

    with ActorSystem() as system:
        sub = subscribe(system, stuck)  # from sync code: a task on the effects loop
        tell(system, text(0))
        assert started.wait(_WAIT)
        tell(system, text(1), text(2), text(3))
        assert streams_of(system).barrier().wait(_WAIT)
        assert sub.statistics().pending == 3
    stats = sub.statistics()

    assert sub.is_closed
    # the event the stuck callback held (never delivered) and the three queued
    assert (stats.delivered, stats.pending, stats.discarded) == (0, 0, 4)


# -- S17: events in the hub's mailbox at shutdown ------------------------------------------


def test_shutdown_delivers_or_counts_the_events_told_before_it() -> None:
    """``with ActorSystem(): flow.execute_sync(...)`` loses the flow's FINISH now and then;
    holding the hub's loop while the system shuts down makes that deterministic."""
    got = Collector()
    system = ActorSystem()
    with system:
        sub = subscribe(system, got)
        actor = system.cell_at(child_path(SYSTEM_PATH, sub.name))
        assert actor is not None
        assert sub.wait_caught_up(_WAIT)
        hold = hold_loop(system)
        tell(system, text(0))
        stopping = threading.Thread(target=system.shutdown)
        stopping.start()
        try:
            assert actor.terminated.wait(_WAIT)
        finally:
            hold.set()
            stopping.join(2 * _WAIT)
    stats = sub.statistics()
    dead = sum(  # the hub stopped before it took them
        1
        for letter in system.dead_letters.recent()
        if letter.message is not None and isinstance(letter.message, StreamEvents)
    )

    assert len(got.items) + stats.dropped + stats.discarded + dead == 1


# -- S18: a callback whose result is never run ---------------------------------------------


def test_an_async_generator_function_is_refused_as_a_callback(system: ActorSystem) -> None:
    async def callback(data: StreamCallbackData) -> AsyncIterator[None]:
        yield None

    with pytest.raises(ConfigurationError, match="callback"):
        subscribe(system, callback)  # delivered=1, errors=0: counted as handled, never run
