"""Rules checked when a Message subclass is defined: every sendable class has a kind tag."""

from __future__ import annotations

from typing import Literal

import pytest

from actorflow import ConfigurationError, InvalidMessageError, Message
from actorflow.messages import LifecycleEvent, SystemMessage, registered_kinds


def test_a_message_class_without_a_kind_is_refused_at_definition() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^Message class '.*Untagged' has no 'kind' tag, so its records could not be "
        r"read back from a journal\. Declare one: "
        r"kind: Literal\[\"area\.event\"\] = \"area\.event\"",
    ):

        class Untagged(Message):
            text: str


def test_a_kind_without_a_default_tag_is_refused_at_definition() -> None:
    with pytest.raises(ConfigurationError, match=r"'.*NoDefault' has no 'kind' tag"):

        class NoDefault(Message):
            kind: Literal["test.no_default"]


def test_a_subclass_of_an_abstract_base_needs_its_own_kind() -> None:
    with pytest.raises(ConfigurationError, match=r"'.*Spawnedish' has no 'kind' tag"):

        class Spawnedish(LifecycleEvent):
            behaviour: str


def test_the_error_suggests_marking_a_shared_base_abstract() -> None:
    with pytest.raises(ConfigurationError, match=r"class Shared\(Message, abstract=True\)"):

        class Shared(Message):
            pass


def test_an_abstract_base_is_defined_without_a_kind_and_is_not_registered() -> None:
    class AuditEvent(Message, abstract=True):
        actor: str

    class AuditRecorded(AuditEvent):
        kind: Literal["test.audit_recorded"] = "test.audit_recorded"

    assert AuditEvent.kind_tag is None
    assert AuditEvent not in registered_kinds().values()
    assert registered_kinds()["test.audit_recorded"] is AuditRecorded
    assert AuditRecorded(actor="a").actor == "a"


def test_an_abstract_base_cannot_declare_a_kind() -> None:
    with pytest.raises(ConfigurationError, match=r"^Message class '.*Both' is declared abstract"):

        class Both(Message, abstract=True):
            kind: Literal["test.both"] = "test.both"


@pytest.mark.parametrize("base", [Message, SystemMessage, LifecycleEvent])
def test_an_abstract_base_cannot_be_instantiated(base: type[Message]) -> None:
    name = base.__qualname__

    with pytest.raises(InvalidMessageError, match=rf"^{name} is an abstract message class"):
        base.model_validate({"path": "/agents/a"})


def test_an_abstract_base_constructor_names_the_class_and_the_fix() -> None:
    with pytest.raises(
        InvalidMessageError,
        match=r"^SystemMessage is an abstract message class \(it has no 'kind' tag\) and "
        r"cannot be sent\. Build one of its subclasses",
    ):
        SystemMessage()


def test_every_actorflow_message_class_is_registered_or_abstract() -> None:
    import actorflow.flow  # noqa: F401 - registers the flow messages

    def subclasses(cls: type[Message]) -> list[type[Message]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    ours = [c for c in subclasses(Message) if c.__module__.startswith("actorflow.")]

    assert {Message, SystemMessage, LifecycleEvent} <= set(ours)
    for cls in ours:
        if cls.kind_tag is not None:
            assert registered_kinds()[cls.kind_tag] is cls
        else:
            with pytest.raises(InvalidMessageError, match=r"is an abstract message class"):
                cls.model_validate({})
