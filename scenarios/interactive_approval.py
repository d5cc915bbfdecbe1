"""Interactive approval: the seed's custom-step flow (search, confirm, condition) with
a scripted human, then the same questions with nobody answering.

1. *Answered*: ``web_search`` runs, a person confirms "Do you want to proceed with
   analysis?" (a scripted human here), and the condition ``context['user_confirmed']
   == True`` holds, so ``analyze`` runs.
2. *Nobody answers*: the confirmation has a 0.3 s timeout and ``on_timeout: default``
   with ``default_value: False``: the human gateway ends the request with the default,
   the condition is false, and ``analyze`` is skipped. A second question (``on_timeout:
   fail``, not critical) times out and degrades; the flow still completes.

Every question goes through the human gateway at ``/system/human``, which keeps one
outcome per request and journals each answer as a ``human`` effect.

Run it: ``actorflow run scenarios/interactive_approval.py``. With ``--interactive``
(``actorflow run scenarios/interactive_approval.py --interactive``) you answer the first
part's confirmation yourself at the console (``ConsoleHumanCallback``: y/n, asked again
on an invalid answer); the second part still shows nobody answering.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from typing import Any

from actorflow import (
    ActorSystem,
    ConsoleHumanCallback,
    FlowPlan,
    FlowState,
    IHumanCallback,
    create_enhanced_flow,
    create_flow_step,
)
from actorflow.testing import ScriptedHuman

QUESTION = "Do you want to proceed with analysis?"
OPTIONS = {"interactive": False}
"""The scenario's options (set by ``configure``)."""


def configure(args: list[str]) -> None:
    """Take the scenario's arguments: ``--interactive`` asks at the console."""
    parser = argparse.ArgumentParser(prog="interactive_approval", exit_on_error=False)
    parser.add_argument("--interactive", action="store_true", help="answer at the console")
    OPTIONS["interactive"] = parser.parse_args(args).interactive


def web_search(query: str) -> list[dict[str, str]]:
    """Search the web (here: a fixed index)."""
    return [{"title": f"{query}: overview", "url": "https://example.invalid/1"}]


def analyze(hits: list[dict[str, str]]) -> dict[str, int]:
    """Analyze the search hits."""
    return {"hits": len(hits)}


def approval_plan(name: str, timeout: float | None = None, **confirm: Any) -> FlowPlan:
    """search -> confirm -> condition -> analyze (the seed's custom steps); ``timeout``
    and ``confirm`` are the confirmation's."""
    query = {"tool_name": "web_search", "arguments": {"query": "AI trends"}}
    search = create_flow_step("Search", "mcp_tool", query)
    ask = create_flow_step("Confirm", "human_input",
                           {"message": QUESTION, "input_type": "confirm", **confirm},
                           dependencies=[search.id], timeout=timeout)  # fmt: skip
    check = create_flow_step("Check", "condition",
                             {"condition": "context['user_confirmed'] == True"},
                             dependencies=[ask.id])  # fmt: skip
    work = create_flow_step("Analyze", "mcp_tool",
                            {"tool_name": "analyze", "arguments": {"hits": f"${{{search.id}}}"}},
                            dependencies=[check.id])  # fmt: skip
    return FlowPlan(name=name, steps=[search, ask, check, work])


def outcome(state: FlowState, plan: FlowPlan) -> dict[str, object]:
    """Each step's status, by name."""
    names = {s.id: s.name for s in plan.steps}
    return {names[sid]: step.status.value for sid, step in state.steps.items()}


async def run(system: ActorSystem) -> dict[str, object]:
    """Both parts, on the scenario's actor system."""
    flow = create_enhanced_flow(system=system)
    flow.register_tool("web_search", web_search)
    flow.register_tool("analyze", analyze)
    scripted = ScriptedHuman({QUESTION: True})
    human: IHumanCallback = ConsoleHumanCallback() if OPTIONS["interactive"] else scripted
    flow.set_human_callback(human)
    answered = approval_plan("Answered approval")
    first = await flow.execute(answered)

    flow.set_human_callback(ScriptedHuman.silent())  # nobody answers from here on
    silent = approval_plan("Unanswered approval", timeout=0.3, on_timeout="default",
                           default_value=False)  # fmt: skip
    remarks = {"message": "Any remarks?", "critical": False}
    extra = create_flow_step("Any remarks?", "human_input", remarks, timeout=0.3)
    silent.steps.append(extra)
    second = await flow.execute(silent)
    return {
        "answered: status": first.status.value,
        "answered: steps": outcome(first, answered),
        "answered: asked": (
            "at the console"
            if OPTIONS["interactive"]
            else [data.message for data in scripted.asked]
        ),
        "answered: analysis": first.variables.get("final_result"),
        "unanswered: status": second.status.value,
        "unanswered: steps": outcome(second, silent),
        "unanswered: user_confirmed": second.variables.get("user_confirmed"),
        "unanswered: remarks error": second.steps[extra.id].error,
    }


def main(system: ActorSystem) -> Mapping[str, object]:
    """Run both parts in the given actor system."""
    return asyncio.run(run(system))
