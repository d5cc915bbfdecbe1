"""Hub request/response: the seed's inter-agent exchange through the communication hub,
made to work, then a live agent, a broadcast, and a request nobody answers.

The seed's "Inter-Agent Communication" example awaits ``hub.send_message(message)``
(``requires_response=True``, ``response_timeout=300``) *before* agent_2 calls
``receive_messages``: run as written, nobody can answer, so it waits the full 300 s
and ``send_message`` raises ``AgentResponseTimeoutError`` ("Agent 'agent_2' gave no
response to message 'msg_001' in 300 s. ..."); "Response received" is never printed,
and the message stays queued in agent_2's inbox (a response sent after that is refused).
``tests/agents/seed/inter_agent_communication.py`` is that example, run on a FakeClock by
``tests/agents/test_hub.py``. Here the same exchange works:

1. *The seed's exchange*: agent_1's ``send_message`` runs as a task while agent_2 (code
   outside the actors) waits on ``receive_messages("agent_2", wait=...)``, reads the
   request and answers it with ``send_response``; agent_1's call returns the
   ``AgentResponse``.
2. *A live agent*: ``analyst`` is a ``BaseAgent`` actor at ``/agents/analyst``. The hub
   forwards it the request (no inbox involved) and hands its ``AgentResponse`` back.
3. *A broadcast* from agent_1 reaches every agent the hub knows but the sender: the
   registered ``analyst`` and ``reviewer``, and ``agent_2`` (it has an inbox).
4. *Nobody answers*: a request to ``agent_3`` with a 0.3 s ``response_timeout`` raises
   ``AgentResponseTimeoutError``; agent_3's late answer is refused
   (``AgentResponseRefusedError``).
5. *Order*: two senders' 100 notes each reach a reader in the order each sent them.

Every message above is a mailbox delivery to or from ``/agents/hub``, so all of it is in
the run's journal (``actorflow log show``).

Run it: ``actorflow run scenarios/hub_request_response.py``
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from pydantic import JsonValue

from actorflow import ActorSystem, recipe
from actorflow.agents.base import BaseAgent
from actorflow.agents.communication import (
    AgentMessage,
    AgentResponseRefusedError,
    CommunicationType,
)
from actorflow.agents.context import AgentContext
from actorflow.agents.hub import AgentCommunicationHub
from actorflow.errors import AgentResponseTimeoutError

SEED_REQUEST = {
    "action": "analyze_data",
    "data": {"dataset": "sales_2024.csv"},
    "priority": "high",
}


class Analyst(BaseAgent):
    """Answers an ``analyze_data`` request with a (deterministic) summary of its dataset."""

    async def handle_message(self, message: AgentMessage, ctx: AgentContext) -> JsonValue:
        content = message.content
        data = content.get("data") if isinstance(content, Mapping) else None
        dataset = data.get("dataset") if isinstance(data, Mapping) else "nothing"
        return {"status": "completed", "result": f"Analysis of {dataset} complete"}


def seed_message(msg_id: str, receiver: str, timeout: float = 300) -> AgentMessage:
    """The seed's message from agent_1, to ``receiver``."""
    return AgentMessage(
        id=msg_id,
        sender_id="agent_1",
        receiver_id=receiver,
        message_type=CommunicationType.REQUEST,
        content=SEED_REQUEST,
        requires_response=True,
        response_timeout=timeout,
    )


async def seed_exchange(hub: AgentCommunicationHub) -> dict[str, object]:
    """agent_1 asks and waits while agent_2 reads its inbox and answers."""
    asking = asyncio.create_task(hub.send_message(seed_message("msg_001", "agent_2")))
    received = await hub.receive_messages("agent_2", wait=30)
    for msg in received:
        await hub.send_response(msg.id, {"status": "completed", "result": "Analysis complete"})
    response = await asking
    assert response is not None
    return {
        "seed: agent_2 received": [m.content for m in received],
        "seed: response from": response.sender_id,
        "seed: response": response.content,
    }


async def live_agent(hub: AgentCommunicationHub, system: ActorSystem) -> dict[str, object]:
    """The hub forwards the request to the analyst actor, which answers it."""
    system.spawn(recipe(Analyst, {"id": "analyst", "role": "specialist"}), "analyst")
    hub.register_agent("analyst")
    response = await hub.send_message(seed_message("msg_002", "analyst", timeout=30))
    assert response is not None
    return {
        "live agent: response": response.content,
        "live agent: inbox after": len(await hub.receive_messages("analyst")),
    }


async def unanswered(hub: AgentCommunicationHub) -> dict[str, object]:
    """Nobody answers agent_3's request in time; its late answer is refused."""
    try:
        await hub.send_message(seed_message("msg_003", "agent_3", timeout=0.3))
    except AgentResponseTimeoutError as exc:
        timed_out = str(exc).split(". ")[0]
    (late,) = await hub.receive_messages("agent_3")
    try:
        await hub.send_response(late.id, {"status": "completed"})
    except AgentResponseRefusedError as exc:
        refused = str(exc).split(";")[0]
    return {"unanswered: error": timed_out, "unanswered: late response": refused}


async def in_order(hub: AgentCommunicationHub) -> dict[str, object]:
    """Two senders' notes reach one reader in each sender's order."""

    async def notes(sender: str) -> None:
        for n in range(100):
            await hub.send_message(
                AgentMessage(id=f"{sender}-{n}", sender_id=sender, receiver_id="reader", content=n)
            )

    await asyncio.gather(notes("agent_1"), notes("agent_2"))
    got = await hub.receive_messages("reader")
    return {
        "order: received": len(got),
        "order: each sender in order": all(
            [m.content for m in got if m.sender_id == s] == list(range(100))
            for s in ("agent_1", "agent_2")
        ),
    }


async def main(system: ActorSystem) -> Mapping[str, object]:
    """Run the five parts on one hub and report what each side saw."""
    hub = AgentCommunicationHub(system)
    result = await seed_exchange(hub)
    result |= await live_agent(hub, system)
    hub.register_agent("reviewer")
    receivers = await hub.broadcast("agent_1", {"status": "analysis done"}, message_id="b1")
    result["broadcast: receivers"] = list(receivers)
    result |= await unanswered(hub)
    result |= await in_order(hub)
    result["dead letters"] = dict(system.dead_letters.counts())
    return result
