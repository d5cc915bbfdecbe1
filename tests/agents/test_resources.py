"""The resource allocator: capacity, priority queue, timeouts, errors, leases released when
their holder dies, deadlocks found when they form and broken by the resolver or the
fallback rule, and the outside async API."""

from __future__ import annotations

import asyncio
import queue
from typing import Literal

import pytest

from actorflow import ActorSystem, FakeClock
from actorflow.agents._waitfor import Candidate, choose_victim, find_cycle
from actorflow.agents.conflicts import (
    ConflictResolution,
    ConflictResolved,
    ConflictType,
    ResolutionAction,
    ResolveConflict,
)
from actorflow.agents.paths import RESOURCES_PATH
from actorflow.agents.resolver import ensure_conflict_resolver
from actorflow.agents.resource_messages import (
    AcquireResource,
    DefineResource,
    HolderGoneError,
    ReleaseResource,
    ResourceDefined,
    ResourceGranted,
    ResourceRefused,
    ResourceReleased,
)
from actorflow.agents.resources import (
    Lease,
    ResourceAllocator,
    acquire_resource,
    define_resource,
    ensure_resource_allocator,
    holder_id,
    release_resource,
    resource_statistics,
)
from actorflow.errors import (
    ConfigurationError,
    DeadlockError,
    LeaseError,
    ResourceCapacityError,
    ResourceError,
    ResourceTimeoutError,
    UnknownResourceError,
)
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.context import Context
from tests.agents.conftest import GROUP_STRATEGY, Group, HolderHandle, stats

# -- helpers ----------------------------------------------------------------------------


def acquire(
    h: HolderHandle,
    resource: str,
    amount: int = 1,
    *,
    priority: int = 0,
    timeout: float | None = None,
    task_id: str = "",
    request_id: str = "",
) -> None:
    """Make ``h`` ask for ``amount`` of ``resource`` for itself."""
    message = AcquireResource(
        resource=resource,
        amount=amount,
        holder=h.path,
        priority=priority,
        timeout=timeout,
        task_id=task_id,
        request_id=request_id,
    )
    h.send(RESOURCES_PATH, message)


def granted(
    h: HolderHandle,
    resource: str,
    amount: int = 1,
    *,
    timeout: float | None = None,
    request_id: str = "",
) -> str:
    """Acquire and return the lease id, which must be granted at once."""
    acquire(h, resource, amount, timeout=timeout, request_id=request_id)
    return h.expect(ResourceGranted).lease_id


def refusal(h: HolderHandle) -> str:
    """The error type of the refusal ``h`` gets next (``module.Class``)."""
    return h.expect(ResourceRefused).error.error_type


def error_name(cls: type[Exception]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def waiting_ids(system: ActorSystem, resource: str) -> list[str]:
    return [str(w.holder) for w in stats(system).resource(resource).queue]


class ScriptedResolver(Behaviour):
    """A resolver stub: records each conflict, answers by aborting ``abort`` (or not at all
    when ``abort`` is None)."""

    def __init__(self, seen: queue.Queue[ResolveConflict], abort: str | None) -> None:
        self.seen = seen
        self.abort = abort

    def on_resolve_conflict(self, msg: ResolveConflict, ctx: Context) -> None:
        self.seen.put(msg)
        if self.abort is None:
            return
        resolution = ConflictResolution(
            conflict_id=msg.conflict.id,
            strategy="scripted",
            winner=next(a for a in msg.conflict.involved_agents if a != self.abort),
            actions=(ResolutionAction(action="abort", agent_id=self.abort),),
        )
        ctx.reply(ConflictResolved(resolution=resolution))


class Boom(Message):
    kind: Literal["resourcetest.boom"] = "resourcetest.boom"


class Refuses(Message):
    """A resolver's failure answer (what the real resolver may send when it cannot)."""

    kind: Literal["resourcetest.refuses"] = "resourcetest.refuses"


class FailingResolver(Behaviour):
    def on_resolve_conflict(self, msg: ResolveConflict, ctx: Context) -> None:
        ctx.reply(Refuses())


def resolver(system: ActorSystem, abort: str | None) -> queue.Queue[ResolveConflict]:
    seen: queue.Queue[ResolveConflict] = queue.Queue()
    system.spawn(recipe(ScriptedResolver, seen, abort), "resolver")
    return seen


@pytest.fixture
def with_disk(fake_system: ActorSystem, resources: ActorPath) -> None:
    ensure_resource_allocator(fake_system, {"disk": 1})


# -- capacity and queue ---------------------------------------------------------------


def test_requests_within_capacity_are_granted_at_once(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b = holders["a"], holders["b"]

    first = granted(a, "cpu", 3)
    second = granted(b, "cpu", 1)

    cpu = stats(fake_system).resource("cpu")
    assert first != second
    assert cpu.in_use == 4
    assert cpu.holders == {a.path: 3, b.path: 1}


def test_a_request_beyond_what_is_free_waits_until_a_release(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b = holders["a"], holders["b"]
    lease = granted(a, "cpu", 3)
    acquire(b, "cpu", 2)
    assert waiting_ids(fake_system, "cpu") == [b.path]

    a.send(RESOURCES_PATH, ReleaseResource(lease_id=lease))

    assert a.expect(ResourceReleased).amount == 3
    assert b.expect(ResourceGranted).amount == 2
    assert stats(fake_system).resource("cpu").in_use == 2


def test_waiting_requests_are_served_by_priority_then_first_come(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b, c, d = holders["a"], holders["b"], holders["c"], holders["d"]
    lease = granted(a, "gpu")
    acquire(b, "gpu", priority=0)
    acquire(c, "gpu", priority=5)
    acquire(d, "gpu", priority=5)

    assert waiting_ids(fake_system, "gpu") == [c.path, d.path, b.path]

    served = []
    for _ in range(3):
        a.send(RESOURCES_PATH, ReleaseResource(lease_id=lease))
        (holder,) = stats(fake_system).resource("gpu").holders
        a = next(h for h in (b, c, d) if h.path == holder)
        lease = a.expect(ResourceGranted).lease_id
        served.append(holder)

    assert served == [c.path, d.path, b.path]


def test_a_big_request_at_the_head_is_not_overtaken_by_smaller_ones(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    """No barging: the 1-unit request behind the 4-unit one waits although 1 unit is free."""
    a, b, c = holders["a"], holders["b"], holders["c"]
    lease = granted(a, "cpu", 3)
    acquire(b, "cpu", 4)
    acquire(c, "cpu", 1)

    assert waiting_ids(fake_system, "cpu") == [b.path, c.path]
    assert stats(fake_system).resource("cpu").in_use == 3

    a.send(RESOURCES_PATH, ReleaseResource(lease_id=lease))

    assert b.expect(ResourceGranted).amount == 4
    assert waiting_ids(fake_system, "cpu") == [c.path]


def test_a_higher_priority_request_that_fits_goes_before_a_blocked_head(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b, c = holders["a"], holders["b"], holders["c"]
    granted(a, "cpu", 3)
    acquire(b, "cpu", 4, priority=0)

    acquire(c, "cpu", 1, priority=1)

    assert c.expect(ResourceGranted).amount == 1
    assert waiting_ids(fake_system, "cpu") == [b.path]


def test_raising_the_capacity_serves_the_queue(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b = holders["a"], holders["b"]
    granted(a, "gpu")
    acquire(b, "gpu")

    reply = fake_system.ask(RESOURCES_PATH, DefineResource(name="gpu", capacity=2))

    assert reply == ResourceDefined(name="gpu", capacity=2)
    assert b.expect(ResourceGranted).resource == "gpu"


def test_the_capacity_cannot_shrink_below_what_is_in_use(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    granted(holders["a"], "cpu", 3)

    with pytest.raises(ResourceCapacityError, match=r"^Resource 'cpu' cannot shrink to 2: 3 "):
        define_resource(fake_system, "cpu", 2)

    assert define_resource(fake_system, "cpu", 3).capacity == 3


# -- timeouts -------------------------------------------------------------------------


def test_a_waiting_request_times_out_by_the_system_clock(
    fake_system: ActorSystem, clock: FakeClock, holders: dict[str, HolderHandle]
) -> None:
    a, b, c = holders["a"], holders["b"], holders["c"]
    granted(a, "gpu")
    acquire(b, "gpu", timeout=5.0)
    acquire(c, "gpu")
    assert waiting_ids(fake_system, "gpu") == [b.path, c.path]  # its timer is armed

    clock.advance(4.9)
    assert waiting_ids(fake_system, "gpu") == [b.path, c.path]
    assert b.nothing_received()

    clock.advance(0.2)

    refused = b.expect(ResourceRefused)
    assert refused.error.error_type == error_name(ResourceTimeoutError)
    assert f"of {b.path!r} for 1 of 'gpu' was not granted within 5 s (1/1 in use, 0 " in (
        refused.error.message
    )
    assert waiting_ids(fake_system, "gpu") == [c.path]
    assert stats(fake_system).timed_out == 1


def test_a_timed_out_head_lets_the_requests_behind_it_through(
    fake_system: ActorSystem, clock: FakeClock, holders: dict[str, HolderHandle]
) -> None:
    a, b, c = holders["a"], holders["b"], holders["c"]
    granted(a, "cpu", 3)
    acquire(b, "cpu", 4, timeout=1.0)
    acquire(c, "cpu", 1)
    assert waiting_ids(fake_system, "cpu") == [b.path, c.path]  # its timer is armed

    clock.advance(1.0)

    assert refusal(b) == error_name(ResourceTimeoutError)
    assert c.expect(ResourceGranted).amount == 1


def test_timeout_zero_is_granted_now_or_refused_now(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b = holders["a"], holders["b"]

    granted(a, "gpu", timeout=0)
    acquire(b, "gpu", timeout=0)

    assert refusal(b) == error_name(ResourceTimeoutError)
    assert waiting_ids(fake_system, "gpu") == []
    assert stats(fake_system).timed_out == 1


# -- refusals -------------------------------------------------------------------------


def test_an_unknown_resource_is_refused_at_once(holders: dict[str, HolderHandle]) -> None:
    a = holders["a"]

    acquire(a, "tpu")

    refused = a.expect(ResourceRefused)
    assert refused.error.error_type == error_name(UnknownResourceError)
    assert refused.error.message.startswith("Resource 'tpu' is unknown (known: 'cpu', 'gpu').")


def test_more_than_the_capacity_is_refused_at_once(holders: dict[str, HolderHandle]) -> None:
    a = holders["a"]

    acquire(a, "cpu", 5)

    refused = a.expect(ResourceRefused)
    assert refused.error.error_type == error_name(ResourceCapacityError)
    assert refused.error.message.startswith(
        "A request for 5 of 'cpu' can never be granted: its capacity is 4."
    )


def test_releasing_an_unknown_or_released_lease_is_a_lease_error(
    holders: dict[str, HolderHandle],
) -> None:
    a = holders["a"]
    lease = granted(a, "gpu")
    a.send(RESOURCES_PATH, ReleaseResource(lease_id=lease))
    a.expect(ResourceReleased)

    a.send(RESOURCES_PATH, ReleaseResource(lease_id=lease))
    again = a.expect(ResourceRefused)
    a.send(RESOURCES_PATH, ReleaseResource(lease_id="lease-nope"))
    unknown = a.expect(ResourceRefused)

    assert again.error.error_type == error_name(LeaseError)
    assert again.error.message == (
        f"Lease {lease!r} was released already (by its holder). Release each lease once, "
        "with the id its grant gave."
    )
    assert unknown.error.message.startswith("Lease 'lease-nope' is unknown.")


def test_a_holder_that_is_no_live_actor_is_refused_unless_it_is_not_watched(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a = holders["a"]
    ghost = ActorPath("/agents/ghost")

    a.send(RESOURCES_PATH, AcquireResource(resource="gpu", holder=ghost))
    refused = a.expect(ResourceRefused)
    a.send(RESOURCES_PATH, AcquireResource(resource="gpu", holder=ghost, watch_holder=False))
    lease = a.expect(ResourceGranted)

    assert refused.error.error_type == error_name(HolderGoneError)
    assert lease.holder == ghost
    assert stats(fake_system).resource("gpu").holders == {ghost: 1}


def test_a_second_request_with_a_live_request_id_is_refused(
    holders: dict[str, HolderHandle],
) -> None:
    a = holders["a"]
    granted(a, "cpu", request_id="r1")

    acquire(a, "cpu", request_id="r1")

    assert refusal(a) == error_name(ResourceError)


# -- holders that die -----------------------------------------------------------------


def test_a_holder_that_stops_loses_its_leases_and_its_waiting_requests(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b, c = holders["a"], holders["b"], holders["c"]
    granted(a, "gpu")
    granted(a, "cpu", 2)
    acquire(b, "gpu")
    acquire(a, "cpu", 3)  # waits
    acquire(c, "cpu", 2)  # waits behind a's

    fake_system.stop(a.path)

    assert b.expect(ResourceGranted).resource == "gpu"
    assert c.expect(ResourceGranted).amount == 2
    after = stats(fake_system)
    assert after.resource("gpu").holders == {b.path: 1}
    assert after.resource("cpu").holders == {c.path: 2}
    assert after.resource("cpu").queue == ()
    assert after.released_on_holder_down == 2


def test_a_holder_that_restarts_loses_its_leases(
    fake_system: ActorSystem, resources: ActorPath
) -> None:
    group = fake_system.spawn(Group, "holders", strategy=GROUP_STRATEGY)
    a = HolderHandle(fake_system, "a", group)
    b = HolderHandle(fake_system, "b", group)
    granted(a, "gpu")
    acquire(b, "gpu")

    a.crash()

    assert b.expect(ResourceGranted).resource == "gpu"
    assert stats(fake_system).resource("gpu").holders == {b.path: 1}
    assert fake_system.actor_statistics(a.path).restarts == 1


def test_a_restarted_holder_can_acquire_again(
    fake_system: ActorSystem, resources: ActorPath
) -> None:
    group = fake_system.spawn(Group, "holders", strategy=GROUP_STRATEGY)
    a = HolderHandle(fake_system, "a", group)
    granted(a, "gpu")
    a.crash()
    assert stats(fake_system).resource("gpu").in_use == 0

    granted(a, "gpu")
    a.crash()

    assert stats(fake_system).resource("gpu").in_use == 0


def test_leases_survive_a_restart_of_the_allocator_and_waiters_are_told_to_ask_again(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = holders["a"], holders["b"]
    lease = granted(a, "gpu")
    acquire(b, "gpu")

    def boom(self: ResourceAllocator, msg: Boom, ctx: Context) -> None:
        raise RuntimeError("allocator bug")

    monkeypatch.setattr(ResourceAllocator, "on_boom", boom, raising=False)
    fake_system.tell(RESOURCES_PATH, Boom())
    refused = b.expect(ResourceRefused)

    assert refused.error.error_type == error_name(ResourceError)
    assert "stopped or restarted while this request waited" in refused.error.message
    assert stats(fake_system).resource("gpu").holders == {a.path: 1}
    a.send(RESOURCES_PATH, ReleaseResource(lease_id=lease))
    assert a.expect(ResourceReleased).lease_id == lease


# -- deadlocks ------------------------------------------------------------------------


def _cross_wait(a: HolderHandle, b: HolderHandle) -> None:
    """a holds gpu, b holds disk; a asks disk (waits for b), b asks gpu (the cycle)."""
    granted(a, "gpu")
    granted(b, "disk")
    acquire(a, "disk", priority=1, task_id="train")
    acquire(b, "gpu", task_id="render")


def test_a_deadlock_is_reported_when_the_cycle_forms_and_the_resolver_breaks_it(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    seen = resolver(fake_system, abort="b")
    a, b = holders["a"], holders["b"]
    granted(a, "gpu")
    granted(b, "disk")
    acquire(a, "disk", priority=1, task_id="train")
    assert seen.empty()

    acquire(b, "gpu", task_id="render")

    conflict = seen.get(timeout=2.0).conflict
    assert conflict.conflict_type is ConflictType.DEADLOCK
    assert conflict.involved_agents == ("a", "b")  # in the order their requests came
    assert conflict.involved_tasks == ("train", "render")
    assert conflict.severity == 4
    assert conflict.metadata["priorities"] == {"a": 1, "b": 0}
    assert conflict.metadata["cycle"] == ["b", "a"]
    refused = b.expect(ResourceRefused)
    assert refused.error.error_type == error_name(DeadlockError)
    assert "by the resolver (strategy 'scripted') to break the deadlock b -> a -> b" in (
        refused.error.message
    )
    after = stats(fake_system)
    assert (after.deadlocks, after.deadlocks_broken) == (1, 1)
    assert after.resource("gpu").queue == ()


def test_the_aborted_agent_releasing_its_lease_lets_the_other_finish(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    resolver(fake_system, abort="b")
    a, b = holders["a"], holders["b"]
    granted(a, "gpu")
    disk = granted(b, "disk")
    acquire(a, "disk", priority=1)
    acquire(b, "gpu")
    assert refusal(b) == error_name(DeadlockError)

    b.send(RESOURCES_PATH, ReleaseResource(lease_id=disk))

    b.expect(ResourceReleased)
    assert a.expect(ResourceGranted).resource == "disk"


def test_without_a_resolver_the_lowest_priority_waiter_is_aborted(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    a, b = holders["a"], holders["b"]
    granted(a, "gpu")
    granted(b, "disk")
    acquire(a, "disk", priority=0)
    acquire(b, "gpu", priority=3)

    refused = a.expect(ResourceRefused)

    assert refused.error.error_type == error_name(DeadlockError)
    assert "by the allocator's fallback rule (no resolver took it (unknown_recipient))" in (
        refused.error.message
    )
    assert b.nothing_received()


def test_the_fallback_aborts_the_youngest_request_on_equal_priorities(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    a, b = holders["a"], holders["b"]
    granted(a, "gpu")
    granted(b, "disk")
    acquire(a, "disk")
    acquire(b, "gpu")

    assert refusal(b) == error_name(DeadlockError)
    assert a.nothing_received()


def test_a_resolver_that_does_not_answer_in_time_gets_the_fallback(
    fake_system: ActorSystem,
    clock: FakeClock,
    holders: dict[str, HolderHandle],
    with_disk: None,
) -> None:
    seen = resolver(fake_system, abort=None)
    a, b = holders["a"], holders["b"]
    _cross_wait(a, b)
    seen.get(timeout=2.0)
    assert b.nothing_received()

    clock.advance(5.0)

    assert refusal(b) == error_name(DeadlockError)


def test_a_resolver_that_answers_with_a_failure_gets_the_fallback(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    fake_system.spawn(FailingResolver, "resolver")
    a, b = holders["a"], holders["b"]

    _cross_wait(a, b)

    assert refusal(b) == error_name(DeadlockError)


def test_the_conflict_resolver_breaks_a_deadlock_by_aborting_the_lowest_priority(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    ensure_conflict_resolver(fake_system)
    a, b = holders["a"], holders["b"]

    _cross_wait(a, b)  # a waits with priority 1, b with 0

    refused = b.expect(ResourceRefused)
    assert refused.error.error_type == error_name(DeadlockError)
    assert "by the resolver (strategy 'deadlock')" in refused.error.message
    assert a.nothing_received()


def test_a_cycle_of_three_is_found(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    seen = resolver(fake_system, abort="c")
    a, b, c = holders["a"], holders["b"], holders["c"]
    ensure_resource_allocator(fake_system, {"net": 1})
    granted(a, "gpu")
    granted(b, "disk")
    granted(c, "net")
    acquire(a, "disk")
    acquire(b, "net")
    assert seen.empty()

    acquire(c, "gpu")

    assert seen.get(timeout=2.0).conflict.involved_agents == ("a", "b", "c")
    assert refusal(c) == error_name(DeadlockError)


def test_asking_again_for_a_resource_one_holds_all_of_is_a_deadlock(
    holders: dict[str, HolderHandle],
) -> None:
    a = holders["a"]
    granted(a, "gpu")

    acquire(a, "gpu")

    refused = a.expect(ResourceRefused)
    assert refused.error.error_type == error_name(DeadlockError)
    assert "the deadlock a -> a" in refused.error.message


def test_a_wait_formed_by_a_grant_can_close_a_cycle(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    """a waits for gpu behind b; when c releases it, b gets it while b waits for a's disk."""
    seen = resolver(fake_system, abort="a")
    a, b, c = holders["a"], holders["b"], holders["c"]
    gpu = granted(c, "gpu")
    granted(a, "disk")
    acquire(b, "gpu", priority=2)
    acquire(a, "gpu", priority=1)
    acquire(b, "disk")
    assert seen.empty()

    c.send(RESOURCES_PATH, ReleaseResource(lease_id=gpu))

    assert b.expect(ResourceGranted).resource == "gpu"
    assert seen.get(timeout=2.0).conflict.involved_agents == ("a", "b")
    assert refusal(a) == error_name(DeadlockError)


def test_a_cycle_left_after_a_resolution_is_found_and_broken_too(
    fake_system: ActorSystem, holders: dict[str, HolderHandle], with_disk: None
) -> None:
    """a waits for b twice (disk and net); aborting a's disk request leaves the net cycle."""
    seen = resolver(fake_system, abort="a")
    ensure_resource_allocator(fake_system, {"net": 1})
    a, b = holders["a"], holders["b"]
    granted(a, "gpu")
    granted(b, "disk")
    granted(b, "net")
    acquire(a, "disk")
    acquire(a, "net")

    acquire(b, "gpu")

    first, second = seen.get(timeout=2.0), seen.get(timeout=2.0)
    assert first.conflict.metadata["cycle"] == ["b", "a"]
    assert [t["resource"] for t in first.tasks] == ["disk", "gpu"]
    assert [t["resource"] for t in second.tasks] == ["net", "gpu"]
    assert [refusal(a), refusal(a)] == [error_name(DeadlockError)] * 2
    after = stats(fake_system)
    assert (after.deadlocks, after.deadlocks_broken) == (2, 2)
    assert waiting_ids(fake_system, "gpu") == [b.path]


def test_a_script_holder_keeps_its_leases_when_a_watched_request_for_it_is_refused(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a = holders["a"]
    script = ActorPath("/agents/script")
    a.send(RESOURCES_PATH, AcquireResource(resource="cpu", holder=script, watch_holder=False))
    a.expect(ResourceGranted)

    a.send(RESOURCES_PATH, AcquireResource(resource="cpu", holder=script))

    assert refusal(a) == error_name(HolderGoneError)
    assert stats(fake_system).resource("cpu").holders == {script: 1}


def test_holder_ids_are_agent_ids_under_agents_and_paths_elsewhere() -> None:
    assert holder_id(ActorPath("/agents/researcher")) == "researcher"
    assert holder_id(ActorPath("/agents/team/researcher")) == "/agents/team/researcher"
    assert holder_id(ActorPath("/flows/f1")) == "/flows/f1"


# -- the outside API ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_acquire_and_release_from_outside(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a = holders["a"]

    lease = await acquire_resource(fake_system, "cpu", 2, holder=a.path, task_id="t1")
    during = resource_statistics(fake_system).resource("cpu").in_use
    await release_resource(fake_system, lease)

    assert isinstance(lease, Lease)
    assert (lease.resource, lease.amount, lease.holder, lease.task_id) == ("cpu", 2, a.path, "t1")
    assert during == 2
    assert resource_statistics(fake_system).resource("cpu").in_use == 0
    assert lease.is_released
    with pytest.raises(LeaseError, match=r"^Lease '.*' was released already \(by its holder\)"):
        await release_resource(fake_system, lease)


@pytest.mark.asyncio
async def test_a_lease_is_released_when_its_async_with_block_ends(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    async with await acquire_resource(fake_system, "gpu", holder=holders["a"].path) as lease:
        inside = resource_statistics(fake_system).resource("gpu").holders

    assert inside == {holders["a"].path: 1}
    assert lease.is_released
    assert resource_statistics(fake_system).resource("gpu").in_use == 0


@pytest.mark.asyncio
async def test_outside_refusals_are_raised_as_their_error_class(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a = holders["a"].path

    with pytest.raises(UnknownResourceError, match=r"^Resource 'tpu' is unknown"):
        await acquire_resource(fake_system, "tpu", holder=a)
    with pytest.raises(ResourceCapacityError):
        await acquire_resource(fake_system, "gpu", 2, holder=a)
    with pytest.raises(HolderGoneError):
        await acquire_resource(fake_system, "gpu", holder="/agents/ghost")
    with pytest.raises(ConfigurationError):
        await acquire_resource(fake_system, "gpu", 0, holder=a)


@pytest.mark.asyncio
async def test_an_outside_request_times_out_by_the_fake_clock(
    fake_system: ActorSystem, clock: FakeClock, holders: dict[str, HolderHandle]
) -> None:
    a, b = holders["a"].path, holders["b"].path
    await acquire_resource(fake_system, "gpu", holder=a)
    waiting = asyncio.ensure_future(acquire_resource(fake_system, "gpu", holder=b, timeout=2.0))
    while not resource_statistics(fake_system).resource("gpu").queue:
        await asyncio.sleep(0)  # let the request reach the allocator (no wall time passes)

    clock.advance(2.0)

    with pytest.raises(ResourceTimeoutError):
        await asyncio.wait_for(waiting, 2.0)


@pytest.mark.asyncio
async def test_cancelling_an_outside_request_withdraws_it(
    fake_system: ActorSystem, holders: dict[str, HolderHandle]
) -> None:
    a, b = holders["a"].path, holders["b"].path
    first = await acquire_resource(fake_system, "gpu", holder=a)
    waiting = asyncio.ensure_future(acquire_resource(fake_system, "gpu", holder=b))
    while not resource_statistics(fake_system).resource("gpu").queue:
        await asyncio.sleep(0)

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await release_resource(fake_system, first)

    gpu = resource_statistics(fake_system).resource("gpu")
    assert (gpu.in_use, gpu.queue) == (0, ())


@pytest.mark.asyncio
async def test_without_an_allocator_outside_calls_say_how_to_start_one(
    fake_system: ActorSystem,
) -> None:
    with pytest.raises(ResourceError, match=r"ensure_resource_allocator\(system"):
        await acquire_resource(fake_system, "gpu", holder="/agents", watch_holder=False)


def test_ensure_resource_allocator_refuses_a_bad_capacity(fake_system: ActorSystem) -> None:
    with pytest.raises(ConfigurationError, match=r"^Resource 'gpu' needs a capacity of at least"):
        ensure_resource_allocator(fake_system, {"gpu": 0})


def test_ensure_resource_allocator_twice_keeps_one_allocator_and_adds_resources(
    fake_system: ActorSystem, resources: ActorPath
) -> None:
    again = ensure_resource_allocator(fake_system, {"disk": 2})

    assert again == resources == RESOURCES_PATH
    assert [r.name for r in resource_statistics(fake_system).resources] == ["cpu", "disk", "gpu"]


# -- the wait-for graph (pure) ------------------------------------------------------


def test_find_cycle_returns_the_cycle_through_its_start_or_none() -> None:
    graph = {"a": ["b"], "b": ["c", "d"], "c": [], "d": ["a"], "e": ["a"]}

    assert find_cycle("a", lambda n: graph[n]) == ("a", "b", "d")
    assert find_cycle("e", lambda n: graph[n]) is None
    assert find_cycle("c", lambda n: graph[n]) is None


def test_find_cycle_walks_long_chains_without_recursion() -> None:
    n = 20_000

    found = find_cycle(0, lambda i: [(i + 1) % n])

    assert found is not None
    assert len(found) == n


def test_the_fallback_victim_is_the_lowest_priority_then_the_youngest() -> None:
    old_low = Candidate("/agents/a", "r1", priority=0, arrival=1)
    young_low = Candidate("/agents/b", "r2", priority=0, arrival=2)
    high = Candidate("/agents/c", "r3", priority=5, arrival=3)

    assert choose_victim([old_low, young_low, high]) == young_low
    assert choose_victim([high, old_low]) == old_low
