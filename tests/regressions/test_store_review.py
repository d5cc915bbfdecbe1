"""Adversarial review of flows kept in the store: resume, write-ahead checkpoints, replan.

Each test reproduces one finding of the review; a test marked ``xfail`` fails today and
names its finding (the marker goes when the finding is fixed).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

import actorflow
from actorflow import ActorSystem, EnhancedFlow, FlowStatus
from actorflow.errors import CheckpointRejectedError, FlowError, StoreTransientError
from actorflow.flow.commands import Emit
from actorflow.flow.decider import decide
from actorflow.flow.fold import fold_journal
from actorflow.flow.messages import (
    RetryCheckpoint,
    RunFlow,
    SaveCheckpoint,
    StepAttemptFinished,
)
from actorflow.flow.models import FlowConfig, FlowPlan, create_flow_step
from actorflow.flow.persistence import DurableCheckpoints, plan_json, state_json
from actorflow.flow.stored import core_from_checkpoint
from actorflow.ids import ActorPath, CorrelationId, SequentialIds
from actorflow.journal.writer import JournalConfig
from actorflow.messages.base import Message
from actorflow.stores import (
    Checkpoint,
    CheckpointWrite,
    CommitResult,
    MemoryStore,
    SqliteStore,
    Transaction,
    spawn_store,
)
from actorflow.stores.messages import (
    SaveCheckpointResponse,
    StoreRequestFailed,
    WriteResponse,
)

T0 = 1_800_000_000.0


def _tool_step(sid: str, deps: Sequence[str] = (), tool: str = "t") -> Any:
    return create_flow_step(sid, "mcp_tool", {"tool_name": tool}, list(deps), id=sid)


def _plan(*steps: Any, flow_id: str = "f") -> FlowPlan:
    return FlowPlan(id=flow_id, name="p", steps=list(steps))


def _done(sid: str, attempt: int = 1) -> StepAttemptFinished:
    return StepAttemptFinished(flow_id="f", step_id=sid, attempt=attempt, ok=True, result="ok")


# -- F1: a newer state sent after an unacknowledged commit is taken for a duplicate -----


class _UnsureStore(MemoryStore):  # type: ignore[misc]  # a test double wrapping commit_many
    """A store whose next commit is stored but reported as failed (``committed=None``,
    as when the connection drops after COMMIT)."""

    def __init__(self) -> None:
        super().__init__()
        self.unsure_next = False

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        results = super().commit_many(transactions)
        if self.unsure_next:
            self.unsure_next = False
            raise StoreTransientError("connection lost after COMMIT (injected)", committed=None)
        return results


class _Ctx:
    """Just enough of a flow actor's Context for DurableCheckpoints: requests are asked
    of the real store actor and their replies kept, in order."""

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.path = ActorPath("/flows/f")
        self.log = logger
        self.replies: list[Message] = []
        self.scheduled: list[Message] = []
        self.told: list[Message] = []

    def request(self, to: ActorPath, message: Message, *, timeout: float) -> CorrelationId:
        self.replies.append(self.system.ask(to, message, timeout=5.0))
        return CorrelationId(f"c{len(self.replies)}")

    def schedule(self, delay: float, message: Message) -> None:
        self.scheduled.append(message)

    def tell(self, to: ActorPath, message: Message) -> None:
        self.told.append(message)


@pytest.fixture
def unsure() -> _UnsureStore:
    return _UnsureStore()


@pytest.fixture
def unsure_system(unsure: _UnsureStore) -> Iterator[ActorSystem]:
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, unsure)
        yield system


def _answer(durable: DurableCheckpoints, ctx: _Ctx) -> None:
    reply = ctx.replies[-1]
    if isinstance(reply, StoreRequestFailed):
        durable.failed(f"{reply.error_type}: {reply.error}", ctx, transient=reply.transient)  # type: ignore[arg-type]
    else:
        assert isinstance(reply, SaveCheckpointResponse | WriteResponse)
        durable.saved(reply, ctx)  # type: ignore[arg-type]


def test_a_newer_state_sent_after_an_unacknowledged_commit_is_stored_not_dropped(
    unsure_system: ActorSystem, unsure: _UnsureStore
) -> None:
    """The write of state 1 is committed but its reply is lost; meanwhile the flow ends
    (state 2). The retry sends state 2 under the write id of state 1, which the store
    takes for a duplicate: the flow is told its final state is stored, the store keeps
    the running one (and a resume runs the completed step ``b`` again)."""
    run = RunFlow(plan=_plan(_tool_step("a"), _tool_step("b")).freeze(), seed=1,
                  config={"default_step_timeout": None})  # fmt: skip
    s0, _ = decide(None, run, T0)
    ctx = _Ctx(unsure_system)
    durable = DurableCheckpoints("f")
    durable.save(s0, T0, ctx, final=False)  # type: ignore[arg-type]
    _answer(durable, ctx)
    s1, _ = decide(s0, _done("a"), T0 + 1)
    unsure.unsure_next = True
    durable.save(s1, T0 + 1, ctx, final=False)  # type: ignore[arg-type]
    _answer(durable, ctx)  # transient failure: a retry is scheduled
    s2, _ = decide(s1, _done("b"), T0 + 2)
    assert s2.status is FlowStatus.COMPLETED
    durable.save(s2, T0 + 2, ctx, final=True)  # type: ignore[arg-type]
    retry = ctx.scheduled[-1]
    assert isinstance(retry, RetryCheckpoint)
    durable.retry(retry, ctx)  # type: ignore[arg-type]
    _answer(durable, ctx)  # the same write again: the store says it has it
    _answer(durable, ctx)  # then the newer state, under its own write id
    assert not durable.behind  # the flow believes its final state is stored

    stored = unsure.load_checkpoint("f")
    assert stored is not None
    assert stored.state["status"] == "completed"


# -- F2: stored states are checked for shape only, not for sense --------------------------


def _stored(change: Callable[[dict[str, Any]], object]) -> Checkpoint:
    """A checkpoint of flow ``f`` (steps ``a``, ``b`` running, ``c`` after ``a``) with
    its state changed by ``change``; the checksum is the store's business, and anyone
    who can write the file can recompute it."""
    plan = _plan(_tool_step("a"), _tool_step("b"), _tool_step("c", ["a"])).freeze()
    core, _ = decide(None, RunFlow(plan=plan, seed=2), T0)
    state = json.loads(json.dumps(state_json(core)))
    change(state)
    return Checkpoint(flow_id="f", version=3, state=state, status="running", steps_done=0,
                      steps_total=3, at=T0, plan_hash="h", plan=plan_json(plan),
                      write_id="")  # fmt: skip


def _records(state: dict[str, Any], field: int, value: object) -> None:
    for record in state["steps"].values():
        record[field] = value


_STATUS, _WAITING, _LIVE = 0, 2, 7


def _idle_running(state: dict[str, Any]) -> None:
    """``a`` and ``b`` 'running' with no live attempt and no retry: nothing will ever
    happen to them."""
    _records(state, _LIVE, 0)


def _stuck_pending(state: dict[str, Any]) -> None:
    """Every step pending, no dependency to wait for, none ready: nothing starts."""
    for sid, record in state["steps"].items():
        record[_STATUS], record[_LIVE] = "pending", 0
        record[_WAITING] = 0 if sid != "c" else 1
    state.update(ready=[], slots=0)


def _settings(**changes: object) -> Callable[[dict[str, Any]], object]:
    return lambda state: state["spec"]["settings"].update(changes)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s.update(ready=["zz"]), id="ready-names-an-unknown-step"),
        pytest.param(lambda s: s.update(slots=10**9), id="slots-huge"),
        pytest.param(lambda s: s.update(slots=-5), id="slots-negative"),
        pytest.param(_idle_running, id="running-without-live-attempt-or-retry"),
        pytest.param(_stuck_pending, id="pending-steps-never-ready"),
        pytest.param(_settings(auto_save_interval=0), id="auto-save-interval-0"),
        pytest.param(_settings(max_parallel_steps="10"), id="max-parallel-steps-a-string"),
        pytest.param(_settings(max_parallel_steps=0), id="max-parallel-steps-0"),
        pytest.param(lambda s: s["spec"].update(order=["c", "a", "b"]), id="order-not-topological"),
    ],
)
def test_a_stored_state_that_breaks_the_deciders_invariants_is_rejected(
    change: Callable[[dict[str, Any]], object],
) -> None:
    with pytest.raises(CheckpointRejectedError, match="cannot be resumed"):
        core_from_checkpoint(_stored(change))


def _seed_store(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    checkpoint = _stored(change)
    store = SqliteStore(path)
    try:
        write = CheckpointWrite(
            flow_id="f",
            state=checkpoint.state,
            status="running",
            steps_done=0,
            steps_total=3,
            at=time.time(),
            plan=checkpoint.plan,
            expected_version=0,
            write_id="seed",
        )
        store.commit_many([(write,)])
    finally:
        store.close()


def _resume(path: Path, *, within: float) -> Any:
    async def main() -> Any:
        flow = EnhancedFlow(store=str(path))
        flow.register_tool("t", lambda: "ok")
        await flow.initialize()
        try:
            return await asyncio.wait_for(flow.resume("f"), within)
        finally:
            await flow.close()

    return asyncio.run(main())


def test_resuming_a_stored_flow_with_nothing_left_to_start_does_not_hang(tmp_path: Path) -> None:
    """'a' and 'b' are stored as running, without a live attempt or a retry: the resumed
    flow waits for nothing, forever (resume() returns after a week)."""
    path = tmp_path / "store.sqlite"
    _seed_store(path, _idle_running)

    with pytest.raises(CheckpointRejectedError):
        _resume(path, within=2.0)


def test_resuming_a_stored_flow_whose_ready_list_names_an_unknown_step_is_rejected(
    tmp_path: Path,
) -> None:
    """Today the flow actor crashes on a KeyError ('zz') and resume() raises a
    DeliveryFailedError instead of the documented CheckpointRejectedError."""
    path = tmp_path / "store.sqlite"
    _seed_store(path, lambda s: s.update(ready=["zz"]))

    with pytest.raises(CheckpointRejectedError):
        _resume(path, within=5.0)


# -- F3: a flow whose store keeps failing can never end -----------------------------------


class _DownStore(MemoryStore):  # type: ignore[misc]  # a test double wrapping commit_many
    """A store whose every commit fails for a passing reason (nothing stored)."""

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        raise StoreTransientError("disk I/O error (injected, for good)", committed=False)


def test_a_flow_whose_store_keeps_failing_still_ends_at_its_flow_timeout() -> None:
    """flow_timeout is 0.3 s. The final checkpoint can never be committed, so the flow
    never replies: execute() raises AskTimeoutError after 2 x flow_timeout, and the flow
    actor lives on, retrying the write every 5 s, until the system shuts down."""
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, _DownStore())
        flow = EnhancedFlow(system=system, config=FlowConfig(flow_timeout=0.3))
        flow.register_tool("t", lambda: "ok")
        plan = _plan(_tool_step("a"))

        async def main() -> Any:
            return await asyncio.wait_for(flow.execute(plan), 5.0)

        state = asyncio.run(main())

        assert state.status is FlowStatus.FAILED
        assert "checkpoint_error" in state.metadata


# -- F4: folding the journal of a flow stopped and resumed in one run --------------------


def test_folding_a_flow_stopped_and_resumed_in_one_journal_gives_its_live_final_state(
    tmp_path: Path,
) -> None:
    """The fold ignores the second ``flow.run`` (the resume, with its snapshot), folds
    the resumed run's events into the first run's state, and applies the first run's
    ``flow.stop`` after all of them: the fold ends FAILED, the live flow COMPLETED."""
    journal = tmp_path / "journal"
    gate, started = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        gate.wait(5.0)
        return "slow"

    system = ActorSystem(ids=SequentialIds(), journal=JournalConfig(path=journal)).start()
    try:
        spawn_store(system, MemoryStore())
        flow = EnhancedFlow(system=system)
        flow.register_tool("t", lambda: "ok")
        flow.register_tool("slow", slow)
        plan = _plan(_tool_step("a"), _tool_step("b", ["a"], tool="slow"))

        async def main() -> Any:
            first = asyncio.ensure_future(flow.execute(plan))
            assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 5.0)
            system.stop("/flows/f")
            stopped = await asyncio.wait_for(first, 5.0)
            assert stopped.status is FlowStatus.FAILED
            gate.set()
            return await asyncio.wait_for(flow.resume("f"), 5.0)

        live = asyncio.run(main())
    finally:
        gate.set()
        system.shutdown()
    folded = fold_journal(journal, "f")

    resumed = [
        step
        for step in folded.steps
        if any(isinstance(c, Emit) and c.event == "flow_resumed" for c in step.commands)
    ]
    assert live.status is FlowStatus.COMPLETED
    assert len(resumed) == 1  # the resume's flow.run is folded as a resume
    assert folded.state is not None
    assert folded.state.status is FlowStatus.COMPLETED


# -- F5: every checkpoint of a running flow writes its whole state (quadratic) ---------


class _MeasuringStore(MemoryStore):  # type: ignore[misc]  # a test double wrapping commit_many
    """A memory store that counts the JSON characters of the checkpoint states it keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.characters = 0
        self.checkpoints = 0

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        for transaction in transactions:
            for write in transaction:
                if isinstance(write, CheckpointWrite):
                    self.checkpoints += 1
                    self.characters += len(json.dumps(write.state, separators=(",", ":")))
        return super().commit_many(transactions)


@pytest.mark.xfail(
    "patch_of" not in CheckpointWrite.model_fields,
    strict=True,
    reason="F5 (fixed by backends that store patches: CheckpointWrite.patch_of)",
)
def test_checkpoints_of_a_long_chain_cost_in_proportion_to_its_length() -> None:
    """A chain of 400 steps: each checkpoint (two per step) stores the records of all
    400 steps, so the flow writes ~N^2 record encodings (10 MB here; a 2,000-step chain
    spends 10 ms per step against 0.2 ms without a store, a 4,000-step one 28 ms)."""
    steps = 400
    store = _MeasuringStore()
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, store)
        flow = EnhancedFlow(system=system)
        flow.register_tool("t", lambda: "ok", inline=True)
        chain = [_tool_step(f"s{i}", [f"s{i - 1}"] if i else []) for i in range(steps)]
        state = flow.execute_sync(_plan(*chain))

    assert state.status is FlowStatus.COMPLETED
    assert store.characters / store.checkpoints < 50 * 100  # a handful of records each


# -- F6: two facades on one store file in one process run one flow twice at once ------


def test_a_flow_running_in_one_facade_cannot_be_resumed_by_another_on_the_same_file(
    tmp_path: Path,
) -> None:
    """Both facades share one SqliteStore (acquire_store), so the process lock never
    refuses the second: its resume() starts the running attempt again while the first
    still runs it (same idempotency key, twice at once); the first then loses the store
    (CheckpointConflictError) yet reports COMPLETED."""
    path = str(tmp_path / "store.sqlite")
    keys: list[str] = []
    gate, first_call = threading.Event(), threading.Event()

    def slow() -> str:
        keys.append(actorflow.idempotency_key())
        if len(keys) == 1:
            first_call.set()
            gate.wait(5.0)
        return "done"

    async def main() -> None:
        one, two = EnhancedFlow(store=path), EnhancedFlow(store=path)
        for facade in (one, two):
            facade.register_tool("slow", slow)
            await facade.initialize()
        running = asyncio.ensure_future(one.execute(_plan(_tool_step("s", tool="slow"))))
        try:
            assert await asyncio.get_running_loop().run_in_executor(None, first_call.wait, 5.0)
            with pytest.raises(FlowError, match="running"):
                await asyncio.wait_for(two.resume("f"), 5.0)
        finally:
            gate.set()
            await asyncio.wait_for(running, 5.0)
            await one.close()
            await two.close()

    asyncio.run(main())

    assert keys == ["f/s/1"]


# -- F7: a plan whose id the store knows cannot run again --------------------------------


def test_a_plan_run_again_under_its_id_completes_with_a_store() -> None:
    """Running a plan with a fixed id twice (two runs of one script with the default
    store of create_enhanced_flow(), or twice in one facade) fails the second run before
    any step starts: its first checkpoint expects version 0, the store holds the first
    run's, and the flow is failed with 'CheckpointConflictError ... another writer'."""
    calls: list[int] = []
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, MemoryStore())
        flow = EnhancedFlow(system=system)

        def tool() -> str:
            calls.append(1)
            return "ok"

        flow.register_tool("t", tool)
        plan = _plan(_tool_step("a"), flow_id="report")
        first = flow.execute_sync(plan)
        second = flow.execute_sync(plan)

    assert first.status is FlowStatus.COMPLETED
    assert second.status is FlowStatus.COMPLETED, second.error
    assert len(calls) == 2


# -- F8: an unexpected error of the backend fails the flow as a refusal ------------------


class _HiccupStore(MemoryStore):  # type: ignore[misc]  # a test double wrapping commit_many
    """A memory store whose third commit raises an unexpected error once (a bug, a
    MemoryError); the store actor is restarted and works again."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

    def commit_many(self, transactions: Sequence[Transaction]) -> list[CommitResult]:
        self.commits += 1
        if self.commits == 3:
            raise RuntimeError("unexpected backend error (injected, once)")
        return super().commit_many(transactions)


def test_a_one_off_unexpected_store_error_pauses_the_flow_instead_of_failing_it() -> None:
    """failure_reply marks every error but StoreTransientError as not transient, so the
    flow takes a RuntimeError for 'the store refused its checkpoint' and fails, though
    the store actor was restarted and commits the next write."""
    store = _HiccupStore()
    with ActorSystem(ids=SequentialIds()) as system:
        spawn_store(system, store)
        flow = EnhancedFlow(system=system)
        flow.register_tool("t", lambda: "ok")
        chain = [_tool_step(f"s{i}", [f"s{i - 1}"] if i else []) for i in range(5)]
        state = flow.execute_sync(_plan(*chain))

    assert store.commits > 3
    assert state.status is FlowStatus.COMPLETED, state.error


# -- F9: a store that cannot be opened leaks the facade's started actor system ----------


def test_a_facade_whose_store_cannot_be_opened_leaves_no_actor_system_running(
    tmp_path: Path,
) -> None:
    """EnhancedFlow.system starts its ActorSystem, then opens the store: when opening
    fails (not a store, StoreLockedError from another process holding the default
    store...), the started system is neither kept nor shut down, and close() cannot
    reach it. Each failed initialize() leaves five actor threads behind."""
    path = tmp_path / "store.sqlite"
    path.write_text("not a database")
    before = {t.ident for t in threading.enumerate()}

    async def main() -> None:
        flow = EnhancedFlow(store=str(path))
        with pytest.raises(actorflow.ActorflowError):
            await flow.initialize()
        await flow.close()

    asyncio.run(main())
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]

    assert left == []


# -- F10: a lone surrogate in a step result breaks the SQLite group commit ---------------


def _write(flow_id: str, state: dict[str, Any]) -> CheckpointWrite:
    return CheckpointWrite(
        flow_id=flow_id,
        state=state,
        status="running",
        steps_done=0,
        steps_total=1,
        at=T0,
        expected_version=0,
        write_id=f"{flow_id}@1",
    )


def test_one_unencodable_checkpoint_does_not_sink_the_other_flows_of_its_group_commit(
    tmp_path: Path,
) -> None:
    """SqliteStore.commit_many raises UnicodeEncodeError (not a StoreError) for a state
    holding '\\ud800', so the store actor answers every request of the batch with a
    non-transient failure: every flow committed with it fails ('the store refused its
    checkpoint: UnicodeEncodeError'), and the store actor restarts. (MemoryStore stores
    it: the backends disagree.)"""
    store = SqliteStore(tmp_path / "store.sqlite")
    try:
        results = store.commit_many([(_write("bad", {"r": "x\ud800"}),), (_write("good", {}),)])
        good = store.load_checkpoint("good")
    finally:
        store.close()

    assert not isinstance(results[1], BaseException)
    assert good is not None


def test_a_flow_whose_result_cannot_be_stored_reports_what_the_store_holds(
    tmp_path: Path,
) -> None:
    """The tool returns 'x\\ud800y' (strict_json takes it). The flow replies COMPLETED
    (with a checkpoint_error), while the store keeps its last running state: a later
    resume runs the step again."""

    async def main() -> Any:
        flow = EnhancedFlow(store=str(tmp_path / "store.sqlite"))
        flow.register_tool("t", lambda: "x\ud800y")
        await flow.initialize()
        try:
            state = await asyncio.wait_for(flow.execute(_plan(_tool_step("a"))), 5.0)
            return state, await flow.get_state("f")
        finally:
            await flow.close()

    state, stored = asyncio.run(main())

    assert stored is not None
    assert stored.status is state.status


# -- F11: an idle flow writes a new checkpoint version at every auto-save tick ----------


def test_an_auto_save_of_an_unchanged_state_writes_nothing(
    unsure_system: ActorSystem, unsure: _UnsureStore
) -> None:
    """With a store every change is saved already, yet each SaveCheckpoint tick (every
    auto_save_interval, 30 s) of an unchanged state is one more transaction and version:
    a flow waiting an hour for a person writes 120 empty checkpoints, 10,000 such flows
    333 commits a second."""
    run = RunFlow(plan=_plan(_tool_step("a")).freeze(), seed=1)
    core, _ = decide(None, run, T0)
    ctx = _Ctx(unsure_system)
    durable = DurableCheckpoints("f")
    durable.save(core, T0, ctx, final=False)  # type: ignore[arg-type]
    _answer(durable, ctx)
    ticked, _ = decide(core, SaveCheckpoint(), T0 + 30)
    durable.save(ticked, T0 + 30, ctx, final=False)  # type: ignore[arg-type]

    assert len(ctx.replies) == 1
    stored = unsure.load_checkpoint("f")
    assert stored is not None
    assert stored.version == 1
