"""Durable pending requests: written ahead to the store, they survive a restart with their
absolute deadline, and nothing of a change is seen outside before the store has it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import JsonValue

from actorflow import ActorSystem, FakeClock
from actorflow.human import (
    HUMAN_PATH,
    AnswerHumanRequest,
    DurablePendingRequests,
    HumanOutcome,
    HumanRequestsListed,
    HumanResponse,
    PendingLog,
    answer_human_request,
    human_handlers,
    spawn_human_gateway,
)
from actorflow.ids import ActorPath, SequentialIds
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.stores import (
    MemoryStore,
    SqliteStore,
    StorePendingLog,
    WriteRequest,
    WriteResponse,
    spawn_store,
)
from actorflow.testing import Probe, ScriptedHuman
from tests.human.support import ask, outcome, send

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the SQLite store lives across "processes"."""
    return tmp_path / "store.sqlite"


@pytest.fixture
def sqlite(path: Path) -> Iterator[SqliteStore]:
    """The store of one incarnation (closed after it)."""
    with SqliteStore(path) as store:
        yield store


@contextlib.contextmanager
def _incarnation(
    store: SqliteStore | MemoryStore, elapsed: float, handler: ScriptedHuman | None = None
) -> Iterator[tuple[ActorSystem, FakeClock]]:
    """A running system at START + elapsed with the store actor and a durable gateway
    (one "process"; shut down after)."""
    clock = FakeClock(START + timedelta(seconds=elapsed))
    with ActorSystem(clock=clock, ids=SequentialIds()) as system:
        spawn_store(system, store)
        spawn_human_gateway(system, handler, DurablePendingRequests(StorePendingLog(system)))
        yield system, clock


def test_a_request_is_in_the_store_with_its_absolute_deadline(sqlite: SqliteStore) -> None:
    with _incarnation(sqlite, elapsed=0) as (system, _clock):
        send(system, ask(timeout=100))

    entry = sqlite.get_human_request("r1")
    assert entry is not None
    assert (entry.status, entry.deadline) == ("open", START.timestamp() + 100)
    assert entry.record["request"]["message"] == "Proceed?"  # type: ignore[index,call-overload]


def test_a_restart_re_arms_the_stored_deadline_without_resetting_it(path: Path) -> None:
    with SqliteStore(path) as store, _incarnation(store, elapsed=0) as (system, _clock):
        send(system, ask(timeout=100))

    with SqliteStore(path) as store:  # a new process, 40 s later
        with _incarnation(store, elapsed=40) as (system, clock):
            requester = Probe(system, "requester")
            send(system, ask(timeout=100, reply_to=requester.path))  # the resumed requester
            clock.advance(59.9)
            assert requester.drain() == []
            clock.advance(0.1)
            response = outcome(requester)
        entry = store.get_human_request("r1")

    assert response.outcome is HumanOutcome.TIMED_OUT
    assert response.answered_at == START.timestamp() + 100
    assert entry is not None
    assert (entry.status, entry.deadline) == ("timed_out", START.timestamp() + 100)


def test_a_deadline_that_passed_while_down_applies_its_policy_at_start(path: Path) -> None:
    with SqliteStore(path) as store, _incarnation(store, elapsed=0) as (system, _clock):
        send(system, ask(timeout=100, on_timeout="default", default_value=False))

    with SqliteStore(path) as store, _incarnation(store, elapsed=500) as (system, _clock):
        requester = Probe(system, "requester")
        send(system, ask(timeout=100, reply_to=requester.path))
        response = outcome(requester)

    assert (response.outcome, response.value, response.used_default) == (
        HumanOutcome.TIMED_OUT,
        False,
        True,
    )


def test_an_ended_request_sent_again_after_a_restart_gets_its_stored_outcome(
    path: Path,
) -> None:
    with SqliteStore(path) as store, _incarnation(store, elapsed=0) as (system, _clock):
        send(system, ask(timeout=100))
        answer_human_request(system, "r1", value=True, responder="ada")
    human = ScriptedHuman({"Proceed?": False})

    with SqliteStore(path) as store, _incarnation(store, 10, human) as (system, _clock):
        requester = Probe(system, "requester")
        send(system, ask(timeout=100, reply_to=requester.path))
        response = outcome(requester)

    assert (response.outcome, response.value, response.responder) == (
        HumanOutcome.ANSWERED,
        True,
        "ada",
    )
    assert human.asked == []


def test_a_restarted_gateway_asks_a_handler_registered_after_it_started(path: Path) -> None:
    """The handler of a flow is registered when the flow runs again, after the gateway
    re-armed the request: the re-sent request reaches it."""
    with SqliteStore(path) as store, _incarnation(store, elapsed=0) as (system, _clock):
        send(system, ask(timeout=100, handler="flow-1"))
    human = ScriptedHuman({"Proceed?": True})

    with SqliteStore(path) as store, _incarnation(store, elapsed=10) as (system, _clock):
        requester = Probe(system, "requester")
        handlers = human_handlers(system)
        assert handlers is not None
        handlers.register("flow-1", human)
        system.tell(HUMAN_PATH, ask(timeout=100, handler="flow-1", reply_to=requester.path))
        response = outcome(requester)

    assert response.value is True
    assert [d.request_id for d in human.asked] == ["r1"]


# -- write-ahead: nothing is seen before the store acknowledged it ---------------------


class _ProbeLog:
    """A PendingLog whose "store" is a probe the test answers by hand."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    @property
    def path(self) -> ActorPath:
        return self.probe.path

    def load(self) -> Sequence[Mapping[str, JsonValue]]:
        return []

    def write_message(self, record: Mapping[str, JsonValue], **fields: object) -> Message:
        return WriteRequest(writes=())

    def write_error(self, reply: Message) -> str | None:
        return None if isinstance(reply, WriteResponse) else "refused"


def _ack(system: ActorSystem, store: Probe, env: Envelope | None = None) -> None:
    """Acknowledge the write ``env`` (default: the next one the probe store gets)."""
    env = env or store.expect_envelope(timeout=2.0)
    assert isinstance(env.message, WriteRequest)
    assert env.sender is not None
    system.send(
        env.sender, WriteResponse(receipts=()), sender=store.path,
        correlation_id=env.correlation_id,
    )  # fmt: skip


def test_an_outcome_is_told_only_once_its_write_is_acknowledged(
    fake_system: ActorSystem,
) -> None:
    store = Probe(fake_system, "store")
    requester = Probe(fake_system, "requester")
    log: PendingLog = _ProbeLog(store)
    spawn_human_gateway(fake_system, pending=DurablePendingRequests(log))
    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))
    fake_system.tell(HUMAN_PATH, AnswerHumanRequest(request_id="r1", value=True))
    _ack(fake_system, store)  # the request
    second = store.expect_envelope(timeout=2.0)  # the answer's write: not acknowledged yet
    fake_system.tell(requester.path, HumanRequestsListed())  # a marker, after that write

    before = requester.expect_envelope(timeout=2.0).message
    _ack(fake_system, store, second)
    after = outcome(requester)

    assert isinstance(before, HumanRequestsListed)
    assert (after.outcome, after.value) == (HumanOutcome.ANSWERED, True)


def test_the_handler_is_asked_only_once_the_request_is_stored(fake_system: ActorSystem) -> None:
    store = Probe(fake_system, "store")
    human = ScriptedHuman({"Proceed?": True})
    requester = Probe(fake_system, "requester")
    spawn_human_gateway(fake_system, human, DurablePendingRequests(_ProbeLog(store)))
    fake_system.tell(HUMAN_PATH, ask(reply_to=requester.path))
    held = store.expect_envelope(timeout=2.0)  # the request's write

    asked_before = list(human.asked)
    _ack(fake_system, store, held)
    _ack(fake_system, store)  # the answer's write
    response = outcome(requester)

    assert asked_before == []
    assert response.value is True


def test_a_write_the_store_refuses_is_logged_and_the_request_goes_on(
    fake_system: ActorSystem,
) -> None:
    closed = MemoryStore()
    closed.close()
    spawn_store(fake_system, closed)
    requester = Probe(fake_system, "requester")
    # a closed store cannot even be loaded: start empty
    pending = DurablePendingRequests(_NoLoad(StorePendingLog(fake_system)))
    spawn_human_gateway(fake_system, pending=pending)
    send(fake_system, ask(reply_to=requester.path))

    answer_human_request(fake_system, "r1", value=True)
    response: HumanResponse = outcome(requester)

    assert response.value is True


class _NoLoad:
    """A store log that starts empty (its store cannot be read)."""

    def __init__(self, log: StorePendingLog) -> None:
        self.log = log
        self.path = log.path

    def load(self) -> Sequence[Mapping[str, JsonValue]]:
        return []

    def write_message(self, record: Mapping[str, JsonValue], **fields: object) -> Message:
        return self.log.write_message(record, **fields)  # type: ignore[arg-type] # as given

    def write_error(self, reply: Message) -> str | None:
        return self.log.write_error(reply)


def test_a_request_re_sent_under_a_new_handler_name_is_asked_there(path: Path) -> None:
    """A resumed flow in a new process registers its callback under another name."""
    with SqliteStore(path) as store, _incarnation(store, elapsed=0) as (system, _clock):
        send(system, ask(timeout=100, handler="flows-1"))
    human = ScriptedHuman({"Proceed?": True})

    with SqliteStore(path) as store, _incarnation(store, elapsed=10) as (system, _clock):
        requester = Probe(system, "requester")
        handlers = human_handlers(system)
        assert handlers is not None
        handlers.register("flows-7", human)
        system.tell(HUMAN_PATH, ask(timeout=100, handler="flows-7", reply_to=requester.path))
        response = outcome(requester)

    assert response.value is True
    assert [d.request_id for d in human.asked] == ["r1"]
