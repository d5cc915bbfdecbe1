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
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    ValidationInfo,
)

from actorflow.errors import ConfigurationError, DuplicateKindError, UnknownKindError

__all__ = [
    "AnyMessage",
    "Message",
    "OpaqueMessage",
    "message_class",
    "message_fields",
    "message_kind",
    "message_record",
    "registered_kinds",
    "validate_message",
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


class OpaqueMessage(Message):
    """Stands in for a decoded message whose kind has no class in this process.

    Log readers use it (``unknown_kinds="opaque"``) so a log can be shown without
    importing the program that wrote it; ``original_kind`` and ``fields`` keep the data.
    """

    kind: Literal["message.opaque"] = "message.opaque"
    original_kind: str
    fields: dict[str, JsonValue]


def message_kind(message: Message) -> str:
    """Return the kind of ``message`` (the original kind for an :class:`OpaqueMessage`)."""
    if isinstance(message, OpaqueMessage):
        return message.original_kind
    return message.kind_tag or "?"


_PLAIN_TYPES = (str, int, float, bool, type(None))
_plain_classes: dict[type[Message], bool] = {}


def _is_plain_annotation(annotation: object) -> bool:
    if annotation in _PLAIN_TYPES or annotation is JsonValue:  # validated JSON data as is
        return True
    supertype = getattr(annotation, "__supertype__", None)  # NewType, e.g. ActorPath
    if supertype is not None:
        return _is_plain_annotation(supertype)
    origin = get_origin(annotation)
    if origin is Literal:
        return all(type(arg) in (str, int, bool) for arg in get_args(annotation))
    if origin in (Union, UnionType):
        return all(_is_plain_annotation(arg) for arg in get_args(annotation))
    if origin is dict:
        key, value = get_args(annotation)
        return key is str and _is_plain_annotation(value)
    return False


def _is_plain(cls: type[Message]) -> bool:
    plain = _plain_classes.get(cls)
    if plain is None:
        plain = all(_is_plain_annotation(f.annotation) for f in cls.model_fields.values())
        _plain_classes[cls] = plain
    return plain


def message_record(message: Message) -> dict[str, Any]:
    """Return ``message`` as its JSON-mode dict (with ``kind``), for encoding.

    Equal to ``model_dump(mode="json")``; messages whose fields are all str, int,
    float, bool, None or JSON data (most of them) take a fast path around the
    serializer.
    """
    if _is_plain(type(message)):
        return dict(message.__dict__)
    return message.__pydantic_serializer__.to_python(message, mode="json")  # type: ignore[no-any-return]


def message_fields(message: Message) -> dict[str, Any]:
    """Return a message's fields in JSON mode, without ``kind`` (an opaque message's own)."""
    if isinstance(message, OpaqueMessage):
        return dict(message.fields)
    return message.model_dump(mode="json", exclude={"kind"})


def validate_message(data: Mapping[str, Any], *, opaque: bool = False) -> Message:
    """Validate ``data`` (a message's JSON-mode dump) as the class its ``kind`` names.

    With ``opaque``, an unregistered kind gives an :class:`OpaqueMessage` instead of
    raising, here and in nested message fields.

    Raises:
        UnknownKindError: the kind is not registered (and ``opaque`` is false).
        pydantic.ValidationError: the data does not fit the class.
    """
    kind = data.get("kind")
    if opaque and isinstance(kind, str) and kind not in _registry:
        fields = {k: v for k, v in data.items() if k != "kind"}
        return OpaqueMessage(original_kind=kind, fields=fields)
    cls = message_class(kind)
    if opaque:
        return cls.model_validate(data, context={"opaque": True})
    validated: Message = cls.__pydantic_validator__.validate_python(data)
    return validated


def _validate_any(value: object, info: ValidationInfo) -> Message:
    if isinstance(value, Message):
        return value
    if isinstance(value, Mapping):
        opaque = bool(info.context and info.context.get("opaque"))
        return validate_message(value, opaque=opaque)
    raise ValueError(f"expected a message or a mapping with a 'kind', got {type(value).__name__}")


def _serialize_any(value: Message, info: SerializationInfo) -> object:
    return value.model_dump(mode=info.mode)


AnyMessage = Annotated[
    Message,
    PlainValidator(_validate_any),
    PlainSerializer(_serialize_any),
]
"""A field type holding any registered message; it round-trips through its kind tag."""
