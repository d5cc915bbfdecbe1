"""Issue 10, item 11: a failed start leaves a stopped system that holds nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from actorflow import (
    ActorSystem,
    Behaviour,
    ConfigurationError,
    JournalCorruptedError,
    SystemStoppedError,
)
from actorflow.journal import JournalConfig
from tests.support import Work


def actorflow_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("actorflow")]


def test_a_journal_that_cannot_be_opened_fails_start_and_leaves_a_stopped_system(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    system = ActorSystem(journal=JournalConfig(path=blocker / "journal"))

    with pytest.raises(ConfigurationError, match=r"^Cannot open journal"):
        system.start()

    assert not system.is_running
    assert actorflow_threads() == []
    system.shutdown(timeout=0.5)  # returns at once, raises nothing
    with pytest.raises(SystemStoppedError, match=r"it has stopped because it failed to start: "):
        system.tell("/agents", Work())
    assert system.pending_error is None  # start() raised it already


def test_a_corrupted_journal_fails_start_and_is_left_as_it_was(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.write_bytes(b"this is not a journal" * 10)
    system = ActorSystem(journal=JournalConfig(path=journal))

    with pytest.raises(JournalCorruptedError):
        system.start()

    assert not system.is_running
    assert journal.read_bytes() == b"this is not a journal" * 10
    assert actorflow_threads() == []
    system.shutdown(timeout=0.5)


def test_a_start_failing_after_the_root_started_stops_every_thread_and_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoArguments(Behaviour):
        """Stands in for the dead-letter publisher, whose recipe then does not fit."""

    monkeypatch.setattr("actorflow.runtime.system.DeadLetterPublisher", NoArguments)
    system = ActorSystem(journal=JournalConfig(path=tmp_path / "journal"))

    with pytest.raises(ConfigurationError, match=r"^Cannot spawn '/system/deadletters'"):
        system.start()

    assert not system.is_running
    assert actorflow_threads() == []
    assert system.paths() == ()
    assert system.journal is not None
    assert system.journal.flush(timeout=0.1)  # closed: returns at once


def test_a_failed_start_in_a_with_statement_raises_and_holds_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with (
        pytest.raises(ConfigurationError),
        ActorSystem(journal=JournalConfig(path=blocker / "journal")),
    ):
        pass

    assert actorflow_threads() == []
