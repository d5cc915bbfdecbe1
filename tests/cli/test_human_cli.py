"""``actorflow pending`` and ``actorflow answer``: human requests kept in a store."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow.cli import app
from actorflow.cli.human import answer_stored_request, parse_cli_value
from actorflow.errors import (
    AlreadyAnsweredError,
    HumanResponseExpiredError,
    InvalidHumanAnswerError,
    UnknownHumanRequestError,
)
from actorflow.human import HumanCallbackType, HumanOutcome, HumanRequest, PendingRecord
from actorflow.human.durable import record_status
from actorflow.scenarios import load_scenario
from actorflow.stores import HumanRequestPut, SqliteStore


def _request(request_id: str = "r1", **fields: object) -> HumanRequest:
    return _request_of({"request_id": request_id, **fields})


def _request_of(fields: dict[str, object]) -> HumanRequest:
    values: dict[str, object] = {
        "request_id": "r1",
        "type": HumanCallbackType.CONFIRM,
        "message": "Proceed?",
        "flow_id": "f1",
        "step_id": "confirm",
    }
    values.update(fields)
    return HumanRequest.model_validate(values)


def _keep(path: Path, request: HumanRequest, *, deadline: float, **fields: object) -> None:
    """Store an open request as a durable gateway would."""
    record = PendingRecord.model_validate(
        {"request": request, "deadline": deadline, "asked_at": deadline - 3600, **fields}
    )
    put = HumanRequestPut(
        request_id=request.request_id, status=record_status(record), deadline=deadline,
        asked_at=record.asked_at, record=record.model_dump(mode="json"),
        flow_id=request.flow_id, step_id=request.step_id,
    )  # fmt: skip
    with SqliteStore(path) as store:
        store.commit((put,))


def _record(path: Path, request_id: str = "r1") -> PendingRecord:
    with SqliteStore(path) as store:
        entry = store.get_human_request(request_id)
    assert entry is not None
    return PendingRecord.model_validate(entry.record)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A store with one open confirmation ``r1``, due in an hour."""
    store = tmp_path / "store.sqlite"
    _keep(store, _request(), deadline=time.time() + 3600)
    return store


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})  # rows unwrapped
    return result.exit_code, result.output


def test_pending_lists_the_open_requests_with_their_deadline(path: Path) -> None:
    options = ("fast", "safe")
    _keep(path, _request("r2", type="select", message="How?", options=options),
          deadline=time.time() + 7200)  # fmt: skip

    code, out = _invoke("pending", "--store", str(path))

    assert code == 0, out
    for text in ("r1", "f1/confirm", "confirm", "Proceed?", "r2", "select", "1. fast, 2. safe"):
        assert text in out
    assert "59m" in out  # time left of r1
    due = time.strftime("%Y-%m-%d %H:", time.localtime(time.time() + 7200))
    assert due in out  # r2's deadline, in local time


def test_pending_says_when_there_is_none(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "empty.sqlite"):
        pass

    code, out = _invoke("pending", "--store", str(tmp_path / "empty.sqlite"))

    assert (code, "No pending human requests" in out) == (0, True)


def test_answer_stores_the_outcome_and_names_the_flow_to_resume(path: Path) -> None:
    code, out = _invoke("answer", "r1", "yes", "--store", str(path), "--responder", "ada")

    assert code == 0, out
    assert "actorflow resume f1" in out
    outcome = _record(path).outcome
    assert outcome is not None
    assert (outcome.outcome, outcome.value, outcome.responder) == (
        HumanOutcome.ANSWERED,
        True,
        "ada",
    )


def test_a_second_answer_is_refused_with_exit_code_1(path: Path) -> None:
    _invoke("answer", "r1", "yes", "--store", str(path))

    code, out = _invoke("answer", "r1", "no", "--store", str(path))

    assert code == 1
    assert "answered already" in out
    outcome = _record(path).outcome
    assert outcome is not None
    assert outcome.value is True


def test_an_invalid_answer_is_refused_and_the_request_stays_pending(path: Path) -> None:
    code, out = _invoke("answer", "r1", "maybe", "--store", str(path))

    assert code == 1
    assert "is not yes or no" in out
    assert _record(path).outcome is None


def test_a_late_answer_is_refused_as_expired(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    _keep(store, _request(), deadline=time.time() - 1)

    code, out = _invoke("answer", "r1", "yes", "--store", str(store))

    assert code == 1
    assert "past its deadline" in out
    assert _record(store).outcome is None  # the run applies its timeout policy


def test_an_unknown_request_is_refused(path: Path) -> None:
    code, out = _invoke("answer", "nope", "yes", "--store", str(path))

    assert code == 1
    assert "No human request has the id 'nope'" in out


def test_answer_refuses_a_store_held_by_a_running_process(path: Path) -> None:
    holder = (
        "import sys\nfrom actorflow.stores import SqliteStore\n"
        f"s = SqliteStore({str(path)!r})\nprint('open', flush=True)\nsys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "open\n"
        code, out = _invoke("answer", "r1", "yes", "--store", str(path))
        listed, shown = _invoke("pending", "--store", str(path))
        proc.communicate("")

    assert code == 1
    assert "still up and holds the store" in out
    assert f"pid {proc.pid}" in out
    assert (listed, "Proceed?" in shown) == (0, True)  # listing reads beside the run


def test_an_answer_to_an_escalating_request_is_on_time_until_the_escalation_ends(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.sqlite"
    request = _request(on_timeout="escalate", escalation_timeout=600)
    _keep(store, request, deadline=time.time() - 1)  # first deadline passed, escalation not

    with SqliteStore(store) as opened:
        response = answer_stored_request(opened, "r1", "no")

    assert (response.outcome, response.value) == (HumanOutcome.ANSWERED, False)


@pytest.mark.parametrize(
    ("fields", "text", "value"),
    [
        ({"type": "confirm"}, "Y", True),
        ({"type": "select", "options": ["a", "b"]}, "2", "b"),
        ({"type": "select", "options": ["a", "b"]}, "a", "a"),
        ({"type": "select", "options": ["a", "b"], "multi_select": True}, "b, 1", ["b", "a"]),
        ({"type": "input"}, '{"n": 1}', {"n": 1}),
        ({"type": "input"}, "plain words", "plain words"),
        ({"type": "input", "value_type": "str"}, "42", "42"),
        ({"type": "input", "value_type": "int"}, "42", 42),
        ({"type": "help"}, "ask Bob", "ask Bob"),
    ],
)
def test_a_value_is_parsed_by_the_request_type(
    fields: dict[str, object], text: str, value: object
) -> None:
    assert parse_cli_value(_request_of(fields), text) == value


def test_an_option_that_is_not_offered_is_refused() -> None:
    with pytest.raises(InvalidHumanAnswerError, match="is not one of the options"):
        parse_cli_value(_request(type="select", options=["a"]), "3")


def test_answering_through_the_store_raises_the_typed_errors(path: Path) -> None:
    with SqliteStore(path) as store:
        with pytest.raises(UnknownHumanRequestError):
            answer_stored_request(store, "nope", "yes")
        answer_stored_request(store, "r1", "yes")
        with pytest.raises(AlreadyAnsweredError):
            answer_stored_request(store, "r1", "yes")
    _keep(path, _request("r3"), deadline=100.0)
    with SqliteStore(path) as store, pytest.raises(HumanResponseExpiredError):
        answer_stored_request(store, "r3", "yes")


SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "interactive_approval.py"


def test_run_passes_interactive_to_the_scenario_which_asks_at_the_console(
    tmp_path: Path,
) -> None:
    args = ["run", str(SCENARIO), "--interactive", "--store", "memory", "--no-journal",
            "--runs-dir", str(tmp_path)]  # fmt: skip

    try:
        result = CliRunner().invoke(app, args, input="maybe\ny\n", env={"COLUMNS": "250"})
    finally:
        load_scenario(SCENARIO).configure([])  # the module stays loaded: back to scripted

    assert result.exit_code == 0, result.output
    assert "Do you want to proceed with analysis?" in result.output
    assert "Please try again" in result.output  # "maybe" was refused, "y" taken
    assert "answered: asked" in result.output
    assert "at the console" in result.output
    assert "{'hits': 1}" in result.output  # confirmed: the analysis ran


def test_run_refuses_arguments_a_scenario_does_not_take(tmp_path: Path) -> None:
    ping = SCENARIO.with_name("ping_pong.py")

    result = CliRunner().invoke(app, ["run", str(ping), "--bogus", "--runs-dir", str(tmp_path)])

    assert result.exit_code == 2
    assert "takes no arguments" in result.output
