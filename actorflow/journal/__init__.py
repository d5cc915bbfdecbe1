"""The message log: every delivery and lifecycle event in a durable, framed msgpack file."""

from __future__ import annotations

from actorflow.journal.diagram import DiagramFormat, sequence_diagram
from actorflow.journal.format import (
    FORMAT_VERSION,
    MAGIC,
    JournalEntry,
    JournalEvent,
    JournalHeader,
    JournalRecord,
    UndecodedRecord,
)
from actorflow.journal.query import JournalFilter, JournalSummary, summarise
from actorflow.journal.reader import JournalReader, TornTail, open_journal
from actorflow.journal.repair import RepairReport, SkippedRange, repair_journal
from actorflow.journal.writer import Durability, JournalConfig, JournalStatistics, JournalWriter

__all__ = [
    "DiagramFormat",
    "Durability",
    "FORMAT_VERSION",
    "JournalConfig",
    "JournalEntry",
    "JournalEvent",
    "JournalFilter",
    "JournalHeader",
    "JournalReader",
    "JournalRecord",
    "JournalStatistics",
    "JournalSummary",
    "JournalWriter",
    "MAGIC",
    "RepairReport",
    "SkippedRange",
    "TornTail",
    "UndecodedRecord",
    "open_journal",
    "repair_journal",
    "sequence_diagram",
    "summarise",
]
