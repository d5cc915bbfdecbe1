"""Adversarial review of the multi-agent layer (issue 14): regressions, prefix A.

Each test is marked ``xfail(strict=True)`` while its defect stands; the fix removes the
marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest

from actorflow import ActorSystem, recipe
from actorflow.agents.base import BaseAgent
from actorflow.agents.communication import AgentMessage
from actorflow.agents.context import AgentContext
from actorflow.agents.hub import AgentCommunicationHub
from actorflow.agents.models import AgentInfo
from actorflow.errors import AskTimeoutError
from actorflow.flow.messages import AgentTask, AgentTaskDone


def task(name: str, **parameters: Any) -> AgentTask:
    return AgentTask(flow_id="", step_id="", task=name, parameters=parameters)


class Hostile(BaseAgent):
    """Does what the task's name says: a hostile or careless handler."""

    def __init__(self, info: AgentInfo, gate: threading.Event | None = None) -> None:
        super().__init__(info)
        self.gate = gate

    async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
        if task.task == "inner_cancelled":
            # A helper task is cancelled by someone else; awaiting it raises
            # CancelledError in this handler, which itself was never cancelled.
            inner = asyncio.ensure_future(asyncio.sleep(3600))
            inner.cancel()
            await inner
        if task.task == "hang":
            assert self.gate is not None
            await asyncio.to_thread(self.gate.wait, 10)
        if task.task == "not_json":
            return {"ids": {1, 2}}  # a set is not JSON data
        if task.task == "interrupt":
            raise KeyboardInterrupt
        if task.task == "params":
            return dict(task.parameters)
        return task.task


def spawn(system: ActorSystem, behaviour: Any, name: str) -> None:
    system.spawn(behaviour, name, dispatcher="loop")


# A1 (fixed): CancelledError from a handler is taken as the effect's cancellation: the task is
#   never answered and the agent's slot is held forever
def test_a1_cancelled_error_inside_a_handler_is_answered_and_frees_the_agent(
    system: ActorSystem,
) -> None:
    """The adversary's handler awaits a helper task that was cancelled elsewhere, so
    ``CancelledError`` escapes the handler (the handler itself was not cancelled).

    What happens: ``_guarded`` catches only ``Exception``; the effects runner sees
    ``CancelledError`` and, the effect not having timed out, treats it as the actor
    cancelling its own effect: nothing is delivered. The job stays in ``_running`` for
    ever: the requester is never answered, and with ``max_concurrency=1`` every later
    task waits behind it (the agent is wedged until restarted).

    What should happen: the task fails (an ``AgentTaskDone`` with an error) and the next
    task runs."""
    spawn(system, recipe(Hostile, AgentInfo(id="c")), "c")

    try:
        first = system.ask("/agents/c", task("inner_cancelled"), timeout=2)
    except AskTimeoutError:
        first = None
    assert isinstance(first, AgentTaskDone)
    assert first.error
    assert system.ask("/agents/c", task("after"), timeout=2) == AgentTaskDone(result="after")


# A2 (fixed): a task whose requester gave up keeps running with no timeout and holds the agent's
#   only slot, so every later task (a flow's retry included) times out too
def test_a2_a_hung_task_whose_requester_gave_up_does_not_block_the_agent(
    system: ActorSystem,
) -> None:
    """The adversary's handler never returns (a hung model or tool call). The requester
    (a flow step with a timeout, or ``ctx.request``) gives up on it.

    What happens: ``BaseAgent._start`` runs the handler with no effect timeout and the
    agent is never told the requester left, so the hung task keeps the agent's
    ``max_concurrency`` slot for ever; the retry the flow sends next, and any other
    task, waits behind it and times out in turn.

    What should happen: a task carries its requester's deadline (or the agent has a task
    timeout) so the hung handler is cancelled and its slot freed; the next task runs."""
    gate = threading.Event()
    spawn(system, recipe(Hostile, AgentInfo(id="h"), gate), "h")
    try:
        with pytest.raises(AskTimeoutError):
            system.ask("/agents/h", task("hang"), timeout=0.3)
        try:
            after = system.ask("/agents/h", task("after"), timeout=2)
        except AskTimeoutError:
            after = None
        assert after == AgentTaskDone(result="after")
    finally:
        gate.set()


# A3 (fixed): a hub message's content can set the task's sender_id, so a handler is told the
#   message came from whoever the content names
def test_a3_hub_message_content_cannot_forge_the_sender_id(system: ActorSystem) -> None:
    """The adversary (``mallory``) sends a hub message whose dict content contains
    ``"sender_id": "admin"``.

    What happens: ``task_from_message`` copies the content into the task's parameters
    and only ``setdefault``s ``sender_id``, so the handler sees ``sender_id == "admin"``.

    What should happen: the parameter that names the sender is the message's own
    ``sender_id`` (``mallory``), whatever the content says."""
    spawn(system, recipe(Hostile, AgentInfo(id="r")), "r")
    hub = AgentCommunicationHub(system)
    message = AgentMessage(
        sender_id="mallory",
        receiver_id="r",
        content={"action": "params", "sender_id": "admin"},
        requires_response=True,
        response_timeout=3,
    )

    response = asyncio.run(hub.send_message(message))

    assert response is not None
    assert response.content["sender_id"] == "mallory"  # type: ignore[index]


# A4 (fixed): MultiAgentOrchestrator takes an infinite subtask_timeout, negative max_retries and a
#   NaN or negative retry_delay, then fails every orchestration with an untyped or unrelated error
@pytest.mark.parametrize(
    "options",
    [
        {"subtask_timeout": float("inf")},
        {"max_retries": -3},
        {"retry_delay": float("nan")},
        {"retry_delay": -1.0},
    ],
    ids=["inf-timeout", "negative-retries", "nan-delay", "negative-delay"],
)
def test_a4_invalid_orchestrator_options_are_refused_when_made(
    system: ActorSystem, options: dict[str, Any]
) -> None:
    """The adversary (an untyped caller) builds ``MultiAgentOrchestrator(system,
    subtask_timeout=inf)`` (or ``max_retries=-3``, ``retry_delay=nan`` / ``-1``).

    What happens: ``__init__`` checks only ``subtask_timeout > 0``; the bad value is
    found at each ``orchestrate_agents`` call, deep in the flow: a
    ``DeliveryFailedError`` about a dead letter (inf), a raw pydantic
    ``ValidationError`` (negative retries), a ``FlowDefinitionError`` /
    ``InvalidStepParametersError`` (delay) -- none the documented
    ``ConfigurationError``, and never at construction.

    What should happen: the constructor raises ``ConfigurationError`` naming the option."""
    from actorflow.agents.multi_agent import MultiAgentOrchestrator
    from actorflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        MultiAgentOrchestrator(system, **options)


# A5 (fixed): a waiting receive_messages whose caller gave up still takes the next message out of
#   the inbox; it goes to a dead ask slot and the agent never sees it
def test_a5_an_abandoned_reader_does_not_swallow_the_next_message(system: ActorSystem) -> None:
    """The adversary reads bob's inbox with ``receive_messages("bob", wait=30)`` under
    ``asyncio.wait_for(..., 0.2)`` (or its task is cancelled): it gives up early.

    What happens: the hub keeps the reader (``HubState.readers``) until its 30 s
    deadline; alice's next message for bob is taken out of the inbox by
    ``_wake_reader`` and replied to the abandoned ask slot, where it becomes a
    ``late_reply`` dead letter. ``send_message`` said it was queued, yet bob's next
    ``receive_messages`` returns nothing: the message is lost to its receiver.

    What should happen: a message taken for a reader that is gone goes back to the
    inbox (or the reader is dropped when its asker goes), so bob receives it."""
    hub = AgentCommunicationHub(system)

    async def main() -> list[AgentMessage]:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(hub.receive_messages("bob", wait=30), 0.2)
        await hub.send_message(AgentMessage(sender_id="alice", receiver_id="bob", content="hi"))
        return await hub.receive_messages("bob", wait=1)

    received = asyncio.run(main())

    assert [m.content for m in received] == ["hi"]


# A6 (fixed): RoleDecomposer names a research subtask after its capability with no length cap, so
#   a capability of 56+ characters makes an id its own check refuses
def test_a6_the_role_decomposer_plans_for_a_long_capability_name() -> None:
    """The adversary registers a specialist whose capability is a long but ordinary
    name (``summarise_quarterly_financial_statements_of_public_companies``).

    What happens: ``RoleDecomposer._research`` makes the subtask id
    ``research_<capability>`` (69 characters); ``check_subtasks`` (run by the
    orchestrator on every plan) refuses ids over 64 characters, so every
    ``orchestrate_agents`` with this agent fails with a ConfigurationError blaming a
    subtask id the caller never chose.

    What should happen: the decomposer shortens (and de-duplicates) the ids it makes, so
    its own plan passes its own check."""
    from actorflow.agents.decompose import RoleDecomposer, check_subtasks
    from actorflow.agents.models import AgentRole

    agent = AgentInfo(
        id="s",
        role=AgentRole.SPECIALIST,
        capabilities=["summarise_quarterly_financial_statements_of_public_companies"],
    )

    subtasks = RoleDecomposer().decompose("report", {}, [agent])

    assert check_subtasks(subtasks) == subtasks


# A7 (fixed): the review gate's condition raises on a verdict that is None, a string or a list,
#   failing the whole orchestration instead of sending the draft back
@pytest.mark.parametrize("verdict", [None, "rejected: nothing approved", ["approved"]])
def test_a7_a_validator_verdict_that_is_not_a_dict_is_a_rejection(
    system: ActorSystem, verdict: Any
) -> None:
    """The adversary's validator returns a verdict that is not ``True`` or a dict: a
    plain-text verdict, ``None`` (a handler that forgot its ``return``) or a list.

    What happens: ``_orchestration._gate`` builds ``'approved' in review_1 and
    review_1['approved'] == True``; the condition evaluator raises
    ``ConditionEvaluationError`` (``'in'`` on None, a str or list indexed by a str), the
    critical gate step fails and the orchestration ends ``failed`` with the revision
    cancelled -- while the result's own ``approved()`` reads the same verdict as a
    rejection (``approved=False``).

    What should happen: the gate agrees with ``approved()``: anything but ``True`` or a
    dict whose ``approved`` is true is a rejection, so the draft goes back for revision
    and the orchestration completes."""
    from actorflow.agents.models import AgentRole
    from actorflow.agents.multi_agent import MultiAgentOrchestrator

    async def writer(task: AgentTask, ctx: AgentContext) -> Any:
        return {"text": f"draft {task.task}"}

    async def reviewer(task: AgentTask, ctx: AgentContext) -> Any:
        return verdict

    orchestrator = MultiAgentOrchestrator(system, max_revisions=1, max_retries=0, retry_delay=0)
    w = AgentInfo(id="w", role=AgentRole.EXECUTOR, capabilities=["writing"])
    r = AgentInfo(id="r", role=AgentRole.VALIDATOR, capabilities=["review"])
    orchestrator.register_agent(w, writer)
    orchestrator.register_agent(r, reviewer)

    result = asyncio.run(asyncio.wait_for(orchestrator.orchestrate_agents([w, r], "x", {}), 15))

    statuses = {c.subtask_id: c.status for cs in result.contributions.values() for c in cs}
    assert result.status == "completed", result.error
    assert statuses["revise_1"] == "completed"


@pytest.mark.xfail(
    strict=True,
    reason="A8: BaseAgent drains its mailbox into an unbounded _waiting deque, so the "
    "agent's bounded mailbox (register_agent(mailbox=...)) never pushes back",
)
def test_a8_a_bounded_agent_mailbox_pushes_back_on_a_flood_of_tasks(system: ActorSystem) -> None:
    """The adversary floods an agent (max_concurrency=1, its handler busy) with 20
    tasks; the agent was spawned with ``MailboxConfig(capacity=2, overflow=reject)``,
    as ``register_agent(..., mailbox=...)`` offers to bound it.

    What happens: ``on_agent_task`` takes every task off the mailbox at once and parks
    it in ``BaseAgent._waiting`` (an unbounded deque), so the mailbox never holds more
    than one message: all 20 sends are accepted, nothing is refused, and memory grows
    with the flood however the mailbox was bounded.

    What should happen: tasks past ``max_concurrency`` count against the mailbox's
    capacity (or wait in it), so the sends beyond it are refused
    (``MailboxFullError`` / an overflow dead letter)."""
    from actorflow.errors import MailboxFullError
    from actorflow.runtime.mailbox import MailboxConfig, OverflowPolicy
    from actorflow.testing import Probe

    taken = threading.Semaphore(0)

    class Counted(Hostile):
        def on_agent_task(self, msg: AgentTask, ctx: Any) -> None:
            super().on_agent_task(msg, ctx)
            taken.release()

    gate = threading.Event()
    system.spawn(
        recipe(Counted, AgentInfo(id="f"), gate),
        "f",
        dispatcher="loop",
        mailbox=MailboxConfig(capacity=2, overflow=OverflowPolicy.REJECT),
    )
    sink = Probe(system, "a8_sink")  # takes the answers
    refused, stalled = 0, False
    try:
        for _ in range(20):
            try:
                system.send("/agents/f", task("hang"), sender=sink.path)
            except MailboxFullError:
                refused += 1
                continue
            # Wait until the agent has taken it off its mailbox (so no race decides);
            # once it leaves tasks in the mailbox, the rest fill it.
            stalled = stalled or not taken.acquire(timeout=1)
    finally:
        gate.set()
    # Let the agent finish what it took before the verdict (answered after all of it).
    with contextlib.suppress(MailboxFullError, AskTimeoutError):
        system.ask("/agents/f", task("after"), timeout=5)

    assert refused > 0


# A9 (fixed): a decomposer that raises crashes the orchestrator actor, whose restart forgets every
#   registered agent: every later orchestration fails UnknownAgentError
def test_a9_a_failing_decomposer_does_not_wipe_the_orchestrators_registry(
    system: ActorSystem,
) -> None:
    """The adversary's (or a model-backed) decomposer raises a plain exception on one
    task -- a ``KeyError`` on a malformed model answer.

    What happens: ``Orchestrator.on_plan_orchestration`` catches only ``ActorflowError``
    from a plain decomposer, so the actor crashes; its supervisor restarts it with a new
    behaviour, and ``Orchestrator.agents`` (the registry) and ``running`` (the loads)
    live in that behaviour: both are gone. The facade still lists the agents, so it
    never registers them again: the next, valid ``orchestrate_agents`` raises
    ``UnknownAgentError`` -- and so does every one after, for good. (The failing call
    itself gets a ``DeliveryFailedError``, not the documented ``ConfigurationError``.)

    What should happen: the failing planning is refused with a typed error and the
    registry survives (kept outside the behaviour, as the hub and the allocator keep
    theirs), so the next orchestration completes."""
    from actorflow.agents.decompose import RoleDecomposer
    from actorflow.agents.models import AgentRole
    from actorflow.agents.multi_agent import MultiAgentOrchestrator

    class Buggy(RoleDecomposer):
        def decompose(self, task: str, context: Any, agents: Any) -> Any:
            if task == "boom":
                raise KeyError("the model's answer had no 'steps'")
            return super().decompose(task, context, agents)

    async def work(task: AgentTask, ctx: AgentContext) -> Any:
        return {"text": "done"}

    orchestrator = MultiAgentOrchestrator(system, decomposer=Buggy())
    agent = AgentInfo(id="w", role=AgentRole.EXECUTOR, capabilities=["writing"])
    orchestrator.register_agent(agent, work)

    async def main() -> str:
        with pytest.raises(Exception):  # noqa: B017,PT011 - any typed refusal will do
            await orchestrator.orchestrate_agents([agent], "boom", {})
        result = await orchestrator.orchestrate_agents([agent], "fine", {})
        return result.status

    assert asyncio.run(asyncio.wait_for(main(), 15)) == "completed"


# A10 (fixed): an orchestrate_agents cancelled while its plan is made never sends
#   EndOrchestration: its subtasks count in the agents' loads for ever
def test_a10_a_cancelled_orchestration_releases_the_loads_it_was_planned(
    system: ActorSystem,
) -> None:
    """The adversary cancels ``orchestrate_agents`` (``asyncio.wait_for`` with a short
    timeout) while a slow, model-backed (async) decomposer plans it.

    What happens: the orchestrator actor finishes the planning anyway and records the
    assignment in ``Orchestrator.running``; the facade was cancelled in ``_plan``,
    before the ``try``/``finally`` that sends ``EndOrchestration``, so nobody ever
    removes it. The agent's load stays at 1 for ever (and grows with each cancelled
    call), and assignment by load avoids it in every later plan.

    What should happen: once nothing runs, every agent's load is 0 (a planning whose
    asker left is released, e.g. the facade sends ``EndOrchestration`` on any exit after
    asking for a plan)."""
    from actorflow.agents.decompose import RoleDecomposer
    from actorflow.agents.models import AgentRole
    from actorflow.agents.multi_agent import MultiAgentOrchestrator
    from actorflow.agents.orchestrator import AgentsListed, ListAgents
    from actorflow.agents.paths import ORCHESTRATOR_PATH

    gate, returned = threading.Event(), threading.Event()

    class Slow:
        async def decompose(self, task: str, context: Any, agents: Any) -> Any:
            if task == "slow":
                await asyncio.to_thread(gate.wait, 10)
                returned.set()
            return RoleDecomposer().decompose(task, context, agents)

    async def work(task: AgentTask, ctx: AgentContext) -> Any:
        return {"text": "done"}

    orchestrator = MultiAgentOrchestrator(system, decomposer=Slow())  # type: ignore[arg-type]
    agent = AgentInfo(id="w", role=AgentRole.EXECUTOR, capabilities=["writing"])
    orchestrator.register_agent(agent, work)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(orchestrator.orchestrate_agents([agent], "slow", {}), 0.3)
        gate.set()
        assert await asyncio.to_thread(returned.wait, 5)
        # A full orchestration after it: the cancelled planning has been handled by now.
        assert (await orchestrator.orchestrate_agents([agent], "fine", {})).status == "completed"

    try:
        asyncio.run(main())
    finally:
        gate.set()
    listed = system.ask(ORCHESTRATOR_PATH, ListAgents(), timeout=5)

    assert isinstance(listed, AgentsListed)
    assert listed.loads.get("w", 0) == 0, listed.loads


# A11 (fixed): BaseAgent.on_effect_failed answers error_types without the error's own class
#   (ErrorInfo keeps it apart, in error_type), so retry rules cannot match it
@pytest.mark.parametrize(
    ("name", "error_type"),
    [
        ("not_json", "actorflow.errors.EffectResultError"),
        ("interrupt", "builtins.KeyboardInterrupt"),
    ],
)
def test_a11_a_failed_effect_answers_its_errors_own_class_first(
    system: ActorSystem, name: str, error_type: str
) -> None:
    """The adversary's handler returns data that is not JSON (a set), or raises
    ``KeyboardInterrupt``: the effect fails (``EffectFailed``) rather than returning a
    failure outcome.

    What happens: ``on_effect_failed`` uses ``list(error.error_types)``, but
    ``error_info`` puts the class itself in ``error_type`` and only its bases in
    ``error_types``. The answer's ``error_types`` start at ``actorflow.errors.ActorflowError``
    / ``builtins.BaseException``: ``EffectResultError`` and ``KeyboardInterrupt`` are
    missing (and the interrupt's text is only 'the agent failed'), so a flow's retry
    rule naming them never matches, against ``AgentTaskDone.error_types``' contract ("the
    error's class and its bases, most specific first").

    What should happen: ``error_types[0]`` is the error's own class."""
    spawn(system, recipe(Hostile, AgentInfo(id=f"x_{name}")), f"x_{name}")

    reply = system.ask(f"/agents/x_{name}", task(name), timeout=5)

    assert isinstance(reply, AgentTaskDone)
    assert reply.error
    assert reply.error_types[:1] == (error_type,), reply.error_types


# A12 (fixed): a ResolveConflict whose id matches a conflict waiting for a human joins it whatever
#   it says, and gets a resolution naming agents it does not involve
def test_a12_a_different_conflict_reusing_an_id_is_not_given_anothers_answer(
    fake_system: ActorSystem, clock: Any
) -> None:
    """Conflict ``c1`` between agent_1 and agent_2 (severity 5) waits for a human. The
    adversary (or a second caller that numbers its conflicts the same way) sends another
    conflict also called ``c1``, between ``x`` and ``y``.

    What happens: ``ConflictArbiter.on_resolve_conflict`` joins any request whose
    ``conflict.id`` is waiting (``by_conflict``) without comparing the conflicts: the
    second caller is answered with the human's resolution of the first -- winner
    ``agent_2``, an agent its conflict does not involve, which ``_checked`` would refuse
    from any strategy.

    What should happen: only the same conflict joins; a different one under a waiting id
    is refused (a ``ConflictError``) or resolved on its own, among ``x`` and ``y``."""
    from actorflow.agents.conflicts import Conflict, ConflictRefused, ConflictResolved, ConflictType
    from actorflow.agents.paths import RESOLVER_PATH
    from actorflow.agents.resolver import ConflictResolver, conflict_request
    from actorflow.human import spawn_human_gateway
    from actorflow.messages.base import Message
    from actorflow.runtime.behaviour import Behaviour
    from actorflow.testing import Answer, Probe, ScriptedHuman

    class Requester(Behaviour):
        def __init__(self, probe: str) -> None:
            self.probe = probe

        def on_resolve_conflict(self, msg: Any, ctx: Any) -> None:
            ctx.request(RESOLVER_PATH, msg, timeout=3600)

        def on_message(self, msg: Message, ctx: Any) -> None:
            ctx.tell(self.probe, msg)

    def conflict(cid: str, agents: tuple[str, ...], severity: int) -> Conflict:
        return Conflict(
            id=cid,
            conflict_type=ConflictType.RESOURCE_CONFLICT,
            involved_agents=agents,
            severity=severity,
            created_at=1000.0,
        )

    facade = ConflictResolver(fake_system, escalation_severity=4, human_timeout=60)
    _ = facade.settings  # spawns /agents/resolver
    human = ScriptedHuman([Answer("agent_2", after=5), Answer("x", after=5)], clock=clock)
    spawn_human_gateway(fake_system, human)
    probe_1, probe_2 = Probe(fake_system, "p1"), Probe(fake_system, "p2")
    first = fake_system.spawn(recipe(Requester, probe_1.path), "first")
    second = fake_system.spawn(recipe(Requester, probe_2.path), "second")
    try:
        fake_system.tell(first, conflict_request(conflict("c1", ("agent_1", "agent_2"), 5)))
        assert human.wait_asked(1, timeout=2.0)
        fake_system.tell(second, conflict_request(conflict("c1", ("x", "y"), 5)))
        # second's next request is answered at once, so its first one has been taken
        fake_system.tell(second, conflict_request(conflict("c2", ("x", "y"), 1)))
        assert probe_2.expect(ConflictResolved, timeout=2.0).resolution.conflict_id == "c2"
        clock.advance(5)
        clock.advance(5)
        answer = probe_2.expect_envelope(timeout=2.0).message
    finally:
        facade.close()

    if isinstance(answer, ConflictResolved):
        assert answer.resolution.winner in ("x", "y"), answer.resolution
    else:
        assert isinstance(answer, ConflictRefused), answer


# A13 (fixed): two revisions of the same round (check_subtasks accepts them) get the same gate
#   step id gate_<round>: the orchestration dies with DuplicateStepError
def test_a13_two_revisions_in_one_round_get_their_own_gates(system: ActorSystem) -> None:
    """The adversary's custom decomposer reviews a draft twice in parallel (style and
    facts), each review with its own revision, leaving ``round`` at its default 0 --
    a plan ``check_subtasks`` accepts.

    What happens: ``orchestration_plan`` names each revision's condition gate
    ``gate_{subtask.round}``, so both are ``gate_0`` and ``flow.execute`` raises
    ``DuplicateStepError`` ("has two steps with id 'gate_0'") about a step the caller
    never named -- not the documented ``ConfigurationError``, and after the plan was
    accepted.

    What should happen: a gate is named after its revision (``gate_<revision id>``, which
    ``check_subtasks`` already keeps free), so the plan runs."""
    from actorflow.agents.decompose import Subtask
    from actorflow.agents.models import AgentRole
    from actorflow.agents.multi_agent import MultiAgentOrchestrator

    class TwoReviews:
        def decompose(self, task: str, context: Any, agents: Any) -> list[Subtask]:
            subtasks = [Subtask(id="produce", kind="produce", description="draft")]
            for aspect in ("style", "facts"):
                subtasks += [
                    Subtask(id=f"check_{aspect}", kind="review", description=aspect,
                            depends_on=("produce",), inputs={"work": "produce"}),
                    Subtask(id=f"fix_{aspect}", kind="revise", description=aspect,
                            depends_on=(f"check_{aspect}",),
                            inputs={"draft": "produce", "review": f"check_{aspect}"},
                            author_of="produce", only_if_rejected=f"check_{aspect}"),
                ]  # fmt: skip
            return subtasks

    async def writer(task: AgentTask, ctx: AgentContext) -> Any:
        return {"text": "draft"}

    async def reviewer(task: AgentTask, ctx: AgentContext) -> Any:
        return {"approved": False, "feedback": ["no"]}

    orchestrator = MultiAgentOrchestrator(
        system,
        decomposer=TwoReviews(),
        max_retries=0,
        retry_delay=0,  # type: ignore[arg-type]
    )
    w = AgentInfo(id="w", role=AgentRole.EXECUTOR)
    r = AgentInfo(id="r", role=AgentRole.VALIDATOR)
    orchestrator.register_agent(w, writer)
    orchestrator.register_agent(r, reviewer)

    result = asyncio.run(asyncio.wait_for(orchestrator.orchestrate_agents([w, r], "x", {}), 15))

    assert result.status == "completed", result.error


# A14 (fixed): the death watch and the allocator know a holder only by its path, so the late
#   notice of an old actor's stop releases the lease of a new actor at that path
def test_a14_a_holders_late_stop_notice_does_not_release_its_successors_lease(
    system: ActorSystem,
) -> None:
    """The adversary stops the holder ``/agents/h`` of a GPU lease, and a new actor is
    spawned at the same path and acquires a GPU at once (a restart-by-respawn, or a
    re-registered agent). A listener subscribed before the watch registry's lets the
    new actor's ``AcquireResource`` reach the allocator before the old one's
    ``WatchedActorDown`` -- the window between ``unregister`` (the path is free) and
    ``emit(ActorStopped)`` in ``Cell._release``.

    What happens: the allocator grants the new actor's lease under the same holder path;
    then the old actor's ``WatchedActorDown`` arrives and ``on_watched_actor_down``
    releases *every* lease of that path -- the new, live actor's included -- and drops
    its watch. The new actor believes it holds the GPU while another can be granted it.

    What should happen: a stop notice names the incarnation that stopped (a cell id in
    the watch and the notice), and only that incarnation's leases are released."""
    from actorflow.agents.paths import RESOURCES_PATH
    from actorflow.agents.resource_messages import AcquireResource, ResourceGranted
    from actorflow.agents.resources import (
        acquire_resource,
        ensure_resource_allocator,
        resource_statistics,
    )
    from actorflow.messages.system import ActorStopped
    from actorflow.runtime.behaviour import Behaviour
    from actorflow.testing import Probe

    class Idle(Behaviour):
        pass

    probe = Probe(system, "a14_probe")
    respawned = threading.Event()

    def respawn(event: object) -> None:
        if isinstance(event, ActorStopped) and event.path == "/agents/h" and not respawned.is_set():
            respawned.set()
            system.spawn(Idle, "h")
            system.send(
                RESOURCES_PATH,
                AcquireResource(resource="gpu", holder="/agents/h", request_id="second"),
                reply_to=probe.path,
            )

    system.subscribe(respawn)  # before the watch registry's listener (made on first watch)
    ensure_resource_allocator(system, {"gpu": 2})
    system.spawn(Idle, "h")
    asyncio.run(acquire_resource(system, "gpu", holder="/agents/h"))
    told = threading.Event()  # after the watch registry's listener has sent its notice
    system.subscribe(
        lambda e: told.set() if isinstance(e, ActorStopped) and e.path == "/agents/h" else None
    )

    system.stop_nowait("/agents/h")
    assert respawned.wait(5)
    assert told.wait(5)
    granted = probe.expect(ResourceGranted, timeout=5)
    stats = resource_statistics(system)  # asked after the notice was sent

    assert system.cell_at("/agents/h") is not None  # the new actor lives
    held = [lease.lease_id for lease in stats.resources[0].leases]
    assert held == [granted.lease_id], stats


# A15 (fixed): AgentContext.emit lets a handler's metadata replace the agent_id it stamps on the
#   stream event, so an agent's THINKING/TEXT can name another agent
def test_a15_an_agents_stream_event_names_the_agent_that_emitted_it(system: ActorSystem) -> None:
    """The adversary's handler calls ``ctx.think("...", agent_id="admin")``.

    What happens: ``AgentContext.emit`` builds the metadata as
    ``{"agent_id": self.info.id, **metadata}``, so the caller's ``agent_id`` wins: the
    THINKING event says ``agent_id="admin"`` although ``/agents/t`` emitted it (only
    ``source`` still tells the truth).

    What should happen: the agent's own id is stamped last (or a clashing key is
    refused with ``InvalidMessageError``)."""
    import queue

    from actorflow.streams import subscribe

    events: queue.Queue[Any] = queue.Queue()

    class Speaker(BaseAgent):
        async def handle_task(self, task: AgentTask, ctx: AgentContext) -> Any:
            ctx.think("thinking", agent_id="admin")
            return 1

    subscribe(system, events.put)
    spawn(system, recipe(Speaker, AgentInfo(id="t")), "t")
    assert system.ask("/agents/t", task("x"), timeout=5) == AgentTaskDone(result=1)

    event = events.get(timeout=5)

    assert event.source == "/agents/t"
    assert event.metadata["agent_id"] == "t"


# A16 (fixed): a task told with no reply address crashes the agent when it ends (ctx.reply
#   raises); the restart fails what it held and on_stop, raising again on the next such task,
#   leaves the rest unanswered for ever
def test_a16_a_fire_and_forget_task_neither_crashes_the_agent_nor_loses_others(
    system: ActorSystem,
) -> None:
    """The adversary (or a script) tells an agent three tasks with ``system.tell`` --
    fire and forget, no reply address -- while it works on one, then asks it for
    another and waits for the answer.

    What happens: when the first told task ends, ``BaseAgent._answer`` calls
    ``ctx.reply``, which raises ``RoutingError`` ("cannot reply: the message came ...");
    ``on_effect_completed`` fails, so the agent crashes (``ActorFailed``) and is
    restarted. ``on_stop`` then answers the jobs it held, in order: the next told task's
    ``ctx.reply`` raises again, so ``on_stop`` stops there and the asked task behind it
    is never answered (the ask times out): a lost task, after a crash nobody caused.

    What should happen: a task with nobody to answer is done and its result dropped (or
    logged), the agent keeps running, and the asked task is answered with its result."""
    gate, taken = threading.Event(), threading.Semaphore(0)

    class Counted(Hostile):
        def on_agent_task(self, msg: AgentTask, ctx: Any) -> None:
            super().on_agent_task(msg, ctx)
            taken.release()

    spawn(system, recipe(Counted, AgentInfo(id="ff"), gate), "ff")

    async def main() -> Any:
        try:
            for _ in range(3):
                system.tell("/agents/ff", task("hang"))
            asked = asyncio.ensure_future(system.ask_async("/agents/ff", task("after"), timeout=3))
            for _ in range(4):  # every task is held by the agent before any ends
                assert await asyncio.to_thread(taken.acquire, timeout=5)
        finally:
            gate.set()
        try:
            return await asked
        except AskTimeoutError:
            return None

    reply = asyncio.run(main())

    assert reply == AgentTaskDone(result="after")
