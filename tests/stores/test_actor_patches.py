"""Checkpoint patches through the store actor: it hands them to the backend as patches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from actorflow import ActorSystem
from actorflow.stores import (
    STORE_PATH,
    CheckpointWrite,
    CommitResult,
    MemoryStore,
    SaveCheckpointRequest,
    SaveCheckpointResponse,
    StoreRequestFailed,
    Transaction,
    spawn_store,
)
from tests.stores.support import PLAN, DelegatingStore


def write(state: dict[str, Any], version: int) -> CheckpointWrite:
    return CheckpointWrite(
        flow_id="f",
        state=state,
        status="running",
        steps_done=0,
        steps_total=2,
        at=1.0,
        plan=PLAN if version == 0 else None,
        expected_version=version,
    )


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def hosted(system: ActorSystem, memory: MemoryStore) -> ActorSystem:
    spawn_store(system, memory)
    return system


WHOLE = {"status": "running", "steps": {"a": [1], "b": [2]}, "slots": 1}


def test_a_patch_replaces_top_level_keys_and_merges_the_named_ones(
    hosted: ActorSystem, memory: MemoryStore
) -> None:
    assert isinstance(
        hosted.ask(STORE_PATH, SaveCheckpointRequest(write=write(WHOLE, 0))), SaveCheckpointResponse
    )
    patch = {"steps": {"b": [3]}, "slots": 0}
    request = SaveCheckpointRequest(write=write(patch, 1), patch_of=1, merge=("steps",))

    reply = hosted.ask(STORE_PATH, request)

    assert isinstance(reply, SaveCheckpointResponse)
    assert reply.receipt.version == 2
    stored = memory.load_checkpoint("f")
    assert stored is not None
    assert stored.state == {"status": "running", "steps": {"a": [1], "b": [3]}, "slots": 0}


def test_a_patch_on_another_version_is_refused_as_a_conflict(
    hosted: ActorSystem, memory: MemoryStore
) -> None:
    hosted.ask(STORE_PATH, SaveCheckpointRequest(write=write(WHOLE, 0)))
    request = SaveCheckpointRequest(write=write({"slots": 5}, 1), patch_of=7, merge=("steps",))

    reply = hosted.ask(STORE_PATH, request)

    assert isinstance(reply, StoreRequestFailed)
    assert reply.error_type == "CheckpointConflictError"
    assert "Send the whole state" in reply.error
    stored = memory.load_checkpoint("f")
    assert stored is not None
    assert stored.version == 1


def test_a_patch_after_the_store_actor_lost_its_cache_is_made_whole_from_the_store(
    system: ActorSystem, memory: MemoryStore
) -> None:
    memory.save_checkpoint(write(WHOLE, 0))  # stored before this store actor started
    spawn_store(system, memory)
    request = SaveCheckpointRequest(write=write({"slots": 0}, 1), patch_of=1, merge=("steps",))

    reply = system.ask(STORE_PATH, request)

    assert isinstance(reply, SaveCheckpointResponse)
    stored = memory.load_checkpoint("f")
    assert stored is not None
    assert stored.state == {**WHOLE, "slots": 0}


class _Recording(DelegatingStore):
    """Keeps the checkpoint writes the backend was given."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[CheckpointWrite] = []

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        self.writes += [w for t in transactions for w in t if isinstance(w, CheckpointWrite)]
        return super().commit_many(transactions)


def test_the_backend_gets_a_patch_as_a_patch(system: ActorSystem) -> None:
    backend = _Recording()
    spawn_store(system, backend)
    system.ask(STORE_PATH, SaveCheckpointRequest(write=write(WHOLE, 0)))
    request = SaveCheckpointRequest(write=write({"slots": 0}, 1), patch_of=1, merge=("steps",))

    reply = system.ask(STORE_PATH, request)

    assert isinstance(reply, SaveCheckpointResponse)
    sent = backend.writes[-1]
    assert (sent.state, sent.patch_of, sent.merge) == ({"slots": 0}, 1, ("steps",))
    stored = backend.load_checkpoint("f")
    assert stored is not None
    assert stored.state == {**WHOLE, "slots": 0}
