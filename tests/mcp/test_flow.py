"""Flows with an MCP client: mcp_tool steps, their stream events and journal effects."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorflow import (
    ActorSystem,
    EnhancedFlow,
    FakeClock,
    FlowPlan,
    FlowStatus,
    StepStatus,
    StreamCallbackData,
    StreamCallbackType,
    create_flow_step,
)
from actorflow.journal import JournalConfig, JournalEvent, open_journal
from actorflow.mcp import MCPClient, create_production_client
from actorflow.messages import EffectRecorded
from tests.mcp.conftest import FAST, ServerProcess
from tests.mcp.servers import ThreadServer
from tests.support import Collector

T = StreamCallbackType


def new_flow(system: ActorSystem, client: MCPClient) -> EnhancedFlow:
    flow = EnhancedFlow(client, system=system)
    flow.config.retry_delay = 0.0
    flow.config.jitter = 0.0
    flow.config.random_seed = 1
    return flow


def tool_plan(*steps: tuple[str, str, dict[str, Any]], **params: Any) -> FlowPlan:
    """A plan of mcp_tool steps ``(id, tool, arguments)``, each after the one before."""
    made = []
    before: list[str] = []
    for step_id, tool, arguments in steps:
        parameters = {"tool_name": tool, "arguments": arguments, **params}
        made.append(create_flow_step(step_id, "mcp_tool", parameters, before, id=step_id))
        before = [step_id]
    return FlowPlan(name="mcp", steps=made)


class Watch(Collector):
    """A collector that also tells when a tool reported progress."""

    def __init__(self) -> None:
        super().__init__()
        self.running = threading.Event()

    def __call__(self, data: StreamCallbackData) -> None:
        super().__call__(data)
        if data.type is T.TOOL_RUNNING:
            self.running.set()


def kinds(got: Collector, step_id: str) -> list[T]:
    return [i.type for i in got.items if i.step_id == step_id]


@pytest.fixture
def journaled(tmp_path: Path) -> Iterator[tuple[ActorSystem, Path]]:
    path = tmp_path / "run.afj"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        yield system, path


def mcp_effects(path: Path) -> list[EffectRecorded]:
    with open_journal(path) as journal:
        return [
            r.message
            for r in journal
            if isinstance(r, JournalEvent)
            and isinstance(r.message, EffectRecorded)
            and r.message.effect == "mcp"
        ]


@pytest.mark.asyncio
async def test_mcp_tool_steps_call_the_server_and_stream_tool_use_and_tool_result(
    system: ActorSystem, client: MCPClient, server: ThreadServer
) -> None:
    flow = new_flow(system, client)
    got = Collector()
    flow.add_stream_callback(got)
    plan = tool_plan(
        ("sum", "add", {"a": 20, "b": 22}),
        ("report", "process_data", {"data_source": "${str(results['sum'])}"}),
    )

    state = await flow.execute(plan)
    assert await flow.wait_streams_idle()

    assert state.status is FlowStatus.COMPLETED
    assert state.variables["final_result"] == {"source": "42", "format": "text", "records": 3}
    assert server.calls == [
        ("add", {"a": 20, "b": 22}),
        ("process_data", {"data_source": "42", "output_format": "text"}),
    ]
    assert kinds(got, "sum") == [T.TOOL_USE, T.TOOL_RESULT]
    use = next(i for i in got.items if i.type is T.TOOL_USE and i.step_id == "report")
    assert use.content == {"tool": "process_data", "arguments": {"data_source": "42"}}
    result = next(i for i in got.items if i.type is T.TOOL_RESULT and i.step_id == "sum")
    assert result.content == 42


@pytest.mark.asyncio
async def test_a_tool_error_fails_the_step_at_once_with_the_servers_text_in_an_error_event(
    system: ActorSystem, client: MCPClient, server: ThreadServer
) -> None:
    flow = new_flow(system, client)
    got = Collector()
    flow.add_stream_callback(got)

    state = await flow.execute(tool_plan(("bad", "fail", {"why": "no"}), max_retries=3))
    assert await flow.wait_streams_idle()

    assert state.status is FlowStatus.FAILED
    assert state.steps["bad"].attempts == 1  # never retried
    assert server.calls == [("fail", {"why": "no"})]
    error = next(i for i in got.items if i.type is T.ERROR and i.step_id == "bad")
    assert str(error.content).startswith("actorflow.mcp.errors.MCPToolError: Tool 'fail'")
    assert str(error.content).endswith("refused: no")


@pytest.mark.asyncio
async def test_arguments_that_do_not_fit_the_schema_fail_the_step_without_a_call(
    system: ActorSystem, client: MCPClient, server: ThreadServer
) -> None:
    flow = new_flow(system, client)

    state = await flow.execute(tool_plan(("bad", "add", {"a": 1}), max_retries=3))

    assert state.status is FlowStatus.FAILED
    assert state.steps["bad"].attempts == 1
    assert "'b' is a required property" in str(state.steps["bad"].error)
    assert server.calls == []


@pytest.mark.asyncio
async def test_progress_notifications_become_tool_running_and_tool_streaming_events(
    system: ActorSystem, client: MCPClient
) -> None:
    flow = new_flow(system, client)
    got = Collector()
    flow.add_stream_callback(got)

    state = await flow.execute(tool_plan(("count", "slow", {"steps": 3})))
    assert await flow.wait_streams_idle()

    assert state.status is FlowStatus.COMPLETED
    progress = [T.TOOL_RUNNING, T.TOOL_STREAMING] * 3
    assert kinds(got, "count") == [T.TOOL_USE, *progress, T.TOOL_RESULT]
    running = [i for i in got.items if i.type is T.TOOL_RUNNING]
    assert [(i.metadata["done"], i.metadata["total"]) for i in running] == [(1, 3), (2, 3), (3, 3)]
    assert {i.metadata["tool"] for i in running} == {"slow"}
    assert running[0].metadata["attempt"] == 1
    streamed = [(i.content, i.metadata["index"]) for i in got.items if i.type is T.TOOL_STREAMING]
    assert streamed == [("step 1 of 3", 0), ("step 2 of 3", 1), ("step 3 of 3", 2)]


@pytest.mark.asyncio
async def test_every_mcp_call_is_journaled_as_an_effect_with_its_request_and_response(
    journaled: tuple[ActorSystem, Path], server: ThreadServer
) -> None:
    system, path = journaled
    client = await create_production_client(server.base_url, backoff=FAST)
    async with client:
        flow = new_flow(system, client)
        plan = tool_plan(("sum", "add", {"a": 1, "b": 2}), ("bad", "fail", {"why": "no"}))
        state = await flow.execute(plan)
    system.shutdown()

    assert state.status is FlowStatus.FAILED
    effects = mcp_effects(path)
    assert [(e.actor, e.name) for e in effects] == [
        (f"/flows/{plan.id}", "add"),
        (f"/flows/{plan.id}", "fail"),
    ]
    assert effects[0].value == {
        "request": {"tool": "add", "arguments": {"a": 1, "b": 2}, "attempt": 1},
        "response": 3,
    }
    failed = effects[1].value
    assert isinstance(failed, dict)
    assert failed["request"] == {"tool": "fail", "arguments": {"why": "no"}, "attempt": 1}
    error = failed["error"]
    assert isinstance(error, dict)
    assert error["type"] == "actorflow.mcp.errors.MCPToolError"
    assert str(error["message"]).endswith("refused: no")


@pytest.mark.asyncio
async def test_a_step_in_flight_when_the_server_dies_is_retried_once_it_is_back(
    system: ActorSystem, server_process: ServerProcess, tmp_path: Path
) -> None:
    client = await create_production_client(server_process.base_url, backoff=FAST)
    async with client:
        flow = new_flow(system, client)
        got = Watch()
        flow.add_stream_callback(got)
        marker = str(tmp_path / "called-once")
        run = asyncio.ensure_future(flow.execute(tool_plan(("once", "once", {"marker": marker}))))
        assert await asyncio.to_thread(got.running.wait, 30)  # the call is in flight

        server_process.kill()
        server_process.start()
        state = await asyncio.wait_for(run, 60)
        assert await flow.wait_streams_idle()

    assert state.status is FlowStatus.COMPLETED
    assert state.steps["once"].status is StepStatus.COMPLETED
    assert state.steps["once"].attempts == 2
    assert state.variables["final_result"] == "answered"
    retry = next(i for i in got.items if i.metadata.get("event") == "retry_scheduled")
    assert "MCP server" in str(retry.content)
    assert client.statistics().connection_losses >= 1


@pytest.mark.asyncio
async def test_a_step_that_times_out_cancels_its_call_and_the_client_goes_on(
    fake_system: ActorSystem, clock: FakeClock, client: MCPClient
) -> None:
    flow = new_flow(fake_system, client)
    got = Watch()
    flow.add_stream_callback(got)
    plan = tool_plan(("count", "slow", {"steps": 1, "hang": True}), max_retries=0)
    plan.steps[0].timeout = 5.0
    run = asyncio.ensure_future(flow.execute(plan))
    assert await asyncio.to_thread(got.running.wait, 30)  # the call is in flight

    clock.advance(6.0)
    state = await asyncio.wait_for(run, 30)

    assert state.status is FlowStatus.FAILED
    assert state.steps["count"].status is StepStatus.TIMED_OUT
    assert await client.call_tool("add", {"a": 1, "b": 1}) == 2


@pytest.mark.asyncio
async def test_a_call_carries_its_attempts_idempotency_key_and_a_plain_one_none(
    system: ActorSystem, client: MCPClient
) -> None:
    flow = new_flow(system, client)
    plan = tool_plan(("key", "idempotency_key", {}))

    state = await flow.execute(plan)

    assert state.variables["final_result"] == f"{plan.id}/key/1"
    assert await client.call_tool("idempotency_key", {}) == ""
