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
from collections.abc import Callable, Iterable
from typing import NoReturn

from pydantic import JsonValue

from actorflow.errors import StoreCorruptedError, StoreDataError

__all__ = [
    "canonical",
    "decode",
    "digest",
    "encode",
    "encode_unchecked",
    "key_json",
    "not_json",
    "storable",
]

_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def _not_json(value: object) -> NoReturn:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder ``_ENCODER.encode`` builds for each call, built once (json.encoder's
# c_make_encoder; None where the C accelerator is missing). Without markers (no circular
# check: a cycle ends in RecursionError instead), so it keeps no state and any thread may
# use it. It writes exactly what ``_ENCODER`` writes, and costs a fraction of it for the
# many small values of a state stored in pieces (``_pieces``).
_C_ENCODER: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)  # not in the stubs
key_json = json.encoder.encode_basestring
"""Return a str as JSON text (as the encoder writes keys and strings; unchecked)."""
_KEY = key_json
# Positional, as the C function takes them: markers, default, encoder, indent, key and
# item separators, then sort_keys, skipkeys and allow_nan (all off).
_OFF = False
_FAST = (
    None
    if _C_ENCODER is None
    else _C_ENCODER(None, _not_json, key_json, None, ":", ",", _OFF, _OFF, _OFF)
)
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
        text = encode_unchecked(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise not_json(exc, what) from exc
    return storable(text, what)


def encode_unchecked(value: object) -> str:
    """Return ``value`` as compact JSON text, as :func:`encode` does, without checking that
    UTF-8 can hold it (the caller checks the text it is part of with :func:`storable`).

    Raises:
        TypeError, ValueError, RecursionError: not JSON data (see :func:`not_json`).
    """
    if type(value) is str:
        return _KEY(value)
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)  # as the encoder writes an int
    if _FAST is None:
        return _ENCODER.encode(value)
    return "".join(_FAST(value, 0))


def not_json(exc: BaseException, what: str) -> StoreDataError:
    """Return the error that says ``what`` is not JSON data (``exc`` said why)."""
    return StoreDataError(f"{what} is not plain JSON data: {exc}. {_FIX}")


def storable(text: str, what: str) -> str:
    """``text``, if UTF-8 can hold it (a lone surrogate cannot, and SQLite stores UTF-8).

    Raises:
        StoreDataError: it holds a lone surrogate.
    """
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
    return storable(text, what)


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
