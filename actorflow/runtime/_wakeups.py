"""Callbacks handed to an event loop from other threads, one wake-up per batch.

``loop.call_soon_threadsafe`` writes to the loop's self-pipe on every call. That write
is a system call that releases the GIL, and under load the calling thread then waits
for the GIL to come back, up to the interpreter's switch interval (5 ms): a flow actor
replying to a caller, a caller starting a flow actor, a pool thread or the timer thread
waking an actor, each paid that once per message. A :class:`LoopInbox` queues the
callbacks and wakes the loop only when its queue goes from empty to not empty; the
loop then queues them all as its own callbacks, in the order they came.

Any thread may call :meth:`LoopInbox.put`; the loop's thread runs the rest.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import final

__all__ = ["LoopInbox", "inbox_for"]

_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopInbox] = (
    weakref.WeakKeyDictionary()
)
_inboxes_lock = threading.Lock()


@final
class LoopInbox:
    """Callbacks for one event loop, put from any thread."""

    __slots__ = ("_armed", "_items", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weakly: the registry maps loops to inboxes weakly, which a strong reference
        # back from the inbox would defeat (every asyncio.run() leaves a loop behind).
        self._loop = weakref.ref(loop)
        self._items: deque[tuple[Callable[[], object], contextvars.Context]] = deque()
        self._armed = False
        """A wake-up is on its way: :meth:`_take` will see what is put until it runs."""

    def put(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop soon, in a copy of the caller's context, as
        ``call_soon_threadsafe`` would (any thread).

        Raises:
            RuntimeError: the loop is closed (as ``call_soon_threadsafe`` raises).
        """
        loop = self._loop()
        if loop is None or loop.is_closed():
            raise RuntimeError("Event loop is closed")
        # Append first, then look at the flag: _take clears the flag before it empties
        # the queue, so a callback put while it runs is either run by it or finds the
        # flag clear and wakes the loop again (an extra wake-up finds nothing: harmless).
        self._items.append((callback, contextvars.copy_context()))
        if not self._armed:
            self._armed = True
            try:
                loop.call_soon_threadsafe(self._take)
            except RuntimeError:  # closed meanwhile
                self._armed = False
                raise

    def _take(self) -> None:
        """Run everything put so far, in order (loop thread).

        They run here rather than as callbacks queued behind this one, so that each
        keeps its place before whatever was handed to the loop after it (closing the
        effects runner stops the loop after the callbacks ahead of its own). An error
        goes to the loop's exception handler, as a callback's would; an exit request
        propagates, the rest waiting for the next iteration.
        """
        self._armed = False
        loop = self._loop()
        items = self._items
        while loop is not None and items:
            callback, context = items.popleft()
            try:
                context.run(callback)
            except (SystemExit, KeyboardInterrupt):
                if items and not self._armed:
                    self._armed = True
                    loop.call_soon(self._take)
                raise
            except BaseException as exc:  # noqa: BLE001 - as asyncio's Handle does
                loop.call_exception_handler(
                    {"message": f"Exception in callback {callback!r}", "exception": exc}
                )


def inbox_for(loop: asyncio.AbstractEventLoop) -> LoopInbox:
    """Return the inbox of ``loop`` (made on first use; forgotten with the loop)."""
    inbox = _inboxes.get(loop)
    if inbox is None:
        with _inboxes_lock:
            inbox = _inboxes.get(loop)
            if inbox is None:
                inbox = _inboxes[loop] = LoopInbox(loop)
    return inbox
