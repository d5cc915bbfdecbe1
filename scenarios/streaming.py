"""Streaming: the seed's "Stream Callback Integration" example and its ``FlowMonitor``.

A flow plans "Analyze market trends and create report" and adds two steps of its own:
``fetch_quotes``, a tool that fails once (the flow retries it) and reports its
progress, and ``draft_summary``, a tool that is a generator (its output streams as
TOOL_STREAMING events, piece by piece). Three kinds of subscriber watch it:

- the seed's ``CustomStreamCallback`` (a ``LoggingStreamCallback``): it notes thinking,
  tool use and errors, and logs the rest;
- the seed's ``FlowMonitor`` (an ``IFlowEventListener``): flow and step hooks;
- ``flow.stream_execute()``: the run's events as an async iterator, in order, ending
  after FINISH.

The seed's example calls ``flow.stream_execute()`` on a flow with no plan; here the
flow plans first (``stream_execute()`` runs the current plan; with none it says what to
pass). The seed's callbacks print; here they write into lists the scenario returns,
since ``actorflow run`` shows the flow's course itself.

Run it: ``actorflow run scenarios/streaming.py``
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Mapping

from actorflow import (
    ActorSystem,
    FlowPlan,
    FlowState,
    FlowStep,
    IFlowEventListener,
    LoggingStreamCallback,
    StreamCallbackType,
    create_enhanced_flow,
    create_flow_step,
    report_progress,
)

NOTES: list[str] = []
"""What the seed's callbacks would have printed."""


class CustomStreamCallback(LoggingStreamCallback):
    """The seed's callback (``print`` becomes ``NOTES.append``)."""

    async def on_stream_event(self, data):  # type: ignore[no-untyped-def]
        if data.type == StreamCallbackType.THINKING:
            NOTES.append(f"🤔 AI is thinking: {data.content}")
        elif data.type == StreamCallbackType.TOOL_USE:
            NOTES.append(f"🔧 Using tool: {data.content}")
        elif data.type == StreamCallbackType.ERROR:
            NOTES.append(f"❌ Error occurred: {data.content}")
        else:
            await super().on_stream_event(data)


class FlowMonitor(IFlowEventListener):
    """The seed's FlowMonitor (``print`` becomes ``self.lines.append``)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.finished = asyncio.Event()

    async def on_flow_started(self, flow_id: str, plan: FlowPlan) -> None:
        self.lines.append(f"📊 Flow started: {plan.name} ({flow_id})")

    async def on_flow_completed(self, flow_id: str, state: FlowState) -> None:
        self.lines.append(f"✅ Flow completed: {flow_id} in {state.execution_time:.2f}s")
        self.finished.set()

    async def on_flow_failed(self, flow_id: str, state: FlowState, error: Exception) -> None:
        self.lines.append(f"❌ Flow failed: {flow_id} - {error}")
        self.finished.set()

    async def on_step_started(self, flow_id: str, step: FlowStep) -> None:
        self.lines.append(f"🔄 Step started: {step.name}")

    async def on_step_completed(self, flow_id: str, step: FlowStep) -> None:
        self.lines.append(f"✓ Step completed: {step.name}")

    async def on_step_failed(self, flow_id: str, step: FlowStep, error: Exception) -> None:
        self.lines.append(f"✗ Step failed: {step.name} - {error}")


# -- local tools ------------------------------------------------------------------------


class QuoteFeed:
    """A quote service that drops the first connection."""

    def __init__(self) -> None:
        self.calls = 0

    def fetch_quotes(self, symbols: list[str]) -> dict[str, float]:
        """Fetch the latest quotes of some symbols."""
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("quote feed dropped the connection")
        quotes = {}
        for done, symbol in enumerate(symbols, 1):
            quotes[symbol] = 100.0 + len(symbol)
            report_progress(done, len(symbols), f"{symbol} fetched")
        return quotes


def draft_summary(quotes: dict[str, float]) -> Iterator[str]:
    """Draft a summary of the quotes, a sentence at a time (a streaming tool)."""
    yield f"{len(quotes)} quotes in. "
    for symbol, price in sorted(quotes.items()):
        yield f"{symbol} trades at {price:.2f}. "
    yield "End of summary."


def analyze_market_trends(industry: str, timeframe: str, task: str) -> dict[str, object]:
    """Analyze market trends for an industry over a timeframe."""
    return {"industry": industry, "timeframe": timeframe, "trend": "growing"}


def create_report(task: str, industry: str = "") -> str:
    """Create a written report."""
    return f"Report on {industry or 'the market'}: {task.lower()}."


async def run(system: ActorSystem) -> dict[str, object]:
    """Plan, then stream the run with the seed's callback and monitor attached."""
    feed = QuoteFeed()
    flow = create_enhanced_flow(system=system)
    flow.config.retry_delay = 0.05
    flow.config.jitter = 0.0
    for tool in (feed.fetch_quotes, draft_summary, analyze_market_trends, create_report):
        flow.register_tool(tool.__name__, tool)
    # Add custom stream callback (the seed's example)
    callback = CustomStreamCallback()
    flow.add_stream_callback(callback)
    monitor = FlowMonitor()
    flow.add_event_listener(monitor)

    plan = await flow.plan(
        goal="Analyze market trends and create report",
        context={"industry": "technology", "timeframe": "2024"},
    )
    symbols = ["ACME", "INITECH", "UMBRELLA"]
    fetch = {"tool_name": "fetch_quotes", "arguments": {"symbols": symbols}}
    quotes = create_flow_step("Fetch quotes", "mcp_tool", fetch)
    draft = {"tool_name": "draft_summary", "arguments": {"quotes": f"${{{quotes.id}}}"}}
    summary = create_flow_step("Draft summary", "mcp_tool", draft, dependencies=[quotes.id])
    plan.steps += [quotes, summary]

    # Execute with real-time updates (the plan_created event came before: the stream
    # starts at the flow's second event)
    updates = []
    async for update in flow.stream_execute(plan):
        updates.append(update)
    await flow.wait_streams_idle(10)

    kinds = Counter(u.type.value for u in updates)
    state = await flow.get_state(plan.id)
    assert state is not None
    return {
        "status": state.status.value,
        "events": len(updates),
        "in order": [u.seq for u in updates] == list(range(updates[0].seq, updates[-1].seq + 1)),
        "first event": updates[0].metadata.get("event"),
        "last event": updates[-1].type.value,
        "event types": dict(sorted(kinds.items())),
        "retry": next(str(u.content) for u in updates if u.event == "retry_scheduled"),
        "streamed summary": state.steps[summary.id].result,
        "callback notes": len(NOTES),
        "monitor": monitor.lines,
    }


def main(system: ActorSystem) -> Mapping[str, object]:
    """Run the streaming example in the given actor system."""
    NOTES.clear()
    return asyncio.run(run(system))
