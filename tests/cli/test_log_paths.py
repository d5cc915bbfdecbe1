"""``actorflow log ...`` takes a journal, a run folder, a run id or ``latest``; ``--kind``
takes a kind's area without the dot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actorflow import ActorPath, MessageId
from actorflow.cli import app
from actorflow.cli.paths import resolve_journal
from actorflow.errors import JournalError
from actorflow.journal import JournalConfig, JournalWriter
from actorflow.messages import Envelope, Message
from tests.support import Done, Marker, Work


def _run(runs: Path, run_id: str, started_at: float, *messages: Message) -> Path:
    """A run folder ``runs/run_id`` whose journal starts at ``started_at``."""
    folder = runs / run_id
    folder.mkdir(parents=True)
    writer = JournalWriter(
        JournalConfig(path=folder / "journal"), run_id=run_id, started_at=started_at
    )
    to = ActorPath("/agents/a")
    for seq, message in enumerate(messages, start=1):
        writer.append(
            Envelope(seq, MessageId(f"m{seq}"), None, None, to, None, seq, started_at, message)
        )
    assert writer.close()
    return folder


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["log", *args])
    return result.exit_code, result.output


def test_a_run_folder_is_read_as_the_journal_in_it(tmp_path: Path) -> None:
    folder = _run(tmp_path, "run-a", 100.0, Work(n=1))

    by_folder = _invoke("show", str(folder), "--json")
    by_file = _invoke("show", str(folder / "journal"), "--json")

    assert by_folder[0] == 0, by_folder[1]
    assert by_folder == by_file
    assert '"n": 1' in by_folder[1]


def test_latest_is_the_run_that_started_last_whatever_the_folders_times(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    newer = _run(runs, "run-b", 200.0, Work(n=2))
    older = _run(runs, "run-a", 100.0, Work(n=1))
    os.utime(newer, (1.0, 1.0))  # the older run's folder looks newer on disk

    code, output = _invoke("show", "latest", "--runs-dir", str(runs), "--json")

    assert code == 0, output
    assert '"run_id": "run-b"' in output
    assert '"n": 2' in output
    assert resolve_journal("latest", runs) == newer / "journal"
    assert resolve_journal(str(older), runs) == older / "journal"


def test_latest_skips_run_folders_without_a_journal(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with_journal = _run(runs, "run-a", 100.0, Work(n=1))
    (runs / "run-b").mkdir()  # a run started with --no-journal

    assert resolve_journal("latest", runs) == with_journal / "journal"


def test_a_run_id_is_looked_up_under_the_runs_dir_whole_or_by_a_unique_prefix(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    first = _run(runs, "run-0c2d93", 100.0, Work(n=1))
    _run(runs, "run-7a1372", 200.0, Work(n=2))

    assert resolve_journal("run-0c2d93", runs) == first / "journal"
    assert resolve_journal("run-0c", runs) == first / "journal"
    with pytest.raises(JournalError, match=r"^'run-' matches 2 runs under .*: run-0c2d93, "):
        resolve_journal("run-", runs)


@pytest.mark.parametrize("command", ["show", "stats", "diagram", "repair", "flow"])
def test_every_log_command_takes_latest(tmp_path: Path, command: str) -> None:
    runs = tmp_path / "runs"
    _run(runs, "run-a", 100.0, Work(n=1))

    code, output = _invoke(command, "latest", "--runs-dir", str(runs))

    assert code == 0, output


def test_latest_in_a_runs_dir_that_does_not_exist_says_where_it_looked(tmp_path: Path) -> None:
    code, output = _invoke("show", "latest", "--runs-dir", str(tmp_path / "nope"))

    assert code == 2
    assert "There are no runs under" in output
    assert "nope" in output
    assert "--runs-dir" in output


def test_latest_in_an_empty_runs_dir_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(
        JournalError, match=r"^There are no runs under '.*runs': there is no such folder"
    ):
        resolve_journal("latest", tmp_path / "runs")
    (tmp_path / "runs").mkdir()

    code, output = _invoke("show", "latest", "--runs-dir", str(tmp_path / "runs"))

    assert code == 2
    assert "actorflow run" in output


def test_latest_when_no_run_kept_a_journal_says_so(tmp_path: Path) -> None:
    (tmp_path / "runs" / "run-a").mkdir(parents=True)

    with pytest.raises(JournalError, match=r"^None of the 1 run folder under .* holds a journal"):
        resolve_journal("latest", tmp_path / "runs")


def test_a_missing_path_is_an_error_that_names_what_may_be_passed(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "journal"

    code, output = _invoke("show", str(missing), "--runs-dir", str(tmp_path))

    assert code == 2
    assert "does not exist" in output
    assert "latest" in output
    with pytest.raises(JournalError, match=r"^'.*journal' does not exist: pass a journal file"):
        resolve_journal(str(missing), tmp_path)


def test_a_folder_without_a_journal_is_an_error_that_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "run-a"
    folder.mkdir()
    (folder / "actorflow.log").write_text("")

    code, output = _invoke("stats", str(folder))

    assert code == 2
    assert "holds no journal" in output
    assert "--no-journal" in output


def test_the_runs_dir_itself_is_an_error_that_suggests_latest(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run(runs, "run-a", 100.0, Work(n=1))

    with pytest.raises(JournalError, match=r"^'.*runs' is a folder of runs.*latest"):
        resolve_journal(str(runs), runs)


def test_kind_without_a_dot_matches_every_kind_of_that_area(tmp_path: Path) -> None:
    folder = _run(tmp_path, "run-a", 100.0, Work(n=1), Done(n=2), Marker(label="m"))

    code, output = _invoke("show", str(folder), "--kind", "test", "--json")

    assert code == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 3
    assert all('"kind": "test.' in line for line in lines)


def test_an_exact_kind_and_a_prefix_with_its_dot_still_work(tmp_path: Path) -> None:
    folder = _run(tmp_path, "run-a", 100.0, Work(n=1), Done(n=2))

    exact = _invoke("show", str(folder), "--kind", "test.work", "--json")
    prefix = _invoke("show", str(folder), "--kind", "test.", "--json")
    partial = _invoke("show", str(folder), "--kind", "tes", "--json")

    assert len(exact[1].strip().splitlines()) == 1
    assert '"kind": "test.work"' in exact[1]
    assert len(prefix[1].strip().splitlines()) == 2
    assert partial[1].strip() == ""  # a prefix is a whole area, not any start of a kind


def test_the_help_of_the_log_commands_names_latest_and_the_kind_prefix() -> None:
    code, output = _invoke("show", "--help")

    assert code == 0
    assert "latest" in output
    assert "--kind ping" in output
