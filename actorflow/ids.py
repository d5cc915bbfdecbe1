"""Typed identifiers: actor paths, run, message and correlation ids, and id factories.

Ids are plain strings at run time (cheap to hash, msgpack-friendly) and distinct
types for mypy. Generated ids come from an :class:`IdFactory`, so tests and
replays can use sequential ids instead of random ones.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import NewType, Protocol, final

from actorflow.errors import ConfigurationError

__all__ = [
    "ActorPath",
    "CorrelationId",
    "IdFactory",
    "MessageId",
    "ROOT_PATH",
    "RandomIds",
    "RunId",
    "SequentialIds",
    "TimerId",
    "actor_path",
    "child_path",
    "parent_path",
]

ActorPath = NewType("ActorPath", str)
"""Absolute, slash-separated address of an actor, such as ``/agents/researcher``."""
RunId = NewType("RunId", str)
"""Identity of one run of an actor system."""
MessageId = NewType("MessageId", str)
"""Identity of one delivery (one envelope)."""
CorrelationId = NewType("CorrelationId", str)
"""Joins a request to its reply."""
TimerId = NewType("TimerId", str)
"""Identity of a scheduled timer, used to cancel it."""

ROOT_PATH = ActorPath("/")

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@+=-]{0,127}$")


def actor_path(text: str) -> ActorPath:
    """Validate ``text`` as an absolute actor path and return it typed.

    Raises:
        ConfigurationError: the text is not ``/`` or ``/segment[/segment...]`` with
            segments of letters, digits and ``_.:@+=-``.
    """
    if text == "/":
        return ROOT_PATH
    if not text.startswith("/") or text.endswith("/"):
        raise ConfigurationError(
            f"Actor path {text!r} is not absolute. Write it as '/parent/child', "
            "starting with '/' and without a trailing '/'."
        )
    for segment in text[1:].split("/"):
        if not _SEGMENT.match(segment):
            raise ConfigurationError(
                f"Actor path {text!r} has an invalid segment {segment!r}. Use 1-128 "
                "letters, digits or '_.:@+=-', not starting with a punctuation mark."
            )
    return ActorPath(text)


def child_path(parent: ActorPath, name: str) -> ActorPath:
    """Return the path of child ``name`` under ``parent``, validated.

    Raises:
        ConfigurationError: ``name`` is not one valid path segment.
    """
    if not _SEGMENT.match(name):
        raise ConfigurationError(
            f"Actor name {name!r} is not a valid path segment. Use 1-128 letters, digits or "
            "'_.:@+=-' (no '/'), not starting with a punctuation mark."
        )
    return actor_path(f"/{name}" if parent == ROOT_PATH else f"{parent}/{name}")


def parent_path(path: ActorPath) -> ActorPath:
    """Return the parent of ``path`` (the root is its own parent)."""
    head, _, _ = path.rpartition("/")
    return ActorPath(head or "/")


class IdFactory(Protocol):
    """Makes unique string ids; implementations must be thread-safe."""

    def new_id(self, prefix: str) -> str:
        """Return a new id that starts with ``prefix``."""
        ...


@final
class SequentialIds:
    """Deterministic ids ``<prefix>-<n>`` from one counter (thread-safe under the GIL)."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)

    def new_id(self, prefix: str) -> str:
        """Return ``<prefix>-<n>`` with the next number."""
        return f"{prefix}-{next(self._counter)}"


@final
class RandomIds:
    """Globally unique ids ``<prefix>-<uuid4 hex>``."""

    def new_id(self, prefix: str) -> str:
        """Return ``<prefix>-<random hex>``."""
        return f"{prefix}-{uuid.uuid4().hex}"
