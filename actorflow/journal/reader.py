"""Reading a journal: frames back into records, with torn tails reported and damage refused.

- A **torn tail** (the partial frame a crash leaves: bad bytes that no valid frame
  follows) ends iteration and is reported as :class:`TornTail`; in strict mode it
  raises :class:`JournalTornError`.
- **Damage** followed by a valid frame is never a torn tail: it raises
  :class:`JournalCorruptedError` naming the path, the offset, where the next valid
  frame starts and the last good sequence number, and advises ``actorflow log repair``.
- A **whole frame whose body does not decode** (a message without a kind, a field
  that fails its schema, a time out of range) is yielded as an
  :class:`~actorflow.journal.format.UndecodedRecord` and reading goes on; a reader
  without ``opaque`` (replaying) raises instead.

Frame sizes and msgpack lengths and nesting are capped, so a hostile file cannot
exhaust memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, NamedTuple, NoReturn, final

from actorflow.errors import CodecError, JournalCorruptedError, JournalError, JournalTornError
from actorflow.journal._files import check_regular_file
from actorflow.journal._frames import Damage, Frame, FrameScanner
from actorflow.journal.format import (
    MAGIC,
    MAX_FRAME_BYTES,
    DecodeErrors,
    JournalEntry,
    JournalHeader,
    JournalRecord,
    decode_body,
    journal_limits,
    undecoded_record,
)
from actorflow.messages.codec import CodecLimits, unpack

__all__ = ["JournalReader", "TornTail", "append_offset", "open_journal", "record_seq"]


class TornTail(NamedTuple):
    """The partial frame at the end of a log: where it starts and how many bytes it has."""

    offset: int
    bytes_lost: int


def record_seq(record: JournalRecord) -> int | None:
    """Return a record's sequence number (``None`` for headers)."""
    return None if isinstance(record, JournalHeader) else record.seq


@final
class JournalReader:
    """Iterates one journal file's records; use :func:`open_journal`.

    After iteration, :attr:`torn_tail` says whether the log ended in a partial frame,
    :attr:`end_offset` where the last whole frame ends and :attr:`undecoded` how many
    whole frames did not decode.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        strict: bool = False,
        opaque: bool = True,
        limits: CodecLimits | None = None,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self.path = Path(path)
        self.strict = strict
        self.opaque = opaque
        self.limits = limits or journal_limits(max_frame_bytes)
        self.max_frame_bytes = max_frame_bytes
        self.torn_tail: TornTail | None = None
        self.end_offset = len(MAGIC)
        self.last_seq: int | None = None
        self.undecoded = 0
        """Whole frames read so far that did not decode (yielded as UndecodedRecord)."""
        check_regular_file(self.path)
        try:
            self._file: BinaryIO = self.path.open("rb")
        except OSError as exc:
            raise JournalError(f"Cannot open journal {str(self.path)!r}: {exc.strerror}.") from exc
        self._check_magic()

    def _check_magic(self) -> None:
        head = self._file.read(len(MAGIC))
        if head != MAGIC:
            self._file.close()
            raise JournalCorruptedError(
                f"{str(self.path)!r} is not an actorflow journal: it does not start with the "
                "journal magic bytes. Check the path (a run's journal is "
                ".actorflow/runs/<run_id>/journal)."
            )

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __iter__(self) -> Iterator[JournalEntry]:
        return self.records()

    def records(self) -> Iterator[JournalEntry]:
        """Yield every whole record after those already read.

        Call it again to get records appended since (``log show --follow`` does).

        Raises:
            JournalCorruptedError: damage before a valid frame, or (without ``opaque``) a
                whole frame that does not decode.
            JournalTornError: a torn tail, in strict mode.
        """
        self.torn_tail = None
        size = os.fstat(self._file.fileno()).st_size
        scanner = FrameScanner(self._file, size, self.max_frame_bytes)
        for item in scanner.frames(self.end_offset):
            if isinstance(item, Damage):
                if item.torn:
                    self._torn(item.offset, size)
                    return
                self._corrupted(item)
            record = self._decode(item)
            self.end_offset = item.end
            yield record

    def _decode(self, frame: Frame) -> JournalEntry:
        try:
            record = decode_body(frame.body, self.limits, opaque=self.opaque)
        except DecodeErrors as exc:
            undecoded = undecoded_record(frame.offset, frame.body, str(exc), self.limits)
            if not self.opaque:
                which = "no seq" if undecoded.seq is None else f"seq {undecoded.seq}"
                raise JournalCorruptedError(
                    f"Journal {str(self.path)!r}: the record at offset {frame.offset} ({which}) "
                    f"does not decode: {exc} Its frame is whole, so the records after it are "
                    "intact: `actorflow log show` shows it as undecoded and goes on."
                ) from exc
            self.undecoded += 1
            if undecoded.seq is not None:
                self.last_seq = undecoded.seq
            return undecoded
        seq = record_seq(record)
        if seq is not None:
            self.last_seq = seq
        return record

    def _torn(self, offset: int, size: int) -> None:
        self.torn_tail = TornTail(offset, size - offset)
        if self.strict:
            raise JournalTornError(
                f"Journal {str(self.path)!r} ends in a partial frame at offset {offset} "
                f"({size - offset} bytes). Read it without strict mode to get the whole "
                "frames before it."
            )

    def _corrupted(self, damage: Damage) -> NoReturn:
        raise JournalCorruptedError(
            f"Journal {str(self.path)!r} is damaged at offset {damage.offset}: "
            f"{damage.reason}. {_not_torn(damage)} The last good record has seq "
            f"{self.last_seq}; the records up to it were read as usual. Run "
            f"`actorflow log repair {self.path}` to copy every valid frame to a new file "
            "(the original is kept)."
        )


def _not_torn(damage: Damage) -> str:
    """Why ``damage`` is not a torn tail, as a sentence."""
    if damage.gave_up:
        return (
            "The search for a valid frame after it stopped (it would take too long: the "
            "bytes after the damage look like many frame starts, and the reader's search "
            "budget for this file is used up), so the rest of the file was not searched "
            "and it is not taken for a torn tail."
        )
    if damage.at_end:
        return (
            "No valid frame follows, but a crash while writing cannot leave this, so it is "
            "not a torn tail."
        )
    return (
        f"This is not a torn tail: a valid frame follows at offset {damage.end} "
        f"({damage.end - damage.offset} bytes later)."
    )


def open_journal(path: str | Path, *, strict: bool = False, opaque: bool = True) -> JournalReader:
    """Open a journal for reading (use as a context manager and iterate it).

    Args:
        path: the journal file.
        strict: raise on a torn tail instead of reporting it in ``torn_tail``.
        opaque: decode messages whose classes this process lacks as ``OpaqueMessage``
            (for showing a log); ``False`` raises on them (for replaying it).

    Raises:
        JournalError: the file cannot be opened.
        JournalCorruptedError: it is not a journal.
    """
    return JournalReader(path, strict=strict, opaque=opaque)


def append_offset(path: Path, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> int:
    """Return where an appender continues: after the last whole frame.

    Only a torn tail (damage that no valid frame follows) lies past that offset, so
    cutting the file there never loses a valid frame. Bodies are not decoded: a whole
    frame that does not decode is kept.

    Raises:
        JournalCorruptedError: the file is not a journal, or it is damaged before a valid
            frame (appending would have to cut the frames after the damage).
        OSError: the file cannot be read.
    """
    check_regular_file(path)
    with path.open("rb") as file:
        if file.read(len(MAGIC)) != MAGIC:
            raise JournalCorruptedError(
                f"Cannot append to {str(path)!r}: it is not an actorflow journal (it does "
                "not start with the journal magic bytes). Choose another journal path."
            )
        scanner = FrameScanner(file, os.fstat(file.fileno()).st_size, max_frame_bytes)
        last: Frame | None = None
        for item in scanner.frames(len(MAGIC)):
            if isinstance(item, Frame):
                last = item
                continue
            if item.torn:
                return item.offset
            seq = None if last is None else _seq_of(last.body)
            raise JournalCorruptedError(
                f"Cannot append to journal {str(path)!r}: it is damaged at offset "
                f"{item.offset} ({item.reason}). {_not_torn(item)} Appending would have to "
                f"cut it. The last good record before the damage has seq {seq}. Run "
                f"`actorflow log repair {path}` to copy every valid frame to a new file, "
                "then journal to that file (or to a new one)."
            )
        return scanner.size if last is None else last.end


def _seq_of(body: bytes) -> int | None:
    try:
        data = unpack(body)
    except CodecError:
        return None
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if type(seq) is int else None
