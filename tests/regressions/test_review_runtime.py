"""Review 2 of the runtime: hostile exceptions, taps, blocking on the effects loop, asks
in flight at stop, spawning while stopping, deciders and API checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from loguru import logger

from actorflow import (
    ActorSystem,
    Behaviour,
    BlockingCallError,
    ConfigurationError,
    Context,
    SupervisorStrategy,
    SystemStoppedError,
    recipe,
)
from actorflow.messages import ActorFailed, ActorRestarted
from tests.support import Done, Log, Work

Dispatcher = Literal["thread", "loop"]
DISPATCHERS: list[Dispatcher] = ["thread", "loop"]


class NoStrError(Exception):
    def __str__(self) -> str:
        raise ValueError("no str for you")


class NoRepr:
    def __repr__(self) -> str:
        raise ValueError("no repr")

    def __str__(self) -> str:
        return "no repr"


class Raiser(Behaviour):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail:
            raise self.error
        ctx.reply(Done(n=msg.n))


@pytest.fixture
def caplog_errors() -> Iterator[list[str]]:
    """The messages logged at ERROR or above while the test runs."""
    lines: list[str] = []
    logger.enable("actorflow")
    handler = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{message}")
    yield lines
    logger.remove(handler)
    logger.disable("actorflow")


# -- 1. exceptions whose str/repr raise ------------------------------------------------


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_an_exception_whose_str_raises_is_an_ordinary_supervised_failure(
    dispatcher: Dispatcher,
) -> None:
    log = Log()
    with ActorSystem() as system:
        system.subscribe(log.add)
        path = system.spawn(recipe(Raiser, NoStrError()), "nasty", dispatcher=dispatcher)
        system.tell(path, Work(n=1, fail=True))
        log.wait_until(lambda es: any(isinstance(e, ActorRestarted) for e in es))
        assert system.is_running
        failed = [e for e in log.snapshot() if isinstance(e, ActorFailed)]
        assert failed[0].error.error_type.endswith("NoStrError")
        assert "NoStrError" in failed[0].error.message
        assert system.ask(path, Work(n=2), timeout=5) == Done(n=2)


@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_a_system_exit_whose_argument_has_a_raising_repr_is_still_an_exit_request(
    dispatcher: Dispatcher,
) -> None:
    error = SystemExit(NoRepr())
    system = ActorSystem().start()
    try:
        path = system.spawn(recipe(Raiser, error), "exiter", dispatcher=dispatcher)
        system.tell(path, Work(fail=True))
        with pytest.raises(SystemExit) as raised:
            system.wait_terminated(timeout=5)
        assert raised.value is error
        assert "raised SystemExit(" in system.stop_reason
        assert "crashed" not in system.stop_reason
    finally:
        system.shutdown()


# -- 2. delivery taps ------------------------------------------------------------------


def test_a_raising_tap_is_logged_once_and_shutdown_still_works(
    caplog_errors: list[str],
) -> None:
    calls: list[str] = []

    def tap(env: object) -> None:
        calls.append("tap")
        raise RuntimeError("tap bug")

    system = ActorSystem().start()
    try:
        system.add_tap(tap)
        path = system.spawn(recipe(Raiser, ValueError("unused")), "echo")
        assert system.ask(path, Work(n=1), timeout=5) == Done(n=1)
    finally:
        system.shutdown(timeout=5)
    assert not system.is_running
    assert system.paths() == ()
    assert len(calls) > 2
    assert sum("Delivery tap" in m for m in caplog_errors) == 1


@pytest.mark.parametrize("bad", [None, 3, "tap"])
def test_add_tap_refuses_a_non_callable(bad: object) -> None:
    with ActorSystem() as system, pytest.raises(ConfigurationError, match="add_tap"):
        system.add_tap(bad)  # type: ignore[arg-type]


# -- 3. blocking calls from the effects loop --------------------------------------------


class Blocker(Behaviour):
    """Runs an async effect that calls ``call(system)`` on the effects loop and records
    what it raised."""

    def __init__(
        self,
        call: Callable[[ActorSystem], object],
        seen: list[BaseException],
        done: threading.Event,
    ) -> None:
        self.call = call
        self.seen = seen
        self.done = done

    def on_work(self, msg: Work, ctx: Context) -> None:
        system = ctx.system

        async def effect() -> None:
            try:
                self.call(system)
            except BaseException as exc:  # noqa: BLE001 - recorded for the test
                self.seen.append(exc)
            finally:
                self.done.set()

        ctx.run_effect(effect, name="block")


BLOCKING_CALLS: dict[str, Callable[[ActorSystem], object]] = {
    "ask": lambda s: s.ask("/agents/echo", Work(n=1), timeout=5),
    "stop": lambda s: s.stop("/agents/echo", timeout=5),
    "shutdown": lambda s: s.shutdown(timeout=5),
    "wait_terminated": lambda s: s.wait_terminated(timeout=5),
}


@pytest.mark.parametrize("call", sorted(BLOCKING_CALLS))
def test_a_blocking_call_on_the_effects_loop_is_refused(call: str) -> None:
    seen: list[BaseException] = []
    done = threading.Event()
    with ActorSystem() as system:
        system.spawn(recipe(Raiser, ValueError("unused")), "echo", dispatcher="loop")
        path = system.spawn(recipe(Blocker, BLOCKING_CALLS[call], seen, done), "blocker")
        system.tell(path, Work())
        assert done.wait(10)
        assert len(seen) == 1
        assert isinstance(seen[0], BlockingCallError)
        assert "await system.ask_async(" in str(seen[0])
        assert system.is_running
        assert system.ask("/agents/echo", Work(n=2), timeout=5) == Done(n=2)


# -- 4. asks in flight when the system stops ------------------------------------------


class Sink(Behaviour):
    """Takes Work and never replies; an exit request on ``fail``."""

    def __init__(self, got: threading.Event) -> None:
        self.got = got

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail:
            raise SystemExit(7)
        self.got.set()


def ask_in_background(
    system: ActorSystem, path: str, *, use_async: bool
) -> tuple[threading.Event, list[BaseException]]:
    done = threading.Event()
    seen: list[BaseException] = []

    def asker() -> None:
        try:
            if use_async:
                asyncio.run(system.ask_async(path, Work(), timeout=600))
            else:
                system.ask(path, Work(), timeout=600)
        except BaseException as exc:  # noqa: BLE001 - recorded for the test
            seen.append(exc)
        finally:
            done.set()

    threading.Thread(target=asker, daemon=True).start()
    return done, seen


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("dispatcher", DISPATCHERS)
def test_an_ask_in_flight_at_shutdown_fails_at_once(
    dispatcher: Dispatcher, use_async: bool
) -> None:
    got = threading.Event()
    system = ActorSystem().start()
    try:
        path = system.spawn(recipe(Sink, got), "sink", dispatcher=dispatcher)
        done, seen = ask_in_background(system, path, use_async=use_async)
        assert got.wait(10)
    finally:
        system.shutdown(timeout=5)
    assert done.wait(30), "the ask waited out its 600 s timeout"
    assert len(seen) == 1
    assert isinstance(seen[0], SystemStoppedError)
    assert "it was shut down" in str(seen[0])


def test_an_ask_in_flight_when_an_exit_request_stops_the_system_fails_at_once() -> None:
    got = threading.Event()
    system = ActorSystem().start()
    try:
        path = system.spawn(recipe(Sink, got), "sink")
        other = system.spawn(recipe(Sink, threading.Event()), "exiter")
        done, seen = ask_in_background(system, path, use_async=False)
        assert got.wait(10)
        system.tell(other, Work(fail=True))
        assert done.wait(30), "the ask waited out its 600 s timeout"
        assert isinstance(seen[0], SystemStoppedError)
        assert "SystemExit(7)" in str(seen[0])
        with pytest.raises(SystemExit):
            system.wait_terminated(timeout=5)
    finally:
        system.shutdown(timeout=5)


# -- 5. spawning while stopping ----------------------------------------------------------


class SpawnsOnStop(Behaviour):
    """Spawns a child in on_stop and records what that raised; fails on ``fail``."""

    def __init__(self, seen: list[BaseException], stopped: threading.Event) -> None:
        self.seen = seen
        self.stopped = stopped

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail:
            raise ValueError("restart me")
        ctx.reply(Done(n=msg.n))

    def on_stop(self, ctx: Context) -> None:
        try:
            ctx.spawn(recipe(Raiser, ValueError("unused")), "late-kid")
        except BaseException as exc:  # noqa: BLE001 - recorded for the test
            self.seen.append(exc)
        finally:
            self.stopped.set()


def test_spawning_a_child_in_on_stop_is_refused_and_nothing_is_orphaned() -> None:
    seen: list[BaseException] = []
    stopped = threading.Event()
    with ActorSystem() as system:
        path = system.spawn(recipe(SpawnsOnStop, seen, stopped), "p")
        system.stop(path, timeout=5)
        assert stopped.is_set()
        assert len(seen) == 1
        assert isinstance(seen[0], ConfigurationError)
        assert "'/agents/p' is in on_stop" in str(seen[0])
        assert "orphaned" in str(seen[0])
        assert not [p for p in system.paths() if p.startswith(path)]


def test_spawning_a_child_in_on_stop_during_a_restart_is_refused_too() -> None:
    seen: list[BaseException] = []
    stopped = threading.Event()
    log = Log()
    with ActorSystem() as system:
        system.subscribe(log.add)
        path = system.spawn(recipe(SpawnsOnStop, seen, stopped), "p")
        system.tell(path, Work(fail=True))
        log.wait_until(lambda es: any(isinstance(e, ActorRestarted) for e in es))
        assert stopped.wait(5)
        assert isinstance(seen[0], ConfigurationError)
        assert system.ask(path, Work(n=3), timeout=5) == Done(n=3)
        assert f"{path}/late-kid" not in system.paths()


# -- 6. a decider returning something else than a Directive -----------------------------


class Parent(Behaviour):
    def on_start(self, ctx: Context) -> None:
        ctx.spawn(recipe(Raiser, ValueError("kid failed")), "kid")


@pytest.mark.parametrize("returned", [None, "restart"])
def test_a_decider_returning_a_non_directive_escalates_loudly(
    returned: object, caplog_errors: list[str]
) -> None:
    log = Log()
    with ActorSystem() as system:
        system.subscribe(log.add)
        strategy = SupervisorStrategy(decider=lambda _failure: returned)  # type: ignore[arg-type,return-value]
        sup = system.spawn(Parent, "sup", strategy=strategy)
        log.wait_until(lambda es: any(getattr(e, "path", None) == f"{sup}/kid" for e in es))
        system.tell(f"{sup}/kid", Work(fail=True))

        def escalated(events: list[object]) -> bool:
            return any(
                isinstance(e, ActorFailed)
                and e.path == sup
                and any("not a Directive" in hop for hop in e.error.escalated_by)
                for e in events
            )

        log.wait_until(escalated)
        assert system.is_running
    assert any(m.startswith(f"Decider of {sup} returned {returned!r} (") for m in caplog_errors)


# -- 7. API checks -----------------------------------------------------------------------


@pytest.mark.parametrize("call", ["stop_nowait", "actor_statistics"])
@pytest.mark.parametrize("bad", [5, [], None])
def test_a_path_that_is_not_a_str_is_a_configuration_error(call: str, bad: object) -> None:
    expected = rf"{call}\(\) needs the recipient's path"
    with ActorSystem() as system, pytest.raises(ConfigurationError, match=expected):
        getattr(system, call)(bad)


@pytest.mark.parametrize("call", ["stop_nowait", "actor_statistics"])
def test_a_relative_path_is_a_configuration_error_suggesting_the_live_path(call: str) -> None:
    with ActorSystem() as system:
        path = system.spawn(recipe(Raiser, ValueError("unused")), "echo")
        with pytest.raises(ConfigurationError, match="did you mean '/agents/echo'"):
            getattr(system, call)("echo")
        assert system.ask(path, Work(n=4), timeout=5) == Done(n=4)
