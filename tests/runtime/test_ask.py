from __future__ import annotations

import asyncio
import threading

import pytest

from actorflow import (
    ActorSystem,
    AskTimeoutError,
    Behaviour,
    BlockingCallError,
    Context,
    DeadLetterReason,
    DeliveryFailedError,
    InvalidMessageError,
    recipe,
)
from tests.support import Done, Log, Work, Worker


class Silent(Behaviour):
    """Handles Work without replying, until released."""

    def on_work(self, msg: Work, ctx: Context) -> None:
        pass


class Slow(Behaviour):
    """Replies to Work only after the test opens the gate."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate

    def on_work(self, msg: Work, ctx: Context) -> None:
        assert self.gate.wait(5), "the test never opened the gate"
        ctx.reply(Done(n=msg.n))


class AsksInsideHandler(Behaviour):
    """Does the forbidden thing: a blocking ask inside a handler."""

    def __init__(self, target: str, log: Log) -> None:
        self.target = target
        self.log = log

    def on_work(self, msg: Work, ctx: Context) -> None:
        try:
            ctx.system.ask(self.target, Work(n=1), timeout=30)
        except BlockingCallError as exc:
            self.log.add(str(exc))


def test_ask_returns_the_reply(system: ActorSystem) -> None:
    path = system.spawn(recipe(Worker, Log(), "w"), "w")

    reply = system.ask(path, Work(n=7), timeout=5)

    assert reply == Done(n=7, by=path)


def test_ask_times_out_with_a_typed_error_and_the_late_reply_is_a_dead_letter(
    system: ActorSystem,
) -> None:
    gate = threading.Event()
    path = system.spawn(recipe(Slow, gate), "slow")

    with pytest.raises(AskTimeoutError, match=r"^No reply from '/agents/slow' to 'test.work'"):
        system.ask(path, Work(n=1), timeout=0.05)
    gate.set()

    assert system.dead_letters.wait_for(1, timeout=5)
    (late,) = system.dead_letters.recent()
    assert late.reason is DeadLetterReason.LATE_REPLY
    assert late.message == Done(n=1)


def test_ask_of_an_unknown_actor_fails_at_once_with_delivery_failed(system: ActorSystem) -> None:
    with pytest.raises(DeliveryFailedError, match=r"unknown_recipient"):
        system.ask("/agents/nobody", Work(), timeout=30)


def test_ask_whose_handler_raises_fails_with_the_error(system: ActorSystem) -> None:
    path = system.spawn(recipe(Worker, Log(), "w"), "w")

    with pytest.raises(DeliveryFailedError, match=r"\(failed\): builtins.ValueError: work 0"):
        system.ask(path, Work(fail=True), timeout=30)


def test_sending_a_non_message_raises_and_is_a_dead_letter(system: ActorSystem) -> None:
    path = system.spawn(recipe(Worker, Log(), "w"), "w")

    with pytest.raises(InvalidMessageError, match=r"^Cannot send dict to '/agents/w'"):
        system.tell(path, {"n": 1})  # type: ignore[arg-type]

    assert system.dead_letters.counts() == {"invalid": 1}


def test_blocking_ask_inside_a_handler_raises_instead_of_hanging(system: ActorSystem) -> None:
    log = Log()
    other = system.spawn(Silent, "silent")
    path = system.spawn(recipe(AsksInsideHandler, other, log), "asker")

    system.tell(path, Work())

    log.wait_until(lambda items: len(items) == 1, timeout=5)
    assert str(log.items[0]).startswith("ActorSystem.ask() would block the thread of actor")


def test_pykka_future_get_inside_a_handler_raises(system: ActorSystem) -> None:
    from actorflow.runtime.cell import _GuardedFuture

    log = Log()

    class Getter(Behaviour):
        def on_work(self, msg: Work, ctx: Context) -> None:
            try:
                _GuardedFuture().get(timeout=30)
            except BlockingCallError:
                log.add("refused")

    system.tell(system.spawn(Getter, "getter"), Work())

    log.wait_for("refused")


async def _yield_to_the_loop() -> None:
    loop = asyncio.get_running_loop()
    step: asyncio.Future[None] = loop.create_future()
    loop.call_soon(step.set_result, None)
    await step


@pytest.mark.asyncio
async def test_async_ask_leaves_the_event_loop_free(system: ActorSystem) -> None:
    gate = threading.Event()
    path = system.spawn(recipe(Slow, gate), "slow")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks == 20:
                gate.set()  # only a free event loop gets here while the ask waits
            await _yield_to_the_loop()

    task = asyncio.create_task(ticker())
    reply = await system.ask_async(path, Work(n=3), timeout=5)
    task.cancel()

    assert reply == Done(n=3)
    assert ticks >= 20


@pytest.mark.asyncio
async def test_async_ask_times_out_with_a_typed_error(system: ActorSystem) -> None:
    path = system.spawn(Silent, "silent")

    with pytest.raises(AskTimeoutError):
        await system.ask_async(path, Work(), timeout=0.05)


@pytest.mark.asyncio
async def test_a_cancelled_async_ask_frees_its_reply_slot(system: ActorSystem) -> None:
    gate = threading.Event()
    path = system.spawn(recipe(Slow, gate), "slow")
    task = asyncio.create_task(system.ask_async(path, Work(n=1), timeout=30))
    await _yield_to_the_loop()
    await _yield_to_the_loop()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.set()

    assert system._slots == {}
    assert await asyncio.get_running_loop().run_in_executor(
        None, lambda: system.dead_letters.wait_for(1, timeout=5)
    )
    (late,) = system.dead_letters.recent()
    assert late.reason is DeadLetterReason.LATE_REPLY
