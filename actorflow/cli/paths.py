"""Which journal a ``actorflow log`` argument means: a file, a run folder, a run id or
``latest``.

``actorflow run`` gives each run a folder ``<runs-dir>/<run-id>`` holding its journal
(``journal``) and its log (``actorflow.log``). Wherever a journal is asked for, these
all work:

- a journal file (``.actorflow/runs/run-0c2d…/journal``), taken as it is;
- a run folder (``.actorflow/runs/run-0c2d…``): the journal in it;
- a run id, or the start of one that only one run has (``run-0c2d``): that run's
  folder under the runs dir;
- ``latest``: the run under the runs dir that started last and kept a journal (by its
  journal's header; a journal whose header cannot be read counts by its modification
  time). A file that happens to be called ``latest`` is ``./latest``.

Anything else is a :class:`~actorflow.errors.JournalError` that says what was looked
for, where, and what to pass instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from actorflow.errors import ActorflowError, JournalError
from actorflow.journal import JournalHeader, open_journal

__all__ = ["DEFAULT_RUNS_DIR", "JOURNAL_NAME", "LATEST", "latest_run", "resolve_journal"]

DEFAULT_RUNS_DIR: Final = Path(".actorflow/runs")
"""Where ``actorflow run`` puts run folders unless told otherwise."""
JOURNAL_NAME: Final = "journal"
"""The journal's file name in a run folder."""
LATEST: Final = "latest"
"""The argument that means the newest run."""

_WHAT = (
    "pass a journal file, a run folder (.actorflow/runs/<run-id>), a run id, or "
    "'latest' for the newest run under --runs-dir"
)


def resolve_journal(arg: str, runs_dir: Path = DEFAULT_RUNS_DIR) -> Path:
    """Return the journal file that ``arg`` names.

    Args:
        arg: a journal file, a run folder, a run id (or a prefix only one run has), or
            ``latest``.
        runs_dir: where run ids and ``latest`` are looked up.

    Raises:
        JournalError: ``arg`` names nothing, a folder without a journal, the runs dir
            itself, or several runs; or ``latest`` finds no run with a journal.
    """
    if arg == LATEST:
        return latest_run(runs_dir) / JOURNAL_NAME
    path = Path(arg)
    if path.is_dir():
        return _journal_in(path)
    if path.exists() or path.is_symlink():
        return path  # a file (or a FIFO, a device: the reader refuses those in one line)
    if path.name == arg:  # a bare name: maybe a run id
        run = _run_by_id(arg, runs_dir)
        if run is not None:
            return _journal_in(run)
    raise JournalError(
        f"{arg!r} does not exist: {_WHAT} (run ids are looked up under {str(runs_dir)!r})."
    )


def latest_run(runs_dir: Path = DEFAULT_RUNS_DIR) -> Path:
    """Return the folder of the run under ``runs_dir`` that started last and kept a
    journal.

    Raises:
        JournalError: there is no run folder there, or none of them holds a journal.
    """
    folders = _run_folders(runs_dir)
    if not folders:
        raise JournalError(
            f"There are no runs under {str(runs_dir)!r}: "
            f"{'it holds no run folders' if runs_dir.is_dir() else 'there is no such folder'}. "
            "Start one with "
            "`actorflow run <scenario.py>`, or point --runs-dir at the folder your runs "
            "are in."
        )
    kept = [f for f in folders if (f / JOURNAL_NAME).is_file()]
    if not kept:
        count = len(folders)
        raise JournalError(
            f"None of the {count} run folder{'' if count == 1 else 's'} under "
            f"{str(runs_dir)!r} holds a journal (runs started with --no-journal write "
            "none). Run again with the journal on (the default)."
        )
    return max(kept, key=lambda f: (_started_at(f / JOURNAL_NAME), f.name))


def _run_folders(runs_dir: Path) -> list[Path]:
    try:
        return sorted(p for p in runs_dir.iterdir() if p.is_dir())
    except OSError:  # missing, not a folder, not readable: no runs to be seen
        return []


def _started_at(journal: Path) -> float:
    """When the run of ``journal`` started: its first header's time, else the file's
    modification time."""
    try:
        with open_journal(journal) as reader:
            first = next(iter(reader), None)
    except ActorflowError:
        first = None
    if isinstance(first, JournalHeader):
        return first.started_at
    return journal.stat().st_mtime


def _journal_in(folder: Path) -> Path:
    journal = folder / JOURNAL_NAME
    if journal.exists():
        return journal
    if any((child / JOURNAL_NAME).exists() for child in _run_folders(folder)):
        raise JournalError(
            f"{str(folder)!r} is a folder of runs, not a run: pass one of its run folders, "
            f"or 'latest' with --runs-dir {str(folder)!r}."
        )
    raise JournalError(
        f"Folder {str(folder)!r} holds no journal (no file {JOURNAL_NAME!r} in it): a run "
        "started with --no-journal keeps none. Pass a run folder that has one, or "
        "a journal file."
    )


def _run_by_id(prefix: str, runs_dir: Path) -> Path | None:
    """The run folder under ``runs_dir`` named ``prefix``, or the only one whose name
    starts with it (None: no such run)."""
    exact = runs_dir / prefix
    if exact.is_dir():
        return exact
    matches = [f for f in _run_folders(runs_dir) if f.name.startswith(prefix)]
    if len(matches) > 1:
        shown = ", ".join(f.name for f in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise JournalError(
            f"{prefix!r} matches {len(matches)} runs under {str(runs_dir)!r}: {shown}. "
            "Pass more of the run id."
        )
    return matches[0] if matches else None
