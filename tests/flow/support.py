"""Shared helpers for flow tests: tools that record calls and wait on events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actorflow import ActorSystem, EnhancedFlow, FlowPlan, FlowState, FlowStep, create_flow_step
from actorflow.journal import JournalEvent, open_journal
from actorflow.messages import EffectRecorded
from tests.support import Log


def step(
    step_id: str, tool: str = "record", deps: list[str] | None = None, **params: Any
) -> FlowStep:
    """A tool step calling ``tool`` with ``{"label": step_id}``."""
    options = {k: params.pop(k) for k in ("timeout", "max_retries") if k in params}
    parameters = {"tool_name": tool, "arguments": {"label": step_id}, **params}
    return create_flow_step(step_id, "mcp_tool", parameters, deps or [], id=step_id, **options)


def plan_of(*steps: FlowStep, **kw: Any) -> FlowPlan:
    """A plan with these steps."""
    return FlowPlan(name="test plan", steps=list(steps), **kw)


class Recorder:
    """Tools that log ("start", label) / ("end", label) and can fail or block on purpose."""

    def __init__(self) -> None:
        self.log = Log()
        self.calls: dict[str, int] = {}
        self.fail_times: dict[str, int] = {}
        self.gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def record(self, label: str) -> str:
        with self._lock:
            self.calls[label] = self.calls.get(label, 0) + 1
            n = self.calls[label]
        self.log.add(("start", label, n))
        gate = self.gates.get(label)
        if gate is not None and n == 1:
            assert gate.wait(10), f"gate of {label} never opened"
        if self.fail_times.get(label, 0) >= n:
            self.log.add(("fail", label, n))
            raise ConnectionError(f"{label} failed on call {n}")
        self.log.add(("end", label, n))
        return f"{label}#{n}"

    def install(self, flow: EnhancedFlow) -> EnhancedFlow:
        flow.register_tool("record", self.record, replace=True)
        return flow


def new_flow(system: ActorSystem, recorder: Recorder | None = None, **config: Any) -> EnhancedFlow:
    """An EnhancedFlow attached to ``system`` with fast, deterministic defaults."""
    flow = EnhancedFlow(system=system)
    flow.config.retry_delay = 0.0
    flow.config.jitter = 0.0
    flow.config.random_seed = 1
    flow.config.checkpoint_interval = 0.0  # tests count timers: no deferred checkpoint ones
    for key, value in config.items():
        setattr(flow.config, key, value)
    if recorder is not None:
        recorder.install(flow)
    return flow


def wait_for(predicate: Callable[[], bool], log: Log, timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds, re-checking whenever ``log`` changes."""
    log.wait_until(lambda _items: predicate(), timeout)


class DictStates:
    """The read side of a state manager over a dict; subclasses define ``save_state``."""

    def __init__(self) -> None:
        self.states: dict[str, FlowState] = {}

    async def load_state(self, flow_id: str) -> FlowState | None:
        return self.states.get(flow_id)

    async def delete_state(self, flow_id: str) -> None:
        self.states.pop(flow_id, None)

    async def list_flows(self) -> list[str]:
        return list(self.states)


class CancellableTool:
    """An async tool that waits until cancelled: ``started`` and ``cancelled`` are set as
    that happens."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()

    async def __call__(self, label: str) -> str:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return label


def held_at_b(
    system: ActorSystem, recorder: Recorder
) -> tuple[EnhancedFlow, FlowPlan, threading.Event]:
    """A flow a -> b whose step b waits for the returned gate."""
    recorder.gates["b"] = gate = threading.Event()
    return new_flow(system, recorder), plan_of(step("a"), step("b", deps=["a"])), gate


def human_effects(path: Path) -> list[tuple[str, object]]:
    """The ``human`` effects (request name, answer) a journal holds, in order."""
    with open_journal(path) as journal:
        return [
            (r.message.name, r.message.value)
            for r in journal
            if isinstance(r, JournalEvent)
            and isinstance(r.message, EffectRecorded)
            and r.message.effect == "human"
        ]
