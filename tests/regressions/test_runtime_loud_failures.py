"""Issue 10, item 3: failures are loud, and one failing agent does not stop the system.

By default the guardians restart a failing child with backoff (0, 0.5, 1, 2, 4 s) and,
on its 6th failure within a minute, stop it for good and report it; nothing escalates
to the root. What does stop the system is raised when leaving the ``with`` block, and
every later call says why it stopped.
"""

from __future__ import annotations

import pytest

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeadLetterReason,
    DeliveryFailedError,
    EscalationError,
    FakeClock,
    SupervisorStrategy,
    SystemStoppedError,
    recipe,
)
from actorflow.messages import ActorFailed, ActorRestarted, ActorStopped
from actorflow.runtime.supervision import GUARDIAN_STRATEGY, Backoff
from tests.support import Done, Log, Work, Worker


class RateLimited(Behaviour):
    """Fails every failing Work, as an agent does while its model's rate limit holds."""

    def on_work(self, msg: Work, ctx: Context) -> None:
        if msg.fail:
            raise ConnectionError("429 Too Many Requests")
        if ctx.envelope is not None and ctx.envelope.reply_to is not None:
            ctx.reply(Done(n=msg.n))


def events(system: ActorSystem) -> Log:
    log = Log()
    system.subscribe(log.add)
    return log


def restarted(log: Log, path: ActorPath, restarts: int) -> None:
    log.wait_for(ActorRestarted(path=path, restarts=restarts))


def test_the_default_backoff_waits_longer_before_each_restart_in_the_window(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    log = events(fake_system)
    path = fake_system.spawn(RateLimited, "agent")

    fake_system.tell(path, Work(fail=True))
    restarted(log, path, 1)  # the first restart is immediate
    for restarts, delay in ((2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0)):
        fake_system.tell(path, Work(fail=True))
        assert clock.wait_for_timers(1, timeout=5)
        clock.advance(delay * 0.99)
        assert clock.pending_timers() == 1  # not yet
        clock.advance(delay * 0.01)
        restarted(log, path, restarts)


def test_messages_sent_during_a_backoff_wait_for_the_restart(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    log = events(fake_system)
    path = fake_system.spawn(RateLimited, "agent")
    fake_system.tell(path, Work(fail=True))
    restarted(log, path, 1)
    fake_system.tell(path, Work(fail=True))
    assert clock.wait_for_timers(1, timeout=5)

    fake_system.tell(path, Work(n=42))  # queued while the agent waits to restart
    clock.advance(0.5)

    restarted(log, path, 2)
    assert fake_system.ask(path, Work(n=43)) == Done(n=43)
    assert fake_system.actor_statistics(path).processed == 2
    assert fake_system.dead_letters.counts() == {"failed": 2}


def test_an_agent_failing_past_the_limit_is_stopped_and_reported_while_the_system_runs_on(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    log = events(fake_system)
    path = fake_system.spawn(RateLimited, "agent")
    steady = fake_system.spawn(RateLimited, "steady")
    for restarts, delay in enumerate((0.0, 0.5, 1.0, 2.0, 4.0), start=1):
        fake_system.tell(path, Work(fail=True))
        if delay:
            assert clock.wait_for_timers(1, timeout=5)
            clock.advance(delay)
        restarted(log, path, restarts)

    fake_system.tell(path, Work(fail=True))  # the 6th failure within a minute

    log.wait_until(lambda es: any(isinstance(e, ActorStopped) and e.path == path for e in es))
    (stopped,) = (e for e in log.snapshot() if isinstance(e, ActorStopped) and e.path == path)
    assert stopped.reason == (
        "supervisor gave up after 5 restarts in 60 s; last error: "
        "builtins.ConnectionError: 429 Too Many Requests"
    )
    assert fake_system.is_running
    assert fake_system.ask(steady, Work(n=1)) == Done(n=1)
    assert not any(isinstance(e, ActorFailed) and e.path == "/agents" for e in log.snapshot())
    with pytest.raises(DeliveryFailedError, match=r"the actor there stopped \(supervisor gave up"):
        fake_system.ask(path, Work(n=2))
    assert fake_system.dead_letters.counts()[DeadLetterReason.UNKNOWN_RECIPIENT] == 1


def test_under_one_for_one_each_child_has_its_own_restart_limit(system: ActorSystem) -> None:
    """Six agents failing once each are six first restarts, not one agent's sixth."""
    log = events(system)
    paths = [system.spawn(RateLimited, f"agent{i}") for i in range(6)]

    for path in paths:
        system.tell(path, Work(fail=True))
    for path in paths:
        restarted(log, path, 1)

    for path in paths:
        assert system.ask(path, Work(n=1)) == Done(n=1)
    assert not any(isinstance(e, ActorStopped) for e in log.snapshot())


def test_a_user_strategy_with_on_limit_stop_gives_up_instead_of_escalating(
    system: ActorSystem,
) -> None:
    log = events(system)
    strategy = SupervisorStrategy(max_restarts=1, within=60.0, on_limit="stop")

    class Team(Behaviour):
        def on_start(self, ctx: Context) -> None:
            ctx.spawn(RateLimited, "member")

    team = system.spawn(Team, "team", strategy=strategy)
    member = ActorPath(f"{team}/member")
    log.wait_until(lambda es: any(getattr(e, "path", None) == member for e in es))

    system.tell(member, Work(fail=True))
    restarted(log, member, 1)
    system.tell(member, Work(fail=True))

    log.wait_until(lambda es: any(isinstance(e, ActorStopped) and e.path == member for e in es))
    assert team in system.paths()
    assert not any(isinstance(e, ActorFailed) and e.path == team for e in log.snapshot())


def test_the_guardian_strategy_is_the_documented_default() -> None:
    system = ActorSystem()

    assert system.guardian_strategy is GUARDIAN_STRATEGY
    assert GUARDIAN_STRATEGY.on_limit == "stop"
    assert GUARDIAN_STRATEGY.backoff == Backoff(initial=0.5, factor=2.0, maximum=30.0)
    assert (GUARDIAN_STRATEGY.max_restarts, GUARDIAN_STRATEGY.within) == (5, 60.0)
    assert [Backoff().delay(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert Backoff().delay(100) == 30.0
    system.shutdown()


class Broken(Behaviour):
    def on_start(self, ctx: Context) -> None:
        raise RuntimeError("cannot connect to the database")


def escalating_system() -> ActorSystem:
    return ActorSystem(guardian_strategy=SupervisorStrategy(max_restarts=0, within=60.0))


def test_leaving_the_with_block_raises_an_escalation_nobody_has_seen() -> None:
    log = Log()
    system = escalating_system()

    def block() -> None:
        with system:
            system.subscribe(log.add)
            system.spawn(Broken, "broken")
            log.wait_until(lambda es: ActorStopped(path=ActorPath("/"), reason="escalation") in es)

    with pytest.raises(EscalationError, match=r"cannot connect to the database"):
        block()

    assert system.pending_error is None


def test_an_escalation_raised_by_wait_terminated_is_not_raised_again_at_the_end() -> None:
    with escalating_system() as system:
        system.spawn(Broken, "broken")
        with pytest.raises(EscalationError):
            system.wait_terminated(timeout=5)

    assert isinstance(system.escalation, EscalationError)


def test_a_system_that_was_never_started_says_to_start_it() -> None:
    system = ActorSystem()

    with pytest.raises(SystemStoppedError, match=r"has not started\. Call start\(\)"):
        system.tell("/agents", Work())
    system.shutdown()


def test_a_system_that_was_shut_down_says_so_and_that_it_cannot_be_restarted() -> None:
    system = ActorSystem().start()
    system.shutdown()

    with pytest.raises(
        SystemStoppedError,
        match=r"is not running: it has stopped because it was shut down\. A system cannot be "
        r"restarted; create a new ActorSystem",
    ):
        system.spawn(recipe(Worker, Log()), "w")
    assert system.stop_error is None
