"""The seed's stream callback vocabulary: event types, the event, the callback interface.

A stream event says what a flow, a step or an agent is doing while it does it: a step
started a tool, a tool reported progress, an agent is thinking, the flow finished.
Events are plain JSON data (they travel as messages, so the journal records them); the
stream hub (:mod:`actorflow.streams.hub`) numbers them per flow and hands each
subscriber its own copy of the sequence.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "IStreamCallback",
    "LoggingStreamCallback",
    "StreamCallbackData",
    "StreamCallbackType",
    "StreamOverflow",
]


class StreamCallbackType(enum.StrEnum):
    """What a stream event is about (the seed's ten types; values are lowercase)."""

    WORKFLOW = "workflow"
    """The flow's course: plan created or changed, flow started, step started, retry
    scheduled (with its delay), step skipped."""
    TEXT = "text"
    """Text an agent produced."""
    THINKING = "thinking"
    """An agent's reasoning."""
    TOOL_STREAMING = "tool_streaming"
    """A part of a streaming tool's output (a tool that is a generator)."""
    TOOL_USE = "tool_use"
    """A step starts a tool: the tool's name and arguments."""
    TOOL_RUNNING = "tool_running"
    """A running tool's progress."""
    TOOL_RESULT = "tool_result"
    """A tool step's result."""
    FILE = "file"
    """A file a tool read or wrote."""
    ERROR = "error"
    """A step or the flow failed (a flow's failure is its last event)."""
    FINISH = "finish"
    """The flow completed (its last event)."""


class StreamOverflow(enum.StrEnum):
    """What a subscriber's full queue does with one more event.

    Either way the drop is counted (``Subscription.dropped``) and the per-flow sequence
    numbers show where events are missing. A flow's last event (FINISH, or the flow's
    ERROR) is never dropped: it evicts the oldest queued event instead.
    """

    DROP_OLDEST = "drop_oldest"
    """Queue the new event, dropping the oldest queued one (keeps the view current)."""
    DROP_NEW = "drop_new"
    """Drop the new event (keeps the oldest ones)."""


class StreamCallbackData(BaseModel):
    """One stream event.

    ``seq`` numbers a flow's events from 1 in the order the stream hub received them
    (events of one emitter arrive in the order they were emitted; a flow's tools emit
    between its step's TOOL_USE and TOOL_RESULT). A gap in ``seq`` is an event a full
    subscriber queue dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    type: StreamCallbackType
    content: JsonValue = None
    """What happened, for people (a text) or as data (a tool's arguments or result)."""
    metadata: Annotated[dict[str, JsonValue], Field(default_factory=dict)]
    """Details; flow events name themselves in ``metadata["event"]`` (``step_started``,
    ``retry_scheduled``, ``flow_completed``, ...)."""
    flow_id: str | None = None
    step_id: str | None = None
    timestamp: float = 0.0
    """When it happened (seconds since the epoch)."""
    source: str = ""
    """Path of the actor that emitted it (a flow's tools emit as their flow)."""
    seq: int = 0
    """Per-flow sequence number (from 1; 0 before the stream hub numbered it)."""

    @property
    def event(self) -> str:
        """The flow event this is (``metadata["event"]``), or "" for other events."""
        value = self.metadata.get("event")
        return value if isinstance(value, str) else ""

    @property
    def is_last(self) -> bool:
        """Whether this is a flow's last event (it completed, failed or was cancelled)."""
        return self.event in _LAST_EVENTS


_LAST_EVENTS = frozenset({"flow_completed", "flow_failed", "flow_cancelled"})


class IStreamCallback:
    """Receives stream events (the seed's interface).

    Override :meth:`on_stream_event`, as a coroutine (it runs as a task on the event
    loop it was added from, or the system's effects loop) or a plain method (it runs
    in its own subscriber actor's thread, so it may block). A plain callable taking one
    ``StreamCallbackData`` is accepted wherever a callback is.
    """

    async def on_stream_event(self, data: StreamCallbackData) -> None:
        """Handle one event (the default does nothing)."""


class LoggingStreamCallback(IStreamCallback):
    """Logs every event through loguru (silent unless ``actorflow`` logging is enabled).

    ERROR events log at WARNING, THINKING and TOOL_RUNNING at DEBUG, the rest at INFO.
    """

    def __init__(self, level: str | None = None) -> None:
        self.level = level
        """Log every event at this level instead (e.g. ``"INFO"``)."""
        self.logger = logger.bind(component="streams")

    async def on_stream_event(self, data: StreamCallbackData) -> None:
        """Log ``data``: its type, flow, step and content."""
        level = self.level or _LEVELS.get(data.type, "INFO")
        where = data.flow_id or "-"
        if data.step_id:
            where += f"/{data.step_id}"
        self.logger.log(level, "[{type}] {where} #{seq}: {content}", type=data.type.value,
                        where=where, seq=data.seq, content=_short(data.content))  # fmt: skip


_LEVELS = {
    StreamCallbackType.ERROR: "WARNING",
    StreamCallbackType.THINKING: "DEBUG",
    StreamCallbackType.TOOL_RUNNING: "DEBUG",
}


def _short(content: Any, limit: int = 300) -> str:
    text = content if isinstance(content, str) else repr(content)
    return text if len(text) <= limit else text[: limit - 1] + "…"
