"""The conflict resolver at ``/agents/resolver``, and the seed's :class:`ConflictResolver`
facade over it.

Tell the resolver :class:`~actorflow.agents.conflicts.ResolveConflict`; it answers
:class:`~actorflow.agents.conflicts.ConflictResolved`, or
:class:`~actorflow.agents.conflicts.ConflictRefused` when the conflict is malformed or no
strategy can decide it (see :mod:`actorflow.agents.strategies` for the strategies).

**Escalation.** A conflict of severity at or above ``escalation_severity`` (default 5:
only critical conflicts; None: never) is put to a human through the gateway at
``/system/human``: a selection whose options are the involved agents (the winner, or
for a deadlock the agent to abort), with the automatic strategy's choice named as a
suggestion. The resolver does not wait for the answer: it goes on with other conflicts,
and answers this one when the human's :class:`~actorflow.human.messages.HumanResponse`
arrives (``strategy="human"``). If the human does not answer within ``human_timeout``
seconds, the request fails, or no gateway runs, the automatic resolution is the answer
and its rationale says why the human did not decide. Requests for a conflict id that
waits for a human join it and get the same answer, if they describe the same conflict
(all but ``created_at`` equal); a different conflict under that id is refused
(:class:`~actorflow.errors.ConflictError`) when the waiting one is answered.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Any, Final, Literal, Self, final

from pydantic import JsonValue, ValidationError

from actorflow.agents._owned import SystemHandle
from actorflow.agents.conflicts import (
    Conflict,
    ConflictRefused,
    ConflictResolution,
    ConflictResolved,
    ConflictType,
    ResolveConflict,
)
from actorflow.agents.models import AgentInfo, agent_info
from actorflow.agents.paths import RESOLVER_PATH
from actorflow.agents.strategies import (
    ConflictStrategy,
    StrategyRegistry,
    UndecidableConflictError,
    decide,
    read_facts,
    standard_actions,
)
from actorflow.clock import to_seconds
from actorflow.errors import ConfigurationError, ConflictError
from actorflow.human.gateway import HUMAN_PATH
from actorflow.human.messages import HumanRequest, HumanResponse
from actorflow.human.models import HumanCallbackType, HumanOutcome
from actorflow.ids import CorrelationId
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeliveryFailed, RequestTimedOut
from actorflow.runtime.behaviour import Behaviour, recipe
from actorflow.runtime.cell import error_info
from actorflow.runtime.context import Context
from actorflow.runtime.system import AGENTS_PATH, ActorSystem

__all__ = [
    "ANSWER_TIMEOUT",
    "DEFAULT",
    "DEFAULT_ESCALATION_SEVERITY",
    "DEFAULT_HUMAN_TIMEOUT",
    "HUMAN_GRACE",
    "ConflictArbiter",
    "ConflictResolver",
    "ResolverSettings",
    "conflict_request",
    "ensure_conflict_resolver",
    "resolution_of",
    "resolver_settings",
]

DEFAULT_ESCALATION_SEVERITY: Final = 5
"""Conflicts this severe or more go to a human (5 is the highest: critical only)."""
DEFAULT_HUMAN_TIMEOUT: Final = 300.0
"""Seconds a human has to decide an escalated conflict."""
HUMAN_GRACE: Final = 30.0
"""Seconds after the human's deadline the resolver waits for the gateway's word."""
ANSWER_TIMEOUT: Final = 10.0
"""Seconds the facade waits for a conflict no human is asked about."""


class _Default(Enum):
    DEFAULT = "default"


DEFAULT: Final = _Default.DEFAULT
"""Leave a setting as the running resolver has it (or the default, when spawning)."""


@final
@dataclass(frozen=True, slots=True)
class ResolverSettings:
    """What a running resolver decides with: its strategies (register more there, any
    thread), when it asks a human, and how long the human has."""

    strategies: StrategyRegistry = field(default_factory=StrategyRegistry)
    escalation_severity: int | None = DEFAULT_ESCALATION_SEVERITY
    """Severity from which a human decides (None: never)."""
    human_timeout: float = DEFAULT_HUMAN_TIMEOUT

    def escalates(self, conflict: Conflict) -> bool:
        """Whether ``conflict`` is put to a human."""
        threshold = self.escalation_severity
        return threshold is not None and conflict.severity >= threshold

    def answer_timeout(self, conflict: Conflict) -> float:
        """Seconds a caller should wait for the answer to ``conflict``."""
        if self.escalates(conflict):
            return self.human_timeout + HUMAN_GRACE + ANSWER_TIMEOUT
        return ANSWER_TIMEOUT


@dataclass(slots=True)
class _Asking:
    """A conflict being resolved: the request, its automatic resolution (or why there is
    none), and whom to answer (several, when more asked while a human decides)."""

    request: ResolveConflict
    agents: tuple[AgentInfo, ...]
    automatic: ConflictResolution | None
    failure: ConflictError | None
    """Why no automatic resolution (when ``automatic`` is None)."""
    requesters: list[Envelope]
    others: list[tuple[Conflict, Envelope]] = field(default_factory=list)
    """Requests for different conflicts under the same id, refused with the answer."""


class ConflictArbiter(Behaviour):
    """Behaviour of ``/agents/resolver`` (see the module docstring).

    Args:
        settings: the strategies and the escalation settings (shared with whoever
            registers strategies; they outlive a restart).
    """

    def __init__(self, settings: ResolverSettings) -> None:
        self.settings = settings
        self.asking: dict[CorrelationId, _Asking] = {}
        """Conflicts put to a human, by the correlation id of the question."""
        self.by_conflict: dict[str, CorrelationId] = {}

    def on_resolve_conflict(self, msg: ResolveConflict, ctx: Context) -> None:
        """Resolve the conflict, or put it to a human and answer later."""
        env = ctx.envelope
        assert env is not None
        joined = self.by_conflict.get(msg.conflict.id)
        if joined is not None:  # the same conflict waits for a human: one answer for both
            waiting = self.asking[joined]
            if _same_conflict(waiting.request.conflict, msg.conflict):
                waiting.requesters.append(env)
            else:  # another conflict under its id: refused when that id is free again
                waiting.others.append((msg.conflict, env))
            return
        try:
            asking = _prepare(self.settings, msg, env)
        except ConflictError as exc:
            self._refuse(msg.conflict, exc, [env], ctx)
            return
        if not self.settings.escalates(msg.conflict):
            self._finish(asking, asking.automatic, asking.failure, ctx)
        elif ctx.system.cell_at(HUMAN_PATH) is None:
            self._fall_back(asking, f"no human gateway runs at {HUMAN_PATH}", ctx, asked=False)
        else:
            self._ask_human(asking, ctx)

    def on_human_response(self, msg: HumanResponse, ctx: Context) -> None:
        """A human decided (or did not, by the deadline): answer the conflict."""
        asking = self._take(ctx)
        if asking is None:
            return
        conflict = asking.request.conflict
        if msg.outcome is HumanOutcome.ANSWERED and msg.value in conflict.involved_agents:
            assert isinstance(msg.value, str)
            resolution = _human_resolution(asking, msg.value, msg.responder, self.settings)
            self._finish(asking, resolution, None, ctx)
            return
        why = (
            f"the answer {msg.value!r} names no involved agent"
            if msg.outcome is HumanOutcome.ANSWERED
            else f"the question ended {msg.outcome.value}: {msg.reason or 'no reason given'}"
        )
        self._fall_back(asking, why, ctx)

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        """The gateway said nothing in time: answer by the automatic strategy."""
        asking = self._take(ctx, msg.correlation_id)
        if asking is not None:
            why = f"the human gateway did not answer within {msg.timeout:g} s"
            self._fall_back(asking, why, ctx)

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        """The gateway could not take the question: answer by the automatic strategy."""
        asking = self._take(ctx)
        if asking is not None:
            why = f"the human gateway could not take the question ({msg.reason.value})"
            self._fall_back(asking, why, ctx)

    # -- steps ----------------------------------------------------------------------

    def _ask_human(self, asking: _Asking, ctx: Context) -> None:
        conflict = asking.request.conflict
        request = _question(asking, ctx.new_id(f"conflict-{conflict.id}"), self.settings)
        timeout = self.settings.human_timeout + HUMAN_GRACE
        correlation_id = ctx.request(HUMAN_PATH, request, timeout=timeout)
        self.asking[correlation_id] = asking
        self.by_conflict[conflict.id] = correlation_id
        ctx.log.info(
            "Conflict {conflict_id} (severity {severity}) put to a human as {request_id}",
            conflict_id=conflict.id,
            severity=conflict.severity,
            request_id=request.request_id,
        )

    def _take(self, ctx: Context, correlation_id: CorrelationId | None = None) -> _Asking | None:
        """The conflict a reply is about (None: not one waiting, a late word)."""
        env = ctx.envelope
        cid = correlation_id or (None if env is None else env.correlation_id)
        asking = None if cid is None else self.asking.pop(cid, None)
        if asking is None:
            ctx.log.debug("A reply about no waiting conflict was ignored")
            return None
        self.by_conflict.pop(asking.request.conflict.id, None)
        for other, requester in asking.others:
            error = ConflictError(
                f"Conflict {other.id!r} was sent while another conflict with that id (between "
                f"{', '.join(asking.request.conflict.involved_agents) or 'no agents'}) waited "
                "for a human, and it is not the same conflict (its agents, tasks, type or "
                "facts differ), so it was not decided. Give each conflict its own id."
            )
            self._refuse(other, error, [requester], ctx)
        return asking

    def _fall_back(self, asking: _Asking, why: str, ctx: Context, *, asked: bool = True) -> None:
        conflict = asking.request.conflict
        threshold = self.settings.escalation_severity
        said = (
            f"Severity {conflict.severity} (≥ {threshold}) asks a human, but {why}"
            if not asked
            else f"Escalated to a human (severity {conflict.severity} ≥ {threshold}), but {why}"
        )
        automatic = asking.automatic
        if automatic is None:
            failure = asking.failure or UndecidableConflictError("no strategy decided")
            self._refuse(
                conflict, UndecidableConflictError(f"{failure} {said}."), asking.requesters, ctx
            )
            return
        rationale = f"{automatic.rationale} {said}: decided by {automatic.strategy}."
        update = {"rationale": rationale, "escalated": asked}
        self._finish(asking, automatic.model_copy(update=update), None, ctx)

    def _finish(
        self,
        asking: _Asking,
        resolution: ConflictResolution | None,
        failure: ConflictError | None,
        ctx: Context,
    ) -> None:
        conflict = asking.request.conflict
        if resolution is None:
            assert failure is not None
            self._refuse(conflict, failure, asking.requesters, ctx)
            return
        stamped = resolution.model_copy(update={"resolved_at": ctx.now().timestamp()})
        ctx.log.info(
            "Conflict {conflict_id} resolved by {strategy}: {order}",
            conflict_id=conflict.id,
            strategy=stamped.strategy,
            order=",".join(stamped.order),
        )
        _answer(ConflictResolved(resolution=stamped), asking.requesters, ctx)

    @staticmethod
    def _refuse(
        conflict: Conflict, exc: ConflictError, requesters: Sequence[Envelope], ctx: Context
    ) -> None:
        ctx.log.warning(
            "Conflict {conflict_id} refused ({kind}): {error}",
            conflict_id=conflict.id,
            kind=type(exc).__name__,
            error=str(exc),
        )
        _answer(ConflictRefused(conflict_id=conflict.id, error=error_info(exc)), requesters, ctx)


def _same_conflict(first: Conflict, second: Conflict) -> bool:
    """Whether two conflicts are the same one (when it was noticed aside)."""
    return first.model_dump(exclude={"created_at"}) == second.model_dump(exclude={"created_at"})


def _answer(message: Message, requesters: Sequence[Envelope], ctx: Context) -> None:
    for env in requesters:
        if env.reply_to is None and env.sender is None:
            ctx.log.warning(
                "Nobody to tell the answer to {kind}: it was told without a reply slot; "
                "use ctx.request or ActorSystem.ask",
                kind=message.kind_tag,
            )
            continue
        ctx.reply(message, to=env)


def _prepare(settings: ResolverSettings, msg: ResolveConflict, env: Envelope) -> _Asking:
    """Check the request and decide it automatically (when that fails for want of
    facts, a human may still decide: the failure is kept).

    Raises:
        ConflictError: the request is wrong (not merely undecidable), or it is
            undecidable and no human would be asked.
    """
    try:
        agents = tuple(agent_info(a) for a in msg.agents)
    except ConfigurationError as exc:
        raise ConflictError(f"Conflict {msg.conflict.id!r}: {exc}") from None
    try:
        automatic = decide(
            settings.strategies, msg.conflict, agents, msg.tasks, strategy=msg.strategy
        )
    except UndecidableConflictError as exc:
        if not settings.escalates(msg.conflict):
            raise
        return _Asking(msg, agents, None, exc, [env])
    return _Asking(msg, agents, automatic, None, [env])


def _question(asking: _Asking, request_id: str, settings: ResolverSettings) -> HumanRequest:
    conflict = asking.request.conflict
    deadlock = conflict.conflict_type is ConflictType.DEADLOCK
    ask = (
        "Which agent should be aborted to break the deadlock?"
        if deadlock
        else "Which agent should win?"
    )
    suggestion = _pick(asking.automatic, deadlock=deadlock)
    text = (
        f"Conflict {conflict.id} ({conflict.conflict_type.value}, severity "
        f"{conflict.severity}) between {', '.join(conflict.involved_agents)}"
        + (f": {conflict.description}" if conflict.description else "")
        + f". {ask}"
        + (
            f" The {asking.automatic.strategy} strategy suggests {suggestion}."
            if asking.automatic is not None and suggestion is not None
            else ""
        )
    )
    metadata: dict[str, JsonValue] = {
        "conflict_id": conflict.id,
        "conflict_type": conflict.conflict_type.value,
        "severity": conflict.severity,
        "suggested": suggestion,
    }
    return HumanRequest(
        request_id=request_id,
        type=HumanCallbackType.SELECT,
        message=text,
        options=tuple(conflict.involved_agents),
        timeout=settings.human_timeout,
        metadata=metadata,
    )


def _pick(resolution: ConflictResolution | None, *, deadlock: bool) -> str | None:
    """The agent a resolution picks: its winner, or for a deadlock its victim."""
    if resolution is None:
        return None
    if deadlock:
        return next((a.agent_id for a in resolution.actions if a.action == "abort"), None)
    return resolution.winner


def _human_resolution(
    asking: _Asking, choice: str, responder: str | None, settings: ResolverSettings
) -> ConflictResolution:
    request = asking.request
    conflict = request.conflict
    facts = read_facts(conflict, asking.agents, request.tasks)
    deadlock = conflict.conflict_type is ConflictType.DEADLOCK
    ranked = asking.automatic.order if asking.automatic else conflict.involved_agents
    others = [a for a in ranked if a != choice]
    order = [*others, choice] if deadlock else [choice, *others]
    who = f"A human ({responder})" if responder else "A human"
    picked = f"{choice} to abort" if deadlock else choice
    rationale = (
        f"{who} chose {picked} (severity {conflict.severity} ≥ "
        f"{settings.escalation_severity} is decided by a human)."
    )
    suggestion = _pick(asking.automatic, deadlock=deadlock)
    if asking.automatic is not None and suggestion is not None:
        rationale += f" The {asking.automatic.strategy} strategy had suggested {suggestion}."
    return ConflictResolution(
        conflict_id=conflict.id,
        strategy="human",
        winner=None if deadlock else choice,
        order=tuple(order),
        actions=standard_actions(facts, order),
        rationale=rationale,
        resolved_at=conflict.created_at,
        escalated=True,
    )


# -- spawning ------------------------------------------------------------------------

_settings: weakref.WeakKeyDictionary[ActorSystem, ResolverSettings] = weakref.WeakKeyDictionary()
_settings_lock = threading.Lock()


def ensure_conflict_resolver(
    system: ActorSystem,
    *,
    strategies: Sequence[ConflictStrategy] = (),
    escalation_severity: int | _Default | None = DEFAULT,
    human_timeout: float | _Default = DEFAULT,
) -> ResolverSettings:
    """Return the settings of ``system``'s resolver at ``/agents/resolver``, spawning it
    if none runs; ``strategies`` are registered (for every conflict type their
    ``applies_to`` accepts).

    Args:
        system: a running actor system.
        strategies: your strategies, tried before the built-ins.
        escalation_severity: severity from which a human decides, 1-5 (None: never;
            default :data:`DEFAULT_ESCALATION_SEVERITY`).
        human_timeout: seconds the human has (default :data:`DEFAULT_HUMAN_TIMEOUT`).

    Raises:
        ConfigurationError: a setting is invalid, or differs from the running
            resolver's; or something other than this function holds the path.
    """
    severity = _severity(escalation_severity)
    seconds = _human_seconds(human_timeout)
    with _settings_lock:
        settings = _settings.get(system)
        running = system.cell_at(RESOLVER_PATH) is not None
        if settings is None:
            if running:
                raise ConfigurationError(
                    f"An actor that ensure_conflict_resolver() did not spawn holds "
                    f"{RESOLVER_PATH}; stop it, or use it directly."
                )
            settings = ResolverSettings(
                escalation_severity=(
                    DEFAULT_ESCALATION_SEVERITY if severity is DEFAULT else severity
                ),
                human_timeout=DEFAULT_HUMAN_TIMEOUT if seconds is DEFAULT else seconds,
            )
        else:  # running, or stopped: spawned again with its strategies
            _check_same(settings, severity, seconds)
        if not running:
            system.spawn(recipe(ConflictArbiter, settings), "resolver", parent=AGENTS_PATH)
            _settings[system] = settings
    for strategy in strategies:
        settings.strategies.register(strategy)
    return settings


def resolver_settings(system: ActorSystem) -> ResolverSettings | None:
    """The settings of ``system``'s running resolver (None: none was spawned by
    :func:`ensure_conflict_resolver`, or it stopped)."""
    if system.cell_at(RESOLVER_PATH) is None:
        return None
    return _settings.get(system)


def _severity(value: int | _Default | None) -> int | _Default | None:
    if value is None or value is DEFAULT:
        return value
    given: object = value  # callers may pass anything at run time
    if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 5:
        raise ConfigurationError(
            f"escalation_severity {value!r} must be a severity from 1 to 5, or None to "
            "never ask a human."
        )
    return value


def _human_seconds(value: float | _Default) -> float | _Default:
    if value is DEFAULT:
        return value
    seconds = to_seconds(value, what="human_timeout")
    if seconds <= 0:
        raise ConfigurationError(f"human_timeout {value!r} must be more than 0 seconds.")
    return seconds


def _check_same(
    settings: ResolverSettings, severity: int | _Default | None, seconds: float | _Default
) -> None:
    for name, wanted, running in (
        ("escalation_severity", severity, settings.escalation_severity),
        ("human_timeout", seconds, settings.human_timeout),
    ):
        if wanted is not DEFAULT and wanted != running:
            raise ConfigurationError(
                f"The conflict resolver runs already with {name}={running!r}, not "
                f"{wanted!r}. Leave {name} unset to use the running resolver."
            )


# -- asking from outside ---------------------------------------------------------------

AgentsArg = Sequence[AgentInfo | Mapping[str, Any]] | None
TasksArg = Sequence[Mapping[str, Any] | str] | None


def conflict_request(
    conflict: Conflict | Mapping[str, Any],
    agents: AgentsArg = None,
    tasks: TasksArg = None,
    *,
    strategy: str | None = None,
) -> ResolveConflict:
    """Build the :class:`ResolveConflict` for a conflict (or its dict), the involved
    agents (``AgentInfo`` or the seed's dicts) and tasks (dicts, or task ids).

    Raises:
        ConflictError: the conflict, an agent or a task is malformed (says which).
    """
    checked = _conflict(conflict)
    cid = checked.id
    try:
        infos = [agent_info(a) for a in _listed(cid, "agents", agents)]  # type: ignore[arg-type] # checked by agent_info, which names what is wrong
    except ConfigurationError as exc:
        raise ConflictError(f"Conflict {cid!r}: {exc}") from None
    task_data = [_task(cid, t) for t in _listed(cid, "tasks", tasks)]
    try:
        return ResolveConflict(
            conflict=checked,
            agents=tuple(i.model_dump(mode="json") for i in infos),
            tasks=tuple(task_data),
            strategy=strategy,
        )
    except ValidationError as exc:
        raise ConflictError(
            f"Conflict {cid!r} cannot be sent: {_problems(exc)}. Tasks and agents' "
            "metadata must be JSON data (str, numbers, bool, None, lists, dicts)."
        ) from None


def resolution_of(reply: Message) -> ConflictResolution:
    """Return the resolution a resolver's reply carries.

    Raises:
        UndecidableConflictError: no strategy (nor a human) could decide.
        ConflictError: the resolver refused the conflict for another reason.
    """
    if isinstance(reply, ConflictResolved):
        return reply.resolution
    if isinstance(reply, ConflictRefused):
        undecidable = f"{UndecidableConflictError.__module__}.UndecidableConflictError"
        cls = UndecidableConflictError if reply.error.error_type == undecidable else ConflictError
        raise cls(reply.error.message)
    raise ConflictError(f"The conflict resolver answered {reply.kind_tag!r}, not a resolution.")


def _conflict(conflict: object) -> Conflict:
    if isinstance(conflict, Conflict):
        return conflict
    if not isinstance(conflict, Mapping):
        raise ConflictError(
            f"A conflict must be a Conflict or a dict of its fields, got {type(conflict).__name__}."
        )
    try:
        return Conflict.model_validate(dict(conflict))
    except ValidationError as exc:
        raise ConflictError(
            f"Conflict {conflict.get('id', '<no id>')!r} is malformed: {_problems(exc)}."
        ) from None


def _listed(cid: str, what: str, given: object) -> Sequence[object]:
    if given is None:
        return ()
    if isinstance(given, str | bytes | Mapping) or not isinstance(given, Sequence):
        raise ConflictError(
            f"Conflict {cid!r}: {what} must be a list (or None), got {type(given).__name__}."
        )
    return given


def _task(cid: str, task: object) -> dict[str, Any]:
    if isinstance(task, str):
        return {"id": task}
    if isinstance(task, Mapping):
        return dict(task)
    raise ConflictError(
        f"Conflict {cid!r}: a task must be a dict or a task id, got {type(task).__name__} {task!r}."
    )


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
    )


@final
class ConflictResolver:
    """The seed's conflict resolver: resolves conflicts through ``/agents/resolver``.

    Example::

        resolver = ConflictResolver()
        resolution = await resolver.resolve_conflict(conflict, agents, tasks)
        resolver.close()

    Args:
        system: the actor system to use (left running by :meth:`close`); None: one of
            its own, started on first use, shut down by :meth:`close` (or when the
            resolver is garbage-collected).
        strategies, escalation_severity, human_timeout: see
            :func:`ensure_conflict_resolver`.
    """

    def __init__(
        self,
        system: ActorSystem | None = None,
        *,
        strategies: Sequence[ConflictStrategy] = (),
        escalation_severity: int | _Default | None = DEFAULT,
        human_timeout: float | _Default = DEFAULT,
    ) -> None:
        self._handle = SystemHandle(system)
        self._options = (
            tuple(strategies),
            _severity(escalation_severity),
            _human_seconds(human_timeout),
        )
        self._settings: ResolverSettings | None = None
        self._lock = threading.Lock()
        self._closer = weakref.finalize(self, self._handle.close) if self._handle.is_owned else None

    @property
    def system(self) -> ActorSystem:
        """The actor system (started now if the resolver owns it)."""
        return self._handle.system

    @property
    def settings(self) -> ResolverSettings:
        """The resolver's settings (spawning it now if none runs)."""
        with self._lock:
            system = self._handle.system
            if self._settings is None or resolver_settings(system) is not self._settings:
                strategies, severity, seconds = self._options
                self._settings = ensure_conflict_resolver(
                    system,
                    strategies=strategies,
                    escalation_severity=severity,
                    human_timeout=seconds,
                )
            return self._settings

    def register_strategy(
        self,
        strategy: ConflictStrategy,
        *,
        conflict_types: Sequence[ConflictType | str] | None = None,
        replace: bool = False,
    ) -> None:
        """Register ``strategy`` (see :meth:`StrategyRegistry.register`).

        Raises:
            ConfigurationError: it is not a strategy, or its name is taken.
        """
        self.settings.strategies.register(strategy, conflict_types=conflict_types, replace=replace)

    async def resolve_conflict(
        self,
        conflict: Conflict | Mapping[str, Any],
        agents: AgentsArg = None,
        tasks: TasksArg = None,
        *,
        strategy: str | None = None,
        timeout: float | None = None,
    ) -> ConflictResolution:
        """Resolve ``conflict`` (the event loop runs on while the resolver, or a human,
        decides).

        Args:
            conflict: a :class:`Conflict`, or a dict of its fields.
            agents: the involved agents (``AgentInfo`` or the seed's dicts); role
                precedence and votes need them.
            tasks: the involved tasks (dicts with ``id``, ``priority`` ...; or task ids).
            strategy: the strategy to use, by name (None: chosen by the conflict's type).
            timeout: seconds to wait (None: 10, plus the human's time if one is asked).

        Raises:
            ConflictError: the conflict is malformed, or cannot be resolved (says why).
            AskTimeoutError: no answer within ``timeout``.
        """
        request, wait = self._request(conflict, agents, tasks, strategy, timeout)
        reply = await self.system.ask_async(RESOLVER_PATH, request, timeout=wait)
        return resolution_of(reply)

    def resolve_conflict_sync(
        self,
        conflict: Conflict | Mapping[str, Any],
        agents: AgentsArg = None,
        tasks: TasksArg = None,
        *,
        strategy: str | None = None,
        timeout: float | None = None,
    ) -> ConflictResolution:
        """Blocking twin of :meth:`resolve_conflict` (never in an actor's handler)."""
        request, wait = self._request(conflict, agents, tasks, strategy, timeout)
        return resolution_of(self.system.ask(RESOLVER_PATH, request, timeout=wait))

    def _request(
        self,
        conflict: Conflict | Mapping[str, Any],
        agents: AgentsArg,
        tasks: TasksArg,
        strategy: str | None,
        timeout: float | None,
    ) -> tuple[ResolveConflict, float]:
        request = conflict_request(conflict, agents, tasks, strategy=strategy)
        wait = self.settings.answer_timeout(request.conflict) if timeout is None else timeout
        return request, wait

    def close(self, timeout: float = 10.0) -> None:
        """Shut the actor system down if the resolver owns it (a given one runs on)."""
        self._handle.close(timeout)
        with self._lock:
            self._settings = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self.close()
        return False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self.close()
        return False
