"""What an attempt produced, as the message its flow receives.

A step's result must be JSON data (see :mod:`actorflow.flow.jsondata`); anything else
(an object, a set, bytes, NaN) fails the attempt with :class:`StepResultError`, which
is never retried. No ``repr`` stands in for a value.
"""

from __future__ import annotations

from pydantic import JsonValue

from actorflow._trusted import trusted
from actorflow.errors import StepResultError
from actorflow.flow.jsondata import to_json_data
from actorflow.flow.messages import StepAttemptFinished
from actorflow.flow.retry import error_hierarchy

__all__ = ["attempt_finished", "strict_json"]

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
    flow_id: str, step_id: str, attempt: int, result: object, error: BaseException | None
) -> StepAttemptFinished:
    """Return the message that reports attempt ``attempt`` of a step: its result, or
    its error with the error's class hierarchy and markers."""
    if error is None:
        try:
            data = strict_json(result, where=f"The result of step {step_id!r}")
        except StepResultError as exc:
            error = exc
        else:
            # Built without re-validation: every field is a plain value made right here.
            return trusted(
                StepAttemptFinished,
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
    marker = getattr(error, "retryable", None)
    status = getattr(error, "status_code", None)
    if status is None:  # httpx.HTTPStatusError and the like carry it on their response
        status = getattr(getattr(error, "response", None), "status_code", None)
    hierarchy = error_hierarchy(kind)
    return StepAttemptFinished(
        flow_id=flow_id,
        step_id=step_id,
        attempt=attempt,
        ok=False,
        error_type=hierarchy[0],
        error=str(error) or kind.__name__,
        error_types=hierarchy,
        retryable=marker if isinstance(marker, bool) else None,
        status_code=status if type(status) is int else None,
    )
