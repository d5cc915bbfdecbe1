"""Messages of the stream hub: events in, nudges to subscriber actors."""

from __future__ import annotations

from typing import Literal

from actorflow.messages.base import Message
from actorflow.streams.types import StreamCallbackData

__all__ = ["DrainStream", "PassBarrier", "StartRoute", "StopRoute", "StreamEvents"]


class StreamEvents(Message):
    """Stream events for the hub at ``/system/streams`` (in the order they happened).

    The hub numbers each flow's events, stamps them with the sender's path and hands
    them to every subscriber whose filter they pass.
    """

    kind: Literal["streams.events"] = "streams.events"
    items: tuple[StreamCallbackData, ...]
    topic: str = ""
    """Who the events are for besides everyone (the flow facade that ran the flow)."""


class DrainStream(Message):
    """To a subscriber actor: events are waiting in your queue (sent when it was idle)."""

    kind: Literal["streams.drain"] = "streams.drain"


class StartRoute(Message):
    """To the hub: start routing events to subscription ``route_id``.

    Sent when a subscription is made, so it gets exactly the events the hub receives
    after this message: those emitted after the subscription was made.
    """

    kind: Literal["streams.start_route"] = "streams.start_route"
    route_id: int


class PassBarrier(Message):
    """To the hub: tell whoever waits on barrier ``barrier_id`` that everything sent to
    the hub before this message was handled (``Subscription.wait_caught_up``)."""

    kind: Literal["streams.pass_barrier"] = "streams.pass_barrier"
    barrier_id: int


class StopRoute(Message):
    """To the hub: stop routing events to subscription ``route_id`` (it was closed)."""

    kind: Literal["streams.stop_route"] = "streams.stop_route"
    route_id: int
