"""scenarios/mcp_tools.py runs end to end, as ``actorflow run`` runs it."""

from __future__ import annotations

from pathlib import Path

from actorflow.scenarios import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "mcp_tools.py"


def test_the_seeds_mcp_example_and_a_pipeline_run_against_the_local_server() -> None:
    scenario = load_scenario(SCENARIO)
    system = scenario.create_system().start()
    try:
        result = dict(scenario.main(system) or {})
    finally:
        system.shutdown()

    assert result == {
        "planned": [("process_data", {"data_source": "database", "output_format": "report"})],
        "status": "completed",
        "result": {"source": "database", "format": "report", "records": 3},
        "pipeline": {"fetch": "completed", "check": "failed_non_critical", "store": "completed"},
        "pipeline status": "completed",
        "stored": {"stored": 3, "format": "report"},
        "check error": "Error executing tool check_records: 2 records are older than 15 days",
        "server calls": ["process_data", "fetch_records", "check_records", "store_report"],
        "pipeline events": {
            "error": 1,
            "finish": 1,
            "tool_result": 2,
            "tool_running": 3,
            "tool_streaming": 3,
            "tool_use": 3,
            "workflow": 1,
        },
    }
