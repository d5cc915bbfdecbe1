"""What an attempt produced, as the message its flow receives.

A step's result must be JSON data (see :mod:`actorflow.flow.jsondata`); anything else
(an object, a set, bytes, NaN) fails the attempt with :class:`StepResultError`, which
is never retried. No ``repr`` stands in for a value.
"""

from __future__ import annotations

from typing import cast

from pydantic import JsonValue

from actorflow._trusted import trusted
from actorflow.errors import StepResultError
from actorflow.flow.jsondata import to_json_data
from actorflow.flow.messages import AttemptOutcome, StepAttemptFinished
from actorflow.flow.retry import error_hierarchy
from actorflow.messages import freeze

__all__ = ["attempt_failed", "attempt_finished", "strict_json"]

_FIX = (
    "Return JSON data (dict, list, str, numbers, bool, None), e.g. base64 text for bytes "
    "or a list for a set."
)


def strict_json(value: object, *, where: str) -> JsonValue:
    """Return ``value`` as JSON data (see :mod:`actorflow.flow.jsondata`).

    Raises:
        StepResultError: ``value`` holds something JSON cannot (``where`` names it).
    """
    return to_json_data(value, where=where, error=StepResultError, fix=_FIX)


def attempt_finished(
    flow_id: str,
    step_id: str,
    attempt: int,
    result: object,
    error: BaseException | None,
    *,
    message: type[AttemptOutcome] = StepAttemptFinished,
) -> AttemptOutcome:
    """Return the message that reports attempt ``attempt`` of a step: its result, or
    its error with the error's class hierarchy and markers. ``message`` is the message
    class (``HumanAnswered`` for a person's answer)."""
    if error is None:
        try:
            data = strict_json(result, where=f"The result of step {step_id!r}")
        except StepResultError as exc:
            error = exc
        else:
            if isinstance(data, list | dict):  # read-only: later steps see it by reference
                data = cast("JsonValue", freeze(data))
            # Built without re-validation: every field is a plain value made right here.
            return trusted(
                message,
                flow_id=flow_id,
                step_id=step_id,
                attempt=attempt,
                ok=True,
                result=data,
                error_type="",
                error="",
                error_types=(),
                retryable=None,
                status_code=None,
            )
    kind = type(error)
    hierarchy = error_hierarchy(kind)
    return message(
        flow_id=flow_id,
        step_id=step_id,
        attempt=attempt,
        ok=False,
        error_type=hierarchy[0],
        error=_text_of(error),
        error_types=hierarchy,
        retryable=_marker(error),
        status_code=_status_of(error),
    )


def _text_of(error: BaseException) -> str:
    try:
        return str(error) or type(error).__name__
    except Exception:  # noqa: BLE001 - an error whose __str__ fails still reports its type
        return f"{type(error).__name__} (its message could not be read)"


def _attribute(obj: object, name: str) -> object:
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a property that raises counts as absent
        return None


def _marker(error: BaseException) -> bool | None:
    marker = _attribute(error, "retryable")
    return marker if isinstance(marker, bool) else None


def _status_of(error: BaseException) -> int | None:
    status = _attribute(error, "status_code")
    if status is None:  # httpx.HTTPStatusError and the like carry it on their response
        status = _attribute(_attribute(error, "response"), "status_code")
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 999:
        return int(status)  # an HTTPStatus too
    return None


def attempt_failed(
    flow_id: str,
    step_id: str,
    attempt: int,
    *,
    error: str,
    error_types: tuple[str, ...],
    retryable: bool | None,
) -> StepAttemptFinished:
    """Return the message that reports a failed attempt whose error arrived as data (an
    agent's answer): its class hierarchy and marker, as :func:`attempt_finished` would
    read them off an exception."""
    types = error_types or ("actorflow.errors.AgentTaskFailedError",)
    return StepAttemptFinished(
        flow_id=flow_id,
        step_id=step_id,
        attempt=attempt,
        ok=False,
        error_type=types[0],
        error=error,
        error_types=types,
        retryable=retryable,
    )
