"""Named crash points in the SQLite commit path, for crash tests.

``ACTORFLOW_CRASH_AT=store.before_commit`` makes a store opened in that process end it
with ``os._exit(CRASH_EXIT_CODE)`` the first time its commit path reaches that point;
``store.before_commit@3`` the third time. Nothing is flushed or closed on the way out,
as after ``kill -9``. The variable is read when a store is opened.
"""

from __future__ import annotations

import os
from typing import final

from loguru import logger

from actorflow.errors import ConfigurationError

__all__ = ["CRASH_ENV", "CRASH_EXIT_CODE", "CRASH_POINTS", "CrashPoints"]

CRASH_ENV = "ACTORFLOW_CRASH_AT"
CRASH_EXIT_CODE = 86
CRASH_POINTS = (
    "store.after_begin",
    "store.mid_batch",
    "store.before_commit",
    "store.after_commit",
)
"""In commit order: after ``BEGIN IMMEDIATE``; after the first transaction of a group
commit is applied (inside the SQLite transaction); right before ``COMMIT``; right after
``COMMIT`` returned, before the caller hears of it."""


@final
class CrashPoints:
    """The crash point a store was asked to die at (from the environment), if any."""

    def __init__(self, spec: str | None) -> None:
        self.name: str | None = None
        self.at = 1
        self.count = 0
        if spec:
            self._parse(spec)

    @classmethod
    def from_environment(cls) -> CrashPoints:
        """Read ``ACTORFLOW_CRASH_AT``.

        Raises:
            ConfigurationError: it names an unknown point or a bad count.
        """
        return cls(os.environ.get(CRASH_ENV))

    def _parse(self, spec: str) -> None:
        name, _, count = spec.strip().partition("@")
        number = count.isascii() and count.isdigit() and len(count) <= 9
        if name not in CRASH_POINTS or (count and (not number or int(count) < 1)):
            raise ConfigurationError(
                f"{CRASH_ENV}={spec!r} is not a crash point. Use one of "
                f"{', '.join(CRASH_POINTS)}, optionally with '@N' to crash the N-th time "
                "(N >= 1)."
            )
        self.name = name
        self.at = int(count) if count else 1

    def reached(self, name: str) -> None:
        """Die here if ``name`` is the chosen point and its count is reached."""
        if name != self.name:
            return
        self.count += 1
        if self.count == self.at:
            logger.warning("Crash point {point} reached: exiting", point=name)
            os._exit(CRASH_EXIT_CODE)
