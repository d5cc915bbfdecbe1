"""A model called by a tool inside a flow step: its tokens are the step's TEXT events and
the call is journaled under the flow's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from actorflow import ActorSystem, EnhancedFlow, FlowPlan, JournalConfig, create_flow_step
from actorflow.journal import JournalEvent, open_journal
from actorflow.messages.system import EffectRecorded
from actorflow.models import ModelResponse, RecordedModelClient
from actorflow.streams import StreamCallbackType
from tests.support import Collector


@pytest.mark.asyncio
async def test_a_tool_streams_a_model_answer_as_the_steps_events(tmp_path: Path) -> None:
    journal = tmp_path / "run.afj"
    events = Collector()
    with ActorSystem(journal=JournalConfig(path=journal)) as system:
        answer = ModelResponse(content="A short poem.", thinking="rhymes?")
        client = RecordedModelClient([answer], system=system)

        async def poem(topic: str) -> str:
            response = await client.complete(f"A poem about {topic}", stream=True)
            return response.content

        flow = EnhancedFlow(system=system)
        flow.register_tool("poem", poem)
        flow.add_stream_callback(events)
        step = create_flow_step(
            "write", "mcp_tool", {"tool_name": "poem", "arguments": {"topic": "actors"}}, id="write"
        )
        state = await flow.execute(FlowPlan(name="poem", steps=[step]))
        assert await flow.wait_streams_idle()
        assert system.journal is not None
        assert system.journal.flush(5)

    assert state.steps["write"].result == "A short poem."
    mine = [
        e for e in events.items if e.type in (StreamCallbackType.TEXT, StreamCallbackType.THINKING)
    ]
    assert [(e.type.value, e.content, e.step_id) for e in mine] == [
        ("thinking", "rhymes?", "write"),
        ("text", "A short poem.", "write"),
    ]
    with open_journal(journal) as reader:
        calls = [
            r.message
            for r in reader
            if isinstance(r, JournalEvent)
            and isinstance(r.message, EffectRecorded)
            and r.message.effect == "model"
        ]
    assert [c.actor for c in calls] == [f"/flows/{state.flow_id}"]
