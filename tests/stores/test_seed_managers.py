"""The seed's state and memory manager APIs over the SQLite store."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from actorflow import FakeClock
from actorflow.errors import CheckpointRejectedError, StoreDataError
from actorflow.flow.models import (
    FlowPlan,
    FlowState,
    FlowStatus,
    StepState,
    StepStatus,
    create_flow_step,
)
from actorflow.flow.state import (
    IMemoryManager,
    IStateManager,
    SqliteMemoryManager,
    SqliteStateManager,
)
from actorflow.stores import SqliteStore


def flow_state(flow_id: str = "f1") -> FlowState:
    a = create_flow_step("a", "tool", {"tool": "echo"}, id="a")
    b = create_flow_step("b", "tool", {"tool": "echo"}, ["a"], id="b")
    plan = FlowPlan(id=flow_id, name="demo", steps=[a, b]).freeze()
    return FlowState(
        flow_id=flow_id,
        status=FlowStatus.RUNNING,
        steps={
            "a": StepState(
                status=StepStatus.COMPLETED,
                attempts=1,
                result={"out": [1, 2]},
                started_at=datetime(2026, 1, 1, tzinfo=UTC),
                completed_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
            ),
            "b": StepState(status=StepStatus.RUNNING, attempts=2),
        },
        variables={"x": 1},
        metadata={"plan_version": 1},
        plan=plan,
    )


def test_the_sqlite_managers_implement_the_seed_protocols(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db") as store:
        assert isinstance(SqliteStateManager(store), IStateManager)
        assert isinstance(SqliteMemoryManager(store), IMemoryManager)


def test_a_saved_state_loads_back_equal_in_a_new_store_object(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = flow_state()
    clock = FakeClock(start=datetime(2026, 1, 1, tzinfo=UTC))
    manager = SqliteStateManager(path, clock=clock)
    asyncio.run(manager.save_state("f1", state))
    manager.close()

    again = SqliteStateManager(path)
    loaded = asyncio.run(again.load_state("f1"))
    flows = asyncio.run(again.list_flows())
    listed = again.store.list_flows()
    again.close()

    assert loaded == state
    assert flows == ["f1"]
    assert (listed[0].status, listed[0].steps_done, listed[0].steps_total) == ("running", 1, 2)
    assert listed[0].updated_at == clock.time()


def test_an_unknown_flow_loads_as_none_and_deleting_forgets_a_flow(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db") as store:
        manager = SqliteStateManager(store)
        assert asyncio.run(manager.load_state("nope")) is None
        asyncio.run(manager.save_state("f1", flow_state()))
        asyncio.run(manager.delete_state("f1"))

        assert asyncio.run(manager.load_state("f1")) is None
        assert asyncio.run(manager.list_flows()) == []


def test_a_stored_state_that_is_no_flow_state_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as store:
        asyncio.run(SqliteStateManager(store).save_state("f1", flow_state()))
    conn = sqlite3.connect(path)
    with conn:
        text = '{"flow_id": "f1", "status": "sleeping"}'
        digest = hashlib.sha256(text.encode()).hexdigest()
        conn.execute("UPDATE checkpoints SET state = ?, state_sha256 = ?", (text, digest))
    conn.close()

    with (
        SqliteStore(path) as store,
        pytest.raises(
            CheckpointRejectedError,
            match=r"^The stored checkpoint 1 of flow 'f1' in .* is not a valid",
        ),
    ):
        asyncio.run(SqliteStateManager(store).load_state("f1"))


def test_memory_is_stored_per_flow_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    memory = SqliteMemoryManager(path)
    asyncio.run(memory.store_memory("f1", "notes", {"seen": ["a", "b"]}))
    asyncio.run(memory.store_memory("f2", "notes", 2))
    asyncio.run(memory.delete_memory("f2", "notes"))
    memory.close()

    again = SqliteMemoryManager(path)
    value = asyncio.run(again.retrieve_memory("f1", "notes"))
    missing = asyncio.run(again.retrieve_memory("f2", "notes"))
    keys = asyncio.run(again.list_memory("f1"))
    again.close()

    assert value == {"seen": ["a", "b"]}
    assert missing is None
    assert keys == ["notes"]


def test_a_memory_value_that_is_not_json_is_refused(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db") as store:
        memory = SqliteMemoryManager(store)
        with pytest.raises(
            StoreDataError,
            match=r"^Cannot build a MemoryPut for flow 'f1': value: input was not a valid JSON",
        ):
            asyncio.run(memory.store_memory("f1", "k", {1, 2}))  # type: ignore[arg-type]


def test_released_memory_is_kept_for_its_retention_then_purged(tmp_path: Path) -> None:
    clock = FakeClock()
    with SqliteStore(tmp_path / "s.db") as store:
        memory = SqliteMemoryManager(store, clock=clock)
        asyncio.run(memory.store_memory("f1", "k", 1))
        assert asyncio.run(memory.release_memory("f1", retain_for=60.0)) == 0
        clock.advance(59.0)
        assert asyncio.run(memory.purge_memory()) == 0
        clock.advance(1.0)

        assert asyncio.run(memory.purge_memory()) == 1
        assert asyncio.run(memory.list_memory("f1")) == []


def test_both_managers_share_one_store(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db") as store:
        states, memory = SqliteStateManager(store), SqliteMemoryManager(store)
        asyncio.run(states.save_state("f1", flow_state()))
        asyncio.run(memory.store_memory("f1", "k", 1))
        states.close()  # not its store: stays open

        assert store.list_memory("f1") == ("k",)
        assert asyncio.run(states.list_flows()) == ["f1"]
