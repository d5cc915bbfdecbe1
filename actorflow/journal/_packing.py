"""Packing record bodies: ormsgpack where it gives msgpack's bytes, msgpack for the rest.

A journal's bodies are the bytes msgpack-python's ``Packer(use_bin_type=True)`` gives.
ormsgpack packs the same plain data about twice as fast (0.33 µs against 0.65 µs for a
small delivery), and packing is most of what the writer thread does per record. But
ormsgpack also packs values msgpack refuses, and refuses some msgpack packs. So the
writer asks ormsgpack first, with options under which it refuses every value it would
pack differently, and msgpack for whatever ormsgpack refused:

- datetimes, dates, times, UUIDs, dataclasses and enums (``Enum``, ``StrEnum``,
  ``IntEnum``): ormsgpack would pack them; ``OPT_PASSTHROUGH_*`` make it refuse them,
  and msgpack packs what it packs (a ``StrEnum`` as its string) and refuses the rest;
- integers outside 64 bits (``OPT_PASSTHROUGH_BIG_INT``): msgpack raises its
  ``OverflowError``;
- numpy values and pydantic models: ormsgpack refuses them without
  ``OPT_SERIALIZE_NUMPY`` / ``OPT_SERIALIZE_PYDANTIC``, which are not given;
- map keys other than ``str``, float subclasses, namedtuples, ``msgpack.ExtType``,
  strings with lone surrogates, nesting 256 levels deep or more: ormsgpack refuses, and
  msgpack packs them or raises the error it always raised.

For every value ormsgpack packs under these options its bytes are msgpack's (proved by
``tests/journal/test_packing.py`` over every message kind, and on edge values: integer
limits, NaN, infinities, -0.0, tuples, bytes, keys, depth), and msgpack decides
everything else, so the frames and the refusals are those of msgpack alone. The one
difference: ormsgpack's own wrappers, ``ormsgpack.Ext`` and ``ormsgpack.Fragment``,
are packed where msgpack refused them. A message holds one only if a field was set past
validation (``model_construct``), and finding one would take a walk over every value of
every record, which costs more than ormsgpack saves; a frame that does not decode is
reported by readers, never silently skipped.
"""

from __future__ import annotations

import threading
from typing import Final

import msgpack
import ormsgpack

__all__ = ["FAST_OPTIONS", "FastPackError", "fast_pack", "msgpack_pack", "pack_body"]

FAST_OPTIONS: Final = (
    ormsgpack.OPT_PASSTHROUGH_BIG_INT
    | ormsgpack.OPT_PASSTHROUGH_DATACLASS
    | ormsgpack.OPT_PASSTHROUGH_DATETIME
    | ormsgpack.OPT_PASSTHROUGH_ENUM
    | ormsgpack.OPT_PASSTHROUGH_UUID
)
"""ormsgpack refuses (rather than packs its own way) every value msgpack refuses or packs
otherwise; without a ``default``, "passthrough" means refuse."""
fast_pack: Final = ormsgpack.packb
"""Call as ``fast_pack(body, None, FAST_OPTIONS)`` (positional: no keyword dict per call)."""
FastPackError: Final = ormsgpack.MsgpackEncodeError
_local = threading.local()  # one msgpack Packer per thread: a Packer is not thread-safe


def pack_body(body: object) -> bytes:
    """Pack ``body`` as msgpack-python packs it (``use_bin_type=True``).

    Raises:
        TypeError, ValueError, OverflowError, UnicodeEncodeError: what msgpack raises
            for a value it cannot pack.
    """
    try:
        return fast_pack(body, None, FAST_OPTIONS)
    except FastPackError:
        return msgpack_pack(body)


def msgpack_pack(body: object) -> bytes:
    """Pack ``body`` with msgpack-python: what ormsgpack refused (see the module doc)."""
    packer: msgpack.Packer | None = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    data: bytes = packer.pack(body)  # resets the Packer if it raises
    return data
