"""Ping-pong: two agents exchange 20 pings; the ponger crashes mid-way and no message is lost.

The pinger sends each ping as a request (``ctx.request``). The ponger trips on
ping 7 the first time it sees it: its supervisor (``/agents``) restarts it with a
fresh behaviour and the same mailbox, the failing ping becomes a dead letter,
and the pinger, told at once by a ``DeliveryFailed`` reply, sends it again.
Every ping ends up answered exactly once.

Run it: ``actorflow run scenarios/ping_pong.py``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from actorflow import (
    ActorPath,
    ActorSystem,
    Behaviour,
    Context,
    DeliveryFailed,
    Envelope,
    Message,
    RequestTimedOut,
    recipe,
)

ROUNDS = 20
CRASH_AT = 7


class StartGame(Message):
    """Ask the pinger to play; it replies ``GameOver`` at the end."""

    kind: Literal["pingpong.start_game"] = "pingpong.start_game"
    rounds: int


class Ping(Message):
    """Ping number ``n``; ``attempt`` counts resends of the same ping."""

    kind: Literal["pingpong.ping"] = "pingpong.ping"
    n: int
    attempt: int = 1


class Pong(Message):
    """The answer to ping ``n``."""

    kind: Literal["pingpong.pong"] = "pingpong.pong"
    n: int


class GameOver(Message):
    """The pinger's report."""

    kind: Literal["pingpong.game_over"] = "pingpong.game_over"
    pongs: tuple[int, ...]
    resends: int


class Pinger(Behaviour):
    """Plays ping: one request at a time, resending a ping whose delivery failed."""

    def __init__(self, ponger: ActorPath, timeout: float) -> None:
        self.ponger = ponger
        self.timeout = timeout
        self.rounds = 0
        self.pongs: list[int] = []
        self.resends = 0
        self.asker: Envelope | None = None

    def on_start_game(self, msg: StartGame, ctx: Context) -> None:
        self.rounds = msg.rounds
        self.asker = ctx.envelope
        self._ping(ctx, Ping(n=1))

    def _ping(self, ctx: Context, ping: Ping) -> None:
        ctx.request(self.ponger, ping, timeout=self.timeout)
        self.current = ping

    def on_pong(self, msg: Pong, ctx: Context) -> None:
        self.pongs.append(msg.n)
        if msg.n < self.rounds:
            self._ping(ctx, Ping(n=msg.n + 1))
        else:
            ctx.reply(GameOver(pongs=tuple(self.pongs), resends=self.resends), to=self.asker)

    def _resend(self, ctx: Context) -> None:
        self.resends += 1
        self._ping(ctx, self.current.model_copy(update={"attempt": self.current.attempt + 1}))

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        self._resend(ctx)

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        self._resend(ctx)


class Ponger(Behaviour):
    """Answers pings; trips over ping ``crash_at`` on its first attempt."""

    def __init__(self, crash_at: int) -> None:
        self.crash_at = crash_at

    def on_ping(self, msg: Ping, ctx: Context) -> None:
        if msg.n == self.crash_at and msg.attempt == 1:
            raise RuntimeError(f"ponger tripped over ping {msg.n}")
        ctx.reply(Pong(n=msg.n))


def main(system: ActorSystem) -> Mapping[str, object]:
    """Play the game and report what each side saw."""
    ponger = system.spawn(recipe(Ponger, CRASH_AT), "ponger")
    pinger = system.spawn(recipe(Pinger, ponger, 5.0), "pinger")

    over = system.ask(pinger, StartGame(rounds=ROUNDS), timeout=30)

    assert isinstance(over, GameOver)
    stats = system.actor_statistics(ponger)
    return {
        "pings answered": len(over.pongs),
        "answered in order": over.pongs == tuple(range(1, ROUNDS + 1)),
        "resends": over.resends,
        "ponger restarts": stats.restarts,
        "ponger processed": stats.processed,
        "dead letters": dict(system.dead_letters.counts()),
    }
