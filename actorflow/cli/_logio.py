"""What every ``actorflow log`` command shares: the RUN argument, finding and opening its
journal, reading it with warnings about damage, and the consoles it prints to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from actorflow.cli.paths import resolve_journal
from actorflow.errors import ActorflowError
from actorflow.journal import JournalEntry, JournalReader, open_journal

__all__ = [
    "FileArg",
    "RunsDirOpt",
    "console",
    "errors",
    "journal_path",
    "open_reader",
    "read_records",
]

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

FileArg = Annotated[
    str,
    typer.Argument(
        metavar="RUN",
        help="A journal file, a run folder (.actorflow/runs/<run-id>), a run id (or its "
        "start), or 'latest' for the run under --runs-dir that started last.",
        show_default=False,
    ),
]
RunsDirOpt = Annotated[
    Path,
    typer.Option("--runs-dir", help="Where run ids and 'latest' are looked up."),
]


def journal_path(arg: str, runs_dir: Path) -> Path:
    """The journal file ``arg`` names (exit 2 with the reason when it names none)."""
    try:
        return resolve_journal(arg, runs_dir)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def open_reader(path: Path) -> JournalReader:
    try:
        return open_journal(path)
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def read_records(reader: JournalReader) -> Iterator[JournalEntry]:
    undecoded = reader.undecoded
    try:
        yield from reader.records()
    except ActorflowError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    undecoded = reader.undecoded - undecoded
    if undecoded:
        errors.print(
            f"[yellow]warning:[/] {undecoded} record{'' if undecoded == 1 else 's'} could not "
            "be decoded (shown as 'undecoded' with the reason); the records after "
            f"{'it' if undecoded == 1 else 'them'} are shown as usual."
        )
    if reader.torn_tail is not None:
        offset, lost = reader.torn_tail
        errors.print(
            f"[yellow]warning:[/] the log ends in a partial frame at offset {offset} "
            f"({lost} bytes lost, probably a crash while writing); shown: all whole frames."
        )
