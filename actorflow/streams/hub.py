"""The stream hub at ``/system/streams``: numbers stream events and fans them out.

Emitters (flow actors, their tools, agents, the flow facade) tell the hub
:class:`~actorflow.streams.messages.StreamEvents`; the journal records them like any
delivery. The hub stamps each event with its sender's path and its per-flow sequence
number, then offers it to every subscription whose filter it passes. Offering never
blocks: each subscription has its own bounded queue and its own consumer (a subscriber
actor, or a task on an event loop), so a slow subscriber falls behind alone, never
holding the hub, the flows or the other subscribers.

Subscriptions live in the system's :class:`StreamRegistry`, shared by the hub and
whoever subscribes, so a subscription made before a flow starts sees all its events.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import final

from pydantic import JsonValue, ValidationError

from actorflow._trusted import trusted
from actorflow.errors import ActorNameTakenError, InvalidMessageError
from actorflow.ids import ActorPath
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.context import Context
from actorflow.runtime.system import SYSTEM_PATH, ActorSystem
from actorflow.streams._queue import EventQueue
from actorflow.streams.messages import PassBarrier, StartRoute, StreamEvents
from actorflow.streams.types import StreamCallbackData, StreamCallbackType

__all__ = [
    "STREAMS_PATH",
    "Route",
    "StreamHub",
    "StreamRegistry",
    "emit_event",
    "spawn_streams",
    "streams_of",
]

STREAMS_PATH = ActorPath("/system/streams")
"""Where the actor system hosts its stream hub."""


@final
@dataclass(frozen=True, slots=True)
class Route:
    """Where the hub sends the events that pass a filter: a subscription's queue."""

    queue: EventQueue
    flow_id: str | None = None
    """Only this flow's events (None: every flow's)."""
    topic: str | None = None
    """Only events for this topic (a flow facade's; None: every topic)."""

    def wants(self, item: StreamCallbackData, topic: str) -> bool:
        """Whether the events pass the filter."""
        return (self.flow_id is None or item.flow_id == self.flow_id) and (
            self.topic is None or self.topic == topic
        )


@final
class StreamRegistry:
    """The system's subscriptions (any thread; the hub reads a snapshot per batch).

    A route added here starts when the hub takes the :class:`StartRoute` message that
    :meth:`add` sends: it gets exactly the events told to the hub after it was added.
    """

    def __init__(self, system: ActorSystem) -> None:
        self._system = system
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.barriers: dict[int, threading.Event] = {}
        self.waiting: dict[int, Route] = {}
        """Routes added whose StartRoute the hub has not taken yet."""
        self.routes: tuple[Route, ...] = ()
        """The routes the hub offers events to (replaced, never changed in place)."""
        self.numbered = 0
        """Events the hub numbered."""

    def add(self, route: Route) -> Callable[[], None]:
        """Route the events emitted from now on to ``route``; return what stops it."""
        with self._lock:
            route_id = next(self._ids)
            self.waiting[route_id] = route
        self._system.tell(STREAMS_PATH, StartRoute(route_id=route_id))

        def remove() -> None:
            with self._lock:
                self.waiting.pop(route_id, None)
                self.routes = tuple(r for r in self.routes if r is not route)

        return remove

    def is_heard(self, system: ActorSystem) -> bool:
        """Whether an event told now would reach anyone: a subscription, or ``system``'s
        journal (emitters skip building events nobody would get)."""
        return bool(self.routes or self.waiting) or system.journal is not None

    def barrier(self) -> threading.Event:
        """Return an event the hub sets once it has handled what was told to it before."""
        passed = threading.Event()
        with self._lock:
            barrier_id = next(self._ids)
            self.barriers[barrier_id] = passed
        self._system.send(STREAMS_PATH, PassBarrier(barrier_id=barrier_id), quiet=True)
        return passed

    def passed(self, barrier_id: int) -> None:
        """The hub reached a barrier (its thread)."""
        with self._lock:
            passed = self.barriers.pop(barrier_id, None)
        if passed is not None:
            passed.set()

    def start(self, route_id: int) -> None:
        """Start routing to a route added before (the hub's thread)."""
        with self._lock:
            route = self.waiting.pop(route_id, None)
            if route is not None:
                self.routes = (*self.routes, route)


class StreamHub(Behaviour):
    """Behaviour of ``/system/streams``."""

    def __init__(self, registry: StreamRegistry) -> None:
        self.registry = registry
        self.seqs: dict[str | None, int] = {}
        """The last sequence number of each flow under way (None: events of no flow)."""
        self.topics: dict[str, str] = {}
        """The topic of each flow under way (its own events name it), so that events
        others emit for the flow (its agents') reach the flow's subscribers."""

    def on_start_route(self, msg: StartRoute, ctx: Context) -> None:
        """A subscription was made: the events from here on are its."""
        self.registry.start(msg.route_id)

    def on_pass_barrier(self, msg: PassBarrier, ctx: Context) -> None:
        """Someone waits until the hub has handled what came before this."""
        self.registry.passed(msg.barrier_id)

    def on_stream_events(self, msg: StreamEvents, ctx: Context) -> None:
        """Number the events, then offer them to every subscription that wants them."""
        env = ctx.envelope
        sender = "" if env is None or env.sender is None else str(env.sender)
        seqs, topics, numbered = self.seqs, self.topics, []
        topic = msg.topic
        for item in msg.items:
            flow_id = item.flow_id
            seq = seqs.get(flow_id, 0) + 1
            if flow_id is not None:
                if topic:
                    topics[flow_id] = topic
                else:
                    topic = topics.get(flow_id, "")
            if item.is_last:
                seqs.pop(flow_id, None)  # a flow id run again counts afresh
                if flow_id is not None:
                    topics.pop(flow_id, None)
            else:
                seqs[flow_id] = seq
            numbered.append(_numbered(item, seq, item.source or sender))
        self.registry.numbered += len(numbered)
        for route in self.registry.routes:
            if route.flow_id is None and route.topic is None:
                route.queue.offer(numbered)
            else:
                route.queue.offer([i for i in numbered if route.wants(i, topic)])


def _numbered(item: StreamCallbackData, seq: int, source: str) -> StreamCallbackData:
    return trusted(
        StreamCallbackData,
        type=item.type,
        content=item.content,
        metadata=item.metadata,
        flow_id=item.flow_id,
        step_id=item.step_id,
        timestamp=item.timestamp,
        source=source,
        seq=seq,
    )


_registries: weakref.WeakKeyDictionary[ActorSystem, StreamRegistry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def streams_of(system: ActorSystem) -> StreamRegistry:
    """Return ``system``'s stream registry, spawning its hub at ``/system/streams`` on
    first use (any thread; a second call returns the same registry).

    Raises:
        SystemStoppedError: the system is not running.
    """
    with _registries_lock:
        registry = _registries.get(system)
        if registry is not None and system.cell_at(STREAMS_PATH) is not None:
            return registry
        registry = registry or StreamRegistry(system)
        _registries[system] = registry
        with contextlib.suppress(ActorNameTakenError):  # spawned meanwhile by another thread
            system.spawn(
                recipe(StreamHub, registry), "streams", parent=SYSTEM_PATH, dispatcher="loop"
            )
        return registry


def emit_event(
    ctx: Context,
    type: StreamCallbackType | str,
    content: JsonValue = None,
    *,
    flow_id: str | None = None,
    step_id: str | None = None,
    **metadata: JsonValue,
) -> None:
    """Tell a stream event from an actor's handler (an agent's THINKING or TEXT while it
    works on a flow's step: pass the task's ``flow_id`` and ``step_id``, and the event
    reaches that flow's subscribers). Never blocks.

    Raises:
        InvalidMessageError: the type is unknown, or content or metadata is not JSON.
    """
    try:
        item = StreamCallbackData(
            type=StreamCallbackType(type),
            content=content,
            metadata=metadata,
            flow_id=flow_id,
            step_id=step_id,
            timestamp=ctx.clock.now().timestamp(),
        )
    except (ValidationError, ValueError) as exc:
        raise InvalidMessageError(
            f"{ctx.path} emitted an invalid stream event ({type!r}): "
            f"{str(exc).strip().splitlines()[-1]}. Pass a StreamCallbackType and JSON data."
        ) from None
    streams_of(ctx.system)
    ctx.tell(STREAMS_PATH, StreamEvents(items=(item,)))


def spawn_streams(system: ActorSystem) -> ActorPath:
    """Spawn the stream hub at ``/system/streams`` if it is not there; return its path."""
    streams_of(system)
    return STREAMS_PATH
