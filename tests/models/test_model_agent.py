"""ModelAgent in the actor runtime: answers tasks with a model, runs its tool calls as
actorflow tools, streams TEXT / THINKING events, remembers, journals every call; the
API key shows up nowhere but at the server."""

from __future__ import annotations

import threading
from pathlib import Path

from loguru import logger
from pydantic import JsonValue

from actorflow import ActorSystem, JournalConfig, StreamCallbackData, StreamCallbackType
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.flow.state import InMemoryMemoryManager
from actorflow.flow.steps import ToolRegistry
from actorflow.journal import JournalEvent, open_journal
from actorflow.messages.system import EffectRecorded
from actorflow.models import MEMORY_KEY, ModelAgent, OpenAIModelClient, RecordedModelClient
from tests.models.conftest import KEY
from tests.models.fake_openai import FakeOpenAI, chunks


def task(name: str, **parameters: JsonValue) -> AgentTask:
    return AgentTask(flow_id="f1", step_id="s1", task=name, parameters=parameters)


class Events:
    def __init__(self) -> None:
        self.items: list[StreamCallbackData] = []
        self.cond = threading.Condition()

    def __call__(self, event: StreamCallbackData) -> None:
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait_for(
        self, count: int, kind: StreamCallbackType, timeout: float = 5.0
    ) -> list[StreamCallbackData]:
        def found() -> list[StreamCallbackData]:
            return [e for e in self.items if e.type is kind]

        with self.cond:
            assert self.cond.wait_for(lambda: len(found()) >= count, timeout), self.items
            return found()


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def test_a_model_agent_streams_calls_tools_and_journals_without_the_key(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    journal = tmp_path / "run.afj"
    logs: list[str] = []
    sink = logger.add(lambda m: logs.append(str(m)), level="TRACE", format="{message} {extra}")
    logger.enable("actorflow")
    server.stream(
        chunks(
            ["Let me ", "compute."],
            thinking=["6 times 7"],
            tool_call=("call_1", "multiply", '{"a": 6, "b": 7}'),
        )
    )
    server.stream(chunks(["The answer ", "is 42."]))
    tools = ToolRegistry()
    tools.register("multiply", multiply)
    events = Events()
    try:
        with ActorSystem(journal=JournalConfig(path=journal)) as system:
            from actorflow.streams import subscribe

            subscribe(system, events)
            client = OpenAIModelClient(
                "fake-model", base_url=server.base_url, api_key=KEY, clock=system.clock
            )
            info = {"id": "calc", "role": "specialist", "capabilities": ["math"]}
            system.spawn(
                ModelAgent.recipe(info, client, tools=tools, system_prompt="Use tools."), "calc"
            )
            reply = system.ask("/agents/calc", task("multiply", a=6, b=7, api_key=KEY), timeout=10)
            texts = events.wait_for(4, StreamCallbackType.TEXT)
            thinking = events.wait_for(1, StreamCallbackType.THINKING)
            used = events.wait_for(1, StreamCallbackType.TOOL_USE)
            results = events.wait_for(1, StreamCallbackType.TOOL_RESULT)
            assert system.journal is not None
            assert system.journal.flush(5)
    finally:
        logger.remove(sink)
        logger.disable("actorflow")

    assert reply == AgentTaskDone(result="The answer is 42.")
    assert [e.content for e in texts] == ["Let me ", "compute.", "The answer ", "is 42."]
    assert thinking[0].content == "6 times 7"
    assert {e.source for e in texts} == {"/agents/calc"}
    assert {e.flow_id for e in texts} == {"f1"}
    assert used[0].content == {"a": 6, "b": 7}
    assert results[0].content == 42
    # the model saw the tool's result in its second call
    second = server.requests[1].body["messages"]
    assert second[-1] == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "call_1",
        "name": "multiply",
    }
    # both calls journaled as the agent's model effects, with usage
    with open_journal(journal) as reader:
        records = list(reader)
    calls = [
        r.message
        for r in records
        if isinstance(r, JournalEvent)
        and isinstance(r.message, EffectRecorded)
        and r.message.effect == "model"
    ]
    assert [c.actor for c in calls] == ["/agents/calc", "/agents/calc"]
    assert [c.value["usage"]["total_tokens"] for c in calls] == [10, 10]  # type: ignore[call-overload,index]
    # the key reached the server, and nothing else
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in journal.read_bytes().decode("utf-8", "replace")
    assert not [line for line in logs if KEY in line]
    assert not [e for e in events.items if KEY in repr(e)]
    assert KEY not in str(server.requests[0].body)  # the task's api_key was not sent either


def test_a_model_agent_remembers_earlier_tasks(system: ActorSystem) -> None:
    memory = InMemoryMemoryManager()
    client = RecordedModelClient(["first answer", "second answer"])
    system.spawn(ModelAgent.recipe({"id": "m"}, client, memory=memory, remember=5), "m")

    assert system.ask("/agents/m", task("one"), timeout=5) == AgentTaskDone(result="first answer")
    assert system.ask("/agents/m", task("two"), timeout=5) == AgentTaskDone(result="second answer")

    second = client.requests[1].messages
    assert [m.role for m in second] == ["system", "user", "assistant", "user"]
    assert second[2].content == "first answer"


def test_a_model_failure_fails_the_task_with_its_class_and_retry_marker(server: FakeOpenAI) -> None:
    server.fail(401, "bad key")
    with ActorSystem() as system:
        client = OpenAIModelClient("fake-model", base_url=server.base_url, api_key=KEY)
        system.spawn(ModelAgent.recipe({"id": "m"}, client, stream=False), "m")
        reply = system.ask("/agents/m", task("x"), timeout=10)

    assert isinstance(reply, AgentTaskDone)
    assert reply.retryable is False
    assert "actorflow.models.errors.ModelRequestError" in reply.error_types
    assert reply.error is not None
    assert "answered HTTP 401" in reply.error


def test_memory_key_is_documented() -> None:
    assert MEMORY_KEY == "model_conversation"
