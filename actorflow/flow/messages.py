"""Messages between the flow facade, flow actors and step workers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from actorflow.flow.models import PlanSpec
from actorflow.messages.base import Message

__all__ = [
    "AgentTask",
    "AgentTaskDone",
    "CancelFlow",
    "CheckpointSaved",
    "FlowFinished",
    "FlushCheckpoint",
    "HumanAnswered",
    "PlanChanged",
    "ReplanFlow",
    "RetryCheckpoint",
    "RetryStep",
    "RunFlow",
    "SaveCheckpoint",
    "StepAttemptFinished",
    "StepAttemptTimedOut",
    "StopFlowActor",
    "SweepTimeouts",
]


class RunFlow(Message):
    """Start the flow; the flow actor replies ``FlowFinished`` when it ends.

    It carries everything the flow's decisions depend on besides later events, so a
    flow can be rebuilt from its journal alone.
    """

    kind: Literal["flow.run"] = "flow.run"
    plan: PlanSpec | None = None
    """The plan the flow runs, so the journal shows it from the start."""
    order: tuple[str, ...] = ()
    """The plan's step ids in a dependency-respecting order (from validation)."""
    context: dict[str, JsonValue] = Field(default_factory=dict)
    """The names the caller passed to ``execute``."""
    config: dict[str, JsonValue] = Field(default_factory=dict)
    """The flow's FlowConfig as JSON."""
    seed: int = 0
    """Seed of the retry jitter (the config's ``random_seed``, else drawn at start)."""
    inline: bool = True
    """Whether condition and synchronization steps are evaluated by the flow itself
    (false when a custom executor must see every step)."""
    resume: dict[str, JsonValue] | None = None
    """Step states of the checkpoint this run resumes from (completed steps are kept)."""
    snapshot_version: int = 0
    """The store's version of ``snapshot`` (the next checkpoint must follow it)."""
    snapshot: dict[str, JsonValue] | None = None
    """The decider state (``FlowCore.to_json()``) this run goes on from, when the store
    kept one: attempts under way run again under their own numbers (so with the same
    idempotency keys), retry counts, retry times and deadlines are kept."""


class CheckpointSaved(Message):
    """A checkpoint save that the flow actor submitted has ended (saved or failed)."""

    kind: Literal["flow.checkpoint_saved"] = "flow.checkpoint_saved"
    final: bool = False
    """Whether it was the checkpoint of the flow's end (the reply waits for it)."""
    error: str = ""
    """Why it was not saved, if it was not (the final save timed out)."""
    from_store: bool = False
    """Whether the system's store saved it (then a state manager's saves only mirror it)."""


class CancelFlow(Message):
    """Stop the flow: running steps are cancelled, the flow ends CANCELLED."""

    kind: Literal["flow.cancel"] = "flow.cancel"
    reason: str = "cancelled"
    failed: bool = False
    """End the flow FAILED rather than CANCELLED (its actor stopped before it ended)."""


class FlowFinished(Message):
    """The flow ended; ``state`` is its final FlowState as JSON, without the plan (which
    ``RunFlow`` carried)."""

    kind: Literal["flow.finished"] = "flow.finished"
    flow_id: str
    status: str
    state: dict[str, JsonValue]


class AttemptOutcome(Message, abstract=True):
    """How an attempt of a step ended: its result, or its error (a shared base)."""

    flow_id: str
    step_id: str
    attempt: int
    """Attempt number; results of superseded attempts are ignored."""
    ok: bool
    result: JsonValue = None
    error_type: str = ""
    error: str = ""
    error_types: tuple[str, ...] = ()
    """Qualified names of the error's class and its bases, most specific first."""
    retryable: bool | None = None
    """The error's own ``retryable`` marker, if it has one."""
    status_code: int | None = None
    """The HTTP status of an HTTP error, if any."""


class StepAttemptFinished(AttemptOutcome):
    """One attempt of a step ended, with its result or its error."""

    kind: Literal["flow.step_attempt_finished"] = "flow.step_attempt_finished"


class HumanAnswered(AttemptOutcome):
    """A person answered the request of a ``human_input`` step's attempt (``result`` is
    the answer), or asking failed (``ok`` false, with the error)."""

    kind: Literal["flow.human_answered"] = "flow.human_answered"


class ReplanFlow(Message):
    """Run the rest of the flow by a new version of its plan (answered by
    ``PlanChanged``).

    Steps that completed, and attempts under way, are kept where the new plan has the
    same step (same type, parameters, dependencies, options) and all of its dependencies
    are kept too; other steps start afresh, and attempts of steps the new plan changed
    or dropped are cancelled. Attempt numbers go on from where they were, so the
    outcome of a cancelled attempt is never taken for a new one.
    """

    kind: Literal["flow.replan"] = "flow.replan"
    plan: PlanSpec
    """The new plan: the flow's id, a higher version, validated by the sender."""
    order: tuple[str, ...] = ()
    """Its step ids in a dependency-respecting order (from validation)."""


class PlanChanged(Message):
    """The answer to ``ReplanFlow``: whether the flow took the new plan, and why not."""

    kind: Literal["flow.plan_changed"] = "flow.plan_changed"
    flow_id: str
    accepted: bool
    version: int
    """The plan version the flow runs now."""
    reason: str = ""
    """Why the plan was refused, if it was."""


class StepAttemptTimedOut(Message):
    """An attempt of a step passed its timeout. Retired: the decider times attempts out
    in its ``SweepTimeouts`` handling; kept so that older journals still decode (a tag
    is never reused)."""

    kind: Literal["flow.step_attempt_timed_out"] = "flow.step_attempt_timed_out"
    step_id: str
    attempt: int
    timeout: float


class RetryStep(Message):
    """Start the next attempt of a step (scheduled after the retry delay)."""

    kind: Literal["flow.retry_step"] = "flow.retry_step"
    step_id: str
    attempt: int


class SweepTimeouts(Message):
    """Timer tick: time out the attempts whose deadlines have passed."""

    kind: Literal["flow.sweep_timeouts"] = "flow.sweep_timeouts"


class RetryCheckpoint(Message):
    """Timer tick: send again the checkpoint write that failed (generation ``generation``)."""

    kind: Literal["flow.retry_checkpoint"] = "flow.retry_checkpoint"
    generation: int


class StopFlowActor(Message):
    """Timer tick: the flow ended and answered; stop its actor even though its final
    state could not be stored."""

    kind: Literal["flow.stop_actor"] = "flow.stop_actor"


class FlushCheckpoint(Message):
    """Timer tick: save the checkpoint that the minimum interval held back."""

    kind: Literal["flow.flush_checkpoint"] = "flow.flush_checkpoint"


class SaveCheckpoint(Message):
    """Auto-save tick: checkpoint the flow's state."""

    kind: Literal["flow.save_checkpoint"] = "flow.save_checkpoint"


class AgentTask(Message):
    """A step of type ``agent``: work for an agent actor, answered with ``AgentTaskDone``."""

    kind: Literal["agent.task"] = "agent.task"
    flow_id: str
    step_id: str
    task: str
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    attempt: int = 1
    """The step's attempt number."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds the requester waits for the answer, from when it sent the task (a flow
    step's attempt timeout, a ``ctx.request`` timeout); the agent cancels the handler
    once they have passed, freeing its slot. ``None`` (or infinity): no limit."""


class AgentTaskDone(Message):
    """An agent's answer to an ``AgentTask``; ``error`` set means it failed."""

    kind: Literal["agent.task_done"] = "agent.task_done"
    result: JsonValue = None
    error: str = ""
    error_types: tuple[str, ...] = ()
    """Qualified names of the error's class and its bases, most specific first (so the
    flow's retry rules classify an agent's error like a tool's)."""
    retryable: bool | None = None
    """The error's own ``retryable`` marker, if it has one."""
