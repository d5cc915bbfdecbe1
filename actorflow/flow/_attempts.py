"""What a flow actor keeps per step, and the pure rules it applies to attempts:
their results as messages, whether and when to retry, and step snapshots."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue
from pydantic_core import to_jsonable_python

from actorflow._trusted import trusted
from actorflow.errors import StepResultError
from actorflow.flow.messages import StepAttemptFinished
from actorflow.flow.models import TERMINAL_STEP_STATES, FlowConfig, StepSpec, StepState, StepStatus
from actorflow.runtime.effects import EffectHandle

__all__ = [
    "StepRun",
    "attempt_finished",
    "is_retryable",
    "json_or_repr",
    "retry_delay",
    "snapshot_of",
]

NOT_RETRYABLE = (
    "actorflow.errors.ConfigurationError",
    "actorflow.errors.FlowDefinitionError",
    "actorflow.errors.InvalidStepParametersError",
    "actorflow.errors.ConditionError",
    "actorflow.errors.UnknownStepTypeError",
    "actorflow.errors.StepResultError",
)
"""Error types a retry cannot cure: the step's definition or its result is wrong."""


@dataclass
class StepRun:
    """One step of a running flow, as its flow actor tracks it."""

    spec: StepSpec
    waiting_on: int
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    result: Any = None
    error: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    handle: EffectHandle | None = None
    retry_pending: bool = False
    live_attempt: int | None = None
    """The attempt whose result is awaited; results of any other attempt are ignored."""
    snapshot: StepState | None = None
    """The step's last published state; None once anything in it changed."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STEP_STATES

    def option(self, name: str, *, default: Any) -> Any:
        """An engine option of this step; missing or None means ``default``."""
        value = self.spec.parameters.get(name)
        return default if value is None else value


def is_retryable(step: StepRun, error_type: str) -> bool:
    """Whether an attempt that failed with ``error_type`` may be retried (``retry_on``)."""
    if error_type in NOT_RETRYABLE:
        return False
    retry_on = step.option("retry_on", default=None)
    if not retry_on:
        return True
    short = error_type.rsplit(".", 1)[-1]
    return error_type in retry_on or short in retry_on


def retry_delay(step: StepRun, config: FlowConfig, rng: random.Random) -> float:
    """Seconds before the next attempt: the step's options over the config's, with
    exponential backoff, a cap, and jitter from ``rng``."""
    base = float(step.option("retry_delay", default=config.retry_delay))
    exponential = bool(step.option("exponential_backoff", default=config.exponential_backoff))
    cap = float(step.option("max_retry_delay", default=config.max_retry_delay))
    jitter = float(step.option("jitter", default=config.jitter))
    delay = min(cap, base * (2 ** (step.attempts - 1) if exponential else 1))
    return delay + (rng.uniform(0, jitter * delay) if jitter else 0.0)


def snapshot_of(step: StepRun) -> StepState:
    """The step's published state (kept on the step until it changes)."""
    step.snapshot = trusted(
        StepState,
        status=step.status,
        attempts=step.attempts,
        result=step.result,
        error=step.error,
        started_at=_dt(step.started_at),
        completed_at=_dt(step.completed_at),
    )
    return step.snapshot


def attempt_finished(
    flow_id: str, step_id: str, attempt: int, result: object, error: BaseException | None
) -> StepAttemptFinished:
    if error is None:
        try:
            data = to_jsonable_python(result, fallback=repr)
        except Exception as exc:  # noqa: BLE001 - binary data, a cycle: the attempt fails
            error = StepResultError(
                f"Step {step_id!r} returned a value that cannot be stored as JSON "
                f"({type(result).__name__}: {exc}). Return JSON data (dict, list, str, "
                "numbers, bool, None), e.g. base64 text for bytes."
            )
        else:
            # Built without re-validation: every field is a plain value made right here,
            # and to_jsonable_python turned the result into JSON data (the field's type).
            return trusted(
                StepAttemptFinished,
                flow_id=flow_id,
                step_id=step_id,
                attempt=attempt,
                ok=True,
                result=data,
                error_type="",
                error="",
            )
    kind = type(error)
    return StepAttemptFinished(
        flow_id=flow_id,
        step_id=step_id,
        attempt=attempt,
        ok=False,
        error_type=f"{kind.__module__}.{kind.__qualname__}",
        error=str(error) or kind.__name__,
    )


def json_or_repr(value: object) -> JsonValue:
    """``value`` as JSON data: binary data as base64, other objects as their repr."""
    try:
        converted: JsonValue = to_jsonable_python(value, fallback=repr, bytes_mode="base64")
    except Exception:  # noqa: BLE001 - e.g. a cycle
        return repr(value)
    return converted


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
