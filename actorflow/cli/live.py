"""Live view of a run: lifecycle events, dead letters and (optionally) every delivery."""

from __future__ import annotations

import queue
import time
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from actorflow.messages import (
    ActorFailed,
    ActorRestarted,
    ActorResumed,
    ActorSpawned,
    ActorStopped,
    DeadLetter,
    Envelope,
    Message,
    SystemEscalated,
    SystemMessage,
)

__all__ = ["LiveView"]

_PAYLOAD_CHARS = 70
_GAVE_UP = "supervisor gave up"
"""How the reason of an actor stopped for good after too many failures starts."""
_ABANDONED = "abandoned"
"""How the reason of an actor whose parent stopped waiting for it to stop starts."""


@dataclass
class LiveView:
    """Collects events from actor threads into a queue; the CLI thread prints them."""

    console: Console
    show_messages: bool = False
    show_system: bool = False
    started: float = field(default_factory=time.monotonic)
    events: queue.Queue[Message | Envelope] = field(default_factory=queue.Queue)
    counts: Counter[str] = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)
    """Actors their supervisor stopped for good after too many failures."""

    def on_event(self, event: Message) -> None:
        """Listener for lifecycle events and dead letters (any thread)."""
        self.events.put(event)

    def on_delivery(self, env: Envelope) -> None:
        """Delivery tap (any thread): counts every envelope, queues it if shown."""
        self.counts["messages"] += 1
        if self.show_messages and (self.show_system or not isinstance(env.message, SystemMessage)):
            self.events.put(env)

    def drain(self, timeout: float) -> None:
        """Print what arrived, waiting up to ``timeout`` for the first item."""
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._print(item)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _print(self, item: Message | Envelope) -> None:
        stamp = f"[dim]{time.monotonic() - self.started:8.3f}s[/]"
        line = self._describe(item)
        if line:
            self.console.print(f"{stamp}  {line}", highlight=False)

    def _describe(self, item: Message | Envelope) -> str:  # noqa: PLR0911 - one case per event
        if isinstance(item, Envelope):
            sender = item.sender or "outside"
            payload = item.message.model_dump(exclude={"kind"})
            text = escape(str(payload))[:_PAYLOAD_CHARS]
            return (
                f"[blue]message[/]    {sender} → {item.recipient}  {item.message.kind_tag} {text}"
            )
        self.counts[item.kind_tag or "?"] += 1
        if isinstance(item, ActorSpawned):
            return f"[green]spawned[/]    {item.path}  [dim]({item.behaviour})[/]"
        if isinstance(item, ActorFailed):
            return (
                f"[bold red]failed[/]     {item.path}  {escape(item.error.error_type)}: "
                f"{escape(item.error.message)}"
            )
        if isinstance(item, ActorRestarted):
            return f"[yellow]restarted[/]  {item.path}  [dim](restart #{item.restarts})[/]"
        if isinstance(item, ActorResumed):
            return f"[yellow]resumed[/]    {item.path}"
        if isinstance(item, ActorStopped):
            if item.reason.startswith(_GAVE_UP):
                self.gave_up.append(item.path)
                return f"[bold red]gave up[/]    {item.path}  {escape(item.reason)}"
            if item.reason.startswith(_ABANDONED):
                return f"[bold red]abandoned[/]  {item.path}  {escape(item.reason)}"
            return f"[dim]stopped    {item.path}  ({escape(item.reason)})[/]"
        if isinstance(item, DeadLetter):
            kind = None if item.message is None else item.message.kind_tag
            return (
                f"[magenta]dead letter[/] {item.recipient}  {item.reason.value}  {kind}  "
                f"[dim]{escape(item.detail)}[/]"
            )
        if isinstance(item, SystemEscalated):
            if item.error.escalated_by:
                return f"[bold red]escalated[/]  to the root: {escape(item.error.message)}"
            return f"[bold red]stopping[/]   the system: {escape(item.error.message)}"
        return ""
