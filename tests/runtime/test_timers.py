from __future__ import annotations

from typing import Literal

from actorflow import ActorSystem, Behaviour, Context, FakeClock, Message, recipe
from actorflow.ids import TimerId
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
