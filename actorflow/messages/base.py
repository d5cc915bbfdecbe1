"""The Message base class and the kind registry that maps tags back to classes.

Every message is a frozen pydantic model with ``extra="forbid"`` and a ``kind``
tag (``"area.event"``). Defining a class registers its tag; a second class with
the same tag is an error at import time, so a tag always names one class and a
decoded frame turns back into exactly the class that wrote it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, SerializationInfo

from actorflow.errors import ConfigurationError, DuplicateKindError, UnknownKindError

__all__ = [
    "AnyMessage",
    "Message",
    "message_class",
    "registered_kinds",
]

_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_registry: dict[str, type[Message]] = {}
_registry_lock = threading.Lock()


class Message(BaseModel):
    """Base of every message: frozen, no extra fields, tagged with a stable ``kind``.

    Subclasses declare ``kind: Literal["area.event"] = "area.event"``. Classes
    without a ``kind`` default are abstract bases and are not registered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    kind_tag: ClassVar[str | None] = None
    """The registered kind tag of this class (``None`` on abstract bases)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Register the subclass under its ``kind`` tag (runs at class definition)."""
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("kind")
        if field is None or not isinstance(field.default, str):
            return
        _register(cls, field.default)


def _register(cls: type[Message], kind: str) -> None:
    if not _KIND_PATTERN.match(kind):
        raise ConfigurationError(
            f"Message class {cls.__qualname__!r} has kind {kind!r}, which is not "
            "'area.event' in lowercase snake case (for example 'step.completed')."
        )
    with _registry_lock:
        existing = _registry.get(kind)
        same_class = existing is not None and (
            (existing.__module__, existing.__qualname__) == (cls.__module__, cls.__qualname__)
        )
        if existing is not None and not same_class:
            raise DuplicateKindError(
                f"Message kind {kind!r} is claimed by both "
                f"{existing.__module__}.{existing.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}. A kind tag names one class forever; "
                "give the new class its own tag."
            )
        _registry[kind] = cls  # a reloaded module re-registers its own class
    cls.kind_tag = kind


def message_class(kind: object) -> type[Message]:
    """Return the message class registered for ``kind``.

    Raises:
        UnknownKindError: no class is registered under that tag.
    """
    cls = _registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise UnknownKindError(
            f"Unknown message kind {kind!r}: no Message subclass declares it. "
            "Import the module that defines it before decoding, or check the log's version."
        )
    return cls


def registered_kinds() -> Mapping[str, type[Message]]:
    """Return a snapshot of the kind registry (tag -> class)."""
    with _registry_lock:
        return dict(_registry)


def _validate_any(value: object) -> Message:
    if isinstance(value, Message):
        return value
    if isinstance(value, Mapping):
        return message_class(value.get("kind")).model_validate(value)
    raise ValueError(f"expected a message or a mapping with a 'kind', got {type(value).__name__}")


def _serialize_any(value: Message, info: SerializationInfo) -> object:
    return value.model_dump(mode=info.mode)


AnyMessage = Annotated[
    Message,
    PlainValidator(_validate_any),
    PlainSerializer(_serialize_any),
]
"""A field type holding any registered message; it round-trips through its kind tag."""
