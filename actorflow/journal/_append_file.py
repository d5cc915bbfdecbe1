"""Opening a journal file to append to: a new file gets the magic prefix; an existing one
is checked, its torn tail (if any) cut, and it is appended to after its last valid frame."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from loguru import logger

from actorflow.errors import ConfigurationError
from actorflow.journal._files import check_regular_file
from actorflow.journal.format import MAGIC
from actorflow.journal.reader import append_offset

__all__ = ["open_for_append"]


def open_for_append(path: Path) -> BinaryIO:
    """Open ``path`` for appending frames, creating it (and its folders) if missing.

    Raises:
        ConfigurationError: the path cannot be opened or created for writing.
        JournalError: it is not a regular file.
        JournalCorruptedError: a damaged frame has valid frames after it (cutting there
            would lose them).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        exists = check_regular_file(path, missing_ok=True)  # never open a FIFO
        size = path.stat().st_size if exists else 0
        if size > 0 and not (size < len(MAGIC) and MAGIC.startswith(path.read_bytes())):
            keep = append_offset(path)  # raises rather than cut a valid frame
            existing = path.open("r+b")
            if keep < size:
                logger.warning(
                    "Journal {path} had a torn tail of {lost} bytes at offset {keep} "
                    "(no valid frame after it); cut it",
                    path=path,
                    lost=size - keep,
                    keep=keep,
                )
                existing.truncate(keep)
            existing.seek(keep)
            return existing
        fresh = path.open("wb")
        fresh.write(MAGIC)
        return fresh
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot open journal {str(path)!r} for writing: {exc.strerror}. "
            "Choose a writable path, or turn the journal off."
        ) from exc
