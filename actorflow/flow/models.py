"""Flow models, as in the seed: FlowStep, FlowPlan, FlowState, FlowConfig.

These are the user-facing, mutable models (the seed assigns ``plan.steps = [...]``
and ``config.auto_save_interval = 30``); every assignment is validated. Actors never
share them: a flow actor works on a frozen :class:`PlanSpec` made by
:meth:`FlowPlan.freeze`, and reports frozen snapshots.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow._trusted import trusted
from actorflow.errors import FlowDefinitionError
from actorflow.flow.jsondata import to_json_data
from actorflow.messages import freeze, thaw

__all__ = [
    "FlowConfig",
    "FlowPlan",
    "FlowState",
    "FlowStatus",
    "FlowStep",
    "PlanSpec",
    "StepSpec",
    "StepState",
    "StepStatus",
    "create_default_config",
    "create_flow_step",
    "generate_flow_id",
    "generate_step_id",
]


def generate_flow_id() -> str:
    """Return a new unique flow id (``flow_<hex>``)."""
    return f"flow_{uuid.uuid4().hex[:16]}"


def generate_step_id() -> str:
    """Return a new unique step id (``step_<hex>``)."""
    return f"step_{uuid.uuid4().hex[:12]}"


def _now() -> datetime:
    return datetime.now(UTC)


class StepStatus(StrEnum):
    """Where a step is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    FAILED_NON_CRITICAL = "failed_non_critical"
    """Failed, but not critical: recorded, and the flow goes on."""
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    """Not run: a condition it depends on was false, or a dependency failed."""
    CANCELLED = "cancelled"
    """Not finished because the flow failed or was stopped."""


TERMINAL_STEP_STATES = frozenset(
    {
        StepStatus.COMPLETED,
        StepStatus.FAILED,
        StepStatus.FAILED_NON_CRITICAL,
        StepStatus.TIMED_OUT,
        StepStatus.SKIPPED,
        StepStatus.CANCELLED,
    }
)


class FlowStatus(StrEnum):
    """Where a flow is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_MUTABLE = ConfigDict(validate_assignment=True, extra="forbid")
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class FlowStep(BaseModel):
    """One step of a plan (mutable, validated on assignment).

    ``parameters`` hold the step type's inputs and these engine options: ``critical``
    (default true), ``retry_delay``, ``exponential_backoff``, ``max_retry_delay``,
    ``jitter``, ``retry_on`` (error type names), ``max_retries``, ``output_key`` and
    ``skip_if_failed``.
    """

    model_config = _MUTABLE

    id: str = Field(default_factory=generate_step_id)
    name: str
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    dependencies: list[str] = Field(default_factory=list)
    timeout: Annotated[float, Field(gt=0)] | None = None
    """Seconds one attempt may take (default: the config's ``default_step_timeout``)."""
    retry_count: Annotated[int, Field(ge=0)] = 0
    max_retries: Annotated[int, Field(ge=0, le=100)] = 3
    status: StepStatus = StepStatus.PENDING
    result: Any = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def freeze(self, default_max_retries: int | None = None) -> StepSpec:
        """Return the immutable spec of this step that actors use.

        A step whose ``status`` is completed is carried over with its ``result``: the
        flow does not run it again (``replan`` uses this). ``default_max_retries`` (the
        config's) applies when neither the step nor its parameters set a retry count.
        """
        retries = self.max_retries
        if default_max_retries is not None and "max_retries" not in self.model_fields_set:
            retries = default_max_retries
        metadata = dict(self.metadata)
        if self.status is StepStatus.COMPLETED:
            metadata.update(completed=True, carried_result=self.result)
        # Built without re-validation: this step's fields were validated on assignment,
        # and _jsonable turns parameters and metadata into JSON data (the fields' type).
        return trusted(
            StepSpec,
            id=self.id,
            name=self.name,
            type=self.type,
            parameters=_jsonable(self.parameters, f"The parameters of step {self.id!r}"),
            dependencies=tuple(self.dependencies),
            timeout=self.timeout,
            max_retries=_max_retries(self.parameters.get("max_retries"), retries),
            metadata=_jsonable(metadata, f"The metadata of step {self.id!r}"),
        )


class FlowPlan(BaseModel):
    """A plan: steps with dependencies, forming a DAG (mutable, validated on assignment)."""

    model_config = _MUTABLE

    id: str = Field(default_factory=generate_flow_id)
    name: str
    description: str = ""
    steps: list[FlowStep] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    version: Annotated[int, Field(ge=1)] = 1

    def freeze(self, default_max_retries: int | None = None) -> PlanSpec:
        """Return the immutable spec of this plan that actors use (see FlowStep.freeze)."""
        return trusted(  # validated parts, as in FlowStep.freeze
            PlanSpec,
            id=self.id,
            name=self.name,
            description=self.description,
            steps=tuple(step.freeze(default_max_retries) for step in self.steps),
            variables=_jsonable(self.variables, f"The variables of plan {self.id!r}"),
            version=self.version,
        )

    def get_step(self, step_id: str) -> FlowStep | None:
        """Return the step with ``step_id``, if any."""
        return next((s for s in self.steps if s.id == step_id), None)


class StepSpec(BaseModel):
    """Immutable description of a step, as flow actors see it."""

    model_config = _FROZEN

    id: str
    name: str
    type: str
    parameters: dict[str, JsonValue]
    dependencies: tuple[str, ...]
    timeout: float | None
    max_retries: int
    metadata: dict[str, JsonValue]


class PlanSpec(BaseModel):
    """Immutable description of a plan, as flow actors see it."""

    model_config = _FROZEN

    id: str
    name: str
    description: str
    steps: tuple[StepSpec, ...]
    variables: dict[str, JsonValue]
    version: int

    def thaw(self) -> FlowPlan:
        """Return a mutable FlowPlan with the same content."""
        return FlowPlan(
            id=self.id,
            name=self.name,
            description=self.description,
            steps=[
                FlowStep(
                    id=s.id,
                    name=s.name,
                    type=s.type,
                    parameters=cast("dict[str, Any]", thaw(s.parameters)),
                    dependencies=list(s.dependencies),
                    timeout=s.timeout,
                    max_retries=s.max_retries,
                    metadata=cast("dict[str, Any]", thaw(s.metadata)),
                )
                for s in self.steps
            ],
            variables=cast("dict[str, Any]", thaw(self.variables)),
            version=self.version,
        )


class StepState(BaseModel):
    """How one step of a running or finished flow stands."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    """Attempts started so far (the first attempt is 1)."""
    result: Any = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class FlowState(BaseModel):
    """A flow's state: status, per-step states, variables, timing, and its plan."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    flow_id: str
    status: FlowStatus = FlowStatus.PENDING
    steps: dict[str, StepState] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    execution_time: float = 0.0
    """Seconds from start to finish (or to now, while running)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Includes ``plan_version``."""
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    plan: PlanSpec | None = None
    """The plan being run, kept so the flow can be resumed."""

    @property
    def completed_steps(self) -> list[str]:
        """Ids of the steps that completed."""
        return [k for k, v in self.steps.items() if v.status is StepStatus.COMPLETED]


class FlowConfig(BaseModel):
    """Options of a flow (mutable, validated on assignment); see create_default_config()."""

    model_config = _MUTABLE

    enable_stream_callbacks: bool = True
    enable_human_callbacks: bool = True
    auto_save_interval: Annotated[float, Field(gt=0)] = 30.0
    """Seconds between checkpoints of a running flow (one is also saved per step change)."""
    checkpoint_interval: Annotated[float, Field(ge=0, le=60)] = 0.005
    """Least seconds between two checkpoints while steps keep changing; changes in between
    are saved together once it passes, and the flow's end is always saved at once.
    0 saves after every change."""
    max_parallel_steps: Annotated[int, Field(ge=1, le=10_000)] = 10
    default_step_timeout: Annotated[float, Field(gt=0)] | None = 300.0
    default_max_retries: Annotated[int, Field(ge=0, le=100)] = 3
    retry_delay: Annotated[float, Field(ge=0)] = 1.0
    """Seconds before the first retry."""
    exponential_backoff: bool = True
    max_retry_delay: Annotated[float, Field(ge=0)] = 60.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Up to this fraction of each delay is added at random (from ``random_seed``)."""
    random_seed: int | None = None
    skip_dependents_of_failed_steps: bool = False
    """Skip the dependents of a non-critical failed step instead of running them."""
    human_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 3600.0
    human_gateway: bool = True
    """Ask ``human_input`` steps through the human gateway (``/system/human``): it
    times each request out by the step's ``on_timeout`` policy (``fail``, ``default``,
    ``escalate``), validates answers, and journals them. False: the flow asks its human
    callback directly and times the step out itself (``fail`` only)."""
    flow_timeout: Annotated[float, Field(gt=0)] | None = None
    """Seconds the whole flow may take (None: no limit)."""
    memory_retention: Annotated[float, Field(ge=0)] | None = 0.0
    """Seconds a flow's memory (in the system's store) is kept after the flow ends: 0
    deletes it with the flow's final checkpoint, None keeps it."""


def create_default_config() -> FlowConfig:
    """Return a FlowConfig with the defaults."""
    return FlowConfig()


def create_flow_step(
    name: str,
    step_type: str,
    parameters: dict[str, Any] | None = None,
    dependencies: list[str] | None = None,
    **options: Any,
) -> FlowStep:
    """Create a step with a new id (as in the seed).

    ``options`` are other FlowStep fields: ``id``, ``timeout``, ``max_retries``, ``metadata``.
    """
    return FlowStep(
        name=name,
        type=step_type,
        parameters=dict(parameters or {}),
        dependencies=list(dependencies or []),
        **options,
    )


_NOTHING: dict[str, JsonValue] = cast("dict[str, JsonValue]", freeze({}))
"""An empty, read-only dict (shared: it cannot change)."""


def _max_retries(option: object, default: int) -> int:
    # An ill-typed option is left to plan validation, which rejects it with a clear error.
    return option if isinstance(option, int) and not isinstance(option, bool) else default


def _jsonable(data: dict[str, Any], where: str) -> dict[str, JsonValue]:
    if not data:
        return _NOTHING
    fix = "Use JSON data (dict, list, str, numbers, bool, None), nested at most 64 deep."
    converted = to_json_data(data, where=where, error=FlowDefinitionError, fix=fix)
    assert isinstance(converted, dict)
    # Read-only: a plan's spec is shared by the flow, its journal and every attempt.
    return cast("dict[str, JsonValue]", freeze(converted))
