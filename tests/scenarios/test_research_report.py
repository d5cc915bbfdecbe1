"""scenarios/research_report.py runs end to end, as ``actorflow run`` runs it."""

from __future__ import annotations

from pathlib import Path

from actorflow.scenarios import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "research_report.py"


def test_the_report_is_revised_once_and_the_crashed_researcher_recovers() -> None:
    scenario = load_scenario(SCENARIO)
    system = scenario.create_system().start()
    try:
        result = dict(scenario.main(system) or {})
        restarts = system.actor_statistics("/agents/researcher").restarts
    finally:
        system.shutdown()

    assert result == {
        "status": "completed",
        "approved": True,
        "subtasks run": [
            "produce",
            "research_data_analysis",
            "research_web_search",
            "review_1",
            "review_2",
            "revise_1",
        ],
        "reviews": [(1, False), (2, True)],
        "researcher attempts": {"research_web_search": 1, "research_data_analysis": 2},
        "report sections": ["Introduction", "Findings", "Conclusion", "Sources"],
        "findings": 4,
    }
    assert restarts == 1
