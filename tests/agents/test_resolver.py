"""The conflict resolver: strategies, determinism, custom strategies, refusals,
escalation to a human (answered, timed out, no gateway), and the seed's example."""

from __future__ import annotations

import runpy
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

import actorflow
from actorflow import ActorSystem, Behaviour, Context, FakeClock, Message
from actorflow.agents.conflicts import (
    Conflict,
    ConflictRefused,
    ConflictResolution,
    ConflictResolved,
    ConflictType,
    ResolveConflict,
)
from actorflow.agents.models import AgentInfo, AgentRole
from actorflow.agents.paths import RESOLVER_PATH
from actorflow.agents.resolver import (
    DEFAULT_ESCALATION_SEVERITY,
    HUMAN_GRACE,
    ConflictResolver,
    conflict_request,
    ensure_conflict_resolver,
    resolution_of,
)
from actorflow.agents.strategies import (
    BUILT_IN_STRATEGIES,
    DeadlockStrategy,
    FirstComeStrategy,
    PriorityStrategy,
    RolePrecedenceStrategy,
    StrategyRegistry,
    UndecidableConflictError,
    VoteStrategy,
    decide,
)
from actorflow.errors import ConfigurationError, ConflictError
from actorflow.human import HumanCallbackType, HumanRequest, spawn_human_gateway
from actorflow.ids import ActorPath
from actorflow.messages import Envelope
from actorflow.runtime import recipe
from actorflow.runtime.system import SYSTEM_PATH
from actorflow.testing import NO_ANSWER, Answer, Probe, ScriptedHuman

SEED = Path(__file__).parent / "seed" / "conflict_resolution.py"
RESOURCE = ConflictType.RESOURCE_CONFLICT


def conflict(
    kind: ConflictType = RESOURCE,
    agents: Sequence[str] = ("agent_1", "agent_2"),
    *,
    severity: int = 3,
    tasks: Sequence[str] = (),
    **metadata: JsonValue,
) -> Conflict:
    """A conflict made at a fixed time (so resolutions compare equal)."""
    return Conflict(
        id="c1",
        conflict_type=kind,
        description="Two agents need the same GPU",
        involved_agents=tuple(agents),
        involved_tasks=tuple(tasks),
        severity=severity,
        created_at=1000.0,
        metadata=dict(metadata),
    )


def info(agent_id: str, role: AgentRole = AgentRole.EXECUTOR, **metadata: JsonValue) -> AgentInfo:
    return AgentInfo(id=agent_id, role=role, metadata=dict(metadata))


def actions(resolution: ConflictResolution) -> list[tuple[str, str]]:
    return [(a.action, a.agent_id) for a in resolution.actions]


# -- strategies, pure --------------------------------------------------------------------


def test_priority_gives_the_resource_to_the_highest_priority() -> None:
    c = conflict(priorities={"agent_1": 1, "agent_2": "high"}, resource="gpu")

    resolution = PriorityStrategy().resolve(c, [], [])

    assert (resolution.strategy, resolution.winner) == ("priority", "agent_2")
    assert resolution.order == ("agent_2", "agent_1")
    assert actions(resolution) == [("grant", "agent_2"), ("wait", "agent_1")]
    assert resolution.actions[0].detail == "grant gpu"
    assert resolution.rationale == (
        "agent_2 wins by priority: agent_2 3 (conflict metadata), agent_1 1 (conflict metadata)."
    )


def test_priority_reads_the_tasks_by_their_place_in_the_conflict() -> None:
    c = conflict(tasks=("task_1", "task_2"))
    tasks: list[dict[str, JsonValue]] = [
        {"id": "task_1", "priority": "critical"},
        {"id": "task_2", "priority": 2},
    ]

    resolution = PriorityStrategy().resolve(c, [], tasks)

    assert resolution.winner == "agent_1"
    assert [(a.agent_id, a.task_id) for a in resolution.actions] == [
        ("agent_1", "task_1"),
        ("agent_2", "task_2"),
    ]


def test_priority_falls_back_to_the_agents_metadata_then_ties_go_to_the_first_come() -> None:
    c = conflict(agents=("a", "b", "c"))
    agents = [info("a", priority=1), info("b", priority=5), info("c", priority=5)]

    resolution = PriorityStrategy().resolve(c, agents, [])

    assert resolution.order == ("b", "c", "a")
    assert resolution.rationale.endswith("; b, c tie, broken by first come.")


def test_without_priorities_the_first_come_wins() -> None:
    resolution = PriorityStrategy().resolve(conflict(), [], [])

    assert resolution.winner == "agent_1"
    assert "no priorities were given" in resolution.rationale


def test_first_come_orders_by_arrival_time_then_by_the_conflicts_order() -> None:
    c = conflict(agents=("a", "b", "c"), arrived_at={"c": 5.0})
    tasks: list[dict[str, JsonValue]] = [{"id": "t", "agent_id": "b", "created_at": 7.0}]

    resolution = FirstComeStrategy().resolve(c, [], tasks)

    assert resolution.order == ("c", "b", "a")


def test_role_precedence_puts_the_coordinator_first_and_undescribed_agents_last() -> None:
    c = conflict(ConflictType.TASK_CONFLICT, agents=("x", "exe", "val", "coord"))
    agents = [
        info("exe"),
        info("val", AgentRole.VALIDATOR),
        info("coord", AgentRole.COORDINATOR),
    ]

    resolution = RolePrecedenceStrategy().resolve(c, agents, [])

    assert resolution.order == ("coord", "val", "exe", "x")
    assert actions(resolution)[:2] == [("grant", "coord"), ("reassign", "val")]


def test_role_precedence_takes_a_documented_order_of_its_own() -> None:
    strategy = RolePrecedenceStrategy(["executor", AgentRole.COORDINATOR])
    c = conflict(agents=("coord", "exe"))
    agents = [info("coord", AgentRole.COORDINATOR), info("exe")]

    assert strategy.resolve(c, agents, []).winner == "exe"
    with pytest.raises(ConfigurationError, match=r"'boss' is not a valid AgentRole"):
        RolePrecedenceStrategy(["boss"])


def test_vote_counts_only_the_validators_votes() -> None:
    votes: dict[str, JsonValue] = {
        "v1": "agent_2",
        "v2": "agent_2",
        "v3": "agent_1",
        "x": "agent_1",
    }
    c = conflict(ConflictType.RESULT_CONFLICT, votes=votes)
    agents = [info(v, AgentRole.VALIDATOR) for v in ("v1", "v2", "v3")] + [info("x")]

    resolution = VoteStrategy().resolve(c, agents, [])

    assert resolution.winner == "agent_2"
    assert actions(resolution) == [("accept", "agent_2"), ("reject", "agent_1")]
    assert resolution.rationale == (
        "agent_2 wins the validators' vote: agent_2 2, agent_1 1 (not validators, not counted: x)."
    )


def test_a_tied_vote_goes_to_the_first_come() -> None:
    c = conflict(ConflictType.RESULT_CONFLICT, votes={"v1": "agent_2", "v2": "agent_1"})
    agents = [info("v1", AgentRole.VALIDATOR), info("v2", AgentRole.VALIDATOR)]

    resolution = VoteStrategy().resolve(c, agents, [])

    assert resolution.winner == "agent_1"
    assert "agent_1, agent_2 tie, broken by first come" in resolution.rationale


def test_a_vote_without_validators_cannot_decide() -> None:
    c = conflict(ConflictType.RESULT_CONFLICT, votes={"x": "agent_2"})

    with pytest.raises(UndecidableConflictError, match=r"^Conflict 'c1' cannot be decided by vote"):
        VoteStrategy().resolve(c, [info("x")], [])


def test_a_deadlock_aborts_the_lowest_priority_and_the_others_wait() -> None:
    c = conflict(ConflictType.DEADLOCK, agents=("a", "b", "c"), priorities={"a": 2, "b": 1, "c": 3})

    resolution = DeadlockStrategy().resolve(c, [], [])

    assert resolution.winner is None
    assert resolution.order == ("c", "a", "b")
    assert actions(resolution) == [("wait", "c"), ("wait", "a"), ("abort", "b")]


def test_a_deadlock_among_equals_aborts_the_youngest() -> None:
    c = conflict(ConflictType.DEADLOCK, agents=("a", "b", "c"), arrived_at={"a": 30.0, "b": 10.0})

    resolution = DeadlockStrategy().resolve(c, [], [])

    # b came first (10), a second (30), c has no time: it counts as the last to come
    assert actions(resolution)[-1] == ("abort", "c")
    assert "the youngest of b, a, c" in resolution.rationale


@pytest.mark.parametrize("strategy", BUILT_IN_STRATEGIES, ids=lambda s: s.name)
def test_every_built_in_strategy_gives_the_same_resolution_for_the_same_input(
    strategy: Any,
) -> None:
    kind = ConflictType.DEADLOCK if strategy.name == "deadlock" else ConflictType.RESULT_CONFLICT
    votes: dict[str, JsonValue] = {"v": "b"}
    c = conflict(kind, agents=("a", "b", "c"), priorities={"a": 1, "b": 1, "c": 0}, votes=votes)
    agents = [info("v", AgentRole.VALIDATOR), info("a", AgentRole.COORDINATOR)]

    first = strategy.resolve(c, agents, [{"id": "t", "agent_id": "c", "created_at": 1.0}])
    again = strategy.resolve(
        c.model_copy(), list(agents), [{"id": "t", "agent_id": "c", "created_at": 1.0}]
    )

    assert first == again
    assert first.resolved_at == c.created_at


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (conflict(agents=()), r"^Conflict 'c1' involves no agents"),
        (
            conflict(agents=("a", "a")),
            r"^Conflict 'c1' lists agents \['a', 'a'\]: .* \(twice: \['a'\]\)",
        ),
        (conflict(priorities={"agent_1": [1]}), r"agent 'agent_1' has priority \[1\]; a priority"),
        (conflict(priorities={"agent_9": 1}), r"metadata\['priorities'\] for \['agent_9'\]"),
        (conflict(priorities=3), r"metadata\['priorities'\] = 3; it must map agent ids"),
        (conflict(votes={"v": "agent_9"}), r"'v' votes for 'agent_9', which is not one of"),
        (conflict(arrived_at={"agent_1": "noon"}), r"arrival time 'noon'; it must be a finite"),
    ],
)
def test_a_malformed_conflict_is_refused_naming_what_is_wrong(bad: Conflict, message: str) -> None:
    with pytest.raises(ConflictError, match=message):
        decide(StrategyRegistry(), bad, [], [])


def test_a_named_strategy_must_exist_and_apply() -> None:
    registry = StrategyRegistry()

    with pytest.raises(ConflictError, match=r"asks for strategy 'coin', which is not registered"):
        decide(registry, conflict(), [], [], strategy="coin")
    with pytest.raises(ConflictError, match=r"^Strategy 'deadlock' does not apply to conflict"):
        decide(registry, conflict(), [], [], strategy="deadlock")


def test_a_result_conflict_without_votes_goes_to_role_precedence() -> None:
    c = conflict(ConflictType.RESULT_CONFLICT, votes={"x": "agent_2"})
    agents = [info("x"), info("agent_2", AgentRole.VALIDATOR)]

    resolution = decide(StrategyRegistry(), c, agents, [])

    assert (resolution.strategy, resolution.winner) == ("role_precedence", "agent_2")
    assert "(Tried first: [vote: Conflict 'c1' cannot be decided by vote" in resolution.rationale


# -- custom strategies -------------------------------------------------------------------


class LastComes:
    """A custom strategy: the last involved agent wins (for resource conflicts)."""

    name = "last_comes"

    def applies_to(self, conflict: Conflict) -> bool:
        return conflict.conflict_type is RESOURCE

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[Any]
    ) -> ConflictResolution:
        order = tuple(reversed(conflict.involved_agents))
        return ConflictResolution(
            conflict_id=conflict.id,
            strategy=self.name,
            winner=order[0],
            order=order,
            rationale="the last comes first",
            resolved_at=conflict.created_at,
        )


class Broken:
    name = "broken"

    def applies_to(self, conflict: Conflict) -> bool:
        return True

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[Any]
    ) -> ConflictResolution:
        raise ZeroDivisionError("oops")


def test_a_custom_strategy_registered_for_a_type_is_tried_first() -> None:
    registry = StrategyRegistry()
    registry.register(LastComes(), conflict_types=[RESOURCE])

    assert decide(registry, conflict(), [], []).strategy == "last_comes"
    task = conflict(ConflictType.TASK_CONFLICT)
    assert decide(registry, task, [], []).strategy == "priority"


def test_a_custom_strategy_registered_for_no_type_is_used_only_by_name() -> None:
    registry = StrategyRegistry()
    registry.register(LastComes(), conflict_types=())

    assert decide(registry, conflict(), [], []).strategy == "priority"
    assert decide(registry, conflict(), [], [], strategy="last_comes").winner == "agent_2"


def test_registering_a_taken_name_or_a_non_strategy_is_refused() -> None:
    registry = StrategyRegistry()

    class Impostor:
        name = "priority"
        applies_to = LastComes.applies_to
        resolve = LastComes.resolve

    with pytest.raises(ConfigurationError, match=r"named 'priority' is registered already"):
        registry.register(Impostor())
    with pytest.raises(ConfigurationError, match=r"is not a conflict strategy"):
        registry.register(object())  # type: ignore[arg-type] # what is refused
    registry.register(Impostor(), replace=True)
    assert decide(registry, conflict(), [], []).winner == "agent_2"


def test_a_strategy_that_raises_or_names_strangers_becomes_a_conflict_error() -> None:
    registry = StrategyRegistry([Broken()])

    with pytest.raises(ConflictError, match=r"^Strategy 'broken' failed on conflict 'c1': Zero"):
        decide(registry, conflict(), [], [])

    class Stranger(LastComes):
        name = "stranger"

        def resolve(
            self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[Any]
        ) -> ConflictResolution:
            return super().resolve(conflict, agents, tasks).model_copy(update={"winner": "zed"})

    with pytest.raises(ConflictError, match=r"names agents not involved: \['zed'\]"):
        decide(StrategyRegistry([Stranger()]), conflict(), [], [])


# -- the resolver actor ------------------------------------------------------------------


def ask(system: ActorSystem, request: ResolveConflict, timeout: float = 5.0) -> Message:
    return system.ask(RESOLVER_PATH, request, timeout=timeout)


def test_the_resolver_answers_with_the_resolution_stamped_by_the_clock(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    ensure_conflict_resolver(fake_system)
    clock.advance(42)

    reply = ask(fake_system, conflict_request(conflict(priorities={"agent_2": 9})))

    assert isinstance(reply, ConflictResolved)
    assert reply.resolution.winner == "agent_2"
    assert reply.resolution.resolved_at == clock.time()
    assert reply.resolution.escalated is False


def test_every_resolution_is_a_delivery_the_journal_sees(fake_system: ActorSystem) -> None:
    seen: list[Envelope] = []
    fake_system.add_tap(seen.append)
    ensure_conflict_resolver(fake_system)

    ask(fake_system, conflict_request(conflict()))

    resolved = [e for e in seen if isinstance(e.message, ConflictResolved)]
    assert len(resolved) == 1
    assert resolved[0].sender == RESOLVER_PATH


def test_a_malformed_conflict_gets_a_refusal_that_the_outside_raises(
    fake_system: ActorSystem,
) -> None:
    ensure_conflict_resolver(fake_system)

    reply = ask(fake_system, conflict_request(conflict(agents=())))

    assert isinstance(reply, ConflictRefused)
    assert reply.error.error_type == "actorflow.errors.ConflictError"
    with pytest.raises(ConflictError, match=r"^Conflict 'c1' involves no agents"):
        resolution_of(reply)


def test_an_invalid_agent_in_a_request_is_refused(fake_system: ActorSystem) -> None:
    ensure_conflict_resolver(fake_system)
    request = ResolveConflict(conflict=conflict(), agents=({"id": "a", "role": "boss"},))

    with pytest.raises(ConflictError, match=r"^Conflict 'c1': Agent 'a' is invalid: role"):
        resolution_of(ask(fake_system, request))


class Requester(Behaviour):
    """Asks the resolver from inside an actor (as the resource allocator does) and
    forwards what comes back to a probe."""

    def __init__(self, probe: ActorPath) -> None:
        self.probe = probe

    def on_resolve_conflict(self, msg: ResolveConflict, ctx: Context) -> None:
        ctx.request(RESOLVER_PATH, msg, timeout=3600)

    def on_message(self, msg: Message, ctx: Context) -> None:
        ctx.tell(self.probe, msg)


def test_an_actor_asking_about_a_deadlock_is_told_whom_to_abort(fake_system: ActorSystem) -> None:
    ensure_conflict_resolver(fake_system)
    probe = Probe(fake_system)
    allocator = fake_system.spawn(recipe(Requester, probe.path), "allocator")
    deadlock = conflict(ConflictType.DEADLOCK, agents=("a", "b"), priorities={"a": 1, "b": 2})

    fake_system.tell(allocator, conflict_request(deadlock))
    resolution = probe.expect(ConflictResolved).resolution

    assert [a.agent_id for a in resolution.actions if a.action == "abort"] == ["a"]


# -- escalation to a human -----------------------------------------------------------------


@pytest.fixture
def resolver(fake_system: ActorSystem) -> Iterator[ConflictResolver]:
    """The facade on the test's system, a human asked from severity 4, with 60 s."""
    facade = ConflictResolver(fake_system, escalation_severity=4, human_timeout=60)
    _ = facade.settings  # spawns /agents/resolver
    yield facade
    facade.close()


def test_a_severe_conflict_is_decided_by_a_human(
    fake_system: ActorSystem, resolver: ConflictResolver
) -> None:
    human = ScriptedHuman([Answer("agent_1")])
    spawn_human_gateway(fake_system, human)
    severe = conflict(severity=4, priorities={"agent_2": 3})

    resolution = resolver.resolve_conflict_sync(severe)

    assert (resolution.strategy, resolution.winner, resolution.escalated) == (
        "human",
        "agent_1",
        True,
    )
    assert actions(resolution) == [("grant", "agent_1"), ("wait", "agent_2")]
    assert resolution.rationale == (
        "A human (scripted) chose agent_1 (severity 4 ≥ 4 is decided by a human). The "
        "priority strategy had suggested agent_2."
    )
    asked = human.asked[0]
    assert (asked.type, asked.options) == (HumanCallbackType.SELECT, ["agent_1", "agent_2"])
    assert asked.message.endswith("Which agent should win? The priority strategy suggests agent_2.")


def test_a_human_picks_the_deadlocks_victim(
    fake_system: ActorSystem, resolver: ConflictResolver
) -> None:
    human = ScriptedHuman([Answer("b")])
    spawn_human_gateway(fake_system, human)
    deadlock = conflict(ConflictType.DEADLOCK, agents=("a", "b", "c"), severity=5)

    resolution = resolver.resolve_conflict_sync(deadlock)

    assert actions(resolution) == [("wait", "a"), ("wait", "c"), ("abort", "b")]
    assert "Which agent should be aborted to break the deadlock?" in human.asked[0].message


def test_when_the_human_does_not_answer_in_time_the_automatic_strategy_decides(
    fake_system: ActorSystem, clock: FakeClock, resolver: ConflictResolver
) -> None:
    human = ScriptedHuman([NO_ANSWER], clock=clock)
    spawn_human_gateway(fake_system, human)
    probe = Probe(fake_system)
    requester = fake_system.spawn(recipe(Requester, probe.path), "requester")

    fake_system.tell(requester, conflict_request(conflict(severity=5, priorities={"agent_2": 1})))
    assert human.wait_asked(1, timeout=2.0)
    clock.advance(60)
    resolution = probe.expect(ConflictResolved, timeout=2.0).resolution

    assert (resolution.strategy, resolution.winner, resolution.escalated) == (
        "priority",
        "agent_2",
        True,
    )
    assert resolution.rationale.endswith(
        "Escalated to a human (severity 5 ≥ 4), but the question ended timed_out: nobody "
        "answered by the deadline: decided by priority."
    )
    assert resolution.resolved_at == clock.time()


def test_the_resolver_answers_other_conflicts_while_a_human_decides(
    fake_system: ActorSystem, clock: FakeClock, resolver: ConflictResolver
) -> None:
    human = ScriptedHuman([Answer("agent_2", after=30)], clock=clock)
    spawn_human_gateway(fake_system, human)
    probe = Probe(fake_system)
    requester = fake_system.spawn(recipe(Requester, probe.path), "requester")

    fake_system.tell(requester, conflict_request(conflict(severity=5)))
    assert human.wait_asked(1, timeout=2.0)
    minor = resolver.resolve_conflict_sync(conflict(severity=1).model_copy(update={"id": "c2"}))
    clock.advance(30)
    severe = probe.expect(ConflictResolved, timeout=2.0).resolution

    assert (minor.conflict_id, minor.strategy) == ("c2", "priority")
    assert (severe.conflict_id, severe.strategy, severe.winner) == ("c1", "human", "agent_2")


def test_two_requests_for_a_conflict_before_a_human_get_one_answer(
    fake_system: ActorSystem, clock: FakeClock, resolver: ConflictResolver
) -> None:
    human = ScriptedHuman([Answer("agent_2", after=5)], clock=clock)
    spawn_human_gateway(fake_system, human)
    probe = Probe(fake_system)
    first = fake_system.spawn(recipe(Requester, probe.path), "first")
    second = fake_system.spawn(recipe(Requester, probe.path), "second")

    fake_system.tell(first, conflict_request(conflict(severity=5)))
    assert human.wait_asked(1, timeout=2.0)
    fake_system.tell(second, conflict_request(conflict(severity=5)))
    # second's next request is answered at once, so its first one has been taken
    fake_system.tell(second, conflict_request(conflict(severity=1).model_copy(update={"id": "c2"})))
    minor = probe.expect(ConflictResolved, timeout=2.0).resolution
    clock.advance(5)
    answers = [probe.expect(ConflictResolved, timeout=2.0).resolution for _ in range(2)]

    assert minor.conflict_id == "c2"
    assert [(a.conflict_id, a.strategy, a.winner) for a in answers] == [
        ("c1", "human", "agent_2")
    ] * 2
    assert len(human.asked) == 1


def test_a_gateway_that_never_answers_is_given_up_on_after_the_human_timeout(
    fake_system: ActorSystem, clock: FakeClock, resolver: ConflictResolver
) -> None:
    silent = Probe(fake_system, "human", parent=SYSTEM_PATH)  # takes questions, says nothing
    probe = Probe(fake_system)
    requester = fake_system.spawn(recipe(Requester, probe.path), "requester")

    fake_system.tell(requester, conflict_request(conflict(severity=5)))
    question = silent.expect(HumanRequest, timeout=2.0)
    clock.advance(60 + HUMAN_GRACE)
    resolution = probe.expect(ConflictResolved, timeout=2.0).resolution

    assert question.options == ("agent_1", "agent_2")
    assert (resolution.strategy, resolution.escalated) == ("priority", True)
    assert "but the human gateway did not answer within 90 s: decided by priority." in (
        resolution.rationale
    )


def test_by_default_only_critical_conflicts_go_to_a_human(fake_system: ActorSystem) -> None:
    settings = ensure_conflict_resolver(fake_system)

    assert settings.escalation_severity == DEFAULT_ESCALATION_SEVERITY == 5
    assert [settings.escalates(conflict(severity=s)) for s in (3, 4, 5)] == [False, False, True]


def test_a_resolver_spawned_again_keeps_its_strategies(fake_system: ActorSystem) -> None:
    ensure_conflict_resolver(fake_system, strategies=[LastComes()])
    fake_system.stop(RESOLVER_PATH)

    ensure_conflict_resolver(fake_system)
    reply = ask(fake_system, conflict_request(conflict()))

    assert resolution_of(reply).strategy == "last_comes"


def test_without_a_human_gateway_the_automatic_strategy_decides_and_says_so(
    resolver: ConflictResolver,
) -> None:
    resolution = resolver.resolve_conflict_sync(conflict(severity=5))

    assert (resolution.strategy, resolution.escalated) == ("priority", False)
    assert resolution.rationale.endswith(
        "Severity 5 (≥ 4) asks a human, but no human gateway runs at /system/human: decided "
        "by priority."
    )


def test_an_undecidable_severe_conflict_still_goes_to_the_human(
    fake_system: ActorSystem, resolver: ConflictResolver
) -> None:
    spawn_human_gateway(fake_system, ScriptedHuman([Answer("agent_2")]))
    votes_only = conflict(ConflictType.RESULT_CONFLICT, severity=5, votes={"x": "agent_1"})

    resolution = resolver.resolve_conflict_sync(votes_only, strategy="vote")

    assert (resolution.strategy, resolution.winner) == ("human", "agent_2")
    assert actions(resolution) == [("accept", "agent_2"), ("reject", "agent_1")]


def test_an_undecidable_conflict_nobody_decides_is_refused(resolver: ConflictResolver) -> None:
    votes_only = conflict(ConflictType.RESULT_CONFLICT, severity=5, votes={"x": "agent_1"})

    with pytest.raises(UndecidableConflictError, match=r"no validator voted .* no human gateway"):
        resolver.resolve_conflict_sync(votes_only, strategy="vote")


# -- the facade ----------------------------------------------------------------------------


def test_the_facade_takes_seed_dicts_and_task_ids(resolver: ConflictResolver) -> None:
    agents = [{"id": "agent_1", "role": "validator"}, {"id": "agent_2", "role": "coordinator"}]

    resolution = resolver.resolve_conflict_sync(
        conflict(ConflictType.COMMUNICATION_CONFLICT), agents, ["task_1", "task_2"]
    )

    assert (resolution.strategy, resolution.winner) == ("role_precedence", "agent_2")
    assert actions(resolution) == [("grant", "agent_2"), ("retry", "agent_1")]


def test_the_facade_refuses_malformed_input_with_a_clear_message(
    resolver: ConflictResolver,
) -> None:
    with pytest.raises(ConflictError, match=r"^Conflict 'c9' is malformed: severity: Input should"):
        resolver.resolve_conflict_sync({"id": "c9", "conflict_type": "deadlock", "severity": 9})
    with pytest.raises(ConflictError, match=r"^Conflict 'c1': tasks must be a list .* got str"):
        resolver.resolve_conflict_sync(conflict(), None, "task_1")
    with pytest.raises(ConflictError, match=r"a task must be a dict or a task id, got int 7"):
        resolver.resolve_conflict_sync(conflict(), None, [7])  # type: ignore[list-item] # what is refused


def test_a_strategy_registered_on_the_facade_is_used(resolver: ConflictResolver) -> None:
    resolver.register_strategy(LastComes(), conflict_types=[RESOURCE])

    assert resolver.resolve_conflict_sync(conflict()).strategy == "last_comes"


def test_a_second_facade_with_other_settings_is_refused(
    fake_system: ActorSystem, resolver: ConflictResolver
) -> None:
    _ = resolver.settings
    other = ConflictResolver(fake_system, escalation_severity=2)

    with pytest.raises(ConfigurationError, match=r"runs already with escalation_severity=4, not 2"):
        _ = other.settings


@pytest.mark.asyncio
async def test_an_owned_system_is_started_on_first_use_and_shut_down_by_close() -> None:
    resolver = ConflictResolver()

    resolution = await resolver.resolve_conflict(conflict())
    system = resolver.system
    resolver.close()

    assert resolution.winner == "agent_1"
    assert not system.is_running


def test_resolving_the_same_input_twice_gives_the_same_resolution(
    fake_system: ActorSystem, resolver: ConflictResolver
) -> None:
    c = conflict(ConflictType.DEADLOCK, agents=("a", "b", "c"), arrived_at={"a": 1.0})

    first = resolver.resolve_conflict_sync(c)
    again = resolver.resolve_conflict_sync(c)

    assert first == again


# -- the seed's example --------------------------------------------------------------------


@pytest.fixture
def seed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the seed imports from ``actorflow`` (until the package exports them)."""
    for name, value in (
        ("ConflictResolver", ConflictResolver),
        ("Conflict", Conflict),
        ("ConflictType", ConflictType),
    ):
        if not hasattr(actorflow, name):
            monkeypatch.setattr(actorflow, name, value, raising=False)


@pytest.mark.parametrize(
    ("agents", "tasks"),
    [
        (None, None),
        (
            [
                {"id": "agent_1", "role": "specialist", "metadata": {"priority": "low"}},
                {"id": "agent_2", "role": "executor", "metadata": {"priority": "high"}},
            ],
            [{"id": "task_1", "priority": 1}, "task_2"],
        ),
    ],
    ids=["agents-and-tasks-none", "agents-and-tasks-lists"],
)
@pytest.mark.usefixtures("seed_names")
def test_the_seed_example_runs(agents: Any, tasks: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(SEED), init_globals={"agents": agents, "tasks": tasks})

    out = capsys.readouterr().out
    assert out.startswith("Conflict resolved: conflict_id='conflict_001' strategy='priority'")
    # task_1 gives agent_1 priority 1; agent_2 has "high" (3) in its metadata
    winner = "agent_1" if agents is None else "agent_2"
    assert f"winner='{winner}'" in out


def test_the_seed_example_imports_only_from_actorflow() -> None:
    text = SEED.read_text()

    assert "app." not in text
    assert "from actorflow import ConflictResolver, Conflict, ConflictType" in text


def test_the_seed_examples_resolver_shuts_its_system_down_when_collected() -> None:
    resolver = ConflictResolver()
    system = resolver.system

    del resolver

    assert not system.is_running
