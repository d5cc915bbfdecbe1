"""Replay (issue 16, phase 1): recorded flows re-driven through the current decider."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import actorflow.journal
import actorflow.replay as replay_module
from actorflow import ActorSystem, FlowPlan, FlowState, create_flow_step
from actorflow.cli.app import app
from actorflow.errors import ReplayDivergenceError
from actorflow.flow.messages import (
    FlowFinished,
    HumanAnswered,
    RetryStep,
    RunFlow,
    StepAttemptFinished,
)
from actorflow.flow.models import FlowStatus, PlanSpec, StepSpec
from actorflow.journal import JournalConfig, JournalEntry, open_journal
from actorflow.messages.envelope import Envelope
from actorflow.replay import replay, replay_records
from actorflow.testing import ScriptedHuman
from tests.flow.support import Recorder, new_flow, plan_of, step

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
EVERY = sorted(p.name for p in SCENARIOS.glob("*.py") if not p.name.startswith("_"))


def run_scenario(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run ``name`` as ``actorflow run`` does; return its journal."""
    monkeypatch.chdir(tmp_path)
    args = ["run", str(SCENARIOS / name), "--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, [*args, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir / "journal"


def records_of(journal: Path) -> list[JournalEntry]:
    with open_journal(journal, opaque=False) as reader:
        return list(reader)


@pytest.mark.parametrize("name", EVERY)
def test_every_scenario_log_replays_clean(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = run_scenario(name, tmp_path, monkeypatch)

    report = replay(journal)

    assert report.torn_tail is None
    assert report.events >= len(report.flows)
    assert report.compared >= len(report.flows)  # at least each flow's result or reply
    out = CliRunner().invoke(app, ["log", "replay", str(journal)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"clean: {len(report.flows)} flows")


QUESTION = "Go on?"


def record_flow(
    path: Path, plan: FlowPlan, answer: bool = True, recorder: Recorder | None = None
) -> FlowState:
    """Run ``plan`` on a system that journals to ``path`` (tools: ``record``)."""
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        flow = new_flow(system, recorder or Recorder())
        flow.set_human_callback(ScriptedHuman({QUESTION: answer}))
        state = flow.execute_sync(plan)
    assert state.status is FlowStatus.COMPLETED
    return state


def recorded_plan(records: list[JournalEntry]) -> PlanSpec:
    """The one plan the recorded run ran."""
    plans = {
        r.message.plan.id: r.message.plan
        for r in records
        if isinstance(r, Envelope) and isinstance(r.message, RunFlow) and r.message.plan
    }
    (plan,) = plans.values()
    return plan


def outcome_seq(records: list[JournalEntry], step_id: str) -> int:
    """The seq of the first recorded result of step ``step_id``."""
    return next(
        r.seq
        for r in records
        if isinstance(r, Envelope)
        and isinstance(r.message, StepAttemptFinished | HumanAnswered)
        and r.message.step_id == step_id
    )


def with_steps(plan: PlanSpec, *steps: StepSpec) -> PlanSpec:
    """``plan`` with these steps (validated again, as a changed definition would be)."""
    dumped = plan.model_dump()
    return PlanSpec.model_validate({**dumped, "steps": [s.model_dump() for s in steps]})


def spec(plan: PlanSpec, step_id: str) -> StepSpec:
    return next(s for s in plan.steps if s.id == step_id)


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, list[JournalEntry]]:
    """a -> b -> c, recorded."""
    path = tmp_path / "journal"
    record_flow(path, plan_of(step("a"), step("b", deps=["a"]), step("c", deps=["b"])))
    return path, records_of(path)


def test_the_recorded_definition_replays_clean(chain: tuple[Path, list[JournalEntry]]) -> None:
    path, records = chain

    report = replay(path, plans={recorded_plan(records).id: recorded_plan(records)})

    assert len(report.flows) == 1
    assert report.compared >= 4  # three results and the reply
    assert "/system/human" not in report.not_replayed or report.not_replayed


def test_a_renamed_step_diverges_at_its_recorded_result(
    chain: tuple[Path, list[JournalEntry]],
) -> None:
    path, records = chain
    plan = recorded_plan(records)
    a, b, c = (spec(plan, s) for s in "abc")
    renamed = with_steps(
        plan,
        a,
        b.model_copy(update={"id": "b2", "name": "b2"}),
        c.model_copy(update={"dependencies": ("b2",)}),
    )

    with pytest.raises(ReplayDivergenceError) as caught:
        replay(path, plans={plan.id: renamed})

    text = str(caught.value)
    assert f"at seq {outcome_seq(records, 'b')}:" in text
    assert "never started" in text
    assert "'step_id': 'b'" in text


def test_reordered_steps_diverge_at_the_first_recorded_result(
    chain: tuple[Path, list[JournalEntry]],
) -> None:
    path, records = chain
    plan = recorded_plan(records)
    a, b, c = (spec(plan, s) for s in "abc")
    reordered = with_steps(  # b -> a -> c
        plan,
        b.model_copy(update={"dependencies": ()}),
        a.model_copy(update={"dependencies": ("b",)}),
        c.model_copy(update={"dependencies": ("a",)}),
    )

    with pytest.raises(ReplayDivergenceError) as caught:
        replay(path, plans={plan.id: reordered})

    assert f"at seq {outcome_seq(records, 'a')}:" in str(caught.value)
    assert "'step_id': 'a'" in str(caught.value)


def test_fewer_retries_diverge_at_the_recorded_retry(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.fail_times["a"] = 1
    path = tmp_path / "journal"
    record_flow(path, plan_of(step("a", max_retries=1), step("b", deps=["a"])), recorder=recorder)
    records = records_of(path)
    plan = recorded_plan(records)
    no_retry = spec(plan, "a").model_copy(update={"max_retries": 0})
    changed = with_steps(plan, no_retry, spec(plan, "b"))
    (retried,) = [
        r.seq for r in records if isinstance(r, Envelope) and isinstance(r.message, RetryStep)
    ]

    assert replay(path).flows  # as recorded: clean
    with pytest.raises(ReplayDivergenceError) as caught:
        replay(path, plans={plan.id: changed})

    assert f"at seq {retried}:" in str(caught.value)
    assert "never scheduled" in str(caught.value)


def _gated(tmp_path: Path) -> tuple[Path, list[JournalEntry]]:
    """a -> ask (confirm) -> check (condition on the answer) -> b, recorded with "yes"."""
    ask = create_flow_step("ask", "human_input", {"message": QUESTION, "input_type": "confirm"},
                           ["a"], id="ask")  # fmt: skip
    check = create_flow_step("check", "condition",
                             {"condition": "context['user_confirmed'] == True"}, ["ask"],
                             id="check")  # fmt: skip
    path = tmp_path / "journal"
    record_flow(path, plan_of(step("a"), ask, check, step("b", deps=["check"])))
    return path, records_of(path)


def test_a_changed_condition_diverges_at_the_step_it_now_skips(tmp_path: Path) -> None:
    path, records = _gated(tmp_path)
    plan = recorded_plan(records)
    check = spec(plan, "check")
    negated = check.model_copy(
        update={"parameters": {"condition": "context['user_confirmed'] == False"}}
    )
    changed = with_steps(plan, *(negated if s.id == "check" else s for s in plan.steps))

    assert replay(path).flows  # as recorded: clean
    with pytest.raises(ReplayDivergenceError) as caught:
        replay(path, plans={plan.id: changed})

    assert f"at seq {outcome_seq(records, 'b')}:" in str(caught.value)
    assert "'step_id': 'b'" in str(caught.value)


def test_a_different_human_answer_diverges_at_the_step_it_now_skips(tmp_path: Path) -> None:
    _, records = _gated(tmp_path)
    edited = [
        r._replace(message=r.message.model_copy(update={"result": False}))
        if isinstance(r, Envelope) and isinstance(r.message, HumanAnswered)
        else r
        for r in records
    ]

    with pytest.raises(ReplayDivergenceError) as caught:
        replay_records(edited)

    assert f"at seq {outcome_seq(records, 'b')}:" in str(caught.value)


def test_a_failed_answer_diverges_at_the_flows_reply(tmp_path: Path) -> None:
    _, records = _gated(tmp_path)
    edited: list[JournalEntry] = []
    for r in records:
        if isinstance(r, Envelope) and isinstance(r.message, HumanAnswered):
            failed = r.message.model_copy(update={"ok": False, "error": "refused"})
            edited.append(r._replace(message=failed))
        elif not (isinstance(r, Envelope) and getattr(r.message, "step_id", None) == "b"):
            edited.append(r)  # with the answer refused, the run never got to b
    (finished,) = [
        r.seq for r in records if isinstance(r, Envelope) and isinstance(r.message, FlowFinished)
    ]

    with pytest.raises(ReplayDivergenceError) as caught:
        replay_records(edited)

    text = str(caught.value)
    assert f"at seq {finished}:" in text
    assert "flow.finished" in text
    assert "actual (current code): nothing" in text  # it retries the question instead


def test_a_torn_tail_replays_its_whole_prefix(chain: tuple[Path, list[JournalEntry]]) -> None:
    path, records = chain
    data = path.read_bytes()
    path.write_bytes(data[:-7])

    report = replay(path)

    assert report.torn_tail is not None
    assert report.records == len(records) - 1
    out = CliRunner().invoke(app, ["log", "replay", str(path)])
    assert out.exit_code == 0, out.output
    assert "clean" in out.output


def test_the_cli_prints_the_divergence_and_exits_1(
    chain: tuple[Path, list[JournalEntry]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, records = chain
    plan = recorded_plan(records)
    a, b, c = (spec(plan, s) for s in "abc")
    renamed = with_steps(plan, a, b.model_copy(update={"id": "b2"}),
                         c.model_copy(update={"dependencies": ("b2",)}))  # fmt: skip
    real = replay_module.replay
    monkeypatch.setattr(replay_module, "replay", lambda p: real(p, plans={plan.id: renamed}))

    out = CliRunner().invoke(app, ["log", "replay", str(path)])

    assert out.exit_code == 1
    assert f"seq {outcome_seq(records, 'b')}" in out.output


def test_the_cli_exits_2_for_a_missing_log(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["log", "replay", str(tmp_path / "nothing-here")])
    assert out.exit_code == 2


def test_the_journal_package_replays_through_the_replay_package(
    chain: tuple[Path, list[JournalEntry]],
) -> None:
    path, records = chain

    report = actorflow.journal.replay(path)

    assert [f.flow_id for f in report.flows] == [recorded_plan(records).id]
