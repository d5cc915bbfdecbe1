"""Structured output: ask a model for JSON of a pydantic schema, check it, ask again.

:func:`ask_structured` sends the schema (as ``response_format``, for endpoints that
honour it, and in the prompt, for those that do not), parses the answer, validates it
with the schema and then with the caller's own check; any error goes back to the model
in a new user message ("that answer is invalid: ...; answer again"), up to
``max_attempts`` calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from actorflow.errors import ActorflowError
from actorflow.models.client import ModelClient
from actorflow.models.types import ModelMessage
from actorflow.secrets import redact_text

__all__ = ["OutputMode", "StructuredOutputError", "ask_structured", "parse_json"]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
OutputMode = Literal["json_schema", "json_object", "prompt"]
"""How the schema is asked for: ``response_format`` with the JSON schema, ``response_format``
JSON mode only, or in the prompt only (for endpoints that refuse ``response_format``)."""

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class StructuredOutputError(Exception):
    """Internal: every attempt failed; ``errors`` lists why (the caller raises its own
    typed error from it)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[-1] if errors else "no attempt")
        self.errors = errors


def parse_json(text: str) -> object:
    """Parse a model's JSON answer (a fenced ````json```` block is accepted).

    Raises:
        ValueError: it is not JSON (or it is nested too deeply to read).
    """
    match = _FENCE.match(text)
    try:
        return json.loads(match.group(1) if match else text)
    except RecursionError:
        raise ValueError("it is not JSON (it is nested too deeply).") from None


async def ask_structured(
    client: ModelClient,
    messages: Sequence[ModelMessage],
    schema: type[M],
    check: Callable[[M], R],
    *,
    max_attempts: int,
    mode: OutputMode = "json_schema",
    name: str = "answer",
) -> R:
    """Return ``check(answer)`` for the first answer that parses, fits ``schema`` and
    passes ``check`` (which raises an ``ActorflowError``, ``ValueError`` or
    ``ValidationError`` to refuse it).

    Raises:
        StructuredOutputError: no answer passed in ``max_attempts`` calls.
        ModelError: a call failed.
    """
    conversation = list(messages)
    lead = next((i for i, m in enumerate(conversation) if m.role != "system"), len(conversation))
    conversation.insert(lead, ModelMessage(role="system", content=_schema_prompt(schema, name)))
    options: dict[str, Any] = _response_format(schema, name, mode)
    errors: list[str] = []
    for _ in range(max_attempts):
        response = await client.complete(conversation, events=False, **options)
        conversation.append(ModelMessage(role="assistant", content=response.content))
        try:
            answer = schema.model_validate(parse_json(response.content))
            return check(answer)
        except (ActorflowError, ValueError, ValidationError) as exc:
            problem = _problem(exc)
            errors.append(problem)
            conversation.append(
                ModelMessage(
                    role="user",
                    content=(
                        f"That {name} is invalid: {problem} Answer again with the whole corrected "
                        f"{name} as JSON only."
                    ),
                )
            )
    raise StructuredOutputError(errors)


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        return redact_text(f"{where}: {first['msg']}.")
    if isinstance(exc, json.JSONDecodeError):
        return f"it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
    return redact_text(str(exc).strip() or type(exc).__name__)


def _schema_prompt(schema: type[BaseModel], name: str) -> str:
    text = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    return f"Answer with the {name} as one JSON object, nothing else, of this JSON schema: {text}"


def _response_format(schema: type[BaseModel], name: str, mode: OutputMode) -> dict[str, object]:
    if mode == "prompt":
        return {}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema.model_json_schema()},
        }
    }
