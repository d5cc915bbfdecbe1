"""References in step parameters, and the names a step sees.

A string parameter ``"${expr}"`` is replaced by the value of ``expr``, evaluated like
a condition (see :mod:`actorflow.flow.expressions`) over the flow's names;
``"text ${expr} text"`` interpolates it as text. The names are, later ones winning:
the plan's variables, the context passed to ``execute``, results by step id, results
by ``output_key``; plus ``context`` (all of those as one dict) and ``results``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from actorflow.errors import (
    ConditionError,
    ConditionEvaluationError,
    InvalidStepParametersError,
)
from actorflow.flow.expressions import Condition

__all__ = [
    "MAX_PARAMETER_DEPTH",
    "MAX_TEXT",
    "check_references",
    "names_for",
    "resolve_references",
]

MAX_PARAMETER_DEPTH = 64
"""How deeply step parameters may nest lists and dicts."""
MAX_TEXT = 1_000_000
"""Most characters a string with embedded references may grow to."""

_WHOLE = re.compile(r"^\$\{(.+)\}$", re.S)
_EMBEDDED = re.compile(r"\$\{([^}]+)\}")


def names_for(
    base: Mapping[str, Any], results: Mapping[str, Any], outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the names a step sees: ``base`` (variables and context), results by step
    id and by output key, ``context`` (all of them) and ``results``."""
    names = {**base, **results, **outputs}
    names["context"] = dict(names)
    names["results"] = dict(results)
    return names


def check_references(value: object, *, where: str, _depth: int = 0) -> None:
    """Parse every ``${...}`` reference in ``value`` (before the flow runs).

    Raises:
        ConditionError: a reference is malformed or unsafe (the message says where).
    """
    if isinstance(value, str):
        if "${" not in value:
            return
        whole = _WHOLE.match(value)
        expressions = (
            [whole.group(1)]
            if whole and "${" not in whole.group(1)
            else [m.group(1) for m in _EMBEDDED.finditer(value)]
        )
        for expression in expressions:
            try:
                Condition.parse(expression)
            except ConditionError as exc:
                raise ConditionError(f"{where}: reference '${{{expression}}}': {exc}") from None
    elif _depth < MAX_PARAMETER_DEPTH and isinstance(value, dict):
        for item in value.values():
            check_references(item, where=where, _depth=_depth + 1)
    elif _depth < MAX_PARAMETER_DEPTH and isinstance(value, list):
        for item in value:
            check_references(item, where=where, _depth=_depth + 1)


def _interpolate(value: str, names: Mapping[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    last = 0
    for match in _EMBEDDED.finditer(value):
        text = _text(match.group(1), names)
        size += len(text) + match.start() - last
        if size > MAX_TEXT:
            raise ConditionEvaluationError(
                f"Interpolating references into {value[:60]!r} gives more than {MAX_TEXT:,} "
                "characters. Refer to smaller values, or pass the value itself as a whole "
                "'${...}' parameter."
            )
        parts += (value[last : match.start()], text)
        last = match.end()
    parts.append(value[last:])
    return "".join(parts)


def _text(expression: str, names: Mapping[str, Any]) -> str:
    value = Condition.parse(expression).evaluate(names)
    try:
        return str(value)
    except ValueError as exc:  # an int too long to print (sys.set_int_max_str_digits)
        raise ConditionEvaluationError(
            f"Reference '${{{expression}}}' gives a value that cannot be put in text: {exc}. "
            "Refer to a smaller value."
        ) from None


def resolve_references(value: Any, names: Mapping[str, Any], _depth: int = 0) -> Any:
    """Replace ``${expr}`` references in parameters by their values (recursively).

    Raises:
        ConditionError: a reference is malformed or unsafe.
        ConditionEvaluationError: a reference cannot be evaluated on these names.
        InvalidStepParametersError: the parameters nest deeper than
            :data:`MAX_PARAMETER_DEPTH`.
    """
    if isinstance(value, str):
        if "${" not in value:
            return value
        whole = _WHOLE.match(value)
        if whole and "${" not in whole.group(1):
            return Condition.parse(whole.group(1)).evaluate(names)
        return _interpolate(value, names)
    if _depth >= MAX_PARAMETER_DEPTH and isinstance(value, dict | list):
        raise InvalidStepParametersError(
            f"Step parameters nest deeper than {MAX_PARAMETER_DEPTH} levels. Flatten them."
        )
    if isinstance(value, dict):
        return {k: resolve_references(v, names, _depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, names, _depth + 1) for v in value]
    return value
