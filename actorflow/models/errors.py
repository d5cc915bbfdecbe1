"""Errors of model calls, planning and decomposition by a model.

::

    EffectError
    └── ModelError                  a model call failed (``retryable`` says if a retry may help)
        ├── ModelRequestError       the endpoint refused the request (4xx but 408/429)
        ├── ModelUnavailableError   5xx, 429, 408 or no connection, after the client's retries
        ├── ModelTimeoutError       no answer within the timeout (on the system's clock)
        └── ModelResponseError      the answer does not fit (bad JSON, no recorded response)
    PlanningError
    └── ModelPlanningError          the model gave no valid plan in its tries
    AgentError
    └── ModelDecompositionError     the model gave no valid subtasks in its tries
"""

from __future__ import annotations

from actorflow.errors import AgentError, ConfigurationError, EffectError
from actorflow.flow.planner import PlanningError

__all__ = [
    "ModelDecompositionError",
    "ModelError",
    "ModelPlanningError",
    "ModelRequestError",
    "ModelResponseError",
    "ModelTimeoutError",
    "ModelUnavailableError",
    "OpenAINotInstalledError",
]


class ModelError(EffectError):
    """A model call failed. ``retryable`` tells a flow (or an agent's requester) whether
    trying again may help; ``status_code`` is the HTTP status, if there was one."""

    retryable: bool | None = None
    retry_after: float | None = None
    """Seconds the server asked to wait before a retry (``Retry-After``), if it did."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        if retryable is not None:
            self.retryable = retryable


class ModelRequestError(ModelError):
    """The endpoint refused the request (a 4xx status other than 408 and 429): a bad
    model name, a bad key, a malformed request. Never retried."""

    retryable = False


class ModelUnavailableError(ModelError):
    """The endpoint was unavailable (5xx, 429, 408, connection failure) through all of
    the client's tries; a later try may succeed."""

    retryable = True


class ModelTimeoutError(ModelError):
    """No answer within the client's timeout (measured on the system's clock)."""

    retryable = True


class ModelResponseError(ModelError):
    """The answer cannot be used: not the structure asked for, or no recorded response
    left to serve."""

    retryable = False


class ModelPlanningError(PlanningError):
    """The model proposed no valid plan within the planner's tries (the message holds
    the last error)."""


class ModelDecompositionError(AgentError):
    """The model proposed no valid subtasks within the decomposer's tries."""


class OpenAINotInstalledError(ConfigurationError):
    """The ``openai`` package is missing: ``pip install actorflow[openai]``."""
