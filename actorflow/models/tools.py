"""Model tool calls run as actorflow tools: specs from a ``ToolRegistry``, calls run on it.

:func:`tool_specs` describes a registry's tools to a model (name, description, a JSON
schema of the parameters read from the signature); :func:`run_tool_call` runs what the
model asked for (an async tool on the loop, a plain one in the effects thread pool) and
emits TOOL_USE / TOOL_RESULT (or ERROR) events; :func:`complete_with_tools` loops
model -> tools -> model until the model answers without asking for a tool.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue, TypeAdapter

from actorflow.flow.jsondata import to_json_data
from actorflow.flow.steps import ToolRegistry
from actorflow.models.errors import ModelResponseError
from actorflow.models.scope import current_scope
from actorflow.models.types import (
    MessageInput,
    ModelMessage,
    ModelResponse,
    ToolCall,
    ToolSpec,
    Usage,
    to_messages,
)
from actorflow.secrets import redact_text
from actorflow.streams import StreamCallbackType

if TYPE_CHECKING:
    from actorflow.models.client import ModelClient

__all__ = ["ToolInput", "complete_with_tools", "run_tool_call", "tool_spec", "tool_specs"]

ToolInput = ToolRegistry | Sequence[ToolSpec] | None
"""Tools for a call: a registry (described with :func:`tool_specs`), specs, or none."""

DEFAULT_MAX_ROUNDS = 8
"""Model calls :func:`complete_with_tools` makes at most."""


def tool_spec(name: str, fn: Callable[..., Any], description: str = "") -> ToolSpec:
    """Describe ``fn`` as tool ``name``: its parameters' JSON schema from its signature
    (annotated parameters get their type's schema; ``**kwargs`` allows any others)."""
    properties: dict[str, JsonValue] = {}
    required: list[JsonValue] = []
    extra = False
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        parameters = []  # type: ignore[assignment] # a builtin without a signature
        extra = True
    for p in parameters:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            extra = True
            continue
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        schema: dict[str, JsonValue] = {}
        if p.annotation is not inspect.Parameter.empty and not isinstance(p.annotation, str):
            try:
                schema = TypeAdapter(p.annotation).json_schema()
            except Exception:  # noqa: BLE001 - a type without a schema: any value
                schema = {}
        properties[p.name] = schema
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    spec: dict[str, JsonValue] = {"type": "object", "properties": properties}
    if required:
        spec["required"] = required
    spec["additionalProperties"] = extra
    text = description or (fn.__doc__ or "").strip().split("\n\n")[0]
    return ToolSpec(name=name, description=text, parameters=spec)


def tool_specs(tools: ToolInput) -> tuple[ToolSpec, ...]:
    """The specs of ``tools`` (a registry's tools in name order)."""
    if tools is None:
        return ()
    if isinstance(tools, ToolRegistry):
        described = tools.describe()
        specs = []
        for name in sorted(described):
            fn = tools.get(name)
            if fn is not None:
                specs.append(tool_spec(name, fn, described[name]))
        return tuple(specs)
    return tuple(tools)


async def run_tool_call(tools: ToolRegistry, call: ToolCall) -> ModelMessage:
    """Run ``call`` on ``tools`` and return the ``tool`` message with its result (JSON
    text) or error (the model sees what went wrong and may try again). Emits TOOL_USE,
    then TOOL_RESULT or ERROR, in the caller's scope."""
    scope = current_scope()
    scope.event(
        StreamCallbackType.TOOL_USE, dict(call.arguments), tool=call.name, tool_call_id=call.id
    )
    fn = tools.get(call.name)
    try:
        if fn is None:
            raise ModelResponseError(
                f"The model asked for tool {call.name!r}, which is not registered; "
                f"registered tools: {sorted(tools.describe())}."
            )
        result = await _call(fn, call.arguments, is_async=tools.is_async(call.name))
        data = to_json_data(
            result,
            where=f"The result of tool {call.name!r}",
            error=ModelResponseError,
            fix="Return JSON data from the tool.",
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the tool goes back to the model
        text = redact_text(str(exc) or type(exc).__name__)
        scope.event(StreamCallbackType.ERROR, text, tool=call.name, tool_call_id=call.id)
        content = json.dumps({"error": text, "error_type": type(exc).__name__})
        return ModelMessage(role="tool", content=content, tool_call_id=call.id, name=call.name)
    scope.event(StreamCallbackType.TOOL_RESULT, data, tool=call.name, tool_call_id=call.id)
    content = data if isinstance(data, str) else json.dumps(data)
    return ModelMessage(role="tool", content=content, tool_call_id=call.id, name=call.name)


async def complete_with_tools(
    client: ModelClient,
    messages: MessageInput | Sequence[MessageInput],
    tools: ToolRegistry,
    *,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    stream: bool = False,
    **options: Any,
) -> tuple[ModelResponse, list[ModelMessage]]:
    """Call the model with ``tools``; run each tool it asks for and call it again with
    the results, until it answers without a tool call.

    Returns:
        The last response (its ``usage`` is the sum over all rounds) and the whole
        conversation (the given messages, the model's and the tools' messages).

    Raises:
        ModelResponseError: the model still asked for tools after ``max_rounds`` calls.
        ModelError: a call failed.
    """
    conversation = list(to_messages(messages))
    specs = tool_specs(tools)
    total = Usage()
    for _ in range(max_rounds):
        response = await client.complete(conversation, specs, stream=stream, **options)
        total = total + response.usage
        conversation.append(response.as_message())
        if not response.tool_calls:
            return response.model_copy(update={"usage": total}), conversation
        for call in response.tool_calls:
            conversation.append(await run_tool_call(tools, call))
    raise ModelResponseError(
        f"The model still asked for tools after {max_rounds} calls; raise max_rounds or "
        "change the prompt."
    )


async def _call(fn: Callable[..., Any], arguments: dict[str, JsonValue], *, is_async: bool) -> Any:
    if is_async:
        result = fn(**arguments)
    else:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, lambda: fn(**arguments))
    if inspect.isawaitable(result):
        result = await result
    return result
