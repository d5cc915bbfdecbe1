"""The hub scenario runs end to end: the seed's exchange works, and all of it is journaled."""

from __future__ import annotations

from pathlib import Path

from actorflow.agents.hub import HUB_PATH
from actorflow.journal import JournalConfig, open_journal
from actorflow.messages.envelope import Envelope
from actorflow.scenarios import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "hub_request_response.py"
REQUEST = {"action": "analyze_data", "data": {"dataset": "sales_2024.csv"}, "priority": "high"}


def test_the_hub_scenario_answers_requests_times_out_and_keeps_order(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    path = tmp_path / "journal"
    system = scenario.create_system()
    system.use_journal(JournalConfig(path=path))
    system.start()
    try:
        result = dict(scenario.main(system) or {})
    finally:
        system.shutdown()
    with open_journal(path) as journal:
        envelopes = [r for r in journal if isinstance(r, Envelope)]

    assert result == {
        "seed: agent_2 received": [REQUEST],
        "seed: response from": "agent_2",
        "seed: response": {"status": "completed", "result": "Analysis complete"},
        "live agent: response": {
            "status": "completed",
            "result": "Analysis of sales_2024.csv complete",
        },
        "live agent: inbox after": 0,
        "broadcast: receivers": ["agent_2", "analyst", "reviewer"],
        "unanswered: error": "Agent 'agent_3' gave no response to message 'msg_003' in 0.3 s",
        "unanswered: late response": "Agent message 'msg_003' was timed out already, so this "
        "response is refused",
        "order: received": 200,
        "order: each sender in order": True,
        "dead letters": {},
    }
    to_hub = [e.message for e in envelopes if e.recipient == HUB_PATH]
    sent = [m for m in to_hub if m.kind_tag == "agent.message"]
    assert len(sent) == 4 + 200  # three requests and a broadcast, then the notes
    answered = [
        e.message
        for e in envelopes
        if e.sender == HUB_PATH and e.message.kind_tag == "agent.response"
    ]
    assert [getattr(m, "message_id", None) for m in answered] == ["msg_001", "msg_002"]
