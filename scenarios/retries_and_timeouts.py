"""Retries and timeouts: a network step succeeds on its third attempt, a step times out, and a
non-critical failure degrades gracefully.

The scenario starts a local HTTP server (127.0.0.1, a free port) that answers 503
twice, then 200. The flow:

- ``fetch`` (network_request, up to 5 retries, exponential backoff from 50 ms) succeeds on
  attempt 3;
- ``slow`` (a tool that would take 30 s, timeout 0.2 s, no retries, not critical) is
  cancelled and marked ``timed_out``; its result is the degraded
  ``{"error": ..., "status": "failed_non_critical"}``;
- ``flaky`` (a tool that always fails, 1 retry, not critical) degrades too;
- ``lookup`` (network_request to a path that answers 404, 3 retries allowed, not critical)
  fails at once: a 4xx answer is deterministic, so it is never retried;
- ``summary`` (synchronization) still runs, joining all four, and is ``final_result``.

At the end the scenario rebuilds the flow from the journal alone (the decider's fold) and
checks that it matches the state the run returned.

Run it: ``actorflow run scenarios/retries_and_timeouts.py``
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from actorflow import (
    ActorSystem,
    FlowPlan,
    FlowState,
    create_default_config,
    create_enhanced_flow,
    create_flow_step,
)
from actorflow.flow.checkpoint import flow_state
from actorflow.flow.fold import fold_journal


class _Flaky(BaseHTTPRequestHandler):
    """503 for the first two requests, then 200 with JSON; 404 for ``/missing``."""

    hits = 0
    missing_hits = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        if self.path.endswith("/missing"):
            with _Flaky.lock:
                _Flaky.missing_hits += 1
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        with _Flaky.lock:
            _Flaky.hits += 1
            hits = _Flaky.hits
        status = 503 if hits <= 2 else 200
        body = json.dumps({"hits": hits, "prices": [101.5, 102.25]}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def local_server() -> Iterator[str]:
    """Serve _Flaky on a free loopback port; yield its URL."""
    _Flaky.hits = _Flaky.missing_hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, name="scenario-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prices"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def slow_report(task: str) -> str:
    """A report that takes far too long (it is cancelled by its step's timeout)."""
    await asyncio.sleep(30)
    return "never"


def flaky_enrichment(task: str) -> str:
    """An enrichment service that is down."""
    raise ConnectionError("enrichment service unreachable")


async def run(system: ActorSystem, url: str) -> dict[str, object]:
    """Build and run the flow."""
    flow = create_enhanced_flow(system=system)
    flow.register_tool("slow_report", slow_report)
    flow.register_tool("flaky_enrichment", flaky_enrichment)
    config = create_default_config()
    config.random_seed = 7
    config.jitter = 0.0
    await flow.initialize(config)
    fetch = create_flow_step(
        "Fetch prices",
        "network_request",
        {"url": url, "max_retries": 5, "retry_delay": 0.05, "exponential_backoff": True},
        id="fetch",
    )
    slow = create_flow_step(
        "Slow report",
        "mcp_tool",
        {"tool_name": "slow_report", "arguments": {"task": "report"}, "critical": False},
        id="slow",
        timeout=0.2,
        max_retries=0,
    )
    flaky = create_flow_step(
        "Enrich",
        "mcp_tool",
        {"tool_name": "flaky_enrichment", "arguments": {"task": "enrich"}, "critical": False,
         "retry_delay": 0.01, "max_retries": 1},
        id="flaky",
    )  # fmt: skip
    lookup = create_flow_step(
        "Look up a missing record",
        "network_request",
        {"url": url.replace("/prices", "/missing"), "critical": False, "max_retries": 3},
        id="lookup",
    )  # a 404 is deterministic: never retried
    summary = create_flow_step(
        "Summary", "synchronization", {"output_key": "final_result"},
        ["fetch", "slow", "flaky", "lookup"], id="summary",
    )  # fmt: skip
    plan = FlowPlan(name="Retries and timeouts", steps=[fetch, slow, flaky, lookup, summary])
    state = await flow.execute(plan)
    return {
        "status": state.status.value,
        "error": state.error,
        "steps": {k: (v.status.value, v.attempts) for k, v in state.steps.items()},
        "server hits": _Flaky.hits,
        "fetch result": state.steps["fetch"].result,
        "slow error": state.steps["slow"].error,
        "flaky result": state.steps["flaky"].result,
        "missing record hits": _Flaky.missing_hits,
        "late results ignored": state.metadata["ignored_results"],
        "journal fold matches the live run": _fold_matches(system, state),
    }


def _fold_matches(system: ActorSystem, state: FlowState) -> bool | str:
    """Rebuild the flow from the journal alone and compare it with what the run returned."""
    if system.journal is None:
        return "no journal"
    system.journal.flush()
    folded = fold_journal(system.journal.path, state.flow_id)
    assert folded.state is not None
    rebuilt = flow_state(folded.state, folded.steps[-1].at)
    return rebuilt.model_dump(exclude={"plan"}) == state.model_dump(exclude={"plan"})


def main(system: ActorSystem) -> Mapping[str, object]:
    """Start the local server and run the flow against it."""
    with local_server() as url:
        return asyncio.run(run(system, url))
