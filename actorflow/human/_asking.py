"""Putting a request to a handler on the effects runner, and telling the gateway how
that went (the gateway's handlers never wait for a human)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import final

from pydantic import ValidationError

from actorflow.errors import ConfigurationError, InvalidHumanAnswerError, SystemStoppedError
from actorflow.human.messages import HandlerAnswered, HandlerFailed, HumanRequest
from actorflow.human.models import (
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    IHumanCallback,
)
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.runtime.cell import error_info
from actorflow.runtime.effects import EffectHandle
from actorflow.runtime.system import ActorSystem

__all__ = ["HumanHandlers", "ask_handler", "handler_method"]

Method = Callable[[HumanCallbackData], Awaitable[HumanCallbackResponse] | HumanCallbackResponse]


@final
class HumanHandlers:
    """The handlers a gateway hands requests to, by name (any thread).

    ``default`` asks first, ``escalation`` gets escalated requests; a request may name
    another registered handler (a flow registers its own callback under its id).
    """

    DEFAULT = "default"
    ESCALATION = "escalation"

    def __init__(
        self,
        handler: IHumanCallback | None = None,
        escalation_handler: IHumanCallback | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, IHumanCallback] = {}
        self.register(self.DEFAULT, handler)
        self.register(self.ESCALATION, escalation_handler)

    def register(self, name: str, handler: IHumanCallback | None) -> None:
        """Let requests naming ``name`` be asked by ``handler`` (None: by nobody)."""
        with self._lock:
            if handler is None:
                self._by_name.pop(name, None)
            else:
                self._by_name[name] = handler

    def get(self, name: str) -> IHumanCallback | None:
        """Return the handler registered as ``name``, or None."""
        with self._lock:
            return self._by_name.get(name)


def handler_method(handler: IHumanCallback, kind: HumanCallbackType) -> Method:
    """Return the handler's method for a request of type ``kind``."""
    return {
        HumanCallbackType.CONFIRM: handler.on_human_confirm,
        HumanCallbackType.INPUT: handler.on_human_input,
        HumanCallbackType.SELECT: handler.on_human_select,
        HumanCallbackType.HELP: handler.on_human_help,
    }[kind]


async def call_handler(method: Method, data: HumanCallbackData) -> object:
    """Call ``method``: awaited if it is a coroutine function, in the effects pool if it
    is a plain (maybe blocking) function, so it never blocks the loop."""
    if inspect.iscoroutinefunction(method):
        return await method(data)
    result: object = await asyncio.get_running_loop().run_in_executor(None, method, data)
    if inspect.isawaitable(result):
        result = await result
    return result


def ask_handler(
    system: ActorSystem,
    gateway: ActorPath,
    handler: IHumanCallback,
    request: HumanRequest,
    stage: int,
) -> EffectHandle:
    """Put ``request`` to ``handler`` on the effects loop; its answer or error comes back
    to ``gateway`` as a :class:`HandlerAnswered` or :class:`HandlerFailed` message.

    Cancelling the returned handle cancels the call, and nothing is told then.
    """
    method = handler_method(handler, request.type)
    data = request.to_data()

    async def work() -> object:
        return await call_handler(method, data)

    handles: list[EffectHandle] = []

    def outcome(result: object, error: BaseException | None) -> None:
        if isinstance(error, asyncio.CancelledError) and handles and handles[0].cancel_requested:
            # the gateway cancelled it (the request ended, or the gateway stopped); a
            # CancelledError the handler raised by itself is its failure, reported below
            return
        message = _report(request, stage, result, error, str(data.timestamp))
        try:
            system.tell(gateway, message)
        except SystemStoppedError:
            return  # the system is going away with the gateway

    handle = system.effects.submit(work, outcome, name=f"human request {request.request_id!r}")
    handles.append(handle)
    return handle


def _report(
    request: HumanRequest, stage: int, result: object, error: BaseException | None, stamp: str
) -> Message:
    """The message that tells the gateway how asking went.

    An answer must name its request: ``callback_id`` is the request id, or (the seed's
    handlers) ``str(data.timestamp)``; an answer naming another request is the handler's
    mistake, never taken for this one.
    """
    rid = request.request_id
    if error is None and not isinstance(result, HumanCallbackResponse):
        error = ConfigurationError(
            f"The handler of human request {rid!r} returned {type(result).__name__}, not a "
            "HumanCallbackResponse. Return HumanCallbackResponse(callback_id=..., "
            "response_type=..., value=...)."
        )
    if isinstance(result, HumanCallbackResponse) and result.callback_id not in (rid, stamp):
        error = error or InvalidHumanAnswerError(
            f"The handler of human request {rid!r} answered with callback_id "
            f"{result.callback_id!r}, which names another request. Return "
            "HumanCallbackResponse(callback_id=data.request_id, ...) for the request asked."
        )
    if error is not None:
        return HandlerFailed(request_id=rid, stage=stage, error=error_info(error))
    assert isinstance(result, HumanCallbackResponse)
    try:
        return HandlerAnswered(
            request_id=rid, stage=stage, value=result.value, responder=result.responder
        )
    except ValidationError:
        refused = InvalidHumanAnswerError(
            f"The handler of human request {rid!r} answered {result.value!r}, which is not "
            "JSON data (str, numbers, bool, None, lists, dicts)."
        )
        return HandlerFailed(request_id=rid, stage=stage, error=error_info(refused))
