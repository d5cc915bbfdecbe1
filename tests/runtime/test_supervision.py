from __future__ import annotations

from collections.abc import Callable

import pytest

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeadLetterReason,
    Directive,
    EscalationError,
    FakeClock,
    RestartType,
    SupervisorStrategy,
    SystemStoppedError,
    always,
    decide_by_type,
    recipe,
)
from actorflow.messages import ActorFailed, ActorRestarted, ActorStopped
from tests.support import Log, Marker, Work, Worker


class Team(Behaviour):
    """Spawns one Worker per name, in order, in on_start."""

    def __init__(self, log: Log, names: tuple[str, ...], restart: RestartType) -> None:
        self.log = log
        self.names = names
        self.restart = restart

    def on_start(self, ctx: Context) -> None:
        for name in self.names:
            ctx.spawn(recipe(Worker, self.log, name), name, restart=self.restart)

    def on_stop(self, ctx: Context) -> None:
        self.log.add(("stop", "team"))


class Broken(Behaviour):
    """Fails in on_start, every time."""

    def on_start(self, ctx: Context) -> None:
        raise RuntimeError("cannot connect to the database")


def spawn_team(
    system: ActorSystem,
    log: Log,
    strategy: SupervisorStrategy,
    names: tuple[str, ...] = ("a", "b", "c"),
    restart: RestartType = RestartType.PERMANENT,
) -> ActorPath:
    path = system.spawn(recipe(Team, log, names, restart), "team", strategy=strategy)
    for name in names:
        log.wait_for(("start", name))
    return path


def events(system: ActorSystem) -> Log:
    log = Log()
    system.subscribe(log.add)
    return log


def test_failure_on_message_ten_of_a_thousand_loses_no_other_message(system: ActorSystem) -> None:
    log = Log()
    path = system.spawn(recipe(Worker, log, "w", frozenset({10})), "w")

    for n in range(1, 1001):
        system.tell(path, Work(n=n))
    system.tell(path, Marker(label="end"))
    log.wait_until(lambda items: any(i[0] == "marker" for i in items if isinstance(i, tuple)))

    handled = [i[1] for i in log.snapshot() if isinstance(i, tuple) and i[0] == "w"]
    assert handled == [n for n in range(1, 1001) if n != 10]
    dead = system.dead_letters.recent()
    assert [(d.reason, d.message) for d in dead] == [(DeadLetterReason.FAILED, Work(n=10))]
    assert dead[0].detail == "builtins.ValueError: work 10 failed"
    assert system.actor_statistics(path).restarts == 1
    assert system.actor_statistics(path).processed == 1000  # 999 works + the marker


def test_crash_loop_escalates_exactly_after_max_restarts_within_the_window(
    fake_system: ActorSystem,
) -> None:
    seen = events(fake_system)
    log = Log()
    strategy = SupervisorStrategy(max_restarts=3, within=10.0)
    team = spawn_team(fake_system, log, strategy, names=("flaky",))
    flaky = ActorPath(f"{team}/flaky")

    for restarts in (1, 2, 3):
        fake_system.tell(flaky, Work(fail=True))
        seen.wait_for(ActorRestarted(path=flaky, restarts=restarts))
    assert not any(isinstance(e, ActorFailed) and e.path == team for e in seen.snapshot())
    fake_system.tell(flaky, Work(fail=True))

    seen.wait_until(lambda es: any(isinstance(e, ActorFailed) and e.path == team for e in es))
    team_failure = next(e for e in seen.snapshot() if isinstance(e, ActorFailed) and e.path == team)
    assert team_failure.error.error_type == "actorflow.errors.EscalationError"
    assert team_failure.error.message == f"{flaky} failed with builtins.ValueError: work 0 failed"
    assert team_failure.error.escalated_by == (f"{team} (limit of 3 restarts in 10 s)",)
    flaky_restarts = [
        e for e in seen.snapshot() if isinstance(e, ActorRestarted) and e.path == flaky
    ]
    assert len(flaky_restarts) == 3


def test_crashes_spaced_wider_than_the_window_never_escalate(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    seen = events(fake_system)
    log = Log()
    team = spawn_team(fake_system, log, SupervisorStrategy(max_restarts=2, within=10.0), ("f",))
    flaky = ActorPath(f"{team}/f")

    for restarts in range(1, 11):
        fake_system.tell(flaky, Work(fail=True))
        seen.wait_for(ActorRestarted(path=flaky, restarts=restarts))
        clock.advance(10.0)

    assert not any(isinstance(e, ActorFailed) and e.path == team for e in seen.snapshot())
    assert fake_system.actor_statistics(flaky).restarts == 10


def _has_marker(label: str) -> Callable[[list[object]], bool]:
    def check(items: list[object]) -> bool:
        return any(isinstance(i, tuple) and i[:2] == ("marker", label) for i in items)

    return check


def _after_failure_of_b(
    system: ActorSystem, strategy: SupervisorStrategy, last_started: str
) -> list[object]:
    log = Log()
    team = spawn_team(system, log, strategy)
    mark = len(log.snapshot())

    system.tell(ActorPath(f"{team}/b"), Work(fail=True))

    log.wait_until(lambda items: ("start", last_started) in items[mark:])
    for name in ("a", "b", "c"):  # every child answers again after the restart
        system.tell(ActorPath(f"{team}/{name}"), Marker(label=name))
        log.wait_until(_has_marker(name))
    return [i for i in log.snapshot()[mark:] if isinstance(i, tuple) and i[0] in ("start", "stop")]


def test_one_for_one_restarts_only_the_failed_child(system: ActorSystem) -> None:
    lifecycle = _after_failure_of_b(system, SupervisorStrategy("one_for_one"), "b")

    assert lifecycle == [("stop", "b"), ("start", "b")]


def test_one_for_all_stops_all_children_in_reverse_then_starts_them_in_order(
    system: ActorSystem,
) -> None:
    lifecycle = _after_failure_of_b(system, SupervisorStrategy("one_for_all"), "c")

    assert lifecycle == [
        ("stop", "c"),
        ("stop", "b"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]


def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it(
    system: ActorSystem,
) -> None:
    lifecycle = _after_failure_of_b(system, SupervisorStrategy("rest_for_one"), "c")

    assert lifecycle == [("stop", "c"), ("stop", "b"), ("start", "b"), ("start", "c")]


def test_resume_keeps_the_behaviour_and_its_state(system: ActorSystem) -> None:
    log = Log()
    team = spawn_team(system, log, SupervisorStrategy(decider=always(Directive.RESUME)), ("w",))
    worker = ActorPath(f"{team}/w")

    for msg in (Work(n=1), Work(fail=True), Work(n=2), Marker(label="end")):
        system.tell(worker, msg)

    log.wait_for(("marker", "end", 2))
    assert ("start", "w") in log.snapshot()
    assert log.snapshot().count(("start", "w")) == 1


def test_decide_by_type_matches_base_classes(system: ActorSystem) -> None:
    log = Log()
    decider = decide_by_type({Exception: Directive.RESUME}, default=Directive.STOP)
    team = spawn_team(system, log, SupervisorStrategy(decider=decider), ("w",))
    worker = ActorPath(f"{team}/w")

    system.tell(worker, Work(fail=True))  # ValueError is an Exception: resumed
    system.tell(worker, Marker(label="alive"))

    log.wait_for(("marker", "alive", 0))


def test_stop_directive_stops_the_child_and_dead_letters_its_queue(system: ActorSystem) -> None:
    seen = events(system)
    log = Log()
    team = spawn_team(system, log, SupervisorStrategy(decider=always(Directive.STOP)), ("w",))
    worker = ActorPath(f"{team}/w")

    system.tell(worker, Work(fail=True))
    seen.wait_until(lambda es: any(isinstance(e, ActorStopped) and e.path == worker for e in es))

    assert worker not in system.paths()
    assert system.dead_letters.counts() == {"failed": 1}


def test_temporary_child_is_stopped_instead_of_restarted(system: ActorSystem) -> None:
    seen = events(system)
    log = Log()
    team = spawn_team(system, log, SupervisorStrategy(), ("t",), restart=RestartType.TEMPORARY)
    child = ActorPath(f"{team}/t")

    system.tell(child, Work(fail=True))

    seen.wait_until(lambda es: any(isinstance(e, ActorStopped) and e.path == child for e in es))
    assert not any(isinstance(e, ActorRestarted) for e in seen.snapshot())


class Quitter(Behaviour):
    """Stops itself on any Work."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def on_start(self, ctx: Context) -> None:
        self.log.add(("start", ctx.path))

    def on_work(self, msg: Work, ctx: Context) -> None:
        ctx.stop()


@pytest.mark.parametrize(
    ("restart", "respawned"), [(RestartType.PERMANENT, True), (RestartType.TRANSIENT, False)]
)
def test_only_a_permanent_child_that_stops_itself_is_spawned_again(
    system: ActorSystem, restart: RestartType, respawned: bool
) -> None:
    seen = events(system)
    log = Log()
    path = system.spawn(recipe(Quitter, log), "q", restart=restart)
    log.wait_for(("start", path))

    system.tell(path, Work())
    seen.wait_until(lambda es: any(isinstance(e, ActorStopped) and e.path == path for e in es))

    if respawned:
        log.wait_until(lambda items: items.count(("start", path)) == 2)
        assert path in system.paths()
    else:
        system.tell("/agents", Marker())  # a round trip through the parent's mailbox
        assert system.dead_letters.wait_for(1, timeout=5)
        assert path not in system.paths()


def test_children_stop_in_reverse_start_order_before_their_parent(system: ActorSystem) -> None:
    log = Log()
    spawn_team(system, log, SupervisorStrategy())
    mark = len(log.snapshot())

    system.shutdown()

    stops = [i for i in log.snapshot()[mark:] if isinstance(i, tuple) and i[0] == "stop"]
    assert stops == [("stop", "c"), ("stop", "b"), ("stop", "a"), ("stop", "team")]


def test_escalation_at_the_root_stops_the_system_with_a_clear_error() -> None:
    system = ActorSystem(guardian_strategy=SupervisorStrategy(max_restarts=1, within=60.0))
    system.start()
    try:
        system.spawn(Broken, "broken")

        with pytest.raises(EscalationError, match=r"^A failure escalated to the root supervisor"):
            system.wait_terminated(timeout=5)
        with pytest.raises(
            SystemStoppedError, match=r"is not running: it has stopped because a failure escalated"
        ):
            system.tell("/agents/broken", Work())
        assert system.escalation is not None
        assert "cannot connect to the database" in str(system.escalation)
    finally:
        system.shutdown()
