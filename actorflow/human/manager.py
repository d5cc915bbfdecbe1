"""The seed's ``HumanCallbackManager``: ask a human from async code, with a deadline.

Given an actor system, each request goes through the gateway at ``/system/human``
(spawned on first use), so it is stored, journaled and timed on the system's clock.
Without one, the manager calls its handler itself, with the same answer checks and
timeout policies, and times the call on the given clock (or the running event loop's
timer when no clock is given).

Either way the timeout holds even when the handler never returns: the call is
cancelled at the deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, final

from pydantic import JsonValue, ValidationError

from actorflow.clock import Clock
from actorflow.errors import ConfigurationError
from actorflow.human._asking import HumanHandlers, call_handler, handler_method
from actorflow.human.gateway import HUMAN_PATH
from actorflow.human.messages import CancelHumanRequest, HumanRequest, HumanResponse
from actorflow.human.models import (
    ErrorPolicy,
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    HumanOutcome,
    IHumanCallback,
    TimeoutPolicy,
    ValueType,
)
from actorflow.human.outside import ensure_human_gateway, outcome_value
from actorflow.human.validation import check_request, validate_answer
from actorflow.runtime.cell import error_info
from actorflow.runtime.system import ActorSystem

__all__ = ["HumanCallbackManager"]

_ASK_GRACE = 60.0
"""Seconds an ask through the gateway waits past the request's own time (a backstop:
the gateway ends every request at its deadline and tells the outcome)."""
_names = itertools.count(1)


@final
class HumanCallbackManager:
    """Asks a human through ``callback_handler`` (the seed's API).

    Args:
        callback_handler: asks the human; may be replaced at any time.
        system: route requests through this system's human gateway (spawned if absent).
        clock: without a system, time the handler on this clock (default: the running
            event loop's timer).

    Each ``request_*`` method takes keyword options: ``default`` (the default value),
    ``on_timeout`` (``TimeoutPolicy``; ``default`` when a default is given, else
    ``fail``), ``metadata``. An outcome without a value raises ``HumanTimeoutError``
    (timed out) or ``HumanRequestFailedError`` (cancelled, the handler failed);
    ``ConfigurationError`` means the request itself was wrong.
    """

    def __init__(
        self,
        callback_handler: IHumanCallback | None = None,
        *,
        system: ActorSystem | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.callback_handler = callback_handler
        self.system = system
        self.clock = clock
        self._name = f"manager-{next(_names)}"
        self._calls_lock = threading.Lock()
        self._open_calls = 0
        """The name this manager's handler is registered under at the gateway."""

    async def request_confirmation(
        self,
        message: str,
        flow_id: str | None = None,
        step_id: str | None = None,
        timeout: float = 3600,
        **options: Any,
    ) -> bool:
        """Ask for a yes/no confirmation; return the answer."""
        data = _data(HumanCallbackType.CONFIRM, message, (flow_id, step_id), timeout, options)
        value = await self.request(data)
        assert isinstance(value, bool)
        return value

    async def request_input(
        self,
        message: str,
        flow_id: str | None = None,
        step_id: str | None = None,
        timeout: float = 3600,
        *,
        value_type: ValueType = "str",
        pattern: str | None = None,
        **options: Any,
    ) -> Any:
        """Ask for a value (text unless ``value_type`` says otherwise); return it."""
        options.update(value_type=value_type, pattern=pattern)
        data = _data(HumanCallbackType.INPUT, message, (flow_id, step_id), timeout, options)
        return await self.request(data)

    async def request_selection(
        self,
        message: str,
        options: Sequence[JsonValue],
        flow_id: str | None = None,
        step_id: str | None = None,
        timeout: float = 3600,
        *,
        multi_select: bool = False,
        **more: Any,
    ) -> Any:
        """Ask to pick one of ``options`` (a list of them when ``multi_select``)."""
        more.update(options=list(options), multi_select=multi_select)
        data = _data(HumanCallbackType.SELECT, message, (flow_id, step_id), timeout, more)
        return await self.request(data)

    async def request_help(
        self,
        message: str,
        flow_id: str | None = None,
        step_id: str | None = None,
        timeout: float = 3600,
        **options: Any,
    ) -> str:
        """Ask for help or guidance; return the text."""
        options.setdefault("value_type", "str")
        data = _data(HumanCallbackType.HELP, message, (flow_id, step_id), timeout, options)
        value = await self.request(data)
        assert isinstance(value, str)
        return value

    async def request(self, data: HumanCallbackData) -> JsonValue:
        """Ask ``data`` and return the answer (or the default, by the timeout policy).

        Raises:
            HumanTimeoutError: no answer by the deadline and no default to use.
            HumanRequestFailedError: the request was cancelled or the handler failed.
            ConfigurationError: the request is invalid, or nobody could answer it.
        """
        response = await (self._through_gateway(data) if self.system else self._direct(data))
        return outcome_value(response)

    async def _through_gateway(self, data: HumanCallbackData) -> HumanResponse:
        system = self.system
        assert system is not None
        handlers = ensure_human_gateway(system)
        with self._calls_lock:  # registered while a call of this manager is open
            self._open_calls += 1
            handlers.register(self._name, self.callback_handler)
        try:
            return await self._ask_gateway(system, data)
        finally:
            with self._calls_lock:
                self._open_calls -= 1
                if self._open_calls == 0:
                    handlers.register(self._name, None)

    async def _ask_gateway(self, system: ActorSystem, data: HumanCallbackData) -> HumanResponse:
        # Without a handler of its own, the gateway's default handler asks (or, if it has
        # none, an answer from outside is waited for).
        name = self._name if self.callback_handler is not None else HumanHandlers.DEFAULT
        request = HumanRequest.from_data(data, handler=name)
        wait = data.timeout + (data.escalation_timeout or data.timeout) + _ASK_GRACE
        try:
            reply = await system.ask_async(HUMAN_PATH, request, timeout=wait)
        except asyncio.CancelledError:  # the caller gave up: so does the request
            reason = "the caller of HumanCallbackManager stopped waiting"
            system.send(HUMAN_PATH, CancelHumanRequest(request_id=request.request_id,
                        reason=reason), quiet=True)  # fmt: skip
            raise
        assert isinstance(reply, HumanResponse)
        return reply

    async def _direct(self, data: HumanCallbackData) -> HumanResponse:
        """Ask the handler here, timed on the clock; the same checks as the gateway's."""
        request = HumanRequest.from_data(data)
        check_request(request)
        if request.on_timeout is TimeoutPolicy.ESCALATE or request.on_error is not ErrorPolicy.FAIL:
            raise ConfigurationError(
                f"HumanCallbackManager without a system cannot escalate or wait on "
                f"({request.on_timeout.value!r} on timeout, {request.on_error.value!r} on "
                "error): pass system= to go through the human gateway, or use 'fail' / "
                "'default'."
            )
        handler = self.callback_handler
        if handler is None:
            raise ConfigurationError(
                f"HumanCallbackManager has no callback_handler to ask {data.message!r}. Set "
                "manager.callback_handler, or pass system= to answer through the gateway."
            )
        task = asyncio.ensure_future(call_handler(handler_method(handler, data.type), data))
        timer = _cancel_at(task, data.timeout, self.clock)
        try:
            result = await task
        except asyncio.CancelledError:
            if not timer.fired:
                raise  # the caller was cancelled, not the handler timed out
            return _timed_out(request)
        except Exception as exc:  # noqa: BLE001 - the handler's failure is the outcome
            return _failed(request, exc)
        finally:
            timer.cancel()
        return _answered(request, result)


@final
class _Deadline:
    """Cancels a task at its deadline, on a clock or the loop's timer."""

    def __init__(self) -> None:
        self.fired = False
        self.cancel: Callable[[], None] = _nothing


def _nothing() -> None:
    """The cancel of a deadline not armed yet."""


def _cancel_at(task: asyncio.Future[Any], timeout: float, clock: Clock | None) -> _Deadline:
    loop = asyncio.get_running_loop()
    deadline = _Deadline()

    def fire() -> None:
        if not task.done():
            deadline.fired = True
            task.cancel()

    if clock is None:
        deadline.cancel = loop.call_later(timeout, fire).cancel
    else:

        def fire_on_loop() -> None:  # the clock's thread
            loop.call_soon_threadsafe(fire)

        deadline.cancel = clock.call_later(timeout, fire_on_loop).cancel
    return deadline


def _data(
    kind: HumanCallbackType,
    message: str,
    where: tuple[str | None, str | None],
    timeout: float,
    options: dict[str, Any],
) -> HumanCallbackData:
    """Build the request data; ``where`` is (flow id, step id)."""
    flow_id, step_id = where
    if "default" in options:
        options["default_value"] = options.pop("default")
    if options.get("default_value") is not None:
        options.setdefault("on_timeout", TimeoutPolicy.DEFAULT)
    options.setdefault("on_error", ErrorPolicy.FAIL)
    try:
        return HumanCallbackData(
            type=kind, message=message, flow_id=flow_id, step_id=step_id, timeout=timeout, **options
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        option = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(
            f"Cannot ask {message!r}: option {option!r}: {first['msg']}. The options are "
            "HumanCallbackData's fields (default, on_timeout, escalation_timeout, on_error, "
            "metadata, ...)."
        ) from None


def _answered(request: HumanRequest, result: object) -> HumanResponse:
    if not isinstance(result, HumanCallbackResponse):
        return _failed(
            request,
            ConfigurationError(
                f"The handler of human request {request.request_id!r} returned "
                f"{type(result).__name__}, not a HumanCallbackResponse."
            ),
        )
    value = validate_answer(request, result.value)
    return HumanResponse(
        request_id=request.request_id,
        outcome=HumanOutcome.ANSWERED,
        value=value,
        responder=result.responder,
        answered_at=result.answered_at,
        reason="answered",
    )


def _timed_out(request: HumanRequest) -> HumanResponse:
    if request.on_timeout is TimeoutPolicy.DEFAULT:
        return HumanResponse(
            request_id=request.request_id,
            outcome=HumanOutcome.TIMED_OUT,
            value=request.default_value,
            used_default=True,
            reason="nobody answered by the deadline; the default value was used",
        )
    return HumanResponse(
        request_id=request.request_id,
        outcome=HumanOutcome.TIMED_OUT,
        reason=f"nobody answered within {request.timeout:g} s",
    )


def _failed(request: HumanRequest, exc: BaseException) -> HumanResponse:
    return HumanResponse(
        request_id=request.request_id,
        outcome=HumanOutcome.FAILED,
        error=error_info(exc),
        reason=f"its handler raised {type(exc).__name__}: {exc}",
    )
