"""Finding the frames of a journal file: whole valid frames, and the damage between them.

A **valid frame** has a length of 1 to ``max_frame_bytes`` bytes that fits in the file,
a CRC that matches, and a body that starts with a msgpack map marker (every record is a
map). Anything else at the place where a frame should start is **damage**. After damage
the scanner looks for the next valid frame at every later byte offset (a
*resynchronisation point*); the damage spans the bytes up to it. Damage with no valid
frame after it reaches the end of the file: only that can be a torn tail.

Reading never decodes bodies (that is the reader's job), so this serves the reader, the
writer reopening a file for append, and ``actorflow log repair`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, Final, NamedTuple

from actorflow.journal.format import FRAME_HEAD, crc_of

__all__ = ["SCAN_BUDGET", "Damage", "Frame", "FrameScanner"]

_MAP_MARKERS: Final = frozenset({*range(0x80, 0x90), 0xDE, 0xDF})
"""First byte of a msgpack map: fixmap, map 16, map 32."""
_CHUNK: Final = 1 << 20
"""Bytes read at a time while looking for a resynchronisation point."""
SCAN_BUDGET: Final = 512 << 20
"""Most work the searches for resynchronisation points of one scanner (one read of a
file, one repair) may do together, in bytes checksummed (each candidate counts 256 bytes
more), so that a hostile file cannot make a reader or a repair spin, however many damaged
places it has: past it the search gives up and the damage is reported as reaching the
end of the file (the rest of the file is not searched)."""
_CANDIDATE_COST: Final = 256


class Frame(NamedTuple):
    """A whole valid frame: where it starts and its body."""

    offset: int
    body: bytes

    @property
    def end(self) -> int:
        """Where the next frame starts."""
        return self.offset + FRAME_HEAD.size + len(self.body)


class Damage(NamedTuple):
    """Bytes that hold no valid frame: ``[offset, end)``."""

    offset: int
    """Where a frame should have started."""
    end: int
    """Where the next valid frame starts, or the file's size if none follows."""
    reason: str
    """What is wrong with the frame at ``offset``."""
    at_end: bool
    """No valid frame follows: the damage reaches the end of the file."""
    torn: bool
    """A torn tail: at the end, and what is there could be a frame cut short by a crash
    (a partial header, a body that stops at the end of the file, or a last frame whose
    bytes did not all reach the disk). A length over the cap or a bad frame with more
    bytes after it is damage even at the end."""
    gave_up: bool = False
    """The searches for valid frames used up the scanner's budget (:data:`SCAN_BUDGET`,
    per file read or repair): the bytes after ``offset`` were not all searched. Never a
    torn tail."""


class _Bad(NamedTuple):
    reason: str
    cut_short: bool
    """Could be the prefix of a frame that a crash stopped writing."""


def _candidates(max_frame_bytes: int) -> re.Pattern[bytes]:
    """Positions that may start a valid frame: a length whose first byte fits the cap,
    any 7 bytes (the rest of the length, the CRC), then a map marker."""
    top = min(max_frame_bytes >> 24, 0xFF)
    lead = b"[\\x00-" + re.escape(bytes([top])) + b"]"
    return re.compile(b"(?=" + lead + rb"[\x00-\xff]{7}[\x80-\x8f\xde\xdf])")


class FrameScanner:
    """Walks the frames of an open journal file up to a given size."""

    def __init__(
        self, file: BinaryIO, size: int, max_frame_bytes: int, scan_budget: int | None = None
    ) -> None:
        self._file = file
        self.size = size
        self.max_frame_bytes = max_frame_bytes
        self.scan_budget = SCAN_BUDGET if scan_budget is None else scan_budget
        self.scan_spent = 0
        """Work done so far by all searches for resynchronisation points (see
        :data:`SCAN_BUDGET`): the budget is per scanner, not per search."""
        self._pattern = _candidates(max_frame_bytes)
        self._position = -1
        """Where the file is positioned, when this scanner put it there (saves a seek)."""

    def frames(self, start: int) -> Iterator[Frame | Damage]:
        """Yield the valid frames and the damaged ranges from ``start`` to the end.

        Iteration ends at the end of the file or after damage that reaches it.
        """
        offset = start
        while offset < self.size:
            item = self.frame_at(offset)
            if isinstance(item, Frame):
                yield item
                offset = item.end
                continue
            resync = self.next_valid(offset + 1)
            if resync is None or resync < 0:
                gave_up = resync is not None
                torn = item.cut_short and not gave_up
                yield Damage(
                    offset, self.size, item.reason, at_end=True, torn=torn, gave_up=gave_up
                )
                return
            yield Damage(offset, resync, item.reason, at_end=False, torn=False)
            offset = resync

    def frame_at(self, offset: int) -> Frame | _Bad:
        """The valid frame at ``offset``, or why there is none."""
        if offset != self._position:
            self._file.seek(offset)
        self._position = -1
        head = self._file.read(min(FRAME_HEAD.size, max(0, self.size - offset)))
        if len(head) < FRAME_HEAD.size:
            least = int.from_bytes(head[:4].ljust(4, b"\0"), "big")
            return _Bad("the file ends inside its frame header", least <= self.max_frame_bytes)
        length, crc = FRAME_HEAD.unpack(head)
        end = offset + FRAME_HEAD.size + length
        bad = self._bad_length(length, end)
        if bad is not None:
            return bad
        body = self._file.read(length)
        if len(body) < length or crc_of(length, body) != crc:
            return _Bad("its checksum does not match", cut_short=end == self.size)
        if body[0] not in _MAP_MARKERS:
            return _Bad("its body is not a msgpack map", cut_short=False)
        self._position = end
        return Frame(offset, body)

    def _bad_length(self, length: int, end: int) -> _Bad | None:
        if length == 0:
            return _Bad("its length field is 0", cut_short=False)
        if length > self.max_frame_bytes:
            why = f"its length field ({length} bytes) exceeds the {self.max_frame_bytes}-byte cap"
            return _Bad(why, cut_short=False)
        if end > self.size:
            why = f"its length field ({length} bytes) points past the end of the file"
            return _Bad(why, cut_short=True)
        return None

    def next_valid(self, start: int) -> int | None:
        """Offset of the first valid frame at or after ``start``; ``None`` if there is
        none, -1 if the scanner's searches used up their budget first."""
        position = start
        if self.scan_spent > self.scan_budget:
            return -1
        self._position = -1
        while position + FRAME_HEAD.size < self.size:
            self._file.seek(position)
            chunk = self._file.read(min(_CHUNK, self.size - position))
            for match in self._pattern.finditer(chunk):
                at = match.start()
                candidate = position + at
                length = int.from_bytes(chunk[at : at + 4], "big")
                if (
                    length == 0
                    or length > self.max_frame_bytes
                    or candidate + FRAME_HEAD.size + length > self.size
                ):
                    continue  # cannot be a valid frame: no need to read it
                self.scan_spent += length + _CANDIDATE_COST
                if self.scan_spent > self.scan_budget:
                    return -1
                if isinstance(self.frame_at(candidate), Frame):
                    return candidate
            if position + len(chunk) >= self.size:
                return None
            # The next chunk re-reads the last 8 bytes: a candidate needs 9 bytes in a chunk.
            position += len(chunk) - FRAME_HEAD.size
        return None
