"""The seed's flow event listeners: six hooks, fed by the flow's stream events.

A listener added to a flow facade (``flow.add_event_listener``) is one more stream
subscriber: an adapter turns the flow events it receives into hook calls, in the
order they happened, on its own consumer (a slow listener holds up nobody else).
Hooks may be coroutines or plain methods.
"""

from __future__ import annotations

import inspect
from typing import Any

from actorflow.errors import FlowFailedError, StepFailedError
from actorflow.flow.models import FlowPlan, FlowState, FlowStep, PlanSpec, StepStatus
from actorflow.streams import IStreamCallback, StreamCallbackData, StreamCallbackType

__all__ = ["HOOKS", "FlowListenerAdapter", "IFlowEventListener"]

HOOKS = (
    "on_flow_started",
    "on_flow_completed",
    "on_flow_failed",
    "on_step_started",
    "on_step_completed",
    "on_step_failed",
)
"""The six hooks of a flow event listener."""


class IFlowEventListener:
    """Hears a flow's course (the seed's interface); override the hooks you need.

    ``on_step_started`` is called once per attempt; ``on_step_failed`` when a step
    failed for good (after its retries), also when the flow goes on without it.
    ``on_flow_failed`` is called for a failed and for a cancelled flow.
    """

    async def on_flow_started(self, flow_id: str, plan: FlowPlan) -> None:
        """The flow started running ``plan``."""

    async def on_flow_completed(self, flow_id: str, state: FlowState) -> None:
        """The flow completed; ``state`` is its final state."""

    async def on_flow_failed(self, flow_id: str, state: FlowState, error: Exception) -> None:
        """The flow failed or was cancelled; ``error`` says why."""

    async def on_step_started(self, flow_id: str, step: FlowStep) -> None:
        """An attempt of ``step`` started."""

    async def on_step_completed(self, flow_id: str, step: FlowStep) -> None:
        """``step`` completed (its ``result`` is set)."""

    async def on_step_failed(self, flow_id: str, step: FlowStep, error: Exception) -> None:
        """``step`` failed after its retries."""


class FlowListenerAdapter(IStreamCallback):
    """A stream callback that calls a listener's hooks (one per listener)."""

    def __init__(self, listener: IFlowEventListener) -> None:
        self.listener = listener
        self.plans: dict[str, tuple[FlowPlan, PlanSpec]] = {}
        """The plans of flows about to run or running, by flow id (the facade adds each
        before the flow starts; the flow's last event removes it)."""

    def expect(self, flow_id: str, plan: FlowPlan, spec: PlanSpec) -> None:
        """A flow runs ``plan`` under ``flow_id`` (its hooks get this plan)."""
        self.plans[flow_id] = (plan, spec)

    async def on_stream_event(self, data: StreamCallbackData) -> None:
        """Call the hook ``data`` stands for, if any."""
        call = self._call(data)
        if call is not None:
            name, args = call
            hook = getattr(self.listener, name, None)
            if hook is None:  # a listener that is not an IFlowEventListener may lack some
                return
            result = hook(*args)
            if inspect.isawaitable(result):
                await result

    def _call(self, data: StreamCallbackData) -> tuple[str, tuple[Any, ...]] | None:  # noqa: PLR0911 - one return per hook
        event, flow_id = data.event, data.flow_id
        if flow_id is None or not event:
            return None
        known = self.plans.get(flow_id)
        if event == "flow_started":
            return None if known is None else ("on_flow_started", (flow_id, known[0]))
        if data.is_last:
            self.plans.pop(flow_id, None)
            state = _state(data, None if known is None else known[1])
            if event == "flow_completed":
                return "on_flow_completed", (flow_id, state)
            failure = FlowFailedError(f"Flow {flow_id!r} {event[5:]}: {data.content}")
            return "on_flow_failed", (flow_id, state, failure)
        if data.step_id is None:
            return None
        if event == "step_started":
            return "on_step_started", (flow_id, _step(data, known))
        if event == "step_completed":
            return "on_step_completed", (flow_id, _step(data, known))
        if event == "step_failed":
            error = StepFailedError(f"Step {data.step_id!r} failed: {data.content}")
            return "on_step_failed", (flow_id, _step(data, known), error)
        return None


def _state(data: StreamCallbackData, spec: PlanSpec | None) -> FlowState:
    state = data.metadata.get("state")
    fields: dict[str, Any] = dict(state) if isinstance(state, dict) else {"flow_id": data.flow_id}
    return FlowState.model_validate({**fields, "plan": spec})


_STATUS = {"step_started": StepStatus.RUNNING, "step_completed": StepStatus.COMPLETED}


def _step(data: StreamCallbackData, known: tuple[FlowPlan, PlanSpec] | None) -> FlowStep:
    sid = data.step_id
    assert sid is not None
    meta = data.metadata
    planned = None if known is None else next((s for s in known[0].steps if s.id == sid), None)
    if planned is not None:
        step = planned.model_copy(deep=True)
    else:
        name, kind = str(meta.get("step_name", sid)), str(meta.get("step_type", "custom"))
        step = FlowStep(id=sid, name=name, type=kind)
    attempt = meta.get("attempt")
    step.retry_count = max(0, attempt - 1) if isinstance(attempt, int) else 0
    if data.event == "step_failed":
        step.status = StepStatus.FAILED if meta.get("critical") else StepStatus.FAILED_NON_CRITICAL
        step.error = str(data.content)
    else:
        step.status = _STATUS[data.event]
    if data.event == "step_completed":
        tool = data.type is StreamCallbackType.TOOL_RESULT
        step.result = data.content if tool else meta.get("result")
    return step
