"""BaseAgent: tasks as messages, answered once each; concurrency; failures; crashes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from actorflow import ActorSystem, recipe
from actorflow.agents.base import BaseAgent
from actorflow.agents.communication import AgentMessage, AgentResponse, CommunicationType
from actorflow.agents.context import AgentContext
from actorflow.agents.models import AgentInfo
from actorflow.errors import (
    AgentError,
    AgentResponseTimeoutError,
    AgentTaskFailedError,
    DeliveryFailedError,
    NonRetryableStepError,
    UnknownAgentError,
)
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.flow.state import InMemoryMemoryManager
from actorflow.messages.system import ActorRestarted


def task(name: str, **parameters: Any) -> AgentTask:
    return AgentTask(flow_id="", step_id="", task=name, parameters=parameters)


class Echo(BaseAgent):
    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        if task.task == "fail":
            raise NonRetryableStepError("bad arguments")
        if task.task == "crash":
            raise KeyError("oops")
        if task.task == "remember":
            count = await ctx.memory.retrieve("count", 0) + 1
            await ctx.memory.store("count", count)
            return count
        if task.task == "ask":
            return await ctx.request(str(task.parameters["to"]), "echo", {"x": 1}, timeout=5)
        if task.task == "self":
            return await ctx.request(ctx.info.id, "echo")
        return {"agent": ctx.info.id, "task": task.task, "parameters": dict(task.parameters)}


class Blocking(BaseAgent):
    """A plain (sync) handler: it runs in a worker thread."""

    def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:  # type: ignore[override]
        return threading.current_thread().name != "MainThread"


class Gate(BaseAgent):
    """Holds every task until the test opens the gate; counts how many ran at once and
    sets ``started`` when ``expect`` tasks have started."""

    def __init__(
        self, info: AgentInfo, gate: threading.Event, seen: list[int], started: threading.Event
    ) -> None:
        super().__init__(info)
        self.gate, self.seen, self.started, self.now = gate, seen, started, 0

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        self.now += 1
        self.seen.append(self.now)
        if len(self.seen) >= int(task.parameters.get("expect", 1)):  # type: ignore[arg-type]
            self.started.set()
        await asyncio.to_thread(self.gate.wait, 10)
        self.now -= 1
        return task.task


def spawn(system: ActorSystem, behaviour: Any, name: str) -> None:
    system.spawn(behaviour, name, dispatcher="loop")


def test_a_task_is_answered_with_its_result(system: ActorSystem) -> None:
    spawn(system, recipe(Echo, AgentInfo(id="echo")), "echo")

    reply = system.ask("/agents/echo", task("hello", x=1), timeout=5)

    assert reply == AgentTaskDone(result={"agent": "echo", "task": "hello", "parameters": {"x": 1}})


def test_an_agent_built_without_info_is_named_after_its_path(system: ActorSystem) -> None:
    spawn(system, Echo, "anon")

    reply = system.ask("/agents/anon", task("hi"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.result["agent"] == "anon"


def test_a_plain_handler_runs_in_a_worker_thread(system: ActorSystem) -> None:
    spawn(system, recipe(Blocking, AgentInfo(id="b")), "b")

    assert system.ask("/agents/b", task("x"), timeout=5) == AgentTaskDone(result=True)


def test_a_typed_failure_keeps_its_class_and_does_not_restart_the_agent(
    system: ActorSystem,
) -> None:
    restarts: list[str] = []
    system.subscribe(lambda e: restarts.append(e.path) if isinstance(e, ActorRestarted) else None)
    spawn(system, recipe(Echo, AgentInfo(id="e")), "e")

    reply = system.ask("/agents/e", task("fail"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.error == "bad arguments"
    assert reply.error_types[0] == "actorflow.errors.NonRetryableStepError"
    assert system.ask("/agents/e", task("after"), timeout=5).result["task"] == "after"  # type: ignore[attr-defined]
    assert restarts == []


def test_a_crash_fails_the_task_restarts_the_agent_and_keeps_its_memory(
    system: ActorSystem,
) -> None:
    restarted = threading.Event()
    system.subscribe(lambda e: restarted.set() if isinstance(e, ActorRestarted) else None)
    memory = InMemoryMemoryManager()
    spawn(system, recipe(Echo, AgentInfo(id="m"), memory=memory), "m")
    assert system.ask("/agents/m", task("remember"), timeout=5) == AgentTaskDone(result=1)

    reply = system.ask("/agents/m", task("crash"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.error_types[:2] == ("actorflow.errors.AgentCrashedError", "builtins.KeyError")
    assert restarted.wait(5)
    assert system.ask("/agents/m", task("remember"), timeout=5) == AgentTaskDone(result=2)


def test_max_concurrency_bounds_tasks_at_once_and_the_rest_wait(system: ActorSystem) -> None:
    gate, seen, started = threading.Event(), [], threading.Event()
    spawn(system, recipe(Gate, AgentInfo(id="g", max_concurrency=2), gate, seen, started), "g")

    async def main() -> list[Any]:
        asks = [
            system.ask_async("/agents/g", task(f"t{i}", expect=2), timeout=10) for i in range(5)
        ]
        pending = asyncio.gather(*asks)
        assert await asyncio.to_thread(started.wait, 10)
        gate.set()
        return list(await pending)

    replies = asyncio.run(main())

    assert [r.result for r in replies] == [f"t{i}" for i in range(5)]
    assert max(seen) == 2


def test_stopping_an_agent_fails_its_running_and_waiting_tasks(system: ActorSystem) -> None:
    gate, seen, started = threading.Event(), [], threading.Event()
    spawn(system, recipe(Gate, AgentInfo(id="s"), gate, seen, started), "s")

    async def main() -> list[Any]:
        asks = [system.ask_async("/agents/s", task(f"t{i}"), timeout=10) for i in range(3)]
        pending = asyncio.gather(*asks, return_exceptions=True)
        assert await asyncio.to_thread(started.wait, 10)
        await asyncio.to_thread(system.stop, "/agents/s")
        return list(await pending)

    try:
        replies = asyncio.run(main())
    finally:
        gate.set()

    # The running task and the one waiting in the agent are answered as failed (worth a
    # retry); a task still in the mailbox when the stop came is a dead letter, which the
    # asker is told of as DeliveryFailedError. None is left unanswered.
    assert len(replies) == 3
    for reply in replies:
        if isinstance(reply, AgentTaskDone):
            assert reply.error
            assert reply.retryable is True
        else:
            assert isinstance(reply, DeliveryFailedError), reply
    assert isinstance(replies[0], AgentTaskDone)


def test_an_agent_asks_another_agent(system: ActorSystem) -> None:
    spawn(system, recipe(Echo, AgentInfo(id="a")), "a")
    spawn(system, recipe(Echo, AgentInfo(id="b")), "b")

    reply = system.ask("/agents/a", task("ask", to="b"), timeout=5)

    assert reply == AgentTaskDone(result={"agent": "b", "task": "echo", "parameters": {"x": 1}})


def test_asking_an_unknown_agent_fails_the_task_with_unknown_agent(system: ActorSystem) -> None:
    spawn(system, recipe(Echo, AgentInfo(id="a")), "a")

    reply = system.ask("/agents/a", task("ask", to="nobody"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.error_types[0] == f"actorflow.errors.{UnknownAgentError.__name__}"
    assert "register the agent" in reply.error


def test_an_agent_asking_itself_with_one_slot_is_refused(system: ActorSystem) -> None:
    spawn(system, recipe(Echo, AgentInfo(id="a")), "a")

    reply = system.ask("/agents/a", task("self"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.error_types[0] == f"actorflow.errors.{AgentError.__name__}"
    assert "wait for itself" in reply.error


def test_a_hub_message_runs_as_a_task_and_is_answered_with_a_response(system: ActorSystem) -> None:
    spawn(system, recipe(Echo, AgentInfo(id="r")), "r")
    message = AgentMessage(
        id="m1",
        sender_id="x",
        receiver_id="r",
        message_type=CommunicationType.REQUEST,
        content={"action": "analyze", "data": 1},
        requires_response=True,
    )

    reply = system.ask("/agents/r", message, timeout=5)

    assert isinstance(reply, AgentResponse)
    assert reply.message_id == "m1"
    assert reply.sender_id == "r"
    assert reply.content == {
        "agent": "r",
        "task": "analyze",
        "parameters": {"action": "analyze", "data": 1, "sender_id": "x"},
    }


def test_an_agent_without_handle_task_refuses_tasks_clearly(system: ActorSystem) -> None:
    spawn(system, BaseAgent, "plain")

    reply = system.ask("/agents/plain", task("x"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert "does not override handle_task" in reply.error
    assert reply.retryable is False


def test_a_result_that_is_not_json_fails_the_task_without_retry(system: ActorSystem) -> None:
    class Sets(BaseAgent):
        async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
            return {1, 2}

    spawn(system, Sets, "sets")

    reply = system.ask("/agents/sets", task("x"), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.error
    assert reply.retryable is False


def test_timeout_of_a_request_to_another_agent_is_typed() -> None:
    error = AgentResponseTimeoutError("x")
    assert isinstance(error, AgentError)
    assert not isinstance(error, AgentTaskFailedError)


@pytest.mark.parametrize("bad", [{"id": ""}, {"id": "a/b"}, {"id": "orchestrator"}])
def test_bad_agent_ids_are_refused(bad: dict[str, str]) -> None:
    from actorflow.agents.models import agent_info
    from actorflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="invalid"):
        agent_info(bad)


class Worker(BaseAgent):
    """Uses the hub and the resources from its task."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        if task.task == "gpu":
            async with await ctx.acquire("gpu", priority=2, timeout=5) as lease:
                held = lease.amount
            return {"held": held, "holder": lease.holder}
        if task.task == "hold":
            await ctx.acquire("gpu")
            raise RuntimeError("crash while holding the gpu")
        if task.task == "ask-peer":
            response = await ctx.send_message(
                "peer", {"action": "echo"}, requires_response=True, response_timeout=5
            )
            assert response is not None
            return response.content
        return {"agent": ctx.info.id, "task": task.task}


def test_an_agent_holds_a_resource_as_itself_and_releases_it(system: ActorSystem) -> None:
    from actorflow.agents.resources import ensure_resource_allocator, resource_statistics

    ensure_resource_allocator(system, {"gpu": 1})
    spawn(system, recipe(Worker, AgentInfo(id="w")), "w")

    reply = system.ask("/agents/w", task("gpu"), timeout=5)

    assert reply == AgentTaskDone(result={"held": 1, "holder": "/agents/w"})
    stats = resource_statistics(system)
    assert [(r.name, r.in_use) for r in stats.resources] == [("gpu", 0)]


def test_a_crashed_agents_lease_is_released_by_its_restart(system: ActorSystem) -> None:
    from actorflow.agents.resources import ensure_resource_allocator

    ensure_resource_allocator(system, {"gpu": 1})
    spawn(system, recipe(Worker, AgentInfo(id="w")), "w")

    crashed = system.ask("/agents/w", task("hold"), timeout=5)
    again = system.ask("/agents/w", task("gpu"), timeout=5)  # waits if the lease leaked

    assert isinstance(crashed, AgentTaskDone)
    assert crashed.error_types[0] == "actorflow.errors.AgentCrashedError"
    assert again == AgentTaskDone(result={"held": 1, "holder": "/agents/w"})


def test_an_agent_messages_a_peer_through_the_hub_and_gets_its_response(
    system: ActorSystem,
) -> None:
    spawn(system, recipe(Worker, AgentInfo(id="w")), "w")
    spawn(system, recipe(Worker, AgentInfo(id="peer")), "peer")

    reply = system.ask("/agents/w", task("ask-peer"), timeout=10)

    assert reply == AgentTaskDone(result={"agent": "peer", "task": "echo"})


class FlowOwner(BaseAgent):
    """The seed's FlowEnabledAgent pattern as an actor: each task runs a flow of its own,
    in the agent's actor system."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        from actorflow import FlowPlan, create_enhanced_flow, create_flow_step

        flow = create_enhanced_flow(system=ctx.system)
        flow.register_tool("double", lambda x: 2 * x)
        arguments = {"tool_name": "double", "arguments": {"x": task.parameters["x"]}}
        plan = FlowPlan(name="double", steps=[create_flow_step("d", "mcp_tool", arguments)])
        state = await flow.execute(plan)
        return {"status": state.status.value, "results": [s.result for s in state.steps.values()]}


def test_an_agent_that_owns_a_flow_runs_it_in_its_system(system: ActorSystem) -> None:
    spawn(system, recipe(FlowOwner, AgentInfo(id="f")), "f")

    reply = system.ask("/agents/f", task("run", x=21), timeout=20)

    assert reply == AgentTaskDone(result={"status": "completed", "results": [42]})


class Asker(BaseAgent):
    """Asks a human before it answers."""

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        ok = await ctx.human.request_confirmation(f"Publish {task.task}?", timeout=30)
        return {"published": ok}


def test_an_agent_asks_a_human_through_the_gateway(system: ActorSystem) -> None:
    from actorflow.human.outside import spawn_human_gateway
    from actorflow.testing import ScriptedHuman

    spawn_human_gateway(system, ScriptedHuman({"Publish report?": True}))
    spawn(system, recipe(Asker, AgentInfo(id="a")), "a")

    reply = system.ask("/agents/a", task("report"), timeout=10)

    assert reply == AgentTaskDone(result={"published": True})
