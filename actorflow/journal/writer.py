"""Writing a journal off the hot path: senders append to a queue, one thread writes batches.

Durability policies:

- ``none``: each batch is handed to the OS (``write`` + ``flush``), never fsynced.
- ``batch`` (default): each batch is written and fsynced; a batch closes after
  ``batch_frames`` records or ``batch_interval`` seconds, whichever comes first.
- ``every``: every record is written and fsynced on its own.

Opening an existing journal keeps its whole frames, cuts a torn tail, and appends
a new segment (a header record, then the new records) after them.

One lock serialises drains and every use of the file: the writer thread holds it for
a drain, ``close()`` for the last drain, the sync and the close, so records keep their
order and the file is never written from two threads or after it is closed. Records
appended once ``close()`` has begun are dropped (counted, one warning); ``append()``
itself never takes a lock.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO, final

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from actorflow._version import __version__
from actorflow.errors import ConfigurationError, JournalError
from actorflow.journal.format import (
    FORMAT_VERSION,
    MAGIC,
    MAX_FRAME_BYTES,
    JournalHeader,
    JournalRecord,
    encode_body,
    frame,
)
from actorflow.journal.reader import append_offset

__all__ = ["Durability", "JournalConfig", "JournalStatistics", "JournalWriter"]


class Durability(StrEnum):
    """When written records are forced to disk."""

    NONE = "none"
    """Handed to the OS per batch; a machine crash may lose the latest batches."""
    BATCH = "batch"
    """fsync per batch (``batch_frames`` records or ``batch_interval`` seconds)."""
    EVERY = "every"
    """fsync per record: slowest, loses at most the record being written."""


@final
class JournalConfig(BaseModel):
    """Where and how an actor system writes its journal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    """The journal file; created with its folders if missing, appended to if present."""
    durability: Durability = Durability.BATCH
    batch_frames: Annotated[int, Field(gt=0, le=1_000_000)] = 512
    batch_interval: Annotated[float, Field(gt=0, le=60)] = 0.05
    """Seconds between writes when fewer than ``batch_frames`` records wait."""
    entry_point: str = ""
    """The scenario or program, for the header."""


@final
class JournalStatistics(BaseModel):
    """Counters of a journal writer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    frames: int
    bytes: int
    fsyncs: int
    dropped: int
    """Records not written: those that could not be encoded (each logged as an error)
    and those appended after ``close()`` began (one warning for the first)."""
    pending: int


class _Flush:
    """A marker in the queue: set once everything appended before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


@final
class JournalWriter:
    """Appends records to a journal file from any thread; a writer thread persists them."""

    def __init__(self, config: JournalConfig, *, run_id: str, started_at: float) -> None:
        self.config = config
        self._pending: deque[JournalRecord | _Flush] = deque()
        self._wake = threading.Event()
        self._wake_at = config.batch_frames
        """Queue length that wakes the writer thread; 0 once closed (see close())."""
        self._lock = threading.Lock()
        """Held for a drain and for any use of the file after the thread starts."""
        self._drop_lock = threading.Lock()
        """Guards ``dropped``, which appenders update after close() began."""
        self._closing = False
        """close() has begun: append() drops, flush() returns at once."""
        self._closed = False
        """close()'s last drain is over: nothing queued now will be written."""
        self._closed_cleanly = False
        """close() wrote and synced everything appended before it."""
        self._warned_late = False
        self.frames = 0
        self.bytes = 0
        self.fsyncs = 0
        self.dropped = 0
        self._file = self._open(config.path)
        header = JournalHeader(
            format_version=FORMAT_VERSION,
            run_id=run_id,
            started_at=started_at,
            actorflow_version=__version__,
            entry_point=config.entry_point,
        )
        self._write([frame(encode_body(header))], sync=config.durability is not Durability.NONE)
        self._thread = threading.Thread(target=self._run, name="actorflow-journal", daemon=True)
        self._thread.start()

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            size = path.stat().st_size if path.exists() else 0
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

    @property
    def path(self) -> Path:
        """The journal file."""
        return self.config.path

    def append(self, record: JournalRecord) -> None:
        """Queue a record (any thread; never blocks).

        Once ``close()`` has begun the record is dropped: counted in ``dropped``, with a
        warning for the first one.
        """
        if self._closing:
            self._drop_late(1)
            return
        pending = self._pending
        pending.append(record)
        if len(pending) >= self._wake_at:
            if self._closed:  # close() finished while this record was being queued
                self._sweep()
            else:
                self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every record appended so far is written (and synced per policy).

        Returns False if ``timeout`` passed first. Once ``close()`` has begun, returns at
        once: True if close() has written and synced everything appended before it.
        """
        if self._closing:
            return self._closed_cleanly
        marker = _Flush()
        self._pending.append(marker)
        if self._closed:  # close() finished while the marker was being queued
            self._sweep()
        else:
            self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what was appended before, sync, and close the file.

        Waits up to ``timeout`` for the writer thread to write what is queued. If it is
        still inside a (slow) write then, waits for that write to end before writing the
        rest itself: the file is never written from two threads. Records appended once
        close() has begun are dropped.

        Raises:
            JournalError: the last records could not be written or synced.
        """
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning(
                "Journal {path}: the writer thread is still writing after {timeout:g} s; "
                "close() waits for it",
                path=self.path,
                timeout=timeout,
            )
        try:
            with self._lock:
                if self._file.closed:  # another close() got here first
                    return
                try:
                    self._drain()
                    self._sync()
                finally:
                    # From here on a record that raced past the check in append() or
                    # flush() is swept out of the queue: by close() below, or by the
                    # appender itself, whose next length check (>= 0) always holds.
                    self._closed = True
                    self._wake_at = 0
                    # Synced already, or failing already: an error here adds nothing.
                    with contextlib.suppress(OSError):
                        self._file.close()
                self._closed_cleanly = True
        finally:
            self._sweep()

    def statistics(self) -> JournalStatistics:
        """Return the writer's counters."""
        return JournalStatistics(
            path=self.config.path,
            frames=self.frames,
            bytes=self.bytes,
            fsyncs=self.fsyncs,
            dropped=self.dropped,
            pending=len(self._pending),
        )

    def _run(self) -> None:
        interval = self.config.batch_interval
        while not self._closing:
            self._wake.wait(interval)
            self._wake.clear()
            try:
                with self._lock:
                    self._drain()
            except JournalError:  # the disk failed: stop writing
                logger.opt(exception=True).critical("Journal {path} failed", path=self.path)
                return
            except Exception:  # noqa: BLE001 - a bug: lose this drain, not the later ones
                logger.opt(exception=True).critical(
                    "Journal {path}: unexpected error while writing; the writer goes on",
                    path=self.path,
                )

    def _drain(self) -> None:
        """Write the records queued when the drain began, in batches of ``batch_frames``.

        Records queued meanwhile wait for the next wake-up (the interval, a full batch
        or a flush): a writer that chased every new record would write and sync in tiny
        batches, and contend for the interpreter with the actors that produce them.

        The caller holds ``_lock``. Does nothing once the file is closed (the writer
        thread may wake after close() finished; close() has swept the queue).
        """
        if self._file.closed:
            return
        pending = self._pending
        every = self.config.durability is Durability.EVERY
        left = len(pending)
        while left:
            frames: list[bytes] = []
            markers: list[_Flush] = []
            while left and len(frames) < self.config.batch_frames:
                left -= 1
                item = pending.popleft()
                if isinstance(item, _Flush):
                    markers.append(item)
                    continue
                encoded = self._encode(item)
                if encoded is not None:
                    if every:
                        self._write([encoded], sync=True)
                    else:
                        frames.append(encoded)
            if frames:
                self._write(frames, sync=self.config.durability is Durability.BATCH)
            for marker in markers:
                marker.done.set()

    def _encode(self, record: JournalRecord) -> bytes | None:
        try:
            body = encode_body(record)
        except Exception:  # noqa: BLE001 - e.g. msgpack OverflowError for ints >= 2**64
            self._count_dropped(1)
            logger.opt(exception=True).error("Journal could not encode {r!r}", r=record)
            return None
        if len(body) > MAX_FRAME_BYTES:
            self._count_dropped(1)
            logger.error("Journal record of {n} bytes exceeds the frame cap", n=len(body))
            return None
        return frame(body)

    def _write(self, frames: list[bytes], *, sync: bool) -> None:
        if self._file.closed:  # only by misuse: the lock and _drain() prevent it
            self._count_dropped(len(frames))
            logger.error(
                "Journal {path} is closed; {n} frames dropped", path=self.path, n=len(frames)
            )
            return
        data = b"".join(frames)
        try:
            self._file.write(data)
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
                self.fsyncs += 1
        except OSError as exc:
            raise JournalError(f"Cannot write journal {str(self.path)!r}: {exc}.") from exc
        self.frames += len(frames)
        self.bytes += len(data)

    def _sync(self) -> None:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise JournalError(f"Cannot sync journal {str(self.path)!r}: {exc}.") from exc
        self.fsyncs += 1

    def _count_dropped(self, count: int) -> None:
        with self._drop_lock:
            self.dropped += count

    def _drop_late(self, count: int) -> None:
        """Count records appended after close() began; warn about the first."""
        with self._drop_lock:
            self.dropped += count
            first, self._warned_late = not self._warned_late, True
        if first:
            logger.warning(
                "Journal {path} is closed: records appended once close() began are "
                "dropped (counted in its statistics)",
                path=self.path,
            )

    def _sweep(self) -> None:
        """Empty the queue once close()'s last drain is over: drop the records that raced
        with close() and release their flush() callers."""
        pending = self._pending
        late = 0
        while True:
            try:
                item = pending.popleft()
            except IndexError:
                break
            if isinstance(item, _Flush):
                item.done.set()
            else:
                late += 1
        if late:
            self._drop_late(late)
