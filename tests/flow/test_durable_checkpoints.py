"""Flows keep their decider state in the system's store, written ahead of their effects."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import actorflow
from actorflow import ActorSystem, EnhancedFlow, FlowState, FlowStatus, InMemoryStateManager
from actorflow.errors import FlowError, StoreTransientError
from actorflow.flow.core import FlowCore
from actorflow.flow.persistence import plan_json
from actorflow.flow.state import SqliteMemoryManager
from actorflow.flow.stored import core_from_checkpoint
from actorflow.ids import SequentialIds
from actorflow.stores import (
    CheckpointWrite,
    CommitResult,
    MemoryStore,
    SqliteStore,
    Transaction,
    spawn_store,
)
from tests.flow.support import Recorder, new_flow, plan_of, step


class GatedStore(MemoryStore):
    """A memory store whose commits wait while ``gate`` is closed, and can fail on
    purpose (``fail_next`` transient failures)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.fail_next = 0
        self.before_commit: Callable[[], object] | None = None

    @property
    def is_blocking(self) -> bool:
        return True  # its commits wait for the test: the store actor needs a thread

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        if self.before_commit is not None:
            hook, self.before_commit = self.before_commit, None
            hook()
        if not self.gate.is_set():
            self.waiting.set()
            assert self.gate.wait(10), "the test never opened the gate"
        if self.fail_next:
            self.fail_next -= 1
            raise StoreTransientError("disk I/O error (injected)", committed=False)
        return super().commit_many(transactions)


@pytest.fixture
def store() -> GatedStore:
    return GatedStore()


@pytest.fixture
def stored_system(store: GatedStore) -> Iterator[ActorSystem]:
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, store)
        yield system


def stored_core(store: MemoryStore, flow_id: str) -> FlowCore:
    checkpoint = store.load_checkpoint(flow_id)
    assert checkpoint is not None
    return core_from_checkpoint(checkpoint)


def test_a_finished_flow_is_stored_with_its_listing(
    stored_system: ActorSystem, store: GatedStore
) -> None:
    recorder = Recorder()
    flow = new_flow(stored_system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"]), step("c", deps=["b"]))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    core = stored_core(store, plan.id)
    assert core.status is FlowStatus.COMPLETED
    assert core.results == {"a": "a#1", "b": "b#1", "c": "c#1"}
    (summary,) = store.list_flows()
    assert (summary.flow_id, summary.status, summary.steps_done, summary.steps_total) == (
        plan.id,
        "completed",
        3,
        3,
    )
    checkpoint = store.load_checkpoint(plan.id)
    assert checkpoint is not None
    assert checkpoint.plan == plan_json(core.spec.plan)


def test_a_dependent_step_starts_only_once_the_state_before_it_is_stored(
    stored_system: ActorSystem, store: GatedStore
) -> None:
    recorder = Recorder()
    recorder.gates["a"] = threading.Event()
    flow = new_flow(stored_system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"]))
    done = threading.Event()
    result: list[FlowStatus] = []

    def run() -> None:
        result.append(flow.execute_sync(plan).status)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    recorder.log.wait_for(("start", "a", 1))
    store.gate.clear()  # the store stops committing
    recorder.gates["a"].set()  # a ends: its result must be stored before b starts
    assert store.waiting.wait(10)
    recorder.log.wait_for(("end", "a", 1))
    assert ("start", "b", 1) not in recorder.log.snapshot()
    core = stored_core(store, plan.id)
    assert core.steps["a"].status.value == "running"  # a's end is not stored yet

    store.gate.set()

    assert done.wait(10)
    assert result == [FlowStatus.COMPLETED]
    assert stored_core(store, plan.id).steps["b"].status.value == "completed"


def test_a_failing_store_pauses_the_flow_and_nothing_is_lost(
    stored_system: ActorSystem, store: GatedStore
) -> None:
    store.fail_next = 3
    recorder = Recorder()
    flow = new_flow(stored_system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"]))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert state.metadata["checkpoint_errors"] == 3
    assert "disk I/O error" in str(state.metadata["checkpoint_error"])
    assert recorder.calls == {"a": 1, "b": 1}
    assert stored_core(store, plan.id).status is FlowStatus.COMPLETED


def test_a_store_that_refuses_the_flows_checkpoints_fails_the_flow_loudly(
    stored_system: ActorSystem, store: GatedStore
) -> None:
    recorder = Recorder()
    flow = new_flow(stored_system, recorder)
    plan = plan_of(step("a"), step("b", deps=["a"]))
    # Another writer stores this flow just before its first write: that write expects none.
    store.before_commit = lambda: MemoryStore.commit_many(store, [(stored_write(plan.id),)])

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.FAILED
    assert "the store refused its checkpoint" in (state.error or "")
    assert "CheckpointConflictError" in (state.error or "")
    assert recorder.calls == {}  # nothing ran without its state stored


def stored_write(flow_id: str) -> CheckpointWrite:
    return CheckpointWrite(
        flow_id=flow_id, state={"x": 1}, status="running", steps_done=0, steps_total=1, at=1.0
    )


def test_a_stopped_flow_resumes_in_another_system_where_it_was(store: GatedStore) -> None:
    first = Recorder()
    first.gates["b"] = threading.Event()  # b hangs in the first system
    keys: list[str] = []

    def keyed(label: str) -> str:
        keys.append(actorflow.idempotency_key())
        return first.record(label)

    plan = plan_of(step("a"), step("b", deps=["a"]), step("c", deps=["b"]))
    plan.id = "durable"
    outcome: list[FlowState] = []
    with ActorSystem(ids=SequentialIds()) as one:
        spawn_store(one, store)
        flow = new_flow(one, first)
        flow.register_tool("record", keyed, replace=True)
        runner = threading.Thread(target=lambda: outcome.append(flow.execute_sync(plan)))
        runner.start()
        first.log.wait_for(("start", "b", 1))
    first.gates["b"].set()
    runner.join(10)
    assert outcome[0].status is FlowStatus.FAILED
    assert "resume it from the store" in (outcome[0].error or "")
    assert stored_core(store, "durable").is_running

    with ActorSystem(ids=SequentialIds()) as two:
        spawn_store(two, store)
        again = new_flow(two, first)
        again.register_tool("record", keyed, replace=True)
        state = again.resume_sync("durable")
        assert again.get_state_sync("durable") == state

    assert state.status is FlowStatus.COMPLETED
    assert first.calls == {"a": 1, "b": 2, "c": 1}  # a never ran again
    assert keys == ["durable/a/1", "durable/b/1", "durable/b/1", "durable/c/1"]
    assert state.variables["c"] == "c#1"


def test_resuming_an_ended_flow_returns_its_final_state_and_runs_nothing(
    stored_system: ActorSystem, store: GatedStore
) -> None:
    recorder = Recorder()
    flow = new_flow(stored_system, recorder)
    plan = plan_of(step("a"))
    done = flow.execute_sync(plan)

    again = flow.resume_sync(plan.id)

    assert again.status is FlowStatus.COMPLETED
    assert again.variables["a"] == done.variables["a"]
    assert recorder.calls == {"a": 1}


def test_resuming_a_flow_the_store_does_not_have_says_so(stored_system: ActorSystem) -> None:
    flow = new_flow(stored_system)
    with pytest.raises(FlowError, match="has no checkpoint of flow 'ghost'"):
        flow.resume_sync("ghost")


@pytest.mark.parametrize(
    ("retention", "kept"),
    [(0.0, False), (None, True), (3600.0, True)],
)
def test_a_flows_memory_goes_with_its_end_unless_retained(
    stored_system: ActorSystem, store: GatedStore, retention: float | None, kept: bool
) -> None:
    flow = new_flow(stored_system, memory_retention=retention)
    plan = plan_of(step("a", "remember"))

    def remember(label: str) -> str:
        store.put_memory(plan.id, "note", {"from": label})
        return label

    flow.register_tool("remember", remember)

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    assert (store.get_memory(plan.id, "note") is not None) is kept
    if retention:  # kept until its retention ends, then purged
        end = stored_core(store, plan.id).finished_at
        assert end is not None
        assert store.purge_memory(end + retention + 1) == 1
        assert store.get_memory(plan.id, "note") is None


def test_a_flow_with_its_own_sqlite_store_keeps_memory_there(tmp_path: Path) -> None:
    flow = EnhancedFlow(store=str(tmp_path / "store.sqlite"))
    try:
        _ = flow.system
        manager = flow.executor.memory_manager
        assert isinstance(manager, SqliteMemoryManager)
        flow.executor.tools.register("noop", lambda label: label)
        plan = plan_of(step("a", "noop"))
        flow.execute_sync(plan)
        listed = flow.get_state_sync(plan.id)
        assert listed is not None
        assert listed.status is FlowStatus.COMPLETED
    finally:
        flow.close_sync()
    with SqliteStore(tmp_path / "store.sqlite") as reopened:  # closed: the file is free again
        assert [f.flow_id for f in reopened.list_flows()] == [plan.id]


def test_a_state_manager_the_caller_assigned_still_gets_the_checkpoints(
    stored_system: ActorSystem, store: GatedStore
) -> None:
    manager = InMemoryStateManager()
    flow = new_flow(stored_system, Recorder())
    flow.executor.state_manager = manager  # the seed's API
    plan = plan_of(step("a"), step("b", deps=["a"]))

    state = flow.execute_sync(plan)

    assert state.status is FlowStatus.COMPLETED
    mirrored = asyncio.run(manager.load_state(plan.id))
    assert mirrored is not None
    assert mirrored.status is FlowStatus.COMPLETED
    assert stored_core(store, plan.id).status is FlowStatus.COMPLETED
