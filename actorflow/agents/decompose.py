"""Splitting a multi-agent task into subtasks: :class:`Subtask`, the
:class:`ITaskDecomposer` interface and the deterministic :class:`RoleDecomposer`.

The role decomposer reads only the agents' roles and capabilities (never the task's
words), so the same agents always give the same subtasks:

========== ============================================================================
phase      subtasks
========== ============================================================================
plan       one ``plan`` subtask if a coordinator takes part
research   one subtask per distinct specialist capability (in the agents' order),
           in parallel, after ``plan``
produce    one ``produce`` subtask for the executors (their capabilities together),
           after every research subtask
review     if a validator takes part: ``review_1`` of the latest draft; while a review
           rejects, ``revise_n`` (by the draft's author) and ``review_n+1``, up to
           ``max_revisions`` times
========== ============================================================================

Monitors get no subtask. A model-backed decomposer plugs in through
:class:`ITaskDecomposer`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow.agents.models import AgentInfo, AgentRole
from actorflow.errors import ConfigurationError

__all__ = ["ITaskDecomposer", "RoleDecomposer", "Subtask", "SubtaskKind", "check_subtasks"]

SubtaskKind = Literal["plan", "research", "produce", "review", "revise"]

ROLE_OF_KIND: Mapping[str, AgentRole] = {
    "plan": AgentRole.COORDINATOR,
    "research": AgentRole.SPECIALIST,
    "produce": AgentRole.EXECUTOR,
    "review": AgentRole.VALIDATOR,
    "revise": AgentRole.EXECUTOR,
}
"""Which role does which kind of subtask."""


class Subtask(BaseModel):
    """One piece of a multi-agent task, run as one ``agent`` step of the flow."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    id: str
    """The flow step's id (a plain identifier, so conditions can name it)."""
    kind: SubtaskKind
    description: str
    capabilities: tuple[str, ...] = ()
    """What the agent doing it should be able to do (matched when assigning)."""
    depends_on: tuple[str, ...] = ()
    inputs: Mapping[str, str] = Field(default_factory=dict)
    """Argument name -> id of the subtask whose result it gets."""
    round: int = 0
    """For ``review``/``revise``: the review round (1 first)."""
    author_of: str = ""
    """For ``revise``: the subtask whose author must revise (same agent)."""
    only_if_rejected: str = ""
    """For ``revise``: the review whose rejection this revision answers."""

    @property
    def role(self) -> AgentRole:
        """The role that does this kind of subtask."""
        return ROLE_OF_KIND[self.kind]


@runtime_checkable
class ITaskDecomposer(Protocol):
    """Splits a task into subtasks for the given agents (deterministic for the same input).

    ``decompose`` may be ``async`` (a model's): the orchestrator actor then runs it as its
    effect. Whatever it returns is checked with :func:`check_subtasks`.
    """

    def decompose(
        self, task: str, context: Mapping[str, JsonValue], agents: Sequence[AgentInfo]
    ) -> list[Subtask] | Awaitable[list[Subtask]]:
        """Return the subtasks, dependencies before dependents (or, for an ``async def
        decompose``, an awaitable of them)."""
        ...


class RoleDecomposer:
    """The default decomposer, by role and capability (see the module docstring).

    Args:
        max_revisions: how many times a rejected draft goes back to its author.
    """

    def __init__(self, max_revisions: int = 2) -> None:
        untrusted: object = max_revisions  # callers without type checks may pass anything
        if type(untrusted) is not int or not 0 <= max_revisions <= 10:
            raise ConfigurationError(
                f"max_revisions must be an int from 0 to 10, got {max_revisions!r}."
            )
        self.max_revisions = max_revisions

    def decompose(
        self, task: str, context: Mapping[str, JsonValue], agents: Sequence[AgentInfo]
    ) -> list[Subtask]:
        """Return the subtasks for ``agents`` (see the module docstring).

        Raises:
            ConfigurationError: no agent can take work (none is a coordinator,
                specialist or executor).
        """
        roles = {a.role for a in agents}
        subtasks: list[Subtask] = []
        before: tuple[str, ...] = ()
        if AgentRole.COORDINATOR in roles:
            caps = _capabilities(agents, AgentRole.COORDINATOR)
            subtasks.append(Subtask(id="plan", kind="plan", description=f"Plan: {task}",
                                    capabilities=caps))  # fmt: skip
            before = ("plan",)
        research = self._research(task, agents, before)
        subtasks += research
        deliverable = ""
        if AgentRole.EXECUTOR in roles:
            after = tuple(s.id for s in research) or before
            subtasks.append(
                Subtask(
                    id="produce",
                    kind="produce",
                    description=f"Produce: {task}",
                    capabilities=_capabilities(agents, AgentRole.EXECUTOR),
                    depends_on=after,
                    inputs={sid: sid for sid in after},
                )
            )
            deliverable = "produce"
        if not subtasks:
            raise ConfigurationError(
                "No agent of this task can take work: give at least one coordinator, "
                f"specialist or executor (roles given: {sorted(r.value for r in roles)})."
            )
        if AgentRole.VALIDATOR in roles and deliverable:
            subtasks += self._reviews(task, agents, deliverable)
        return subtasks

    def _research(
        self, task: str, agents: Sequence[AgentInfo], before: tuple[str, ...]
    ) -> list[Subtask]:
        subtasks: list[Subtask] = []
        seen: set[str] = set()
        for cap in _capabilities(agents, AgentRole.SPECIALIST):
            sid = _unique(f"research_{_identifier(cap)}"[:_MAX_BASE], seen)
            subtasks.append(
                Subtask(
                    id=sid,
                    kind="research",
                    description=f"{cap.replace('_', ' ').capitalize()} for: {task}",
                    capabilities=(cap,),
                    depends_on=before,
                    inputs={sid2: sid2 for sid2 in before},
                )
            )
        if not subtasks and any(a.role is AgentRole.SPECIALIST for a in agents):
            # Specialists that declare no capability still research, together.
            subtasks.append(Subtask(id="research", kind="research",
                                    description=f"Research for: {task}", depends_on=before,
                                    inputs={s: s for s in before}))  # fmt: skip
        return subtasks

    def _reviews(self, task: str, agents: Sequence[AgentInfo], draft: str) -> list[Subtask]:
        caps = _capabilities(agents, AgentRole.VALIDATOR)
        subtasks: list[Subtask] = []
        for n in range(1, self.max_revisions + 2):
            review = f"review_{n}"
            subtasks.append(
                Subtask(
                    id=review,
                    kind="review",
                    description=f"Review (round {n}): {task}",
                    capabilities=caps,
                    depends_on=(draft,),
                    inputs={"work": draft},
                    round=n,
                )
            )
            if n > self.max_revisions:
                break
            revise = f"revise_{n}"
            subtasks.append(
                Subtask(
                    id=revise,
                    kind="revise",
                    description=f"Revise (round {n}): {task}",
                    capabilities=_capabilities(agents, AgentRole.EXECUTOR),
                    depends_on=(review,),
                    inputs={"draft": draft, "review": review},
                    round=n,
                    author_of="produce",
                    only_if_rejected=review,
                )
            )
            draft = revise
        return subtasks


_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MAX_BASE = 56
"""The longest id :func:`_unique` is given, so its ``_<n>`` suffix keeps it within 64."""


def check_subtasks(subtasks: Sequence[Subtask]) -> list[Subtask]:
    """Return ``subtasks`` if they can run as a flow, else raise.

    Raises:
        ConfigurationError: no subtask, an id that is not a plain identifier (conditions
            name steps by id) or is used twice, or a dependency, input, author or review
            that is not an earlier subtask (so there is no cycle either).
    """
    if not subtasks:
        raise ConfigurationError("The decomposer returned no subtask.")
    seen: set[str] = set()
    for subtask in subtasks:
        sid = subtask.id
        if not _IDENTIFIER.match(sid) or sid.startswith("gate_") or sid in seen:
            raise ConfigurationError(
                f"Subtask id {sid!r} must be a unique identifier (a letter, then letters, "
                "digits or '_', at most 64; not starting with 'gate_')."
            )
        refs = [*subtask.depends_on, *subtask.inputs.values()]
        refs += [r for r in (subtask.author_of, subtask.only_if_rejected) if r]
        unknown = [r for r in refs if r not in seen]
        if unknown:
            raise ConfigurationError(
                f"Subtask {sid!r} refers to {unknown}, which are not earlier subtasks; "
                "list subtasks dependencies first."
            )
        seen.add(sid)
    return list(subtasks)


def _capabilities(agents: Sequence[AgentInfo], role: AgentRole) -> tuple[str, ...]:
    """The distinct capabilities of the agents with ``role``, in the agents' order."""
    caps: dict[str, None] = {}
    for agent in agents:
        if agent.role is role:
            caps.update(dict.fromkeys(agent.capabilities))
    return tuple(caps)


def _identifier(text: str) -> str:
    ident = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return ident or "work"


def _unique(base: str, seen: set[str]) -> str:
    name, n = base, 2
    while name in seen:
        name, n = f"{base}_{n}", n + 1
    seen.add(name)
    return name
