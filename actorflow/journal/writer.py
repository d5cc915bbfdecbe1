"""Writing a journal off the hot path: senders append to a queue, one thread writes batches.

Durability policies:

- ``none``: each batch is handed to the OS (``write`` + ``flush``), never fsynced.
- ``batch`` (default): each batch is written and fsynced; a batch closes after
  ``batch_frames`` records or ``batch_interval`` seconds, whichever comes first.
- ``every``: every record is written and fsynced on its own.

Opening an existing journal keeps its whole frames, cuts a torn tail, and appends
a new segment (a header record, then the new records) after them.
"""

from __future__ import annotations

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
    DecodeErrors,
    JournalHeader,
    JournalRecord,
    encode_body,
    frame,
)
from actorflow.journal.reader import whole_length

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
    """Records that could not be encoded (each logged as an error)."""
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
        self._closing = False
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
            if path.exists() and path.stat().st_size > 0:
                keep = whole_length(path)
                lost = path.stat().st_size - keep
                if lost:
                    logger.warning(
                        "Journal {path} had a torn tail of {lost} bytes; cut it",
                        path=path,
                        lost=lost,
                    )
                existing = path.open("r+b")
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
        """Queue a record (any thread; never blocks)."""
        pending = self._pending
        pending.append(record)
        if len(pending) >= self.config.batch_frames:
            self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every record appended so far is written (and synced per policy)."""
        marker = _Flush()
        self._pending.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, sync, and close the file."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        while self._pending:
            self._drain()
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

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
                self._drain()
            except JournalError:
                logger.opt(exception=True).critical("Journal {path} failed", path=self.path)
                return

    def _drain(self) -> None:
        """Write the records queued when the drain began, in batches of ``batch_frames``.

        Records queued meanwhile wait for the next wake-up (the interval, a full batch
        or a flush): a writer that chased every new record would write and sync in tiny
        batches, and contend for the interpreter with the actors that produce them.
        """
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
        except DecodeErrors:
            self.dropped += 1
            logger.opt(exception=True).error("Journal could not encode {r!r}", r=record)
            return None
        if len(body) > MAX_FRAME_BYTES:
            self.dropped += 1
            logger.error("Journal record of {n} bytes exceeds the frame cap", n=len(body))
            return None
        return frame(body)

    def _write(self, frames: list[bytes], *, sync: bool) -> None:
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
