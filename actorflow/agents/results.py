"""What ``orchestrate_agents`` returns: :class:`OrchestrationResult` and its parts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow.agents.conflicts import ConflictResolution
from actorflow.agents.decompose import Subtask

__all__ = ["Contribution", "OrchestrationResult", "Validation"]

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Contribution(BaseModel):
    """What one agent did for one subtask."""

    model_config = _FROZEN

    subtask_id: str
    agent_id: str
    kind: str
    status: str
    """The flow step's status: ``completed``, ``failed``, ``skipped`` ..."""
    result: JsonValue = None
    error: str | None = None
    attempts: int = 0
    """Attempts the flow made (more than 1: it was retried, e.g. after a crash)."""
    seconds: float | None = None
    """From its first start to its end."""


class Validation(BaseModel):
    """One review of a draft by a validator."""

    model_config = _FROZEN

    round: int
    validator_id: str
    subtask_id: str
    """The draft reviewed (``produce`` or ``revise_n``)."""
    approved: bool
    feedback: JsonValue = None


class OrchestrationResult(BaseModel):
    """The outcome of one ``orchestrate_agents`` call."""

    model_config = _FROZEN

    orchestration_id: str
    flow_id: str
    task: str
    status: Literal["completed", "failed", "cancelled"]
    subtasks: tuple[Subtask, ...]
    assignments: dict[str, str]
    """Subtask id -> agent id."""
    contributions: dict[str, tuple[Contribution, ...]]
    """Agent id -> what it did, in subtask order (every agent given has an entry)."""
    validations: tuple[Validation, ...] = ()
    approved: bool | None = None
    """Whether the last review approved the deliverable (``None``: no validator)."""
    conflicts: tuple[ConflictResolution, ...] = ()
    """Conflicts raised while orchestrating, as the resolver resolved them."""
    final_output: JsonValue = None
    """The deliverable: the last draft (or the research, without an executor)."""
    error: str | None = None
    started_at: float
    """Seconds since the epoch."""
    seconds: float
    """Wall time of the whole orchestration."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    def __str__(self) -> str:
        """One line: status, subtasks, reviews and the final output (shortened)."""
        done = sum(c.status == "completed" for cs in self.contributions.values() for c in cs)
        review = {None: "no review", True: "approved", False: "rejected"}[self.approved]
        output = repr(self.final_output)
        output = output if len(output) <= 200 else output[:197] + "..."
        return (
            f"{self.status}: {done} of {len(self.subtasks)} subtasks completed by "
            f"{len(self.contributions)} agents in {self.seconds:.3f} s, {review}; "
            f"final output: {output}"
        )

    @property
    def is_success(self) -> bool:
        """Whether every needed subtask completed and no review rejected the result."""
        return self.status == "completed" and self.approved is not False
