"""The data of a model call: messages, tool specs and calls, responses, usage, chunks.

All frozen pydantic models of JSON data, in the OpenAI chat-completions shape, so a
request and its response are journaled as they are and a replay serves them back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow.errors import ConfigurationError

__all__ = [
    "MessageInput",
    "ModelChunk",
    "ModelMessage",
    "ModelRequest",
    "ModelResponse",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "to_messages",
]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class ToolCall(_Data):
    """A tool the model asks to run."""

    id: str
    name: str
    arguments: Annotated[dict[str, JsonValue], Field(default_factory=dict)]


class ModelMessage(_Data):
    """One message of a conversation."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    """For ``assistant`` messages: the tools the model asked for."""
    tool_call_id: str | None = None
    """For ``tool`` messages: the call this is the result of."""
    name: str | None = None

    def to_openai(self) -> dict[str, JsonValue]:
        """This message in the chat-completions wire format."""
        data: dict[str, JsonValue] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data


class ToolSpec(_Data):
    """A tool offered to the model: its name, what it does, its JSON-schema parameters."""

    name: str
    description: str = ""
    parameters: Annotated[dict[str, JsonValue], Field(default_factory=dict)]

    def to_openai(self) -> dict[str, JsonValue]:
        """This tool in the chat-completions wire format."""
        parameters = self.parameters or {"type": "object", "properties": {}}
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }


class Usage(_Data):
    """Tokens a call used."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class ModelResponse(_Data):
    """What the model answered."""

    content: str = ""
    thinking: str = ""
    """Reasoning the endpoint sent apart from the answer (``reasoning_content``)."""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    model: str = ""
    finish_reason: str = ""

    def as_message(self) -> ModelMessage:
        """This answer as the assistant's message of a conversation."""
        return ModelMessage(
            role="assistant", content=self.content or None, tool_calls=self.tool_calls
        )


class ModelChunk(_Data):
    """A piece of a streamed answer; the last one (``done``) holds the whole response."""

    type: Literal["text", "thinking", "done"]
    text: str = ""
    response: ModelResponse | None = None


class ModelRequest(_Data):
    """A whole call: what is journaled as its request, and what a recording is matched by."""

    model: str
    messages: tuple[ModelMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    options: Annotated[dict[str, JsonValue], Field(default_factory=dict)]
    """Other chat-completions parameters (``temperature``, ``response_format`` ...)."""

    def fingerprint(self) -> str:
        """A hash of the request (model, messages, tools, options): equal requests match."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


MessageInput = str | ModelMessage | Mapping[str, Any]
"""A message as callers give it: text (a user message), a ``ModelMessage``, or a dict in
the chat-completions format."""


def to_messages(messages: MessageInput | Iterable[MessageInput]) -> tuple[ModelMessage, ...]:
    """Return ``messages`` as ``ModelMessage``s.

    Raises:
        ConfigurationError: a message has no valid role or fields.
    """
    single = isinstance(messages, str | ModelMessage | Mapping)
    items: Sequence[MessageInput] = [messages] if single else list(messages)  # type: ignore[list-item,arg-type] # narrowed by single
    out: list[ModelMessage] = []
    for item in items:
        if isinstance(item, ModelMessage):
            out.append(item)
        elif isinstance(item, str):
            out.append(ModelMessage(role="user", content=item))
        else:
            out.append(_from_mapping(item))
    if not out:
        raise ConfigurationError("A model call needs at least one message.")
    return tuple(out)


def _from_mapping(item: Mapping[str, Any]) -> ModelMessage:
    data = dict(item)
    calls = data.get("tool_calls")
    if isinstance(calls, list):
        data["tool_calls"] = tuple(_call(c) for c in calls)
    try:
        return ModelMessage.model_validate(data)
    except ValueError as exc:
        raise ConfigurationError(
            f"A message {sorted(data)!r} is not valid: {str(exc).splitlines()[-1].strip()}. "
            "Give role ('system', 'user', 'assistant', 'tool') and content."
        ) from None


def _call(call: object) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
        function = call["function"]
        arguments = function.get("arguments") or "{}"
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        return ToolCall(
            id=str(call.get("id", "")), name=str(function.get("name", "")), arguments=parsed
        )
    return ToolCall.model_validate(call)
