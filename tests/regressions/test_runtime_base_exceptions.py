"""Issue 10, item 2: a BaseException from a handler never kills an actor silently.

``KeyboardInterrupt`` and ``SystemExit`` (exit requests) stop the whole system loudly:
the message becomes a ``failed`` dead letter, the system stops, and the exit request is
raised where the user waits (``wait_terminated``, leaving the ``with`` block). Any other
``BaseException`` is a failure like an exception: the supervisor restarts the actor.
Both hold on both dispatchers and keep sent = processed + dead-lettered + queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

import pytest

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeadLetterReason,
    DeliveryFailedError,
    Directive,
    SupervisorStrategy,
    SystemStoppedError,
    decide_by_type,
    recipe,
)
from actorflow.messages import (
    ActorFailed,
    ActorRestarted,
    ActorSpawned,
    ActorStopped,
    SystemEscalated,
)
from tests.support import Done, Log, Marker, Work

Dispatcher = Literal["thread", "loop"]
DISPATCHERS: list[Dispatcher] = ["thread", "loop"]


class Halt(BaseException):
    """A custom BaseException, as some libraries use to get past ``except Exception``."""


class Raiser(Behaviour):
    """Raises ``error`` on a failing Work, answers the others."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail:
            raise self.error
        ctx.reply(Done(n=msg.n))

    def on_marker(self, msg: Marker, ctx: Context) -> None:
        ctx.reply(msg)


def root_stopped(log: Log) -> None:
    log.wait_until(lambda es: ActorStopped(path=ActorPath("/"), reason="exit request") in es)


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
@pytest.mark.parametrize("make_error", [lambda: SystemExit(3), KeyboardInterrupt])
def test_an_exit_request_in_a_handler_stops_the_system_and_wait_terminated_raises_it(
    dispatcher: Dispatcher, make_error: Callable[[], BaseException]
) -> None:
    error = make_error()
    system = ActorSystem().start()
    try:
        path = system.spawn(recipe(Raiser, error), "raiser", dispatcher=dispatcher)

        system.tell(path, Work(n=1, fail=True))

        with pytest.raises(type(error)) as raised:
            system.wait_terminated(timeout=5)
        assert raised.value is error
        assert error.__notes__ == [
            f"Raised by actor '/agents/raiser' in its handler of 'test.work'; actor system "
            f"{system.run_id!r} stopped."
        ]
        assert not system.is_running
        with pytest.raises(SystemStoppedError, match=r"because actor '/agents/raiser' raised"):
            system.tell(path, Work())
        assert [(d.reason, d.message) for d in system.dead_letters.recent()] == [
            (DeadLetterReason.FAILED, Work(n=1, fail=True))
        ]
    finally:
        system.shutdown()


def exit_request_in_a_with_block(log: Log, dispatcher: Dispatcher, code: int) -> None:
    with ActorSystem() as system:
        system.subscribe(log.add)
        path = system.spawn(recipe(Raiser, SystemExit(code)), "raiser", dispatcher=dispatcher)
        system.tell(path, Work(fail=True))
        root_stopped(log)


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_leaving_the_with_block_raises_an_exit_request_nobody_has_seen(
    dispatcher: Dispatcher,
) -> None:
    log = Log()

    with pytest.raises(SystemExit) as raised:
        exit_request_in_a_with_block(log, dispatcher, 4)

    assert raised.value.code == 4
    assert any(isinstance(e, SystemEscalated) for e in log.snapshot())


def test_an_exit_request_already_raised_by_wait_terminated_is_not_raised_again() -> None:
    with ActorSystem() as system:
        system.tell(system.spawn(recipe(Raiser, SystemExit(5)), "raiser"), Work(fail=True))
        with pytest.raises(SystemExit):
            system.wait_terminated(timeout=5)

    assert system.pending_error is None
    assert isinstance(system.stop_error, SystemExit)


def test_an_error_in_the_with_block_is_not_hidden_by_a_pending_exit_request() -> None:
    log = Log()

    def block() -> None:
        with ActorSystem() as system:
            system.subscribe(log.add)
            system.tell(system.spawn(recipe(Raiser, SystemExit(6)), "raiser"), Work(fail=True))
            root_stopped(log)
            raise LookupError("the block's own error")

    with pytest.raises(LookupError) as raised:
        block()

    notes = "".join(raised.value.__notes__)
    assert "stopped: actor '/agents/raiser' raised SystemExit(6)" in notes


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_an_ask_that_meets_an_exit_request_fails_at_once_instead_of_timing_out(
    dispatcher: Dispatcher,
) -> None:
    system = ActorSystem().start()
    try:
        path = system.spawn(recipe(Raiser, SystemExit(1)), "raiser", dispatcher=dispatcher)

        with pytest.raises(DeliveryFailedError, match=r"\(failed\): builtins.SystemExit: 1"):
            system.ask(path, Work(fail=True), timeout=30)
    finally:
        with pytest.raises(SystemExit):
            system.wait_terminated(timeout=5)
        system.shutdown()


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_a_custom_base_exception_is_supervised_like_an_exception(
    system: ActorSystem, dispatcher: Dispatcher
) -> None:
    log = Log()
    system.subscribe(log.add)
    path = system.spawn(recipe(Raiser, Halt("stop here")), "raiser", dispatcher=dispatcher)

    system.tell(path, Work(n=1, fail=True))

    assert system.ask(path, Work(n=2)) == Done(n=2)
    assert system.is_running
    assert ActorRestarted(path=path, restarts=1) in log.snapshot()
    failure = next(e for e in log.snapshot() if isinstance(e, ActorFailed))
    assert failure.error.error_type == f"{__name__}.Halt"
    (letter,) = system.dead_letters.recent()
    assert letter.detail == f"{__name__}.Halt: stop here"


def test_decide_by_type_can_match_a_custom_base_exception(system: ActorSystem) -> None:
    log = Log()
    system.subscribe(log.add)
    strategy = SupervisorStrategy(decider=decide_by_type({Halt: Directive.STOP}))

    class Team(Behaviour):
        def on_start(self, ctx: Context) -> None:
            ctx.spawn(recipe(Raiser, Halt()), "raiser")

    team = system.spawn(Team, "team", strategy=strategy)
    raiser = ActorPath(f"{team}/raiser")
    log.wait_until(lambda es: any(getattr(e, "path", None) == raiser for e in es))

    system.tell(raiser, Work(fail=True))

    log.wait_until(lambda es: ActorStopped(path=raiser, reason="supervisor") in es)


def test_a_loop_actor_failing_with_a_base_exception_does_not_stop_the_shared_loop(
    system: ActorSystem,
) -> None:
    failing = system.spawn(recipe(Raiser, Halt()), "failing", dispatcher="loop")
    other = system.spawn(recipe(Raiser, Halt()), "other", dispatcher="loop")

    system.tell(failing, Work(fail=True))

    assert system.ask(other, Work(n=7)) == Done(n=7)
    assert system.ask(failing, Work(n=8)) == Done(n=8)


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_an_exit_request_keeps_every_message_accounted_for(dispatcher: Dispatcher) -> None:
    """sent = processed + dead-lettered + queued, with messages queued behind the exit."""
    gate = threading.Event()

    class Gated(Behaviour):
        def on_marker(self, msg: Marker, ctx: Context) -> None:
            assert gate.wait(10), "the test never opened the gate"

        def on_work(self, msg: Work, ctx: Context) -> None:
            if msg.fail:
                raise SystemExit(2)

    system = ActorSystem().start()
    path = system.spawn(Gated, "gated", dispatcher=dispatcher)
    cell = system.cell_at(path)
    assert cell is not None
    system.tell(path, Marker())  # holds the actor while the rest queues up
    sent = 1
    for n in range(50):
        system.tell(path, Work(n=n, fail=n == 10))
        sent += 1
    gate.set()

    with pytest.raises(SystemExit):
        system.wait_terminated(timeout=10)
    system.shutdown()

    dead = system.dead_letters.counts()
    assert dead == {"failed": 1, "stopped": sent - cell.processed - 1}
    assert sent == cell.processed + system.dead_letters.count_for(path) + len(cell.mailbox)
    assert cell.processed == 11  # the marker and works 0..9


def test_an_exit_request_in_on_start_stops_the_system() -> None:
    class NoStart(Behaviour):
        def on_start(self, ctx: Context) -> None:
            raise SystemExit("cannot start")

    system = ActorSystem().start()
    try:
        system.spawn(NoStart, "nostart")

        with pytest.raises(SystemExit, match="cannot start"):
            system.wait_terminated(timeout=5)
        with pytest.raises(
            SystemStoppedError, match=r"raised SystemExit\('cannot start'\) in on_start"
        ):
            system.spawn(NoStart, "again")
    finally:
        system.shutdown()


def test_an_exit_request_from_a_listener_on_an_actor_thread_stops_the_system() -> None:
    def listener(event: object) -> None:
        if isinstance(event, ActorFailed):
            raise SystemExit(9)

    system = ActorSystem().start()
    try:
        system.subscribe(listener)
        system.tell(system.spawn(recipe(Raiser, ValueError("x")), "raiser"), Work(fail=True))

        with pytest.raises(SystemExit):
            system.wait_terminated(timeout=5)
        assert (
            system.stop_reason
            == "SystemExit(9) was raised in a listener of 'lifecycle.failed' events"
        )
    finally:
        system.shutdown()


def test_ctrl_c_in_a_listener_on_the_callers_thread_reaches_the_caller_at_once(
    system: ActorSystem,
) -> None:
    def listener(event: object) -> None:
        if isinstance(event, ActorSpawned):
            raise KeyboardInterrupt

    unsubscribe = system.subscribe(listener)

    with pytest.raises(KeyboardInterrupt):
        system.spawn(recipe(Raiser, ValueError("x")), "raiser")

    unsubscribe()
    assert system.is_running
    assert system.ask("/agents/raiser", Work(n=1)) == Done(n=1)  # it was started all the same
