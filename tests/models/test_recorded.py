"""RecordedModelClient: answers from a list, a file, or the model calls of a journal (a
replay needs no endpoint); errors are served back as errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from actorflow import ActorSystem, JournalConfig
from actorflow.errors import ConfigurationError
from actorflow.flow.messages import AgentTask, AgentTaskDone
from actorflow.journal import open_journal
from actorflow.models import (
    ModelAgent,
    ModelResponse,
    ModelResponseError,
    ModelUnavailableError,
    OpenAIModelClient,
    RecordedModelClient,
)
from tests.models.conftest import KEY
from tests.models.fake_openai import FakeOpenAI, completion


@pytest.mark.asyncio
async def test_recordings_are_served_in_order_then_run_out() -> None:
    client = RecordedModelClient(
        ["one", {"content": "two", "usage": {"total_tokens": 3}}, ModelUnavailableError("down")]
    )

    assert (await client.complete("a")).content == "one"
    second = await client.complete("b")
    assert (second.content, second.usage.total_tokens) == ("two", 3)
    with pytest.raises(ModelUnavailableError, match="down"):
        await client.complete("c")
    with pytest.raises(ModelResponseError, match="no recorded response left for call 4"):
        await client.complete("d")


@pytest.mark.asyncio
async def test_recordings_come_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(
        json.dumps(
            [
                "hello",
                {"content": "", "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 1}}]},
            ]
        )
    )
    client = RecordedModelClient.from_file(path)

    assert (await client.complete("x")).content == "hello"
    assert (await client.complete("y")).tool_calls[0].arguments == {"a": 1}
    path.write_text("{}")
    with pytest.raises(ConfigurationError, match="must hold a JSON list"):
        RecordedModelClient.from_file(path)
    with pytest.raises(ConfigurationError, match="Recording 1 is a int"):
        RecordedModelClient([3])  # type: ignore[list-item]


def test_a_journaled_run_replays_without_the_endpoint(server: FakeOpenAI, tmp_path: Path) -> None:
    journal = tmp_path / "run.afj"
    server.reply(completion("first answer"))
    server.fail(400, "refused")
    task = AgentTask(flow_id="", step_id="", task="summarise", parameters={"text": "abc"})

    def run(client: object, path: Path | None) -> list[object]:
        config = None if path is None else JournalConfig(path=path)
        with ActorSystem(journal=config) as system:
            system.spawn(ModelAgent.recipe({"id": "m"}, client, stream=False, remember=0), "m")  # type: ignore[arg-type]
            return [system.ask("/agents/m", task, timeout=10) for _ in range(2)]

    live = OpenAIModelClient("fake-model", base_url=server.base_url, api_key=KEY)
    first = run(live, journal)
    with open_journal(journal) as reader:
        replayed = run(RecordedModelClient.from_journal(reader, model="fake-model"), None)

    assert first[0] == AgentTaskDone(result="first answer")
    assert isinstance(first[1], AgentTaskDone)
    assert first[1].retryable is False
    assert replayed == first
    assert len(server.requests) == 2  # the replay asked nothing of the server


def test_a_recorded_response_with_a_fingerprint_answers_its_own_request() -> None:
    client = RecordedModelClient([])
    a = client.request("question a")
    b = client.request("question b")
    recorded = RecordedModelClient(
        [
            {"fingerprint": b.fingerprint(), "response": {"content": "answer b"}},
            {"fingerprint": a.fingerprint(), "response": {"content": "answer a"}},
        ]
    )

    async def ask() -> list[ModelResponse]:
        return [await recorded.complete("question a"), await recorded.complete("question b")]

    assert [r.content for r in asyncio.run(ask())] == ["answer a", "answer b"]
