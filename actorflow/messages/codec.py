"""msgpack encoding of envelopes and messages, validated and bounded on decode.

A record is ``{"seq", "message_id", "correlation_id", "sender", "recipient",
"reply_to", "logical_time", "wall_time", "message"}`` where ``message`` is the
message's JSON-mode dump (it carries its ``kind``). Decoding never trusts the
bytes: sizes, container lengths and nesting depth are capped before any model
is built, and every field is validated, so hostile input yields a
:class:`~actorflow.errors.CodecError` and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Annotated, Any, Final, final

import msgpack
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actorflow.errors import CodecError
from actorflow.ids import ActorPath, MessageId
from actorflow.messages.base import Message, message_record, validate_message
from actorflow.messages.envelope import Envelope

__all__ = [
    "CodecLimits",
    "decode_envelope",
    "decode_message",
    "encode_envelope",
    "encode_message",
    "envelope_from_record",
    "envelope_to_record",
    "message_from_record",
    "pack",
    "unpack",
]


@final
class CodecLimits(BaseModel):
    """Caps applied before decoding untrusted bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_bytes: Annotated[int, Field(gt=0)] = 16 * 1024 * 1024
    """Largest encoded object accepted."""
    max_str_len: Annotated[int, Field(gt=0)] = 4 * 1024 * 1024
    """Longest string or binary value."""
    max_container_len: Annotated[int, Field(gt=0)] = 100_000
    """Most items in one array or map."""
    max_depth: Annotated[int, Field(gt=0)] = 32
    """Deepest nesting of arrays and maps."""


DEFAULT_LIMITS = CodecLimits()


_local = threading.local()  # one Packer per thread: a Packer is not thread-safe
_PACKER_BUFFER: Final = 4096
"""A thread's Packer starts with this buffer; it grows with the largest object packed."""
_PACKER_KEEP: Final = 1 << 16
"""A Packer that packed more than this many bytes is dropped, so that one large object
does not leave a thread holding a large buffer."""


def pack(obj: object) -> bytes:
    """Encode plain data (dicts, lists, str, int, float, bool, None, bytes) as msgpack."""
    # A reused Packer: msgpack.packb builds one per call, with a 256 KiB buffer, which
    # costs about as much as packing a small envelope.
    packer: msgpack.Packer | None = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True, buf_size=_PACKER_BUFFER)
    try:
        data: bytes = packer.pack(obj)  # resets the Packer if it raises
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"Cannot encode {type(obj).__name__} as msgpack: {exc}.") from exc
    if len(data) > _PACKER_KEEP:
        _local.packer = None
    return data


def unpack(data: bytes, limits: CodecLimits = DEFAULT_LIMITS) -> object:
    """Decode msgpack bytes into plain data, within ``limits``.

    Raises:
        CodecError: the bytes are oversized, malformed, too deeply nested, or use
            msgpack extension types.
    """
    if len(data) > limits.max_bytes:
        raise CodecError(
            f"Encoded object of {len(data)} bytes exceeds the {limits.max_bytes}-byte limit. "
            "Raise CodecLimits.max_bytes if such objects are expected."
        )
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_str_len,
            max_array_len=limits.max_container_len,
            max_map_len=limits.max_container_len,
            max_ext_len=0,
        )
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        reason = str(exc) or type(exc).__name__
        raise CodecError(f"Malformed msgpack data ({len(data)} bytes): {reason}.") from exc
    _check_depth(obj, limits.max_depth)
    return obj


def _check_depth(obj: object, max_depth: int) -> None:
    if not _within_depth(obj, max_depth):
        raise CodecError(
            f"msgpack data nests deeper than {max_depth} levels. "
            "Flatten the payload or raise CodecLimits.max_depth."
        )


def _within_depth(obj: object, budget: int) -> bool:
    # Map keys need no walk: strict_map_key limits them to str and bytes.
    kind = type(obj)
    if kind is dict:
        values: Iterable[object] = obj.values()  # type: ignore[attr-defined]
    elif kind is list:
        values = obj  # type: ignore[assignment]
    else:
        return True
    if budget <= 0:
        return False
    for value in values:
        if (type(value) is dict or type(value) is list) and not _within_depth(value, budget - 1):
            return False
    return True


_NESTED = (dict, list)


def envelope_to_record(env: Envelope) -> dict[str, Any]:
    """Return ``env`` as a msgpack-ready dict."""
    return {
        "seq": env.seq,
        "message_id": env.message_id,
        "correlation_id": env.correlation_id,
        "sender": env.sender,
        "recipient": env.recipient,
        "reply_to": env.reply_to,
        "logical_time": env.logical_time,
        "wall_time": env.wall_time,
        "message": message_record(env.message),
    }


_ENVELOPE_FIELDS = frozenset(
    {
        "seq",
        "message_id",
        "correlation_id",
        "sender",
        "recipient",
        "reply_to",
        "logical_time",
        "wall_time",
        "message",
    }
)


def _field(record: dict[str, Any], name: str, kinds: tuple[type, ...]) -> Any:
    value = record.get(name)
    if type(value) not in kinds:
        expected = " or ".join("nil" if k is type(None) else k.__name__ for k in kinds)
        raise CodecError(
            f"Invalid envelope record: {name!r} must be {expected}, got {type(value).__name__}."
        )
    return value


_STR = (str,)
_OPT_STR = (str, type(None))


def envelope_from_record(record: object, *, opaque: bool = False) -> Envelope:
    """Validate a decoded record and rebuild its :class:`Envelope`.

    With ``opaque``, messages of unregistered kinds become ``OpaqueMessage``s.

    Raises:
        CodecError: a field is missing, unknown or of the wrong type, or the message
            fails its schema.
        UnknownKindError: the message's kind is not registered.
    """
    if type(record) is not dict:
        raise CodecError(f"An envelope record must be a map, got {type(record).__name__}.")
    if record.keys() != _ENVELOPE_FIELDS:
        odd = sorted(set(record) ^ _ENVELOPE_FIELDS, key=str)
        raise CodecError(f"Invalid envelope record: missing or unknown fields {odd!r}.")
    seq, logical_time, wall_time = record["seq"], record["logical_time"], record["wall_time"]
    message_id, recipient = record["message_id"], record["recipient"]
    cid, sender, reply_to = record["correlation_id"], record["sender"], record["reply_to"]
    if (
        type(seq) is not int
        or type(logical_time) is not int
        or seq < 0
        or logical_time < 0
        or type(wall_time) not in (float, int)
        or type(message_id) is not str
        or type(recipient) is not str
        or type(cid) not in _OPT_STR
        or type(sender) not in _OPT_STR
        or type(reply_to) not in _OPT_STR
    ):
        _explain(record)  # raises, naming the first bad field
    return Envelope(
        seq,
        MessageId(message_id),
        cid,
        sender,
        ActorPath(recipient),
        reply_to,
        logical_time,
        float(wall_time),
        message_from_record(record["message"], opaque=opaque),
    )


def _explain(record: dict[str, Any]) -> None:
    for name, kinds in (
        ("seq", (int,)),
        ("logical_time", (int,)),
        ("wall_time", (float, int)),
        ("message_id", _STR),
        ("recipient", _STR),
        ("correlation_id", _OPT_STR),
        ("sender", _OPT_STR),
        ("reply_to", _OPT_STR),
    ):
        _field(record, name, kinds)
    raise CodecError("Invalid envelope record: seq and logical_time must be >= 0.")


def message_from_record(record: object, *, opaque: bool = False) -> Message:
    """Validate a decoded message record (a map with a ``kind``).

    Raises:
        CodecError: not a map, or it fails its class's schema.
        UnknownKindError: the kind is not registered (and ``opaque`` is false).
    """
    if not isinstance(record, dict):
        raise CodecError(f"A message record must be a map, got {type(record).__name__}.")
    try:
        return validate_message(record, opaque=opaque)
    except ValidationError as exc:
        raise CodecError(f"Invalid {record.get('kind')!r} message: {_short(exc)}") from exc


def _short(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "<root>"
    return f"{exc.error_count()} error(s), first at {where!r}: {first['msg']}."


def encode_message(msg: Message) -> bytes:
    """Encode one message (with its kind) as msgpack."""
    return pack(message_record(msg))


def decode_message(data: bytes, limits: CodecLimits = DEFAULT_LIMITS) -> Message:
    """Decode and validate one message.

    Raises:
        CodecError: malformed, oversized, or invalid data.
        UnknownKindError: the kind is not registered.
    """
    return message_from_record(unpack(data, limits))


def encode_envelope(env: Envelope) -> bytes:
    """Encode an envelope as msgpack."""
    return pack(envelope_to_record(env))


def decode_envelope(data: bytes, limits: CodecLimits = DEFAULT_LIMITS) -> Envelope:
    """Decode and validate an envelope.

    Raises:
        CodecError: malformed, oversized, or invalid data.
        UnknownKindError: the message's kind is not registered.
    """
    return envelope_from_record(unpack(data, limits))
