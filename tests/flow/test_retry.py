"""The retry policy, on its own: pure decisions on plain data."""

from __future__ import annotations

import pytest

from actorflow.errors import (
    ConditionEvaluationError,
    InvalidStepParametersError,
    NonRetryableStepError,
    RetryableStepError,
    StepResultError,
)
from actorflow.flow.retry import RetryPolicy, StepError, error_hierarchy


def _error(kind: type[BaseException], **kw: object) -> StepError:
    return StepError(error_hierarchy(kind), "boom", **kw)  # type: ignore[arg-type]


def test_the_hierarchy_names_the_class_and_its_bases_most_specific_first() -> None:
    assert error_hierarchy(ConnectionRefusedError)[:3] == (
        "builtins.ConnectionRefusedError",
        "builtins.ConnectionError",
        "builtins.OSError",
    )


@pytest.mark.parametrize(
    "kind",
    [ConditionEvaluationError, InvalidStepParametersError, StepResultError, NonRetryableStepError],
)
def test_deterministic_errors_are_never_retried(kind: type[BaseException]) -> None:
    assert not RetryPolicy(max_retries=5).should_retry(_error(kind), 1)


def test_retry_on_matches_base_classes_by_short_or_qualified_name() -> None:
    short = RetryPolicy(retry_on=("ConnectionError",))
    qualified = RetryPolicy(retry_on=("builtins.OSError",))

    assert short.should_retry(_error(ConnectionResetError), 1)
    assert qualified.should_retry(_error(ConnectionResetError), 1)
    assert not short.should_retry(_error(ValueError), 1)


def test_markers_beat_retry_on() -> None:
    policy = RetryPolicy(retry_on=("ConnectionError",))

    assert policy.should_retry(_error(RetryableStepError), 1)
    assert policy.should_retry(_error(ValueError, retryable=True), 1)
    assert not RetryPolicy().should_retry(_error(ConnectionError, retryable=False), 1)


@pytest.mark.parametrize(
    ("status", "retried"),
    [(400, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_http_statuses(status: int, retried: bool) -> None:
    assert RetryPolicy().should_retry(_error(OSError, status_code=status), 1) is retried


def test_attempts_are_capped_at_one_plus_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)

    assert [policy.should_retry(_error(OSError), n) for n in (1, 2, 3)] == [True, True, False]


def test_delays_grow_exponentially_to_the_cap() -> None:
    policy = RetryPolicy(delay=1.0, max_delay=3.0)
    flat = RetryPolicy(delay=1.0, exponential=False)

    assert [policy.delay_before(n, seed=0, key="a") for n in (2, 3, 4, 5)] == [1.0, 2.0, 3.0, 3.0]
    assert [flat.delay_before(n, seed=0, key="a") for n in (2, 3, 4)] == [1.0, 1.0, 1.0]


def test_jitter_is_reproducible_from_the_seed_and_bounded() -> None:
    policy = RetryPolicy(delay=2.0, jitter=0.5)

    first = [policy.delay_before(n, seed=7, key="s") for n in range(2, 12)]
    again = [policy.delay_before(n, seed=7, key="s") for n in range(2, 12)]
    other = [policy.delay_before(n, seed=8, key="s") for n in range(2, 12)]

    assert first == again
    assert first != other
    for n, delay in zip(range(2, 12), first, strict=True):
        base = min(60.0, 2.0 * 2 ** (n - 2))
        assert base <= delay <= base * 1.5
