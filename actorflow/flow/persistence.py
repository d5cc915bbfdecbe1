"""Durable checkpoints: a flow's decider state in the system's store, written ahead.

When the actor system hosts a store actor (``/system/store``, see
:mod:`actorflow.stores`), each flow actor keeps its decider state there: after every
change it sends the state (``FlowCore.to_json()``, plain JSON, the plan kept once by the
store) as one checkpoint, one transaction. The effects of a change (starting attempts,
asking people) wait until the store has committed it, so a step's result is stored
before any step that depends on it starts, and a flow resumed after a crash never runs
again a step whose completion was stored.

Saves are pipelined per flow: one write in flight, the newest state replacing older
unsent ones (the store group-commits the writes of many flows). A write that fails
for a passing reason (the disk, a timeout) is sent again with the same write id (so
the store never applies it twice), after a growing pause, while the flow waits: it is
paused, not lost. A write the store refuses (another process wrote the flow, the data
is not JSON) fails the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pydantic import JsonValue

from actorflow._trusted import trusted
from actorflow.flow.commands import AskHuman, CancelAttempt, Command, StartAttempt
from actorflow.flow.core import FlowCore, FlowSpec
from actorflow.flow.messages import CancelFlow, CheckpointSaved, RetryCheckpoint
from actorflow.flow.models import TERMINAL_STEP_STATES, FlowStatus, PlanSpec
from actorflow.ids import ActorPath, CorrelationId
from actorflow.messages.base import Message
from actorflow.stores import (
    STORE_PATH,
    CheckpointWrite,
    MemoryPurge,
    MemoryRelease,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    WriteRequest,
    WriteResponse,
)

if TYPE_CHECKING:
    from actorflow.runtime.context import Context

__all__ = ["STATE_FORMAT", "STORE_TIMEOUT", "DurableCheckpoints", "plan_json", "state_json"]

STATE_FORMAT: Final = 1
"""Format number of a stored flow state (``state["format"]``); bump it when the shape of
``FlowCore.to_json`` changes, and teach ``actorflow.flow.stored`` to read the old one."""

STORE_TIMEOUT: Final = 30.0
"""Seconds a checkpoint write may take before it counts as failed (and is sent again)."""
_FIRST_PAUSE, _MAX_PAUSE = 0.05, 5.0
_HELD = (StartAttempt, AskHuman)
_MERGE = ("steps",)
"""The keys of a stored state whose objects a patch merges entry by entry."""


def state_json(core: FlowCore) -> dict[str, JsonValue]:
    """Return ``core`` as stored: ``FlowCore.to_json()`` without the plan (which the
    store keeps once per plan, by hash), with the format number."""
    return {
        "format": STATE_FORMAT,
        "spec": spec_json(core.spec),
        "steps": {sid: rec.to_json() for sid, rec in core.steps.items()},
        **_own_fields(core),
    }


def _own_fields(core: FlowCore) -> dict[str, JsonValue]:
    """The flow's own fields of a stored state (all but its spec and step records)."""
    return {
        "status": core.status.value,
        "ready": list(core.ready),
        "slots": core.slots,
        "error": core.error,
        "started_at": core.started_at,
        "finished_at": core.finished_at,
        "sweep_at": core.sweep_at,
        "ignored": core.ignored,
        "finished": core.finished,
    }


def spec_json(spec: FlowSpec) -> dict[str, JsonValue]:
    """Return what a stored state keeps of ``spec`` (all but the plan)."""
    return {
        "order": list(spec.order),
        "settings": spec.settings.to_json(),
        "seed": spec.seed,
        "context": dict(spec.context),
        "inline": spec.inline,
    }


def plan_json(plan: PlanSpec) -> dict[str, JsonValue]:
    """Return ``plan`` as the store keeps it."""
    dumped: dict[str, JsonValue] = plan.model_dump(mode="json")
    return dumped


@dataclass(frozen=True, slots=True)
class _Write:
    """A checkpoint write the store has not answered yet."""

    correlation_id: CorrelationId
    generation: int
    request: Message
    core: FlowCore
    """The state it stores (the base of the next patch once it is committed)."""
    patch: bool


class DurableCheckpoints:
    """Writes one flow's checkpoints to the store actor and holds back what must wait for
    them (flow actor thread only).

    After the first write of a plan, a write carries only what changed (a patch on the
    stored version: the step records that changed and the flow's own fields), so a
    checkpoint costs the same at step 10 as at step 1,000.
    """

    def __init__(
        self,
        flow_id: str,
        *,
        version: int = 0,
        store: ActorPath = STORE_PATH,
        retention: float | None = 0.0,
        writer: str = "",
    ) -> None:
        self.flow_id = flow_id
        self.writer = writer
        """Who writes (one id per run of the flow): part of every write id."""
        self.retention = retention
        """Seconds the flow's memory is kept after its end (None: kept)."""
        self.store = store
        self.version = version
        """The flow's latest stored checkpoint version (0: none yet)."""
        self.wanted = 0
        """Generations of the state asked to be saved so far."""
        self.durable = 0
        """The newest generation the store committed."""
        self.latest: tuple[FlowCore, float] | None = None
        self.final = False
        self.base: FlowCore | None = None
        """The state of the latest committed write (None: send the whole state)."""
        self.in_flight: _Write | None = None
        self.held: list[tuple[int, Command]] = []
        self.failures = 0
        """Writes that failed and were sent again."""
        self.last_error: str | None = None
        """The latest failure (kept after the store recovered, for the final state)."""
        self.paused = False
        """Whether the latest write failed and waits to be sent again."""
        self.broken: str | None = None
        """Why the store refused this flow's checkpoints (then nothing more is sent)."""
        self.final_told = False
        """Whether the flow was told its final save ended (stored, or failing)."""

    @property
    def behind(self) -> bool:
        """Whether a state change is not yet committed."""
        return self.durable < self.wanted

    # -- the flow actor's side -----------------------------------------------------------

    def save(self, core: FlowCore, at: float, ctx: Context, *, final: bool) -> None:
        """Store ``core`` (after the write in flight, if any); a state that changed
        nothing since the last one asked for (an auto-save tick) is not written again."""
        if not final and self.latest is not None and _unchanged(self.latest[0], core):
            return
        self.wanted += 1
        self.latest = (core, at)
        self.final = self.final or final
        if self.broken is not None:
            self._settle_broken(ctx)
        elif self.in_flight is None:
            self._send(ctx)
        elif final and self.paused:  # the store is failing: answer the caller now
            self._tell_final_failing(ctx)

    def hold(self, command: Command) -> None:
        """Keep ``command`` until the state that asked for it is stored."""
        self.held.append((self.wanted, command))

    def drop(self, command: CancelAttempt) -> bool:
        """Forget a held start of the attempt ``command`` cancels; return whether it was
        held (then it never ran)."""
        for index, (_, held) in enumerate(self.held):
            if isinstance(held, _HELD) and (held.step_id, held.attempt) == (
                command.step_id,
                command.attempt,
            ):
                del self.held[index]
                return True
        return False

    def owns(self, correlation_id: CorrelationId | None) -> bool:
        """Whether a reply with this correlation id answers this flow's write."""
        return self.in_flight is not None and self.in_flight.correlation_id == correlation_id

    # -- the store's answers ------------------------------------------------------------

    def saved(self, reply: SaveCheckpointResponse | WriteResponse, ctx: Context) -> list[Command]:
        """The write in flight is committed: return the commands it releases."""
        assert self.in_flight is not None
        written, self.in_flight = self.in_flight, None
        receipt = reply.receipt if isinstance(reply, SaveCheckpointResponse) else reply.receipts[0]
        self.version = receipt.version
        self.base = written.core
        self.durable = written.generation
        if self.paused:
            ctx.log.info("Flow {flow}: checkpoints are stored again", flow=self.flow_id)
            self.paused = False
        released = [command for need, command in self.held if need <= written.generation]
        self.held = [(need, command) for need, command in self.held if need > written.generation]
        if self.behind:
            self._send(ctx)
        elif self.final and not self.final_told:
            self.final_told = True
            ctx.tell(ctx.path, CheckpointSaved(final=True, from_store=True))
        return released

    @property
    def settled(self) -> bool:
        """Whether nothing waits to be stored (or nothing can be any more)."""
        return self.broken is not None or (not self.behind and self.in_flight is None)

    def failed(self, reason: str, ctx: Context, *, transient: bool, conflict: bool = False) -> None:
        """The write in flight failed: send it again later, or give up on the store.

        A patch the store could not apply (``conflict``) is sent again whole at once: if
        the whole state is refused too, another process writes the flow.
        """
        assert self.in_flight is not None
        self.last_error = reason
        if conflict and self.in_flight.patch:
            self.in_flight, self.base = None, None
            self._send(ctx)
            return
        if transient:
            self.failures += 1
            self.paused = True
            if self.final:  # the flow ended: answer its caller now
                self._tell_final_failing(ctx)
            pause = min(_MAX_PAUSE, _FIRST_PAUSE * 2 ** min(self.failures - 1, 16))
            ctx.log.warning(
                "Flow {flow} paused: its checkpoint was not stored ({error}); "
                "trying again in {pause:g} s",
                flow=self.flow_id,
                error=reason,
                pause=pause,
            )
            ctx.schedule(pause, RetryCheckpoint(generation=self.in_flight.generation))
            return
        self.in_flight = None
        self.broken = f"the store refused its checkpoint: {reason}"
        ctx.log.error("Flow {flow} fails: {why}", flow=self.flow_id, why=self.broken)
        self.held.clear()
        ctx.tell(ctx.path, CancelFlow(reason=self.broken, failed=True))
        self._settle_broken(ctx)

    def retry(self, msg: RetryCheckpoint, ctx: Context) -> None:
        """Send the failed write again, as it was: the store may have committed it (its
        answer was lost), and only the same write id tells it so; a newer state follows
        once it is answered."""
        written = self.in_flight
        if written is None or written.generation != msg.generation:
            return
        cid = ctx.request(self.store, written.request, timeout=STORE_TIMEOUT)
        self.in_flight = _Write(cid, written.generation, written.request, written.core,
                                written.patch)  # fmt: skip

    # -- internals ----------------------------------------------------------------------

    def _send(self, ctx: Context) -> None:
        assert self.latest is not None
        core, at = self.latest
        base = self.base
        running = core.status is FlowStatus.RUNNING
        patch = base is not None and base.spec is core.spec and running
        plan = core.spec.plan
        done = sum(1 for rec in core.steps.values() if rec.status in TERMINAL_STEP_STATES)
        write = trusted(
            CheckpointWrite,
            op="checkpoint",
            flow_id=self.flow_id,
            state=_changes(base, core) if patch else state_json(core),
            status=core.status.value,
            steps_done=done,
            steps_total=len(core.steps),
            at=at,
            plan=None if base is not None and base.spec.plan is plan else plan_json(plan),
            expected_version=self.version,
            # Per writer: a write of another run of the flow from the same version is a
            # conflict, never taken for this one's duplicate.
            write_id=f"{self.flow_id}@{self.version + 1}/{self.writer}",
            memory_put={},
            memory_delete=(),
            patch_of=self.version if patch else None,
            merge=_MERGE if patch else (),
        )
        request: Message
        if patch or running or self.retention is None:
            # Built here of fresh values: no validation (trusted() still freezes them).
            request = trusted(
                SaveCheckpointRequest, write=write, patch_of=write.patch_of, merge=write.merge
            )
        else:  # the flow's end: its memory goes (or starts its retention) with it
            release = MemoryRelease(flow_id=self.flow_id, at=at, retain_for=self.retention)
            request = WriteRequest(writes=(write, release, MemoryPurge(now=at)))
        cid = ctx.request(self.store, request, timeout=STORE_TIMEOUT)
        self.in_flight = _Write(cid, self.wanted, request, core, patch)

    def _tell_final_failing(self, ctx: Context) -> None:
        if not self.final_told:
            self.final_told = True
            text = f"its final state is not stored yet ({self.last_error}); still trying"
            ctx.tell(ctx.path, CheckpointSaved(final=True, error=text, from_store=True))

    def _settle_broken(self, ctx: Context) -> None:
        """Nothing can be stored any more: let the flow end (its final save "ends" with
        the error, so the caller is answered and told)."""
        self.durable = self.wanted
        if self.final:
            ctx.tell(
                ctx.path, CheckpointSaved(final=True, error=self.broken or "", from_store=True)
            )


def _unchanged(old: FlowCore, new: FlowCore) -> bool:
    """Whether ``new`` stores as ``old`` does (records are never changed in place)."""
    return (
        old.spec is new.spec
        and old.steps is new.steps
        and old.status is new.status
        and old.ready == new.ready
        and old.slots == new.slots
        and old.error == new.error
        and old.sweep_at == new.sweep_at
        and old.ignored == new.ignored
        and old.finished == new.finished
    )


def _changes(base: FlowCore | None, core: FlowCore) -> dict[str, JsonValue]:
    """What of ``core`` differs from ``base`` (same spec): the flow's own fields and the
    step records that are not the base's (records are never changed in place)."""
    assert base is not None
    old = base.steps
    changed: dict[str, JsonValue] = {
        sid: rec.to_json() for sid, rec in core.steps.items() if old.get(sid) is not rec
    }
    return {"steps": changed, **_own_fields(core)}
