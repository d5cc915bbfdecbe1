"""JSON-data fields of messages validated and frozen in one walk.

Pydantic validates ``JsonValue`` data by building fresh lists and dicts; freezing them
afterwards would walk the data a second time and build it again. For the JSON-data
shapes messages use (``JsonValue``, ``dict[str, JsonValue]`` and those or ``None``), the
message classes swap pydantic's validation for :func:`frozen_json`, which checks the
same rules (see ``tests/messages/test_json_data.py``) and builds the read-only
containers directly, so immutable JSON data costs no more than mutable data did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union, get_args, get_origin

from pydantic import GetCoreSchemaHandler, JsonValue
from pydantic_core import CoreSchema, core_schema

from actorflow.messages._frozen import FrozenDict, FrozenList

__all__ = ["frozen_json", "json_validator_for"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_new_dict = FrozenDict.__new__
_new_list = FrozenList.__new__
_dict_update = dict.update
_list_extend = list.extend


class _NotJsonError(ValueError):
    """Raised inside the walk; :func:`frozen_json` turns it into a message with a path."""


def frozen_json(value: object) -> object:
    """Return ``value``, which must be JSON data, with its lists and dicts frozen.

    Accepts what pydantic's ``JsonValue`` accepts: dicts with str keys, lists, str,
    int, float, bool and None (subclasses of str, int and float become plain values).

    Raises:
        ValueError: ``value`` is not JSON data; the message says where and why.
    """
    try:
        return _walk(value)
    except _NotJsonError:
        reason = _explain(value, "") or f"{type(value).__name__} is not JSON data"
        raise ValueError(reason) from None


def _walk(value: object) -> object:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or kind is FrozenDict:
        return _walk_dict(value)  # type: ignore[arg-type]
    if kind is list or kind is FrozenList:
        return _walk_list(value)  # type: ignore[arg-type]
    return _walk_other(value)


# Leaves (most of any JSON data) are tested inline: a call per leaf would double the cost.


def _walk_dict(value: dict[object, object]) -> FrozenDict[str, object]:
    scalars = _SCALARS
    frozen: FrozenDict[str, object] = _new_dict(FrozenDict)
    _dict_update(
        frozen,
        {
            k if type(k) is str else _key(k): v if type(v) in scalars else _walk(v)
            for k, v in value.items()
        },
    )
    return frozen


def _walk_list(value: list[object]) -> FrozenList[object]:
    scalars = _SCALARS
    frozen: FrozenList[object] = _new_list(FrozenList)
    _list_extend(frozen, [v if type(v) in scalars else _walk(v) for v in value])
    return frozen


def _walk_other(value: object) -> object:
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, dict):
        return _walk_dict(value)
    if isinstance(value, list):
        return _walk_list(value)
    raise _NotJsonError


def _key(key: object) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    raise _NotJsonError


def _explain(value: object, where: str) -> str:
    """Say which part of ``value`` is not JSON data (the slow path, only for errors)."""
    if isinstance(value, dict):
        bad_keys = [k for k in value if not isinstance(k, str)]
        if bad_keys:
            return f"key {bad_keys[0]!r} at {where or 'the top'} is not a string"
        parts = [_explain(item, f"{where}[{key!r}]") for key, item in value.items()]
    elif isinstance(value, list):
        parts = [_explain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    elif isinstance(value, str | int | float | bool) or value is None:
        parts = []
    else:
        parts = [
            f"{type(value).__name__} at {where or 'the top'} is not JSON data "
            "(use dict with str keys, list, str, int, float, bool or None)"
        ]
    return next((p for p in parts if p), "")


def _frozen_json_object(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object (a dict), got {type(value).__name__}")
    return frozen_json(value)


def _or_none(validate: Callable[[object], object]) -> Callable[[object], object]:
    def validate_or_none(value: object) -> object:
        return None if value is None else validate(value)

    return validate_or_none


class _JsonData:
    """Field metadata: validate with ``validate`` instead of pydantic's JSON validation.

    Serialisation is left to pydantic's inference (the data is plain JSON), and the JSON
    schema is the field type's own.
    """

    def __init__(self, validate: Callable[[object], object]) -> None:
        self.validate = validate

    def __get_pydantic_core_schema__(
        self, source: object, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate, json_schema_input_schema=handler(source)
        )


_ANY = _JsonData(frozen_json)
_OBJECT = _JsonData(_frozen_json_object)
_OBJECT_OR_NONE = _JsonData(_or_none(_frozen_json_object))


def json_validator_for(annotation: object) -> _JsonData | None:
    """Return the one-walk validator for a JSON-data field type, or ``None`` for others."""
    if annotation is JsonValue:
        return _ANY
    if _is_json_object(annotation):
        return _OBJECT
    if get_origin(annotation) in (Union, type(int | None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and args[0] is JsonValue:
            return _ANY  # JsonValue includes None
        if len(args) == 1 and _is_json_object(args[0]):
            return _OBJECT_OR_NONE
    return None


def _is_json_object(annotation: object) -> bool:
    return get_origin(annotation) is dict and get_args(annotation) == (str, JsonValue)
