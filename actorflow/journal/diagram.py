"""Sequence diagrams of a journal, in Mermaid or PlantUML syntax."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from actorflow.journal.format import JournalEntry, JournalEvent
from actorflow.messages.base import message_fields, message_kind
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import (
    ActorFailed,
    ActorRestarted,
    ActorStopped,
    DeadLetter,
    SystemEscalated,
    SystemMessage,
)

__all__ = ["DiagramFormat", "sequence_diagram"]

DiagramFormat = Literal["mermaid", "plantuml"]
_OUTSIDE = "outside"
_UNSAFE = re.compile(r"[;#{}<>\"`\x00-\x1f\x7f\u2028\u2029]")
"""What may not reach a diagram line from a journal: statement separators, comment and
entity markers, quotes, and every control or line-separator character."""
_LABEL_CHARS = 60


def _clean(text: str) -> str:
    safe = _UNSAFE.sub(" ", text).strip()
    return safe if len(safe) <= _LABEL_CHARS else safe[: _LABEL_CHARS - 1].rstrip() + "…"


def _name(path: str, alias: str) -> str:
    """A participant's shown name: its path, cleaned like a label but not shortened
    (participants are told apart by alias, so two cleaned names may be alike)."""
    return _UNSAFE.sub(" ", path).strip() or alias


def _label(env: Envelope) -> str:
    kind = message_kind(env.message)
    fields = message_fields(env.message)
    args = ", ".join(f"{k}={v}" for k, v in fields.items())
    return _clean(f"{kind}({args})" if args else kind)


def _note(event: JournalEvent) -> tuple[str, str] | None:
    msg = event.message
    if isinstance(msg, ActorFailed):
        return msg.path, f"failed: {msg.error.error_type.rsplit('.', 1)[-1]}: {msg.error.message}"
    if isinstance(msg, DeadLetter):
        kind = None if msg.message is None else message_kind(msg.message)
        return msg.recipient, f"dead letter ({msg.reason.value}): {kind}"
    if isinstance(msg, ActorRestarted):
        return msg.path, f"restarted (restart {msg.restarts})"
    if isinstance(msg, ActorStopped):
        return msg.path, f"stopped ({msg.reason})"
    if isinstance(msg, SystemEscalated):
        return msg.path, "escalated: the system stops"
    return None


def sequence_diagram(
    records: Iterable[JournalEntry],
    fmt: DiagramFormat = "mermaid",
    *,
    include_system: bool = False,
    include_stops: bool = False,
) -> str:
    """Return a sequence diagram of deliveries, failures, dead letters and restarts.

    Args:
        records: journal records, usually filtered (undecoded ones are left out).
        fmt: ``mermaid`` or ``plantuml``.
        include_system: also draw supervision traffic (child failed, directives).
        include_stops: also note actors stopping.
    """
    participants: dict[str, str] = {}
    lines: list[str] = []

    def alias(path: str | None) -> str:
        key = _OUTSIDE if path is None or path.startswith("/temp/") else path
        if key not in participants:
            participants[key] = f"p{len(participants) + 1}"
        return participants[key]

    for record in records:
        if isinstance(record, Envelope):
            if isinstance(record.message, SystemMessage) and not include_system:
                continue
            arrow = "->>" if fmt == "mermaid" else " -> "
            lines.append(
                f"{alias(record.sender)}{arrow}{alias(record.recipient)}: {_label(record)}"
            )
        elif isinstance(record, JournalEvent):
            note = _note(record)
            if note is None or (isinstance(record.message, ActorStopped) and not include_stops):
                continue
            where, text = note
            lines.append(
                f"Note over {alias(where)}: {_clean(text)}"
                if fmt == "mermaid"
                else f"note over {alias(where)} : {_clean(text)}"
            )
    if fmt == "mermaid":
        head = ["sequenceDiagram"] + [
            f"    participant {a} as {_name(p, a)}" for p, a in participants.items()
        ]
        return "\n".join(head + [f"    {line}" for line in lines]) + "\n"
    head = ["@startuml"] + [f'participant "{_name(p, a)}" as {a}' for p, a in participants.items()]
    body = [line.replace(": ", " : ", 1) if "->" in line else line for line in lines]
    return "\n".join([*head, *body, "@enduml"]) + "\n"
