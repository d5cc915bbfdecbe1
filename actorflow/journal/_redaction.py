"""Secrets never reach the journal file: the writer's side of :mod:`actorflow.secrets`.

Two checks, priced for the writer's hot loop:

- **By value, every record.** Once a batch is framed, each registered secret is looked
  for in the batch's bytes (msgpack keeps strings as raw UTF-8, so a secret inside any
  string of any record shows verbatim): one C-level search per secret per batch, none
  when no secret is registered. Only on a hit are the frames holding it decoded,
  redacted and packed again.
- **By field name, events.** Effect records (tool results, model calls, human answers)
  and dead letters carry outside data; their bodies are walked and values under
  sensitive names redacted before packing (events are few next to deliveries).
  Deliveries are not walked: that would cost more than packing them.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

from actorflow.journal._packing import pack_body
from actorflow.messages.codec import unpack
from actorflow.secrets import redact, secret_needles

__all__ = ["NAME_CHECKED_KINDS", "NAME_NEEDLES", "redact_batch", "redact_event_body"]

NAME_CHECKED_KINDS: Final = frozenset({"effect.recorded", "deadletter.recorded"})
"""Event kinds whose records are redacted by field name as well as by value."""

NAME_NEEDLES: Final = (b"auth", b"bearer", b"cookie", b"credential", b"key", b"pass",
                       b"secret", b"token")  # fmt: skip
"""Lowercase pieces of every sensitive name (:data:`actorflow.secrets.SENSITIVE_NAMES`,
suffixes included): a packed body whose lowercase bytes hold none of them has no
sensitive field name. (Byte searches, not a regular expression: a search runs at memory
speed on a large body, where a regex alternation costs tens of ns per byte.)"""

_INTERNAL_EFFECTS: Final = frozenset({"clock", "id"})
"""Effects whose values are actorflow's own (a time, an id): never checked by name."""


def redact_event_body(body: dict[str, Any], packed: bytes) -> bytes:
    """Return ``packed`` (the packed ``body`` of an event record), or, if the event carries
    outside data and may hold a sensitive field name, the body packed again with such
    fields redacted. The check is a few byte searches over the packed bytes; the walk over the
    record runs only when it matches."""
    event = body["event"]
    kind = event.get("kind")
    if kind not in NAME_CHECKED_KINDS or event.get("effect") in _INTERNAL_EFFECTS:
        return packed
    lowered = packed.lower()
    if not any(needle in lowered for needle in NAME_NEEDLES):
        return packed
    redacted = redact(event)
    if redacted is event:
        return packed
    return pack_body({**body, "event": redacted})


def redact_batch(out: bytearray, start: int, bodies: list[bytes], limits: Any) -> None:
    """Redact registered secrets from the frames of ``bodies``, appended to ``out`` from
    ``start``: if a secret shows anywhere there, the frames are rebuilt with the bodies
    that hold one decoded, redacted and packed again."""
    needles = secret_needles()
    if not needles or not any(out.find(n, start) >= 0 for n in needles):
        return
    del out[start:]
    for original in bodies:
        body = original
        if any(n in body for n in needles):
            body = pack_body(redact(unpack(body, limits), names=False))
        length = len(body).to_bytes(4, "big")
        out += length
        out += zlib.crc32(body, zlib.crc32(length)).to_bytes(4, "big")
        out += body
