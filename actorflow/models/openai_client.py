"""``OpenAIModelClient``: any OpenAI-compatible chat-completions endpoint, through the
official ``openai`` SDK (``pip install actorflow[openai]``).

Configuration, by argument or else by environment variable:

=================== ============================== =====================================
argument            variable (first set wins)      meaning
=================== ============================== =====================================
``model``           ``ACTORFLOW_MODEL``,           the model name
                    ``OPENAI_MODEL``
``base_url``        ``ACTORFLOW_MODEL_BASE_URL``,  the endpoint (default: OpenAI's)
                    ``OPENAI_BASE_URL``
``api_key``         ``ACTORFLOW_MODEL_API_KEY``,   the key (registered as a secret, so it
                    ``OPENAI_API_KEY``             is redacted everywhere actorflow writes)
``timeout``         ``ACTORFLOW_MODEL_TIMEOUT``    seconds to wait for an answer (default 60)
=================== ============================== =====================================

Failures: a 4xx answer other than 408 and 429 is :class:`ModelRequestError` at once;
5xx, 429, 408, connection failures and timeouts are tried again ``max_retries`` times,
after ``retry_delay`` seconds doubling up to ``max_retry_delay`` (or the server's
``Retry-After``, capped the same way), then raised as :class:`ModelUnavailableError` /
:class:`ModelTimeoutError`. Waiting (for an answer, a next streamed token, a retry) is
timed on ``clock`` (the system's clock in an actor system, so a ``FakeClock`` drives it
in tests); the SDK's own retries are off.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import JsonValue

from actorflow.clock import Clock
from actorflow.errors import ConfigurationError
from actorflow.models.client import BaseModelClient
from actorflow.models.errors import (
    ModelError,
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
    ModelUnavailableError,
    OpenAINotInstalledError,
)
from actorflow.models.types import ModelChunk, ModelRequest, ModelResponse, ToolCall, Usage
from actorflow.secrets import redact_text, redacting_logger, register_secret

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["ENV_API_KEY", "ENV_BASE_URL", "ENV_MODEL", "ENV_TIMEOUT", "OpenAIModelClient"]

ENV_MODEL = ("ACTORFLOW_MODEL", "OPENAI_MODEL")
ENV_BASE_URL = ("ACTORFLOW_MODEL_BASE_URL", "OPENAI_BASE_URL")
ENV_API_KEY = ("ACTORFLOW_MODEL_API_KEY", "OPENAI_API_KEY")
ENV_TIMEOUT = ("ACTORFLOW_MODEL_TIMEOUT",)
_RETRYABLE_STATUS = frozenset({408, 429})
_log = redacting_logger()
T = TypeVar("T")


def _env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _import_openai() -> Any:
    try:
        import openai  # noqa: PLC0415 - optional dependency, imported when first needed
    except ImportError:
        raise OpenAINotInstalledError(
            "OpenAIModelClient needs the openai package: pip install actorflow[openai]"
        ) from None
    return openai


class OpenAIModelClient(BaseModelClient):
    """A :class:`~actorflow.models.ModelClient` for an OpenAI-compatible endpoint (see the
    module docstring for configuration, retries and timeouts).

    Args:
        model, base_url, api_key, timeout: see the module docstring.
        max_retries: tries after the first for retryable failures.
        retry_delay: seconds before the first retry (doubled each time).
        max_retry_delay: the longest wait between tries.
        clock: times the waits (default: the system's clock, else the event loop's).
        system: journals calls made outside an agent (see :class:`BaseModelClient`).
        include_usage: ask streamed answers to end with token usage.
        default_options: chat-completions parameters sent with every call.

    Raises:
        ConfigurationError: no model or no key is configured, or an option is invalid.
        OpenAINotInstalledError: the ``openai`` package is not installed.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        retry_delay: float = 0.5,
        max_retry_delay: float = 8.0,
        clock: Clock | None = None,
        system: ActorSystem | None = None,
        include_usage: bool = True,
        default_options: dict[str, JsonValue] | None = None,
    ) -> None:
        super().__init__(model or _env(ENV_MODEL) or "", system=system)
        self._openai = _import_openai()
        key = api_key or _env(ENV_API_KEY)
        if not key:
            raise ConfigurationError(
                f"No API key for model {self.model!r}: pass api_key=... or set "
                f"{' or '.join(ENV_API_KEY)} (any non-empty value for a server that needs none)."
            )
        if len(key) >= 6:  # shorter "keys" are placeholders of local servers
            register_secret(key)
        self._key = key
        self.base_url = base_url or _env(ENV_BASE_URL)
        self.timeout = _positive(timeout if timeout is not None else _env_float(ENV_TIMEOUT), 60.0)
        if type(max_retries) is not int or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}.")
        self.max_retries = max_retries
        self.retry_delay = max(0.0, float(retry_delay))
        self.max_retry_delay = max(self.retry_delay, float(max_retry_delay))
        self.clock = clock
        self.include_usage = include_usage
        self.default_options = dict(default_options or {})

    def __repr__(self) -> str:
        return f"OpenAIModelClient(model={self.model!r}, base_url={self._where()})"

    # -- sending -------------------------------------------------------------------------

    async def _send(self, request: ModelRequest) -> ModelResponse:
        kwargs = self._kwargs(request, stream=False)
        async with self._sdk() as sdk:
            completion = await self._with_retries(
                request, lambda: sdk.chat.completions.create(**kwargs)
            )
        try:
            return _response_of(completion, request.model)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed answer (the SDK checks nothing)
            raise self._mapped(exc, request) from None

    async def _send_stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        kwargs = self._kwargs(request, stream=True)
        async with self._sdk() as sdk:
            stream = await self._with_retries(
                request, lambda: sdk.chat.completions.create(**kwargs)
            )
            async for piece in self._pieces(stream, request):
                yield piece

    async def _pieces(self, stream: Any, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        builder = _StreamedResponse(request.model)
        iterator = stream.__aiter__()
        try:
            while True:
                try:
                    chunk = await self._on_clock(iterator.__anext__(), request)
                except StopAsyncIteration:
                    break
                except ModelError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the SDK's errors, mapped
                    raise self._mapped(exc, request) from None
                for piece in self._unpacked(partial(builder.add, chunk), request):
                    yield piece
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                await close()
        yield ModelChunk(type="done", response=self._unpacked(builder.response, request))

    def _unpacked(self, read: Callable[[], T], request: ModelRequest) -> T:
        """``read()``, with a malformed answer raised as :class:`ModelResponseError`."""
        try:
            return read()
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed chunk (the SDK checks nothing)
            raise self._mapped(exc, request) from None

    def _kwargs(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {**self.default_options, **request.options}
        kwargs["model"] = request.model
        kwargs["messages"] = [m.to_openai() for m in request.messages]
        if request.tools:
            kwargs["tools"] = [t.to_openai() for t in request.tools]
        if stream:
            kwargs["stream"] = True
            if self.include_usage:
                kwargs.setdefault("stream_options", {"include_usage": True})
        return kwargs

    def _sdk(self) -> Any:
        # A client per call, closed after it: a call runs on whichever event loop its
        # caller runs (the effects loop, a test's), and nothing is left open when that
        # loop ends. Opening one costs far less than a model's answer takes.
        return self._openai.AsyncOpenAI(
            api_key=self._key,
            base_url=self.base_url,
            max_retries=0,  # retried here, on the clock
            timeout=self.timeout + 30.0,  # a backstop: the clock times the wait
        )

    # -- retries and timeouts ------------------------------------------------------------

    async def _with_retries(self, request: ModelRequest, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await self._on_clock(call(), request)
            except ModelError as exc:
                error: ModelError = exc
            except Exception as exc:  # noqa: BLE001 - the SDK's errors, mapped
                error = self._mapped(exc, request)
            if not error.retryable or attempt >= self.max_retries:
                raise error
            delay = self._delay(attempt, error)
            attempt += 1
            _log.warning(
                "Model {model} call failed ({error}); try {n} of {total} in {delay:g} s",
                model=request.model,
                error=str(error),
                n=attempt + 1,
                total=self.max_retries + 1,
                delay=delay,
            )
            await self._sleep(delay)

    def _delay(self, attempt: int, error: ModelError) -> float:
        if error.retry_after is not None:
            return min(self.max_retry_delay, error.retry_after)
        return min(self.max_retry_delay, self.retry_delay * 2.0**attempt)

    async def _on_clock(self, awaitable: Awaitable[T], request: ModelRequest) -> T:
        """Await ``awaitable``, cancelled after ``timeout`` seconds on the clock."""
        task = asyncio.ensure_future(awaitable)
        fired = _arm(task, self.timeout, self._clock())
        try:
            return await task
        except asyncio.CancelledError:
            if not fired():
                raise
            raise ModelTimeoutError(
                f"Model {request.model!r} at {self._where()} gave no answer within "
                f"{self.timeout:g} s; raise timeout= (or ACTORFLOW_MODEL_TIMEOUT) if it is "
                "just slow."
            ) from None

    async def _sleep(self, delay: float) -> None:
        if delay <= 0:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        _arm(done, delay, self._clock())
        try:
            await done
        except asyncio.CancelledError:
            if not done.cancelled():
                raise

    def _clock(self) -> Clock | None:
        if self.clock is not None:
            return self.clock
        system = self.system
        return None if system is None else system.clock

    # -- errors --------------------------------------------------------------------------

    def _where(self) -> str:
        if not self.base_url:
            return "the OpenAI API"
        parts = urlsplit(self.base_url)  # no user:password@, no query string
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return redact_text(repr(urlunsplit((parts.scheme, netloc, parts.path, "", ""))))

    def _mapped(self, exc: BaseException, request: ModelRequest) -> ModelError:
        openai = self._openai
        model, where = request.model, self._where()
        detail = redact_text(str(exc).strip() or type(exc).__name__)
        if isinstance(exc, openai.APIStatusError):
            status = int(exc.status_code)
            text = f"Model {model!r} at {where} answered HTTP {status}: {detail}"
            if status in _RETRYABLE_STATUS or status >= 500:
                error: ModelError = ModelUnavailableError(text, status_code=status)
                error.retry_after = _retry_after(exc)
                return error
            fix = "Fix the request (model name, key, parameters); it is not retried."
            return ModelRequestError(f"{text}. {fix}", status_code=status)
        if isinstance(exc, openai.APITimeoutError):
            return ModelTimeoutError(f"Model {model!r} at {where} timed out: {detail}")
        if isinstance(exc, openai.APIConnectionError):
            return ModelUnavailableError(f"Cannot reach model {model!r} at {where}: {detail}")
        return ModelResponseError(
            f"Model {model!r} at {where} gave an answer that cannot be used: {detail}"
        )


def _arm(future: asyncio.Future[Any], delay: float, clock: Clock | None) -> Callable[[], bool]:
    """Cancel (or, for a plain future, complete) ``future`` after ``delay`` seconds on
    ``clock`` (the loop's timer without one); return a function telling whether it fired."""
    loop = asyncio.get_running_loop()
    state = {"fired": False}

    def fire() -> None:
        if not future.done():
            state["fired"] = True
            if isinstance(future, asyncio.Task):
                future.cancel()
            else:
                future.set_result(None)

    if clock is None:
        handle: Any = loop.call_later(delay, fire)
    else:

        def fire_on_loop() -> None:  # the clock's thread
            loop.call_soon_threadsafe(fire)

        handle = clock.call_later(delay, fire_on_loop)
    future.add_done_callback(lambda _: handle.cancel())
    return lambda: state["fired"]


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _positive(value: float | None, default: float) -> float:
    untrusted: object = value  # callers without type checks may pass anything
    if untrusted is None or value is None:
        return default
    if not isinstance(untrusted, int | float) or isinstance(untrusted, bool) or not value > 0:
        raise ConfigurationError(f"timeout must be a number of seconds > 0, got {value!r}.")
    return float(value)


def _env_float(names: tuple[str, ...]) -> float | None:
    text = _env(names)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"{names[0]} must be a number of seconds, got {text!r}.") from None


def _not_a_number(text: str) -> float:
    raise ValueError(f"{text} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity
        raise ValueError(f"{text} is too large for a JSON number")
    return value


def _arguments(text: str | None, name: str) -> dict[str, JsonValue]:
    try:
        value = json.loads(text or "{}", parse_constant=_not_a_number, parse_float=_finite)
    except (ValueError, RecursionError):  # not JSON, NaN / Infinity, or nested too deep
        raise ModelResponseError(
            f"The model called tool {name!r} with arguments that are not JSON: {text!r}."
        ) from None
    if not isinstance(value, dict):
        raise ModelResponseError(
            f"The model called tool {name!r} with arguments that are not an object: {text!r}."
        )
    return value


def _usage(data: Any) -> Usage:
    if data is None:
        return Usage()
    return Usage(
        prompt_tokens=int(getattr(data, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(data, "completion_tokens", 0) or 0),
        total_tokens=int(getattr(data, "total_tokens", 0) or 0),
    )


def _thinking(message: Any) -> str:
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)
        if value is None:
            extra = getattr(message, "model_extra", None) or {}
            value = extra.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _response_of(completion: Any, model: str) -> ModelResponse:
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise ModelResponseError(f"Model {model!r} answered with no choices.")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise ModelResponseError(f"Model {model!r} answered with a choice without a message.")
    calls = tuple(
        ToolCall(
            id=c.id,
            name=c.function.name,
            arguments=_arguments(c.function.arguments, c.function.name),
        )
        for c in (message.tool_calls or ())
    )
    return ModelResponse(
        content=message.content or "",
        thinking=_thinking(message),
        tool_calls=calls,
        usage=_usage(getattr(completion, "usage", None)),
        model=getattr(completion, "model", "") or model,
        finish_reason=choice.finish_reason or "",
    )


class _StreamedResponse:
    """Assembles a streamed answer from its chunks."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage = Usage()
        self.finish_reason = ""
        self.served_model = ""

    def add(self, chunk: Any) -> list[ModelChunk]:
        pieces: list[ModelChunk] = []
        if getattr(chunk, "usage", None) is not None:
            self.usage = _usage(chunk.usage)
        self.served_model = getattr(chunk, "model", "") or self.served_model
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            thought = _thinking(delta)
            if thought:
                self.thinking.append(thought)
                pieces.append(ModelChunk(type="thinking", text=thought))
            if delta.content:
                self.text.append(delta.content)
                pieces.append(ModelChunk(type="text", text=delta.content))
            for call in delta.tool_calls or ():
                entry = self.calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function is not None:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
            self.finish_reason = choice.finish_reason or self.finish_reason
        return pieces

    def response(self) -> ModelResponse:
        calls = tuple(
            ToolCall(id=c["id"], name=c["name"], arguments=_arguments(c["arguments"], c["name"]))
            for _, c in sorted(self.calls.items())
        )
        return ModelResponse(
            content="".join(self.text),
            thinking="".join(self.thinking),
            tool_calls=calls,
            usage=self.usage,
            model=self.served_model or self.model,
            finish_reason=self.finish_reason,
        )
