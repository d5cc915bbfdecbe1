"""Where a model call runs: whom its stream events go to, where it is journaled.

A call made by a :class:`~actorflow.models.ModelAgent` (or any code inside
:func:`model_scope`) emits its TEXT / THINKING events as that agent, for the flow of
its task, and is journaled as that agent's ``model`` effect. A call made by a tool
inside a flow step emits as the step (:func:`actorflow.emit_stream`) and is journaled
under the flow's path, if the client knows the actor system. A call made anywhere else
emits nothing and is journaled under :data:`OUTSIDE_PATH` if the client knows a system.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pydantic import JsonValue

from actorflow.errors import ActorflowError
from actorflow.flow.attempt import current_attempt
from actorflow.flow.streaming import emit_stream
from actorflow.ids import ActorPath
from actorflow.messages.system import EffectRecorded
from actorflow.secrets import redact, redact_text, redacting_logger
from actorflow.streams import StreamCallbackType

if TYPE_CHECKING:
    from actorflow.agents.context import AgentContext
    from actorflow.runtime.system import ActorSystem

__all__ = ["MODEL_EFFECT", "OUTSIDE_PATH", "Emit", "ModelScope", "current_scope", "model_scope"]

MODEL_EFFECT: Final = "model"
"""The ``effect`` of a model call's ``EffectRecorded``."""
OUTSIDE_PATH: Final = ActorPath("/outside/model")
"""The ``actor`` a call made outside any agent or flow step is journaled under."""

_log = redacting_logger()

Emit = Callable[[StreamCallbackType, JsonValue, dict[str, JsonValue]], object]
"""Emits one stream event: type, content, metadata."""


@dataclass(frozen=True, slots=True)
class ModelScope:
    """Whom a model call's events go to and where it is journaled.

    Attributes:
        system: the actor system whose journal records the call (None: not recorded).
        actor: the path it is recorded under.
        emit: emits a stream event (None: no events).
    """

    system: ActorSystem | None
    actor: ActorPath
    emit: Emit | None = None

    def event(self, type: StreamCallbackType, content: JsonValue, **metadata: JsonValue) -> None:
        """Emit a stream event (redacted), if this scope has an emitter."""
        if self.emit is None:
            return
        text = redact_text(content) if isinstance(content, str) else redact(content)
        try:
            self.emit(type, text, redact(metadata))
        except ActorflowError as exc:  # an event that cannot go (too big, system stopping)
            _log.warning(
                "A {type} event of {actor} was not emitted: {error}",
                type=type.value,
                actor=self.actor,
                error=str(exc),
            )

    def record(self, name: str, value: JsonValue) -> None:
        """Journal a model call as a ``model`` effect (redacted), if there is a system."""
        if self.system is None:
            return
        self.system.emit(
            EffectRecorded(actor=self.actor, effect=MODEL_EFFECT, name=name, value=redact(value))
        )


_scope: ContextVar[ModelScope | None] = ContextVar("actorflow_model_scope", default=None)


@contextlib.contextmanager
def model_scope(
    system: ActorSystem | None, actor: str, emit: Emit | None = None
) -> Iterator[ModelScope]:
    """Run model calls in the ``with`` block (this task only) as ``actor`` of ``system``,
    with their stream events going to ``emit``."""
    scope = ModelScope(system, ActorPath(actor), emit)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def agent_scope(ctx: AgentContext) -> contextlib.AbstractContextManager[ModelScope]:
    """:func:`model_scope` for an agent's task: events as the agent, for its task's flow."""

    def emit(type: StreamCallbackType, content: JsonValue, metadata: dict[str, JsonValue]) -> None:
        ctx.emit(type, content, **metadata)

    return model_scope(ctx.system, ctx.path, emit)


def current_scope(system: ActorSystem | None = None) -> ModelScope:
    """The scope of the calling code: the innermost :func:`model_scope`, else the flow
    step it runs in, else outside (journaled in ``system`` if given)."""
    scope = _scope.get()
    if scope is not None:
        if scope.system is None and system is not None:
            return ModelScope(system, scope.actor, scope.emit)
        return scope
    attempt = current_attempt()
    if attempt is not None:
        return ModelScope(system, ActorPath(f"/flows/{attempt.flow_id}"), _step_emit)
    return ModelScope(system, OUTSIDE_PATH)


def _step_emit(
    type: StreamCallbackType, content: JsonValue, metadata: dict[str, JsonValue]
) -> None:
    emit_stream(type, content, **metadata)
