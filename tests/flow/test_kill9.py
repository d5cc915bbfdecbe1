"""Kill -9 harness: a worker process running a 20-step flow is killed with SIGKILL at
seeded random moments; after resume the flow ends as an uncrashed run does, no step whose
completion was stored runs again, and the SQLite file passes ``PRAGMA integrity_check``.

The worker is ``scenarios/crash_and_resume.py`` (its ``worker`` entry point): each step
prints ``step N done`` from inside its tool, so the harness knows which steps ran in
which process.
"""

from __future__ import annotations

import importlib.util
import random
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from actorflow.flow.stored import core_from_checkpoint
from actorflow.stores import SqliteStore

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "crash_and_resume.py"
RUNS = 30


def _scenario() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_and_resume_for_tests", SCENARIO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crash = _scenario()
EXPECTED = {f"s{n}": n * (n + 1) // 2 for n in range(1, crash.STEPS + 1)}


@dataclass
class Run:
    seed: int
    exit_code: int
    stored_done: set[str]
    ran_after: list[str]
    results: dict[str, object]
    status: str
    integrity_at_kill: str
    integrity: str


def _worker(store: Path, ledger: Path) -> subprocess.Popen[str]:
    command = [sys.executable, str(SCENARIO), "worker", str(store), str(ledger)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _killed_run(seed: int, folder: Path) -> Run:
    rng = random.Random(seed)
    store, ledger = folder / f"{seed}.sqlite", folder / f"{seed}.jsonl"
    with _worker(store, ledger) as proc:
        assert proc.stdout is not None
        if seed % 2:  # a random moment in time, wherever the flow is then
            try:
                proc.wait(timeout=rng.uniform(0.05, 1.5))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        else:  # a random number of finished tools, killed at once
            kill_after = rng.randint(1, crash.STEPS - 1)
            for done, _ in enumerate(proc.stdout, 1):
                if done >= kill_after:
                    proc.send_signal(signal.SIGKILL)
                    break
        exit_code = proc.wait(timeout=300)  # generous: CI machines are slow
    integrity_at_kill = _integrity(store)
    stored_done: set[str] = set()
    if store.exists():
        with SqliteStore(store) as opened:
            checkpoint = opened.load_checkpoint(crash.FLOW_ID)
        if checkpoint is not None:
            core = core_from_checkpoint(checkpoint)
            stored_done = {s for s, r in core.steps.items() if r.status.value == "completed"}
    with _worker(store, ledger) as again:
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
    ran_after = [f"s{line.split()[1]}" for line in out.splitlines() if line.startswith("step ")]
    with SqliteStore(store) as opened:
        final = opened.load_checkpoint(crash.FLOW_ID)
    assert final is not None
    core = core_from_checkpoint(final)
    return Run(seed, exit_code, stored_done, ran_after, dict(core.results), core.status.value,
               integrity_at_kill, _integrity(store))  # fmt: skip


def _integrity(store: Path) -> str:
    if not store.exists():
        return "ok"  # killed before the store was created
    with sqlite3.connect(store) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_flows_killed_at_random_moments_resume_to_the_uncrashed_result(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda seed: _killed_run(seed, tmp_path), range(RUNS)))

    killed = [r for r in runs if r.exit_code == -signal.SIGKILL]
    assert len(killed) >= RUNS * 2 // 3, [r.exit_code for r in runs]
    for run in runs:
        assert run.integrity_at_kill == "ok", run
        assert run.integrity == "ok", run
        assert run.status == "completed", run
        assert run.results == EXPECTED, run  # as an uncrashed run ends
        assert not set(run.ran_after) & run.stored_done, run  # stored steps never ran again
        assert len(run.ran_after) == len(set(run.ran_after)), run
