"""The journal's on-disk format: a magic prefix, then length + CRC framed msgpack records.

::

    file   = MAGIC frame*
    MAGIC  = 89 41 46 4A 4E 4C 0D 0A        ("\\x89AFJNL\\r\\n", 8 bytes)
    frame  = length:u32be crc:u32be body[length]
    crc    = zlib.crc32(length:u32be + body)  (so a damaged length is caught too)
    body   = msgpack map with a "type" key: "header" | "delivery" | "event"

See ``docs/journal-format.md`` for the record schemas.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, NamedTuple, final

from pydantic import BaseModel, ConfigDict, ValidationError

from actorflow.errors import CodecError, MessageError
from actorflow.journal._packing import (
    FAST_OPTIONS,
    FastPackError,
    fast_pack,
    msgpack_pack,
    pack_body,
)
from actorflow.journal._redaction import redact_batch, redact_event_body
from actorflow.messages.base import Message, message_record, message_record_view
from actorflow.messages.codec import (
    CodecLimits,
    envelope_from_record,
    envelope_to_record,
    message_from_record,
    unpack,
)
from actorflow.messages.envelope import Envelope

__all__ = [
    "DecodeErrors",
    "FORMAT_VERSION",
    "FRAME_HEAD",
    "JournalEvent",
    "JournalEntry",
    "JournalHeader",
    "JournalRecord",
    "MAGIC",
    "JOURNAL_MAX_DEPTH",
    "MAX_FRAME_BYTES",
    "UndecodedRecord",
    "crc_of",
    "decode_body",
    "encode_body",
    "encode_frames",
    "frame",
    "journal_limits",
    "undecoded_record",
]

MAGIC: Final = b"\x89AFJNL\r\n"
FORMAT_VERSION: Final = 1
FRAME_HEAD: Final = struct.Struct(">II")
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
JOURNAL_MAX_DEPTH: Final = 256
"""Deepest nesting of maps and arrays in a record body, the body's own map included.
The writer refuses (drops as invalid) a deeper record and readers accept any depth up to
it, so every record the writer writes is one its reader decodes."""
_CONTAINER_MARKERS: Final = bytes([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])
"""First byte of a msgpack map or array: each level of nesting takes one."""
_NOT_CONTAINER_MARKERS: Final = bytes(b for b in range(256) if b not in _CONTAINER_MARKERS)


@final
class JournalHeader(BaseModel):
    """First record of a run's segment: what wrote the frames after it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["header"] = "header"
    format_version: int
    run_id: str
    started_at: float
    """Wall-clock start, epoch seconds."""
    actorflow_version: str
    entry_point: str = ""
    """The scenario file or program that ran."""


class JournalEvent(NamedTuple):
    """A lifecycle event, dead letter or recorded effect, in the journal's sequence."""

    seq: int
    wall_time: float
    message: Message


JournalRecord = JournalHeader | Envelope | JournalEvent
"""What a journal holds: segment headers, deliveries (envelopes) and events."""


class UndecodedRecord(NamedTuple):
    """A whole frame (its checksum matches) whose body is not a valid record.

    A tolerant reader yields it in place of the record and goes on: a message of a
    class without a kind, a field that fails its schema, or a time out of range never
    hides the records after it.
    """

    offset: int
    """Where the frame starts in the file."""
    seq: int | None
    """The record's ``seq``, if its body has an integer one."""
    record_type: str | None
    """The body's ``type`` (``"delivery"``, ``"event"``, ``"header"``), if it has one."""
    reason: str
    """Why it does not decode."""
    data: object
    """The decoded msgpack data (usually a map), or ``None`` if it is not msgpack."""


JournalEntry = JournalRecord | UndecodedRecord
"""What a reader yields: records, and whole frames that do not decode."""


def journal_limits(max_frame_bytes: int = MAX_FRAME_BYTES) -> CodecLimits:
    """The limits a reader decodes bodies with: anything a frame of ``max_frame_bytes``
    can hold (strings and containers up to the frame size), nested up to
    :data:`JOURNAL_MAX_DEPTH` levels (what the writer lets through)."""
    return CodecLimits(
        max_bytes=max_frame_bytes,
        max_str_len=max_frame_bytes,
        max_container_len=max_frame_bytes,
        max_depth=JOURNAL_MAX_DEPTH,
    )


_WRITE_LIMITS: Final = journal_limits()


def _too_deep(body: bytes) -> CodecError | None:
    """Why a reader would refuse ``body`` for its nesting, or ``None``. Cheap for almost
    every body: the number of bytes that may open a map or array bounds the depth, and
    only a body with more of them than :data:`JOURNAL_MAX_DEPTH` is decoded to check."""
    if len(body) <= JOURNAL_MAX_DEPTH:
        return None
    if len(body.translate(None, _NOT_CONTAINER_MARKERS)) <= JOURNAL_MAX_DEPTH:
        return None
    try:
        unpack(body, _WRITE_LIMITS)
    except CodecError as exc:
        return CodecError(
            f"The record nests maps and arrays deeper than {JOURNAL_MAX_DEPTH} levels, more "
            f"than a journal reader accepts, so it is not written ({exc})"
        )
    return None


def encode_body(record: JournalRecord) -> bytes:
    """Encode a record as a frame body (msgpack)."""
    if isinstance(record, Envelope):
        body: dict[str, Any] = envelope_to_record(record)
        body["type"] = "delivery"
    elif isinstance(record, JournalEvent):
        body = {
            "type": "event",
            "seq": record.seq,
            "wall_time": record.wall_time,
            "event": message_record(record.message),
        }
        return redact_event_body(body, pack_body(body))  # outside data: see _redaction
    else:
        body = record.model_dump(mode="json")
    return pack_body(body)


_CRC_SEEDS: dict[int, int] = {}
"""CRC-32 of a body length's 4 bytes, per length: where a frame's CRC starts (lengths repeat)."""
_MAX_SEEDS: Final = 1 << 16


def encode_frames(
    records: Iterable[JournalRecord], out: bytearray
) -> tuple[int, list[tuple[JournalRecord, Exception]]]:
    """Append the frames of ``records`` to ``out``, as :func:`frame` of :func:`encode_body`
    would, at a fraction of the cost per record (the writer's hot loop).

    Returns:
        How many frames were appended, and the records that could not be encoded (a
        value msgpack cannot hold, a body over the frame cap or nested deeper than
        :data:`JOURNAL_MAX_DEPTH`) with their errors.
    """
    bodies, failed = _encode_bodies(records)
    if bodies:
        lengths = list(map(len, bodies))
        seeds = _crc_seeds(lengths)
        # The frames' heads and CRCs over the whole batch at once: C loops, no Python
        # call per frame. parts = head, body, head, body ...
        parts: list[bytes] = [b""] * (2 * len(bodies))
        parts[::2] = map(
            FRAME_HEAD.pack, lengths, map(zlib.crc32, bodies, map(seeds.__getitem__, lengths))
        )
        parts[1::2] = bodies
        start = len(out)
        out += b"".join(parts)
        redact_batch(out, start, bodies, _WRITE_LIMITS)  # registered secrets: see _redaction
    return len(bodies), failed


def _encode_bodies(
    records: Iterable[JournalRecord],
) -> tuple[list[bytes], list[tuple[JournalRecord, Exception]]]:
    """The bodies of the records the writer accepts, and the others with their errors."""
    fast, options, fast_error = fast_pack, FAST_OPTIONS, FastPackError
    plain = _PLAIN_CLASSES
    # One dict for every delivery, refilled per record: cheaper than building a dict each
    # time (it is packed before the next record refills it, so nothing keeps it).
    delivery: dict[str, Any] = dict.fromkeys(_DELIVERY_KEYS)
    delivery["type"] = "delivery"
    bodies: list[bytes] = []
    keep = bodies.append
    failed: list[tuple[JournalRecord, Exception]] = []
    for record in records:
        try:
            if type(record) is Envelope:
                (
                    delivery["seq"],
                    delivery["message_id"],
                    delivery["correlation_id"],
                    delivery["sender"],
                    delivery["recipient"],
                    delivery["reply_to"],
                    delivery["logical_time"],
                    delivery["wall_time"],
                    message,
                ) = record
                # A plain message's own field dict is its record (packed at once, never kept).
                if type(message) in plain:
                    delivery["message"] = message.__dict__
                else:
                    delivery["message"] = _message_view(message)
                try:
                    body: bytes = fast(delivery, None, options)
                except fast_error:  # msgpack packs it as before, or raises its own error
                    body = msgpack_pack(delivery)
            else:
                body = encode_body(record)
        except Exception as exc:  # noqa: BLE001 - e.g. msgpack OverflowError for ints >= 2**64
            failed.append((record, exc))
            continue
        # Both checks cost a call only for bodies that could fail them.
        if len(body) > JOURNAL_MAX_DEPTH and (refused := _refusal(body)) is not None:
            failed.append((record, refused))
            continue
        keep(body)
    return bodies, failed


def _crc_seeds(lengths: list[int]) -> dict[int, int]:
    """A table of the CRC seeds of ``lengths`` (the cached one while it has room)."""
    missing = set(lengths).difference(_CRC_SEEDS)
    if not missing:
        return _CRC_SEEDS
    new = {length: zlib.crc32(length.to_bytes(4, "big")) for length in missing}
    if len(_CRC_SEEDS) + len(new) <= _MAX_SEEDS:
        _CRC_SEEDS.update(new)
        return _CRC_SEEDS
    return {**{length: _CRC_SEEDS[length] for length in set(lengths) - missing}, **new}


_PLAIN_CLASSES: set[type[Message]] = set()
"""Message classes whose field dict is their record (see :func:`_message_view`)."""


def _message_view(message: Message) -> Mapping[str, Any]:
    """:func:`message_record_view`, remembering the classes whose view is their field dict."""
    view = message_record_view(message)
    if view is message.__dict__:
        _PLAIN_CLASSES.add(type(message))
    return view


def _refusal(body: bytes) -> CodecError | None:
    """Why the writer refuses ``body`` (over the frame cap, nested too deeply), or ``None``."""
    if len(body) > MAX_FRAME_BYTES:
        return CodecError(f"A record of {len(body)} bytes exceeds the frame cap.")
    return _too_deep(body)


_DELIVERY_KEYS: Final = (*Envelope._fields, "type")
"""A delivery body's keys in the order envelope_to_record() gives them, then ``type``."""


def frame(body: bytes) -> bytes:
    """Return ``body`` framed with its length and CRC."""
    length = len(body).to_bytes(4, "big")
    return length + zlib.crc32(body, zlib.crc32(length)).to_bytes(4, "big") + body


def crc_of(length: int, body: bytes) -> int:
    """Return the CRC a frame of ``body`` must carry."""
    return zlib.crc32(body, zlib.crc32(length.to_bytes(4, "big")))


class _EventBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type: Literal["event"]
    seq: int
    wall_time: float
    event: dict[str, Any]


def decode_body(body: bytes, limits: CodecLimits, *, opaque: bool = False) -> JournalRecord:
    """Decode a frame body into a record.

    With ``opaque``, messages of kinds unknown to this process become ``OpaqueMessage``s.

    Raises:
        CodecError: the body is not a valid record (times must be finite epoch seconds
            between the years 1 and 9999).
        UnknownKindError: a message kind is not registered.
    """
    data = unpack(body, limits)
    if not isinstance(data, Mapping):
        raise CodecError(f"A journal record must be a map, got {type(data).__name__}.")
    kind = data.get("type")
    try:
        if kind == "delivery":
            fields = {k: v for k, v in data.items() if k != "type"}
            env = envelope_from_record(fields, opaque=opaque)
            _check_time("wall_time", env.wall_time)
            return env
        if kind == "event":
            ev = _EventBody.model_validate(data)
            _check_time("wall_time", ev.wall_time)
            return JournalEvent(ev.seq, ev.wall_time, message_from_record(ev.event, opaque=opaque))
        if kind == "header":
            header = JournalHeader.model_validate(data)
            _check_time("started_at", header.started_at)
            return header
    except ValidationError as exc:
        raise CodecError(f"Invalid {kind} record: {exc.errors()[0]['msg']}.") from exc
    raise CodecError(f"Unknown journal record type {kind!r}.")


_MIN_TIME: Final = -62_135_596_800.0
"""0001-01-01T00:00:00Z in epoch seconds: the first instant a datetime can hold."""
_MAX_TIME: Final = 253_402_300_799.0
"""9999-12-31T23:59:59Z: the last whole second a datetime can hold."""


def _check_time(name: str, value: float) -> None:
    if not _MIN_TIME <= value <= _MAX_TIME:  # False for NaN too
        raise CodecError(
            f"Its {name} ({value!r}) is out of range: a time must be finite epoch seconds "
            "between the years 1 and 9999."
        )


def undecoded_record(offset: int, body: bytes, reason: str, limits: CodecLimits) -> UndecodedRecord:
    """Describe a whole frame at ``offset`` whose ``body`` did not decode, for ``reason``."""
    try:
        data: object = unpack(body, limits)
    except CodecError:
        data = None
    seq = record_type = None
    if isinstance(data, Mapping):
        seq = data.get("seq") if type(data.get("seq")) is int else None
        record_type = data.get("type") if type(data.get("type")) is str else None
    return UndecodedRecord(offset, seq, record_type, reason, data)


DecodeErrors: Final = (CodecError, MessageError)
"""What :func:`decode_body` raises; readers turn it into JournalCorruptedError."""
