"""Live view of a run: flows' stream events, lifecycle events, dead letters and
(optionally) every delivery."""

from __future__ import annotations

import contextlib
import queue
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from actorflow.cli.liveflows import FlowBars, FlowBoard
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
from actorflow.streams import StreamCallbackData

__all__ = ["LiveView", "payload_text"]

_PAYLOAD_CHARS = 70
"""Most characters of a payload shown with --messages (its key fields may take more)."""
_KEY_FIELDS = ("ok", "error", "status")
"""Payload fields shown first and never cut (up to _KEY_CHARS each)."""
_KEY_CHARS = 300
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
    show_steps: bool = False
    """Also a line per step started and completed (and per agent or tool event)."""
    started: float = field(default_factory=time.monotonic)
    events: queue.Queue[Message | Envelope | StreamCallbackData] = field(
        default_factory=queue.Queue
    )
    counts: Counter[str] = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)
    """Actors their supervisor stopped for good after too many failures."""
    quiet_paths: set[str] = field(default_factory=set)
    """Actors whose spawns, stops and deliveries are not shown (the CLI's own stream
    subscriber: set before the system runs, read from any thread)."""
    flows: FlowBoard = field(init=False)
    bars: FlowBars | None = None
    """The flows' progress bars while :meth:`showing_progress` (on a terminal)."""

    def __post_init__(self) -> None:
        self.flows = FlowBoard(show_steps=self.show_steps)

    def on_event(self, event: Message) -> None:
        """Listener for lifecycle events and dead letters (any thread)."""
        self.events.put(event)

    def on_stream(self, item: StreamCallbackData) -> None:
        """Stream callback (the subscriber actor's thread): queue the event, nothing more."""
        self.events.put(item)

    @contextlib.contextmanager
    def showing_progress(self) -> Iterator[None]:
        """Show the flows' progress bars below the lines while inside (CLI thread)."""
        with FlowBars(self.console) as bars:
            self.bars = bars
            try:
                yield
            finally:
                self.bars = None

    def wait_flows(self, timeout: float) -> bool:
        """Print events until every flow seen running has ended, for up to ``timeout``
        seconds; return whether they all ended (CLI thread)."""
        deadline = time.monotonic() + timeout
        while any(record.status == "running" for record in self.flows.flows.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.drain(timeout=left)
        return True

    def on_delivery(self, env: Envelope) -> None:
        """Delivery tap (any thread): counts every envelope, queues it if shown."""
        self.counts["messages"] += 1
        if not self.show_messages or env.recipient in self.quiet_paths:
            return
        if self.show_system or not isinstance(env.message, SystemMessage):
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

    def _print(self, item: Message | Envelope | StreamCallbackData) -> None:
        if isinstance(item, StreamCallbackData):
            line = self.flows.apply(item)
            if self.bars is not None and item.flow_id is not None:
                self.bars.show(self.flows.flows[item.flow_id])
        else:
            line = self._describe(item)
        if line:
            if self.bars is not None:
                self.bars.refresh()  # the line comes with the bars as they are now
            stamp = f"[dim]{time.monotonic() - self.started:8.3f}s[/]"
            self.console.print(f"{stamp}  {line}", highlight=False)

    def _describe(self, item: Message | Envelope) -> str:  # noqa: PLR0911 - one case per event
        if isinstance(item, Envelope):
            sender = item.sender or "outside"
            text = escape(payload_text(item.message.model_dump(exclude={"kind"})))
            return (
                f"[blue]message[/]    {sender} → {item.recipient}  {item.message.kind_tag} {text}"
            )
        self.counts[item.kind_tag or "?"] += 1
        if isinstance(item, ActorSpawned | ActorStopped) and item.path in self.quiet_paths:
            return ""
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


def payload_text(payload: Mapping[str, object], limit: int = _PAYLOAD_CHARS) -> str:
    """``payload`` as a dict literal of at most ``limit`` characters, ending with "…" when
    cut; ``ok``, ``error`` and ``status`` come first and are not cut (up to 300 characters
    each), so the rest is what gets cut."""
    first = [key for key in _KEY_FIELDS if key in payload]
    parts = [f"{key!r}: {_capped(repr(payload[key]))}" for key in first]
    parts += [f"{key!r}: {value!r}" for key, value in payload.items() if key not in first]
    whole = "{" + ", ".join(parts) + "}"
    if len(whole) <= limit or len(first) == len(parts):
        return whole
    kept = "{" + ", ".join(parts[: len(first)])
    if len(kept) + 1 >= limit:  # the key fields alone fill it: cut what follows them
        return kept + ", …"
    return whole[: max(limit - 1, len(kept))] + "…"


def _capped(text: str) -> str:
    return text if len(text) <= _KEY_CHARS else text[: _KEY_CHARS - 1] + "…"
