from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from actorflow import ActorSystem, Behaviour, Context, FakeClock, Message, recipe
from actorflow.clock import TimerHandle
from actorflow.ids import SequentialIds, TimerId
from tests.support import Log


class Remind(Message):
    kind: Literal["test.remind"] = "test.remind"
    text: str


class Plan(Message):
    kind: Literal["test.plan"] = "test.plan"
    delay: float
    text: str
    cancel: bool = False


class Scheduler(Behaviour):
    def __init__(self, log: Log) -> None:
        self.log = log
        self.timers: dict[str, TimerId] = {}

    def on_plan(self, msg: Plan, ctx: Context) -> None:
        if msg.cancel:
            self.log.add(("cancelled", ctx.cancel_timer(self.timers[msg.text])))
            return
        self.timers[msg.text] = ctx.schedule(msg.delay, Remind(text=msg.text))
        self.log.add(("planned", msg.text))

    def on_remind(self, msg: Remind, ctx: Context) -> None:
        self.log.add(("remind", msg.text))


def test_scheduled_messages_arrive_in_deadline_order_when_the_clock_passes_them(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    log = Log()
    path = fake_system.spawn(recipe(Scheduler, log), "s")
    for delay, text in ((3.0, "late"), (1.0, "early"), (2.0, "middle")):
        fake_system.tell(path, Plan(delay=delay, text=text))
    log.wait_until(lambda items: len(items) == 3)

    clock.advance(2.5)
    log.wait_until(lambda items: len(items) == 5)
    clock.advance(0.5)
    log.wait_until(lambda items: len(items) == 6)

    assert log.snapshot()[3:] == [("remind", "early"), ("remind", "middle"), ("remind", "late")]


def test_cancelled_timer_never_delivers(fake_system: ActorSystem, clock: FakeClock) -> None:
    log = Log()
    path = fake_system.spawn(recipe(Scheduler, log), "s")
    fake_system.tell(path, Plan(delay=1.0, text="x"))
    fake_system.tell(path, Plan(delay=0.0, text="x", cancel=True))
    log.wait_for(("cancelled", True))

    clock.advance(5.0)
    fake_system.tell(path, Plan(delay=0.0, text="x", cancel=True))

    log.wait_for(("cancelled", False))
    assert not any(i[0] == "remind" for i in log.snapshot())  # type: ignore[index]


class _RacingHandle(TimerHandle):
    """A timer whose cancel first lets every other pending timer fire, as the clock's
    thread may do between two cancels of a stopping actor."""

    __slots__ = ("clock",)

    def __init__(self, deadline: float, callback: Callable[[], None], clock: RacingClock) -> None:
        super().__init__(deadline, callback)
        self.clock = clock

    def cancel(self) -> None:
        for other in list(self.clock.handles):
            if other is not self and not other.is_cancelled:
                self.clock.handles.remove(other)
                other.callback()
        super().cancel()


class RacingClock:
    """A FakeClock (stopped time) whose timers are racing handles."""

    def __init__(self) -> None:
        self.fake = FakeClock()
        self.handles: list[_RacingHandle] = []

    def time(self) -> float:
        return self.fake.time()

    def monotonic(self) -> float:
        return self.fake.monotonic()

    def now(self) -> datetime:
        return self.fake.now()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = _RacingHandle(self.monotonic() + delay, callback, self)
        self.handles.append(handle)
        return handle

    def close(self) -> None:
        self.fake.close()


def test_timers_firing_while_their_actor_stops_do_not_crash_it() -> None:
    clock = RacingClock()
    log = Log()
    with ActorSystem(clock=clock, ids=SequentialIds()) as system:
        path = system.spawn(recipe(Scheduler, log), "s")
        for text in ("a", "b", "c"):
            system.tell(path, Plan(delay=1.0, text=text))
        log.wait_until(lambda items: len(items) == 3)

        system.stop(path, timeout=5.0)

        assert system.is_running, system.stop_reason
