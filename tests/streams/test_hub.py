"""The stream hub and its subscriptions: numbering, order, bounded queues, isolation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

import pytest

from actorflow import SYSTEM_PATH, ActorSystem, ConfigurationError
from actorflow.ids import child_path
from actorflow.streams import (
    STREAMS_PATH,
    StreamCallbackData,
    StreamCallbackType,
    StreamEvents,
    StreamOverflow,
    streams_of,
    subscribe,
)
from actorflow.streams._queue import EventQueue
from tests.support import Collector

W = StreamCallbackType.WORKFLOW


def events(flow_id: str | None, n: int, *, last: bool = True) -> tuple[StreamCallbackData, ...]:
    items = [
        StreamCallbackData(type=W, content=i, flow_id=flow_id, metadata={"event": "step_started"})
        for i in range(n)
    ]
    if last:
        final = {"event": "flow_completed"}
        items.append(StreamCallbackData(type=StreamCallbackType.FINISH, flow_id=flow_id,
                                        metadata=final))  # fmt: skip
    return tuple(items)


def send(system: ActorSystem, items: Iterable[StreamCallbackData], topic: str = "") -> None:
    streams_of(system)
    system.tell(STREAMS_PATH, StreamEvents(items=tuple(items), topic=topic))


def test_events_are_numbered_per_flow_in_order_and_stamped_with_the_sender(
    system: ActorSystem,
) -> None:
    got = Collector()
    subscribe(system, got)
    batch = [*events("a", 3, last=False), *events("b", 2, last=False), *events("a", 1)]
    send(system, batch)
    assert got.done.wait(5)
    assert [(i.flow_id, i.seq) for i in got.items] == [
        ("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("a", 4), ("a", 5),
    ]  # fmt: skip
    assert [i.content for i in got.items if i.flow_id == "a"] == [0, 1, 2, 0, None]


def test_a_flow_id_run_again_is_numbered_afresh(system: ActorSystem) -> None:
    got = Collector()
    subscribe(system, got)
    send(system, events("a", 1))
    assert got.done.wait(5)
    got.done.clear()
    send(system, events("a", 1))
    assert got.done.wait(5)
    assert [i.seq for i in got.items] == [1, 2, 1, 2]


def test_filters_by_flow_and_topic(system: ActorSystem) -> None:
    only_b, topic_x = Collector(), Collector()
    subscribe(system, only_b, flow_id="b")
    subscribe(system, topic_x, topic="x")
    send(system, events("a", 2), topic="x")
    send(system, events("b", 2), topic="y")
    assert only_b.done.wait(5)
    assert topic_x.done.wait(5)
    assert {i.flow_id for i in only_b.items} == {"b"}
    assert {i.flow_id for i in topic_x.items} == {"a"}


def test_ten_thousand_events_reach_a_subscriber_none_lost_in_order(system: ActorSystem) -> None:
    got = Collector()
    sub = subscribe(system, got)
    for start in range(0, 10_000, 500):
        send(system, events("big", 500, last=False)[:500])
        del start
    send(system, events("big", 0))
    assert got.done.wait(20)
    assert [i.seq for i in got.items] == list(range(1, 10_002))
    stats = sub.statistics()
    assert (stats.delivered, stats.dropped, stats.errors) == (10_001, 0, 0)


def test_a_slow_subscriber_falls_behind_alone(system: ActorSystem) -> None:
    gate = threading.Event()
    slow_started = threading.Event()

    def slow(_data: StreamCallbackData) -> None:
        slow_started.set()
        assert gate.wait(10)

    fast = Collector()
    slow_sub = subscribe(system, slow)
    subscribe(system, fast)
    send(system, events("f", 100))
    # The fast subscriber gets everything while the slow one holds its first event.
    assert fast.done.wait(5)
    assert slow_started.wait(5)
    assert slow_sub.statistics().delivered == 0
    assert len(fast.items) == 101
    gate.set()
    assert slow_sub.wait_idle(10)
    assert slow_sub.statistics().delivered == 101


def test_a_full_queue_drops_the_oldest_counts_exactly_and_keeps_the_last_event(
    system: ActorSystem,
) -> None:
    gate = threading.Event()
    first = threading.Event()
    got: list[StreamCallbackData] = []

    def blocked(data: StreamCallbackData) -> None:
        got.append(data)
        first.set()
        assert gate.wait(10)

    sub = subscribe(system, blocked, capacity=10)
    send(system, events("q", 1, last=False))
    assert first.wait(5)  # holding event 1; the queue is empty again
    send(system, events("q", 50))  # 51 events into a queue of 10
    assert streams_of(system).barrier().wait(5)  # the hub has offered all 51
    gate.set()
    assert sub.wait_idle(10)
    stats = sub.statistics()
    assert stats.dropped == 41
    assert stats.delivered == 11
    assert got[-1].is_last  # the last event survived
    assert [i.seq for i in got] == [1, *range(43, 53)]


def test_drop_new_keeps_the_oldest_but_never_the_last_event(system: ActorSystem) -> None:
    queue = EventQueue(3, StreamOverflow.DROP_NEW, lambda: None)
    queue.offer(events("d", 5))
    taken = queue.take()
    # 0, 1, 2 fit; 3 and 4 are dropped; the last event evicts the oldest (0).
    assert [i.content for i in taken[:2]] == [1, 2]
    assert taken[-1].is_last
    assert queue.dropped == 3


def test_a_raising_callback_is_isolated_logged_and_counted(system: ActorSystem) -> None:
    def broken(data: StreamCallbackData) -> None:
        raise ValueError(f"cannot take {data.seq}")

    hooked: list[tuple[int, str]] = []
    good = Collector()
    bad = subscribe(system, broken, on_error=lambda item, exc: hooked.append((item.seq, str(exc))))
    subscribe(system, good)
    send(system, events("r", 4))
    assert good.done.wait(5)
    assert bad.wait_idle(5)
    assert len(good.items) == 5
    assert bad.statistics().errors == 5
    assert hooked[0] == (1, "cannot take 1")


@pytest.mark.asyncio
async def test_an_async_callback_runs_on_the_callers_loop_in_order(system: ActorSystem) -> None:
    seen: list[int] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loops: set[object] = set()

    async def on_event(data: StreamCallbackData) -> None:
        loops.add(asyncio.get_running_loop())
        await asyncio.sleep(0)  # a real await between events
        seen.append(data.seq)
        if data.is_last:
            done.set()

    sub = subscribe(system, on_event)
    send(system, events("async", 20))
    await asyncio.wait_for(done.wait(), 5)
    assert seen == list(range(1, 22))
    assert loops == {loop}
    sub.close()


def test_an_async_callback_subscribed_from_sync_code_runs_on_the_effects_loop(
    system: ActorSystem,
) -> None:
    done = threading.Event()
    seen: list[int] = []

    async def on_event(data: StreamCallbackData) -> None:
        seen.append(data.seq)
        if data.is_last:
            done.set()

    subscribe(system, on_event)
    send(system, events("e", 3))
    assert done.wait(5)
    assert seen == [1, 2, 3, 4]


def test_a_closed_subscription_gets_nothing_more_and_its_actor_stops(system: ActorSystem) -> None:
    got = Collector()
    sub = subscribe(system, got)
    send(system, events("c", 1))
    assert got.done.wait(5)
    sub.close()
    assert sub.is_closed
    cell = system.cell_at(child_path(SYSTEM_PATH, sub.name))
    assert cell is None or cell.terminated.wait(5)
    got.done.clear()
    send(system, events("c", 1))
    other = Collector()
    subscribe(system, other)
    send(system, events("c2", 0))
    assert other.done.wait(5)
    assert len(got.items) == 2


def test_bad_subscriptions_are_refused_with_the_fix(system: ActorSystem) -> None:
    with pytest.raises(ConfigurationError, match="capacity"):
        subscribe(system, Collector(), capacity=0)
    with pytest.raises(ConfigurationError, match="drop_oldest"):
        subscribe(system, Collector(), overflow="block")
    with pytest.raises(ConfigurationError, match="callable"):
        subscribe(system, 42)  # type: ignore[arg-type]


def test_wait_caught_up_covers_events_still_in_the_hubs_mailbox(system: ActorSystem) -> None:
    got = Collector()
    sub = subscribe(system, got)
    send(system, events("w", 200))
    assert sub.wait_caught_up(10)
    assert len(got.items) == 201


def test_a_closed_subscriber_actor_is_not_restarted(system: ActorSystem) -> None:
    stopped = threading.Event()
    spawned_again: list[str] = []

    def watch(event: object) -> None:
        path = getattr(event, "path", "")
        if type(event).__name__ == "ActorStopped" and path.endswith(sub.name):
            stopped.set()
        if type(event).__name__ == "ActorSpawned" and stopped.is_set() and path.endswith(sub.name):
            spawned_again.append(path)

    sub = subscribe(system, Collector())
    system.subscribe(watch)  # type: ignore[arg-type]
    sub.close()
    assert stopped.wait(5)
    other = Collector()
    subscribe(system, other)
    send(system, events("after", 0))
    assert other.done.wait(5)  # the system went on; the closed one did not come back
    assert spawned_again == []


def test_an_inline_callback_runs_on_the_flows_loop_in_order(system: ActorSystem) -> None:
    threads: set[int] = set()
    got = Collector()

    def on_event(data: StreamCallbackData) -> None:
        threads.add(threading.get_ident())
        got(data)

    subscribe(system, on_event, inline=True)
    send(system, events("i", 20))
    assert got.done.wait(5)
    loop_thread: list[int] = []
    seen = threading.Event()
    loop = system.effects.loop
    assert loop is not None
    loop.call_soon_threadsafe(lambda: (loop_thread.append(threading.get_ident()), seen.set()))
    assert seen.wait(5)

    assert [i.seq for i in got.items] == list(range(1, 22))
    assert threads == set(loop_thread)
