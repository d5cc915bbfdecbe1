"""The store actor: requests and replies by message, group commit, typed failure replies."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pytest

from actorflow import ActorPath, ActorSystem, Behaviour, Context, Message, recipe
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
    SqliteStore,
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


# -- where the store actor runs --------------------------------------------------------


class _NeverWaits(DelegatingStore):
    """A delegating store that says its commits never wait on the disk; records the
    size of each group commit."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    @property
    def is_blocking(self) -> bool:
        return False

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        self.batches.append(len(transactions))
        return self.inner.commit_many(transactions)


def test_a_store_that_never_waits_on_the_disk_runs_on_the_event_loop(
    hosted: ActorSystem,
) -> None:
    reply = hosted.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint()))

    assert isinstance(reply, SaveCheckpointResponse)
    assert hosted.cell_at(STORE_PATH).thread is None  # type: ignore[union-attr]


def test_a_store_that_does_not_say_it_never_waits_gets_a_thread(system: ActorSystem) -> None:
    spawn_store(system, DelegatingStore())

    assert system.cell_at(STORE_PATH).thread is not None  # type: ignore[union-attr]


def test_the_caller_may_choose_where_the_store_actor_runs(system: ActorSystem) -> None:
    spawn_store(system, MemoryStore(), dispatcher="thread")
    reply = system.ask(STORE_PATH, SaveCheckpointRequest(write=checkpoint()))

    assert isinstance(reply, SaveCheckpointResponse)
    assert system.cell_at(STORE_PATH).thread is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(("synchronous", "blocking"), [("off", False), ("normal", False),
                                                       ("full", True)])  # fmt: skip
def test_a_sqlite_store_waits_on_the_disk_only_with_synchronous_full(
    tmp_path: Path, synchronous: str, blocking: bool
) -> None:
    with SqliteStore(tmp_path / "s.db", synchronous=synchronous) as store:
        assert store.is_blocking is blocking


class Fire(Message):
    """Asks a burst actor to send its writes."""

    kind: Literal["test.store_burst"] = "test.store_burst"


class _Burst(Behaviour):
    """Sends ``count`` writes to the store in one handler (so all are queued before the
    store actor, on the same loop, handles any), answered to ``reply_to``."""

    def __init__(self, reply_to: ActorPath, count: int) -> None:
        self.reply_to = reply_to
        self.count = count

    def on_fire(self, msg: Fire, ctx: Context) -> None:
        for i in range(self.count):
            write = MemoryPut(flow_id="f1", key=f"k{i}", value=i)
            ctx.system.send(
                STORE_PATH,
                WriteRequest(writes=(write,)),
                correlation_id=CorrelationId(f"c{i}"),
                reply_to=self.reply_to,
            )


def test_writes_queued_together_on_the_event_loop_are_committed_together(
    system: ActorSystem,
) -> None:
    store = _NeverWaits()
    spawn_store(system, store)
    probe = Probe(system)
    burst = system.spawn(recipe(_Burst, probe.path, 20), "burst", dispatcher="loop")

    system.tell(burst, Fire())
    replies = [probe.expect_envelope(timeout=5.0) for _ in range(20)]

    assert store.batches == [20]
    assert all(isinstance(r.message, WriteResponse) for r in replies)
