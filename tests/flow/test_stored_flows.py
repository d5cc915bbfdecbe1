"""Stored flow states are checked like network input before a flow resumes from them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actorflow.errors import CheckpointRejectedError
from actorflow.flow.decider import decide
from actorflow.flow.messages import RunFlow
from actorflow.flow.models import FlowPlan, create_flow_step
from actorflow.flow.persistence import plan_json, state_json
from actorflow.flow.stored import core_from_checkpoint
from actorflow.stores import Checkpoint


def _checkpoint(**changes: Any) -> Checkpoint:
    steps = [create_flow_step(s, "mcp_tool", {"tool_name": "t"}, id=s) for s in ("a", "b")]
    plan = FlowPlan(id="f", name="p", steps=steps).freeze()
    core, _ = decide(None, RunFlow(plan=plan, seed=2), 1000.0)
    data: dict[str, Any] = {
        "flow_id": "f",
        "version": 3,
        "state": json.loads(json.dumps(state_json(core))),
        "status": "running",
        "steps_done": 0,
        "steps_total": 2,
        "at": 1000.0,
        "plan_hash": "h",
        "plan": plan_json(plan),
        "write_id": "",
    }
    data.update(changes)
    return Checkpoint(**data)


def test_a_stored_state_rebuilds_the_flow_exactly() -> None:
    checkpoint = _checkpoint()
    core = core_from_checkpoint(checkpoint)
    assert state_json(core) == checkpoint.state


def _tampered(change: Any) -> Checkpoint:
    checkpoint = _checkpoint()
    state = json.loads(json.dumps(checkpoint.state))
    change(state)
    return _checkpoint(state=state)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: s.update(format=2), "state format is 2"),
        (lambda s: s.pop("format"), "state format is None"),
        (lambda s: s.update(extra=1), "unknown fields ['extra']"),
        (lambda s: s.pop("slots"), "lacks ['slots']"),
        (lambda s: s["spec"].update(plan={}), "unknown fields ['plan']"),
        (lambda s: s["steps"].pop("b"), "not the steps of its plan"),
        (lambda s: s["steps"]["a"].pop(), "not a step record"),
        (lambda s: s["steps"]["a"].__setitem__(0, "exploded"), "ValueError"),
        (lambda s: s["steps"]["a"].__setitem__(1, "1"), "expected an integer"),
        (lambda s: s.update(slots=True), "expected an integer"),
        (lambda s: s.update(status="paused"), "ValueError"),
        (lambda s: s["spec"].update(order=["a"]), "does not name the plan's steps"),
        (lambda s: s["spec"]["settings"].update(surprise=1), "the settings are not"),
    ],
)
def test_a_tampered_state_is_rejected_with_what_is_wrong(change: Any, words: str) -> None:
    with pytest.raises(CheckpointRejectedError, match="cannot be resumed") as caught:
        core_from_checkpoint(_tampered(change))
    assert words in str(caught.value)
    assert "'f'" in str(caught.value)


def test_a_checkpoint_without_its_plan_or_with_another_flows_plan_is_rejected() -> None:
    with pytest.raises(CheckpointRejectedError, match="it has no plan"):
        core_from_checkpoint(_checkpoint(plan=None))
    other = {**_checkpoint().plan, "id": "g"}  # type: ignore[dict-item]
    with pytest.raises(CheckpointRejectedError, match="plan of flow 'g'"):
        core_from_checkpoint(_checkpoint(plan=other))
    broken = {**_checkpoint().plan, "steps": "none"}  # type: ignore[dict-item]
    with pytest.raises(CheckpointRejectedError, match="its plan is not valid"):
        core_from_checkpoint(_checkpoint(plan=broken))
