"""The resource allocator at ``/agents/resources``: named resources with capacities,
priority queues, leases released when their holder dies, and deadlock detection.

Rules (see :mod:`actorflow.agents.resource_messages` for the messages):

- Each resource has a capacity; a lease holds ``amount`` units until it is released.
  A request for more than the capacity is refused at once (``ResourceCapacityError``),
  one for an unknown resource too (``UnknownResourceError``).
- Each resource has a queue, served strictly in order: higher priority first, first
  come first within a priority. **No barging, no backfilling**: a request at the head
  that does not fit yet blocks the smaller ones behind it, even those that would fit.
  That costs some use of the resource while the head waits, and buys what matters more
  for agents: a big request (a whole GPU node) is never starved by a stream of small
  ones, and the order of service is predictable from priorities and arrival alone.
- A waiting request with a timeout is refused with ``ResourceTimeoutError`` when the
  timeout passes on the system clock (a timer message, so a ``FakeClock`` drives it);
  timeout ``0`` means "now or never".
- **Leases die with their holder.** The allocator watches each holder
  (:mod:`actorflow.runtime.watch`); when it stops, or is restarted (its behaviour, and
  what it knew of its leases, is gone), its leases are released and its waiting
  requests dropped. A request whose holder is no live actor is refused
  (``HolderGoneError``) unless it says ``watch_holder=False`` (a script's lease).
- **Deadlocks.** Holder ``A`` waiting on a resource held by ``B`` is an edge ``A -> B``
  of the wait-for graph (:mod:`actorflow.agents._waitfor`). When a new wait closes a
  cycle, the allocator reports a ``DEADLOCK`` :class:`~actorflow.agents.conflicts.Conflict`
  to the resolver (``ctx.request`` with a timeout) and carries out its
  ``ResolutionAction(action="abort", agent_id=X)``: X's waiting requests in the cycle
  are refused with ``DeadlockError`` (X's code then releases what it holds). If no
  resolver runs, it does not answer in time, answers with a failure, or names no member
  of the cycle to abort, the allocator logs a WARNING and falls back to its own rule:
  **abort the waiter with the lowest priority; on a tie, the youngest request**.
- Leases survive a restart of the allocator itself (they are kept in a ledger outside
  its behaviour); requests waiting at that moment are refused with ``ResourceError``
  (ask again).

From outside the actors (scripts, an agent's async task work): :func:`acquire_resource`,
:func:`release_resource` (both awaited), :func:`define_resource` and
:func:`resource_statistics`. Handlers use the messages with ``ctx.request`` instead.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import final

from loguru import logger
from pydantic import BaseModel, ConfigDict, JsonValue, PrivateAttr, ValidationError

from actorflow.agents._owned import ensure_actor
from actorflow.agents._waitfor import (
    Candidate,
    WaitEdge,
    choose_victim,
    deadlock_conflict,
    find_cycle,
    holder_id,
)
from actorflow.agents.conflicts import (
    Conflict,
    ConflictRefused,
    ConflictResolved,
    ResolveConflict,
)
from actorflow.agents.paths import RESOLVER_PATH, RESOURCES_PATH
from actorflow.agents.resource_messages import (
    AcquireResource,
    CancelAcquire,
    DefineResource,
    GetResourceStatistics,
    HolderGoneError,
    LeaseInfo,
    ReleaseResource,
    RequestExpired,
    ResourceDefined,
    ResourceGranted,
    ResourceRefused,
    ResourceReleased,
    ResourceSnapshot,
    ResourceStatistics,
    WaitingInfo,
)
from actorflow.errors import (
    ActorflowError,
    AskTimeoutError,
    ConfigurationError,
    DeadlockError,
    DeliveryFailedError,
    LeaseError,
    ResourceCapacityError,
    ResourceError,
    ResourceTimeoutError,
    UnknownResourceError,
)
from actorflow.ids import ActorPath, CorrelationId, TimerId, actor_path
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeadLetterReason, DeliveryFailed, RequestTimedOut
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.cell import error_info
from actorflow.runtime.context import Context
from actorflow.runtime.system import ActorSystem
from actorflow.runtime.watch import (
    WatchedActorDown,
    incarnation_of,
    unwatch,
    watch_incarnation,
)

__all__ = [
    "Lease",
    "RESOLVER_TIMEOUT",
    "ResourceAllocator",
    "acquire_resource",
    "define_resource",
    "ensure_resource_allocator",
    "holder_id",
    "release_resource",
    "resource_statistics",
]

RESOLVER_TIMEOUT = 5.0
"""Seconds (system clock) the allocator waits for the resolver before its fallback rule."""
_ASK_BACKSTOP = 24 * 3600.0
"""Wall seconds an outside acquire waits beyond its own timeout (the allocator answers
every request; this only ends a wait on an allocator that was stopped for good)."""
_ENDED_MEMORY = 4096


# -- the ledger (outlives the allocator's behaviour) -------------------------------------


@dataclass(slots=True, eq=False)
class _Waiting:
    request_id: str
    resource: str
    amount: int
    priority: int
    holder: ActorPath
    task_id: str
    timeout: float | None
    arrival: int
    arrived_at: float
    """When it arrived (system clock, epoch seconds)."""
    envelope: Envelope | None
    timer: TimerId | None = None

    def info(self) -> WaitingInfo:
        return WaitingInfo(
            request_id=self.request_id,
            holder=self.holder,
            amount=self.amount,
            priority=self.priority,
            task_id=self.task_id,
        )


@dataclass(slots=True, eq=False)
class _Held:
    lease_id: str
    resource: str
    amount: int
    holder: ActorPath
    request_id: str
    task_id: str


@dataclass(slots=True, eq=False)
class _Pool:
    name: str
    capacity: int
    in_use: int = 0
    leases: dict[str, _Held] = field(default_factory=dict)
    queue: list[_Waiting] = field(default_factory=list)
    """In service order: (-priority, arrival)."""

    @property
    def free(self) -> int:
        return self.capacity - self.in_use

    def holders(self) -> Iterator[ActorPath]:
        return iter({lease.holder: None for lease in self.leases.values()})


@dataclass(slots=True, eq=False)
class _Holder:
    watched: bool = False
    incarnation: int = 0
    """The actor at the holder's path that is watched (``incarnation_of``)."""
    leases: set[str] = field(default_factory=set)
    waiting: set[str] = field(default_factory=set)


@final
class _Ledger:
    """What the allocator knows: resources, leases, waiting requests, holders, counters.

    Only the allocator's thread touches it; it is handed to each new behaviour so leases
    survive a restart of the allocator.
    """

    def __init__(self) -> None:
        self.pools: dict[str, _Pool] = {}
        self.leases: dict[str, _Held] = {}
        self.waiting: dict[str, _Waiting] = {}
        self.granted_for: dict[str, str] = {}
        """Request id -> lease id, while the lease is held (to cancel a granted request)."""
        self.holders: dict[ActorPath, _Holder] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()
        """Recently released leases -> how, for a clear LeaseError."""
        self.arrivals = 0
        self.counts = dict.fromkeys(
            (
                "granted",
                "released",
                "released_on_holder_down",
                "refused",
                "timed_out",
                "deadlocks",
                "deadlocks_broken",
            ),
            0,
        )

    def statistics(self) -> ResourceStatistics:
        snapshots = tuple(
            ResourceSnapshot(
                name=pool.name,
                capacity=pool.capacity,
                in_use=pool.in_use,
                leases=tuple(
                    LeaseInfo(
                        lease_id=h.lease_id, holder=h.holder, amount=h.amount, task_id=h.task_id
                    )
                    for h in pool.leases.values()
                ),
                queue=tuple(w.info() for w in pool.queue),
            )
            for _, pool in sorted(self.pools.items())
        )
        return ResourceStatistics(resources=snapshots, **self.counts)

    def forget_ended(self, lease_id: str, how: str) -> None:
        self.ended[lease_id] = how
        if len(self.ended) > _ENDED_MEMORY:
            self.ended.popitem(last=False)


@dataclass(slots=True, eq=False)
class _Deadlock:
    conflict: Conflict
    edges: tuple[WaitEdge, ...]
    key: frozenset[str]
    members: dict[str, ActorPath]
    """Agent id in the conflict -> holder path."""


# -- the allocator -----------------------------------------------------------------------


class ResourceAllocator(Behaviour):
    """Behaviour of ``/agents/resources`` (see the module docstring for its rules).

    Args:
        ledger: where resources and leases are kept (outlives restarts).
        resolver: where deadlock conflicts are reported.
        resolver_timeout: seconds to wait for the resolver before the fallback rule.
    """

    def __init__(
        self,
        ledger: _Ledger,
        *,
        resolver: ActorPath = RESOLVER_PATH,
        resolver_timeout: float = RESOLVER_TIMEOUT,
    ) -> None:
        self.ledger = ledger
        self.resolver = resolver
        self.resolver_timeout = resolver_timeout
        self.pending: dict[CorrelationId, _Deadlock] = {}
        """Deadlocks reported to the resolver, by the request's correlation id."""
        self.reported: set[frozenset[str]] = set()
        """The request ids of each cycle under resolution (not reported twice)."""

    def on_stop(self, ctx: Context) -> None:
        """Refuse the waiting requests (their timers die with this behaviour); keep leases."""
        error = ResourceError(
            f"The resource allocator {ctx.path!r} stopped or restarted while this request "
            "waited; the leases it granted are kept. Ask again."
        )
        for waiting in list(self.ledger.waiting.values()):
            self._drop(waiting, ctx, error, regrant=False)

    # -- declaring -------------------------------------------------------------------

    def on_define_resource(self, msg: DefineResource, ctx: Context) -> None:
        """Declare a resource or change its capacity (not below what is in use)."""
        if not msg.name:
            problem = ResourceError("A resource needs a name; got ''. Name it, such as 'gpu'.")
            self._refuse(ctx.envelope, problem, ctx, counted=False)
            return
        pool = self.ledger.pools.get(msg.name)
        if pool is None:
            pool = self.ledger.pools[msg.name] = _Pool(msg.name, msg.capacity)
        elif msg.capacity < pool.in_use:
            problem = ResourceCapacityError(
                f"Resource {msg.name!r} cannot shrink to {msg.capacity}: {pool.in_use} "
                "unit(s) are in use. Wait for releases, or pick a capacity of at least that."
            )
            self._refuse(ctx.envelope, problem, ctx, resource=msg.name, counted=False)
            return
        pool.capacity = msg.capacity
        for waiting in [w for w in pool.queue if w.amount > pool.capacity]:
            self._drop(waiting, ctx, self._too_big(waiting.amount, pool), regrant=False)
        self._answer(ctx.envelope, ResourceDefined(name=msg.name, capacity=msg.capacity), ctx)
        self._grant_ready(pool, ctx)

    # -- acquiring -------------------------------------------------------------------

    def on_acquire_resource(self, msg: AcquireResource, ctx: Context) -> None:
        """Grant the request, queue it, or refuse it."""
        try:
            pool = self._admit(msg, ctx)
        except ResourceError as exc:
            self._refuse(ctx.envelope, exc, ctx, resource=msg.resource, request=msg.request_id)
            return
        self.ledger.arrivals += 1
        waiting = _Waiting(
            msg.request_id or ctx.new_id("request"),
            msg.resource,
            msg.amount,
            msg.priority,
            msg.holder,
            msg.task_id,
            msg.timeout,
            self.ledger.arrivals,
            ctx.clock.time(),
            ctx.envelope,
        )
        self._enqueue(waiting, pool, ctx)

    def _admit(self, msg: AcquireResource, ctx: Context) -> _Pool:
        """Return the request's pool, after the checks that refuse it at once."""
        pool = self.ledger.pools.get(msg.resource)
        if pool is None:
            known = ", ".join(repr(n) for n in sorted(self.ledger.pools)) or "none"
            raise UnknownResourceError(
                f"Resource {msg.resource!r} is unknown (known: {known}). Declare it first "
                f"with its capacity: ensure_resource_allocator(system, {{{msg.resource!r}: 1}})"
                " or a DefineResource message."
            )
        if msg.amount > pool.capacity:
            raise self._too_big(msg.amount, pool)
        rid = msg.request_id
        if rid and (rid in self.ledger.waiting or rid in self.ledger.granted_for):
            raise ResourceError(
                f"Request id {rid!r} is in use by a request still waiting or holding a "
                "lease. Give each request its own id (or none: the allocator makes one)."
            )
        self._track(msg.holder, ctx, watched=msg.watch_holder)
        return pool

    def _track(self, holder: ActorPath, ctx: Context, *, watched: bool) -> None:
        state = self.ledger.holders.get(holder)
        if state is not None and state.watched:
            if state.incarnation == incarnation_of(ctx.system, holder):
                return
            # Another actor holds the path now: the watched one stopped, and its notice
            # has not come yet. Its leases go now; the notice will be about an old actor.
            self._holder_gone(holder, state, "stopped", ctx)
            state = None
        if state is not None and not watched:
            return
        incarnation = watch_incarnation(ctx.system, ctx.path, holder) if watched else 0
        if watched and not incarnation:
            raise HolderGoneError(
                f"Holder {holder!r} is not a live actor, so its lease could not be released "
                "when it dies. Name the agent's own path as holder, or pass "
                "watch_holder=False for a holder that is no actor (a script)."
            )
        if state is None:
            state = self.ledger.holders[holder] = _Holder()
        if watched:
            state.watched = True
            state.incarnation = incarnation

    def _enqueue(self, waiting: _Waiting, pool: _Pool, ctx: Context) -> None:
        self.ledger.waiting[waiting.request_id] = waiting
        self.ledger.holders[waiting.holder].waiting.add(waiting.request_id)
        key = (-waiting.priority, waiting.arrival)
        index = next(
            (i for i, w in enumerate(pool.queue) if (-w.priority, w.arrival) > key),
            len(pool.queue),
        )
        pool.queue.insert(index, waiting)
        self._grant_ready(pool, ctx)
        if waiting.request_id not in self.ledger.waiting:
            return  # granted at once
        if waiting.timeout == 0:
            self.ledger.counts["timed_out"] += 1
            self._drop(waiting, ctx, self._timed_out(waiting, pool))
            return
        if waiting.timeout is not None:
            waiting.timer = ctx.schedule(
                waiting.timeout, RequestExpired(request_id=waiting.request_id)
            )
        self._check_deadlock(waiting.holder, ctx)

    def _grant_ready(self, pool: _Pool, ctx: Context) -> None:
        """Grant from the head of the queue while the head fits (no barging)."""
        granted: list[ActorPath] = []
        while pool.queue and pool.queue[0].amount <= pool.free:
            waiting = pool.queue.pop(0)
            self._grant(waiting, pool, ctx)
            granted.append(waiting.holder)
        if pool.queue:  # those still waiting now also wait for the new holders
            for holder in dict.fromkeys(granted):
                if self.ledger.holders.get(holder, _Holder()).waiting:
                    self._check_deadlock(holder, ctx)

    def _grant(self, waiting: _Waiting, pool: _Pool, ctx: Context) -> None:
        ledger = self.ledger
        del ledger.waiting[waiting.request_id]
        if waiting.timer is not None:
            ctx.cancel_timer(waiting.timer)
        held = _Held(
            ctx.new_id("lease"),
            pool.name,
            waiting.amount,
            waiting.holder,
            waiting.request_id,
            waiting.task_id,
        )
        pool.in_use += held.amount
        pool.leases[held.lease_id] = ledger.leases[held.lease_id] = held
        ledger.granted_for[held.request_id] = held.lease_id
        state = ledger.holders[held.holder]
        state.waiting.discard(waiting.request_id)
        state.leases.add(held.lease_id)
        ledger.counts["granted"] += 1
        granted = ResourceGranted(
            lease_id=held.lease_id,
            resource=pool.name,
            amount=held.amount,
            holder=held.holder,
            request_id=held.request_id,
            task_id=held.task_id,
            priority=waiting.priority,
        )
        self._answer(waiting.envelope, granted, ctx)

    # -- releasing -------------------------------------------------------------------

    def on_release_resource(self, msg: ReleaseResource, ctx: Context) -> None:
        """Release a lease, then serve the queue."""
        held = self.ledger.leases.get(msg.lease_id)
        if held is None:
            how = self.ledger.ended.get(msg.lease_id)
            why = f"was released already ({how})" if how else "is unknown"
            problem = LeaseError(
                f"Lease {msg.lease_id!r} {why}. Release each lease once, with the id its "
                "grant gave."
            )
            self._refuse(ctx.envelope, problem, ctx, lease=msg.lease_id, counted=False)
            return
        pool = self._free(held, "by its holder")
        self._forget_idle(held, ctx)
        self._answer(
            ctx.envelope,
            ResourceReleased(lease_id=held.lease_id, resource=held.resource, amount=held.amount),
            ctx,
        )
        self._grant_ready(pool, ctx)

    def _free(self, held: _Held, how: str) -> _Pool:
        ledger = self.ledger
        del ledger.leases[held.lease_id]
        ledger.granted_for.pop(held.request_id, None)
        pool = ledger.pools[held.resource]
        del pool.leases[held.lease_id]
        pool.in_use -= held.amount
        ledger.counts["released"] += 1
        ledger.forget_ended(held.lease_id, how)
        state = ledger.holders.get(held.holder)
        if state is not None:
            state.leases.discard(held.lease_id)
        return pool

    def on_cancel_acquire(self, msg: CancelAcquire, ctx: Context) -> None:
        """Drop a waiting request, or release the lease it was granted (not answered)."""
        waiting = self.ledger.waiting.get(msg.request_id)
        if waiting is not None:
            self._drop(waiting, ctx, None)
            return
        lease_id = self.ledger.granted_for.get(msg.request_id)
        if lease_id is not None:
            held = self.ledger.leases[lease_id]
            pool = self._free(held, "its request was cancelled")
            self._forget_idle(held, ctx)
            self._grant_ready(pool, ctx)

    def on_request_expired(self, msg: RequestExpired, ctx: Context) -> None:
        """Refuse a request whose timeout passed (a timer that lost a race is ignored)."""
        waiting = self.ledger.waiting.get(msg.request_id)
        if waiting is not None:
            waiting.timer = None
            pool = self.ledger.pools[waiting.resource]
            self.ledger.counts["timed_out"] += 1
            self._drop(waiting, ctx, self._timed_out(waiting, pool))

    def on_watched_actor_down(self, msg: WatchedActorDown, ctx: Context) -> None:
        """Release a dead (or restarted) holder's leases and drop its waiting requests."""
        state = self.ledger.holders.get(msg.path)
        if state is None or not state.watched:
            return  # not ours to release: a holder that is no actor keeps its leases
        if not msg.restarted and state.incarnation == incarnation_of(ctx.system, msg.path):
            return  # the watched actor lives: the notice is about an older one at its path
        what = "restarted" if msg.restarted else f"stopped ({msg.reason})"
        self._holder_gone(msg.path, state, what, ctx)
        if msg.restarted:
            unwatch(ctx.system, ctx.path, msg.path)

    def _holder_gone(self, holder: ActorPath, state: _Holder, what: str, ctx: Context) -> None:
        """Release the leases of a holder that stopped or restarted, drop its requests."""
        del self.ledger.holders[holder]
        gone = HolderGoneError(
            f"Holder {holder!r} {what} while its request waited; the request was dropped."
        )
        pools = {self.ledger.waiting[r].resource for r in state.waiting}
        for request_id in list(state.waiting):
            self._drop(self.ledger.waiting[request_id], ctx, gone, regrant=False)
        for lease_id in list(state.leases):
            pools.add(self._free(self.ledger.leases[lease_id], f"its holder {what}").name)
            self.ledger.counts["released_on_holder_down"] += 1
        if state.leases:
            ctx.log.info(
                "Released {count} lease(s) of {holder}: it {what}",
                count=len(state.leases),
                holder=holder,
                what=what,
            )
        for name in sorted(pools):
            self._grant_ready(self.ledger.pools[name], ctx)

    # -- inspecting ------------------------------------------------------------------

    def on_get_resource_statistics(self, msg: GetResourceStatistics, ctx: Context) -> None:
        """Reply with a snapshot of every resource and the counters."""
        self._answer(ctx.envelope, self.ledger.statistics(), ctx)

    # -- deadlocks -------------------------------------------------------------------

    def _waits_for(self, holder: ActorPath) -> Iterator[ActorPath]:
        state = self.ledger.holders.get(holder)
        if state is None:
            return iter(())
        pools = {self.ledger.waiting[r].resource for r in state.waiting}
        return iter({h: None for name in sorted(pools) for h in self.ledger.pools[name].holders()})

    def _check_deadlock(self, start: ActorPath, ctx: Context) -> None:
        """Report the cycle through ``start`` to the resolver, if there is one."""
        cycle = find_cycle(start, self._waits_for)
        if cycle is None:
            return
        edges = tuple(self._edge(a, cycle[(i + 1) % len(cycle)]) for i, a in enumerate(cycle))
        key = frozenset(e.request_id for e in edges)
        if key in self.reported:
            return
        deadlock, tasks = self._deadlock(edges, key, ctx)
        self.reported.add(key)
        self.ledger.counts["deadlocks"] += 1
        ctx.log.warning(
            "Deadlock {conflict_id}: {cycle}; reported to {resolver}",
            conflict_id=deadlock.conflict.id,
            cycle=_cycle_text(deadlock),
            resolver=self.resolver,
        )
        request = ResolveConflict(conflict=deadlock.conflict, tasks=tasks)
        cid = ctx.request(self.resolver, request, timeout=self.resolver_timeout)
        self.pending[cid] = deadlock

    def _edge(self, waiter: ActorPath, holder: ActorPath) -> WaitEdge:
        ledger = self.ledger
        for request_id in sorted(
            ledger.holders[waiter].waiting, key=lambda r: ledger.waiting[r].arrival
        ):
            resource = ledger.waiting[request_id].resource
            if holder in set(ledger.pools[resource].holders()):
                return WaitEdge(waiter, holder, resource, request_id)
        raise AssertionError(f"{waiter} does not wait for {holder}")  # find_cycle's edge

    def _deadlock(
        self, edges: tuple[WaitEdge, ...], key: frozenset[str], ctx: Context
    ) -> tuple[_Deadlock, tuple[dict[str, JsonValue], ...]]:
        conflict, tasks = deadlock_conflict(
            ctx.new_id("deadlock"), edges, self.ledger.waiting, created_at=ctx.clock.time()
        )
        members = {holder_id(e.waiter): ActorPath(e.waiter) for e in edges}
        return _Deadlock(conflict, edges, key, members), tasks

    def on_conflict_resolved(self, msg: ConflictResolved, ctx: Context) -> None:
        """Carry out the resolver's abort actions on a reported deadlock."""
        deadlock = self._take_pending(ctx)
        if deadlock is None:
            return
        if not self._intact(deadlock, ctx):
            return
        resolution = msg.resolution
        victims = tuple(
            dict.fromkeys(
                a.agent_id
                for a in resolution.actions
                if a.action == "abort" and a.agent_id in deadlock.members
            )
        )
        how = f"by the resolver (strategy {resolution.strategy!r})"
        if not victims:
            self._fallback(deadlock, "its resolution aborts no agent of the cycle", ctx)
            return
        self._break(deadlock, victims, how, ctx)

    def on_conflict_refused(self, msg: ConflictRefused, ctx: Context) -> None:
        """The resolver could not resolve it: use the fallback rule."""
        deadlock = self._take_pending(ctx)
        if deadlock is not None:
            self._fallback(deadlock, f"the resolver refused it: {msg.error.message}", ctx)

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        """The resolver did not answer in time: use the fallback rule."""
        deadlock = self.pending.pop(msg.correlation_id, None)
        if deadlock is not None:
            self._fallback(deadlock, f"the resolver did not answer within {msg.timeout:g} s", ctx)

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        """No resolver took the conflict: use the fallback rule."""
        deadlock = self._take_pending(ctx)
        if deadlock is not None:
            self._fallback(deadlock, f"no resolver took it ({msg.reason.value})", ctx)

    def on_message(self, msg: Message, ctx: Context) -> None:
        """A resolver's failure reply falls back; anything else is an unhandled dead letter."""
        deadlock = self._take_pending(ctx)
        if deadlock is not None:
            self._fallback(deadlock, f"the resolver answered {msg.kind_tag!r}", ctx)
            return
        ctx.system.dead_letters.record(
            DeadLetterReason.UNHANDLED,
            env=ctx.envelope,
            detail=f"ResourceAllocator has no handler for {type(msg).__name__}",
        )

    def _take_pending(self, ctx: Context) -> _Deadlock | None:
        env = ctx.envelope
        cid = None if env is None else env.correlation_id
        return None if cid is None else self.pending.pop(cid, None)

    def _fallback(self, deadlock: _Deadlock, why: str, ctx: Context) -> None:
        """Break the cycle by the allocator's own rule (lowest priority, then youngest)."""
        if not self._intact(deadlock, ctx):
            return
        requests = [(e, self.ledger.waiting[e.request_id]) for e in deadlock.edges]
        victim = choose_victim(
            [Candidate(e.waiter, e.request_id, w.priority, w.arrival) for e, w in requests]
        )
        ctx.log.warning(
            "Deadlock {conflict_id}: {why}; falling back to aborting the lowest-priority, "
            "youngest waiter {victim}",
            conflict_id=deadlock.conflict.id,
            why=why,
            victim=victim.holder,
        )
        how = f"by the allocator's fallback rule ({why})"
        self._break(deadlock, (holder_id(ActorPath(victim.holder)),), how, ctx)

    def _intact(self, deadlock: _Deadlock, ctx: Context) -> bool:
        """Whether every request of the cycle still waits (else look for what is left)."""
        self.reported.discard(deadlock.key)
        if all(r in self.ledger.waiting for r in deadlock.key):
            return True
        ctx.log.info("Deadlock {id} broke before it was resolved", id=deadlock.conflict.id)
        self._recheck(deadlock, ctx)
        return False

    def _break(self, deadlock: _Deadlock, victims: tuple[str, ...], how: str, ctx: Context) -> None:
        """Refuse the victims' requests in the cycle with ``DeadlockError``."""
        cycle = _cycle_text(deadlock)
        for victim in victims:
            path = deadlock.members[victim]
            for edge in deadlock.edges:
                waiting = self.ledger.waiting.get(edge.request_id)
                if edge.waiter != path or waiting is None:
                    continue
                problem = DeadlockError(
                    f"Request {waiting.request_id!r} of {victim!r} for {waiting.amount} of "
                    f"{waiting.resource!r} was refused {how} to break the deadlock {cycle} "
                    f"(conflict {deadlock.conflict.id!r}). Release what {victim!r} holds and "
                    "try again."
                )
                self._drop(waiting, ctx, problem)
        self.ledger.counts["deadlocks_broken"] += 1
        self._recheck(deadlock, ctx)

    def _recheck(self, deadlock: _Deadlock, ctx: Context) -> None:
        """Look again for cycles through the members that still wait (one may have been in
        two cycles, or a cycle found while this one was under resolution was skipped)."""
        for path in deadlock.members.values():
            state = self.ledger.holders.get(path)
            if state is not None and state.waiting:
                self._check_deadlock(path, ctx)

    # -- helpers ---------------------------------------------------------------------

    def _drop(
        self, waiting: _Waiting, ctx: Context, error: ResourceError | None, *, regrant: bool = True
    ) -> None:
        """Take a request out of its queue; refuse it with ``error`` (if any)."""
        ledger = self.ledger
        if ledger.waiting.pop(waiting.request_id, None) is None:
            return
        pool = ledger.pools[waiting.resource]
        pool.queue.remove(waiting)
        if waiting.timer is not None:
            ctx.cancel_timer(waiting.timer)
        state = ledger.holders.get(waiting.holder)
        if state is not None:
            state.waiting.discard(waiting.request_id)
        if error is not None:
            self._refuse(
                waiting.envelope,
                error,
                ctx,
                resource=waiting.resource,
                request=waiting.request_id,
                skip=waiting.holder if isinstance(error, HolderGoneError) else None,
            )
        if state is not None and not state.leases and not state.waiting:
            self._forget_holder(waiting.holder, ctx)
        if regrant:
            self._grant_ready(pool, ctx)

    def _forget_holder(self, holder: ActorPath, ctx: Context) -> None:
        state = self.ledger.holders.pop(holder, None)
        if state is not None and state.watched:
            unwatch(ctx.system, ctx.path, holder)

    def _forget_idle(self, held: _Held, ctx: Context) -> None:
        state = self.ledger.holders.get(held.holder)
        if state is not None and not state.leases and not state.waiting:
            self._forget_holder(held.holder, ctx)

    def _refuse(
        self,
        env: Envelope | None,
        error: ResourceError,
        ctx: Context,
        *,
        resource: str = "",
        request: str = "",
        lease: str = "",
        skip: ActorPath | None = None,
        counted: bool = True,
    ) -> None:
        if counted:
            self.ledger.counts["refused"] += 1
        ctx.log.debug("Refused: {error}", error=str(error))
        refusal = ResourceRefused(
            resource=resource, request_id=request, lease_id=lease, error=error_info(error)
        )
        if env is not None and (env.reply_to or env.sender) != skip:
            self._answer(env, refusal, ctx)

    @staticmethod
    def _answer(env: Envelope | None, message: Message, ctx: Context) -> None:
        if env is None or (env.reply_to is None and env.sender is None):
            ctx.log.debug("Nobody to tell {kind}", kind=message.kind_tag)
            return
        ctx.reply(message, to=env)

    @staticmethod
    def _too_big(amount: int, pool: _Pool) -> ResourceCapacityError:
        return ResourceCapacityError(
            f"A request for {amount} of {pool.name!r} can never be granted: its capacity is "
            f"{pool.capacity}. Ask for at most {pool.capacity}, or raise the capacity with "
            "DefineResource."
        )

    @staticmethod
    def _timed_out(waiting: _Waiting, pool: _Pool) -> ResourceTimeoutError:
        ahead = next((i for i, w in enumerate(pool.queue) if w is waiting), len(pool.queue))
        return ResourceTimeoutError(
            f"Request {waiting.request_id!r} of {waiting.holder!r} for {waiting.amount} of "
            f"{pool.name!r} was not granted within {waiting.timeout or 0:g} s "
            f"({pool.in_use}/{pool.capacity} in use, {ahead} request(s) ahead). Ask with a "
            "longer timeout or a higher priority, or release leases sooner."
        )


def _cycle_text(deadlock: _Deadlock) -> str:
    cycle = deadlock.conflict.metadata.get("cycle")
    names = [str(n) for n in cycle] if isinstance(cycle, list) else list(deadlock.members)
    return " -> ".join((*names, names[0]))


# -- from outside the actors -------------------------------------------------------------


class _Link:
    """A lease's tie to its system: runtime state, never data (equal to every link)."""

    __slots__ = ("is_released", "system")

    def __init__(self, system: ActorSystem | None) -> None:
        self.system = system
        self.is_released = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Link)

    __hash__ = None  # type: ignore[assignment] # mutable: not hashable


class Lease(BaseModel):
    """Units of a resource held until released; works as ``async with`` (released on exit).

    Example::

        async with await acquire_resource(system, "gpu", holder=agent) as lease:
            ...  # use the GPU
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    lease_id: str
    resource: str
    amount: int
    holder: ActorPath
    request_id: str
    task_id: str = ""
    priority: int = 0
    _link: _Link = PrivateAttr(default_factory=lambda: _Link(None))

    @classmethod
    def from_grant(cls, granted: ResourceGranted, system: ActorSystem | None = None) -> Lease:
        """Return the lease a grant gave (tied to ``system`` for ``async with``)."""
        lease = cls.model_validate(granted.model_dump(exclude={"kind"}))
        lease._link = _Link(system)
        return lease

    @property
    def is_released(self) -> bool:
        """Whether :func:`release_resource` released it (a holder's death is not seen here)."""
        return self._link.is_released

    async def release(self) -> None:
        """Release it (see :func:`release_resource`).

        Raises:
            ConfigurationError: the lease was not made by :func:`acquire_resource`.
        """
        system = self._link.system
        if system is None:
            raise ConfigurationError(
                f"Lease {self.lease_id!r} is not tied to an actor system; release it with "
                "release_resource(system, lease)."
            )
        await release_resource(system, self)

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.is_released:
            return
        try:
            await self.release()
        except LeaseError:
            if exc is None:
                raise
            # The block's own error matters more (the lease went with its holder, say).
            logger.warning("Lease {lease_id} was already released", lease_id=self.lease_id)


_REFUSALS: dict[str, type[ResourceError]] = {
    f"{cls.__module__}.{cls.__qualname__}": cls
    for cls in (
        UnknownResourceError,
        ResourceCapacityError,
        ResourceTimeoutError,
        DeadlockError,
        LeaseError,
        HolderGoneError,
        ResourceError,
    )
}


def _raise_refusal(reply: Message) -> None:
    if isinstance(reply, ResourceRefused):
        raise _REFUSALS.get(reply.error.error_type, ResourceError)(reply.error.message)


def _no_allocator(exc: DeliveryFailedError) -> ResourceError:
    return ResourceError(
        f"No resource allocator took the request at {RESOURCES_PATH!r}: {exc} Start one "
        "with ensure_resource_allocator(system, {'gpu': 1})."
    )


async def acquire_resource(
    system: ActorSystem,
    resource: str,
    amount: int = 1,
    *,
    holder: ActorPath | str,
    priority: int = 0,
    timeout: float | None = None,
    task_id: str = "",
    watch_holder: bool = True,
) -> Lease:
    """Wait until ``amount`` units of ``resource`` are granted to ``holder``; return the lease.

    For code outside the actors: scripts, and an agent's async task work (``holder`` is
    then the agent's path). Never call it in a handler: use ``ctx.request`` with
    :class:`AcquireResource` there. If the awaiting task is cancelled, the request is
    withdrawn (a lease granted meanwhile is released).

    Args:
        holder: the actor the lease belongs to; its leases are released when it stops or
            restarts (unless ``watch_holder`` is False).
        priority: higher is served first.
        timeout: seconds (system clock) to wait in the queue; ``None`` waits for ever.

    Raises:
        UnknownResourceError, ResourceCapacityError, ResourceTimeoutError, DeadlockError,
        HolderGoneError, ResourceError: the request was refused, as the error says.
        ConfigurationError: an invalid argument.
    """
    try:
        request = AcquireResource(
            resource=resource,
            amount=amount,
            priority=priority,
            holder=actor_path(holder),
            timeout=timeout,
            task_id=task_id,
            request_id=system.ids.new_id("acquire"),
            watch_holder=watch_holder,
        )
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid resource request for {resource!r}: {exc}") from None
    try:
        reply = await system.ask_async(
            RESOURCES_PATH, request, timeout=_ASK_BACKSTOP + (timeout or 0.0)
        )
    except DeliveryFailedError as exc:
        raise _no_allocator(exc) from exc
    except (asyncio.CancelledError, AskTimeoutError):
        _withdraw(system, request.request_id)
        raise
    _raise_refusal(reply)
    assert isinstance(reply, ResourceGranted)
    return Lease.from_grant(reply, system)


def _withdraw(system: ActorSystem, request_id: str) -> None:
    try:
        system.tell(RESOURCES_PATH, CancelAcquire(request_id=request_id))
    except ActorflowError:  # the system stopped: nothing is held any more
        logger.debug("Could not withdraw resource request {id}", id=request_id)


async def release_resource(system: ActorSystem, lease: Lease, *, timeout: float = 10.0) -> None:
    """Release ``lease`` (outside the actors; a handler tells :class:`ReleaseResource`).

    Raises:
        LeaseError: the lease is unknown, or was released already (by its holder, or
            because its holder stopped or restarted).
        ResourceError: no allocator runs.
    """
    try:
        reply = await system.ask_async(
            RESOURCES_PATH, ReleaseResource(lease_id=lease.lease_id), timeout=timeout
        )
    except DeliveryFailedError as exc:
        raise _no_allocator(exc) from exc
    _raise_refusal(reply)
    lease._link.is_released = True


def define_resource(
    system: ActorSystem, name: str, capacity: int, *, timeout: float = 5.0
) -> ResourceDefined:
    """Declare ``name`` with ``capacity`` units, or change its capacity (blocks).

    Raises:
        ResourceCapacityError: the capacity is below what is in use.
        ConfigurationError: an invalid name or capacity.
    """
    try:
        message = DefineResource(name=name, capacity=capacity)
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid resource {name!r}: {exc}") from None
    if not name:
        raise ConfigurationError("A resource needs a name; got ''. Name it, such as 'gpu'.")
    reply = system.ask(RESOURCES_PATH, message, timeout=timeout)
    _raise_refusal(reply)
    assert isinstance(reply, ResourceDefined)
    return reply


def resource_statistics(system: ActorSystem, *, timeout: float = 5.0) -> ResourceStatistics:
    """Return a snapshot of every resource: capacity, in use, leases, queue (blocks)."""
    reply = system.ask(RESOURCES_PATH, GetResourceStatistics(), timeout=timeout)
    assert isinstance(reply, ResourceStatistics)
    return reply


def ensure_resource_allocator(
    system: ActorSystem,
    capacities: Mapping[str, int] | None = None,
    *,
    resolver: ActorPath = RESOLVER_PATH,
    resolver_timeout: float = RESOLVER_TIMEOUT,
) -> ActorPath:
    """Return the allocator's path, spawning it if none runs, and declare ``capacities``.

    Never waits: the declarations are told, and any request sent after this call is
    handled after them. ``resolver`` and ``resolver_timeout`` apply to a new allocator.

    Raises:
        ConfigurationError: a capacity is not a positive int, or a name is empty.
    """
    definitions = []
    for name, capacity in (capacities or {}).items():
        try:
            definitions.append(DefineResource(name=name, capacity=capacity))
            if not name:
                raise ConfigurationError("A resource needs a name; got ''.")
        except ValidationError as exc:
            raise ConfigurationError(
                f"Resource {name!r} needs a capacity of at least 1 and a non-empty name, "
                f"got {capacity!r}: {exc.errors()[0]['msg']}."
            ) from None
    path = ensure_actor(
        system,
        RESOURCES_PATH.rsplit("/", 1)[1],
        lambda: recipe(
            ResourceAllocator, _Ledger(), resolver=resolver, resolver_timeout=resolver_timeout
        ),
    )
    for definition in definitions:
        system.tell(path, definition)
    return path
