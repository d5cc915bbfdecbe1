"""The agent communication hub: request/response with timeouts, inbox order and bounds,
forwarding to live agents, broadcasts, refusals, the journal, and the seed's example."""

from __future__ import annotations

import asyncio
import math
import runpy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from actorflow import (
    ActorSystem,
    Behaviour,
    Context,
    FakeClock,
    Message,
    RequestTimedOut,
    recipe,
)
from actorflow.agents import _owned
from actorflow.agents._inboxes import HubState
from actorflow.agents.communication import (
    AgentInboxFullError,
    AgentMessage,
    AgentMessageFailed,
    AgentResponse,
    AgentResponseRefusedError,
    CommunicationType,
    HubMembership,
    InvalidAgentMessageError,
    JoinHub,
    MessageAccepted,
    ReceiveMessages,
    agent_error,
)
from actorflow.agents.hub import HUB_PATH, AgentCommunicationHub, CommunicationHub, ensure_hub
from actorflow.errors import AgentResponseTimeoutError, AgentTaskFailedError
from actorflow.ids import SequentialIds
from actorflow.journal import JournalConfig, open_journal
from actorflow.messages.envelope import Envelope

SEED_EXAMPLE = Path(__file__).parent / "seed" / "inter_agent_communication.py"


def request(
    receiver: str = "agent_2", *, timeout: float = 300.0, msg_id: str = "msg_001", **kw: Any
) -> AgentMessage:
    return AgentMessage(
        id=msg_id,
        sender_id=kw.pop("sender_id", "agent_1"),
        receiver_id=receiver,
        message_type=CommunicationType.REQUEST,
        content=kw.pop("content", {"action": "analyze_data"}),
        requires_response=True,
        response_timeout=timeout,
        **kw,
    )


def note(receiver: str, n: int, sender: str = "agent_1") -> AgentMessage:
    return AgentMessage(id=f"{sender}-{n}", sender_id=sender, receiver_id=receiver, content=n)


@pytest.fixture
def hub(fake_system: ActorSystem) -> AgentCommunicationHub:
    """A hub over the FakeClock system."""
    return AgentCommunicationHub(fake_system)


async def armed(clock: FakeClock, count: int = 1) -> None:
    """Wait until the hub has armed ``count`` timers (so advancing the clock fires them)."""
    assert await asyncio.to_thread(clock.wait_for_timers, count, 10.0)


class Echo(Behaviour):
    """An agent actor: answers each message that requires a response, through the hub."""

    def __init__(self, seen: list[AgentMessage] | None = None) -> None:
        self.seen = [] if seen is None else seen

    def on_agent_message(self, msg: AgentMessage, ctx: Context) -> None:
        self.seen.append(msg)
        if msg.requires_response:
            answer = AgentResponse(
                message_id=msg.id, sender_id="echo", content={"echo": msg.content}
            )
            ctx.tell(HUB_PATH, answer)


class Clumsy(Behaviour):
    """An agent actor that fails on every message."""

    def on_agent_message(self, msg: AgentMessage, ctx: Context) -> None:
        raise RuntimeError(f"cannot do {msg.id}")


# -- request / response -----------------------------------------------------------------


def test_send_message_returns_the_response_the_receiver_sends(
    hub: AgentCommunicationHub,
) -> None:
    async def exchange() -> tuple[AgentResponse | None, list[AgentMessage]]:
        asking = asyncio.create_task(hub.send_message(request()))
        received = await hub.receive_messages("agent_2", wait=60)
        await hub.send_response(received[0].id, {"status": "completed"})
        return await asking, received

    response, received = asyncio.run(exchange())

    assert [m.id for m in received] == ["msg_001"]
    assert received[0].content == {"action": "analyze_data"}
    assert isinstance(response, AgentResponse)
    assert response.message_id == "msg_001"
    assert response.sender_id == "agent_2"  # filled in: the message's receiver answered
    assert response.content == {"status": "completed"}


def test_a_request_nobody_answers_times_out_on_the_system_clock(
    hub: AgentCommunicationHub, clock: FakeClock
) -> None:
    async def unanswered() -> None:
        asking = asyncio.create_task(hub.send_message(request()))
        await armed(clock)
        clock.advance(299.0)
        assert not asking.done()
        clock.advance(1.0)
        await asking

    with pytest.raises(
        AgentResponseTimeoutError,
        match=r"^Agent 'agent_2' gave no response to message 'msg_001' in 300 s\. ",
    ):
        asyncio.run(unanswered())


def test_a_response_after_the_timeout_is_refused_and_the_message_stays_queued(
    hub: AgentCommunicationHub, clock: FakeClock
) -> None:
    async def late() -> list[AgentMessage]:
        asking = asyncio.create_task(hub.send_message(request(timeout=5)))
        await armed(clock)
        clock.advance(5.0)
        with pytest.raises(AgentResponseTimeoutError):
            await asking
        received = await hub.receive_messages("agent_2")
        await hub.send_response("msg_001", "too late")
        return received

    with pytest.raises(
        AgentResponseRefusedError,
        match=r"^Agent message 'msg_001' was timed out already, so this response is refused",
    ):
        asyncio.run(late())


def test_only_the_first_response_counts(hub: AgentCommunicationHub) -> None:
    async def twice() -> AgentResponse | None:
        asking = asyncio.create_task(hub.send_message(request()))
        await hub.receive_messages("agent_2", wait=60)
        await hub.send_response("msg_001", "first")
        with pytest.raises(AgentResponseRefusedError, match=r"was answered already"):
            await hub.send_response("msg_001", "second")
        return await asking

    response = asyncio.run(twice())

    assert response is not None
    assert response.content == "first"


def test_a_response_to_an_unknown_message_is_refused(hub: AgentCommunicationHub) -> None:
    with pytest.raises(AgentResponseRefusedError, match=r"^No agent message 'nope' waits"):
        asyncio.run(hub.send_response("nope", {"status": "done"}))


def test_only_the_receiver_may_answer(hub: AgentCommunicationHub) -> None:
    async def impostor() -> AgentResponse | None:
        asking = asyncio.create_task(hub.send_message(request()))
        await hub.receive_messages("agent_2", wait=60)
        with pytest.raises(AgentResponseRefusedError, match=r"came from 'agent_3'"):
            await hub.send_response("msg_001", "mine", sender_id="agent_3")
        await hub.send_response("msg_001", "ok", sender_id="agent_2")
        return await asking

    response = asyncio.run(impostor())

    assert response is not None
    assert (response.sender_id, response.content) == ("agent_2", "ok")


def test_a_receiver_can_say_it_could_not_do_it(hub: AgentCommunicationHub) -> None:
    async def refuse() -> AgentResponse | None:
        asking = asyncio.create_task(hub.send_message(request()))
        await hub.receive_messages("agent_2", wait=60)
        await hub.send_response("msg_001", {"why": "no data"}, error="dataset missing")
        return await asking

    response = asyncio.run(refuse())

    assert response is not None
    assert response.error == "dataset missing"


def test_a_message_without_response_is_acknowledged_once_queued(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    assert asyncio.run(hub.send_message(note("agent_2", 1))) is None
    reply = fake_system.ask(HUB_PATH, note("agent_2", 2), timeout=10)

    assert reply == MessageAccepted(message_id="agent_1-2", queued=("agent_2",))
    assert [m.content for m in asyncio.run(hub.receive_messages("agent_2"))] == [1, 2]


def test_a_message_told_without_a_reply_slot_gets_its_response_in_the_sender_inbox(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    fake_system.tell(HUB_PATH, request(timeout=60))  # nobody waits for this response
    asyncio.run(hub.receive_messages("agent_2"))
    asyncio.run(hub.send_response("msg_001", {"status": "completed"}))

    (answer,) = asyncio.run(hub.receive_messages("agent_1"))

    assert answer.message_type is CommunicationType.RESPONSE
    assert (answer.sender_id, answer.receiver_id) == ("agent_2", "agent_1")
    assert answer.correlation_id == "msg_001"
    assert answer.content == {"status": "completed"}


# -- order and bounds -------------------------------------------------------------------


def test_receive_order_is_send_order_for_many_messages_from_several_senders(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    senders = [f"sender_{i}" for i in range(4)]
    ready = threading.Barrier(len(senders))

    def send_all(sender: str) -> None:
        ready.wait(10)
        for n in range(250):
            fake_system.tell(HUB_PATH, note("reader", n, sender))

    threads = [threading.Thread(target=send_all, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    first = asyncio.run(hub.receive_messages("reader", limit=100))
    rest = asyncio.run(hub.receive_messages("reader"))

    received = first + rest
    assert len(first) == 100
    assert len(received) == 1000
    for sender in senders:
        assert [m.content for m in received if m.sender_id == sender] == list(range(250))
    assert asyncio.run(hub.receive_messages("reader")) == []


def test_a_full_inbox_refuses_the_next_message_and_takes_it_once_read(
    fake_system: ActorSystem,
) -> None:
    hub = AgentCommunicationHub(fake_system, inbox_capacity=3)
    for n in range(3):
        asyncio.run(hub.send_message(note("slow", n)))

    with pytest.raises(AgentInboxFullError, match=r"^The inbox of agent 'slow' is full \(3 "):
        asyncio.run(hub.send_message(note("slow", 3)))
    assert [m.content for m in asyncio.run(hub.receive_messages("slow", limit=1))] == [0]
    asyncio.run(hub.send_message(note("slow", 4)))
    assert [m.content for m in asyncio.run(hub.receive_messages("slow"))] == [1, 2, 4]


def test_a_waiting_reader_gets_the_first_message_sent_to_it(
    hub: AgentCommunicationHub, clock: FakeClock
) -> None:
    async def wait_then_send() -> tuple[list[AgentMessage], list[AgentMessage]]:
        reading = asyncio.create_task(hub.receive_messages("agent_2", wait=30))
        await armed(clock)
        await hub.send_message(note("agent_2", 7))
        got = await reading
        idle = asyncio.create_task(hub.receive_messages("agent_2", wait=30))
        await armed(clock)
        clock.advance(30)
        return got, await idle

    got, idle = asyncio.run(wait_then_send())

    assert [m.content for m in got] == [7]
    assert idle == []


# -- live agents ------------------------------------------------------------------------


def test_a_message_to_a_live_agent_actor_is_forwarded_and_answered_by_it(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    seen: list[AgentMessage] = []
    fake_system.spawn(recipe(Echo, seen), "echo")

    response = asyncio.run(hub.send_message(request("echo", content="hello")))

    assert response is not None
    assert (response.sender_id, response.content) == ("echo", {"echo": "hello"})
    assert [m.id for m in seen] == ["msg_001"]
    assert asyncio.run(hub.receive_messages("echo")) == []  # nothing was queued


def test_messages_queued_before_an_agent_runs_reach_it_first_and_in_order(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    seen: list[AgentMessage] = []
    for n in range(3):
        asyncio.run(hub.send_message(note("echo", n)))
    fake_system.spawn(recipe(Echo, seen), "echo")

    joined = fake_system.ask(HUB_PATH, JoinHub(agent_id="echo"), timeout=10)
    asyncio.run(hub.send_message(request("echo")))

    assert joined == HubMembership(agent_id="echo", is_member=True, forwarded=3)
    assert [m.content for m in seen] == [0, 1, 2, {"action": "analyze_data"}]


def test_an_agent_that_fails_on_a_request_fails_it_at_once(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    fake_system.spawn(Clumsy, "clumsy")

    with pytest.raises(
        AgentTaskFailedError, match=r"^Agent 'clumsy' could not take message 'msg_001' \(failed\)"
    ):
        asyncio.run(hub.send_message(request("clumsy")))


class Asker(Behaviour):
    """An actor that asks another agent through the hub without blocking."""

    def __init__(self, outcome: list[object], done: threading.Event) -> None:
        self.outcome, self.done = outcome, done

    def on_start(self, ctx: Context) -> None:
        ask = request("nobody", timeout=10, sender_id="asker")
        ctx.request(HUB_PATH, ask, timeout=ask.response_timeout + 5)

    def on_agent_response(self, msg: AgentResponse, ctx: Context) -> None:
        self._end(msg)

    def on_agent_message_failed(self, msg: AgentMessageFailed, ctx: Context) -> None:
        self._end(agent_error(msg.error))

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        self._end(msg)

    def _end(self, outcome: object) -> None:
        self.outcome.append(outcome)
        self.done.set()


def test_an_actor_uses_the_hub_with_ctx_request_and_gets_the_timeout_as_a_message(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    ensure_hub(fake_system)
    outcome: list[object] = []
    done = threading.Event()
    fake_system.spawn(recipe(Asker, outcome, done), "asker")
    assert clock.wait_for_timers(2, 10)  # the actor's request timer and the hub's

    clock.advance(10)

    assert done.wait(10)
    (error,) = outcome
    assert isinstance(error, AgentResponseTimeoutError)
    assert str(error).startswith("Agent 'nobody' gave no response to message 'msg_001' in 10 s")


class Trip(Message):
    """Make the tripping hub fail."""

    kind: Literal["hubtest.trip"] = "hubtest.trip"


class TrippingHub(CommunicationHub):
    """The hub, failing on ``Trip`` (its supervisor restarts it)."""

    def on_trip(self, msg: Trip, ctx: Context) -> None:
        raise RuntimeError("the hub trips")


def test_a_restarted_hub_keeps_its_inboxes_and_open_requests(
    fake_system: ActorSystem, clock: FakeClock
) -> None:
    fake_system.spawn(recipe(TrippingHub, HubState()), "hub")
    hub = AgentCommunicationHub(fake_system)  # finds the running hub

    async def across_a_restart() -> tuple[list[AgentMessage], int, AgentResponse | None]:
        asking = asyncio.create_task(hub.send_message(request(timeout=60)))
        await armed(clock)
        fake_system.tell(HUB_PATH, Trip())
        received = await hub.receive_messages("agent_2")  # taken after the restart
        timers = clock.pending_timers()  # the response timer, armed again
        await hub.send_response("msg_001", "still here")
        return received, timers, await asking

    received, timers, response = asyncio.run(across_a_restart())

    assert fake_system.actor_statistics(HUB_PATH).restarts == 1
    assert [m.id for m in received] == ["msg_001"]
    assert timers == 1
    assert response is not None
    assert response.content == "still here"


# -- broadcast --------------------------------------------------------------------------


def test_a_broadcast_reaches_every_known_agent_but_the_sender(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    seen: list[AgentMessage] = []
    fake_system.spawn(recipe(Echo, seen), "echo")
    fake_system.spawn(recipe(Echo, []), "stranger")  # live, but never joined nor written to
    for agent_id in ("echo", "agent_1", "agent_2"):
        hub.register_agent(agent_id)
    asyncio.run(hub.send_message(note("agent_3", 0)))  # agent_3 has an inbox

    receivers = asyncio.run(hub.broadcast("agent_1", {"status": "go"}, message_id="b1"))
    asyncio.run(hub.send_message(request("echo")))  # answered after echo took the broadcast

    assert receivers == ("agent_2", "agent_3", "echo")
    assert [(m.id, m.receiver_id, m.message_type) for m in seen] == [
        ("b1", "echo", CommunicationType.BROADCAST),
        ("msg_001", "echo", CommunicationType.REQUEST),
    ]
    (copy,) = asyncio.run(hub.receive_messages("agent_2"))
    assert (copy.receiver_id, copy.content) == ("agent_2", {"status": "go"})
    assert [m.id for m in asyncio.run(hub.receive_messages("agent_3"))] == ["agent_1-0", "b1"]
    assert asyncio.run(hub.receive_messages("agent_1")) == []


def test_a_broadcast_goes_to_nobody_when_one_inbox_is_full(fake_system: ActorSystem) -> None:
    hub = AgentCommunicationHub(fake_system, inbox_capacity=1)
    asyncio.run(hub.send_message(note("full", 0)))
    hub.register_agent("empty")

    with pytest.raises(AgentInboxFullError, match=r"'full' is full"):
        asyncio.run(hub.broadcast("agent_1", "hello"))
    assert asyncio.run(hub.receive_messages("empty")) == []


def test_unregistered_agents_no_longer_get_broadcasts(hub: AgentCommunicationHub) -> None:
    hub.register_agent("a")
    hub.register_agent("b")
    hub.unregister_agent("b")

    assert asyncio.run(hub.broadcast("agent_1", 1)) == ("a",)


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"receiver_id": ""}, r"^The receiver id '' cannot name an agent"),
        ({"receiver_id": "a/b"}, r"^The receiver id 'a/b' cannot name an agent"),
        ({"receiver_id": "hub"}, r"names the communication hub itself"),
        ({"sender_id": ""}, r"^The sender id '' cannot name an agent"),
        ({"content": {"x": math.nan}}, r"is not JSON data at \['x'\]: the float nan is not JSON"),
        ({"content": 2**70}, r"an integer beyond 64 bits"),
        ({"receiver_id": "*", "requires_response": True}, r"a broadcast has many receivers"),
    ],
)
def test_bad_messages_are_refused_with_a_typed_error(
    hub: AgentCommunicationHub, fields: dict[str, Any], problem: str
) -> None:
    message = {"sender_id": "agent_1", "receiver_id": "agent_2", "content": "x", **fields}

    with pytest.raises(InvalidAgentMessageError, match=problem):
        asyncio.run(hub.send_message(AgentMessage(**message)))


def test_content_that_is_no_json_data_is_refused_before_sending(
    hub: AgentCommunicationHub,
) -> None:
    with pytest.raises(InvalidAgentMessageError, match=r"a object is not JSON data"):
        asyncio.run(hub.broadcast("agent_1", object()))  # type: ignore[arg-type]
    with pytest.raises(InvalidAgentMessageError, match=r"a set is not JSON data"):
        asyncio.run(hub.send_response("msg_001", {1, 2}))  # type: ignore[arg-type]
    with pytest.raises(InvalidAgentMessageError, match=r"^Not a valid agent message: content"):
        asyncio.run(hub.send_message({"sender_id": "a", "receiver_id": "b", "content": object()}))
    with pytest.raises(InvalidAgentMessageError, match=r"needs an AgentMessage"):
        asyncio.run(hub.send_message("hello"))  # type: ignore[arg-type]


def test_a_request_id_that_still_waits_cannot_be_sent_again(hub: AgentCommunicationHub) -> None:
    async def twice() -> None:
        first = asyncio.create_task(hub.send_message(request()))
        await hub.receive_messages("agent_2", wait=60)
        try:
            await hub.send_message(request())
        finally:
            await hub.send_response("msg_001", "done")
            await first

    with pytest.raises(InvalidAgentMessageError, match=r"'msg_001' is already waiting"):
        asyncio.run(twice())


def test_bad_ids_and_limits_are_refused_by_the_other_calls(
    hub: AgentCommunicationHub, fake_system: ActorSystem
) -> None:
    with pytest.raises(InvalidAgentMessageError, match=r"^The agent id '' cannot name"):
        hub.register_agent("")
    with pytest.raises(InvalidAgentMessageError, match=r"^The agent id '\.\.' cannot name"):
        asyncio.run(hub.receive_messages(".."))
    with pytest.raises(InvalidAgentMessageError, match=r"limit: Input should be greater"):
        asyncio.run(hub.receive_messages("agent_2", limit=0))
    reply = fake_system.ask(HUB_PATH, ReceiveMessages(agent_id="a b"), timeout=10)
    assert isinstance(reply, AgentMessageFailed)


# -- journal ----------------------------------------------------------------------------


def test_every_hub_message_is_in_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    clock = FakeClock()
    tapped: list[Envelope] = []
    with ActorSystem(clock=clock, ids=SequentialIds(), journal=JournalConfig(path=path)) as system:
        system.add_tap(tapped.append)
        hub = AgentCommunicationHub(system)
        system.spawn(Echo, "echo")

        async def talk() -> None:
            await hub.send_message(request("echo"))
            await hub.send_message(note("agent_2", 1))
            asking = asyncio.create_task(hub.send_message(request(msg_id="m2", timeout=1)))
            await armed(clock)
            clock.advance(1)
            with pytest.raises(AgentResponseTimeoutError):
                await asking
            await hub.receive_messages("agent_2")
            with pytest.raises(AgentResponseRefusedError):
                await hub.send_response("m2", "late")
            await hub.broadcast("agent_1", "bye")

        asyncio.run(talk())
    with open_journal(path) as journal:
        logged = [r for r in journal if isinstance(r, Envelope)]

    def hub_traffic(envelopes: list[Envelope]) -> list[tuple[int, str | None]]:
        return [
            (e.seq, e.message.kind_tag)
            for e in envelopes
            if HUB_PATH in (e.sender, e.recipient) or e.message.kind_tag.startswith("agent.")  # type: ignore[union-attr]
        ]

    assert hub_traffic(logged) == hub_traffic(tapped)
    kinds = {kind for _, kind in hub_traffic(logged)}
    assert kinds >= {
        "agent.message",
        "agent.response",
        "agent.message_accepted",
        "agent.message_failed",
        "agent.receive_messages",
        "agent.messages_received",
        "agent.response_deadline",
        "agent.response_refused",
    }


# -- the seed's example -----------------------------------------------------------------


@pytest.fixture
def owned_on_fake_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[FakeClock, list[ActorSystem]]]:
    """Make facades that own their system start it on a FakeClock (and shut them down)."""
    clock = FakeClock()
    made: list[ActorSystem] = []

    def on_fake_clock() -> ActorSystem:
        made.append(ActorSystem(clock=clock))
        return made[-1]

    monkeypatch.setattr(_owned, "ActorSystem", on_fake_clock)
    yield clock, made
    for system in made:
        system.shutdown()


def test_the_seed_example_as_written_times_out_waiting_for_agent_2(
    owned_on_fake_clock: tuple[FakeClock, list[ActorSystem]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed awaits the response before agent_2 reads its inbox: nobody can answer."""
    clock, made = owned_on_fake_clock
    errors: list[BaseException] = []

    def run_example() -> None:
        try:
            runpy.run_path(str(SEED_EXAMPLE), run_name="__main__")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)

    runner = threading.Thread(target=run_example)
    runner.start()
    assert clock.wait_for_timers(1, 10)  # the hub waits for the response to msg_001
    clock.advance(300)
    runner.join(10)

    (error,) = errors
    assert isinstance(error, AgentResponseTimeoutError)
    assert str(error).startswith("Agent 'agent_2' gave no response to message 'msg_001' in 300 s")
    assert capsys.readouterr().out == ""  # "Response received" is never printed
    (system,) = made
    assert system.dead_letters.total == 0
