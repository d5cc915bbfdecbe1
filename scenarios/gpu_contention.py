"""GPU contention: agents queue for a GPU by priority; the resolver breaks a deadlock.

Three acts, on one resource allocator (``/agents/resources``: ``gpu: 1``, ``dataset: 1``)
and the conflict resolver (``/agents/resolver``):

1. **The queue.** The scheduler (this script, through the outside API) holds the GPU
   while four agents ask for it: ``batch-trainer`` (priority 0) first, then
   ``renderer`` and ``evaluator`` (priority 1), then ``urgent-trainer`` (priority 3).
   When the scheduler lets go, the GPU serves them by priority, first come first within
   a priority: urgent-trainer, renderer, evaluator, batch-trainer.
2. **The deadlock.** ``trainer`` (priority 2) holds the GPU and wants the dataset;
   ``curator`` (priority 1) holds the dataset and wants the GPU. The allocator finds the
   cycle the moment curator's request closes it and reports a ``DEADLOCK`` conflict to
   the resolver, whose ``deadlock`` strategy aborts the lowest priority: curator's
   request is refused with ``DeadlockError``. Curator releases the dataset, trainer
   finishes, and curator, asking again, finishes after it.
3. **The crash.** ``flaky`` holds the GPU and crashes; ``patient`` waits for it. The
   allocator watches its holders: flaky's restart frees its lease, and patient runs.

The agents are plain behaviours that use the allocator's messages (``ctx.request``,
never a blocking wait). Run it: ``actorflow run scenarios/gpu_contention.py``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from loguru import logger

from actorflow import ActorPath, ActorSystem, Behaviour, Context, Envelope, Message, recipe
from actorflow.agents.paths import RESOURCES_PATH
from actorflow.agents.resolver import ensure_conflict_resolver
from actorflow.agents.resource_messages import (
    AcquireResource,
    ReleaseResource,
    ResourceGranted,
    ResourceRefused,
    ResourceReleased,
)
from actorflow.agents.resources import (
    acquire_resource,
    ensure_resource_allocator,
    release_resource,
    resource_statistics,
)
from actorflow.errors import DeadlockError

WORK_SECONDS = 0.05
"""How long an agent uses what it holds (system clock)."""
DEADLOCK = f"{DeadlockError.__module__}.{DeadlockError.__qualname__}"


class Take(Message):
    """Ask an agent to request ``resource`` (it answers ``Requested`` once it has)."""

    kind: Literal["gpu.take"] = "gpu.take"
    resource: str


class Requested(Message):
    """The agent's request has been sent to the allocator."""

    kind: Literal["gpu.requested"] = "gpu.requested"


class Crash(Message):
    """Make an agent fail (its supervisor restarts it)."""

    kind: Literal["gpu.crash"] = "gpu.crash"


class WorkDone(Message):
    """An agent's own timer: its job is done."""

    kind: Literal["gpu.work_done"] = "gpu.work_done"


class JobDone(Message):
    """An agent finished its job."""

    kind: Literal["gpu.job_done"] = "gpu.job_done"
    agent: str
    retries: int
    refusals: tuple[str, ...] = ()


class WaitForJobs(Message):
    """Ask the collector to answer ``JobsDone`` once ``count`` jobs are done."""

    kind: Literal["gpu.wait_for_jobs"] = "gpu.wait_for_jobs"
    count: int


class JobsDone(Message):
    """The jobs done so far, in the order they finished."""

    kind: Literal["gpu.jobs_done"] = "gpu.jobs_done"
    jobs: tuple[JobDone, ...]


class Collector(Behaviour):
    """Collects ``JobDone`` reports and answers ``WaitForJobs``."""

    def __init__(self) -> None:
        self.jobs: list[JobDone] = []
        self.waiting: tuple[int, Envelope] | None = None

    def on_job_done(self, msg: JobDone, ctx: Context) -> None:
        self.jobs.append(msg)
        self._answer(ctx)

    def on_wait_for_jobs(self, msg: WaitForJobs, ctx: Context) -> None:
        assert ctx.envelope is not None
        self.waiting = (msg.count, ctx.envelope)
        self._answer(ctx)

    def _answer(self, ctx: Context) -> None:
        if self.waiting is not None and len(self.jobs) >= self.waiting[0]:
            ctx.reply(JobsDone(jobs=tuple(self.jobs)), to=self.waiting[1])
            self.waiting = None


class GpuAgent(Behaviour):
    """An agent whose job needs all of ``needs`` at once.

    It asks for a resource when told to ``Take`` it, works for ``WORK_SECONDS`` once it
    holds them all, releases them and reports to the collector. A request refused to
    break a deadlock makes it release what it holds and ask again, one resource at a
    time, in the order of ``needs``.
    """

    def __init__(self, priority: int, collector: ActorPath, needs: tuple[str, ...]) -> None:
        self.priority = priority
        self.collector = collector
        self.plan = needs
        self.held: dict[str, str] = {}
        """Resource -> lease id."""
        self.retries = 0
        self.refusals: list[str] = []

    def on_take(self, msg: Take, ctx: Context) -> None:
        self._ask(msg.resource, ctx)
        ctx.reply(Requested())

    def _ask(self, resource: str, ctx: Context) -> None:
        request = AcquireResource(
            resource=resource, priority=self.priority, holder=ctx.path, task_id=f"job:{resource}"
        )
        ctx.tell(RESOURCES_PATH, request)

    def on_resource_granted(self, msg: ResourceGranted, ctx: Context) -> None:
        self.held[msg.resource] = msg.lease_id
        ctx.log.info("{agent} holds {resource}", agent=ctx.path, resource=msg.resource)
        if len(self.held) == len(self.plan):
            ctx.schedule(WORK_SECONDS, WorkDone())
        elif self.retries:  # asking again: one resource at a time, in plan order
            self._ask(self.plan[len(self.held)], ctx)

    def on_resource_refused(self, msg: ResourceRefused, ctx: Context) -> None:
        self.refusals.append(msg.error.message)
        if msg.error.error_type != DEADLOCK:
            raise RuntimeError(f"unexpected refusal: {msg.error.message}")
        ctx.log.warning("{agent}: {why}", agent=ctx.path, why=msg.error.message)
        self.retries += 1
        self._release_all(ctx)
        self._ask(self.plan[0], ctx)

    def on_work_done(self, msg: WorkDone, ctx: Context) -> None:
        self._release_all(ctx)
        done = JobDone(
            agent=ctx.path.rsplit("/", 1)[1], retries=self.retries, refusals=tuple(self.refusals)
        )
        ctx.tell(self.collector, done)

    def _release_all(self, ctx: Context) -> None:
        for lease_id in self.held.values():
            ctx.tell(RESOURCES_PATH, ReleaseResource(lease_id=lease_id))
        self.held.clear()

    def on_resource_released(self, msg: ResourceReleased, ctx: Context) -> None:
        """Nothing to do: the release went through."""

    def on_crash(self, msg: Crash, ctx: Context) -> None:
        raise RuntimeError(f"{ctx.path} crashed while holding {sorted(self.held)}")


async def _take(system: ActorSystem, agent: ActorPath, resource: str) -> None:
    reply = await system.ask_async(agent, Take(resource=resource))
    assert isinstance(reply, Requested)


async def _wait_for_jobs(system: ActorSystem, collector: ActorPath, count: int) -> JobsDone:
    reply = await system.ask_async(collector, WaitForJobs(count=count), timeout=30.0)
    assert isinstance(reply, JobsDone)
    return reply


async def _queue(system: ActorSystem, collector: ActorPath) -> dict[str, object]:
    """Act 1: four agents queue for the GPU the scheduler holds."""
    agents = {"batch-trainer": 0, "renderer": 1, "evaluator": 1, "urgent-trainer": 3}
    paths = {
        n: system.spawn(recipe(GpuAgent, p, collector, ("gpu",)), n) for n, p in agents.items()
    }
    blocker = await acquire_resource(
        system, "gpu", holder="/agents/scheduler", watch_holder=False, task_id="maintenance"
    )
    for path in paths.values():
        await _take(system, path, "gpu")
    queued = [str(w.holder) for w in resource_statistics(system).resource("gpu").queue]
    await release_resource(system, blocker)
    jobs = await _wait_for_jobs(system, collector, len(agents))
    logger.info("GPU served {order}", order=[j.agent for j in jobs.jobs])
    return {
        "gpu queue while held": [p.rsplit("/", 1)[1] for p in queued],
        "gpu service order": [j.agent for j in jobs.jobs],
    }


async def _deadlock(system: ActorSystem, collector: ActorPath) -> dict[str, object]:
    """Act 2: trainer and curator each hold what the other wants."""
    needs = ("gpu", "dataset")
    trainer = system.spawn(recipe(GpuAgent, 2, collector, needs), "trainer")
    curator = system.spawn(recipe(GpuAgent, 1, collector, needs[::-1]), "curator")
    await _take(system, trainer, "gpu")
    await _take(system, curator, "dataset")
    await _take(system, trainer, "dataset")
    await _take(system, curator, "gpu")  # closes the cycle
    jobs = (await _wait_for_jobs(system, collector, 6)).jobs[4:]
    by_agent = {j.agent: j for j in jobs}
    aborted = [j.agent for j in jobs if j.retries]
    refusal = by_agent["curator"].refusals[0] if by_agent["curator"].refusals else ""
    return {
        "deadlock finish order": [j.agent for j in jobs],
        "aborted to break the deadlock": aborted,
        "broken by the resolver": "by the resolver (strategy 'deadlock')" in refusal,
    }


async def _crash(system: ActorSystem, collector: ActorPath) -> dict[str, object]:
    """Act 3: flaky crashes while holding the GPU; patient gets it."""
    flaky = system.spawn(recipe(GpuAgent, 1, collector, ("gpu",)), "flaky")
    patient = system.spawn(recipe(GpuAgent, 1, collector, ("gpu",)), "patient")
    await _take(system, flaky, "gpu")
    await _take(system, patient, "gpu")
    system.tell(flaky, Crash())
    jobs = (await _wait_for_jobs(system, collector, 7)).jobs[6:]
    return {"after the crash, finished": [j.agent for j in jobs]}


async def main(system: ActorSystem) -> Mapping[str, object]:
    """Run the three acts and report what the allocator saw."""
    ensure_resource_allocator(system, {"gpu": 1, "dataset": 1})
    ensure_conflict_resolver(system)
    collector = system.spawn(Collector, "collector")

    result: dict[str, object] = {}
    result |= await _queue(system, collector)
    result |= await _deadlock(system, collector)
    result |= await _crash(system, collector)

    stats = resource_statistics(system)
    result |= {
        "leases granted": stats.granted,
        "deadlocks detected": stats.deadlocks,
        "deadlocks broken": stats.deadlocks_broken,
        "released when the holder died": stats.released_on_holder_down,
        "in use at the end": {r.name: r.in_use for r in stats.resources},
        "waiting at the end": sum(len(r.queue) for r in stats.resources),
        "dead letters": dict(system.dead_letters.counts()),
    }
    return result
