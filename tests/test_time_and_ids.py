from __future__ import annotations

import gc
import threading
import weakref
from datetime import timedelta

import pytest

from actorflow import ClockError, ConfigurationError, FakeClock, SystemClock
from actorflow.ids import SequentialIds, actor_path, child_path, parent_path


def test_fake_clock_fires_due_timers_in_deadline_order_each_at_its_own_time() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    for name, delay in (("c", 3.0), ("a", 1.0), ("b", 2.0), ("a2", 1.0)):
        clock.call_later(delay, lambda n=name: fired.append((n, clock.monotonic())))

    clock.advance(2.5)

    assert fired == [("a", 1.0), ("a2", 1.0), ("b", 2.0)]
    assert clock.monotonic() == 2.5


def test_timers_scheduled_by_callbacks_fire_in_the_same_advance_when_due() -> None:
    clock = FakeClock()
    fired: list[float] = []
    clock.call_later(1.0, lambda: clock.call_later(1.0, lambda: fired.append(clock.monotonic())))

    clock.advance(timedelta(seconds=2))

    assert fired == [2.0]


def test_a_cancelled_fake_timer_never_fires() -> None:
    clock = FakeClock()
    fired: list[int] = []
    handle = clock.call_later(1.0, lambda: fired.append(1))
    handle.cancel()

    clock.advance(5)

    assert fired == []
    assert clock.pending_timers() == 0


def test_a_fake_clock_refuses_to_go_backwards() -> None:
    with pytest.raises(ClockError, match=r"^FakeClock cannot go backwards"):
        FakeClock().advance(-1)


def test_the_system_clock_fires_timers_on_its_thread_and_stops_cleanly() -> None:
    clock = SystemClock()
    fired = threading.Event()
    cancelled = threading.Event()
    clock.call_later(0.0, fired.set)
    clock.call_later(0.01, cancelled.set).cancel()

    assert fired.wait(5)
    clock.close()

    assert not cancelled.is_set()
    assert not [t for t in threading.enumerate() if t.name == "actorflow-timers"]
    with pytest.raises(ClockError, match=r"closed"):
        clock.call_later(1, fired.set)


@pytest.mark.parametrize("path", ["/", "/agents", "/agents/a-1", "/flows/flow_1/step.2"])
def test_valid_actor_paths_are_accepted(path: str) -> None:
    assert actor_path(path) == path


@pytest.mark.parametrize("path", ["", "agents", "/agents/", "//x", "/a b", "/-x", "/ü"])
def test_invalid_actor_paths_are_refused(path: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^Actor path"):
        actor_path(path)


def test_child_and_parent_paths() -> None:
    assert child_path(actor_path("/"), "agents") == "/agents"
    assert child_path(actor_path("/agents"), "a") == "/agents/a"
    assert parent_path(actor_path("/agents/a")) == "/agents"
    assert parent_path(actor_path("/agents")) == "/"


def test_sequential_ids_count_up() -> None:
    ids = SequentialIds()

    assert [ids.new_id("m"), ids.new_id("t")] == ["m-1", "t-2"]


def test_a_cancelled_timer_lets_go_of_its_callback() -> None:
    """A cancelled timer waits in the heap until its deadline; what its callback refers to
    (a stopped actor, say) must not be kept alive that long."""

    class Target:
        def fire(self) -> None:
            raise AssertionError("a cancelled timer fired")

    clock = FakeClock()
    target = Target()
    alive = weakref.ref(target)
    handle = clock.call_later(3600.0, target.fire)

    handle.cancel()
    del target
    gc.collect()

    assert alive() is None
    clock.advance(3600.0)
