"""Repairing a damaged journal: copy every valid frame to a new file (``actorflow log repair``).

The original is never changed. Frames are copied byte for byte, in order, so segment
headers and records that do not decode are kept; what is left out is listed as
:class:`SkippedRange` values (where, how long, why).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, final

from pydantic import BaseModel, ConfigDict

from actorflow.errors import JournalCorruptedError, JournalError
from actorflow.journal._files import check_regular_file
from actorflow.journal._frames import Frame, FrameScanner
from actorflow.journal.format import MAGIC, MAX_FRAME_BYTES, frame

__all__ = ["RepairReport", "SkippedRange", "repair_journal"]


@final
class SkippedRange(BaseModel):
    """Bytes ``[start, end)`` of the damaged file that held no valid frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int
    end: int
    reason: str
    """What was wrong with the frame that should have started at ``start``."""
    torn_tail: bool
    """A torn tail: what a crash while writing leaves at the end of the file."""

    @property
    def length(self) -> int:
        """Bytes skipped."""
        return self.end - self.start


@final
class RepairReport(BaseModel):
    """What :func:`repair_journal` copied and what it skipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Path
    output: Path
    frames: int
    """Valid frames copied."""
    bytes_copied: int
    """Bytes of those frames (the magic prefix not counted)."""
    skipped: tuple[SkippedRange, ...]

    @property
    def bytes_skipped(self) -> int:
        """Bytes of the source left out."""
        return sum(r.length for r in self.skipped)


def repair_journal(
    source: str | Path,
    output: str | Path,
    *,
    max_frame_bytes: int = MAX_FRAME_BYTES,
    scan_budget: int | None = None,
) -> RepairReport:
    """Copy every valid frame of ``source`` to the new file ``output``.

    Args:
        source: a journal, possibly damaged; it is only read.
        output: where to write the repaired journal; must not exist.
        max_frame_bytes: the largest frame accepted (the writer's cap).
        scan_budget: most work (bytes checksummed) all searches for valid frames after
            damage may do together in this repair (default :data:`SCAN_BUDGET`); past it
            the rest of the file is skipped as one damaged range, so a hostile file cannot
            make a repair run for long.

    Raises:
        JournalCorruptedError: ``source`` is not a journal (no magic prefix).
        JournalError: ``source`` cannot be read, or ``output`` exists or cannot be written.
    """
    source, output = Path(source), Path(output)
    check_regular_file(source)
    try:
        src = source.open("rb")
    except OSError as exc:
        raise JournalError(f"Cannot open journal {str(source)!r}: {exc.strerror}.") from exc
    with src:
        if src.read(len(MAGIC)) != MAGIC:
            raise JournalCorruptedError(
                f"{str(source)!r} is not an actorflow journal: it does not start with the "
                "journal magic bytes, so there are no frames to recover."
            )
        scanner = FrameScanner(src, os.fstat(src.fileno()).st_size, max_frame_bytes, scan_budget)
        try:
            dst = output.open("xb")
        except FileExistsError:
            raise JournalError(
                f"{str(output)!r} already exists; repair never overwrites a file. Choose "
                "another output path or remove that file."
            ) from None
        except OSError as exc:
            raise JournalError(f"Cannot create {str(output)!r}: {exc.strerror}.") from exc
        try:
            with dst:
                frames, copied, skipped = _copy(scanner, dst)
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as exc:
            output.unlink(missing_ok=True)  # a half-written copy is worse than none
            raise JournalError(
                f"Cannot write the repaired journal {str(output)!r}: {exc}. Nothing was left "
                "behind; free some space or choose another output path."
            ) from exc
    return RepairReport(
        source=source, output=output, frames=frames, bytes_copied=copied, skipped=skipped
    )


def _copy(scanner: FrameScanner, dst: BinaryIO) -> tuple[int, int, tuple[SkippedRange, ...]]:
    dst.write(MAGIC)
    frames = copied = 0
    skipped: list[SkippedRange] = []
    for item in scanner.frames(len(MAGIC)):
        if isinstance(item, Frame):
            data = frame(item.body)  # the same bytes: the frame is valid
            dst.write(data)
            frames += 1
            copied += len(data)
        else:
            reason = item.reason
            if item.gave_up:
                reason += (
                    "; the search for valid frames gave up (too much work: this repair used "
                    f"up its budget of {scanner.scan_budget} bytes checked), so the rest of "
                    "the file, to its end, was not searched and is skipped"
                )
            skipped.append(
                SkippedRange(start=item.offset, end=item.end, reason=reason, torn_tail=item.torn)
            )
    return frames, copied, tuple(skipped)
