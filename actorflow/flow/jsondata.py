"""JSON data, strictly: what flows accept as results, parameters, variables and context.

JSON data is ``None``, ``bool``, ``int`` (64 bits), finite ``float``, ``str`` (valid
Unicode: no lone surrogate, which no UTF-8 text can hold), lists (tuples are
taken as lists) and dicts with string keys, nested at most :data:`MAX_DEPTH` deep; a
pydantic model is taken as its JSON dump. Anything else (an object, a set, bytes, NaN)
is refused with a typed error: no ``repr`` ever stands in for a value.
"""

from __future__ import annotations

import math
from typing import NoReturn

from pydantic import BaseModel, JsonValue

from actorflow.errors import ActorflowError

__all__ = ["MAX_DEPTH", "to_json_data"]

MAX_DEPTH = 64
"""How deeply JSON data may nest lists and dicts."""

_SCALARS = (str, bool, type(None))
_MIN_INT, _MAX_INT = -(2**63), 2**64 - 1


def to_json_data(value: object, *, where: str, error: type[ActorflowError], fix: str) -> JsonValue:
    """Return ``value`` as JSON data.

    Args:
        value: the value to check and convert.
        where: what the value is, for the message ("The result of step 'a'").
        error: the error class to raise.
        fix: the advice that ends the message.

    Raises:
        ActorflowError: (``error``) ``value`` holds something that is not JSON data.
    """
    if type(value) in _SCALARS and (type(value) is not str or _is_text(value)):
        return value  # type: ignore[return-value]  # checked: a JSON scalar (the common case)
    return _Converter(where, error, fix).convert(value, "", 0)


def _is_text(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Converter:
    __slots__ = ("error", "fix", "where")

    def __init__(self, where: str, error: type[ActorflowError], fix: str) -> None:
        self.where, self.error, self.fix = where, error, fix

    def convert(self, value: object, path: str, depth: int) -> JsonValue:
        if isinstance(value, str | bool | int | float) or value is None:
            return self.scalar(value, path)
        if depth >= MAX_DEPTH:
            self.refuse(path, f"it nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, list | tuple):
            return [self.convert(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
        if isinstance(value, dict):
            out: dict[str, JsonValue] = {}
            for key, item in value.items():
                if not isinstance(key, str) or not _is_text(key):
                    self.refuse(path, f"it has a key {key!r} that is not a string of text")
                out[key] = self.convert(item, f"{path}[{key!r}]", depth + 1)
            return out
        if not isinstance(value, BaseModel):
            self.refuse(path, f"a {type(value).__name__} is not JSON data")
        return self.convert(value.model_dump(mode="json"), path, depth)

    def scalar(self, value: str | bool | int | float | None, path: str) -> JsonValue:
        if isinstance(value, str):
            if not _is_text(value):
                self.refuse(path, "a string holds a lone surrogate, which UTF-8 cannot hold")
            return value
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if _MIN_INT <= value <= _MAX_INT:
                return int(value)
            self.refuse(
                path,
                "an integer beyond 64 bits is not JSON data here (the journal and most JSON "
                "readers hold 64-bit integers); pass it as a string",
            )
        if not math.isfinite(value):
            self.refuse(path, f"the float {value!r} is not JSON")
        return value

    def refuse(self, path: str, why: str) -> NoReturn:
        if len(path) > 80:
            path = f"{path[:40]}...{path[-30:]}"
        at = f" at {path}" if path else ""
        raise self.error(f"{self.where} is not JSON data{at}: {why}. {self.fix}")
