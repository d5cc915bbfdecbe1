"""Checkpoint data: a decider state as the seed's ``FlowState``, and how flow actors save it.

:func:`flow_state` projects a :class:`~actorflow.flow.decider.FlowCore` onto the
user-facing ``FlowState`` (what ``get_state`` returns and ``resume`` reads back).
:class:`Checkpointer` saves those through the flow's state manager: at once with a
manager that offers ``save_state_nowait`` (the in-memory one), else on the effects loop
one save at a time, the newest waiting save replacing an older one. While steps keep
changing, saves are at least ``checkpoint_interval`` apart (by the events' journaled
times); the flow's final checkpoint is always saved at once, and the flow answers its
caller only after it is stored.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from actorflow._trusted import trusted
from actorflow.flow.decider import FlowCore, StepRecord
from actorflow.flow.messages import CheckpointSaved, FlushCheckpoint
from actorflow.flow.models import FlowState, FlowStatus, StepState

if TYPE_CHECKING:
    from actorflow.runtime.context import Context

__all__ = ["FINAL_SAVE_TIMEOUT", "Checkpointer", "flow_state", "resume_data"]

FINAL_SAVE_TIMEOUT = 30.0
"""Seconds a flow's reply waits for its final checkpoint before it answers anyway."""


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _same_published(old: StepRecord, new: StepRecord) -> bool:
    """Whether two records of a step publish the same StepState (most changes of a step's
    record, such as a dependency finishing, do not touch what a checkpoint shows)."""
    return old is new or (
        old.status is new.status
        and old.attempts == new.attempts
        and old.result is new.result
        and old.error == new.error
        and old.started_at == new.started_at
        and old.completed_at == new.completed_at
    )


def flow_state(
    core: FlowCore, at: float, cache: dict[str, tuple[StepRecord, StepState]] | None = None
) -> FlowState:
    """Return the ``FlowState`` of ``core`` at time ``at``.

    ``cache`` keeps each step's last ``StepState`` with the record it was made from, so a
    checkpoint rebuilds only the steps whose published state changed (records are never
    changed in place).
    """
    cache = {} if cache is None else cache
    steps: dict[str, StepState] = {}
    for sid, rec in core.steps.items():
        cached = cache.get(sid)
        if cached is None or not _same_published(cached[0], rec):
            # Built without validation: every field comes from the decider's plain data.
            snapshot = trusted(
                StepState,
                status=rec.status,
                attempts=rec.attempts,
                result=rec.result,
                error=rec.error,
                started_at=_dt(rec.started_at),
                completed_at=_dt(rec.completed_at),
            )
            cache[sid] = (rec, snapshot)
        else:
            snapshot = cached[1]
        steps[sid] = snapshot
    started = core.started_at
    ended = core.finished_at
    return trusted(
        FlowState,
        flow_id=core.flow_id,
        status=core.status,
        steps=steps,
        variables=core.variables(),
        execution_time=0.0 if started is None else max(0.0, (ended or at) - started),
        metadata={
            "plan_version": core.spec.plan.version,
            "ignored_results": core.ignored,
            "context": dict(core.spec.context),
            "seed": core.spec.seed,
        },
        error=core.error,
        started_at=_dt(started),
        completed_at=_dt(ended) if core.status is not FlowStatus.RUNNING else None,
        plan=core.spec.plan,
    )


def resume_data(state: FlowState) -> dict[str, Any]:
    """Return the step states of a checkpoint that a resumed run keeps (as JSON)."""
    return {
        sid: {"status": st.status.value, "attempts": st.attempts, "result": st.result}
        for sid, st in state.steps.items()
    }


class Checkpointer:
    """Saves one flow's checkpoints (flow actor thread only)."""

    def __init__(self, manager: Any, flow_id: str, interval: float) -> None:
        self.manager = manager
        nowait = getattr(manager, "save_state_nowait", None)
        self.nowait = nowait if callable(nowait) else None
        self.flow_id = flow_id
        self.interval = interval
        self.cache: dict[str, tuple[StepRecord, StepState]] = {}
        self.last = -math.inf
        self.dirty = False
        self.flush_scheduled = False
        self.saving = False
        self.waiting: tuple[FlowState, bool] | None = None
        """The newest checkpoint held back while a save runs, and whether it is final."""
        self.stopped = False
        self.errors = 0
        """Saves that failed (each is logged; the flow goes on)."""
        self.last_error: str | None = None

    def save(self, core: FlowCore, at: float, ctx: Context, *, final: bool) -> None:
        """Checkpoint ``core``: at once if ``final`` or the interval passed, else later."""
        if not final:
            wait = self.interval - (at - self.last)
            if wait > 0:
                self.dirty = True
                if not self.flush_scheduled:
                    self.flush_scheduled = True
                    ctx.schedule(wait, FlushCheckpoint())
                return
        self.dirty, self.last = False, at
        state = flow_state(core, at, self.cache)
        if final and self.nowait is None and not self.stopped:
            # The reply waits for this save (behind any running one), but not forever.
            late = CheckpointSaved(final=True, error=f"not saved within {FINAL_SAVE_TIMEOUT:g} s")
            ctx.schedule(FINAL_SAVE_TIMEOUT, late)
        if self.nowait is not None:  # a manager that never blocks saves right here
            try:
                self.nowait(self.flow_id, state)
            except Exception as exc:  # noqa: BLE001 - a failed save is reported, not fatal
                self._failed(exc, ctx.log)
            if final and not self.stopped:
                ctx.tell(ctx.path, CheckpointSaved(final=True))
        elif self.saving:
            final = final or (self.waiting is not None and self.waiting[1])
            self.waiting = (state, final)
        else:
            self._submit(state, final, ctx)

    def flush(self, core: FlowCore, at: float, ctx: Context) -> None:
        """The interval passed: save what it held back."""
        self.flush_scheduled = False
        if self.dirty and core.is_running:
            self.save(core, at, ctx, final=False)

    def saved(self, ctx: Context) -> None:
        """A save ended: start the newest waiting one."""
        self.saving = False
        if self.waiting is not None:
            (state, final), self.waiting = self.waiting, None
            self._submit(state, final, ctx)

    def _failed(self, error: BaseException, log: Any) -> None:
        self.errors += 1
        self.last_error = f"{type(error).__name__}: {error}"
        log.opt(exception=error).error("Checkpoint of flow {flow} failed", flow=self.flow_id)

    def _submit(self, state: FlowState, final: bool, ctx: Context) -> None:
        self.saving = True
        system, me, log, manager = ctx.system, ctx.path, ctx.log, self.manager

        def done(_: object, error: BaseException | None) -> None:
            # Runs on the effects loop, which is also the flow actor's thread.
            if error is not None:
                self._failed(error, log)
            if not self.stopped:
                system.send(me, CheckpointSaved(final=final), sender=me)
            elif self.waiting is not None:  # stopped meanwhile: still store its last state
                (later, _final), self.waiting = self.waiting, None
                self._submit_detached(later, system, log)

        system.effects.submit(lambda: manager.save_state(self.flow_id, state), done)

    def _submit_detached(self, state: FlowState, system: Any, log: Any) -> None:
        def done(_: object, error: BaseException | None) -> None:
            if error is not None:
                self._failed(error, log)

        system.effects.submit(lambda: self.manager.save_state(self.flow_id, state), done)
