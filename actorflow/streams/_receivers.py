"""How a consumer on an event loop waits for its queue.

One receiver per subscription; the queue calls its ``wake`` (from the hub's thread)
when events arrive for an idle consumer. The async callback pumps and the
``stream_execute`` iterators (the sync one runs the async one) share it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from actorflow.streams._queue import EventQueue
from actorflow.streams.types import StreamCallbackData

__all__ = ["LoopReceiver"]


class LoopReceiver:
    """Wakes a consumer task on ``loop``; a closed loop closes the queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready = asyncio.Event()
        self.queue: EventQueue | None = None

    def wake(self) -> None:
        """Called by the queue (any thread)."""
        try:
            self.loop.call_soon_threadsafe(self.ready.set)
        except RuntimeError:  # the loop is closed: its consumer is gone for good
            if self.queue is not None:
                threading.Thread(target=self.queue.close, daemon=True).start()

    async def batches(
        self, until: asyncio.Future[Any] | None = None, grace: float = 0.0
    ) -> AsyncIterator[list[StreamCallbackData]]:
        """Yield batches of events until the queue is closed, or ``until`` is done: at
        once if it failed, else once no event came for ``grace`` seconds."""
        queue = self.queue
        assert queue is not None
        while not queue.closed:
            items = queue.take()
            if items:
                yield items
                continue
            if until is None:
                await self.ready.wait()
            elif until.done():
                if until.cancelled() or until.exception() is not None:
                    return
                try:
                    await asyncio.wait_for(self.ready.wait(), grace)
                except TimeoutError:
                    return
            else:
                waiter = asyncio.ensure_future(self.ready.wait())
                await asyncio.wait({waiter, until}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            self.ready.clear()
