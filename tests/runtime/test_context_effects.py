"""ctx.run_effect: async and blocking work outside the actor, outcomes back as messages."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial
from typing import Literal

import pytest

from actorflow import (
    ActorSystem,
    Behaviour,
    ConfigurationError,
    Context,
    DeadLetterReason,
    EffectCompleted,
    EffectFailed,
    FakeClock,
    Message,
    recipe,
)
from actorflow.messages import EffectRecorded
from tests.support import Log, Work


class RunAll(Message):
    """Start one effect per named work of the Runner."""

    kind: Literal["test.run_all"] = "test.run_all"
    names: tuple[str, ...]
    timeout: float | None = None


class Release(Message):
    """Open the gate a blocking effect waits on."""

    kind: Literal["test.release"] = "test.release"


class Runner(Behaviour):
    """Starts effects from a table of named works and logs every outcome message."""

    def __init__(self, log: Log, works: dict[str, Callable[[], object]]) -> None:
        self.log = log
        self.works = works
        self.gate = threading.Event()

    def on_run_all(self, msg: RunAll, ctx: Context) -> None:
        for name in msg.names:
            effect_id = ctx.run_effect(self.works[name], name=name, timeout=msg.timeout)
            self.log.add(("started", name, effect_id))

    def on_release(self, msg: Release, ctx: Context) -> None:
        self.gate.set()
        self.log.add("released")

    def on_effect_completed(self, msg: EffectCompleted, ctx: Context) -> None:
        assert ctx.envelope is not None
        assert ctx.envelope.correlation_id == msg.effect_id
        self.log.add(("completed", msg.name, msg.effect_id, msg.result))

    def on_effect_failed(self, msg: EffectFailed, ctx: Context) -> None:
        self.log.add(("failed", msg.name, msg.error.error_type, msg.error.message))

    def on_work(self, msg: Work, ctx: Context) -> None:
        raise ValueError("asked to fail")


def _ids(log: Log) -> dict[str, object]:
    return {item[1]: item[2] for item in log.snapshot() if item[0] == "started"}  # type: ignore[index]


def _outcomes(log: Log) -> list[object]:
    return [i for i in log.snapshot() if isinstance(i, tuple) and i[0] in ("completed", "failed")]


def _wait_outcomes(log: Log, count: int) -> None:
    log.wait_until(lambda _items: len(_outcomes(log)) == count)


@pytest.mark.parametrize("dispatcher", ["thread", "loop"])
def test_an_actor_gets_the_results_of_an_async_and_a_blocking_effect_as_messages(
    system: ActorSystem, dispatcher: Literal["thread", "loop"]
) -> None:
    log = Log()
    threads: dict[str, str] = {}

    async def ask_model() -> dict[str, object]:
        threads["async"] = threading.current_thread().name
        await asyncio.sleep(0)
        return {"answer": 42}

    def read_file(runner: list[Runner]) -> list[str]:
        threads["blocking"] = threading.current_thread().name
        assert runner[0].gate.wait(5), "the actor did not handle Release meanwhile"
        return ["line 1", "line 2"]

    built: list[Runner] = []

    def build() -> Runner:
        built.append(Runner(log, {"model": ask_model, "file": partial(read_file, built)}))
        return built[-1]

    path = system.spawn(recipe(build), "runner", dispatcher=dispatcher)
    system.tell(path, RunAll(names=("file", "model")))
    system.tell(path, Release())  # handled while the blocking effect waits for it

    _wait_outcomes(log, 2)
    ids = _ids(log)
    assert sorted(_outcomes(log), key=str) == [
        ("completed", "file", ids["file"], ["line 1", "line 2"]),
        ("completed", "model", ids["model"], {"answer": 42}),
    ]
    assert ids["file"] != ids["model"]
    assert threads["async"] == "actorflow-effects"
    assert threads["blocking"].startswith("actorflow-effects-pool-")


def test_an_error_arrives_as_effect_failed_with_the_errors_type(system: ActorSystem) -> None:
    log = Log()

    async def broken_model() -> str:
        raise ValueError("model refused")

    def missing_key() -> str:
        raise KeyError("key")

    works: dict[str, Callable[[], object]] = {
        "async": broken_model,
        "blocking": missing_key,
        "binary": lambda: b"\x00",
    }
    path = system.spawn(recipe(Runner, log, works), "runner")
    system.tell(path, RunAll(names=("async", "blocking", "binary")))

    _wait_outcomes(log, 3)
    failed = {item[1]: item[2:] for item in _outcomes(log)}  # type: ignore[index]
    assert failed["async"] == ("builtins.ValueError", "model refused")
    assert failed["blocking"] == ("builtins.KeyError", "'key'")
    error_type, message = failed["binary"]
    assert error_type == "actorflow.errors.EffectResultError"
    assert str(message).startswith("Effect 'binary' of actor '/agents/runner' returned a bytes,")


def test_stopping_the_actor_cancels_a_pending_coroutine_effect_and_delivers_nothing(
    system: ActorSystem,
) -> None:
    log = Log()
    started = threading.Event()

    async def forever() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            log.add("cancelled")
            raise
        return "never"

    records: list[EffectRecorded] = []
    system.subscribe(lambda e: records.append(e) if isinstance(e, EffectRecorded) else None)
    path = system.spawn(recipe(Runner, log, {"forever": forever}), "runner")
    system.tell(path, RunAll(names=("forever",)))
    assert started.wait(5)

    system.stop(path)
    log.wait_for("cancelled")
    system.effects.submit(_noop, lambda _r, _e: log.add("loop turned"))  # after the outcome
    log.wait_for("loop turned")

    assert _outcomes(log) == []
    assert system.dead_letters.counts().get(DeadLetterReason.STOPPED, 0) == 0
    (record,) = records
    assert record.name == _ids(log)["forever"]
    assert record.value == {"name": "forever", "ok": False, "cancelled": True}


async def _noop() -> None:
    return None


def test_restarting_the_actor_cancels_its_pending_effects(system: ActorSystem) -> None:
    log = Log()
    started = threading.Event()

    async def forever() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            log.add("cancelled")
            raise
        return "never"

    path = system.spawn(recipe(Runner, log, {"forever": forever, "quick": _quick}), "runner")
    system.tell(path, RunAll(names=("forever",)))
    assert started.wait(5)
    system.tell(path, Work(n=1))  # fails: the /agents guardian restarts the runner
    log.wait_for("cancelled")
    system.tell(path, RunAll(names=("quick",)))  # the new behaviour still runs effects

    _wait_outcomes(log, 1)
    assert _outcomes(log) == [("completed", "quick", _ids(log)["quick"], "quick")]
    assert system.actor_statistics(path).restarts == 1


async def _quick() -> str:
    return "quick"


def test_a_blocking_effect_past_its_timeout_fails_with_a_timeout_error(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    log = Log()
    release = threading.Event()

    def slow() -> bool:
        log.add("slow started")
        return release.wait(10)

    path = fake_system.spawn(recipe(Runner, log, {"slow": slow}), "runner")
    try:
        fake_system.tell(path, RunAll(names=("slow",), timeout=5.0))
        log.wait_for("slow started")
        assert clock.wait_for_timers(1, timeout=5)
        clock.advance(5.0)

        _wait_outcomes(log, 1)
        (outcome,) = _outcomes(log)
        assert outcome[:3] == ("failed", "slow", "builtins.TimeoutError")  # type: ignore[index]
        assert fake_system.effects.statistics().abandoned == 1
    finally:
        release.set()


def test_the_outcome_is_recorded_as_an_effect_during_the_delivery_that_started_it(
    system: ActorSystem,
) -> None:
    log = Log()
    records: list[EffectRecorded] = []
    system.subscribe(lambda e: records.append(e) if isinstance(e, EffectRecorded) else None)
    seqs: list[int] = []
    system.add_tap(lambda env: seqs.append(env.seq) if type(env.message) is RunAll else None)
    path = system.spawn(recipe(Runner, log, {"quick": _quick}), "runner")
    system.tell(path, RunAll(names=("quick",)))

    _wait_outcomes(log, 1)
    (record,) = records
    assert (record.actor, record.effect, record.name) == (path, "effect", _ids(log)["quick"])
    assert record.value == {"name": "quick", "ok": True, "result": "quick"}
    assert record.during_seq == seqs[0]


def test_work_that_is_not_callable_is_a_configuration_error(system: ActorSystem) -> None:
    class Bad(Behaviour):
        def on_start(self, ctx: Context) -> None:
            with pytest.raises(ConfigurationError, match=r"^ctx.run_effect\(\) got 42 \(int\)"):
                ctx.run_effect(42)  # type: ignore[arg-type]
            log.add("checked")

    log = Log()
    system.spawn(Bad, "bad")

    log.wait_for("checked")
