"""``actorflow log replay RUN``: re-drive a recorded run's flows through the current code."""

from __future__ import annotations

import typer
from rich.markup import escape

from actorflow.cli._logio import FileArg, RunsDirOpt, console, errors, journal_path
from actorflow.cli.paths import DEFAULT_RUNS_DIR
from actorflow.errors import ActorflowError, ReplayDivergenceError

__all__ = ["replay_run"]

_LISTED = 12
"""Actors not replayed that are named one by one; the rest are counted."""


def replay_run(run: FileArg, runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR) -> None:
    """Replay a run's flows through the current code: print "clean" (exit 0) or the first
    divergence (exit 1). Phase 1 replays flows only; other actors are listed."""
    from actorflow.replay import replay  # the flow layer loads only for this command

    file = journal_path(run, runs_dir)
    try:
        report = replay(file)
    except ReplayDivergenceError as exc:
        errors.print(f"[bold red]divergence:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if report.torn_tail is not None:
        offset, lost = report.torn_tail
        errors.print(
            f"[yellow]warning:[/] the log ends in a partial frame at offset {offset} "
            f"({lost} bytes lost); its whole prefix was replayed."
        )
    console.print(escape(report.summary()))
    for warning in report.warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}")
    others = report.not_replayed
    if others:
        named = ", ".join(others[:_LISTED])
        more = f" and {len(others) - _LISTED} more" if len(others) > _LISTED else ""
        console.print(
            escape(
                f"not replayed (phase 1 replays flows only): {len(others)} actors' "
                f"deliveries: {named}{more}"
            )
        )
