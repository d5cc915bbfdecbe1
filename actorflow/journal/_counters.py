"""The journal writer's counts of waits, sync timeouts and dropped records, and their logs.

Nothing a writer drops goes unnoticed: each drop is counted under its cause and logged
(the first one, then when the count reaches 10, 100, 1000 ..., so a flood of drops
stays visible without a log line per record), and closing logs a summary.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final, Literal, final

from loguru import logger

__all__ = ["DropCause", "WriterCounters"]

DropCause = Literal["full", "invalid", "closed", "unwritten"]

_WHY: Final[dict[DropCause, str]] = {
    "full": "the queue stayed full for append_timeout",
    "invalid": "they could not be encoded",
    "closed": "they were appended after close() began",
    "unwritten": "close() ran out of time or the disk failed before they were written",
}
_MILESTONES: Final = frozenset(10**k for k in range(10))


@final
class WriterCounters:
    """Thread-safe counters of one writer (appenders and the writer thread update them)."""

    def __init__(self, path: Path, *, append_timeout: float, max_pending: int) -> None:
        self.path = path
        self.append_timeout = append_timeout
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self.waits = 0
        self.sync_timeouts = 0
        self.dropped: dict[DropCause, int] = dict.fromkeys(_WHY, 0)

    def count_wait(self) -> None:
        """An append found the queue full and waits; the first one is logged."""
        with self._lock:
            self.waits += 1
            first = self.waits == 1
        if first:
            logger.warning(
                "Journal {path}: {n} records are waiting to be written (max_pending); "
                "appenders wait up to {t:g} s for room: the disk is slower than the actors",
                path=self.path,
                n=self.max_pending,
                t=self.append_timeout,
            )

    def count_sync_timeout(self) -> None:
        """An ``every`` append gave up waiting for its sync; the first one is logged."""
        with self._lock:
            self.sync_timeouts += 1
            first = self.sync_timeouts == 1
        if first:
            logger.warning(
                "Journal {path}: an append waited {t:g} s for its record to be synced and "
                "returned anyway; the record stays queued (counted in sync_timeouts)",
                path=self.path,
                t=self.append_timeout,
            )

    def drop(self, cause: DropCause, count: int) -> None:
        """Count ``count`` dropped records; log at the milestones (records that cannot be
        encoded are logged one by one by the writer, with their error)."""
        with self._lock:
            before = self.dropped[cause]
            self.dropped[cause] = after = before + count
        if cause != "invalid" and any(before < m <= after for m in _MILESTONES):
            logger.log(
                "WARNING" if cause == "closed" else "ERROR",
                "Journal {path}: {after} records dropped so far because {why} (counted in "
                "statistics().dropped_{cause})",
                path=self.path,
                after=after,
                why=_WHY[cause],
                cause=cause,
            )

    def snapshot(self) -> tuple[int, int, dict[DropCause, int]]:
        """Waits, sync timeouts and drops per cause, read together."""
        with self._lock:
            return self.waits, self.sync_timeouts, dict(self.dropped)

    def log_summary(self) -> None:
        """Log what was dropped, if anything (the writer calls it when it closes)."""
        _, _, dropped = self.snapshot()
        total = sum(dropped.values())
        if total:
            logger.error(
                "Journal {path} closed: {total} records were not written ({full} for a "
                "full queue, {invalid} not encodable, {closed} appended after close, "
                "{unwritten} unwritten at close or after a disk failure)",
                path=self.path,
                total=total,
                **dropped,
            )
