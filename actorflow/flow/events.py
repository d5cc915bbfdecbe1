"""What a flow's decisions look like as stream events (the shell's side of ``Emit``).

The decider reports what happened as :class:`~actorflow.flow.commands.Emit` commands;
the flow actor turns each into one :class:`~actorflow.streams.StreamCallbackData` and
tells the batch of one decision to the stream hub. Every event names its flow event in
``metadata["event"]``:

================  ===============================  ===========================================
flow event        stream type                      content
================  ===============================  ===========================================
flow_started      WORKFLOW                         "flow 'name' started: N steps"
flow_resumed      WORKFLOW                         "flow 'name' resumed: D of N steps done"
plan_changed      WORKFLOW                         "plan changed to version V"
plan_refused      WORKFLOW                         why the new plan was refused
step_started      TOOL_USE (tool steps)            {"tool": name, "arguments": {...}}
step_started      WORKFLOW (other steps)           "step 'id' started (attempt N)"
retry_scheduled   WORKFLOW                         "step 'id' attempt N failed: E; retrying in D s"
step_skipped      WORKFLOW                         "step 'id' skipped: why"
step_completed    TOOL_RESULT (tool steps)         the result
step_completed    WORKFLOW (other steps)           "step 'id' completed" (result in metadata)
step_failed       ERROR                            the error (``degraded`` true: the flow goes on)
flow_completed    FINISH (last event)              "flow 'name' completed in T s"
flow_failed       ERROR (last event)               the error
flow_cancelled    ERROR (last event)               why
================  ===============================  ===========================================

The last event's metadata holds the flow's final state as JSON (``"state"``, without
the plan); ``flow_started`` and ``plan_changed`` hold the plan's name and version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from pydantic import JsonValue

from actorflow._trusted import trusted
from actorflow.flow.commands import Command, Emit, StartAttempt
from actorflow.flow.core import FlowCore
from actorflow.flow.models import StepStatus
from actorflow.messages._frozen import freeze
from actorflow.streams import StreamCallbackData, StreamCallbackType

__all__ = ["TOOL_STEP_TYPES", "stream_items"]

TOOL_STEP_TYPES: Final = frozenset({"mcp_tool", "parallel_task"})
"""Step types whose attempts call a tool (when they name one)."""

_T = StreamCallbackType
_LAST = frozenset({"flow_completed", "flow_failed", "flow_cancelled"})


def stream_items(
    emits: Iterable[Emit],
    core: FlowCore,
    at: float,
    final_state: JsonValue = None,
    commands: Sequence[Command] = (),
) -> list[StreamCallbackData]:
    """Return the stream events of one decision's ``Emit`` commands, in order.

    ``final_state`` is the flow's final state as JSON (needed only when the flow ended);
    ``commands`` are the decision's commands (for the arguments attempts start with).
    """
    items = []
    for command in emits:
        kind, content, meta = _describe(command, core, commands, final_state)
        meta["event"] = command.event
        items.append(
            trusted(  # frozen here: every subscriber gets the same event
                StreamCallbackData,
                type=kind,
                content=freeze(content),
                metadata=freeze(meta),
                flow_id=core.flow_id,
                step_id=command.step_id,
                timestamp=at,
                source="",
                seq=0,
            )
        )
    return items


def _describe(
    emit: Emit, core: FlowCore, commands: Sequence[Command], final_state: JsonValue
) -> tuple[StreamCallbackType, JsonValue, dict[str, JsonValue]]:
    event, sid, detail = emit.event, emit.step_id, dict(emit.detail)
    plan = core.spec.plan
    if event in _LAST:
        state = final_state if isinstance(final_state, dict) else {}
        seconds = state.get("execution_time")
        meta: dict[str, JsonValue] = {**detail, "status": event[5:], "state": final_state,
                                      "execution_time": seconds}  # fmt: skip
        if event == "flow_completed":
            took = f" in {seconds:.3f} s" if isinstance(seconds, float) else ""
            return _T.FINISH, f"flow {plan.name!r} completed{took}", meta
        return _T.ERROR, str(detail.get("error") or event.replace("_", " ")), meta
    if sid is None:
        return _T.WORKFLOW, _flow_text(event, detail, core), {
            **detail, "plan_name": plan.name, "plan_version": plan.version}  # fmt: skip
    return _step_event(event, sid, detail, core, commands)


def _flow_text(event: str, detail: Mapping[str, Any], core: FlowCore) -> str:
    name, plan = core.spec.plan.name, core.spec.plan
    if event == "flow_started":
        return f"flow {name!r} started: {_steps(len(plan.steps))}"
    if event == "flow_resumed":
        return f"flow {name!r} resumed: {detail.get('done', 0)} of {len(plan.steps)} steps done"
    if event == "plan_changed":
        return f"plan changed to version {plan.version}"
    if event == "plan_refused":
        return f"new plan refused: {detail.get('reason', '')}"
    return event.replace("_", " ")


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


def _step_event(  # noqa: PLR0911 - one return per event
    event: str,
    sid: str,
    detail: dict[str, JsonValue],
    core: FlowCore,
    commands: Sequence[Command],
) -> tuple[StreamCallbackType, JsonValue, dict[str, JsonValue]]:
    spec = core.spec.steps[sid]
    rec = core.steps[sid]
    detail["step_name"] = spec.name
    detail["step_type"] = spec.type
    tool = spec.parameters.get("tool_name") if spec.type in TOOL_STEP_TYPES else None
    if event == "step_started":
        if isinstance(tool, str):
            start = next((c for c in commands if isinstance(c, StartAttempt) and c.step_id == sid),
                         None)  # fmt: skip
            params = start.parameters if start is not None else spec.parameters
            return _T.TOOL_USE, {"tool": tool, "arguments": params.get("arguments", {})}, detail
        return _T.WORKFLOW, f"step {sid!r} started (attempt {detail.get('attempt')})", detail
    if event == "step_completed":
        detail["attempt"] = rec.attempts
        if rec.started_at is not None and rec.completed_at is not None:
            detail["duration"] = rec.completed_at - rec.started_at
        if isinstance(tool, str):
            detail["tool"] = tool
            return _T.TOOL_RESULT, rec.result, detail
        detail["result"] = rec.result
        return _T.WORKFLOW, f"step {sid!r} completed", detail
    if event == "retry_scheduled":
        nxt = detail.get("attempt")
        failed = nxt - 1 if isinstance(nxt, int) else nxt
        delay = detail.get("delay")
        wait = f"{delay:.3g} s" if isinstance(delay, float | int) else "a while"
        detail["next_attempt"], detail["attempt"] = nxt, failed
        text = f"step {sid!r} attempt {failed} failed: {detail.get('error')}; retrying in {wait}"
        return _T.WORKFLOW, text, detail
    if event == "step_failed":
        detail["attempts"] = rec.attempts
        detail["critical"] = core.spec.critical[sid]
        detail["degraded"] = (
            rec.status is StepStatus.FAILED_NON_CRITICAL or not core.spec.critical[sid]
        )
        return _T.ERROR, str(detail.get("error", "")), detail
    if event == "step_skipped":
        return _T.WORKFLOW, f"step {sid!r} skipped: {detail.get('reason', '')}", detail
    return _T.WORKFLOW, f"step {sid!r}: {event.replace('_', ' ')}", detail
