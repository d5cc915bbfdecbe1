"""Issue 10, item 6: mistakes at the API boundary are typed errors naming the argument and
the fix, raised before anything is sent or spawned."""

from __future__ import annotations

import asyncio
import math

import pytest

from actorflow import (
    ActorSystem,
    Behaviour,
    BlockingCallError,
    ConfigurationError,
    Context,
    InvalidMessageError,
    recipe,
)
from tests.support import Done, Log, Work


class Echo(Behaviour):
    def on_work(self, msg: Work, ctx: Context) -> None:
        ctx.reply(Done(n=msg.n))


class Needs(Behaviour):
    """A behaviour whose constructor takes exactly one argument."""

    def __init__(self, log: Log) -> None:
        self.log = log


def test_spawn_with_a_name_that_is_not_a_string_names_the_argument(system: ActorSystem) -> None:
    with pytest.raises(
        ConfigurationError, match=r"^spawn\(\) name must be a str .* got 123 \(int\)"
    ):
        system.spawn(Echo, 123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "dispatcher",
            "process",
            r"^spawn\(\) dispatcher must be 'thread' or 'loop', got 'process'",
        ),
        ("restart", "sometimes", r"^spawn\(\) restart must be one of .*, got 'sometimes'"),
        ("strategy", "one_for_one", r"^spawn\(\) strategy must be a SupervisorStrategy"),
        ("mailbox", 10, r"^spawn\(\) mailbox must be a MailboxConfig"),
    ],
)
def test_spawn_options_of_the_wrong_kind_are_refused_before_spawning(
    system: ActorSystem, option: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        system.spawn(Echo, "echo", **{option: value})  # type: ignore[arg-type]

    assert "/agents/echo" not in system.paths()


def test_a_recipe_whose_arguments_do_not_fit_the_constructor_fails_at_spawn(
    system: ActorSystem,
) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^Cannot spawn '/agents/needs': recipe\(Needs, \.\.\.\) does not fit",
    ):
        system.spawn(recipe(Needs, Log(), 2), "needs")

    assert "/agents/needs" not in system.paths()
    assert system.statistics().failed == 0


def test_a_behaviour_class_that_needs_arguments_fails_at_spawn(system: ActorSystem) -> None:
    with pytest.raises(ConfigurationError, match=r"missing a required argument: 'log'"):
        system.spawn(Needs, "needs")


def test_tell_to_a_path_that_is_not_a_string_names_the_argument(system: ActorSystem) -> None:
    with pytest.raises(ConfigurationError, match=r"^tell\(\) needs the recipient's path as a str"):
        system.tell(123, Work())  # type: ignore[arg-type]

    assert system.dead_letters.total == 0


@pytest.mark.parametrize("relative", ["echo", "agents/echo"])
def test_tell_to_a_relative_path_suggests_the_absolute_one(
    system: ActorSystem, relative: str
) -> None:
    system.spawn(Echo, "echo")

    with pytest.raises(ConfigurationError, match=r"did you mean '/agents/echo'\?"):
        system.tell(relative, Work())

    assert system.dead_letters.total == 0


def test_ask_to_a_relative_path_with_no_live_match_says_paths_are_absolute(
    system: ActorSystem,
) -> None:
    with pytest.raises(ConfigurationError, match=r"^ask\(\) got the relative path 'nobody'"):
        system.ask("nobody", Work())


@pytest.mark.parametrize("timeout", ["1", -1, 0, math.inf, math.nan, True, None])
def test_ask_with_a_bad_timeout_fails_before_sending(system: ActorSystem, timeout: object) -> None:
    log = Log()
    system.subscribe(log.add)
    path = system.spawn(Echo, "echo")
    sent = system.statistics()

    with pytest.raises(ConfigurationError, match=r"^ask\(\) timeout must be a positive, finite"):
        system.ask(path, Work(), timeout=timeout)  # type: ignore[arg-type]

    assert system.statistics().processed == sent.processed
    assert system.dead_letters.total == 0


@pytest.mark.parametrize("timeout", ["1", -1, math.inf, math.nan])
def test_ask_async_with_a_bad_timeout_fails_before_sending(
    system: ActorSystem, timeout: object
) -> None:
    path = system.spawn(Echo, "echo")

    with pytest.raises(ConfigurationError, match=r"^ask_async\(\) timeout must be a positive"):
        asyncio.run(system.ask_async(path, Work(), timeout=timeout))  # type: ignore[arg-type]

    assert system.dead_letters.total == 0


def test_ask_with_a_message_that_is_not_a_message_is_an_invalid_message_error(
    system: ActorSystem,
) -> None:
    with pytest.raises(InvalidMessageError, match=r"only actorflow Message instances"):
        system.ask(system.spawn(Echo, "echo"), "hello")  # type: ignore[arg-type]


def test_ask_async_inside_a_handler_is_refused_like_ask(system: ActorSystem) -> None:
    log = Log()

    class Asker(Behaviour):
        def on_work(self, msg: Work, ctx: Context) -> None:
            try:
                asyncio.run(ctx.system.ask_async("/agents/echo", Work(), timeout=30))
            except BlockingCallError as exc:
                log.add(str(exc))

    system.spawn(Echo, "echo")
    system.tell(system.spawn(Asker, "asker"), Work())

    log.wait_until(lambda items: len(items) == 1)
    assert str(log.snapshot()[0]).startswith("ActorSystem.ask_async() would block the thread")


@pytest.mark.parametrize("timeout", ["2", -1, math.nan])
def test_stop_and_shutdown_check_their_timeouts(system: ActorSystem, timeout: object) -> None:
    path = system.spawn(Echo, "echo")

    with pytest.raises(ConfigurationError, match=r"^stop\(\) timeout must be"):
        system.stop(path, timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^shutdown\(\) timeout must be"):
        system.shutdown(timeout=timeout)  # type: ignore[arg-type]

    assert system.is_running


def test_a_handler_telling_a_relative_path_gets_a_dead_letter_with_the_suggestion(
    system: ActorSystem,
) -> None:
    class Teller(Behaviour):
        def on_work(self, msg: Work, ctx: Context) -> None:
            ctx.tell("echo", Work())  # type: ignore[arg-type]

    system.spawn(Echo, "echo")
    system.tell(system.spawn(Teller, "teller"), Work())

    assert system.dead_letters.wait_for(1, timeout=5)
    (letter,) = system.dead_letters.recent()
    assert letter.detail.endswith("did you mean '/agents/echo'?")
