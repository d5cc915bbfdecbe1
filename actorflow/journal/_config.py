"""The journal writer's configuration and counters (see :mod:`actorflow.journal.writer` for
what each durability policy guarantees)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, final

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Durability", "JournalConfig", "JournalStatistics"]


class Durability(StrEnum):
    """When written records are forced to disk (see the module docstring for guarantees)."""

    NONE = "none"
    """Written to the OS per batch, never fsynced: a kill loses the queued records, a
    power loss also what the OS had not stored."""
    BATCH = "batch"
    """Written and fsynced per batch (``batch_frames`` records or ``batch_interval``
    seconds): a kill loses the queued records, a power loss also the batch being synced."""
    EVERY = "every"
    """``append()`` returns once its record is written and fsynced (appenders waiting at
    the same time share an fsync): nothing whose append() returned is lost."""


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
    max_pending: Annotated[int, Field(gt=0, le=10_000_000)] = 10_000
    """Most records waiting to be written; bounds the writer's memory (about this many
    times a record's size). An append() that finds the queue full waits for room."""
    append_timeout: Annotated[float, Field(ge=0, le=3600)] = 5.0
    """Longest an append() waits for room in a full queue before its record is dropped
    (counted and logged); under ``every``, also the longest it waits for its record to
    be synced before it returns anyway (counted in ``sync_timeouts``)."""
    entry_point: str = ""
    """The scenario or program, for the header."""


@final
class JournalStatistics(BaseModel):
    """Counters of a journal writer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    frames: int
    """Frames written, the segment header included."""
    bytes: int
    fsyncs: int
    pending: int
    """Records queued and not yet taken by the writer thread."""
    max_pending: int
    waits: int
    """Appends that found the queue full and waited for room."""
    sync_timeouts: int
    """Under ``every``: appends that returned after ``append_timeout`` before their
    record was synced (the record stays queued)."""
    dropped: int
    """Records not written, all causes: the sum of the four counts below."""
    dropped_full: int
    """The queue stayed full for ``append_timeout``."""
    dropped_invalid: int
    """The record could not be encoded (a value msgpack cannot hold, over the frame cap)."""
    dropped_closed: int
    """Appended once ``close()`` had begun."""
    dropped_unwritten: int
    """Queued, but ``close()``'s timeout ran out or the disk failed before it was written."""
