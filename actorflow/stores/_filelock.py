"""An exclusive lock held on an open lock file for a store's lifetime, and the holder's pid.

POSIX: ``flock`` (per open file, so a second open in the same process conflicts too;
dropped by the kernel when the holder dies). Windows: ``msvcrt.locking`` on one byte
past the pid, which is likewise dropped when the process ends.
"""

from __future__ import annotations

import os
import sys

__all__ = ["read_holder", "try_lock", "unlock", "write_holder"]

_PID_BYTES = 32
_LOCK_OFFSET = 64  # Windows: the locked byte, clear of the pid others must read

if sys.platform == "win32":
    import msvcrt

    def try_lock(fd: int) -> bool:
        """Take the lock without waiting; return whether it was free."""
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(fd: int) -> None:
        """Release the lock (the file stays open)."""
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def read_holder(fd: int) -> str:
        """Return the pid the holder wrote, or ``""``."""
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, _PID_BYTES).decode("ascii", "replace").strip()

    def write_holder(fd: int) -> None:
        """Write this process's pid (with the lock held)."""
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".ljust(_PID_BYTES).encode("ascii"))

else:
    import fcntl

    def try_lock(fd: int) -> bool:
        """Take the lock without waiting; return whether it was free."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def unlock(fd: int) -> None:
        """Release the lock (the file stays open)."""
        fcntl.flock(fd, fcntl.LOCK_UN)

    def read_holder(fd: int) -> str:
        """Return the pid the holder wrote, or ``""``."""
        return os.pread(fd, _PID_BYTES, 0).decode("ascii", "replace").strip()

    def write_holder(fd: int) -> None:
        """Write this process's pid (with the lock held)."""
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
