"""The GPU contention scenario runs end to end: the queue serves by priority, the deadlock is
found and broken by the resolver, a crashed holder's lease is freed, and all of it is in
the journal."""

from __future__ import annotations

from pathlib import Path

from actorflow.agents.conflicts import ConflictResolved, ConflictType, ResolveConflict
from actorflow.agents.paths import RESOLVER_PATH, RESOURCES_PATH
from actorflow.agents.resource_messages import ResourceRefused
from actorflow.journal import JournalConfig, open_journal
from actorflow.messages.envelope import Envelope
from actorflow.scenarios import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "gpu_contention.py"


def test_gpu_contention_queues_by_priority_breaks_the_deadlock_and_frees_a_crashed_lease(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIO)
    path = tmp_path / "journal"
    system = scenario.create_system()
    system.use_journal(JournalConfig(path=path))
    system.start()
    try:
        result = dict(scenario.main(system) or {})
    finally:
        system.shutdown()
    with open_journal(path) as journal:
        envelopes = [r for r in journal if isinstance(r, Envelope)]

    order = ["urgent-trainer", "renderer", "evaluator", "batch-trainer"]
    assert result == {
        "gpu queue while held": order,
        "gpu service order": order,
        "deadlock finish order": ["trainer", "curator"],
        "aborted to break the deadlock": ["curator"],
        "broken by the resolver": True,
        "after the crash, finished": ["patient"],
        "leases granted": 12,
        "deadlocks detected": 1,
        "deadlocks broken": 1,
        "released when the holder died": 1,
        "in use at the end": {"dataset": 0, "gpu": 0},
        "waiting at the end": 0,
        "dead letters": {"failed": 1},  # flaky's crash
    }
    (asked,) = [
        e.message
        for e in envelopes
        if e.recipient == RESOLVER_PATH and isinstance(e.message, ResolveConflict)
    ]
    assert asked.conflict.conflict_type is ConflictType.DEADLOCK
    assert asked.conflict.involved_agents == ("trainer", "curator")
    (answer,) = [
        e.message
        for e in envelopes
        if e.recipient == RESOURCES_PATH and isinstance(e.message, ConflictResolved)
    ]
    assert [(a.action, a.agent_id) for a in answer.resolution.actions if a.action == "abort"] == [
        ("abort", "curator")
    ]
    refusals = [e for e in envelopes if isinstance(e.message, ResourceRefused)]
    assert [e.recipient for e in refusals] == ["/agents/curator"]
