"""Read-only lists and dicts for message data, and the rules for freezing field values.

``frozen=True`` on a pydantic model only refuses attribute assignment: a list or dict
held by a message could still be changed in place, by its sender after sending or by
one of its receivers, and every other holder (other receivers, the journal writer on
its own thread) would see the change. So a message's lists and dicts are frozen when it
is built: validation turns them, all the way down, into :class:`FrozenList` and
:class:`FrozenDict`. These subclass ``list`` and ``dict``, so they compare equal to,
serialise like and msgpack-pack like the plain containers, and every method that would
change one raises :class:`~actorflow.errors.MessageFrozenError`.

Which fields need freezing is decided once per class, from the annotations: ``tuple``,
``frozenset`` and scalar fields never do, so most messages pay nothing. JSON-data fields
are validated and frozen in one walk (``_json``); the others are frozen by a hook that
runs after validation (``base._prepare_freezing``). Annotations
whose values cannot be frozen in place of their declared type (``set``, ``deque``,
iterables, dataclasses, ``TypedDict``, a model that is not frozen) are refused when the
class is defined, with the fix. Nested models are frozen by their run-time type (a
subclass may add lists, or not be frozen: refused), and a value of a type that may be
changed in place and cannot be frozen (in an ``Any`` field) is refused when built.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import ipaddress
import numbers
import pathlib
import re
import uuid
from collections import abc
from collections.abc import Callable, Iterable
from types import UnionType
from typing import (
    Annotated,
    Any,
    NoReturn,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from pydantic import BaseModel, JsonValue
from typing_extensions import is_typeddict

from actorflow.errors import ConfigurationError, InvalidMessageError, MessageFrozenError

__all__ = ["FrozenDict", "FrozenList", "fields_to_freeze", "freeze", "thaw"]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def _refuse(container: str, method: str) -> Callable[..., NoReturn]:
    def refuse(self: object, *_args: object, **_kwargs: object) -> NoReturn:
        raise MessageFrozenError(
            f"Cannot call {method}() on message data: a message's {container}s are read-only, "
            "because the message may already have been sent and its receivers and the "
            f"journal share it. Copy it ({container}(value)), change the copy, and build a "
            "new message (model_copy(update=...))."
        )

    refuse.__name__ = method
    return refuse


class FrozenList(list[T]):
    """A list in a message: equal to, and encoded like, a list; changing it raises.

    Raises:
        MessageFrozenError: from every method that would change it.
    """

    __slots__ = ()

    def __init__(self, items: Iterable[T] = (), /) -> None:
        list.__init__(self, (freeze(item) for item in items))  # type: ignore[misc] # frozen T

    def __copy__(self) -> FrozenList[T]:
        return self  # read-only all the way down, so sharing is safe

    def __deepcopy__(self, _memo: object) -> FrozenList[T]:
        return self

    append = _refuse("list", "append")
    extend = _refuse("list", "extend")
    insert = _refuse("list", "insert")
    remove = _refuse("list", "remove")
    pop = _refuse("list", "pop")
    clear = _refuse("list", "clear")
    sort = _refuse("list", "sort")
    reverse = _refuse("list", "reverse")
    __setitem__ = _refuse("list", "__setitem__")
    __delitem__ = _refuse("list", "__delitem__")
    __iadd__ = _refuse("list", "__iadd__")
    __imul__ = _refuse("list", "__imul__")


class FrozenDict(dict[K, V]):
    """A dict in a message: equal to, and encoded like, a dict; changing it raises.

    Raises:
        MessageFrozenError: from every method that would change it.
    """

    __slots__ = ()

    def __init__(self, items: Iterable[tuple[K, V]] | abc.Mapping[K, V] = (), /) -> None:
        dict.__init__(self, ((k, freeze(v)) for k, v in dict(items).items()))  # type: ignore[misc] # frozen V

    def __copy__(self) -> FrozenDict[K, V]:
        return self  # read-only all the way down, so sharing is safe

    def __deepcopy__(self, _memo: object) -> FrozenDict[K, V]:
        return self

    __setitem__ = _refuse("dict", "__setitem__")
    __delitem__ = _refuse("dict", "__delitem__")
    __ior__ = _refuse("dict", "__ior__")
    clear = _refuse("dict", "clear")
    pop = _refuse("dict", "pop")
    popitem = _refuse("dict", "popitem")
    setdefault = _refuse("dict", "setdefault")
    update = _refuse("dict", "update")


# -- freezing values -------------------------------------------------------------------

_LEAVES = frozenset({str, int, float, bool, type(None), bytes, FrozenList, FrozenDict, frozenset})
_new_dict = FrozenDict.__new__
_new_list = FrozenList.__new__
_dict_update = dict.update
_list_extend = list.extend


def freeze(value: object) -> object:  # noqa: PLR0911 - one return per kind of value
    """Return ``value`` with every list, dict and set in it made read-only.

    Lists become :class:`FrozenList`, dicts :class:`FrozenDict`, sets ``frozenset``
    and ``bytearray`` ``bytes``; tuples and frozen pydantic models are rebuilt around
    frozen contents. The result shares nothing mutable with ``value``; values that
    are read-only already are returned as they are.
    """
    kind = type(value)
    if kind is dict:
        return _frozen_dict(value)  # type: ignore[arg-type]
    if kind is list:
        return _frozen_list(value)  # type: ignore[arg-type]
    if kind in _LEAVES:
        return value
    if kind is tuple:
        items = tuple(freeze(item) for item in value)  # type: ignore[attr-defined]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items  # type: ignore[call-overload]
    if isinstance(value, BaseModel):
        return _frozen_model(value)
    if isinstance(value, dict):
        return _frozen_dict(value)
    if isinstance(value, list):
        return _frozen_list(value)
    if isinstance(value, set):
        return frozenset(freeze(item) for item in value)
    if isinstance(value, bytearray):
        return bytes(value)
    return _frozen_other(value)


# Types (and their subclasses) whose values cannot be changed: kept as they are.
_IMMUTABLE_BASES = (
    str,
    bytes,
    numbers.Number,
    frozenset,
    enum.Enum,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.tzinfo,
    decimal.Decimal,
    uuid.UUID,
    pathlib.PurePath,
    range,
    re.Pattern,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)
_immutable_types: set[type] = set()  # run-time types found immutable, for the fast path


def _frozen_other(value: object) -> object:
    """Freeze a tuple subclass (a NamedTuple); keep a known-immutable value; refuse the rest.

    Raises:
        InvalidMessageError: ``value``'s type may be changed in place (a deque, a
            ``UserList``, a dataclass or other object with attributes) and is not
            one a message can freeze.
    """
    kind = type(value)
    if kind in _immutable_types:
        return value
    if isinstance(value, tuple):  # a NamedTuple: rebuilt around frozen items
        items = tuple(freeze(item) for item in value)
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        make = getattr(kind, "_make", None)
        return make(items) if make is not None else items
    if issubclass(kind, _IMMUTABLE_BASES):
        _immutable_types.add(kind)
        return value
    raise InvalidMessageError(
        f"A message cannot hold a {kind.__qualname__}: it can be changed in place after "
        "the message is sent, and a message cannot freeze it. Use a list, dict, tuple, "
        "frozenset, a frozen pydantic model or a scalar (str, int, float, bool, None, "
        "bytes, enum, datetime, Decimal, UUID) instead."
    )


# The two walks below inline the test for leaves: JSON data is mostly leaves, and a
# call per leaf would double the cost of freezing it.


def _frozen_dict(value: dict[object, object]) -> FrozenDict[object, object]:
    leaves = _LEAVES
    frozen: FrozenDict[object, object] = _new_dict(FrozenDict)
    _dict_update(frozen, {k: v if type(v) in leaves else freeze(v) for k, v in value.items()})
    return frozen


def _frozen_list(value: list[object]) -> FrozenList[object]:
    leaves = _LEAVES
    frozen: FrozenList[object] = _new_list(FrozenList)
    _list_extend(frozen, [v if type(v) in leaves else freeze(v) for v in value])
    return frozen


def _frozen_model(model: BaseModel) -> BaseModel:
    cls = type(model)
    if not cls.model_config.get("frozen"):  # a run-time subclass may unfreeze its base
        raise InvalidMessageError(
            f"A message cannot hold a {cls.__qualname__}: it is a model that is not frozen, "
            f"so its fields can be reassigned after sending. Give {cls.__qualname__} "
            "model_config = ConfigDict(frozen=True)."
        )
    names = fields_to_freeze(cls, owner=None)
    values = model.__dict__
    changed = {n: v for n in names if (v := freeze(values[n])) is not values[n]}
    if not changed:
        return model
    copy = model.__copy__()  # a nested model is shared with its sender: freeze a copy
    copy.__dict__.update(changed)
    return copy


def thaw(value: object) -> object:
    """Return a deep copy of message data with plain, mutable lists and dicts.

    For handing a message's data to code that changes it in place.
    """
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    if type(value) is tuple:
        return tuple(thaw(item) for item in value)
    return value


# -- deciding, per class, which fields need freezing -----------------------------------

_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})
_FREEZE = (list, dict, abc.Sequence, abc.Mapping)
_REFUSED = {
    set: "frozenset[...]",
    abc.Set: "frozenset[...]",
    abc.MutableSet: "frozenset[...]",
    abc.MutableSequence: "tuple[..., ...]",
    collections.deque: "tuple[..., ...]",
    abc.MutableMapping: "dict[...] (frozen when the message is built)",
    abc.Iterable: "tuple[..., ...] (an iterable may be read only once)",
    abc.Iterator: "tuple[..., ...] (an iterator may be read only once)",
    abc.Generator: "tuple[..., ...] (a generator may be read only once)",
    abc.AsyncIterable: "tuple[..., ...]",
    abc.AsyncIterator: "tuple[..., ...]",
    abc.AsyncGenerator: "tuple[..., ...]",
}
_fields_cache: dict[tuple[type[BaseModel], bool], tuple[str, ...]] = {}


def fields_to_freeze(cls: type[BaseModel], *, owner: str | None) -> tuple[str, ...]:
    """Return the names of ``cls``'s fields whose values may hold lists, dicts or sets.

    Args:
        owner: the message class being defined (for error messages), or ``None`` to
            decide leniently at run time (refused annotations then count as freezable).

    Raises:
        ConfigurationError: a field's annotation cannot be frozen (``owner`` given).
    """
    key = (cls, owner is None)
    found = _fields_cache.get(key)
    if found is None:
        found = tuple(
            name
            for name, field in cls.model_fields.items()
            if _needs_freezing(field.annotation, _Where(owner, cls, name))
        )
        _fields_cache[key] = found
    return found


class _Where:
    """The field being classified, for error messages (``owner`` None: be lenient)."""

    def __init__(self, owner: str | None, cls: type[BaseModel], name: str) -> None:
        self.owner, self.cls, self.name = owner, cls, name

    def refuse(self, annotation: object, why: str, fix: str) -> bool:
        if self.owner is None:
            return True
        where = f"field {self.name!r}" + (
            "" if self.cls.__qualname__ == self.owner else f" of {self.cls.__qualname__}"
        )
        raise ConfigurationError(
            f"Message class {self.owner!r} cannot be immutable: its {where} is declared as "
            f"{_name(annotation)}, {why}. {fix}"
        )


def _needs_freezing(annotation: object, where: _Where) -> bool:  # noqa: PLR0911
    if annotation in _SCALARS or annotation is JsonValue:
        return annotation is JsonValue
    supertype = getattr(annotation, "__supertype__", None)  # NewType, e.g. ActorPath
    if supertype is not None:
        return _needs_freezing(supertype, where)
    origin = get_origin(annotation) or annotation
    args = get_args(annotation)
    if origin in _REFUSED:
        return where.refuse(
            annotation, "which can be changed after the message is sent", f"Use {_REFUSED[origin]}."
        )
    if origin is Annotated:
        return _needs_freezing(args[0], where)
    if origin in (Union, UnionType, tuple, frozenset):
        flags = [_needs_freezing(a, where) for a in args if a is not Ellipsis]  # all refusals
        return any(flags)
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        _model_needs_freezing(origin, where)  # for refusals
        return True  # a run-time subclass may add lists: decided by run-time type
    if isinstance(origin, type) and dataclasses.is_dataclass(origin):
        return where.refuse(
            annotation,
            "a dataclass, whose fields a message cannot freeze",
            "Use a pydantic model with model_config = ConfigDict(frozen=True).",
        )
    if is_typeddict(origin):
        return where.refuse(
            annotation,
            "a TypedDict, which stays a plain mutable dict",
            "Use a frozen pydantic model, or Mapping[str, ...] / dict[str, ...].",
        )
    if isinstance(origin, type) and issubclass(origin, tuple):  # a NamedTuple
        hints = get_type_hints(origin)
        flags = [_needs_freezing(hint, where) for hint in hints.values()]
        return any(flags)
    if origin in _FREEZE:
        for arg in args:
            _needs_freezing(arg, where)  # for refusals nested in the arguments
        return True
    # Scalars (str enums, datetime, Literal ...), and Any or object: frozen by run-time type.
    return origin is object or origin is Any


def _model_needs_freezing(model: type[BaseModel], where: _Where) -> bool:
    if not model.model_config.get("frozen"):
        return where.refuse(
            model,
            "a model that is not frozen, so its fields can be reassigned after sending",
            f"Give {model.__qualname__} model_config = ConfigDict(frozen=True).",
        )
    return bool(fields_to_freeze(model, owner=where.owner))


def _name(annotation: object) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    text = repr(annotation)
    for prefix in ("typing.", "collections.abc.", "collections."):
        text = text.replace(prefix, "")
    return text
