"""Supervision strategies: how a parent answers its children's failures.

As in Erlang/OTP and Akka: a strategy has a kind (which siblings a restart
touches), a decider (which directive an error gets) and a restart intensity (at
most ``max_restarts`` restarts within ``within`` seconds; past it, the next failure
escalates, or with ``on_limit="stop"`` the child is stopped for good). A ``Backoff``
spaces restarts out. Each child has a restart type saying whether it is restarted at
all. ``GUARDIAN_STRATEGY`` is what ``/agents``, ``/flows`` and ``/system`` use unless
the system is given another: see ``docs/runtime.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, final

from actorflow.errors import ConfigurationError
from actorflow.messages.system import ChildFailed, Directive

__all__ = [
    "GUARDIAN_STRATEGY",
    "Backoff",
    "Decider",
    "RestartIntensity",
    "RestartType",
    "SupervisorStrategy",
    "always",
    "decide_by_type",
]

Decider = Callable[[ChildFailed], Directive]
"""Maps a child's failure report to a directive."""


class RestartType(StrEnum):
    """Whether a child is restarted (OTP's restart types)."""

    PERMANENT = "permanent"
    """Restarted after a failure, and respawned if it stops by itself."""
    TRANSIENT = "transient"
    """Restarted after a failure; stopping by itself is final."""
    TEMPORARY = "temporary"
    """Never restarted: a restart directive stops it instead."""


def always(directive: Directive) -> Decider:
    """Return a decider that answers every failure with ``directive``."""

    def decide(_failure: ChildFailed) -> Directive:
        return directive

    return decide


def decide_by_type(
    table: Mapping[type[BaseException], Directive], default: Directive = Directive.RESTART
) -> Decider:
    """Return a decider that picks the directive of the most specific matching error class.

    The failure report carries the qualified names of the error's classes along
    its MRO, so the match works on base classes too (``{OSError: RESUME}`` also
    resumes after ``ConnectionError``).
    """
    names = {f"{cls.__module__}.{cls.__qualname__}": d for cls, d in table.items()}

    def decide(failure: ChildFailed) -> Directive:
        for name in (failure.error.error_type, *failure.error.error_types):
            if name in names:
                return names[name]
        return default

    return decide


@final
@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential delays between the restarts of a child that keeps failing.

    The first restart in the intensity window is immediate; the next ones wait
    ``initial``, ``initial * factor``, ``initial * factor**2`` ... seconds, at most
    ``maximum``. While it waits the child stays suspended: its mailbox keeps what it is
    sent, so a rate-limited agent is not fed messages it would fail on.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum) or self.factor < 1:
            raise ConfigurationError(
                f"Backoff needs 0 < initial <= maximum and factor >= 1; got "
                f"initial={self.initial!r}, factor={self.factor!r}, maximum={self.maximum!r}."
            )

    def delay(self, previous: int) -> float:
        """Seconds to wait before a restart that follows ``previous`` recent restarts."""
        if previous <= 0:
            return 0.0
        exponent = min(previous - 1, 64)  # past this the cap applies anyway
        return float(min(self.maximum, self.initial * self.factor**exponent))


@final
@dataclass(frozen=True, slots=True)
class SupervisorStrategy:
    """How an actor supervises its children.

    Attributes:
        kind: ``one_for_one`` restarts the failed child; ``one_for_all`` restarts all
            children; ``rest_for_one`` restarts the failed child and those started after it.
        max_restarts: restarts allowed within ``within`` seconds. ``one_for_one`` counts
            them per child (as Akka does); the other kinds per supervisor (as OTP does).
        within: the intensity window, in seconds.
        decider: picks the directive for each failure (default: restart).
        stop_timeout: seconds to wait for each child to stop before giving up on it
            (never past the supervisor's own stop deadline: see ``docs/runtime.md``).
        backoff: delays between restarts (default: none, every restart is immediate).
        on_limit: what a failure past the restart intensity does: ``escalate`` (fail
            this supervisor, and let its parent decide) or ``stop`` (stop the child for
            good, reported as an ``ActorStopped`` whose reason starts with
            ``"supervisor gave up"``, and carry on).
    """

    kind: Literal["one_for_one", "one_for_all", "rest_for_one"] = "one_for_one"
    max_restarts: int = 3
    within: float = 5.0
    decider: Decider = field(default=always(Directive.RESTART))
    stop_timeout: float = 5.0
    backoff: Backoff | None = None
    on_limit: Literal["escalate", "stop"] = "escalate"

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.within <= 0 or self.stop_timeout <= 0:
            raise ConfigurationError(
                f"SupervisorStrategy needs max_restarts >= 0 and positive within and "
                f"stop_timeout; got max_restarts={self.max_restarts!r}, "
                f"within={self.within!r}, stop_timeout={self.stop_timeout!r}."
            )
        if self.on_limit not in ("escalate", "stop"):
            raise ConfigurationError(
                f"SupervisorStrategy on_limit must be 'escalate' or 'stop', got {self.on_limit!r}."
            )
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise ConfigurationError(
                f"SupervisorStrategy backoff must be a Backoff or None, got {self.backoff!r}."
            )


GUARDIAN_STRATEGY = SupervisorStrategy(
    max_restarts=5, within=60.0, backoff=Backoff(), on_limit="stop"
)
"""How ``/agents``, ``/flows`` and ``/system`` supervise their children by default: an
agent that keeps failing (a rate limit, a dead service) is restarted after 0, 0.5, 1, 2
and 4 s, and on its 6th failure within a minute it is stopped for good and reported,
while the rest of the system carries on. Nothing escalates to the root by default."""


@final
class RestartIntensity:
    """Sliding window of restart times; owned by one supervisor's thread."""

    def __init__(self, max_restarts: int, within: float) -> None:
        self._max = max_restarts
        self._within = within
        self._times: list[float] = []

    def allow(self, now: float) -> bool:
        """Record a restart at ``now`` and say whether it is within the limit."""
        while self._times and now - self._times[0] >= self._within:
            self._times.pop(0)
        if len(self._times) >= self._max:
            return False
        self._times.append(now)
        return True

    @property
    def recent(self) -> int:
        """Restarts recorded in the window as of the last :meth:`allow`."""
        return len(self._times)
