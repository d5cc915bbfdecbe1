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

__all__ = ["NAME_CHECKED_KINDS", "redact_batch", "redact_event_record"]

NAME_CHECKED_KINDS: Final = frozenset({"effect.recorded", "deadletter.recorded"})
"""Event kinds whose records are redacted by field name as well as by value."""


def redact_event_record(record: dict[str, Any]) -> dict[str, Any]:
    """Return an event's message record with sensitive fields redacted (by name and by
    value) if its kind carries outside data; otherwise ``record`` itself."""
    if record.get("kind") not in NAME_CHECKED_KINDS:
        return record
    redacted: dict[str, Any] = redact(record)
    return redacted


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
