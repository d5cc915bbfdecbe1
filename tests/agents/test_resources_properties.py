"""Random acquire / release / crash / stop / timeout sequences never exceed a resource's
capacity and never leak a lease: what is in use is the sum of the live leases, every
lease belongs to a live holder that was told of it, and after all holders die nothing
is in use or waiting."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actorflow import ActorSystem, FakeClock
from actorflow.agents.paths import RESOURCES_PATH
from actorflow.agents.resource_messages import (
    AcquireResource,
    ReleaseResource,
    ResourceGranted,
    ResourceRefused,
    ResourceReleased,
    ResourceStatistics,
)
from actorflow.agents.resources import ensure_resource_allocator, resource_statistics
from actorflow.ids import ActorPath, SequentialIds
from tests.agents.conftest import GROUP_STRATEGY, Group, HolderHandle

CAPACITY = {"gpu": 2, "cpu": 3}
NAMES = ("h0", "h1", "h2", "h3")


def quiet(system: ActorSystem) -> ResourceStatistics:
    """Statistics once the allocator has nothing left to do: deadlock fallbacks come back
    to it as messages, so ask until two snapshots in a row agree."""
    last = resource_statistics(system)
    for _ in range(50):
        now = resource_statistics(system)
        if now == last:
            return now
        last = now
    raise AssertionError("the allocator did not settle")


class Allocation(RuleBasedStateMachine):
    """A model of who holds which leases, checked against the allocator after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.system = ActorSystem(clock=self.clock, ids=SequentialIds()).start()
        ensure_resource_allocator(self.system, CAPACITY)
        self.group = self.system.spawn(Group, "holders", strategy=GROUP_STRATEGY)
        self.holders: dict[str, HolderHandle] = {}
        self.leases: dict[str, dict[str, int]] = {}
        """Holder name -> the leases it was told of and has not lost: lease id -> amount."""
        self.released: list[str] = []
        self.grants = 0

    @initialize()
    def spawn_holders(self) -> None:
        for name in NAMES:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.holders[name] = HolderHandle(self.system, name, self.group)
        self.leases[name] = {}

    def _settle(self) -> ResourceStatistics:
        snapshot = quiet(self.system)
        for name, holder in self.holders.items():
            holder.sync()
            for msg in holder.received():
                if isinstance(msg, ResourceGranted):
                    self.leases[name][msg.lease_id] = msg.amount
                    self.grants += 1
                else:
                    assert isinstance(msg, ResourceRefused | ResourceReleased), msg
        return snapshot

    # -- steps ---------------------------------------------------------------------------

    @rule(
        name=st.sampled_from(NAMES),
        resource=st.sampled_from(sorted(CAPACITY)),
        amount=st.integers(1, 4),
        priority=st.integers(0, 2),
        timeout=st.sampled_from([None, 0.0, 1.0, 2.5]),
    )
    def acquire(
        self, name: str, resource: str, amount: int, priority: int, timeout: float | None
    ) -> None:
        holder = self.holders[name]
        request = AcquireResource(
            resource=resource, amount=amount, priority=priority, holder=holder.path, timeout=timeout
        )
        holder.send(RESOURCES_PATH, request)
        self._settle()

    @precondition(lambda self: any(self.leases.values()))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([n for n in NAMES if self.leases[n]]))
        lease_id = data.draw(st.sampled_from(sorted(self.leases[name])))
        holder = self.holders[name]
        holder.send(RESOURCES_PATH, ReleaseResource(lease_id=lease_id))
        del self.leases[name][lease_id]
        self.released.append(lease_id)
        self._settle()

    @precondition(lambda self: bool(self.released))
    @rule(data=st.data())
    def release_again(self, data: st.DataObject) -> None:
        lease_id = data.draw(st.sampled_from(self.released))
        holder = self.holders[NAMES[0]]
        holder.send(RESOURCES_PATH, ReleaseResource(lease_id=lease_id))
        quiet(self.system)
        holder.sync()
        refusals = [m for m in holder.received() if isinstance(m, ResourceRefused)]
        assert any(r.lease_id == lease_id for r in refusals)
        self._settle()

    @rule(name=st.sampled_from(NAMES))
    def crash(self, name: str) -> None:
        self._settle()
        self.holders[name].crash()
        self.leases[name] = {}
        self._settle()

    @rule(name=st.sampled_from(NAMES))
    def stop_and_respawn(self, name: str) -> None:
        self._settle()
        self.system.stop(self.holders[name].path)
        self._spawn(name)
        self._settle()

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self._settle()

    # -- what must always hold -------------------------------------------------------

    @invariant()
    def capacity_is_never_exceeded_and_no_lease_leaks(self) -> None:
        snapshot = self._settle()
        for resource in snapshot.resources:
            assert resource.in_use == sum(lease.amount for lease in resource.leases)
            assert 0 <= resource.in_use <= resource.capacity
            if resource.queue:  # nobody waits while the head of the queue would fit
                assert resource.queue[0].amount > resource.capacity - resource.in_use
        held = {
            ActorPath(self.holders[name].path): dict(leases)
            for name, leases in self.leases.items()
            if leases
        }
        actual: dict[ActorPath, dict[str, int]] = {}
        for resource in snapshot.resources:
            for lease in resource.leases:
                actual.setdefault(lease.holder, {})[lease.lease_id] = lease.amount
        assert actual == held

    def teardown(self) -> None:
        try:
            if self.system.is_running:
                self._settle()
                for holder in self.holders.values():
                    self.system.stop(holder.path)
                after = quiet(self.system)
                for resource in after.resources:
                    assert (resource.in_use, resource.leases, resource.queue) == (0, (), ())
        finally:
            self.system.shutdown()


Allocation.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, derandomize=False
)

TestAllocation = Allocation.TestCase
