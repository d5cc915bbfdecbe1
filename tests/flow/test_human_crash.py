"""Crash while a flow waits for a human: a worker process runs a flow whose confirmation
is kept in a SQLite store and is SIGKILLed while it waits; a second worker resumes the
flow (the same request, its deadline as stored) and is killed too; ``actorflow answer``
answers through the store; ``actorflow resume`` completes the flow with that answer.

The deadline is compared as stored (timestamps), never by waiting: a reset deadline
would be later, since real time passes between the processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from actorflow import (
    ActorSystem,
    EnhancedFlow,
    FakeClock,
    FlowPlan,
    FlowState,
    create_flow_step,
)
from actorflow.flow.stored import core_from_checkpoint
from actorflow.human import (
    PendingRecord,
    answer_human_request,
    list_human_requests,
    spawn_human_gateway,
)
from actorflow.stores import (
    HumanRequestEntry,
    MemoryStore,
    SqliteStore,
    peek_human_requests,
    spawn_store,
)

FLOW_ID = "approval-flow"
CLI = Path(sys.executable).with_name("actorflow")
WORKER = '''
"""Human crash worker: a flow waits on a confirmation kept in a SQLite store."""

from __future__ import annotations

import sys

from actorflow import ActorSystem, EnhancedFlow, FlowPlan, create_flow_step
from actorflow.cli.human import ensure_durable_gateway
from actorflow.human import list_human_requests
from actorflow.stores import SqliteStore, spawn_store

FLOW_ID = "approval-flow"


def plan() -> FlowPlan:
    search = create_flow_step("Search", "mcp_tool", {"tool_name": "search", "arguments": {}},
                              id="search")
    ask = create_flow_step("Confirm", "human_input",
                           {"message": "Proceed with the analysis?", "input_type": "confirm"},
                           ["search"], id="confirm", timeout=3600)
    check = create_flow_step("Check", "condition",
                             {"condition": "context['user_confirmed'] == True"},
                             ["confirm"], id="check")
    work = create_flow_step("Analyze", "mcp_tool", {"tool_name": "analyze", "arguments": {}},
                            ["check"], id="analyze")
    return FlowPlan(id=FLOW_ID, name="approval", steps=[search, ask, check, work])


def create_flow(system: ActorSystem) -> EnhancedFlow:
    """The flow with its tools, asking through the store-backed human gateway."""
    ensure_durable_gateway(system)
    flow = EnhancedFlow(system=system)
    flow.register_tool("search", lambda: ["hit"])
    flow.register_tool("analyze", lambda: "analyzed")
    return flow


def main(system: ActorSystem) -> None:
    """Not a scenario to run: see worker()."""


def worker(store_path: str) -> None:
    """Run (or resume) the flow; print the request id once it is stored; wait forever."""
    import threading

    store = SqliteStore(store_path)
    system = ActorSystem().start()
    spawn_store(system, store)
    flow = create_flow(system)
    stored = flow.get_state_sync(FLOW_ID)
    go = (lambda: flow.execute_sync(plan())) if stored is None else (
        lambda: flow.resume_sync(FLOW_ID))
    done = threading.Event()
    threading.Thread(target=lambda: (go(), done.set()), daemon=True).start()
    while not (records := list_human_requests(system)):  # replies once it is stored
        if done.wait(0.02):
            print("ended without asking", flush=True)
            return
    print("pending", records[0].request_id, flush=True)
    done.wait()


if __name__ == "__main__":
    worker(sys.argv[1])
'''


@dataclass
class Run:
    request_ids: list[str]
    deadlines: list[float]
    """The stored deadline seen by each worker, then after the answer and the resume."""
    killed: list[int]
    answer_code: int
    resume_code: int
    resume_output: str
    confirmed: object
    analyze: str


def _worker_until_pending(script: Path, store: Path) -> tuple[str, int]:
    """Start a worker, wait until it says its request is stored, SIGKILL it."""
    command = [sys.executable, str(script), str(store)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=60)
    assert line.startswith("pending "), line
    return line.split()[1], code


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``actorflow ARGS`` in a process of its own (as a person at a terminal would)."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _stored(store: Path, request_id: str) -> HumanRequestEntry:
    found = {e.request_id: e for e in peek_human_requests(store, open_only=False)}
    return found[request_id]


def _crash_run(folder: Path) -> Run:
    folder.mkdir()
    script, store = folder / "approval_worker.py", folder / "store.sqlite"
    script.write_text(WORKER)
    ids, deadlines, killed = [], [], []
    for _ in range(2):  # asked, killed; resumed (asked again), killed
        request_id, code = _worker_until_pending(script, store)
        ids.append(request_id)
        killed.append(code)
        deadlines.append(_stored(store, request_id).deadline)
    answered = _cli("answer", ids[0], "yes", "--store", str(store))
    deadlines.append(_stored(store, ids[0]).deadline)
    resumed = _cli("resume", FLOW_ID, "--scenario", str(script), "--store", str(store))
    deadlines.append(_stored(store, ids[0]).deadline)
    with SqliteStore(store) as opened:
        checkpoint = opened.load_checkpoint(FLOW_ID)
    assert checkpoint is not None
    core = core_from_checkpoint(checkpoint)
    return Run(
        ids, deadlines, killed, answered.returncode, resumed.returncode,
        resumed.stdout + resumed.stderr,
        core.variables().get("user_confirmed"), core.steps["analyze"].status.value,
    )  # fmt: skip


def _check(run: Run) -> None:
    assert run.killed == [-signal.SIGKILL] * 2, run
    assert run.request_ids[0] == run.request_ids[1], run  # the resumed flow re-joined it
    assert run.request_ids[0].startswith(f"{FLOW_ID}/confirm/1@"), run
    assert len(set(run.deadlines)) == 1, run  # never reset, by any process
    assert run.answer_code == 0, run
    assert run.resume_code == 0, run.resume_output
    assert "completed" in run.resume_output, run
    assert run.confirmed is True, run
    assert run.analyze == "completed", run


def _crash_runs(folder: Path, count: int) -> list[Run]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda n: _crash_run(folder / f"run{n}"), range(count)))


@pytest.mark.timeout(300)  # four processes a run, on a busy machine
def test_flows_killed_while_waiting_complete_with_the_cli_answer(tmp_path: Path) -> None:
    runs = _crash_runs(tmp_path, 3)

    for run in runs:
        _check(run)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_hundred_crashes_never_reset_the_deadline(tmp_path: Path) -> None:
    runs = _crash_runs(tmp_path, 100)

    for run in runs:
        _check(run)


# -- the resumed flow's own deadline (no process needed) --------------------------------

START = datetime(2026, 1, 1, tzinfo=UTC)


def _asked(system: ActorSystem, runner: threading.Thread) -> PendingRecord:
    """The flow's open request, once the gateway has it (or fail if the flow ended)."""
    while runner.is_alive() and not (records := list_human_requests(system)):
        runner.join(0.02)
    assert runner.is_alive(), "the flow ended without asking"
    (record,) = records
    return record


def test_a_resumed_flow_whose_request_was_lost_asks_with_its_first_deadline() -> None:
    """Killed after its checkpoint and before the gateway stored the request: the resumed
    flow's request carries the deadline the first one had, not one from its own start."""
    store = MemoryStore()  # the flow's checkpoints outlive the "process"
    plan = FlowPlan(id="lost", name="lost", steps=[
        create_flow_step("Ask", "human_input", {"message": "Ship it?", "input_type": "confirm"},
                         id="ask", timeout=100),
    ])  # fmt: skip
    states: list[FlowState] = []
    with ActorSystem(clock=FakeClock(START)) as one:
        spawn_store(one, store)
        spawn_human_gateway(one)  # in memory: its requests die with it
        first = threading.Thread(target=lambda: EnhancedFlow(system=one).execute_sync(plan))
        first.start()
        asked = _asked(one, first)
    first.join(10)
    with ActorSystem(clock=FakeClock(START + timedelta(seconds=40))) as two:
        spawn_store(two, store)
        spawn_human_gateway(two)
        flow = EnhancedFlow(system=two)
        again = threading.Thread(target=lambda: states.append(flow.resume_sync("lost")))
        again.start()
        resumed = _asked(two, again)
        answer_human_request(two, resumed.request_id, value=True)
        again.join(10)

    assert resumed.request_id == asked.request_id
    assert resumed.deadline == asked.deadline == START.timestamp() + 100
    assert states[0].variables["user_confirmed"] is True
