"""Folding journals: every flow of every scenario is rebuilt exactly from its log."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow.cli import app
from actorflow.flow.checkpoint import flow_state
from actorflow.flow.commands import ScheduleTimer, StartAttempt
from actorflow.flow.fold import (
    ORDER_EFFECT,
    STOP_EFFECT,
    first_divergence,
    flow_events,
    flows_in,
    fold,
    fold_journal,
)
from actorflow.flow.messages import FlowFinished, RetryStep, RunFlow, StepAttemptFinished
from actorflow.ids import ActorPath, MessageId
from actorflow.journal import open_journal
from actorflow.journal.format import JournalEntry, JournalEvent
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import EffectRecorded
from tests.flow.support import plan_of, step

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _journal_of(name: str, tmp_path: Path) -> list[JournalEntry]:
    result = CliRunner().invoke(
        app, ["run", str(SCENARIOS / name), "--runs-dir", str(tmp_path)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    with open_journal(run_dir / "journal", opaque=False) as reader:
        return list(reader)


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[JournalEntry]]:
    return {
        p.name: _journal_of(p.name, tmp_path_factory.mktemp(p.stem))
        for p in sorted(SCENARIOS.glob("*.py"))
    }


def _deliveries(records: list[JournalEntry], flow_id: str) -> list[Envelope]:
    path = f"/flows/{flow_id}"
    return [r for r in records if isinstance(r, Envelope) and r.recipient == path]


def test_the_scenarios_run_flows_to_fold(journals: dict[str, list[JournalEntry]]) -> None:
    flows = {name: flows_in(records) for name, records in journals.items()}

    assert len(flows["flow_basics.py"]) >= 2
    assert len(flows["retries_and_timeouts.py"]) == 1


def test_folding_a_scenario_journal_gives_the_live_flows_final_state(
    journals: dict[str, list[JournalEntry]],
) -> None:
    for records in journals.values():
        for flow_id in flows_in(records):
            folded = fold_journal(records, flow_id)
            (reply,) = [
                r.message
                for r in records
                if isinstance(r, Envelope)
                and isinstance(r.message, FlowFinished)
                and r.message.flow_id == flow_id
            ]
            assert folded.state is not None

            state = flow_state(folded.state, folded.steps[-1].at)
            assert state.model_dump(mode="json", exclude={"plan"}) == reply.state


def test_folding_a_scenario_journal_gives_the_commands_the_live_flow_carried_out(
    journals: dict[str, list[JournalEntry]],
) -> None:
    for records in journals.values():
        for flow_id in flows_in(records):
            folded = fold_journal(records, flow_id)
            delivered = _deliveries(records, flow_id)
            started = {
                (c.step_id, c.attempt) for c in folded.commands if isinstance(c, StartAttempt)
            }
            retries = [c.message for c in folded.commands if isinstance(c, ScheduleTimer)]
            outcomes = {
                (e.message.step_id, e.message.attempt)
                for e in delivered
                if isinstance(e.message, StepAttemptFinished)
            }
            retried = [e.message for e in delivered if isinstance(e.message, RetryStep)]

            assert outcomes <= started  # every outcome answers an attempt the fold started
            assert all(r in retries for r in retried)  # every retry timer was scheduled


def test_a_changed_plan_diverges_at_the_first_differing_command(
    journals: dict[str, list[JournalEntry]],
) -> None:
    records = journals["retries_and_timeouts.py"]
    (flow_id,) = flows_in(records)
    live = fold_journal(records, flow_id)
    run = next(s.event for s in live.steps if isinstance(s.event, RunFlow))
    assert run.plan is not None
    plan = run.plan
    flaky = next(s for s in plan.steps if s.id == "flaky")
    fewer_retries = plan.model_copy(
        update={
            "steps": tuple(
                s.model_copy(update={"max_retries": 0}) if s is flaky else s for s in plan.steps
            )
        }
    )

    same = fold_journal(records, flow_id, plan=plan)
    changed = fold_journal(records, flow_id, plan=fewer_retries)
    divergence = first_divergence(live, changed)

    assert first_divergence(live, same) is None
    assert divergence is not None
    flaky_failed = next(
        i
        for i, s in enumerate(live.steps)
        if isinstance(s.event, StepAttemptFinished) and s.event.step_id == "flaky"
    )
    assert divergence.index == flaky_failed
    assert divergence.event == "flow.step_attempt_finished"
    assert any(isinstance(c, ScheduleTimer) for c in divergence.expected)
    assert not any(isinstance(c, ScheduleTimer) for c in divergence.actual)


def _envelope(seq: int, message: Message, to: str = "/flows/f") -> Envelope:
    return Envelope(seq, MessageId(f"m{seq}"), None, None, ActorPath(to), None, 0, 1.0, message)


def test_events_a_flow_processed_out_of_send_order_are_folded_in_its_order() -> None:
    plan = plan_of(step("a"), step("b")).model_copy(update={"id": "f"})
    run = RunFlow(plan=plan.freeze(), seed=1)
    a = StepAttemptFinished(flow_id="f", step_id="a", attempt=1, ok=True, result="A")
    b = StepAttemptFinished(flow_id="f", step_id="b", attempt=1, ok=True, result="B")
    moved = EffectRecorded(
        actor=ActorPath("/flows/f"), effect=ORDER_EFFECT, value={"after": 3}, during_seq=2
    )
    records: list[JournalEntry] = [
        _envelope(1, run),
        _envelope(2, a),
        _envelope(3, b),
        JournalEvent(4, 1.0, moved),  # the flow took seq 2 after seq 3
        _envelope(5, a, to="/flows/other"),
    ]

    events = flow_events(records, "f")

    assert [seq for seq, _, _ in events] == [1, 3, 2]


def test_a_flow_stopped_from_outside_is_folded_with_its_stop() -> None:
    plan = plan_of(step("a")).model_copy(update={"id": "f"})
    stop = EffectRecorded(
        actor=ActorPath("/flows/f"),
        effect=STOP_EFFECT,
        value={"reason": "the flow actor stopped before the flow ended", "at": 2.0},
    )

    folded = fold(
        flow_events([_envelope(1, RunFlow(plan=plan.freeze())), JournalEvent(2, 2.0, stop)], "f")
    )

    assert folded.state is not None
    assert folded.state.status.value == "failed"
