from __future__ import annotations

import inspect
import subprocess
import sys

import actorflow
import actorflow.journal
import actorflow.messages
import actorflow.runtime


def test_top_level_all_is_pinned_and_sorted() -> None:
    assert actorflow.__all__ == sorted(actorflow.__all__)
    assert set(actorflow.__all__) == {
        "AGENTS_PATH", "FLOWS_PATH", "SYSTEM_PATH", "ActorNameTakenError", "ActorPath",
        "ActorStatistics", "ActorSystem", "ActorflowError", "AnyMessage", "AskError",
        "AskTimeoutError", "Behaviour", "BlockingCallError", "Clock", "ClockError", "CodecError",
        "ConfigurationError", "Context", "CorrelationId", "DeadLetter", "DeadLetterReason",
        "DeliveryFailed", "DeliveryFailedError", "Directive", "DuplicateKindError", "Envelope",
        "EscalationError", "FakeClock", "InvalidMessageError", "JournalConfig",
        "JournalCorruptedError", "JournalError", "JournalTornError", "Durability", "MailboxConfig",
        "MailboxFullError", "Message", "MessageError", "MessageId", "OverflowPolicy", "Recipe",
        "RequestTimedOut", "RestartType", "RoutingError", "RunId", "ShutdownTimeoutError",
        "SupervisionError", "SupervisorStrategy", "SystemClock", "SystemStatistics",
        "SystemStoppedError", "UnknownActorError", "UnknownKindError", "__version__",
        "actor_path", "always", "decide_by_type", "open_journal", "recipe",
    }  # fmt: skip


def test_every_exported_name_exists_and_has_a_docstring() -> None:
    for module in (actorflow, actorflow.messages, actorflow.runtime):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"


def test_subpackage_all_lists_are_sorted() -> None:
    for module in (actorflow.messages, actorflow.runtime):
        assert module.__all__ == sorted(module.__all__)


def test_every_error_is_an_actorflow_error() -> None:
    from actorflow import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ActorflowError)


def test_the_library_is_silent_by_default() -> None:
    code = (
        "import actorflow\n"
        "from tests.support import Work\n"
        "with actorflow.ActorSystem() as s:\n"
        "    s.tell('/agents/nobody', Work())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout == ""
    assert done.stderr == ""
