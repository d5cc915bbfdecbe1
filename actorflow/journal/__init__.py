"""The message log: every delivery and lifecycle event in a durable, framed msgpack file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # the journal layer does not import the flow layer at run time
    from actorflow.flow.models import PlanSpec
    from actorflow.replay import ReplayReport

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
    "replay",
    "sequence_diagram",
    "summarise",
]


def replay(path: str | Path, *, plans: Mapping[str, PlanSpec] | None = None) -> ReplayReport:
    """Replay a run's flows through the current code: :func:`actorflow.replay.replay`
    (a thin wrapper; ``actorflow.replay`` is loaded on the first call).

    Raises:
        ReplayDivergenceError: the current code decided differently.
        JournalError: the journal cannot be read.
    """
    from actorflow.replay import replay as replay_flows  # noqa: PLC0415 - layers: lazy

    return replay_flows(path, plans=plans)
