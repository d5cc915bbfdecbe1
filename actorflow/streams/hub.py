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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import final

from pydantic import JsonValue, ValidationError

from actorflow._trusted import trusted
from actorflow.errors import ActorNameTakenError, CodecError, InvalidMessageError
from actorflow.ids import ActorPath
from actorflow.messages.codec import pack
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.context import Context
from actorflow.runtime.system import SYSTEM_PATH, ActorSystem
from actorflow.streams._queue import EventQueue
from actorflow.streams.messages import PassBarrier, StartRoute, StopRoute, StreamEvents
from actorflow.streams.types import StreamCallbackData, StreamCallbackType

__all__ = [
    "STREAMS_PATH",
    "Route",
    "StreamHub",
    "StreamRegistry",
    "MAX_EVENT_BYTES",
    "MAX_TRACKED_FLOWS",
    "emit_event",
    "outside_event",
    "spawn_streams",
    "streams_of",
]

STREAMS_PATH = ActorPath("/system/streams")
"""Where the actor system hosts its stream hub."""
MAX_TRACKED_FLOWS = 10_000
"""Flows whose numbering the hub keeps at once; beyond, the least recently heard
flow's is forgotten (its next event starts again from 1). A flow's last event
forgets it at once; the bound is for flow ids that never end (a plan made and never
run, a process that stopped)."""


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
        self._ids_of: dict[int, Route] = {}
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
            self._ids_of[route_id] = route
        self._system.tell(STREAMS_PATH, StartRoute(route_id=route_id))

        def remove() -> None:
            # Through the hub too: events told before the removal still reach the (closed)
            # queue, which counts them as discarded, instead of vanishing.
            if self._system.is_running:  # (at shutdown the hub closes every route)
                self._system.send(STREAMS_PATH, StopRoute(route_id=route_id), quiet=True)

        return remove

    def stop(self, route_id: int) -> None:
        """Stop routing to a route (the hub's thread)."""
        with self._lock:
            route = self._ids_of.pop(route_id, None)
            self.waiting.pop(route_id, None)
            if route is not None:
                self.routes = tuple(r for r in self.routes if r is not route)

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

    def close_all(self) -> None:
        """Close every subscription (the system shuts down): what they hold is counted
        as discarded, and consumers waiting for events are let go."""
        with self._lock:
            routes = (*self.routes, *self.waiting.values())
            self.routes, self.waiting, self._ids_of = (), {}, {}
            barriers = list(self.barriers.values())
            self.barriers.clear()
        for route in routes:
            route.queue.close()
        for passed in barriers:
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
        self.seqs: OrderedDict[str | None, int] = OrderedDict()
        """The last sequence number of each flow under way (None: events of no flow)."""
        self.topics: dict[str, str] = {}
        """The topic of each flow under way (its own events name it), so that events
        others emit for the flow (its agents') reach the flow's subscribers."""

    def on_start_route(self, msg: StartRoute, ctx: Context) -> None:
        """A subscription was made: the events from here on are its."""
        self.registry.start(msg.route_id)

    def on_stop(self, ctx: Context) -> None:
        """The system shuts down (a restart keeps every subscription)."""
        if not ctx.system.is_running:
            self.registry.close_all()

    def on_stop_route(self, msg: StopRoute, ctx: Context) -> None:
        """A subscription was closed: no more events for it."""
        self.registry.stop(msg.route_id)

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
                if msg.topic:
                    topics[flow_id] = msg.topic
                elif not topic:  # an agent's event: the flow's topic (one per message)
                    topic = topics.get(flow_id, "")
            if item.is_last:
                seqs.pop(flow_id, None)  # a flow id run again counts afresh
                if flow_id is not None:
                    topics.pop(flow_id, None)
            else:
                seqs[flow_id] = seq
                seqs.move_to_end(flow_id)
            numbered.append(_numbered(item, seq, item.source or sender))
        while len(seqs) > MAX_TRACKED_FLOWS:  # flows that never told their end (a plan
            flow_id, _ = seqs.popitem(last=False)  # made and never run): the oldest go
            if flow_id is not None:
                topics.pop(flow_id, None)
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
    now = ctx.clock.now().timestamp()
    item = outside_event(
        f"{ctx.path}", type, content, metadata, flow_id=flow_id, step_id=step_id, timestamp=now
    )
    streams_of(ctx.system)
    ctx.tell(STREAMS_PATH, StreamEvents(items=(item,)))


MAX_EVENT_BYTES = 1024 * 1024
"""Most bytes (content and metadata, packed) an event emitted from outside a flow's
own decisions may take: the journal must be able to hold every event subscribers get."""
RESERVED_KEYS = frozenset({"event"})
"""Metadata keys only flows set (``event`` names a flow event, and a flow's last event
ends its stream)."""


def outside_event(
    who: str,
    type: StreamCallbackType | str,
    content: JsonValue,
    metadata: dict[str, JsonValue],
    *,
    flow_id: str | None,
    step_id: str | None,
    timestamp: float,
) -> StreamCallbackData:
    """Return a checked event emitted by ``who`` (an actor, a tool, a manager).

    Raises:
        InvalidMessageError: the type is unknown, content or metadata is not JSON data,
            metadata uses a reserved key, or the event is too big for the journal.
    """
    reserved = RESERVED_KEYS & metadata.keys()
    if reserved:
        raise InvalidMessageError(
            f"{who} emitted a stream event with the reserved metadata key "
            f"{sorted(reserved)[0]!r}: only flows name flow events. Use another key."
        )
    try:
        item = StreamCallbackData(
            type=StreamCallbackType(type),
            content=content,
            metadata=metadata,
            flow_id=flow_id,
            step_id=step_id,
            timestamp=timestamp,
        )
        size = len(pack([item.content, item.metadata]))
    except (ValidationError, ValueError, CodecError) as exc:
        raise InvalidMessageError(
            f"{who} emitted an invalid stream event ({type!r}): "
            f"{str(exc).strip().splitlines()[-1]}. Pass a StreamCallbackType and JSON data "
            "(strings, numbers, booleans, None, lists and string-keyed dicts)."
        ) from None
    if size > MAX_EVENT_BYTES:
        raise InvalidMessageError(
            f"{who} emitted a stream event of {size:,} bytes; the most is "
            f"{MAX_EVENT_BYTES:,}. Emit a summary, or a FILE event naming where the data is."
        )
    return item


def spawn_streams(system: ActorSystem) -> ActorPath:
    """Spawn the stream hub at ``/system/streams`` if it is not there; return its path."""
    streams_of(system)
    return STREAMS_PATH
