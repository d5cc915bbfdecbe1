"""How conflicts are decided: the :class:`ConflictStrategy` protocol, the built-in
strategies, and the registry the resolver picks them from.

A strategy is pure and deterministic: :meth:`ConflictStrategy.resolve` reads the
conflict, the involved agents (:class:`AgentInfo`) and tasks (plain data) and returns a
:class:`ConflictResolution`; the same input gives the same resolution (it reads no clock,
id or random source; its ``resolved_at`` is the conflict's ``created_at``).

Built-ins (by name):

- ``priority``: the highest priority wins. An agent's priority is, in this order, the
  conflict's ``metadata["priorities"][agent]``, the highest ``priority`` of its tasks,
  or its ``AgentInfo.metadata["priority"]``; a number, or one of ``lowest`` (0),
  ``low`` (1), ``normal``/``medium`` (2), ``high`` (3), ``urgent`` (4), ``critical``
  (5). No priority counts as 0. Ties go to the first come.
- ``first_come``: the first to arrive wins: by ``metadata["arrived_at"][agent]`` or its
  tasks' ``created_at`` (epoch seconds) where known, then by ``involved_agents`` order.
- ``role_precedence``: coordinator > validator > specialist > executor > monitor (an
  agent not described comes last); ties go to the first come.
- ``vote``: the agent most validators voted for wins. Votes are
  ``metadata["votes"] = {voter_id: candidate_id}``; only voters described with role
  ``validator`` count. Ties go to the first come.
- ``deadlock``: picks one victim to abort: the lowest priority, then the youngest (the
  last to arrive); the others wait.

A task is a dict: ``id`` (or ``task_id``), ``priority``, ``created_at``, and the agent it
belongs to as ``agent_id`` (or ``assigned_to``, ``agent``); without one, the task at
position *i* of ``involved_tasks`` belongs to the agent at position *i* of
``involved_agents``.

What the winner and the others are told to do depends on the conflict's type:
resource and priority conflicts ``grant`` / ``wait``, task conflicts ``grant`` /
``reassign``, result conflicts ``accept`` / ``reject``, communication conflicts
``grant`` / ``retry``, deadlocks ``abort`` (the victim) / ``wait``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, final, runtime_checkable

from pydantic import JsonValue

from actorflow.agents.conflicts import (
    ActionName,
    Conflict,
    ConflictResolution,
    ConflictType,
    ResolutionAction,
)
from actorflow.agents.models import AgentInfo, AgentRole
from actorflow.errors import ConfigurationError, ConflictError

__all__ = [
    "BUILT_IN_STRATEGIES",
    "DEFAULT_ROLE_ORDER",
    "PRIORITY_NAMES",
    "AgentFacts",
    "ConflictFacts",
    "ConflictStrategy",
    "DeadlockStrategy",
    "FirstComeStrategy",
    "PriorityStrategy",
    "RolePrecedenceStrategy",
    "StrategyRegistry",
    "UndecidableConflictError",
    "VoteStrategy",
    "decide",
    "parse_priority",
    "read_facts",
    "standard_actions",
]

TaskData = Mapping[str, JsonValue]

PRIORITY_NAMES: Mapping[str, int] = {
    "lowest": 0,
    "low": 1,
    "normal": 2,
    "medium": 2,
    "high": 3,
    "urgent": 4,
    "critical": 5,
}
"""Priority words and the numbers they stand for."""

DEFAULT_ROLE_ORDER: tuple[AgentRole, ...] = (
    AgentRole.COORDINATOR,
    AgentRole.VALIDATOR,
    AgentRole.SPECIALIST,
    AgentRole.EXECUTOR,
    AgentRole.MONITOR,
)
"""Role precedence, strongest first."""


class UndecidableConflictError(ConflictError):
    """A strategy lacks the facts it needs to decide (no validator voted, say); the
    resolver then tries the next strategy for the conflict's type."""


@runtime_checkable
class ConflictStrategy(Protocol):
    """A way to decide a conflict; pure and deterministic (see the module docstring)."""

    @property
    def name(self) -> str:
        """The name requests and resolutions use (``priority``)."""
        ...

    def applies_to(self, conflict: Conflict) -> bool:
        """Whether this strategy can decide ``conflict`` (its type, its metadata)."""
        ...

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
    ) -> ConflictResolution:
        """Decide ``conflict``.

        Raises:
            UndecidableConflictError: the facts needed are missing.
            ConflictError: the conflict, agents or tasks are malformed.
        """
        ...


# -- facts ------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class AgentFacts:
    """What is known of one involved agent."""

    agent_id: str
    position: int
    """Its index in ``involved_agents``."""
    info: AgentInfo | None
    tasks: tuple[str, ...]
    priority: float
    priority_source: str
    """Where the priority came from (empty: none given, it counts as 0)."""
    arrived_at: float | None

    @property
    def task_id(self) -> str:
        """Its first task's id, or ``""``."""
        return self.tasks[0] if self.tasks else ""


@final
@dataclass(frozen=True, slots=True)
class ConflictFacts:
    """A conflict with its involved agents' facts, checked (see :func:`read_facts`)."""

    conflict: Conflict
    agents: tuple[AgentFacts, ...]
    """In ``involved_agents`` order."""
    votes: tuple[tuple[str, str], ...]
    """``(voter, candidate)`` pairs from ``metadata["votes"]``, voters sorted."""

    def of(self, agent_id: str) -> AgentFacts:
        """The facts of an involved agent."""
        return next(a for a in self.agents if a.agent_id == agent_id)

    def first_come(self) -> tuple[AgentFacts, ...]:
        """The agents by arrival: known times first (earliest first), then
        ``involved_agents`` order."""
        return tuple(sorted(self.agents, key=_arrival_key))

    def rank(self) -> dict[str, int]:
        """Each agent's place in :meth:`first_come` (0 is first)."""
        return {a.agent_id: i for i, a in enumerate(self.first_come())}


def _arrival_key(agent: AgentFacts) -> tuple[int, float, int]:
    if agent.arrived_at is None:
        return (1, 0.0, agent.position)
    return (0, agent.arrived_at, agent.position)


def read_facts(
    conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
) -> ConflictFacts:
    """Check ``conflict`` and gather what strategies need to know of its agents.

    Raises:
        ConflictError: the conflict involves no agent or one twice, an agent is
            described twice, or a priority, arrival time, task or vote is malformed
            (the message names it).
    """
    cid = conflict.id
    involved = conflict.involved_agents
    if not involved:
        raise ConflictError(
            f"Conflict {cid!r} involves no agents. List the agents in involved_agents, in "
            "the order they entered the conflict."
        )
    twice = sorted({a for a in involved if involved.count(a) > 1})
    if twice or any(not a for a in involved):
        raise ConflictError(
            f"Conflict {cid!r} lists agents {list(involved)!r}: each must be a non-empty id, "
            f"given once (twice: {twice!r})."
        )
    infos = _infos(cid, agents)
    by_agent = _tasks_by_agent(conflict, tasks)
    meta = conflict.metadata
    priorities = _per_agent(conflict, "priorities")
    arrivals = _per_agent(conflict, "arrived_at")
    facts = []
    for position, agent_id in enumerate(involved):
        info = infos.get(agent_id)
        own = by_agent.get(agent_id, ())
        priority, source = _priority_of(cid, agent_id, priorities, own, info)
        arrived = _arrival_of(cid, agent_id, arrivals, own)
        ids = tuple(_task_id(t) or "" for t in own)
        facts.append(AgentFacts(agent_id, position, info, ids, priority, source, arrived))
    return ConflictFacts(conflict, tuple(facts), _votes(conflict, meta.get("votes")))


def _infos(cid: str, agents: Sequence[AgentInfo]) -> dict[str, AgentInfo]:
    infos: dict[str, AgentInfo] = {}
    for info in agents:
        if info.id in infos:
            raise ConflictError(
                f"Conflict {cid!r}: agent {info.id!r} is described twice. Pass each "
                "agent's AgentInfo once."
            )
        infos[info.id] = info
    return infos


def _task_id(task: TaskData) -> str | None:
    for key in ("id", "task_id"):
        value = task.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _task_agent(task: TaskData) -> str | None:
    for key in ("agent_id", "assigned_to", "agent"):
        value = task.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _tasks_by_agent(
    conflict: Conflict, tasks: Sequence[TaskData]
) -> dict[str, tuple[TaskData, ...]]:
    """The tasks of each involved agent (by its key, else by position in the conflict)."""
    involved = conflict.involved_agents
    slot = {t: involved[i] for i, t in enumerate(conflict.involved_tasks) if i < len(involved)}
    found: dict[str, list[TaskData]] = {}
    for task in tasks:
        tid = _task_id(task)
        owner = _task_agent(task) or (slot.get(tid) if tid is not None else None)
        if owner in involved:
            found.setdefault(owner, []).append(task)
    return {agent: tuple(own) for agent, own in found.items()}


def _per_agent(conflict: Conflict, key: str) -> Mapping[str, JsonValue]:
    value = conflict.metadata.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConflictError(
            f"Conflict {conflict.id!r} has metadata[{key!r}] = {value!r}; it must map agent "
            "ids to values."
        )
    strangers = sorted(set(value) - set(conflict.involved_agents))
    if strangers:
        raise ConflictError(
            f"Conflict {conflict.id!r} has metadata[{key!r}] for {strangers!r}, which are not "
            f"among its involved agents {list(conflict.involved_agents)!r}."
        )
    return value


def parse_priority(value: JsonValue, *, where: str) -> float:
    """Return a priority (a finite number, or a word of :data:`PRIORITY_NAMES`) as a number.

    Raises:
        ConflictError: it is neither (``where`` says whose priority it is).
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in PRIORITY_NAMES:
        return float(PRIORITY_NAMES[value.strip().lower()])
    words = ", ".join(PRIORITY_NAMES)
    raise ConflictError(
        f"{where} has priority {value!r}; a priority is a finite number or one of: {words}."
    )


def _priority_of(
    cid: str,
    agent_id: str,
    given: Mapping[str, JsonValue],
    tasks: Sequence[TaskData],
    info: AgentInfo | None,
) -> tuple[float, str]:
    if agent_id in given:
        where = f"Conflict {cid!r}: agent {agent_id!r}"
        return parse_priority(given[agent_id], where=where), "conflict metadata"
    best: tuple[float, str] | None = None
    for task in tasks:
        if task.get("priority") is not None:
            tid = _task_id(task) or "?"
            value = parse_priority(task["priority"], where=f"Conflict {cid!r}: task {tid!r}")
            if best is None or value > best[0]:
                best = (value, f"task {tid}")
    if best is not None:
        return best
    if info is not None and info.metadata.get("priority") is not None:
        where = f"Conflict {cid!r}: agent {agent_id!r} (its metadata)"
        return parse_priority(info.metadata["priority"], where=where), "agent metadata"
    return 0.0, ""


def _arrival_of(
    cid: str, agent_id: str, given: Mapping[str, JsonValue], tasks: Sequence[TaskData]
) -> float | None:
    times: list[tuple[str, JsonValue]] = []
    if agent_id in given:
        times.append((f"agent {agent_id!r}", given[agent_id]))
    else:
        times.extend(
            (f"task {_task_id(t) or '?'!r}", t["created_at"])
            for t in tasks
            if t.get("created_at") is not None
        )
    found: list[float] = []
    for where, value in times:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConflictError(
                f"Conflict {cid!r}: {where} has arrival time {value!r}; it must be a finite "
                "number of epoch seconds."
            )
        found.append(float(value))
    return min(found) if found else None


def _votes(conflict: Conflict, value: JsonValue) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    cid = conflict.id
    if not isinstance(value, Mapping):
        raise ConflictError(
            f"Conflict {cid!r} has metadata['votes'] = {value!r}; it must map each voter's id "
            "to the id of the agent it votes for."
        )
    votes = []
    for voter, candidate in sorted(value.items()):
        if not isinstance(candidate, str) or candidate not in conflict.involved_agents:
            raise ConflictError(
                f"Conflict {cid!r}: {voter!r} votes for {candidate!r}, which is not one of "
                f"its involved agents {list(conflict.involved_agents)!r}."
            )
        votes.append((voter, candidate))
    return tuple(votes)


# -- what to do ---------------------------------------------------------------------

_ACTIONS: Mapping[ConflictType, tuple[ActionName, ActionName]] = {
    ConflictType.RESOURCE_CONFLICT: ("grant", "wait"),
    ConflictType.PRIORITY_CONFLICT: ("grant", "wait"),
    ConflictType.TASK_CONFLICT: ("grant", "reassign"),
    ConflictType.RESULT_CONFLICT: ("accept", "reject"),
    ConflictType.COMMUNICATION_CONFLICT: ("grant", "retry"),
    ConflictType.DEADLOCK: ("wait", "abort"),
}


def standard_actions(facts: ConflictFacts, order: Sequence[str]) -> tuple[ResolutionAction, ...]:
    """The actions for ``order`` (best first): what the first (the winner) and the
    others do, by the conflict's type (see the module docstring). For a deadlock the
    *last* is the victim, aborted; the others wait."""
    conflict = facts.conflict
    kind = conflict.conflict_type
    first, rest = _ACTIONS.get(kind, ("grant", "wait"))
    resource = conflict.metadata.get("resource")
    about = f" {resource}" if isinstance(resource, str) and resource else ""
    actions = []
    for i, agent_id in enumerate(order):
        action: ActionName
        if kind is ConflictType.DEADLOCK:
            action = "abort" if i == len(order) - 1 else "wait"
            detail = "abort to break the deadlock" if action == "abort" else "wait on"
        elif i == 0:
            action, detail = first, f"{first}{about}".strip()
        else:
            action, detail = rest, f"{rest} (after {order[i - 1]}){about}"
        task_id = facts.of(agent_id).task_id
        actions.append(
            ResolutionAction(action=action, agent_id=agent_id, task_id=task_id, detail=detail)
        )
    return tuple(actions)


def _resolution(
    facts: ConflictFacts, strategy: str, order: Sequence[str], rationale: str
) -> ConflictResolution:
    conflict = facts.conflict
    deadlock = conflict.conflict_type is ConflictType.DEADLOCK
    return ConflictResolution(
        conflict_id=conflict.id,
        strategy=strategy,
        winner=None if deadlock else order[0],
        order=tuple(order),
        actions=standard_actions(facts, order),
        rationale=rationale,
        resolved_at=conflict.created_at,
    )


def _ties(facts: ConflictFacts, order: Sequence[str], score: Mapping[str, object]) -> str:
    """``; tie ... broken by first come`` when the winner shares its score."""
    tied = [a for a in order if score[a] == score[order[0]]]
    if len(tied) < 2:
        return ""
    return f"; {', '.join(tied)} tie, broken by first come"


def _num(value: float) -> str:
    return f"{value:g}"


# -- the built-ins --------------------------------------------------------------------


@final
class PriorityStrategy:
    """``priority``: the highest priority wins (ties: first come)."""

    name = "priority"

    def applies_to(self, conflict: Conflict) -> bool:
        """Any conflict but a deadlock."""
        return conflict.conflict_type is not ConflictType.DEADLOCK

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
    ) -> ConflictResolution:
        """Order the agents by priority, highest first."""
        facts = read_facts(conflict, agents, tasks)
        rank = facts.rank()
        ranked = sorted(facts.agents, key=lambda a: (-a.priority, rank[a.agent_id]))
        order = [a.agent_id for a in ranked]
        if not any(a.priority_source for a in facts.agents):
            why = "no priorities were given, so the first to come wins"
            return _resolution(facts, self.name, order, f"{order[0]} wins: {why}.")
        listed = ", ".join(
            f"{a.agent_id} {_num(a.priority)}"
            + (f" ({a.priority_source})" if a.priority_source else " (none given)")
            for a in ranked
        )
        score = {a.agent_id: a.priority for a in ranked}
        ties = _ties(facts, order, score)
        why = f"{order[0]} wins by priority: {listed}{ties}."
        return _resolution(facts, self.name, order, why)


@final
class FirstComeStrategy:
    """``first_come``: the first to arrive wins."""

    name = "first_come"

    def applies_to(self, conflict: Conflict) -> bool:
        """Any conflict but a deadlock."""
        return conflict.conflict_type is not ConflictType.DEADLOCK

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
    ) -> ConflictResolution:
        """Order the agents by arrival."""
        facts = read_facts(conflict, agents, tasks)
        order = [a.agent_id for a in facts.first_come()]
        known = [a for a in facts.first_come() if a.arrived_at is not None]
        how = (
            "arrival times, then the order they entered the conflict"
            if known
            else "the order they entered the conflict"
        )
        why = f"{order[0]} came first (by {how}): {', '.join(order)}."
        return _resolution(facts, self.name, order, why)


@final
class RolePrecedenceStrategy:
    """``role_precedence``: the strongest role wins (ties: first come).

    Args:
        order: roles, strongest first (default :data:`DEFAULT_ROLE_ORDER`); roles left
            out, and agents not described, come after.
    """

    name = "role_precedence"

    def __init__(self, order: Iterable[AgentRole | str] = DEFAULT_ROLE_ORDER) -> None:
        try:
            self.order = tuple(AgentRole(r) for r in order)
        except ValueError as exc:
            roles = ", ".join(r.value for r in AgentRole)
            raise ConfigurationError(
                f"Role precedence {order!r}: {exc}. Roles are: {roles}."
            ) from None

    def applies_to(self, conflict: Conflict) -> bool:
        """Any conflict but a deadlock."""
        return conflict.conflict_type is not ConflictType.DEADLOCK

    def _strength(self, agent: AgentFacts) -> int:
        if agent.info is None or agent.info.role not in self.order:
            return len(self.order)
        return self.order.index(agent.info.role)

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
    ) -> ConflictResolution:
        """Order the agents by role."""
        facts = read_facts(conflict, agents, tasks)
        rank = facts.rank()
        ranked = sorted(facts.agents, key=lambda a: (self._strength(a), rank[a.agent_id]))
        order = [a.agent_id for a in ranked]
        listed = ", ".join(
            f"{a.agent_id} ({a.info.role.value if a.info else 'not described'})" for a in ranked
        )
        score = {a.agent_id: self._strength(a) for a in ranked}
        why = f"{order[0]} wins by role precedence: {listed}{_ties(facts, order, score)}."
        return _resolution(facts, self.name, order, why)


@final
class VoteStrategy:
    """``vote``: the agent most validators voted for wins (ties: first come)."""

    name = "vote"

    def applies_to(self, conflict: Conflict) -> bool:
        """A conflict (not a deadlock) whose metadata has ``votes``."""
        return conflict.conflict_type is not ConflictType.DEADLOCK and "votes" in conflict.metadata

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
    ) -> ConflictResolution:
        """Count the validators' votes.

        Raises:
            UndecidableConflictError: no vote by a validator.
        """
        facts = read_facts(conflict, agents, tasks)
        roles = {a.id: a.role for a in agents}
        counted = [(v, c) for v, c in facts.votes if roles.get(v) is AgentRole.VALIDATOR]
        ignored = sorted(v for v, _ in facts.votes if roles.get(v) is not AgentRole.VALIDATOR)
        if not counted:
            raise UndecidableConflictError(
                f"Conflict {conflict.id!r} cannot be decided by vote: no validator voted "
                f"(votes by {ignored!r} do not count: pass those agents' AgentInfo with role "
                "'validator')."
            )
        tally = {a.agent_id: 0 for a in facts.agents}
        for _, candidate in counted:
            tally[candidate] += 1
        rank = facts.rank()
        order = sorted(tally, key=lambda a: (-tally[a], rank[a]))
        listed = ", ".join(f"{a} {tally[a]}" for a in order)
        note = f" (not validators, not counted: {', '.join(ignored)})" if ignored else ""
        why = f"{order[0]} wins the validators' vote: {listed}{_ties(facts, order, tally)}{note}."
        return _resolution(facts, self.name, order, why)


@final
class DeadlockStrategy:
    """``deadlock``: abort one victim (lowest priority, then youngest); the others wait."""

    name = "deadlock"

    def applies_to(self, conflict: Conflict) -> bool:
        """Deadlocks only."""
        return conflict.conflict_type is ConflictType.DEADLOCK

    def resolve(
        self, conflict: Conflict, agents: Sequence[AgentInfo], tasks: Sequence[TaskData]
    ) -> ConflictResolution:
        """Pick the victim; ``order`` ends with it (survivors by priority, first come)."""
        facts = read_facts(conflict, agents, tasks)
        rank = facts.rank()
        ranked = sorted(facts.agents, key=lambda a: (-a.priority, rank[a.agent_id]))
        order = [a.agent_id for a in ranked]
        victim = ranked[-1]
        youngest = [a for a in ranked if a.priority == victim.priority]
        how = (
            f"the lowest priority ({_num(victim.priority)})"
            if len(youngest) == 1
            else f"the youngest of {', '.join(a.agent_id for a in youngest)} "
            f"(all priority {_num(victim.priority)})"
        )
        why = (
            f"Deadlock among {', '.join(conflict.involved_agents)}: {victim.agent_id} is "
            f"aborted, having {how}; the others wait."
        )
        return _resolution(facts, self.name, order, why)


BUILT_IN_STRATEGIES: tuple[ConflictStrategy, ...] = (
    PriorityStrategy(),
    FirstComeStrategy(),
    RolePrecedenceStrategy(),
    VoteStrategy(),
    DeadlockStrategy(),
)
"""One of each built-in strategy."""

_DEFAULT_CHAINS: Mapping[ConflictType, tuple[str, ...]] = {
    ConflictType.RESOURCE_CONFLICT: ("priority",),
    ConflictType.PRIORITY_CONFLICT: ("priority",),
    ConflictType.TASK_CONFLICT: ("vote", "priority"),
    ConflictType.RESULT_CONFLICT: ("vote", "role_precedence"),
    ConflictType.COMMUNICATION_CONFLICT: ("role_precedence",),
    ConflictType.DEADLOCK: ("deadlock",),
}


# -- the registry -----------------------------------------------------------------------


@final
class StrategyRegistry:
    """The strategies a resolver knows, by name, and which it tries for each conflict
    type (thread-safe).

    For a conflict, the resolver tries, in order: strategies registered for its type (or
    for all types), newest first; then the built-in chain for its type (task conflicts:
    ``vote``, ``priority``; result conflicts: ``vote``, ``role_precedence``;
    communication conflicts: ``role_precedence``; resource and priority conflicts:
    ``priority``; deadlocks: ``deadlock``); then ``first_come``. The first that
    applies decides; one that raises :class:`UndecidableConflictError` passes to the
    next.
    """

    def __init__(self, strategies: Iterable[ConflictStrategy] = ()) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, ConflictStrategy] = {s.name: s for s in BUILT_IN_STRATEGIES}
        self._custom: list[tuple[ConflictStrategy, frozenset[ConflictType] | None]] = []
        for strategy in strategies:
            self.register(strategy)

    def register(
        self,
        strategy: ConflictStrategy,
        *,
        conflict_types: Iterable[ConflictType | str] | None = None,
        replace: bool = False,
    ) -> None:
        """Add ``strategy``: usable by name, and tried first for ``conflict_types``
        (None: for every type; ``()``: only when a request names it).

        Raises:
            ConfigurationError: it is not a strategy, its name is empty, a type is
                unknown, or another strategy has its name and ``replace`` is False.
        """
        name = _checked_name(strategy)
        types = None if conflict_types is None else _types(name, conflict_types)
        with self._lock:
            known = self._by_name.get(name)
            if known is not None and known is not strategy and not replace:
                raise ConfigurationError(
                    f"A conflict strategy named {name!r} is registered already. Choose "
                    "another name, or pass replace=True to use yours in its place."
                )
            self._by_name[name] = strategy
            self._custom = [(s, t) for s, t in self._custom if s.name != name]
            if types is None or types:
                self._custom.insert(0, (strategy, types))

    def get(self, name: str) -> ConflictStrategy | None:
        """The strategy named ``name``, or None."""
        with self._lock:
            return self._by_name.get(name)

    def names(self) -> tuple[str, ...]:
        """The names of all registered strategies, sorted."""
        with self._lock:
            return tuple(sorted(self._by_name))

    def chain(self, conflict_type: ConflictType) -> tuple[ConflictStrategy, ...]:
        """The strategies tried for a conflict of ``conflict_type``, in order."""
        with self._lock:
            custom = [s for s, t in self._custom if t is None or conflict_type in t]
            names = (*_DEFAULT_CHAINS.get(conflict_type, ()), "first_come")
            built_in = [self._by_name[n] for n in names if n in self._by_name]
        chain: list[ConflictStrategy] = []
        for strategy in (*custom, *built_in):
            if strategy not in chain:
                chain.append(strategy)
        return tuple(chain)


def _checked_name(strategy: object) -> str:
    if not isinstance(strategy, ConflictStrategy):
        raise ConfigurationError(
            f"{strategy!r} is not a conflict strategy: it needs a 'name', "
            "'applies_to(conflict)' and 'resolve(conflict, agents, tasks)'."
        )
    name: object = strategy.name  # a user's strategy may have anything there
    if not isinstance(name, str) or not name or name == "human":
        raise ConfigurationError(
            f"Conflict strategy {strategy!r} has name {name!r}; a name is a non-empty str "
            "other than 'human' (reserved for a human's decision)."
        )
    return name


def _types(name: str, given: Iterable[ConflictType | str]) -> frozenset[ConflictType]:
    try:
        return frozenset(ConflictType(t) for t in given)
    except ValueError as exc:
        types = ", ".join(t.value for t in ConflictType)
        raise ConfigurationError(
            f"Conflict strategy {name!r}: {exc}. Conflict types are: {types}."
        ) from None


def decide(
    registry: StrategyRegistry,
    conflict: Conflict,
    agents: Sequence[AgentInfo],
    tasks: Sequence[TaskData],
    *,
    strategy: str | None = None,
) -> ConflictResolution:
    """Resolve ``conflict`` with the strategy named ``strategy``, or the first of its
    type's chain that applies and decides (see :class:`StrategyRegistry`).

    Raises:
        UndecidableConflictError: the named strategy cannot decide, or no strategy of the
            chain could.
        ConflictError: the conflict is malformed; the named strategy is unknown or does
            not apply; or a strategy failed or returned something that is not a
            resolution of this conflict.
    """
    read_facts(conflict, agents, tasks)  # malformed input fails here, whoever decides
    if strategy is not None:
        chosen = registry.get(strategy)
        if chosen is None:
            raise ConflictError(
                f"Conflict {conflict.id!r} asks for strategy {strategy!r}, which is not "
                f"registered. Registered: {', '.join(registry.names())}."
            )
        if not chosen.applies_to(conflict):
            raise ConflictError(
                f"Strategy {strategy!r} does not apply to conflict {conflict.id!r} (a "
                f"{conflict.conflict_type.value}). Leave strategy unset to let the resolver "
                "choose."
            )
        return _run(chosen, conflict, agents, tasks)
    passed: list[str] = []
    for candidate in registry.chain(conflict.conflict_type):
        if not candidate.applies_to(conflict):
            continue
        try:
            resolution = _run(candidate, conflict, agents, tasks)
        except UndecidableConflictError as exc:
            passed.append(f"{candidate.name}: {exc}")
            continue
        if passed:
            note = " ".join(f"[{p}]" for p in passed)
            rationale = f"{resolution.rationale} (Tried first: {note})"
            resolution = resolution.model_copy(update={"rationale": rationale})
        return resolution
    raise UndecidableConflictError(
        f"No strategy can resolve conflict {conflict.id!r} (a {conflict.conflict_type.value})"
        + (f": {' '.join(passed)}" if passed else "")
        + ". Register one for this type with register_strategy()."
    )


def _run(
    strategy: ConflictStrategy,
    conflict: Conflict,
    agents: Sequence[AgentInfo],
    tasks: Sequence[TaskData],
) -> ConflictResolution:
    try:
        resolution: object = strategy.resolve(conflict, agents, tasks)
    except ConflictError:
        raise
    except Exception as exc:  # a user strategy's bug becomes the caller's error
        raise ConflictError(
            f"Strategy {strategy.name!r} failed on conflict {conflict.id!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return _checked(strategy, conflict, resolution)


def _checked(
    strategy: ConflictStrategy, conflict: Conflict, resolution: object
) -> ConflictResolution:
    name, cid = strategy.name, conflict.id
    if not isinstance(resolution, ConflictResolution):
        raise ConflictError(
            f"Strategy {name!r} returned {type(resolution).__name__} for conflict {cid!r}, not "
            "a ConflictResolution."
        )
    involved = set(conflict.involved_agents)
    named = {a.agent_id for a in resolution.actions if a.agent_id}
    named.update(resolution.order)
    if resolution.winner is not None:
        named.add(resolution.winner)
    problem = ""
    if resolution.conflict_id != cid:
        problem = f"it resolves conflict {resolution.conflict_id!r}"
    elif named - involved:
        problem = f"it names agents not involved: {sorted(named - involved)!r}"
    elif len(set(resolution.order)) != len(resolution.order):
        problem = f"its order {list(resolution.order)!r} names an agent twice"
    if problem:
        raise ConflictError(
            f"Strategy {name!r} gave a wrong resolution of conflict {cid!r}: {problem}."
        )
    return resolution
