"""Supervision tree: a crash loop escalates up a two-level tree until the root stops the system.

::

    /agents                    guardian: 1 restart in 60 s, then escalate to the root
    └── department             one-for-one: 2 restarts in 60 s, then escalate
        └── team               one-for-one: 3 restarts in 60 s, then escalate
            ├── steady
            └── flaky          fails in on_start, every time ("database unreachable")

flaky fails 4 times per team (1 + 3 restarts), then team escalates; the
department restarts team twice, then escalates; /agents restarts the department
once, then escalates to the root, which stops the whole system with an
``EscalationError``. flaky therefore fails 4 x 3 x 2 = 24 times.

Run it: ``actorflow run scenarios/supervision_tree.py``
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

from actorflow import (
    ActorSystem,
    Behaviour,
    Context,
    EscalationError,
    Message,
    SupervisorStrategy,
    recipe,
)
from actorflow.messages import ActorFailed


class Flaky(Behaviour):
    """Cannot start: its database is unreachable."""

    def on_start(self, ctx: Context) -> None:
        raise ConnectionError("database unreachable")


class Steady(Behaviour):
    """Starts fine and does nothing."""


class Team(Behaviour):
    """Starts steady and flaky."""

    def on_start(self, ctx: Context) -> None:
        ctx.spawn(Steady, "steady")
        ctx.spawn(Flaky, "flaky")


class Department(Behaviour):
    """Starts the team, supervising it with at most 3 restarts in 60 s."""

    def on_start(self, ctx: Context) -> None:
        ctx.spawn(Team, "team", strategy=SupervisorStrategy(max_restarts=3, within=60.0))


def create_system() -> ActorSystem:
    """The guardians allow one restart a minute."""
    return ActorSystem(guardian_strategy=SupervisorStrategy(max_restarts=1, within=60.0))


def main(system: ActorSystem) -> Mapping[str, object]:
    """Start the tree, wait for the escalation to stop the system, count the failures."""
    failures: Counter[str] = Counter()
    lock = threading.Lock()

    def count(event: Message) -> None:
        if isinstance(event, ActorFailed):
            with lock:
                failures[event.path] += 1

    system.subscribe(count)
    system.spawn(
        recipe(Department), "department", strategy=SupervisorStrategy(max_restarts=2, within=60.0)
    )
    try:
        system.wait_terminated(timeout=60)
        outcome = "the system is still running"
    except EscalationError as exc:
        outcome = f"escalated to the root: {exc}"
    with lock:
        return {"failures by actor": dict(sorted(failures.items())), "outcome": outcome}
