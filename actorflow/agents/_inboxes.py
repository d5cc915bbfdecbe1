"""The hub's state: inboxes, members, messages waiting for a response, answered ids.

It outlives the hub's behaviour (it is an argument of its recipe), so a restarted hub
keeps every queued message and every open request; only the timers are armed again.
Used only on the hub's thread.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Literal, final

from actorflow.agents.communication import AgentMessage
from actorflow.messages.envelope import Envelope

__all__ = ["DEFAULT_INBOX_CAPACITY", "Closed", "HubState", "Reader", "Waiting"]

DEFAULT_INBOX_CAPACITY = 10_000
"""Messages one receiver's inbox holds at most (more are refused, never dropped)."""
_CLOSED_MEMORY = 10_000
"""How many answered or timed-out message ids the hub remembers, to say why it refuses a
late or second response (older ones are refused as unknown)."""

Closed = Literal["answered", "timed out", "failed"]
"""How a request that waited for its response ended."""


@final
@dataclass(slots=True)
class Waiting:
    """A message that requires a response and has none yet."""

    message: AgentMessage
    asker: Envelope
    """The delivery that brought the message (the response is replied to it)."""
    deadline: float
    """Epoch seconds of the system clock when the response is due."""


@final
@dataclass(slots=True)
class Reader:
    """A ``receive_messages`` that waits for a first message (its inbox was empty)."""

    number: int
    asker: Envelope
    limit: int | None


@final
@dataclass(slots=True)
class HubState:
    """Everything the hub holds; see the module docstring."""

    inbox_capacity: int = DEFAULT_INBOX_CAPACITY
    inboxes: dict[str, deque[AgentMessage]] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    """Agent ids that joined (``JoinHub`` / ``register_agent``)."""
    waiting: dict[str, Waiting] = field(default_factory=dict)
    """Messages that wait for their response, by message id."""
    closed: OrderedDict[str, Closed] = field(default_factory=OrderedDict)
    """How recently ended requests ended, by message id (bounded)."""
    readers: dict[str, deque[Reader]] = field(default_factory=dict)
    """Waiting ``receive_messages`` calls, by agent id, first come first served."""
    reader_count: int = 0

    def inbox(self, agent_id: str) -> deque[AgentMessage]:
        """The inbox of ``agent_id`` (made empty if it had none)."""
        box = self.inboxes.get(agent_id)
        if box is None:
            box = self.inboxes[agent_id] = deque()
        return box

    def has_room(self, agent_id: str) -> bool:
        """Whether one more message fits in the inbox of ``agent_id``."""
        box = self.inboxes.get(agent_id)
        return box is None or len(box) < self.inbox_capacity

    def take(self, agent_id: str, limit: int | None) -> tuple[AgentMessage, ...]:
        """Remove and return up to ``limit`` (``None``: all) messages, oldest first."""
        box = self.inboxes.get(agent_id)
        if not box:
            return ()
        count = len(box) if limit is None else min(limit, len(box))
        return tuple(box.popleft() for _ in range(count))

    def known_agents(self) -> tuple[str, ...]:
        """Members and every id that has an inbox (even an empty one), sorted."""
        return tuple(sorted(self.members.union(self.inboxes)))

    def close(self, message_id: str, how: Closed) -> None:
        """Remember that the request ``message_id`` ended, and how."""
        self.closed[message_id] = how
        self.closed.move_to_end(message_id)
        while len(self.closed) > _CLOSED_MEMORY:
            self.closed.popitem(last=False)
