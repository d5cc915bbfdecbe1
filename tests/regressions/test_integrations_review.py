"""Regressions from the adversarial review of durable human requests, MCP, models and
secrets (issues 13 phase 2 and 15): B1..Bn.

Each test shows one defect and is marked ``xfail(strict=True)`` until it is fixed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow.cli import app
from actorflow.human import HumanCallbackType, HumanRequest, PendingRecord
from actorflow.human.durable import record_status
from actorflow.stores import HumanRequestPut, SqliteStore


def _keep(path: Path, request: HumanRequest, *, deadline: float) -> None:
    """Store an open request as a durable gateway would."""
    record = PendingRecord.model_validate(
        {"request": request, "deadline": deadline, "asked_at": time.time()}
    )
    put = HumanRequestPut(
        request_id=request.request_id, status=record_status(record), deadline=deadline,
        asked_at=record.asked_at, record=record.model_dump(mode="json"),
        flow_id=request.flow_id, step_id=request.step_id,
    )  # fmt: skip
    with SqliteStore(path) as store:
        store.commit((put,))


def _request(request_id: str, **fields: object) -> HumanRequest:
    values: dict[str, object] = {
        "request_id": request_id,
        "type": HumanCallbackType.CONFIRM,
        "message": "Proceed?",
        "flow_id": "f1",
        "step_id": "s1",
    }
    values.update(fields)
    return HumanRequest.model_validate(values)


@pytest.mark.xfail(strict=True, reason="B1: `actorflow pending` crashes on a far-future deadline")
def test_b1_pending_lists_a_request_with_a_far_future_deadline(tmp_path: Path) -> None:
    """The adversary sends a human request with a huge but finite timeout (1e15 s:
    check_request accepts any finite, non-negative timeout), so the durable gateway
    stores a deadline past year 9999. `actorflow pending` then dies with ValueError
    from datetime.fromtimestamp and lists none of the open requests (not even the
    ordinary ones). It should list every request (showing the far deadline as such),
    or the gateway should refuse a timeout it cannot show."""
    path = tmp_path / "store.db"
    _keep(path, _request("ordinary"), deadline=time.time() + 3600)
    _keep(path, _request("far", timeout=1e15), deadline=time.time() + 1e15)
    result = CliRunner().invoke(app, ["pending", "--store", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 0
    assert "ordinary" in result.output


@pytest.mark.xfail(strict=True, reason="B2: `actorflow answer` with deeply nested JSON raises RecursionError")
def test_b2_answer_with_deeply_nested_json_is_a_typed_refusal(tmp_path: Path) -> None:
    """The adversary answers an input request with '[' * 100000 on the command line.
    parse_cli_value calls json.loads, which raises RecursionError (not ValueError), so
    the CLI dies with an untyped exception and a traceback instead of printing
    'error: ...'. It should either take the text as text or refuse it with
    InvalidHumanAnswerError (exit 1, the request stays open)."""
    path = tmp_path / "store.db"
    _keep(path, _request("r1", type=HumanCallbackType.INPUT), deadline=time.time() + 3600)
    result = CliRunner().invoke(app, ["answer", "r1", "[" * 100_000, "--store", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
