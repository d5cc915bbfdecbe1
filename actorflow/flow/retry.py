"""The retry policy of flow steps: whether a failed attempt is retried, and when.

Pure functions over plain data. A failed attempt is described by a :class:`StepError`
(its error's class hierarchy, message and markers, as the flow journal records it);
a :class:`RetryPolicy` decides on it. The rules, in order:

1. An explicit marker wins: ``NonRetryableStepError`` in the hierarchy, or an
   exception attribute ``retryable = False``, is never retried; ``RetryableStepError``
   or ``retryable = True`` is retried (attempts permitting) whatever ``retry_on`` says.
2. Deterministic failures are never retried: the step's definition or parameters are
   wrong (``FlowDefinitionError``, ``ConfigurationError``), a condition cannot be
   evaluated (``ConditionEvaluationError``), a result cannot be stored
   (``StepResultError``), an HTTP answer is a 4xx other than 408 and 429, the process
   is asked to stop (``KeyboardInterrupt``, ``SystemExit``).
3. With ``retry_on`` set, only errors whose class *or any base class* is named there
   (short or qualified name) are retried; without it every other error is.
4. At most ``max_retries`` retries: attempt ``1 + max_retries`` is the last.

Delays grow exponentially from ``delay`` up to ``max_delay``; jitter adds up to
``jitter * delay``, drawn from a generator seeded by the flow's seed, the step and the
attempt, so the same flow always waits the same times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DETERMINISTIC_ERRORS", "RetryPolicy", "StepError", "error_hierarchy"]

DETERMINISTIC_ERRORS = frozenset(
    {
        "actorflow.errors.ConfigurationError",
        "actorflow.errors.FlowDefinitionError",
        "actorflow.errors.ConditionEvaluationError",
        "actorflow.errors.StepResultError",
        "actorflow.errors.NonRetryableStepError",
        "actorflow.errors.BlockingCallError",
        "builtins.KeyboardInterrupt",
        "builtins.SystemExit",
    }
)
"""Qualified names of error classes a retry cannot cure (subclasses included)."""

_RETRYABLE = "actorflow.errors.RetryableStepError"
_NOT_RETRYABLE = "actorflow.errors.NonRetryableStepError"
_RETRYABLE_STATUS = frozenset({408, 429})


def error_hierarchy(kind: type[BaseException]) -> tuple[str, ...]:
    """Return the qualified names of ``kind`` and its base classes, most specific first."""
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__ if c is not object)


@dataclass(frozen=True, slots=True)
class StepError:
    """A failed attempt's error, as plain data."""

    hierarchy: tuple[str, ...]
    """Qualified class names of the error and its bases, most specific first."""
    message: str = ""
    retryable: bool | None = None
    """An explicit marker from the error (its ``retryable`` attribute), if any."""
    status_code: int | None = None
    """The HTTP status of an HTTP error, if any."""

    @property
    def type(self) -> str:
        """The error's qualified class name."""
        return self.hierarchy[0] if self.hierarchy else "Error"

    def is_a(self, names: frozenset[str] | tuple[str, ...]) -> bool:
        """Whether the error's class or a base class is named in ``names`` (short or
        qualified names)."""
        for qualified in self.hierarchy:
            if qualified in names or qualified.rsplit(".", 1)[-1] in names:
                return True
            if any(qualified.endswith(f".{name}") for name in names):  # Outer.Inner
                return True
        return False

    @property
    def is_deterministic(self) -> bool:
        """Whether the error says a retry cannot help (rule 2 and the markers of rule 1)."""
        if self.retryable is False or _NOT_RETRYABLE in self.hierarchy:
            return True  # the class marker wins over an attribute saying otherwise
        if self.retryable is True or _RETRYABLE in self.hierarchy:
            return False
        if self.status_code is not None and 400 <= self.status_code < 500:
            return self.status_code not in _RETRYABLE_STATUS
        return any(name in DETERMINISTIC_ERRORS for name in self.hierarchy)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one step is retried."""

    max_retries: int = 3
    delay: float = 1.0
    """Seconds before the first retry."""
    exponential: bool = True
    max_delay: float = 60.0
    jitter: float = 0.0
    """Up to this fraction of each delay is added at random (0 to 1)."""
    retry_on: tuple[str, ...] = ()
    """Error class names worth a retry (short or qualified); empty: any error."""

    def should_retry(self, error: StepError, attempt: int) -> bool:
        """Whether attempt ``attempt`` (1 for the first), which failed with ``error``,
        is followed by another."""
        if attempt > self.max_retries or error.is_deterministic:
            return False
        if not self.retry_on or error.retryable is True or _RETRYABLE in error.hierarchy:
            return True
        return error.is_a(self.retry_on)

    def delay_before(self, attempt: int, *, seed: int, key: str) -> float:
        """Seconds to wait before attempt ``attempt`` (2 for the first retry).

        ``seed`` and ``key`` (the flow's seed and the step id) make the jitter
        reproducible: the same arguments always give the same delay.
        """
        exponent = max(0, attempt - 2) if self.exponential else 0
        delay = min(self.max_delay, self.delay * 2.0**exponent)
        if not self.jitter or not delay:
            return delay
        draw = random.Random(f"{seed}/{key}/{attempt}").random()
        return delay + draw * self.jitter * delay
