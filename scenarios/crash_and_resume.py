"""Crash and resume: a worker process is killed (SIGKILL) mid-flow; the flow resumes from the store.

A 20-step flow (a chain: each step adds its number to the previous total) runs in a
worker process that keeps it in a SQLite store. Every step's tool writes to a
side-effect ledger (a JSON-lines file) under its attempt's idempotency key, as a
payment or an e-mail would: a key already in the ledger is not written twice.

The scenario starts the worker, and once it has written a random number of ledger
entries (``ACTORFLOW_CRASH_SEED`` picks it; by default it differs every run) kills it
with SIGKILL: no clean-up runs. Then it resumes the flow from the worker's store in
this process and shows the ledger: each step ran once, except the step under way at the
kill, which ran again under the same idempotency key (so the ledger holds it once). The
worker's store and ledger stay in ``.actorflow/crash-and-resume/<run>/`` to look at.

Run it: ``actorflow run scenarios/crash_and_resume.py``; resume a flow of your own with
``actorflow resume FLOW_ID --scenario scenarios/crash_and_resume.py --store FILE``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

import actorflow
from actorflow import ActorSystem, EnhancedFlow, FlowPlan, FlowState, create_flow_step

STEPS = 20
FLOW_ID = "ledger-flow"


class Ledger:
    """A side-effect ledger: one JSON line per effect, keyed by idempotency key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def entries(self) -> list[dict[str, object]]:
        """Every line written so far (a torn last line, from a kill, is left out)."""
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return found

    def write_once(self, key: str, step: int, total: int) -> bool:
        """Write the effect of attempt ``key`` unless it is in the ledger already."""
        with self.lock:
            if any(e["key"] == key for e in self.entries()):
                return False
            with self.path.open("a") as out:
                out.write(json.dumps({"key": key, "step": step, "total": total}) + "\n")
                out.flush()
                os.fsync(out.fileno())
            return True


def ledger_plan() -> FlowPlan:
    """The 20-step chain: step n adds n to step n-1's total."""
    steps = []
    for n in range(1, STEPS + 1):
        previous = "${s%d}" % (n - 1) if n > 1 else 0  # noqa: UP031 - a reference, not a format
        steps.append(
            create_flow_step(
                f"s{n}",
                "mcp_tool",
                {"tool_name": "add", "arguments": {"step": n, "previous": previous}},
                [f"s{n - 1}"] if n > 1 else [],
                id=f"s{n}",
            )
        )
    return FlowPlan(id=FLOW_ID, name="ledger chain", steps=steps)


def flow_for(
    system: ActorSystem | None, ledger: Ledger, store: str | None = None, *, report: bool = False
) -> EnhancedFlow:
    """The flow with the ledger tool: on ``system`` (its store), or its own with ``store``;
    ``report`` prints a line per step (the worker's progress, read by the scenario)."""
    flow = EnhancedFlow(system=system) if system is not None else EnhancedFlow(store=store)
    flow.config.retry_delay = 0.0

    def add(step: int, previous: int) -> int:
        total = previous + step
        ledger.write_once(actorflow.idempotency_key(), step, total)
        if report:
            print(f"step {step} done", flush=True)  # the scenario reads it
        return total

    flow.register_tool("add", add)
    return flow


def create_flow(system: ActorSystem) -> EnhancedFlow:
    """For ``actorflow resume``: the flow with its tool, writing to ``$LEDGER``."""
    return flow_for(system, Ledger(Path(os.environ.get("LEDGER", "ledger.jsonl"))))


def worker(store: str, ledger: str) -> None:
    """Run (or resume) the ledger flow in this process, keeping it in ``store``."""
    flow = flow_for(None, Ledger(Path(ledger)), store, report=True)
    try:
        if flow.get_state_sync(FLOW_ID) is None:
            flow.execute_sync(ledger_plan())
        else:
            flow.resume_sync(FLOW_ID)
    finally:
        flow.close_sync()


def run_worker_until(store: Path, ledger: Path, kill_after: int | None) -> int:
    """Start a worker; SIGKILL it once it reported ``kill_after`` steps (None: let it end).

    Returns its exit code (``-9`` when killed).
    """
    command = [sys.executable, __file__, "worker", str(store), str(ledger)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:  # noqa: S603 - our own file
        assert proc.stdout is not None
        done = 0
        for line in proc.stdout:
            done += line.startswith("step ")
            if kill_after is not None and done >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
        return proc.wait(timeout=60)


def main(system: ActorSystem) -> Mapping[str, object]:
    """Kill the worker mid-flow, resume, show the ledger."""
    seed = os.environ.get("ACTORFLOW_CRASH_SEED")
    kill_after = random.Random(seed).randint(1, STEPS - 1)
    folder = Path(".actorflow") / "crash-and-resume" / uuid.uuid4().hex[:8]
    folder.mkdir(parents=True)
    store, ledger = folder / "store.sqlite", folder / "ledger.jsonl"
    code = run_worker_until(store, ledger, kill_after)
    before = Ledger(ledger).entries()
    flow = flow_for(None, Ledger(ledger), str(store))
    try:
        stored = flow.get_state_sync(FLOW_ID)
        assert stored is not None, "the worker stored nothing before it was killed"
        done_before = sum(s.status.value == "completed" for s in stored.steps.values())
        state: FlowState = flow.resume_sync(FLOW_ID)
    finally:
        flow.close_sync()
    entries = Ledger(ledger).entries()
    steps = [e["step"] for e in entries]
    return {
        "worker's store": f"{store} (actorflow flows --store {store})",
        "ledger": str(ledger),
        "killed after step": kill_after,
        "worker exit code": code,
        "ledger entries at the kill": len(before),
        "steps stored as completed at the kill": done_before,
        "resumed flow": state.status.value,
        "final total": state.variables.get(f"s{STEPS}"),
        "ledger entries": len(entries),
        "each step once in the ledger": steps == list(range(1, STEPS + 1)),
    }


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "worker":
    worker(sys.argv[2], sys.argv[3])
