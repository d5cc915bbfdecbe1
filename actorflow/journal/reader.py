"""Reading a journal: frames back into records, with torn tails reported and damage refused.

A torn tail (the partial frame a crash leaves) ends iteration and is reported
as :class:`TornTail`; in strict mode it raises :class:`JournalTornError`. A bad
frame anywhere before the tail raises :class:`JournalCorruptedError` naming the
path, offset and last good sequence number. Frame sizes and msgpack lengths and
nesting are capped, so a hostile file cannot exhaust memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, NamedTuple, NoReturn, final

from actorflow.errors import JournalCorruptedError, JournalError, JournalTornError
from actorflow.journal.format import (
    FRAME_HEAD,
    MAGIC,
    MAX_FRAME_BYTES,
    DecodeErrors,
    JournalHeader,
    JournalRecord,
    crc_of,
    decode_body,
)
from actorflow.messages.codec import CodecLimits

__all__ = ["JournalReader", "TornTail", "open_journal", "record_seq", "whole_length"]


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

    After iteration, :attr:`torn_tail` says whether the log ended in a partial frame
    and :attr:`end_offset` where the last whole frame ends.
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
        self.limits = limits or CodecLimits(max_bytes=max_frame_bytes)
        self.max_frame_bytes = max_frame_bytes
        self.torn_tail: TornTail | None = None
        self.end_offset = len(MAGIC)
        self.last_seq: int | None = None
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

    def __iter__(self) -> Iterator[JournalRecord]:
        return self.records()

    def records(self) -> Iterator[JournalRecord]:
        """Yield every whole record after those already read.

        Call it again to get records appended since (``log show --follow`` does).
        """
        self.torn_tail = None
        size = os.fstat(self._file.fileno()).st_size
        self._file.seek(self.end_offset)
        while self.end_offset < size:
            record = self._read_frame(size)
            if record is None:
                return
            yield record

    def _read_frame(self, size: int) -> JournalRecord | None:
        offset = self.end_offset
        head = self._file.read(FRAME_HEAD.size)
        if len(head) < FRAME_HEAD.size:
            self._torn(offset, size)
            return None
        length, crc = FRAME_HEAD.unpack(head)
        if offset + FRAME_HEAD.size + length > size:
            if size - offset > self.max_frame_bytes + FRAME_HEAD.size:
                self._corrupted(offset, f"its length field ({length}) points past the end")
            self._torn(offset, size)
            return None
        if length > self.max_frame_bytes:
            self._corrupted(offset, f"a frame length of {length} bytes exceeds the cap")
        body = self._file.read(length)
        if crc_of(length, body) != crc:
            if offset + FRAME_HEAD.size + length == size:
                self._torn(offset, size)  # a last frame that never fully reached disk
                return None
            self._corrupted(offset, "its checksum does not match")
        try:
            record = decode_body(body, self.limits, opaque=self.opaque)
        except DecodeErrors as exc:
            self._corrupted(offset, f"its body does not decode ({exc})")
        self.end_offset = offset + FRAME_HEAD.size + length
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

    def _corrupted(self, offset: int, why: str) -> NoReturn:
        raise JournalCorruptedError(
            f"Journal {str(self.path)!r} is damaged at offset {offset}: {why}. The last good "
            f"record has seq {self.last_seq}; the records up to it were read as usual, the "
            "frames after the damage cannot be trusted. Keep a copy of the file to investigate."
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


def whole_length(path: str | Path) -> int:
    """Return the length of the journal's whole frames: where an appender continues.

    Raises:
        JournalCorruptedError: the file is damaged before its tail.
    """
    with JournalReader(path) as reader:
        for _ in reader.records():
            pass
        return reader.end_offset
