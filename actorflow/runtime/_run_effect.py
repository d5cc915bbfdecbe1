"""How ``Context.run_effect`` runs work outside the actor and brings its outcome back.

The work runs on the system's effects runner (coroutines on its loop, blocking
callables in its pool). Its outcome is turned into an ``EffectCompleted`` or
``EffectFailed`` on the loop thread, recorded as an ``EffectRecorded`` event, and sent
to the actor with the effect id as correlation id.

The effect sits in the cell's table of pending requests under that id, so the cell's
own request bookkeeping covers it: delivering the outcome removes it, and a stop or a
restart (``terminate``) cancels it and marks the id expired, so that a result racing
the cancellation becomes a ``late_reply`` dead letter rather than reaching the new
behaviour.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, final

from pydantic import JsonValue, TypeAdapter, ValidationError

from actorflow.clock import TimerHandle, to_seconds
from actorflow.errors import ConfigurationError, EffectResultError
from actorflow.ids import ActorPath, CorrelationId
from actorflow.messages.base import Message
from actorflow.messages.system import DeadLetterReason, EffectRecorded, ErrorInfo
from actorflow.runtime.effect_messages import EffectCompleted, EffectFailed
from actorflow.runtime.effects import EffectHandle

if TYPE_CHECKING:
    from actorflow.runtime.cell import Cell

__all__ = ["Work", "start_effect"]

Work = Callable[[], object] | Awaitable[object]
"""A coroutine function, a coroutine (any awaitable), or a blocking callable."""

_JSON: TypeAdapter[JsonValue] = TypeAdapter(JsonValue)


def _nothing() -> None:
    """The callback of a pending effect's timer handle, which no clock ever runs."""


@final
class _PendingEffect(TimerHandle):
    """An effect in its cell's pending requests: :meth:`cancel` cancels the work."""

    __slots__ = ("effect", "is_finished", "timed_out", "timer")

    def __init__(self) -> None:
        super().__init__(math.inf, _nothing)
        self.effect: EffectHandle | None = None
        self.timer: TimerHandle | None = None
        """The timeout's clock timer, if the effect has a timeout."""
        self.timed_out = False
        self.is_finished = False

    def cancel(self) -> None:
        """Cancel the work (the cell calls it on stop and restart, and on delivery of the
        outcome, when it is a no-op)."""
        super().cancel()
        if self.timer is not None:
            self.timer.cancel()
        if self.effect is not None:
            self.effect.cancel()

    def time_out(self) -> None:
        """Timer callback (the clock's thread): cancel the work as timed out."""
        self.timed_out = True
        if self.effect is not None:
            self.effect.cancel()


def start_effect(
    cell: Cell, work: Work, *, name: str, timeout: float | None, during_seq: int | None
) -> CorrelationId:
    """Start ``work`` for ``cell`` (its thread) and return the effect id.

    Raises:
        ConfigurationError: ``work`` cannot be run, or ``timeout`` is not a finite,
            non-negative number of seconds; nothing was started.
    """
    run = _as_coroutine_function(work)
    if timeout is not None:
        timeout = to_seconds(timeout, what="effect timeout")  # checked before the work starts
    system = cell.system
    effect_id = CorrelationId(system.ids.new_id(f"effect:{cell.path}"))
    pending = _PendingEffect()
    cell._pending[effect_id] = pending  # the cell's request table: see the module docstring
    report = _Report(
        cell,
        effect_id,
        name=name,
        timeout=timeout,
        during_seq=during_seq,
        work=work,
        pending=pending,
    )
    pending.effect = system.effects.submit(
        run, report.outcome, name=f"effect {name or effect_id!r} of {cell.path}"
    )
    if timeout is not None and not pending.is_finished:
        pending.timer = system.clock.call_later(timeout, pending.time_out)
    return effect_id


def _as_coroutine_function(work: Work) -> Callable[[], Coroutine[Any, Any, object]]:
    if inspect.isawaitable(work):
        awaitable = work

        async def run_awaitable() -> object:
            return await awaitable

        return run_awaitable
    if inspect.iscoroutinefunction(work):
        function = work

        async def run_function() -> object:
            return await function()

        return run_function
    if callable(work):
        blocking = work

        async def run_blocking() -> object:
            # On the effects loop, the default executor is the effects thread pool.
            result = await asyncio.get_running_loop().run_in_executor(None, blocking)
            if inspect.isawaitable(result):  # e.g. lambda: client.fetch(url), fetch async
                result = await result
            return result

        return run_blocking
    raise ConfigurationError(
        f"ctx.run_effect() got {work!r} ({type(work).__name__}), which is neither a "
        "coroutine, a coroutine function nor a callable. Pass fetch (the function) or "
        "fetch(url) (a coroutine), or a blocking callable such as functools.partial(...)."
    )


@final
class _Report:
    """Turns an effect's outcome into a message for its actor (loop thread)."""

    def __init__(
        self,
        cell: Cell,
        effect_id: CorrelationId,
        *,
        name: str,
        timeout: float | None,
        during_seq: int | None,
        work: Work,
        pending: _PendingEffect,
    ) -> None:
        self.cell = cell
        self.effect_id = effect_id
        self.name = name
        self.timeout = timeout
        self.during_seq = during_seq
        self.work = work
        self.pending = pending

    def outcome(self, result: object, error: BaseException | None) -> None:
        """The effects runner's callback (loop thread)."""
        pending = self.pending
        pending.is_finished = True
        if pending.timer is not None:
            pending.timer.cancel()
        if isinstance(error, asyncio.CancelledError):
            if not pending.timed_out:
                self._cancelled()
                return
            error = TimeoutError(
                f"Effect {self.name or self.effect_id!r} of actor {self.cell.path!r} did not "
                f"finish within {self.timeout:g} s, so it was cancelled."
            )
        message = self._message(result, error)
        self._record(_journal_value(self.name, message))
        self._deliver(message)

    def _message(self, result: object, error: BaseException | None) -> Message:
        if error is None and _exceeds_node_budget(result):
            error = EffectResultError(
                f"Effect {self.name or self.effect_id!r} of actor {self.cell.path!r} "
                f"returned a {type(result).__name__} of more than {MAX_RESULT_NODES:,} "
                "values (lists and dicts that share items count them each time), which is "
                "too large to check and journal. Return less data, or store it elsewhere "
                "and return a reference."
            )
        if error is None:
            try:
                data = _JSON.validate_python(result)
            except ValidationError:
                error = EffectResultError(
                    f"Effect {self.name or self.effect_id!r} of actor {self.cell.path!r} "
                    f"returned a {type(result).__name__}, which is not JSON data. Return "
                    "dicts with str keys, lists, str, int, float, bool or None, for example "
                    "model.model_dump(mode='json') for a pydantic model."
                )
            else:
                return EffectCompleted(effect_id=self.effect_id, name=self.name, result=data)
        return EffectFailed(effect_id=self.effect_id, name=self.name, error=_error_info(error))

    def _cancelled(self) -> None:
        if inspect.iscoroutine(self.work):
            self.work.close()  # cancelled before it started: never awaited, no warning
        self._record({"name": self.name, "ok": False, "cancelled": True})

    def _record(self, value: JsonValue) -> None:
        self.cell.system.emit(
            EffectRecorded(
                actor=self.cell.path,
                effect="effect",
                name=self.effect_id,
                value=value,
                during_seq=self.during_seq,
            )
        )

    def _deliver(self, message: Message) -> None:
        cell, system = self.cell, self.cell.system
        if cell.is_finished or system.cell_at(cell.path) is not cell:
            system.dead_letters.record(
                DeadLetterReason.STOPPED,
                recipient=ActorPath(cell.path),
                message=message,
                detail="the actor stopped before its effect finished",
            )
            return
        system.send(cell.path, message, correlation_id=self.effect_id)


MAX_RESULT_NODES = 1_000_000
"""Most values (scalars, lists, dicts) an effect's result may hold, counting shared items
each time they are reached, as checking and journaling the result would."""


def _exceeds_node_budget(value: object) -> bool:
    """Whether ``value`` holds more than ``budget`` values, counted through shared references.

    Bounds the work of checking a result on the loop thread: a list that holds itself
    twice, 23 levels deep, has 16 million values in a few hundred bytes.
    """
    budget = MAX_RESULT_NODES
    stack = [value]
    count = 0
    while stack:
        item = stack.pop()
        count += 1
        if count > budget:
            return True
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def _journal_value(name: str, message: Message) -> JsonValue:
    if isinstance(message, EffectCompleted):
        return {"name": name, "ok": True, "result": message.result}
    assert isinstance(message, EffectFailed)
    error = message.error
    return {"name": name, "ok": False, "error_type": error.error_type, "message": error.message}


def _error_info(error: BaseException) -> ErrorInfo:
    from actorflow.runtime.cell import error_info  # noqa: PLC0415 - cell imports this module

    return error_info(error)
