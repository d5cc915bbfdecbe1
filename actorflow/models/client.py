"""The ``ModelClient`` protocol and :class:`BaseModelClient`, which every actorflow client
builds on: it turns a call into a :class:`ModelRequest`, emits the answer's TEXT and
THINKING stream events (token by token when streaming) in the caller's scope, and
journals each call as a ``model`` effect (request, response or error, usage).

A subclass implements :meth:`BaseModelClient._send` (and, to stream for real,
:meth:`BaseModelClient._send_stream`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import JsonValue

from actorflow.errors import ConfigurationError
from actorflow.models.errors import ModelError, ModelResponseError
from actorflow.models.scope import ModelScope, current_scope
from actorflow.models.tools import ToolInput, tool_specs
from actorflow.models.types import (
    MessageInput,
    ModelChunk,
    ModelRequest,
    ModelResponse,
    to_messages,
)
from actorflow.secrets import redact_text
from actorflow.streams import StreamCallbackType

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["BaseModelClient", "ModelClient", "Messages"]

Messages = MessageInput | Iterable[MessageInput]
"""One message or several (text, ``ModelMessage``s or chat-completions dicts)."""


@runtime_checkable
class ModelClient(Protocol):
    """Calls a language model."""

    model: str
    """The model asked unless a call names another (``model=...``)."""

    async def complete(
        self,
        messages: Messages,
        tools: ToolInput = None,
        *,
        stream: bool = False,
        events: bool = True,
        **options: Any,
    ) -> ModelResponse:
        """Return the model's answer to ``messages`` (``tools`` it may ask for; with
        ``stream``, tokens become stream events as they come; ``events=False``: none)."""
        ...

    def stream(
        self, messages: Messages, tools: ToolInput = None, *, events: bool = True, **options: Any
    ) -> AsyncIterator[ModelChunk]:
        """Yield the answer's pieces as they come; the last (``done``) holds it all."""
        ...


class BaseModelClient:
    """Requests, stream events and journaling for model clients (see the module docstring).

    Args:
        model: the default model name.
        system: the actor system to journal calls in when the caller's scope has none
            (a call from an agent's task is journaled in the agent's system anyway).
    """

    def __init__(self, model: str, *, system: ActorSystem | None = None) -> None:
        untrusted: object = model  # callers without type checks may pass anything
        if not isinstance(untrusted, str) or not model:
            raise ConfigurationError(
                "A model client needs a model name: pass model=... or set ACTORFLOW_MODEL."
            )
        self.model = model
        self.system = system

    # -- what subclasses implement -------------------------------------------------------

    async def _send(self, request: ModelRequest) -> ModelResponse:
        """Get the answer to ``request``."""
        raise NotImplementedError

    async def _send_stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Yield the answer to ``request`` in pieces, the last one ``done`` (default: the
        whole answer from :meth:`_send`, as one piece per kind)."""
        response = await self._send(request)
        if response.thinking:
            yield ModelChunk(type="thinking", text=response.thinking)
        if response.content:
            yield ModelChunk(type="text", text=response.content)
        yield ModelChunk(type="done", response=response)

    # -- the public calls ----------------------------------------------------------------

    def request(self, messages: Messages, tools: ToolInput = None, **options: Any) -> ModelRequest:
        """Build the request a call with these arguments sends.

        Raises:
            ConfigurationError: a message or an option is not valid JSON data.
        """
        model = options.pop("model", None) or self.model
        try:
            return ModelRequest(
                model=model,
                messages=to_messages(messages),
                tools=tool_specs(tools),
                options=options,
            )
        except ValueError as exc:
            raise ConfigurationError(
                f"The options of a call to model {model!r} are not JSON data: "
                f"{str(exc).splitlines()[-1].strip()}."
            ) from None

    async def complete(
        self,
        messages: Messages,
        tools: ToolInput = None,
        *,
        stream: bool = False,
        events: bool = True,
        **options: Any,
    ) -> ModelResponse:
        """Return the model's answer (see :class:`ModelClient`); ``events=False`` emits
        no stream events (the call is journaled all the same).

        Raises:
            ModelError: the call failed (``retryable`` says whether to try again).
            ConfigurationError: the messages or options are not valid.
        """
        if stream:
            response: ModelResponse | None = None
            async for chunk in self.stream(messages, tools, events=events, **options):
                response = chunk.response or response
            assert response is not None  # stream() always ends with a done chunk
            return response
        request = self.request(messages, tools, **options)
        scope = current_scope(self.system)
        try:
            response = await self._send(request)
        except ModelError as exc:
            self._record(scope, request, None, exc, stream=False)
            raise
        if events:
            if response.thinking:
                scope.event(StreamCallbackType.THINKING, response.thinking, model=request.model)
            if response.content:
                scope.event(StreamCallbackType.TEXT, response.content, model=request.model)
        self._record(scope, request, response, None, stream=False)
        return response

    async def stream(
        self, messages: Messages, tools: ToolInput = None, *, events: bool = True, **options: Any
    ) -> AsyncIterator[ModelChunk]:
        """Yield the answer's pieces (see :class:`ModelClient`), each a TEXT or THINKING
        stream event in the caller's scope (unless ``events=False``).

        Raises:
            ModelError: the call failed.
        """
        request = self.request(messages, tools, **options)
        scope = current_scope(self.system)
        response: ModelResponse | None = None
        try:
            async for chunk in self._send_stream(request):
                if chunk.type == "done":
                    response = chunk.response
                elif events and chunk.text:
                    kind = StreamCallbackType.TEXT
                    if chunk.type == "thinking":
                        kind = StreamCallbackType.THINKING
                    scope.event(kind, chunk.text, model=request.model)
                yield chunk
        except ModelError as exc:
            self._record(scope, request, None, exc, stream=True)
            raise
        if response is None:
            error = ModelResponseError(
                f"The stream of model {request.model!r} ended without its final response."
            )
            self._record(scope, request, None, error, stream=True)
            raise error
        self._record(scope, request, response, None, stream=True)

    # -- journaling ----------------------------------------------------------------------

    def _record(
        self,
        scope: ModelScope,
        request: ModelRequest,
        response: ModelResponse | None,
        error: ModelError | None,
        *,
        stream: bool,
    ) -> None:
        value: dict[str, JsonValue] = {
            "fingerprint": request.fingerprint(),
            "request": request.model_dump(mode="json"),
            "stream": stream,
        }
        if response is not None:
            value["response"] = response.model_dump(mode="json")
            value["usage"] = response.usage.model_dump(mode="json")
        if error is not None:
            value["error"] = _error_data(error)
        scope.record(request.model, value)


def _error_data(error: ModelError) -> dict[str, JsonValue]:
    return {
        "type": type(error).__name__,
        "message": redact_text(str(error)),
        "status_code": error.status_code,
        "retryable": error.retryable,
    }
