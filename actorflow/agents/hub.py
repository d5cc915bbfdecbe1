"""The agent communication hub: an actor at ``/agents/hub`` and its async facade.

Every agent message passes through the hub as a mailbox delivery, so every one of them,
and every answer, is in the journal.

**Direct messages.** An :class:`~actorflow.agents.communication.AgentMessage` told or
asked to the hub goes to its receiver:

- if a live actor holds ``/agents/<receiver_id>`` (an agent), the hub forwards the
  message to it (with the hub as reply-to, so its ``ctx.reply`` reaches the hub); messages
  that were queued for it before it ran are forwarded first, so it sees them in order;
- otherwise it is queued in the receiver's inbox at the hub, to be taken with
  ``receive_messages`` (oldest first; at most ``inbox_capacity`` messages per receiver,
  10,000 by default: one more is refused with
  :class:`~actorflow.agents.communication.AgentInboxFullError`, never dropped).

Messages to one receiver arrive in the order the hub took them.

**Responses.** For a message with ``requires_response`` the hub keeps the asking delivery
and arms a timer (``response_timeout``, on the system clock). The first
:class:`~actorflow.agents.communication.AgentResponse` for that message id is replied to
the asker; when the timer fires first the asker gets
:class:`~actorflow.agents.communication.AgentMessageFailed` carrying an
:class:`~actorflow.errors.AgentResponseTimeoutError`. A second, late or unknown response,
or one from another agent than the receiver, is refused with
:class:`~actorflow.agents.communication.AgentResponseRefused`
(:class:`~actorflow.agents.communication.AgentResponseRefusedError`) to the responder.
If the agent a message was forwarded to fails on it, the asker is told at once
(:class:`~actorflow.errors.AgentTaskFailedError`). A message that was asked without a
reply slot (a plain outside ``tell``) gets its response as an ``AgentMessage`` of type
``response`` (``error`` on a failure) from the receiver to the sender, correlated by
``correlation_id``, delivered like any message. A message without
``requires_response`` is acknowledged with
:class:`~actorflow.agents.communication.MessageAccepted` once it is forwarded or queued
(only to an asker: a plain ``tell`` gets no acknowledgement, but a refusal always goes to
the sender).

**Readers.** ``receive_messages`` takes the oldest messages of an inbox (waiting up to
``wait`` seconds for a first one). Should the reader be gone by the time its reply is
sent (an ask given up on or cancelled, a timed-out request, a stopped actor), the reply
is a dead letter and its messages go back to the head of the inbox, for the next reader.

**Broadcasts** (``receiver_id="*"``, or ``message_type`` ``broadcast``) go to every
agent the hub knows, except the sender: the ids that joined (``JoinHub``,
:meth:`AgentCommunicationHub.register_agent`; the orchestrator registers its agents) and
every id the hub has an inbox for (an id that was sent a message or read its inbox,
until it leaves). Live agents that never joined and were never written to do not get
it. Each receiver gets a copy with its own ``receiver_id`` and type ``broadcast``,
forwarded or queued as above; if any of their inboxes is full, nobody gets it and the
broadcast is refused. A broadcast cannot require a response.

**From an actor** (never blocking): ``ctx.request(HUB_PATH, AgentMessage(...,
requires_response=True), timeout=msg.response_timeout + 5)``; the handler gets
``on_agent_response`` or ``on_agent_message_failed`` (the hub's answer) or
``on_request_timed_out`` (the hub did not answer in time). An agent actor that gets an
``AgentMessage`` answers it with ``ctx.reply(AgentResponse(message_id=msg.id,
sender_id=<its id>, content=...))`` or by telling the hub the response.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import final

from pydantic import JsonValue, ValidationError

from actorflow.agents._inboxes import (
    DEFAULT_INBOX_CAPACITY,
    Closed,
    HubState,
    Reader,
    Waiting,
)
from actorflow.agents._owned import SystemHandle, ensure_actor
from actorflow.agents.communication import (
    BROADCAST_RECEIVER,
    AgentInboxFullError,
    AgentMessage,
    AgentMessageFailed,
    AgentResponse,
    AgentResponseAccepted,
    AgentResponseRefused,
    AgentResponseRefusedError,
    CommunicationType,
    HubMembership,
    InvalidAgentMessageError,
    JoinHub,
    LeaveHub,
    MessageAccepted,
    MessagesReceived,
    ReceiveDeadline,
    ReceiveMessages,
    ResponseDeadline,
    agent_error,
    check_agent_id,
    check_message,
    is_broadcast,
    json_content,
)
from actorflow.agents.paths import HUB_PATH, agent_path
from actorflow.errors import (
    AgentError,
    AgentResponseTimeoutError,
    AgentTaskFailedError,
    AskTimeoutError,
    ConfigurationError,
    MailboxFullError,
)
from actorflow.ids import ActorPath, CorrelationId, TimerId
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeadLetterReason, DeliveryFailed
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.cell import error_info
from actorflow.runtime.context import Context
from actorflow.runtime.system import ActorSystem

__all__ = ["HUB_PATH", "AgentCommunicationHub", "CommunicationHub", "ensure_hub"]

_FORWARD = "hub-forward:"
"""Correlation id prefix of a forwarded message (its DeliveryFailed names the message)."""
_GONE = frozenset(
    {DeadLetterReason.UNKNOWN_RECIPIENT, DeadLetterReason.STOPPED, DeadLetterReason.OVERFLOW}
)
"""Why a forward may fail although the agent could still take the message later."""
_NOT_READ = _GONE | {DeadLetterReason.LATE_REPLY, DeadLetterReason.UNHANDLED}
"""Why messages replied to a reader may not have been read (not ``failed``: its handler
had them)."""
_HANDED_MEMORY = 1_000
"""How many replies to readers the hub remembers, to queue their messages again if the
reply becomes a dead letter (the reader gave up: see ``_hand_over``)."""


def _target(env: Envelope | None) -> ActorPath | None:
    return None if env is None else (env.reply_to or env.sender)


class CommunicationHub(Behaviour):
    """Behaviour of ``/agents/hub`` (see the module docstring).

    Args:
        state: inboxes, members and open requests (outlives the behaviour: a restarted
            hub re-arms the response timers).
    """

    def __init__(self, state: HubState) -> None:
        self.state = state
        self.timers: dict[str, TimerId] = {}
        """The response timer of each message that waits for its response."""
        self.reader_timers: dict[int, TimerId] = {}
        self.handed: OrderedDict[str, tuple[str, tuple[AgentMessage, ...]]] = OrderedDict()
        """Messages recently replied to a reader, by its correlation id: put back in the
        inbox if that reply becomes a dead letter (the reader gave up)."""

    def on_start(self, ctx: Context) -> None:
        """Re-arm the timers of open requests (after a restart: as stored); readers that
        waited across a restart are answered at once, with no messages."""
        now = ctx.now().timestamp() if self.state.waiting else 0.0
        for message_id, waiting in self.state.waiting.items():
            delay = max(0.0, waiting.deadline - now)
            self.timers[message_id] = ctx.schedule(delay, ResponseDeadline(message_id=message_id))
        for agent_id, readers in self.state.readers.items():
            while readers:
                reader = readers.popleft()
                ctx.reply(MessagesReceived(agent_id=agent_id), to=reader.asker)

    # -- messages ---------------------------------------------------------------------

    def on_agent_message(self, msg: AgentMessage, ctx: Context) -> None:
        """Forward, queue or broadcast ``msg``; wait for its response if it needs one."""
        try:
            check_message(msg, waiting=self.state.waiting)
            if is_broadcast(msg):
                self._broadcast(msg, ctx)
                return
            self._check_room(msg.receiver_id, msg.id, ctx)
        except AgentError as exc:
            self._fail_message(msg, exc, ctx)
            return
        forwarded = self._deliver(msg, msg.receiver_id, ctx)
        if msg.requires_response:
            deadline = ctx.now().timestamp() + msg.response_timeout
            self.state.waiting[msg.id] = Waiting(msg, _asker(ctx), deadline)
            due = ResponseDeadline(message_id=msg.id)
            self.timers[msg.id] = ctx.schedule(msg.response_timeout, due)
            return
        receiver = (msg.receiver_id,)
        self._ack(
            MessageAccepted(
                message_id=msg.id,
                forwarded=receiver if forwarded else (),
                queued=() if forwarded else receiver,
            ),
            ctx,
        )

    def on_agent_response(self, msg: AgentResponse, ctx: Context) -> None:
        """Hand the first response to a waiting message to its asker; refuse any other."""
        waiting = self.state.waiting.get(msg.message_id)
        receiver = None if waiting is None else waiting.message.receiver_id
        if waiting is None or (msg.sender_id and msg.sender_id != receiver):
            error = self._refusal(msg, receiver)
            ctx.log.warning(
                "Response to agent message {message_id} refused: {error}",
                message_id=msg.message_id,
                error=str(error),
            )
            self._reply_or_log(
                AgentResponseRefused(message_id=msg.message_id, error=error_info(error)), ctx
            )
            return
        assert receiver is not None
        self._end(msg.message_id, "answered", ctx)
        response = msg if msg.sender_id else msg.model_copy(update={"sender_id": receiver})
        self._answer(waiting, response, ctx)
        self._ack(AgentResponseAccepted(message_id=msg.message_id), ctx)

    def on_response_deadline(self, msg: ResponseDeadline, ctx: Context) -> None:
        """Fail a message whose response did not come in time."""
        waiting = self.state.waiting.get(msg.message_id)
        if waiting is None:
            return  # answered first
        self.timers.pop(msg.message_id, None)
        self._end(msg.message_id, "timed out", ctx)
        sent = waiting.message
        error = AgentResponseTimeoutError(
            f"Agent {sent.receiver_id!r} gave no response to message {sent.id!r} in "
            f"{sent.response_timeout:g} s. A response sent now is refused. Check that agent "
            f"{sent.receiver_id!r} runs or reads its inbox, or give a longer response_timeout."
        )
        self._fail_waiting(waiting, error, ctx)

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        """A forwarded message became a dead letter: queue it again, or fail its asker."""
        env = ctx.envelope
        cid = "" if env is None or env.correlation_id is None else env.correlation_id
        handed = self.handed.pop(cid, None) if cid else None
        read = msg.request_kind != MessagesReceived.kind_tag or msg.reason not in _NOT_READ
        if handed is not None and not read:
            agent_id, taken = handed
            ctx.log.warning(
                "{count} message(s) for {agent_id} reached no reader ({reason}); queued again",
                count=len(taken),
                agent_id=agent_id,
                reason=msg.reason.value,
            )
            self.state.inbox(agent_id).extendleft(reversed(taken))
            self._wake_reader(agent_id, ctx)
            return
        waiting = self.state.waiting.get(cid.removeprefix(_FORWARD))
        if waiting is None or not cid.startswith(_FORWARD):
            ctx.log.warning(
                "Agent message forwarded to {to} was not taken ({reason}): {detail}",
                to=msg.recipient,
                reason=msg.reason.value,
                detail=msg.detail,
            )
            return
        sent = waiting.message
        if msg.reason in _GONE and self.state.has_room(sent.receiver_id):
            # Its agent stopped (or is full): the message waits in the inbox, for the agent's
            # next actor (forwarded on its next message or JoinHub) or receive_messages.
            # Messages sent after it and queued first stay ahead of it (a rare race).
            self.state.inbox(sent.receiver_id).append(sent)
            self._wake_reader(sent.receiver_id, ctx)
            return
        self._end(sent.id, "failed", ctx)
        error = AgentTaskFailedError(
            f"Agent {sent.receiver_id!r} could not take message {sent.id!r} "
            f"({msg.reason.value}): {msg.detail or 'no detail'}."
        )
        self._fail_waiting(waiting, error, ctx)

    def on_receive_messages(self, msg: ReceiveMessages, ctx: Context) -> None:
        """Reply with the queued messages of an agent; or wait for one, if asked to."""
        try:
            agent_id = check_agent_id(msg.agent_id)
        except AgentError as exc:
            failed = AgentMessageFailed(
                message_id="", receiver_id=str(msg.agent_id), error=error_info(exc)
            )
            self._reply_or_log(failed, ctx)
            return
        self.state.inbox(agent_id)  # a reader is a known agent (it gets broadcasts)
        asker = _asker(ctx)
        if _target(asker) is None:  # nobody to hand messages to: leave them queued
            self._reply_or_log(MessagesReceived(agent_id=agent_id), ctx)
            return
        taken = self.state.take(agent_id, msg.limit)
        if taken or msg.wait <= 0:
            self._hand_over(agent_id, taken, asker, ctx)
            return
        self.state.reader_count += 1
        number = self.state.reader_count
        reader = Reader(number=number, asker=asker, limit=msg.limit)
        self.state.readers.setdefault(agent_id, deque()).append(reader)
        due = ReceiveDeadline(agent_id=agent_id, waiter=number)
        self.reader_timers[number] = ctx.schedule(msg.wait, due)

    def on_receive_deadline(self, msg: ReceiveDeadline, ctx: Context) -> None:
        """Answer a reader that waited in vain with no messages."""
        self.reader_timers.pop(msg.waiter, None)
        readers = self.state.readers.get(msg.agent_id, deque())
        for reader in readers:
            if reader.number == msg.waiter:
                readers.remove(reader)
                ctx.reply(MessagesReceived(agent_id=msg.agent_id), to=reader.asker)
                return

    def on_join_hub(self, msg: JoinHub, ctx: Context) -> None:
        """Make an agent a member; forward what waited in its inbox to its live actor."""
        try:
            agent_id = check_agent_id(msg.agent_id)
        except AgentError as exc:
            failed = AgentMessageFailed(
                message_id="", receiver_id=str(msg.agent_id), error=error_info(exc)
            )
            self._reply_or_log(failed, ctx)
            return
        self.state.members.add(agent_id)
        self.state.inbox(agent_id)
        path = agent_path(agent_id)
        flushed = self._flush(agent_id, path, ctx) if ctx.system.cell_at(path) else 0
        self._ack(HubMembership(agent_id=agent_id, is_member=True, forwarded=flushed), ctx)

    def on_leave_hub(self, msg: LeaveHub, ctx: Context) -> None:
        """Forget a member (an empty inbox goes too: it no longer gets broadcasts)."""
        self.state.members.discard(msg.agent_id)
        if not self.state.inboxes.get(msg.agent_id, True):
            del self.state.inboxes[msg.agent_id]
        self._ack(HubMembership(agent_id=msg.agent_id, is_member=False), ctx)

    # -- delivering -------------------------------------------------------------------

    def _check_room(self, agent_id: str, message_id: str, ctx: Context) -> None:
        if ctx.system.cell_at(agent_path(agent_id)) is None and not self.state.has_room(agent_id):
            raise AgentInboxFullError(
                f"The inbox of agent {agent_id!r} is full ({self.state.inbox_capacity} "
                f"messages), so message {message_id!r} was not queued. The agent must take "
                "its messages with receive_messages() first (or run as an actor)."
            )

    def _deliver(self, msg: AgentMessage, agent_id: str, ctx: Context) -> bool:
        """Forward ``msg`` to the live agent, or queue it; return whether it was forwarded."""
        box = self.state.inbox(agent_id)
        path = agent_path(agent_id)
        if ctx.system.cell_at(path) is not None:
            self._flush(agent_id, path, ctx)
            if not box and self._forward(msg, path, ctx):
                return True  # (behind messages its full mailbox refused, it waits too)
        box.append(msg)
        self._wake_reader(agent_id, ctx)
        return False

    def _forward(self, msg: AgentMessage, path: ActorPath, ctx: Context) -> bool:
        try:
            ctx.system.send(
                path,
                msg,
                sender=ctx.path,
                reply_to=ctx.path,
                correlation_id=CorrelationId(f"{_FORWARD}{msg.id}"),
            )
        except MailboxFullError:
            return False  # its mailbox refuses: it waits in the inbox instead
        return True

    def _flush(self, agent_id: str, path: ActorPath, ctx: Context) -> int:
        """Forward what waits in the inbox of a live agent, oldest first."""
        box = self.state.inboxes.get(agent_id)
        count = 0
        while box:
            if not self._forward(box[0], path, ctx):
                break
            box.popleft()
            count += 1
        return count

    def _wake_reader(self, agent_id: str, ctx: Context) -> None:
        readers = self.state.readers.get(agent_id)
        if not readers:
            return
        reader = readers.popleft()
        timer = self.reader_timers.pop(reader.number, None)
        if timer is not None:
            ctx.cancel_timer(timer)
        taken = self.state.take(agent_id, reader.limit)
        self._hand_over(agent_id, taken, reader.asker, ctx)

    def _hand_over(
        self,
        agent_id: str,
        taken: tuple[AgentMessage, ...],
        asker: Envelope,
        ctx: Context,
    ) -> None:
        """Reply ``taken`` to a reader, with the hub as reply-to: if the reader is gone (an
        ask given up on, a request timed out, a stopped actor), the reply is a dead letter
        whose ``DeliveryFailed`` comes back here and puts the messages back in the inbox."""
        target = _target(asker)
        assert target is not None  # readers always have a reply slot or a sender
        cid = asker.correlation_id
        if taken and cid is not None:
            self.handed[cid] = (agent_id, taken)
            while len(self.handed) > _HANDED_MEMORY:
                self.handed.popitem(last=False)
        ctx.system.send(
            target,
            MessagesReceived(agent_id=agent_id, messages=taken),
            sender=ctx.path,
            reply_to=ctx.path,
            correlation_id=cid,
        )

    def _broadcast(self, msg: AgentMessage, ctx: Context) -> None:
        receivers = [a for a in self.state.known_agents() if a != msg.sender_id]
        for agent_id in receivers:
            self._check_room(agent_id, msg.id, ctx)
        forwarded: list[str] = []
        queued: list[str] = []
        for agent_id in receivers:
            copy = msg.model_copy(
                update={"receiver_id": agent_id, "message_type": CommunicationType.BROADCAST}
            )
            (forwarded if self._deliver(copy, agent_id, ctx) else queued).append(agent_id)
        self._ack(
            MessageAccepted(message_id=msg.id, forwarded=tuple(forwarded), queued=tuple(queued)),
            ctx,
        )

    # -- answering --------------------------------------------------------------------

    def _end(self, message_id: str, how: Closed, ctx: Context) -> None:
        del self.state.waiting[message_id]
        timer = self.timers.pop(message_id, None)
        if timer is not None:
            ctx.cancel_timer(timer)
        self.state.close(message_id, how)

    def _answer(self, waiting: Waiting, response: AgentResponse, ctx: Context) -> None:
        if _target(waiting.asker) is not None:
            ctx.reply(response, to=waiting.asker)
            return
        failed = bool(response.error)
        content: JsonValue = (
            {"error": response.error, "content": response.content} if failed else response.content
        )
        self._tell_sender(waiting.message, content, ctx, failed=failed)

    def _fail_waiting(self, waiting: Waiting, error: AgentError, ctx: Context) -> None:
        sent = waiting.message
        ctx.log.warning(
            "Agent message {message_id} failed: {error}", message_id=sent.id, error=str(error)
        )
        if _target(waiting.asker) is not None:
            failed = AgentMessageFailed(
                message_id=sent.id, receiver_id=sent.receiver_id, error=error_info(error)
            )
            ctx.reply(failed, to=waiting.asker)
        else:
            self._tell_sender(sent, {"error": str(error)}, ctx, failed=True)

    def _tell_sender(
        self, sent: AgentMessage, content: JsonValue, ctx: Context, *, failed: bool
    ) -> None:
        """Send the outcome of a message asked without a reply slot to its sender's inbox."""
        outcome = AgentMessage(
            id=ctx.new_id("hub-msg"),
            sender_id=sent.receiver_id,
            receiver_id=sent.sender_id,
            message_type=CommunicationType.ERROR if failed else CommunicationType.RESPONSE,
            content=content,
            correlation_id=sent.id,
            timestamp=ctx.now().timestamp(),
        )
        try:
            self._check_room(sent.sender_id, outcome.id, ctx)
        except AgentInboxFullError as exc:
            ctx.log.warning(
                "Outcome of {message_id} not queued: {error}", message_id=sent.id, error=str(exc)
            )
            return
        self._deliver(outcome, sent.sender_id, ctx)

    def _fail_message(self, msg: AgentMessage, exc: AgentError, ctx: Context) -> None:
        ctx.log.warning(
            "Agent message {message_id} refused ({kind}): {error}",
            message_id=msg.id,
            kind=type(exc).__name__,
            error=str(exc),
        )
        failed = AgentMessageFailed(
            message_id=msg.id, receiver_id=msg.receiver_id, error=error_info(exc)
        )
        self._reply_or_log(failed, ctx)

    def _refusal(self, msg: AgentResponse, receiver: str | None) -> AgentResponseRefusedError:
        mid = msg.message_id
        if receiver is not None:
            return AgentResponseRefusedError(
                f"The response to message {mid!r} came from {msg.sender_id!r}, but the "
                f"message was sent to agent {receiver!r}; only its receiver may answer it."
            )
        how = self.state.closed.get(mid)
        if how is None:
            return AgentResponseRefusedError(
                f"No agent message {mid!r} waits for a response: the id is unknown (or it "
                "ended long ago, or never required a response). Answer the id of a message "
                "received with requires_response=True."
            )
        return AgentResponseRefusedError(
            f"Agent message {mid!r} was {how} already, so this response is refused; a "
            "message gets one response, before its response_timeout."
        )

    @staticmethod
    def _ack(message: Message, ctx: Context) -> None:
        """Reply only to an asker (an ``ask`` or ``ctx.request``), never to a plain tell."""
        env = ctx.envelope
        if env is not None and env.reply_to is not None:
            ctx.reply(message)

    @staticmethod
    def _reply_or_log(message: Message, ctx: Context) -> None:
        if _target(ctx.envelope) is not None:
            ctx.reply(message)
        else:
            ctx.log.warning(
                "Nobody to tell {kind} (sent from outside by tell)", kind=message.kind_tag
            )


def _asker(ctx: Context) -> Envelope:
    env = ctx.envelope
    assert env is not None  # handlers of messages always have their delivery
    return env


def ensure_hub(system: ActorSystem, *, inbox_capacity: int = DEFAULT_INBOX_CAPACITY) -> ActorPath:
    """Return the hub's path (``/agents/hub``), spawning the hub if none runs.

    ``inbox_capacity`` applies only when this call spawns it.
    """
    untrusted: object = inbox_capacity  # callers without a type checker may pass anything
    if isinstance(untrusted, bool) or not isinstance(untrusted, int) or untrusted < 1:
        raise ConfigurationError(f"inbox_capacity must be a positive int, got {inbox_capacity!r}.")
    return ensure_actor(
        system, "hub", lambda: recipe(CommunicationHub, HubState(inbox_capacity=inbox_capacity))
    )


@final
class AgentCommunicationHub:
    """The seed's communication hub: send, receive, respond and broadcast, from outside
    the actors (scripts, web handlers, tests), over the hub actor at ``/agents/hub``.

    Args:
        system: the actor system to use, whose hub is spawned now if none runs
            (``None``: one of its own, started with its hub on first use and shut down
            by :meth:`close`).
        inbox_capacity: messages one receiver's inbox holds at most (when this facade
            spawns the hub).
        reply_grace: seconds to wait for the hub's answer beyond a message's
            ``response_timeout`` (or at all, for other calls) before giving up.
    """

    def __init__(
        self,
        system: ActorSystem | None = None,
        *,
        inbox_capacity: int = DEFAULT_INBOX_CAPACITY,
        reply_grace: float = 30.0,
    ) -> None:
        grace: object = reply_grace  # callers without a type checker may pass anything
        if not (isinstance(grace, int | float) and math.isfinite(grace) and grace > 0):
            raise ConfigurationError(
                f"reply_grace must be a positive, finite number of seconds, got {reply_grace!r}."
            )
        self._handle = SystemHandle(system)
        self._inbox_capacity = inbox_capacity
        self._reply_grace = float(reply_grace)
        self._hub: ActorPath | None = None
        if system is not None:  # a given system gets its hub now; an owned one on first use
            self._hub = ensure_hub(system, inbox_capacity=inbox_capacity)

    @property
    def system(self) -> ActorSystem:
        """The actor system (an owned one starts now), with the hub running."""
        system = self._handle.system
        if self._hub is None:
            self._hub = ensure_hub(system, inbox_capacity=self._inbox_capacity)
        return system

    async def send_message(
        self, message: AgentMessage | Mapping[str, object]
    ) -> AgentResponse | None:
        """Send a message; for one that requires a response, wait for it.

        Args:
            message: an :class:`AgentMessage` (or a dict of its fields).

        Returns:
            The :class:`AgentResponse` (its ``content`` is the answer; ``error`` is set
            when the receiver said it could not do it) when ``requires_response``;
            otherwise ``None``, once the message is forwarded or queued.

        Raises:
            AgentResponseTimeoutError: no response within ``response_timeout``.
            AgentTaskFailedError: the agent actor it was forwarded to failed on it.
            AgentInboxFullError: the receiver's inbox is full.
            InvalidAgentMessageError: the message is malformed (an id, its content).
        """
        msg = _as_message(message)
        system = self.system
        grace = self._reply_grace
        timeout = msg.response_timeout + grace if msg.requires_response else grace
        try:
            reply = await system.ask_async(HUB_PATH, msg, timeout=timeout)
        except AskTimeoutError as exc:
            if not msg.requires_response:
                raise
            raise AgentResponseTimeoutError(
                f"Agent {msg.receiver_id!r} gave no response to message {msg.id!r} in "
                f"{msg.response_timeout:g} s, and the hub did not answer in {grace:g} s more."
            ) from exc
        if isinstance(reply, AgentMessageFailed):
            raise agent_error(reply.error)
        if isinstance(reply, AgentResponse):
            return reply
        assert isinstance(reply, MessageAccepted), reply
        return None

    async def receive_messages(
        self, agent_id: str, *, limit: int | None = None, wait: float = 0.0
    ) -> list[AgentMessage]:
        """Take the messages queued for ``agent_id``, oldest first.

        Args:
            agent_id: whose inbox.
            limit: take at most this many (``None``: all).
            wait: if the inbox is empty, wait up to this many seconds (system clock) for a
                first message (``0``: return at once, as the seed does).

        Raises:
            InvalidAgentMessageError: ``agent_id`` cannot name an agent, or ``limit`` or
                ``wait`` is out of range.
        """
        try:
            request = ReceiveMessages(agent_id=agent_id, limit=limit, wait=wait)
        except ValidationError as exc:
            raise InvalidAgentMessageError(
                f"receive_messages({agent_id!r}) needs limit >= 1 (or None) and 0 <= wait "
                f"<= 1 week: {_first_problem(exc)}."
            ) from None
        reply = await self.system.ask_async(HUB_PATH, request, timeout=wait + self._reply_grace)
        if isinstance(reply, AgentMessageFailed):
            raise agent_error(reply.error)
        assert isinstance(reply, MessagesReceived), reply
        return list(reply.messages)

    async def send_response(
        self,
        message_id: str,
        content: JsonValue = None,
        *,
        sender_id: str | None = None,
        error: str = "",
    ) -> None:
        """Answer the message ``message_id``; its sender's ``send_message`` returns it.

        Args:
            message_id: the id of a message that requires a response.
            content: the answer (JSON data).
            sender_id: who answers (default: the message's receiver).
            error: say the request could not be done (``content`` may explain).

        Raises:
            AgentResponseRefusedError: the message is unknown, answered already or timed
                out, or ``sender_id`` is not its receiver.
            InvalidAgentMessageError: ``content`` is not JSON data.
        """
        checked = json_content(content, f"The response to message {message_id!r}")
        response = AgentResponse(
            message_id=message_id, sender_id=sender_id or "", content=checked, error=error
        )
        reply = await self.system.ask_async(HUB_PATH, response, timeout=self._reply_grace)
        if isinstance(reply, AgentResponseRefused):
            raise agent_error(reply.error)
        assert isinstance(reply, AgentResponseAccepted), reply

    async def broadcast(
        self,
        sender_id: str,
        content: JsonValue = None,
        *,
        message_id: str | None = None,
    ) -> tuple[str, ...]:
        """Send ``content`` to every agent the hub knows but the sender; return who got it.

        See the module docstring for exactly who that is.

        Raises:
            AgentInboxFullError: a receiver's inbox is full (nobody got it).
            InvalidAgentMessageError: ``sender_id`` or ``content`` is malformed.
        """
        checked = json_content(content, "The content of a broadcast")
        fields: dict[str, object] = {
            "sender_id": sender_id,
            "receiver_id": BROADCAST_RECEIVER,
            "message_type": CommunicationType.BROADCAST,
            "content": checked,
        }
        if message_id is not None:
            fields["id"] = message_id
        msg = _as_message(fields)
        reply = await self.system.ask_async(HUB_PATH, msg, timeout=self._reply_grace)
        if isinstance(reply, AgentMessageFailed):
            raise agent_error(reply.error)
        assert isinstance(reply, MessageAccepted), reply
        return reply.receivers

    def register_agent(self, agent_id: str) -> None:
        """Make ``agent_id`` known to the hub (it gets broadcasts); does not wait.

        Raises:
            InvalidAgentMessageError: ``agent_id`` cannot name an agent.
        """
        self.system.tell(HUB_PATH, JoinHub(agent_id=check_agent_id(agent_id)))

    def unregister_agent(self, agent_id: str) -> None:
        """Forget ``agent_id`` for broadcasts (queued messages stay); does not wait."""
        self.system.tell(HUB_PATH, LeaveHub(agent_id=agent_id))

    def close(self) -> None:
        """Shut the actor system down if this hub owns it (a given one keeps running)."""
        self._handle.close()
        self._hub = None  # a later call starts a new owned system, with a new hub


def _as_message(message: object) -> AgentMessage:
    if isinstance(message, AgentMessage):
        return message
    if isinstance(message, Mapping):
        try:
            return AgentMessage.model_validate(dict(message))
        except ValidationError as exc:
            raise InvalidAgentMessageError(
                f"Not a valid agent message: {_first_problem(exc)}."
            ) from None
    raise InvalidAgentMessageError(
        f"send_message() needs an AgentMessage (or a dict of its fields), got "
        f"{type(message).__name__}."
    )


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return f"{where}: {first['msg']}"
