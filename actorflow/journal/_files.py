"""Refusing journal paths that are not regular files, before anything opens them.

Opening a FIFO blocks until a writer (or reader) opens its other end, and a device or
socket is no journal either, so readers, repair and the writer check the path with
``os.stat`` first and never open anything but a regular file.
"""

from __future__ import annotations

import stat
from pathlib import Path

from actorflow.errors import JournalError

__all__ = ["check_regular_file"]


def check_regular_file(path: Path, *, missing_ok: bool = False) -> bool:
    """Check that ``path`` is a regular file (following symlinks), without opening it.

    Returns:
        Whether it exists (``False`` only with ``missing_ok``).

    Raises:
        JournalError: it is not a regular file (a FIFO, a directory, a device, a socket),
            it does not exist (unless ``missing_ok``), or it cannot be examined.
    """
    try:
        mode = path.stat().st_mode  # os.stat: follows symlinks, opens nothing
    except FileNotFoundError:
        if missing_ok:
            return False
        raise JournalError(
            f"Cannot open journal {str(path)!r}: No such file or directory."
        ) from None
    except OSError as exc:
        raise JournalError(f"Cannot open journal {str(path)!r}: {exc.strerror}.") from exc
    if not stat.S_ISREG(mode):
        raise JournalError(
            f"Journal {str(path)!r} is not a regular file (it is {_kind(mode)}); a journal "
            "must be a regular file. Choose another path."
        )
    return True


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
