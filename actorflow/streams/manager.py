"""The seed's ``StreamCallbackManager``: a set of callbacks, and ``emit``, over the hub.

Unlike the seed's (which awaits each callback in turn inside ``emit``), ``emit`` here
tells the event to the stream hub and returns: every callback is a subscription with
its own queue and consumer, so a slow or failing callback never holds up the emitter
or the other callbacks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pydantic import JsonValue

from actorflow.runtime.system import ActorSystem
from actorflow.streams.hub import STREAMS_PATH, outside_event, streams_of
from actorflow.streams.messages import StreamEvents
from actorflow.streams.subscribers import (
    DEFAULT_CAPACITY,
    ErrorHook,
    StreamCallback,
    Subscription,
    subscribe,
)
from actorflow.streams.types import StreamCallbackData, StreamCallbackType, StreamOverflow

__all__ = ["StreamCallbackManager"]


def _key(callback: object) -> object:
    try:
        hash(callback)
    except TypeError:
        return id(callback)
    return callback


class StreamCallbackManager:
    """Callbacks for one topic's stream events (a flow facade's flows), and ``emit``.

    Args:
        system: the actor system, or a function returning it (called when first needed).
        topic: the topic its callbacks listen to and ``emit`` sends to (None: every
            event of the system).
    """

    def __init__(
        self, system: ActorSystem | Callable[[], ActorSystem], *, topic: str | None = None
    ) -> None:
        self._system = system
        self.topic = topic
        self._subscriptions: dict[object, tuple[StreamCallback, Subscription]] = {}
        """By the callback itself (bound methods of one object's method are equal), or
        its id when it cannot be hashed."""
        self._lock = threading.Lock()

    @property
    def system(self) -> ActorSystem:
        """The actor system the callbacks listen to."""
        system = self._system
        return system if isinstance(system, ActorSystem) else system()

    @property
    def callbacks(self) -> list[StreamCallback]:
        """The callbacks added and not removed, in the order they were added."""
        with self._lock:
            return [callback for callback, _ in self._subscriptions.values()]

    def add_callback(
        self,
        callback: StreamCallback,
        *,
        flow_id: str | None = None,
        capacity: int = DEFAULT_CAPACITY,
        overflow: StreamOverflow | str = StreamOverflow.DROP_OLDEST,
        on_error: ErrorHook | None = None,
        inline: bool = False,
    ) -> Subscription:
        """Subscribe ``callback`` (see :func:`~actorflow.streams.subscribe`); adding one
        already added returns its subscription."""
        with self._lock:
            known = self._subscriptions.get(_key(callback))
            if known is not None and not known[1].is_closed:
                return known[1]
            sub = subscribe(self.system, callback, flow_id=flow_id, topic=self.topic,
                            capacity=capacity, overflow=overflow, on_error=on_error,
                            inline=inline)  # fmt: skip
            self._subscriptions[_key(callback)] = (callback, sub)
            return sub

    def remove_callback(self, callback: StreamCallback) -> bool:
        """Stop calling ``callback``; return whether it was added."""
        with self._lock:
            known = self._subscriptions.pop(_key(callback), None)
        if known is None:
            return False
        known[1].close()
        return True

    def subscription(self, callback: StreamCallback) -> Subscription | None:
        """Return ``callback``'s subscription (its counts), if it was added."""
        known = self._subscriptions.get(_key(callback))
        return None if known is None else known[1]

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the hub has handled every event told to it before this call and
        every callback every one of them it was given; return whether that happened
        within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            subs = [sub for _, sub in self._subscriptions.values()]
        if not subs:
            return True
        if not subs[0].wait_caught_up(timeout):  # the hub's barrier serves them all
            return False
        return all(sub.wait_idle(max(0.0, deadline - time.monotonic())) for sub in subs)

    async def emit(
        self,
        callback_type: StreamCallbackType | str,
        content: JsonValue = None,
        flow_id: str | None = None,
        step_id: str | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> None:
        """Send a stream event to every subscriber of this topic (through the hub).

        Raises:
            InvalidMessageError: the type is unknown or the content is not JSON data.
        """
        self.emit_nowait(callback_type, content, flow_id, step_id, metadata)

    def emit_nowait(
        self,
        callback_type: StreamCallbackType | str,
        content: JsonValue = None,
        flow_id: str | None = None,
        step_id: str | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> None:
        """:meth:`emit` for sync code (it never blocks either way)."""
        item = outside_event("StreamCallbackManager.emit", callback_type, content,
                             dict(metadata or {}), flow_id=flow_id, step_id=step_id,
                             timestamp=time.time())  # fmt: skip
        self.tell(item)

    def tell(self, item: StreamCallbackData) -> None:
        """Tell an event as it is to the hub, for this topic (a flow facade's own
        events, such as ``plan_created``; not checked)."""
        system = self.system
        streams_of(system)
        system.tell(STREAMS_PATH, StreamEvents(items=(item,), topic=self.topic or ""))
