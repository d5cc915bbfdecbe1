"""JSON text in and out of stores: strict encoding, strict decoding, hashes.

Everything a store keeps is JSON text written by :func:`encode` (compact, no NaN) or
:func:`canonical` (plans: sorted keys, so equal plans hash equally). Reading back goes
through :func:`decode`, which treats the text like network input: not text, not JSON,
NaN or Infinity, duplicate keys, or nesting too deep for the parser are refused with the
error class the caller names.
"""

from __future__ import annotations

import hashlib
import json
from typing import NoReturn

from pydantic import JsonValue

from actorflow.errors import StoreCorruptedError, StoreDataError

__all__ = ["canonical", "decode", "digest", "encode"]

_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))
_CANONICAL = json.JSONEncoder(
    allow_nan=False, ensure_ascii=False, separators=(",", ":"), sort_keys=True
)
_FIX = "Store only JSON data: dicts with str keys, lists, str, int, finite float, bool and None."


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    made = dict(pairs)
    if len(made) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value] # set.add is None
        raise ValueError(f"duplicate key {dup!r}")
    return made


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)


def encode(value: object, *, what: str) -> str:
    """Return ``value`` as compact JSON text.

    Raises:
        StoreDataError: ``value`` is not JSON data (NaN, a set, an object, a cycle).
    """
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StoreDataError(f"{what} is not plain JSON data: {exc}. {_FIX}") from exc
    return _storable(text, what)


def _storable(text: str, what: str) -> str:
    """``text``, if UTF-8 can hold it (a lone surrogate cannot, and SQLite stores UTF-8)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise StoreDataError(
                f"{what} holds a lone surrogate ({exc.object[exc.start : exc.end]!r}), which "
                f"no UTF-8 text can hold. {_FIX}"
            ) from exc
    return text


def canonical(value: object, *, what: str) -> str:
    """Return ``value`` as canonical JSON text (sorted keys), the form plans are hashed in.

    Raises:
        StoreDataError: ``value`` is not JSON data.
    """
    try:
        text = _CANONICAL.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StoreDataError(f"{what} is not plain JSON data: {exc}. {_FIX}") from exc
    return _storable(text, what)


def digest(text: str) -> str:
    """Return the SHA-256 of ``text`` (UTF-8) in hex: plan hashes and row checksums."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def decode(text: object, *, where: str, error: type[StoreCorruptedError], fix: str) -> JsonValue:
    """Return the JSON value of stored ``text``, refusing anything that is not strict JSON.

    Args:
        where: what was read, for the message ("checkpoint 3 of flow 'f' in x.db").
        error: the class to raise.
        fix: what the reader should do about it (a sentence).

    Raises:
        StoreCorruptedError: (``error``) not text, or not strict JSON.
    """
    if not isinstance(text, str):
        raise error(
            f"The stored JSON of {where} is a {type(text).__name__}, not text: the row was "
            f"changed outside actorflow. {fix}"
        )
    try:
        value: JsonValue = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise error(
            f"The stored JSON of {where} cannot be read ({exc}): it is truncated, damaged or "
            f"was changed outside actorflow. {fix}"
        ) from exc
    return value
