"""Which attempt of which step the running code belongs to: idempotency keys for tools.

A tool with side effects (a payment, an e-mail, a row written elsewhere) can be run
twice for one step: after a retry, or when a resumed flow runs again the attempt that
was under way when its process died. :func:`current_attempt` tells the tool where it
runs; its :attr:`Attempt.idempotency_key` is the same for every run of one attempt
(a resumed flow runs it again under its own number) and differs between attempts::

    def charge(amount: int) -> dict:
        key = actorflow.idempotency_key()  # "flow-id/step-id/attempt"
        return payments.charge(amount, idempotency_key=key)

Plain tools (run in a worker thread), async tools, human callbacks and custom
executors all see it. Threads or executors a tool starts itself do not (context
variables do not follow them): read the key in the tool and pass it on.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, final

from actorflow.errors import ConfigurationError

__all__ = ["Attempt", "current_attempt", "idempotency_key", "run_in_attempt"]


@final
@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt of a flow's step."""

    flow_id: str
    step_id: str
    number: int
    """The attempt's number (the first is 1)."""
    stop: threading.Event | None = field(default=None, compare=False, repr=False)
    """Set when the flow cancelled the attempt (it timed out, the flow ended): a
    streaming tool's output is no longer pulled, its events no longer told."""
    emit: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)
    """Tells a stream event (a ``StreamCallbackData``) to the stream hub as the step's
    flow (None: the flow's streams are off). Use :func:`actorflow.emit_stream`."""

    @property
    def is_cancelled(self) -> bool:
        """Whether the flow cancelled this attempt (its outcome will be ignored)."""
        return self.stop is not None and self.stop.is_set()

    @property
    def idempotency_key(self) -> str:
        """``flow id/step id/attempt number``: one per attempt, kept across a resume."""
        return f"{self.flow_id}/{self.step_id}/{self.number}"


T = TypeVar("T")

_current: ContextVar[Attempt | None] = ContextVar("actorflow_attempt", default=None)


def current_attempt() -> Attempt | None:
    """Return the attempt the calling code runs in (None outside a step)."""
    return _current.get()


def idempotency_key() -> str:
    """Return the idempotency key of the attempt the calling code runs in.

    Raises:
        ConfigurationError: called outside a step of a flow.
    """
    attempt = _current.get()
    if attempt is None:
        raise ConfigurationError(
            "idempotency_key() was called outside a flow step; call it from a tool, a "
            "human callback or an executor while a flow runs it."
        )
    return attempt.idempotency_key


async def run_in_attempt(attempt: Attempt, work: Callable[[], Awaitable[T]]) -> T:
    """Await ``work()`` with ``attempt`` as the current attempt (for this task only)."""
    token = _current.set(attempt)
    try:
        return await work()
    finally:
        _current.reset(token)


def call_in_attempt(attempt: Attempt, work: Callable[[], T]) -> T:
    """Call ``work()`` with ``attempt`` as the current attempt (a sync tool on a pool
    thread, which runs in its own copy of the caller's context)."""
    token = _current.set(attempt)
    try:
        return work()
    finally:
        _current.reset(token)
