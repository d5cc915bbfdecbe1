"""Stream events: the seed's ten callback types, the hub at ``/system/streams`` that
numbers and fans them out, and subscriptions with bounded queues.

Layering: imports ``errors``, ``ids``, ``messages`` and ``runtime`` only; the flow
layer emits events and adapts them to flow listeners.
"""

from actorflow.streams.hub import (
    STREAMS_PATH,
    StreamHub,
    StreamRegistry,
    emit_event,
    spawn_streams,
    streams_of,
)
from actorflow.streams.messages import DrainStream, StartRoute, StreamEvents
from actorflow.streams.subscribers import (
    DEFAULT_CAPACITY,
    StreamCallback,
    Subscription,
    SubscriptionStatistics,
    subscribe,
)
from actorflow.streams.types import (
    IStreamCallback,
    LoggingStreamCallback,
    StreamCallbackData,
    StreamCallbackType,
    StreamOverflow,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "STREAMS_PATH",
    "DrainStream",
    "IStreamCallback",
    "LoggingStreamCallback",
    "StreamCallback",
    "StreamCallbackData",
    "StreamCallbackType",
    "StreamEvents",
    "StreamHub",
    "StreamOverflow",
    "StartRoute",
    "StreamRegistry",
    "Subscription",
    "SubscriptionStatistics",
    "emit_event",
    "spawn_streams",
    "streams_of",
    "subscribe",
]
