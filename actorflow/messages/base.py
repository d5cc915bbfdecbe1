"""The Message base class and the kind registry that maps tags back to classes.

Every message is a frozen pydantic model with ``extra="forbid"`` and a ``kind``
tag (``"area.event"``). Defining a class registers its tag; a second class with
the same tag is an error at import time, so a tag always names one class and a
decoded frame turns back into exactly the class that wrote it. A class without a tag
is an error too, unless it is declared abstract (a shared base that is never sent).

Messages are immutable all the way down: their lists and dicts are frozen when they
are built (see ``_frozen``), so nobody sees a change made after sending.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from copy import copy
from types import UnionType
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    NoReturn,
    Self,
    Union,
    Unpack,
    get_args,
    get_origin,
)

from pydantic import (
    BaseModel,
    ConfigDict,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    ValidationInfo,
)

from actorflow.errors import (
    ConfigurationError,
    DuplicateKindError,
    InvalidMessageError,
    UnknownKindError,
)
from actorflow.messages._frozen import fields_to_freeze, freeze
from actorflow.messages._json import json_validator_for

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

    Subclasses declare ``kind: Literal["area.event"] = "area.event"``; a class without
    one is refused when it is defined. A base that subclasses share but that is never
    sent itself is declared abstract, without a kind: ``class Event(Message,
    abstract=True)``. Abstract classes are not registered and cannot be instantiated.

    Lists and dicts in a message (JSON data included) become :class:`FrozenList` and
    :class:`FrozenDict` when it is built, so they cannot be changed after sending,
    on every path that builds one (``model_copy(update=...)`` and ``model_construct``
    included). ``set``, ``deque``, iterables, dataclasses, ``TypedDict`` and models
    that are not frozen are refused as field types; in ``Any`` fields, values that
    cannot be frozen (a ``deque``, an object with attributes) are refused when the
    message is built. ``kind`` must be ``Literal["<its tag>"]`` with that tag as
    default; ``R[int]`` of a generic message class ``R`` has ``R``'s kind.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    kind_tag: ClassVar[str | None] = None
    """The registered kind tag of this class (``None`` on abstract bases)."""
    frozen_fields: ClassVar[tuple[str, ...]] = ()
    """Fields whose lists and dicts are made read-only when a message is built."""

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs: Unpack[ConfigDict]) -> None:
        # ``abstract`` is read in __pydantic_init_subclass__, once the fields are known.
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, *, abstract: bool = False, **kwargs: Any) -> None:
        """Register the subclass under its ``kind`` tag (runs at class definition).

        Raises:
            ConfigurationError: the class has no ``kind`` tag and is not abstract, or is
                abstract and has one, or its tag is not ``area.event``, or it sets
                ``frozen=False``, or ``kind`` is
                not annotated ``Literal["<its tag>"]``; or a field's type cannot be
                frozen (``set``, ``deque``, an iterable, a dataclass, a ``TypedDict``, a
                model that is not frozen).
            DuplicateKindError: another class already has the tag.
        """
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.model_config.get("frozen"):
            raise ConfigurationError(
                f"Message class {cls.__qualname__!r} sets frozen=False, so its fields could "
                "be reassigned after it is sent. Messages are frozen: build a new one "
                "with model_copy(update=...) instead of changing it."
            )
        _prepare_freezing(cls)
        field = cls.model_fields.get("kind")
        kind = field.default if field is not None and isinstance(field.default, str) else None
        if field is not None:
            _check_kind_annotation(cls, field.annotation, kind)
        origin = cls.__pydantic_generic_metadata__.get("origin")
        if origin is not None and not abstract:  # R[int]: the generic class's own kind
            cls.kind_tag = getattr(origin, "kind_tag", None)
            if cls.kind_tag is None:
                cls.__pydantic_validator__ = origin.__pydantic_validator__
            return
        if abstract:
            _check_abstract(cls, kind)
        elif kind is None:
            raise ConfigurationError(_missing_kind(cls))
        else:
            _register(cls, kind)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Return a copy with ``update`` applied (not validated; its lists, dicts and sets
        frozen, whatever the fields' declared types)."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            values = copied.__dict__
            for name in update:
                if name in values:
                    values[name] = freeze(values[name])
        return copied

    @classmethod  # type: ignore[no-redef] # pydantic's mypy plugin declares one
    def model_construct(  # type: ignore[override]
        cls, _fields_set: set[str] | None = None, **values: Any
    ) -> Self:
        """Build without validating (its lists, dicts and sets frozen all the same)."""
        built = super().model_construct(_fields_set, **values)
        if not cls.frozen_fields:  # else the freezing hook ran already
            fields = built.__dict__
            for name in values:
                if name in fields:
                    fields[name] = freeze(fields[name])
        return built


def _prepare_freezing(cls: type[Message]) -> None:
    """Make ``cls`` freeze its lists and dicts when a message is built, if it can hold any.

    Pydantic runs ``model_post_init`` after validation (and in ``model_construct``) only
    for classes that define one, so classes without such fields (most) pay nothing.
    JSON-data fields are validated and frozen in one walk (see ``_json``).
    """
    cls.frozen_fields = fields_to_freeze(cls, owner=cls.__qualname__)
    if not cls.frozen_fields:
        return
    rebuild = _swap_json_validation(cls)
    if not getattr(cls.model_post_init, "freezes_message", False):  # else inherited
        rebuild |= _install_freezing_hook(cls)
    if rebuild:
        cls.model_rebuild(force=True)  # the validator is built from the fields and hook


def _swap_json_validation(cls: type[Message]) -> bool:
    fields = cls.__pydantic_fields__
    swapped = False
    for name in cls.frozen_fields:
        field = fields[name]
        validator = json_validator_for(field.annotation)
        if validator is not None and not field.metadata:  # constraints: keep pydantic's
            fields[name] = copy(field)
            fields[name].metadata = [validator]
            swapped = True
    return swapped


def _install_freezing_hook(cls: type[Message]) -> bool:
    """Install the hook; return whether the validator must be rebuilt to call it."""
    hook = cls.model_post_init
    if not cls.__pydantic_post_init__:
        cls.model_post_init = _freeze_fields  # type: ignore[method-assign, assignment]
        cls.__pydantic_post_init__ = "model_post_init"
        return True

    def freeze_then(self: Message, context: object, /) -> None:
        _freeze_fields(self)
        hook(self, context)  # the class's own hook runs after freezing

    freeze_then.freezes_message = True  # type: ignore[attr-defined]
    cls.model_post_init = freeze_then  # type: ignore[method-assign, assignment]
    return False


def _freeze_fields(self: Message, _context: object = None, /) -> None:
    values = self.__dict__
    for name in self.frozen_fields:
        values[name] = freeze(values[name])


_freeze_fields.freezes_message = True  # type: ignore[attr-defined]


def _check_kind_annotation(cls: type[Message], annotation: object, kind: str | None) -> None:
    """Refuse a ``kind`` that is not ``Literal["<its default>"]``: a ``str`` or a Literal
    of several values would let a message carry another class's tag."""
    if kind is None:
        return  # no tag: refused (or abstract) by the caller
    if get_origin(annotation) is Literal and get_args(annotation) == (kind,):
        return
    raise ConfigurationError(
        f"Message class {cls.__qualname__!r} declares 'kind' as {annotation!r}, which would "
        "let one of its messages carry another class's tag. Declare exactly one tag: "
        f"kind: Literal[{kind!r}] = {kind!r}."
    )


def _missing_kind(cls: type[Message]) -> str:
    base = cls.__bases__[0].__name__
    return (
        f"Message class {cls.__qualname__!r} has no 'kind' tag, so its records could not be "
        'read back from a journal. Declare one: kind: Literal["area.event"] = "area.event", '
        "with a new lowercase tag for it (for example 'order.placed'). If the class is a base "
        f"that is never sent itself, declare it abstract: class {cls.__name__}({base}, "
        "abstract=True)."
    )


def _check_abstract(cls: type[Message], kind: object) -> None:
    if kind is not None:
        raise ConfigurationError(
            f"Message class {cls.__qualname__!r} is declared abstract but has the kind tag "
            f"{kind!r}. Remove abstract=True if it is sent, or remove its 'kind' if it is "
            "only a base for other messages."
        )
    cls.__pydantic_validator__ = _AbstractValidator(cls)  # type: ignore[assignment] # a stub that refuses


class _AbstractValidator:
    """Stands in for an abstract class's validator, so building one fails with a clear error.

    Subclasses have validators of their own; only the abstract class itself uses this one.
    """

    def __init__(self, cls: type[Message]) -> None:
        self._cls = cls

    def _refuse(self, *_args: object, **_kwargs: object) -> NoReturn:
        raise InvalidMessageError(_abstract_error(self._cls))

    validate_python = validate_json = validate_strings = _refuse


def _abstract_error(cls: type[Message]) -> str:
    return (
        f"{cls.__qualname__} is an abstract message class (it has no 'kind' tag) and cannot "
        "be sent. Build one of its subclasses, or give it a kind tag and drop abstract=True."
    )


Message.__pydantic_validator__ = _AbstractValidator(Message)  # type: ignore[assignment] # a stub that refuses


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


def message_record_view(message: Message) -> Mapping[str, Any]:
    """Return what :func:`message_record` returns, without copying where it can (the
    message's own field dict): for packing at once, never to keep or change."""
    if _is_plain(type(message)):
        return message.__dict__
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
