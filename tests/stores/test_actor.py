"""The store actor: requests and replies by message, group commit, typed failure replies."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from actorflow import ActorSystem
from actorflow.errors import (
    ActorNameTakenError,
    CheckpointConflictError,
    StoreError,
    StoreTransientError,
)
from actorflow.ids import CorrelationId
from actorflow.stores import (
    STORE_PATH,
    CommitResult,
    GetMemoryRequest,
    GetMemoryResponse,
    ListFlowsRequest,
    ListFlowsResponse,
    ListMemoryRequest,
    ListMemoryResponse,
    LoadCheckpointRequest,
    LoadCheckpointResponse,
    MemoryPut,
    MemoryStore,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    Store,
    StoreRequestFailed,
    Transaction,
    WriteRequest,
    WriteResponse,
    spawn_store,
)
from actorflow.testing import FaultyStore, Probe
from tests.stores.support import PLAN, DelegatingStore, checkpoint


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def hosted(system: ActorSystem, memory: MemoryStore) -> ActorSystem:
    """The system with a store actor over a memory store at /system/store."""
    assert spawn_store(system, memory) == STORE_PATH
    return system


def test_a_saved_checkpoint_is_acknowledged_with_its_receipt(hosted: ActorSystem) -> None:
    reply = hosted.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint(plan=PLAN)))

    assert isinstance(reply, SaveCheckpointResponse)
    assert (reply.receipt.flow_id, reply.receipt.version) == ("f1", 1)


def test_reads_answer_with_what_was_written(hosted: ActorSystem) -> None:
    hosted.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint(plan=PLAN)))
    hosted.ask(STORE_PATH, WriteRequest(writes=(MemoryPut(flow_id="f1", key="k", value=[1]),)))

    loaded = hosted.ask(STORE_PATH, LoadCheckpointRequest(flow_id="f1"))
    flows = hosted.ask(STORE_PATH, ListFlowsRequest())
    entry = hosted.ask(STORE_PATH, GetMemoryRequest(flow_id="f1", key="k"))
    keys = hosted.ask(STORE_PATH, ListMemoryRequest(flow_id="f1"))

    assert isinstance(loaded, LoadCheckpointResponse)
    assert loaded.checkpoint is not None
    assert loaded.checkpoint.plan == PLAN
    assert isinstance(flows, ListFlowsResponse)
    assert [f.flow_id for f in flows.flows] == ["f1"]
    assert isinstance(entry, GetMemoryResponse)
    assert entry.entry is not None
    assert entry.entry.value == [1]
    assert isinstance(keys, ListMemoryResponse)
    assert keys.keys == ("k",)


def test_a_refused_write_comes_back_as_a_typed_failure(hosted: ActorSystem) -> None:
    reply = hosted.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint(expected_version=4)))

    assert isinstance(reply, StoreRequestFailed)
    assert (reply.request_kind, reply.error_type, reply.transient) == (
        "store.save_checkpoint",
        "CheckpointConflictError",
        False,
    )
    with pytest.raises(CheckpointConflictError, match=r"^Checkpoint of flow 'f1' expected"):
        raise reply.to_error()


def test_a_second_store_actor_cannot_take_the_path(hosted: ActorSystem) -> None:
    with pytest.raises(ActorNameTakenError):
        spawn_store(hosted, MemoryStore())


class GatedStore(DelegatingStore):
    """A memory store whose first commit waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.batches: list[int] = []

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        self.batches.append(len(transactions))
        self.entered.set()
        assert self.gate.wait(5.0)
        return self.inner.commit_many(transactions)


def test_writes_that_queue_during_a_commit_are_committed_together(system: ActorSystem) -> None:
    store = GatedStore()
    spawn_store(system, store)
    probe = Probe(system)

    def send(i: int) -> None:
        write = MemoryPut(flow_id="f1", key=f"k{i}", value=i)
        system.send(
            STORE_PATH,
            WriteRequest(writes=(write,)),
            correlation_id=CorrelationId(f"c{i}"),
            reply_to=probe.path,
        )

    send(0)
    assert store.entered.wait(5.0)
    for i in range(1, 21):
        send(i)
    store.gate.set()
    replies = [probe.expect_envelope(timeout=5.0) for _ in range(21)]

    assert store.batches == [1, 20]
    assert sorted(r.correlation_id or "" for r in replies) == sorted(f"c{i}" for i in range(21))
    assert all(isinstance(r.message, WriteResponse) for r in replies)


def test_a_read_sees_writes_sent_before_it(hosted: ActorSystem) -> None:
    probe = Probe(hosted)
    for i in range(10):
        hosted.send(
            STORE_PATH,
            SaveCheckpointRequest(write=checkpoint(n=i + 1)),
            reply_to=probe.path,
        )

    loaded = hosted.ask(STORE_PATH, LoadCheckpointRequest(flow_id="f1"))

    assert isinstance(loaded, LoadCheckpointResponse)
    assert loaded.checkpoint is not None
    assert loaded.checkpoint.version == 10


class BrokenStore(DelegatingStore):
    """A memory store whose commits raise a bug (not a StoreError) while ``broken``."""

    broken = True

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        if self.broken:
            raise RuntimeError("bug in a backend")
        return self.inner.commit_many(transactions)


def test_an_unexpected_error_answers_every_held_request_then_fails_the_actor(
    system: ActorSystem,
) -> None:
    store = BrokenStore()
    spawn_store(system, store)

    reply = system.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint()))
    assert isinstance(reply, StoreRequestFailed)
    assert reply.error_type == "RuntimeError"
    assert isinstance(reply.to_error(), StoreError)
    store.broken = False
    again = system.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint()))

    assert isinstance(again, SaveCheckpointResponse)
    assert system.actor_statistics(STORE_PATH).restarts == 1


def test_an_injected_fault_comes_back_as_a_transient_failure(system: ActorSystem) -> None:
    store: Store = FaultyStore(MemoryStore(), error_rate=1.0, seed=1)
    spawn_store(system, store)

    reply = system.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint()))
    read = system.ask(STORE_PATH, ListFlowsRequest())

    assert isinstance(reply, StoreRequestFailed)
    assert reply.transient
    assert isinstance(reply.to_error(), StoreTransientError)
    assert isinstance(read, StoreRequestFailed)
    assert read.request_kind == "store.list_flows"
