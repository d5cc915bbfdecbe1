from __future__ import annotations

from actorflow import ActorPath, MessageId
from actorflow.ids import CorrelationId
from actorflow.journal import JournalEvent, JournalFilter, sequence_diagram, summarise
from actorflow.journal.format import JournalRecord
from actorflow.messages import (
    ActorFailed,
    ActorRestarted,
    DeadLetter,
    DeadLetterReason,
    Envelope,
    ErrorInfo,
)
from tests.journal.conftest import sample_records
from tests.support import Work


def env(
    seq: int, sender: str | None, recipient: str, *, cid: str | None = None, t: float = 0.0
) -> Envelope:
    return Envelope(
        seq, MessageId(f"m{seq}"), None if cid is None else CorrelationId(cid),
        None if sender is None else ActorPath(sender), ActorPath(recipient), None, seq, t, Work(n=seq),  # noqa: E501
    )  # fmt: skip


RECORDS: list[JournalRecord] = [
    env(1, None, "/agents/a", t=10.0),
    env(2, "/agents/a", "/agents/b", cid="c-1", t=11.0),
    env(3, "/flows/f1/step", "/flows/f1", t=12.0),
    JournalEvent(4, 13.0, ActorRestarted(path=ActorPath("/agents/b"), restarts=1)),
    env(5, "/agents/b", "/agents/a", cid="c-1", t=14.0),
]


def seqs(flt: JournalFilter) -> list[int]:
    return [r.seq for r in flt.apply(RECORDS)]  # type: ignore[union-attr]


def test_filters_select_by_actor_subtree_kind_flow_correlation_seq_and_time() -> None:
    assert seqs(JournalFilter(actor="/agents/b")) == [2, 4, 5]
    assert seqs(JournalFilter(actor="/flows/")) == [3]
    assert seqs(JournalFilter(kind="lifecycle.")) == [4]
    assert seqs(JournalFilter(kind="test.work")) == [1, 2, 3, 5]
    assert seqs(JournalFilter(flow_id="f1")) == [3]
    assert seqs(JournalFilter(correlation_id="c-1")) == [2, 5]
    assert seqs(JournalFilter(seq_from=2, seq_to=4)) == [2, 3, 4]
    assert seqs(JournalFilter(since=11.5, until=13.0)) == [3, 4]
    assert seqs(JournalFilter(actor="/agents/a", kind="test.work", seq_from=2)) == [2, 5]


def test_summary_counts_kinds_actors_dead_letters_failures_and_restarts() -> None:
    summary = summarise(sample_records())

    assert summary.deliveries == 3
    assert summary.dead_letters == {"failed": 1}
    assert summary.failures == {"/agents/b": 1}
    assert summary.restarts == {"/agents/b": 1}
    assert summary.by_actor == {"/agents/b": 1, "/agents/a": 2}
    assert round(summary.span, 3) == 0.8
    assert round(summary.throughput, 6) == 3.75


def test_diagrams_draw_deliveries_and_note_failures_dead_letters_and_restarts() -> None:
    error = ErrorInfo(error_type="builtins.ValueError", message="bad")
    records: list[JournalRecord] = [
        env(1, None, "/agents/a"),
        JournalEvent(2, 0.0, ActorFailed(path=ActorPath("/agents/a"), error=error)),
        JournalEvent(3, 0.0, DeadLetter(reason=DeadLetterReason.FAILED, recipient=ActorPath("/agents/a"), message=Work(n=1))),  # noqa: E501
        JournalEvent(4, 0.0, ActorRestarted(path=ActorPath("/agents/a"), restarts=1)),
    ]  # fmt: skip

    mermaid = sequence_diagram(records, "mermaid")
    plantuml = sequence_diagram(records, "plantuml")

    assert mermaid.splitlines() == [
        "sequenceDiagram",
        "    participant p1 as outside",
        "    participant p2 as /agents/a",
        "    p1->>p2: test.work(n=1, fail=False)",
        "    Note over p2: failed: ValueError: bad",
        "    Note over p2: dead letter (failed): test.work",
        "    Note over p2: restarted (restart 1)",
    ]
    assert plantuml.splitlines()[:4] == [
        "@startuml",
        'participant "outside" as p1',
        'participant "/agents/a" as p2',
        "p1 -> p2 : test.work(n=1, fail=False)",
    ]
    assert plantuml.rstrip().endswith("@enduml")
