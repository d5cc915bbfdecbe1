"""Injected faults: FaultyStore is reproducible, and the store actor over a faulty SQLite
store loses no acknowledged write in 10,000 operations at 5% faults."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from actorflow import ActorSystem
from actorflow.errors import ConfigurationError, StoreTransientError
from actorflow.messages.base import Message
from actorflow.stores import (
    STORE_PATH,
    CheckpointWrite,
    GetMemoryRequest,
    GetMemoryResponse,
    LoadCheckpointRequest,
    LoadCheckpointResponse,
    MemoryPut,
    MemoryStore,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    SqliteStore,
    StoreRequestFailed,
    WriteRequest,
    WriteResponse,
    spawn_store,
)
from actorflow.testing import FaultyStore
from tests.stores.support import checkpoint


def fault_pattern(seed: int, n: int = 200) -> list[str]:
    store = FaultyStore(MemoryStore(), error_rate=0.3, seed=seed)
    outcomes = []
    for i in range(n):
        try:
            store.put_memory("f", "k", i)
            outcomes.append("ok")
        except StoreTransientError as exc:
            outcomes.append("before" if exc.committed is False else "after")
    return outcomes


def test_the_same_seed_injects_the_same_faults() -> None:
    assert fault_pattern(3) == fault_pattern(3)
    assert fault_pattern(3) != fault_pattern(4)
    assert {"ok", "before", "after"} == set(fault_pattern(3))


def test_a_fault_after_commit_has_stored_the_write() -> None:
    inner = MemoryStore()
    store = FaultyStore(inner, error_rate=1.0, seed=0)
    outcome = ""
    for i in range(20):  # half the faults come before the commit, half after
        try:
            store.put_memory("f", f"k{i}", i)
        except StoreTransientError as exc:
            outcome = "after" if exc.committed is None else "before"
            stored = inner.get_memory("f", f"k{i}") is not None
            assert stored == (outcome == "after")

    assert store.faults().before_commit + store.faults().after_commit == 20
    assert store.faults().after_commit > 0


def test_an_error_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^error_rate must be between 0 and 1"):
        FaultyStore(MemoryStore(), error_rate=1.5)


@dataclass
class Client:
    """One client thread's flows and what the store acknowledged to it."""

    index: int
    system: ActorSystem
    ops: int
    versions: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    memory: dict[tuple[str, str], int] = field(default_factory=dict)
    retries: int = 0
    problems: list[str] = field(default_factory=list)

    def ask_until_done(self, request: Message) -> Message:
        while True:
            reply = self.system.ask(STORE_PATH, request, timeout=10.0)
            if not isinstance(reply, StoreRequestFailed):
                return reply
            if not reply.transient:
                self.problems.append(f"{reply.error_type}: {reply.error}")
                return reply
            self.retries += 1

    done: int = 0

    def run(self) -> None:
        try:
            self.run_ops()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.problems.append(f"client {self.index} raised {exc!r}")

    def run_ops(self) -> None:
        rng = random.Random(self.index)
        flows = [f"c{self.index}-f{i}" for i in range(5)]
        for op in range(self.ops):
            flow = rng.choice(flows)
            roll = rng.random()
            if roll < 0.6:
                self.save(flow, op)
            elif roll < 0.85:
                self.put(flow, f"k{rng.randrange(5)}", op)
            else:
                self.check(flow, rng.randrange(5))
            self.done += 1

    def save(self, flow: str, op: int) -> None:
        version = self.versions.get(flow, 0)
        write = checkpoint(flow, op, expected_version=version, write_id=f"{flow}-{op}")
        reply = self.ask_until_done(SaveCheckpointRequest(write=write))
        if isinstance(reply, SaveCheckpointResponse):
            if reply.receipt.version != version + 1:
                self.problems.append(f"{flow}: version {reply.receipt.version} after {version}")
            self.versions[flow] = reply.receipt.version
            self.states[flow] = op

    def put(self, flow: str, key: str, op: int) -> None:
        reply = self.ask_until_done(
            WriteRequest(writes=(MemoryPut(flow_id=flow, key=key, value=op),))
        )
        if isinstance(reply, WriteResponse):
            self.memory[(flow, key)] = op

    def check(self, flow: str, k: int) -> None:
        loaded = self.ask_until_done(LoadCheckpointRequest(flow_id=flow))
        entry = self.ask_until_done(GetMemoryRequest(flow_id=flow, key=f"k{k}"))
        assert isinstance(loaded, LoadCheckpointResponse)
        assert isinstance(entry, GetMemoryResponse)
        seen = None if loaded.checkpoint is None else loaded.checkpoint.state["n"]
        if seen != self.states.get(flow):
            self.problems.append(f"{flow}: read n={seen}, acknowledged {self.states.get(flow)}")
        value = None if entry.entry is None else entry.entry.value
        if value != self.memory.get((flow, f"k{k}")):
            self.problems.append(f"{flow}/k{k}: read {value}, acknowledged a different value")


def run_clients(system: ActorSystem, clients: int, ops: int) -> list[Client]:
    made = [Client(i, system, ops) for i in range(clients)]
    threads = [threading.Thread(target=c.run, name=f"client-{c.index}") for c in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120.0)
        assert not thread.is_alive(), "a client hung"
    return made


def test_ten_thousand_operations_at_five_percent_faults_lose_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    store = FaultyStore(SqliteStore(path, synchronous="off"), error_rate=0.05, seed=11)
    with ActorSystem() as system:
        spawn_store(system, store)
        clients = run_clients(system, clients=4, ops=2500)
        stats = system.statistics()
    store.close()

    assert [p for c in clients for p in c.problems] == []
    assert sum(c.done for c in clients) == 10_000
    assert (stats.failed, stats.dead_letters) == (0, 0)
    faults = store.faults()
    assert faults.before_commit > 0
    assert faults.after_commit > 0
    assert faults.reads > 0
    assert sum(c.retries for c in clients) >= faults.before_commit
    with SqliteStore(path) as reopened:
        for client in clients:
            for flow, version in client.versions.items():
                loaded = reopened.load_checkpoint(flow)
                assert loaded is not None
                assert (loaded.version, loaded.state["n"]) == (version, client.states[flow])
            for (flow, key), value in client.memory.items():
                entry = reopened.get_memory(flow, key)
                assert entry is not None
                assert entry.value == value
        assert reopened.integrity_check() == "ok"


def test_a_checkpoint_retried_after_a_fault_after_commit_is_stored_once() -> None:
    inner = MemoryStore()
    store = FaultyStore(inner, error_rate=1.0, seed=0)
    write: CheckpointWrite = checkpoint(write_id="w1", expected_version=0)
    for _ in range(20):
        try:
            store.save_checkpoint(write)
        except StoreTransientError as exc:
            if exc.committed is None:
                break
    else:
        pytest.fail("no fault after commit in 20 tries")

    receipt = inner.save_checkpoint(write)

    assert (receipt.version, receipt.duplicate) == (1, True)
