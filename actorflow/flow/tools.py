"""Built-in tools every flow has: real, offline work on the flow's own data.

They make planned flows runnable out of the box (the seed's "Analyze market trends
and create report" plans to ``analyze_data`` then ``write_report``); tools you
register whose names or descriptions match a task better are chosen instead.

- ``analyze_data``: describes the data it is given: keys, counts, numeric statistics.
- ``write_report``: writes a Markdown report from the task, the context and earlier results.
- ``summarize_text``: an extractive summary (the first sentences) of a text.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping
from typing import Any

from actorflow.flow.steps import ToolRegistry

__all__ = ["analyze_data", "register_builtin_tools", "summarize_text", "write_report"]

_MAX_TEXT = 20_000


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list | tuple):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, Mapping):
        return [n for item in value.values() for n in _numbers(item)]
    return []


def analyze_data(task: str = "", **data: Any) -> dict[str, Any]:
    """Analyze the given data: keys, item counts and numeric statistics per field."""
    fields: dict[str, Any] = {}
    for key, value in sorted(data.items()):
        numbers = _numbers(value)
        entry: dict[str, Any] = {"type": type(value).__name__}
        if isinstance(value, list | tuple | Mapping | str):
            entry["size"] = len(value)
        if numbers:
            entry.update(
                count=len(numbers),
                min=min(numbers),
                max=max(numbers),
                mean=round(statistics.fmean(numbers), 6),
            )
        fields[key] = entry
    return {"task": task, "fields": fields, "field_count": len(fields)}


def write_report(task: str = "", previous: Mapping[str, Any] | None = None, **context: Any) -> str:
    """Write a Markdown report of the task, its context and the results it builds on."""
    lines = [f"# {task.strip().capitalize() or 'Report'}", ""]
    if context:
        lines += ["## Context", ""]
        lines += [f"- **{k}**: {_short(v)}" for k, v in sorted(context.items())]
        lines.append("")
    if previous:
        lines += ["## Findings", ""]
        for step_id, result in previous.items():
            lines += [f"### {step_id}", "", "```json", _short(result, 2_000), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def summarize_text(text: str = "", task: str = "", sentences: int = 3) -> str:
    """Summarize a text by its first sentences (extractive)."""
    parts = re.split(r"(?<=[.!?])\s+", text.strip()[:_MAX_TEXT])
    return " ".join(p for p in parts[: max(1, sentences)] if p)


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def register_builtin_tools(tools: ToolRegistry) -> None:
    """Add the built-in tools to ``tools`` (existing tools of the same name are kept)."""
    for fn in (analyze_data, write_report, summarize_text):
        if fn.__name__ not in tools:
            tools.register(fn.__name__, fn, builtin=True)
