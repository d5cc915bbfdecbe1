from __future__ import annotations

from typing import Literal

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeadLetterReason,
    DeliveryFailed,
    FakeClock,
    Message,
    RequestTimedOut,
    recipe,
)
from actorflow.ids import CorrelationId
from tests.support import Done, Log, Work


class Ask(Message):
    """Tell the requester to request Work from ``target``."""

    kind: Literal["test.ask"] = "test.ask"
    target: ActorPath
    timeout: float = 1.0


class Requester(Behaviour):
    """Requests Work of a target and logs what comes back, with correlation ids."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def on_ask(self, msg: Ask, ctx: Context) -> None:
        cid = ctx.request(msg.target, Work(n=1), timeout=msg.timeout)
        self.log.add(("sent", cid))

    def on_done(self, msg: Done, ctx: Context) -> None:
        assert ctx.envelope is not None
        self.log.add(("done", ctx.envelope.correlation_id))

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        self.log.add(("timed_out", msg.correlation_id, msg.request_kind))

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        self.log.add(("failed", msg.reason))


class Holder(Behaviour):
    """Keeps Work requests and answers them when told to."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.held: list[tuple[ActorPath, CorrelationId | None]] = []

    def on_work(self, msg: Work, ctx: Context) -> None:
        assert ctx.envelope is not None
        assert ctx.envelope.reply_to is not None
        self.held.append((ctx.envelope.reply_to, ctx.envelope.correlation_id))
        self.log.add("held")

    def on_done(self, msg: Done, ctx: Context) -> None:
        for reply_to, _cid in self.held:
            ctx.tell(reply_to, msg)  # deliberately loses the correlation id
        self.held.clear()

    def on_marker(self, msg: Message, ctx: Context) -> None:
        pass


class Answerer(Behaviour):
    def on_work(self, msg: Work, ctx: Context) -> None:
        ctx.reply(Done(n=msg.n))


def test_reply_to_a_request_arrives_with_its_correlation_id(system: ActorSystem) -> None:
    log = Log()
    requester = system.spawn(recipe(Requester, log), "requester")
    answerer = system.spawn(Answerer, "answerer")

    system.tell(requester, Ask(target=answerer))

    log.wait_until(lambda items: any(i[0] == "done" for i in items))  # type: ignore[index]
    (sent, done) = log.snapshot()
    assert sent == ("sent", done[1])  # type: ignore[index]
    assert done[1] == "/agents/requester#1"  # type: ignore[index]


def test_unanswered_request_times_out_by_the_clock_and_a_late_reply_is_a_dead_letter(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    log = Log()
    requester = fake_system.spawn(recipe(Requester, log), "requester")
    holder_log = Log()
    holder = fake_system.spawn(recipe(Holder, holder_log), "holder")

    fake_system.tell(requester, Ask(target=holder, timeout=2.0))
    holder_log.wait_for("held")
    clock.advance(1.999)
    assert not any(i[0] == "timed_out" for i in log.snapshot())  # type: ignore[index]
    clock.advance(0.001)
    log.wait_until(lambda items: any(i[0] == "timed_out" for i in items))  # type: ignore[index]

    # the holder now answers, correctly correlated, too late
    reply_to, cid = fake_system.cell_at(holder).behaviour.held[0]  # type: ignore[union-attr]
    fake_system.send(reply_to, Done(n=1), sender=holder, correlation_id=cid)

    assert fake_system.dead_letters.wait_for(1, timeout=5)
    (late,) = fake_system.dead_letters.recent()
    assert late.reason is DeadLetterReason.LATE_REPLY
    assert ("timed_out", "/agents/requester#1", "test.work") in log.snapshot()
    assert fake_system.actor_statistics(requester).late_replies == 1


def test_request_to_an_unknown_actor_gets_delivery_failed_at_once(
    fake_system: ActorSystem,
) -> None:
    log = Log()
    requester = fake_system.spawn(recipe(Requester, log), "requester")

    fake_system.tell(requester, Ask(target=ActorPath("/agents/ghost"), timeout=60))

    log.wait_for(("failed", DeadLetterReason.UNKNOWN_RECIPIENT))
