"""Stream events from inside a step: progress, files, streamed output.

A tool (or a custom executor, or a human callback) that a flow runs can tell the
flow's stream subscribers what it is doing::

    def fetch(url: str) -> str:
        actorflow.report_progress(0, 3, "connecting")
        ...
        actorflow.report_file("/tmp/page.html", "write")
        return text

A tool that is a generator (sync or async) streams its output: each item it yields
becomes a TOOL_STREAMING event as it comes, and the step's result is the items joined
(when they are all strings) or their list.

Outside a step, or when the flow's streams are off, these calls do nothing and return
false, so a tool stays usable on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Generator
from os import PathLike
from typing import Any

from pydantic import JsonValue

from actorflow.errors import InvalidMessageError
from actorflow.flow.attempt import current_attempt
from actorflow.streams import StreamCallbackType
from actorflow.streams.hub import outside_event

__all__ = ["collect_async", "collect_sync", "emit_stream", "report_file", "report_progress"]


def emit_stream(
    type: StreamCallbackType | str,
    content: JsonValue = None,
    **metadata: JsonValue,
) -> bool:
    """Emit a stream event as the running step; return whether it was sent.

    Raises:
        InvalidMessageError: ``type`` is not a stream type, or ``content`` or
            ``metadata`` is not JSON data.
    """
    attempt = current_attempt()
    if attempt is None or attempt.emit is None or attempt.is_cancelled:
        return False
    who = f"Step {attempt.step_id!r} of flow {attempt.flow_id!r}"
    if "attempt" in metadata:
        raise InvalidMessageError(
            f"{who} emitted a stream event with the metadata key 'attempt', which the flow "
            "sets (the attempt's number). Use another key."
        )
    item = outside_event(
        who,
        type,
        content,
        {**metadata, "attempt": attempt.number},
        flow_id=attempt.flow_id,
        step_id=attempt.step_id,
        timestamp=_now(),
    )
    attempt.emit(item)
    return True


def report_progress(done: float, total: float | None = None, message: str = "") -> bool:
    """Emit TOOL_RUNNING: how far the running tool is (``done`` of ``total``)."""
    text = message or (f"{done:g}/{total:g}" if total is not None else f"{done:g}")
    return emit_stream(StreamCallbackType.TOOL_RUNNING, text, done=done, total=total)


def report_file(path: str | PathLike[str], operation: str = "write", **metadata: JsonValue) -> bool:
    """Emit FILE: the running tool read or wrote ``path`` (``operation``: read, write,
    delete, ...)."""
    return emit_stream(StreamCallbackType.FILE, str(path), operation=operation, **metadata)


class _Chunks:
    """The items a streaming tool yields: each emitted as it comes, then the result."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        self.items.append(item)
        emit_stream(StreamCallbackType.TOOL_STREAMING, item, index=len(self.items) - 1)

    def result(self) -> Any:
        items = self.items
        if items and all(isinstance(i, str) for i in items):
            return "".join(items)
        return items


def collect_sync(stream: Generator[Any, Any, Any]) -> Any:
    """Run a generator tool's output to its end (in the tool's thread); once the flow
    cancelled the attempt, the generator is closed and the attempt ends cancelled."""
    chunks = _Chunks()
    with contextlib.closing(stream):
        for item in stream:
            chunks.add(item)
            if _cancelled():
                raise asyncio.CancelledError
    return chunks.result()


async def collect_async(stream: AsyncGenerator[Any, Any]) -> Any:
    """Run an async generator tool's output to its end (on the loop); closed as the
    sync one is."""
    chunks = _Chunks()
    async with contextlib.aclosing(stream):
        async for item in stream:
            chunks.add(item)
            if _cancelled():
                raise asyncio.CancelledError
    return chunks.result()


def _cancelled() -> bool:
    attempt = current_attempt()
    return attempt is not None and attempt.is_cancelled


def _now() -> float:
    return time.time()  # the wall time of an outside event (a tool's)
