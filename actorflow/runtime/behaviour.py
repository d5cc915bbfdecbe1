"""Behaviours (the user's message handlers) and recipes (how to build them again).

A behaviour is a plain object whose ``on_<message_in_snake_case>(msg, ctx)``
methods handle messages; ``on_message(msg, ctx)``, if defined, takes the rest.
The cell builds it from a :class:`Recipe`, so a supervisor can throw a failed
behaviour away and build a fresh one with the same mailbox.
"""

from __future__ import annotations

import inspect
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, final

from actorflow.errors import ConfigurationError
from actorflow.messages.base import Message

if TYPE_CHECKING:
    from actorflow.runtime.context import Context

__all__ = ["Behaviour", "Handler", "Recipe", "handler_for", "handler_name", "recipe"]

Handler = Callable[[Any, Any, Any], None]
"""An unbound handler: ``(behaviour, message, ctx) -> None``."""


class Behaviour:
    """Base class for actor behaviours.

    Subclass it and add ``on_<message_class_in_snake_case>(self, msg, ctx)``
    methods (``Ping`` -> ``on_ping``, ``StepCompleted`` -> ``on_step_completed``).
    A message with no handler becomes an ``unhandled`` dead letter, unless the
    behaviour defines ``on_message(self, msg, ctx)`` as a catch-all.

    Handlers run on the actor's own thread, one message at a time, and must not
    block: use ``ctx.request`` and handle the reply as another message.
    """

    def on_start(self, ctx: Context) -> None:
        """Run on the actor's thread before its first message, and after each restart."""

    def on_stop(self, ctx: Context) -> None:
        """Run on the actor's thread when it stops or before a restart replaces it."""


@final
@dataclass(frozen=True, slots=True)
class Recipe:
    """How to build a behaviour: a factory (usually the class) and its arguments."""

    factory: Callable[..., Behaviour]
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def build(self) -> Behaviour:
        """Build a new behaviour.

        Raises:
            ConfigurationError: the factory did not return a Behaviour.
        """
        made = self.factory(*self.args, **self.kwargs)
        if not isinstance(made, Behaviour):
            raise ConfigurationError(
                f"Recipe {self.name!r} built a {type(made).__name__}, not a Behaviour. "
                "Make the class subclass actorflow.Behaviour."
            )
        return made

    @property
    def name(self) -> str:
        """The factory's qualified name, for logs and statistics."""
        return getattr(self.factory, "__qualname__", repr(self.factory))

    def mismatch(self) -> str | None:
        """Say why the arguments do not bind to the factory's signature, or ``None`` if they
        do (or the signature cannot be read, as for some builtins).

        Checked at spawn, so a wrong recipe fails there and not on the actor's thread.
        """
        signature = _signature(self.factory)
        if signature is None:
            return None
        try:
            signature.bind(*self.args, **self.kwargs)
        except TypeError as exc:
            return str(exc)
        return None


def recipe(factory: Callable[..., Behaviour], /, *args: object, **kwargs: object) -> Recipe:
    """Return a :class:`Recipe` that builds ``factory(*args, **kwargs)``."""
    if not callable(factory):
        raise ConfigurationError(f"Recipe factory {factory!r} is not callable.")
    return Recipe(factory, args, MappingProxyType(dict(kwargs)))


_signatures: weakref.WeakKeyDictionary[object, inspect.Signature | None] = (
    weakref.WeakKeyDictionary()
)


def _signature(factory: Callable[..., Behaviour]) -> inspect.Signature | None:
    """Return the factory's call signature, cached (reading one costs tens of microseconds)."""
    try:
        return _signatures[factory]
    except KeyError:
        pass
    except TypeError:  # not hashable or not weakly referable: read it each time
        return _read_signature(factory)
    signature = _read_signature(factory)
    _signatures[factory] = signature  # a racing duplicate computes the same value
    return signature


def _read_signature(factory: Callable[..., Behaviour]) -> inspect.Signature | None:
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None


_FIRST = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SECOND = re.compile(r"([a-z0-9])([A-Z])")


def handler_name(message_cls: type[Message]) -> str:
    """Return the handler method name for a message class (``HTTPDone`` -> ``on_http_done``)."""
    name = _SECOND.sub(r"\1_\2", _FIRST.sub(r"\1_\2", message_cls.__name__))
    return f"on_{name.lower()}"


_handlers: dict[tuple[type[Behaviour], type[Message]], Handler | None] = {}
_handlers_lock = threading.Lock()


def handler_for(behaviour_cls: type[Behaviour], message_cls: type[Message]) -> Handler | None:
    """Return the unbound handler a behaviour class has for a message class, cached."""
    key = (behaviour_cls, message_cls)
    try:
        return _handlers[key]
    except KeyError:
        pass
    fn = getattr(behaviour_cls, handler_name(message_cls), None)
    if fn is None:
        fn = getattr(behaviour_cls, "on_message", None)
    found: Handler | None = fn if callable(fn) else None
    with _handlers_lock:
        _handlers[key] = found
    return found
