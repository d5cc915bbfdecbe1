"""scenarios/model_agents.py runs end to end: on its recordings, and live against a local
fake OpenAI-compatible server with the same answers (and its key in no output)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actorflow import ActorSystem, JournalConfig
from actorflow.scenarios import Scenario, load_scenario
from actorflow.secrets import unregister_secret
from tests.models.fake_openai import chunks, completion, fake_openai

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "model_agents.py"
KEY = "sk-scenario-0123456789abcdef"

EXPECTED = {
    "status": "completed",
    "planner": "model",
    "plan": ["research", "write"],
    "research": "Three trends: mixture-of-experts, long context, small distilled models.",
    "brief": "Brief: language models get cheaper (mixture-of-experts), read more "
    "(long context) and run anywhere (small distilled models).",
    "tools used": ["search_papers"],
    "tool results": [
        [
            "Mixture-of-experts models cut inference cost per token",
            "Long-context models read whole code bases",
            "Small distilled models run on laptops",
        ]
    ],
    "thinking": ["I should look the papers up first."],
    "text events by agent": {"/agents/researcher": 1, "/agents/writer": 1},
    "model calls by actor": {"/agents/researcher": 2, "/agents/writer": 1, "/outside/planner": 1},
}


def run(scenario: Scenario, journal: Path) -> dict[str, object]:
    system = ActorSystem(journal=JournalConfig(path=journal)).start()
    try:
        return dict(scenario.main(system) or {})
    finally:
        system.shutdown()


@pytest.fixture
def scenario() -> Iterator[Scenario]:
    loaded = load_scenario(SCENARIO)
    loaded.configure([])
    yield loaded
    loaded.configure([])


def test_a_model_plans_and_two_model_agents_do_the_work(scenario: Scenario, tmp_path: Path) -> None:
    result = run(scenario, tmp_path / "run.afj")

    assert result == {**EXPECTED, "tokens": 530 + 170 + 248 + 150}


def test_the_same_run_live_against_a_local_endpoint_keeps_its_key_secret(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert scenario.configure_hook is not None
    recordings: list[dict[str, Any]] = scenario.configure_hook.__globals__["RECORDINGS"]
    logs: list[str] = []
    sink = logger.add(lambda m: logs.append(str(m)), level="TRACE", format="{message} {extra}")
    logger.enable("actorflow")
    journal = tmp_path / "live.afj"
    try:
        with fake_openai() as server:
            _script(server, recordings)
            monkeypatch.setenv("ACTORFLOW_MODEL", "fake-model")
            monkeypatch.setenv("ACTORFLOW_MODEL_BASE_URL", server.base_url)
            monkeypatch.setenv("ACTORFLOW_MODEL_API_KEY", KEY)
            scenario.configure(["--live"])
            result = run(scenario, journal)
            sent = [r.headers.get("authorization") for r in server.requests]
    finally:
        logger.remove(sink)
        logger.disable("actorflow")
        unregister_secret(KEY)

    assert {k: v for k, v in result.items() if k != "tokens"} == EXPECTED
    assert sent == [f"Bearer {KEY}"] * 4
    assert KEY.encode() not in journal.read_bytes()
    assert not [line for line in logs if KEY in line]


def _script(server: Any, recordings: list[dict[str, Any]]) -> None:
    """The recordings as the server's answers: the planner's call is a plain answer, the
    agents' calls stream (one text piece each, as the recordings serve them)."""
    planner, *agents = recordings
    server.reply(completion(planner["content"]))
    for answer in agents:
        call = None
        for c in answer.get("tool_calls", []):
            call = (c["id"], c["name"], json.dumps(c["arguments"]))
        thinking = [answer["thinking"]] if answer.get("thinking") else []
        texts = [answer["content"]] if answer.get("content") else []
        server.stream(chunks(texts, thinking=thinking, tool_call=call))
