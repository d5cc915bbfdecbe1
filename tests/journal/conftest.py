from __future__ import annotations

from pathlib import Path

import pytest

from actorflow import ActorPath, MessageId
from actorflow.ids import CorrelationId
from actorflow.journal import Durability, JournalConfig, JournalEvent, JournalRecord, JournalWriter
from actorflow.journal.format import MAGIC, encode_body, frame
from actorflow.messages import (
    ActorFailed,
    ActorRestarted,
    ActorSpawned,
    ActorStopped,
    DeadLetter,
    DeadLetterReason,
    EffectRecorded,
    Envelope,
    ErrorInfo,
    RequestTimedOut,
)
from tests.support import Done, Work


def sample_records() -> list[JournalRecord]:
    """One record of every type a journal holds (the header is written by the writer)."""
    a, b = ActorPath("/agents/a"), ActorPath("/agents/b")
    error = ErrorInfo(error_type="builtins.ValueError", message="bad", traceback="tb")
    env = Envelope(1, MessageId("m1"), None, a, b, None, 1, 100.0, Work(n=1))
    return [
        env,
        Envelope(2, MessageId("m2"), CorrelationId("c1"), b, a, a, 2, 100.1, Done(n=1, by=b)),
        Envelope(
            3, MessageId("m3"), None, a, a, None, 3, 100.2,
            RequestTimedOut(correlation_id=CorrelationId("c2"), recipient=b, request_kind="test.work", timeout=1.5),  # noqa: E501
        ),
        JournalEvent(4, 100.3, ActorSpawned(path=a, behaviour="Worker")),
        JournalEvent(5, 100.4, ActorFailed(path=b, error=error, message_kind="test.work")),
        JournalEvent(6, 100.5, ActorRestarted(path=b, restarts=1)),
        JournalEvent(7, 100.6, ActorStopped(path=b, reason="requested")),
        JournalEvent(8, 100.7, DeadLetter(reason=DeadLetterReason.FAILED, recipient=b, sender=a, seq=1, message=Work(n=1), detail="bad")),  # noqa: E501
        JournalEvent(9, 100.8, EffectRecorded(actor=a, effect="tool", name="search", value={"hits": [1, 2]}, during_seq=1)),  # noqa: E501
    ]  # fmt: skip


def write_log(path: Path, records: list[JournalRecord]) -> list[int]:
    """Write a journal by hand; return the offset where each frame ends (after MAGIC)."""
    ends = []
    with path.open("wb") as f:
        f.write(MAGIC)
        for record in records:
            f.write(frame(encode_body(record)))
            ends.append(f.tell())
    return ends


@pytest.fixture
def writer_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    writers: list[JournalWriter] = []

    def make(
        name: str = "journal", durability: Durability = Durability.BATCH, **kw: object
    ) -> JournalWriter:
        config = JournalConfig(path=tmp_path / name, durability=durability, **kw)
        writer = JournalWriter(config, run_id="run-test", started_at=1.0)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()
