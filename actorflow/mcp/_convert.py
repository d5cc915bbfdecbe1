"""MCP data into actorflow data: tool listings, call results, argument checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

__all__ = [
    "MCPToolInfo",
    "argument_problems",
    "result_text",
    "result_value",
    "tool_info",
]


class MCPToolInfo(BaseModel):
    """A tool an MCP server lists: what the planner matches and arguments are checked
    against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    input_schema: dict[str, JsonValue] = {}
    """The JSON schema of the tool's arguments (an object schema)."""
    output_schema: dict[str, JsonValue] | None = None

    @property
    def properties(self) -> tuple[str, ...]:
        """Names of the arguments the input schema declares."""
        props = self.input_schema.get("properties")
        return tuple(props) if isinstance(props, dict) else ()

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the arguments the input schema requires."""
        req = self.input_schema.get("required")
        return tuple(str(r) for r in req) if isinstance(req, list) else ()


def tool_info(tool: Any) -> MCPToolInfo:
    """Return the :class:`MCPToolInfo` of an SDK ``Tool``."""
    return MCPToolInfo(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema or {}),
        output_schema=None if tool.output_schema is None else dict(tool.output_schema),
    )


def result_text(content: list[Any]) -> str:
    """The text blocks of a result's content, joined (an error's text)."""
    texts = [c.text for c in content if getattr(c, "type", None) == "text"]
    return "\n".join(texts)


def _is_wrapped(output_schema: Mapping[str, Any] | None, value: Mapping[str, Any]) -> bool:
    """Whether structured content is the SDK's wrapping of a value that is not an object
    (``{"result": value}`` under an output schema with that one property)."""
    if output_schema is None or set(value) != {"result"}:
        return False
    props = output_schema.get("properties")
    return isinstance(props, dict) and set(props) == {"result"}


def _block(block: Any) -> JsonValue:
    kind = getattr(block, "type", None)
    if kind == "text":
        text: str = block.text
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                parsed: JsonValue = json.loads(text)
            except (ValueError, RecursionError):  # not JSON, or nested too deep: text
                return text
            return parsed
        return text
    dumped = block.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped if isinstance(dumped, dict) else str(dumped)


def result_value(result: Any, output_schema: Mapping[str, Any] | None) -> JsonValue:
    """The value of a successful tool call, as JSON data.

    Structured content wins (the SDK's ``{"result": value}`` wrapping of a value that is
    not an object is unwrapped); else one content block is its value (a text that holds
    a JSON object or array is parsed), several are a list of values. A block that is not
    text (an image, a resource) is its JSON form (base64 data stays text).
    """
    structured = result.structured_content
    if isinstance(structured, dict):
        if _is_wrapped(output_schema, structured):
            value: JsonValue = structured["result"]
            return value
        return structured
    blocks = [_block(b) for b in result.content]
    if len(blocks) == 1:
        return blocks[0]
    return blocks


def argument_problems(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``arguments`` for a tool with input ``schema`` (empty: they fit).

    The schema is checked with ``jsonschema`` (a dependency of the MCP SDK); a schema
    that is itself invalid is not held against the arguments.
    """
    import jsonschema  # type: ignore[import-untyped]  # noqa: PLC0415 - comes with actorflow[mcp]

    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(dict(arguments)), key=lambda e: list(e.path))
    except jsonschema.exceptions.SchemaError:
        return []
    problems = []
    for error in errors[:5]:
        where = "/".join(str(p) for p in error.path)
        problems.append(f"{where}: {error.message}" if where else str(error.message))
    return problems
