"""The cell: a pykka actor that owns an actor's thread, mailbox and path, and never dies
of a user exception.

The behaviour (the user's handlers) lives inside the cell. When it raises, the
cell turns the failing message into a dead letter, suspends its user lane and
tells its parent; the parent's :class:`SupervisorStrategy` answers with a
directive. The cell also plays the supervisor for its own children: restarts and
stops of several children run as a sequence of directives, each acknowledged
before the next is sent, so they happen in order without anyone blocking.

A handler that raises ``KeyboardInterrupt`` or ``SystemExit`` (an exit request) is
recorded like any failure, and then stops the whole system with that error instead of
asking the parent (see ``docs/runtime.md``). A stop has a deadline: a parent gives each
child a deadline inside its own, so an actor that hangs is given up on by its own parent
first; a cell given up on ("abandoned") keeps its system lane and finishes stopping, and
its thread exits, once the handler that hung returns.

Every method here runs on the cell's own thread unless its docstring says otherwise.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
import uuid
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Self, final

import pykka
from loguru import logger
from pykka import messages as pykka_messages

from actorflow.clock import TimerHandle
from actorflow.errors import (
    ActorflowError,
    BlockingCallError,
    ClockError,
    EscalationError,
    InvalidMessageError,
)
from actorflow.ids import ActorPath, CorrelationId, TimerId
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import (
    ActorFailed,
    ActorRestarted,
    ActorResumed,
    ActorStopped,
    ChildFailed,
    ChildStopped,
    DeadLetterReason,
    Directive,
    DirectiveDone,
    ErrorInfo,
    RequestTimedOut,
    StopActor,
    StopTimedOut,
    Supervise,
    SystemMessage,
)
from actorflow.runtime.behaviour import Behaviour, Recipe, handler_for
from actorflow.runtime.context import Context
from actorflow.runtime.effects import LoopDispatcher, outside_actor
from actorflow.runtime.mailbox import Mailbox, MailboxConfig, OverflowPolicy, PutResult
from actorflow.runtime.stats import ActorStatistics
from actorflow.runtime.supervision import RestartIntensity, RestartType, SupervisorStrategy

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = [
    "Cell",
    "current_cell",
    "error_info",
    "forbid_blocking",
    "is_exit_request",
    "safe_text",
]

Action = Literal["resume", "suspend", "terminate", "start"]

_local = outside_actor
_DRAIN_ROUNDS = 16
"""Batches an event-loop cell processes per drain before yielding to other callbacks."""
_ESCALATION = f"{EscalationError.__module__}.{EscalationError.__qualname__}"
_ESCALATION_BASES = tuple(f"{c.__module__}.{c.__qualname__}" for c in EscalationError.__mro__[1:])
_EXPIRED_MEMORY = 4096
_MAX_STOP_MARGIN = 1.0
"""A parent stops waiting for a child a tenth of its own remaining stop time (at most this
many seconds) before its own deadline, so the child's report arrives first."""


def is_exit_request(exc: BaseException) -> bool:
    """Whether ``exc`` asks the process to end (``KeyboardInterrupt``, ``SystemExit``)."""
    return isinstance(exc, KeyboardInterrupt | SystemExit)


@final
class _Call:
    """A runtime-internal item for a cell's system lane: call ``fn`` on the cell's thread
    (how a timer wakes a supervisor after a restart backoff). Never journaled."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn


def current_cell() -> Cell | None:
    """Return the cell whose thread is calling, or ``None`` outside the actor system."""
    cell: Cell | None = getattr(_local, "cell", None)
    return cell


def forbid_blocking(what: str, effects_loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Raise :class:`BlockingCallError` if called on an actor thread, or on the thread of
    ``effects_loop`` (the event loop every effect and loop-dispatched actor shares)."""
    cell = current_cell()
    if cell is not None:
        raise BlockingCallError(
            f"{what} would block the thread of actor {cell.path!r} inside a handler, "
            "where waiting on another actor deadlocks. Use ctx.request(path, message, "
            "timeout=...) and handle the reply as a message instead."
        )
    if effects_loop is not None and _running_loop() is effects_loop:
        raise BlockingCallError(
            f"{what} would block the effects event loop, which every effect and every "
            "dispatcher='loop' actor shares (the reply could never be handled). In an async "
            "effect or tool, use `await system.ask_async(...)` instead of system.ask(); run "
            "stop() or shutdown() off the loop, e.g. `await asyncio.to_thread(system.stop, "
            "path)`."
        )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def safe_text(value: object, *, use_repr: bool = False) -> str:
    """``str(value)`` (or ``repr``), or a stand-in naming its type if that raises: a user
    exception whose ``__str__`` raises is still one actor's ordinary failure (any thread)."""
    try:
        return repr(value) if use_repr else str(value)
    except BaseException:  # noqa: BLE001 - user code; whatever it raises, describe the type
        return f"<{type(value).__qualname__} object: its {'repr' if use_repr else 'str'} raised>"


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe ``exc`` as a serialisable :class:`ErrorInfo`."""
    names = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
    try:
        tb = "".join(traceback.format_exception(exc, limit=6))
    except BaseException:  # noqa: BLE001 - a hostile exception must not crash the cell
        tb = f"{names[0]}: <traceback could not be formatted>"
    return ErrorInfo(
        error_type=names[0], error_types=names[1:], message=safe_text(exc), traceback=tb
    )


class _GuardedFuture(pykka.ThreadingFuture[Any]):
    """A pykka future whose blocking ``get`` refuses to run on an actor thread."""

    def get(self, *, timeout: float | None = None) -> Any:
        forbid_blocking("Future.get()")
        return super().get(timeout=timeout)


@final
class _Supervision:
    """A cell's state as a supervisor of children: restart windows and backoffs, the
    directive plan, the stop sequence. Made on first use: most actors have no children."""

    __slots__ = (
        "after_children",
        "awaiting_stop",
        "backoffs",
        "deferred",
        "intensities",
        "plan",
        "plan_waiting",
        "stop_queue",
        "stop_requested",
        "stop_timer",
    )

    def __init__(self) -> None:
        self.intensities: dict[ActorPath | None, RestartIntensity] | None = None
        """Restart windows, per child for one_for_one, else under ``None``; made on use."""
        self.backoffs: dict[ActorPath, TimerHandle] | None = None
        self.plan: list[tuple[ActorPath, Action]] = []
        self.plan_waiting: tuple[ActorPath, Action] | None = None
        self.deferred: list[ChildFailed] = []
        self.stop_queue: list[ActorPath] = []
        self.awaiting_stop: ActorPath | None = None
        self.stop_timer: TimerHandle | None = None
        self.after_children: Callable[[], None] | None = None
        self.stop_requested: set[ActorPath] = set()


_events_lock = threading.Lock()
"""Guards every :class:`_LazyEvent` (each is set once and seldom waited on)."""


@final
class _LazyEvent(threading.Event):
    """A ``threading.Event`` that makes its condition and lock only when someone waits
    (any thread). pykka gives each actor an Event (about 1 KiB with its Condition, lock
    and waiter deque); most cells are never waited on, and a process may hold 100,000."""

    __slots__ = ("_event", "_is_set")

    def __init__(self) -> None:  # no super().__init__(): that builds the Condition
        self._is_set = False
        self._event: threading.Event | None = None

    def __repr__(self) -> str:
        cls = type(self)
        status = "set" if self._is_set else "unset"
        return f"<{cls.__module__}.{cls.__qualname__} at {id(self):#x}: {status}>"

    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        return self._is_set

    isSet = is_set  # noqa: N815 - threading.Event's old name

    def set(self) -> None:
        """Set the flag and wake whoever waits."""
        with _events_lock:
            self._is_set = True
            event = self._event
        if event is not None:
            event.set()

    def clear(self) -> None:
        """Reset the flag."""
        with _events_lock:
            self._is_set = False
            if self._event is not None:
                self._event.clear()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set or ``timeout`` passes; return the flag."""
        with _events_lock:
            if self._is_set:
                return True
            event = self._event
            if event is None:
                event = self._event = threading.Event()
        return event.wait(timeout)

    def _at_fork_reinit(self) -> None:
        self._event = None


@final
class Cell(pykka.ThreadingActor):
    """Owns one actor's thread, mailbox, path and behaviour; supervises its children.

    Light: its fields are slots, and what most actors never use (the pykka actor ref
    and URN, the terminated event's lock, the logger binding) is made on first use, so a
    loop-dispatched cell costs a few hundred bytes beyond its mailbox and behaviour.
    """

    __slots__ = (
        "_dispatcher",
        "_expired",
        "_finished",
        "_hook",
        "_lamport",
        "_pending",
        "_pykka_stop_futures",
        "_ref",
        "_request_counter",
        "_stop_deadline",
        "_stop_reason",
        "_stopping",
        "_sup",
        "_timers",
        "_urn",
        "abandoned",
        "behaviour",
        "births",
        "children",
        "ctx",
        "failed",
        "incarnation",
        "late_replies",
        "mailbox",
        "parent",
        "path",
        "processed",
        "recipe",
        "restart_type",
        "restarts",
        "stale_timers",
        "strategy",
        "suspended",
        "system",
        "thread",
    )

    def __init__(
        self,
        system: ActorSystem,
        path: ActorPath,
        parent: Cell | None,
        recipe: Recipe,
        *,
        restart: RestartType,
        strategy: SupervisorStrategy,
        mailbox: MailboxConfig,
        dispatcher: LoopDispatcher | None = None,
    ) -> None:
        # pykka.Actor.__init__ is not called: it makes a URN from uuid4, an ActorRef and
        # a threading.Event for every actor. Its fields are made here, the first two on
        # first use (see actor_urn and actor_ref).
        self._dispatcher = dispatcher
        self._urn: str | None = None
        self._ref: pykka.ActorRef[Cell] | None = None
        self.mailbox = Mailbox(mailbox, threaded=dispatcher is None)
        self.actor_inbox = self.mailbox  # type: ignore[assignment] # ours: see Mailbox.put
        self.actor_stopped = _LazyEvent()
        self.system = system
        self.path = path
        self.parent = parent
        self.recipe = recipe
        self.restart_type = restart
        self.strategy = strategy
        self.ctx = Context(self)
        self.behaviour: Behaviour | None = None
        self.suspended = False
        self.children: dict[ActorPath, Cell] = {}
        self.births: list[Cell] = []
        """Children spawned from other threads, adopted before the next system message."""
        self.incarnation = 0
        self.thread: threading.Thread | None = None
        # counters (written by this cell's thread only)
        self.processed = 0
        self.failed = 0
        self.restarts = 0
        self.late_replies = 0
        self.stale_timers = 0
        # request/response and timers
        self._lamport = 0
        self._request_counter = 0
        self._pending: dict[CorrelationId, TimerHandle] = {}
        self._expired: dict[CorrelationId, None] | None = None
        """Correlation ids of requests that timed out or were cancelled; made on use."""
        self._timers: dict[TimerId, TimerHandle] | None = None
        """Scheduled deliveries; made on use."""
        self._sup: _Supervision | None = None
        """Supervisor state; made on first use (see :attr:`_sv`)."""
        # own lifecycle
        self._stopping = False
        self._stop_reason = "requested"
        self._stop_deadline: float | None = None
        """When whoever stops this cell stops waiting for it (the clock's monotonic time)."""
        self._finished = False
        self._hook: str | None = None
        """The lifecycle hook running now (``on_start``/``on_stop``), for hang reports."""
        self.abandoned = False
        """Its parent stopped waiting for it to stop and released its path."""
        self._pykka_stop_futures: list[pykka.Future[Any]] | None = None

    @property
    def is_finished(self) -> bool:
        """Whether the cell has stopped processing (its path is released)."""
        return self._finished

    @property
    def _sv(self) -> _Supervision:
        """This cell's supervisor state, made on first use (own thread)."""
        sup = self._sup
        if sup is None:
            sup = self._sup = _Supervision()
        return sup

    @property
    def terminated(self) -> threading.Event:
        """Set once the cell's thread has finished (pykka's ``actor_stopped``)."""
        return self.actor_stopped

    # -- pykka extension points ------------------------------------------------------

    @property
    def actor_urn(self) -> str:
        """pykka's unique URN of this actor (made on first use)."""
        urn = self._urn
        if urn is None:
            urn = self._urn = uuid.uuid4().urn
        return urn

    @actor_urn.setter
    def actor_urn(self, urn: str) -> None:
        self._urn = urn

    @property
    def actor_ref(self) -> pykka.ActorRef[Self]:
        """pykka's ref to this cell (made on first use: only thread-dispatched cells are
        registered with pykka's ``ActorRegistry``)."""
        ref = self._ref
        if ref is None:
            ref = self._ref = pykka.ActorRef(self)
        return ref

    @property
    def is_registered(self) -> bool:
        """Whether this cell is in pykka's ``ActorRegistry`` (thread-dispatched cells are;
        a loop-dispatched one is stopped through its parent by ``stop_all``)."""
        return self._dispatcher is None

    def _create_actor_inbox(self) -> Mailbox:  # type: ignore[override] # needs the config
        raise NotImplementedError("Cell makes its mailbox in __init__")

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return _GuardedFuture()

    def _start_actor_loop(self) -> None:
        """Start the cell: its own thread, or callbacks on its dispatcher's event loop."""
        dispatcher = self._dispatcher
        if dispatcher is not None:
            self.mailbox.on_wake(self._schedule_drain)
            dispatcher.schedule(self._loop_begin)
            return
        self.thread = threading.Thread(target=self._run, name=f"actorflow:{self.path}", daemon=True)
        self.thread.start()

    def _schedule_drain(self) -> None:
        """Wake a loop-dispatched cell: its mailbox calls this for the first message
        after it found the mailbox empty (any thread)."""
        dispatcher = self._dispatcher
        assert dispatcher is not None
        dispatcher.schedule(self._drain)

    # -- sending into this cell (any thread) -----------------------------------------

    def enqueue(self, env: Envelope) -> None:
        """Queue ``env`` here, or make it a dead letter (any thread).

        Raises:
            MailboxFullError: the mailbox is full and its policy is ``reject``.
        """
        if isinstance(env.message, SystemMessage):
            if self.mailbox.offer_system(env) is PutResult.CLOSED:
                self._drop_system(env)
            return
        result, evicted = self.mailbox.offer(env)
        if result is PutResult.QUEUED:
            return
        dead = self.system.dead_letters
        if result is PutResult.EVICTED:
            dead.record(DeadLetterReason.OVERFLOW, env=evicted)  # type: ignore[arg-type]
        elif result is PutResult.CLOSED:
            dead.record(DeadLetterReason.STOPPED, env=env, detail="the actor has stopped")
        else:
            cap = self.mailbox.config.capacity
            dead.record(DeadLetterReason.OVERFLOW, env=env, detail=f"mailbox full ({cap})")
            if self.mailbox.config.overflow is OverflowPolicy.REJECT:
                self.system.raise_mailbox_full(self.path, cap)

    def _drop_system(self, env: Envelope) -> None:
        # Control messages to a stopped actor have nobody left to act on them.
        logger.debug("Dropped {kind} to stopped {path}", kind=env.message.kind_tag, path=self.path)

    # -- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        """The cell's own thread: start, then take and process until stopped."""
        try:
            self._begin()
            mailbox = self.mailbox
            while not self._finished:
                system, user = mailbox.take(include_user=not (self.suspended or self._stopping))
                self._process(system, user)
        except BaseException as exc:  # noqa: BLE001 - a runtime fault: stop the system with it
            self._crash(exc)
        finally:
            self._end()

    def _begin(self) -> None:
        _local.cell = self
        self._build_and_start()

    def _end(self) -> None:
        for future in self._pykka_stop_futures or ():
            future.set(None)
        if self.is_registered:
            pykka.ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        self.system.thread_finished(self)

    def _process(self, system: list[object], user: list[object]) -> None:
        mailbox = self.mailbox
        for item in system:
            self._on_system_item(item)
        for index, env in enumerate(user):
            if self.suspended or self._stopping or self._finished:
                mailbox.push_front(user[index:])
                break
            self._deliver(env)  # type: ignore[arg-type] # the user lane holds envelopes
            if mailbox.has_system:
                mailbox.push_front(user[index + 1 :])
                break

    # -- running on an event loop instead of a thread (dispatcher="loop") ------------

    def _loop_begin(self) -> None:
        """First callback on the event loop: start the behaviour, then drain."""
        try:
            self._begin()
        except BaseException as exc:  # noqa: BLE001 - never let it end the shared loop
            self._crash(exc)
            self._end()
            return
        finally:
            _local.cell = None
        self._drain()

    def _drain(self) -> None:
        """Process what is queued without blocking (event-loop thread); when the mailbox
        is empty it marks itself waiting, so the next message schedules another drain."""
        if self._finished:
            return
        _local.cell = self
        try:
            mailbox = self.mailbox
            for _ in range(_DRAIN_ROUNDS):
                system, user = mailbox.take_nowait(
                    include_user=not (self.suspended or self._stopping)
                )
                if not system and not user:
                    return  # waiting again: an offer will schedule the next drain
                self._process(system, user)
                if self.is_finished:
                    self._end()
                    return
            assert self._dispatcher is not None
            self._dispatcher.schedule(self._drain)  # fairness: let other callbacks run
        except BaseException as exc:  # noqa: BLE001 - re-raised, SystemExit would end the
            self._crash(exc)  # shared loop, and with it every loop-dispatched actor
            self._end()
        finally:
            _local.cell = None

    def _deliver(self, env: Envelope) -> None:
        self._lamport = max(self._lamport, env.logical_time) + 1
        msg = env.message
        cid = env.correlation_id
        if cid is not None:
            handle = self._pending.pop(cid, None)
            if handle is not None:
                handle.cancel()
            elif self._expired is not None and cid in self._expired:
                self.late_replies += 1
                self.system.dead_letters.record(
                    DeadLetterReason.LATE_REPLY, env=env, detail="its request had timed out"
                )
                return
        elif type(msg) is RequestTimedOut:
            if self._pending.pop(msg.correlation_id, None) is None:
                self.stale_timers += 1  # the reply won the race; the timer lost
                return
            self._remember_expired(msg.correlation_id)
        behaviour = self.behaviour
        handler = None if behaviour is None else handler_for(type(behaviour), type(msg))
        if handler is None:
            self.system.dead_letters.record(
                DeadLetterReason.UNHANDLED,
                env=env,
                detail=f"{type(behaviour).__name__} has no handler for {type(msg).__name__}",
            )
            return
        ctx = self.ctx
        ctx.envelope = env
        try:
            handler(behaviour, msg, ctx)
        except BaseException as exc:  # noqa: BLE001 - the actor boundary: failures become
            self._fail(env, exc)  # messages; exit requests stop the system (see _fail)
            return
        finally:
            ctx.envelope = None
        self.processed += 1

    # -- behaviour lifecycle ---------------------------------------------------------

    def _build_and_start(self) -> bool:
        self._hook = "on_start"
        try:
            self.behaviour = self.recipe.build()
            self.behaviour.on_start(self.ctx)
        except BaseException as exc:  # noqa: BLE001 - the actor boundary (see _fail)
            self._fail(None, exc)
            return False
        finally:
            self._hook = None
        return True

    def _stop_behaviour(self) -> None:
        behaviour, self.behaviour = self.behaviour, None
        if behaviour is None:
            return
        self._hook = "on_stop"
        try:
            behaviour.on_stop(self.ctx)
        except BaseException as exc:  # noqa: BLE001 - the actor boundary: it still stops
            self.ctx.log.opt(exception=exc).error("on_stop of {path} raised", path=self.path)
            if is_exit_request(exc):
                self.system.exit_requested(self.path, exc, "in on_stop")
        finally:
            self._hook = None

    def stopping_activity(self) -> str | None:
        """Why this cell can take no new children from its own thread, or ``None``: it is
        stopping, or running ``on_stop`` (for a stop or a restart), and a child spawned
        now would outlive it (own thread)."""
        if self._hook == "on_stop":
            return "in on_stop"
        if self._stopping or self._finished:
            return "stopping"
        return None

    def activity(self) -> str | None:
        """What the cell is running right now, for reports of a hang (any thread)."""
        env = self.ctx.envelope
        if env is not None:
            return f"in its handler of {env.message.kind_tag!r}"
        hook = self._hook
        return None if hook is None else f"in {hook}"

    def _fail(self, env: Envelope | None, exc: BaseException | ErrorInfo) -> None:
        self.failed += 1
        self.suspended = True
        info = exc if isinstance(exc, ErrorInfo) else error_info(exc)
        kind = None if env is None else env.message.kind_tag
        self.ctx.log.opt(exception=None if isinstance(exc, ErrorInfo) else exc).error(
            "Actor {path} failed on {kind}: {error}", path=self.path, kind=kind, error=info.message
        )
        self.system.emit(ActorFailed(path=self.path, error=info, message_kind=kind))
        if env is not None:
            self.system.dead_letters.record(
                DeadLetterReason.FAILED, env=env, detail=f"{info.error_type}: {info.message}"
            )
        if isinstance(exc, BaseException) and is_exit_request(exc):
            where = "in on_start" if env is None else f"in its handler of {kind!r}"
            self.system.exit_requested(self.path, exc, where)
            return  # the system stops; supervisors have nothing to decide
        if self.parent is None:
            self.system.root_failed(info)
            return
        report = ChildFailed(
            child=self.path, error=info, message_kind=kind, incarnation=self.incarnation
        )
        self._send_up(report)

    def _send_up(self, message: SystemMessage) -> None:
        """Send a supervision message to the parent cell itself, not its path: a parent
        that was given up on has released its path but still finishes stopping."""
        parent = self.parent
        assert parent is not None
        self.system.send(
            parent.path, message, sender=self.path, logical_time=self.tick(), target=parent
        )

    def _crash(self, exc: BaseException) -> None:
        """Something escaped the cell's own code (a runtime fault, or an error raised by a
        delivery tap): release the path, account for the mailbox, stop the system."""
        try:
            logger.opt(exception=exc).critical("Actor cell {path} crashed", path=self.path)
            self.system.cell_crashed(self.path, exc)
            self.suspended = True
            self._cancel_timers_and_requests()
            for path in list(self.children):
                self.system.send(path, StopActor(reason="parent crashed"), sender=self.path)
            self._release(reason="crashed")
        except BaseException:  # noqa: BLE001 - last resort: the thread must still end
            logger.opt(exception=True).critical("Cleaning up crashed {path} failed", path=self.path)
            self._finished = True

    # -- system lane -----------------------------------------------------------------

    def adopt_births(self) -> None:
        """Take in children spawned for this cell from other threads (own thread)."""
        for child in self.system.take_births(self):
            self.children[child.path] = child
            if self._stopping:  # spawned while we stop: stop it too
                self._sv.stop_requested.add(child.path)
                self.system.send(child.path, StopActor(reason="parent stopping"), sender=self.path)

    def _on_system_item(self, item: object) -> None:
        if self.births:
            self.adopt_births()
        if not isinstance(item, Envelope):
            if type(item) is _Call:
                item.fn()
            else:
                self._on_pykka(item)
            return
        msg = item.message
        handler = _SYSTEM_HANDLERS.get(type(msg))
        if handler is None:
            logger.error(
                "No system handler for {kind} in {path}", kind=msg.kind_tag, path=self.path
            )
            return
        handler(self, msg)

    def _on_pykka(self, item: object) -> None:
        # pykka.ActorRegistry.stop_all() and ActorRef.stop() arrive as pykka envelopes.
        message = getattr(item, "message", None)
        reply_to: pykka.Future[Any] | None = getattr(item, "reply_to", None)
        if isinstance(message, pykka_messages._ActorStop):
            if reply_to is not None:
                if self._pykka_stop_futures is None:
                    self._pykka_stop_futures = []
                self._pykka_stop_futures.append(reply_to)
            self._begin_stop("pykka stop")
        elif reply_to is not None:
            error = InvalidMessageError(
                f"Actor {self.path!r} is an actorflow cell; pykka proxies and ask() are not "
                "served. Use ActorSystem.ask() with an actorflow Message."
            )
            reply_to.set_exception((InvalidMessageError, error, None))

    def _on_supervise(self, msg: Supervise) -> None:
        action = msg.action
        if action == "resume":
            if self.behaviour is None:
                self._restart_behaviour()
            else:
                self.suspended = False
                self.system.emit(ActorResumed(path=self.path))
        elif action == "suspend":
            self.suspended = True
        elif action == "terminate":
            self.suspended = True
            self._cancel_timers_and_requests()
            self._stop_children_then(lambda: self._terminated_behaviour(action))
            return
        else:
            self._restart_behaviour()
        self._ack(action)

    def _terminated_behaviour(self, action: Action) -> None:
        self._stop_behaviour()
        self._ack(action)

    def _restart_behaviour(self) -> None:
        self._stop_behaviour()
        self.incarnation += 1
        self.restarts += 1
        sup = self._sup
        if sup is not None:
            sup.intensities = None
            self._cancel_backoffs()
            sup.plan.clear()
            sup.plan_waiting = None
            sup.deferred.clear()
        self.suspended = False
        self.system.emit(ActorRestarted(path=self.path, restarts=self.restarts))
        self._build_and_start()

    def _ack(self, action: Action) -> None:
        if self.parent is not None:
            self._send_up(DirectiveDone(child=self.path, action=action))

    # -- supervising children --------------------------------------------------------

    def _on_child_failed(self, msg: ChildFailed) -> None:
        child = self.children.get(msg.child)
        if child is None or child.incarnation != msg.incarnation or self._stopping:
            return  # stale report: the child was restarted or stopped meanwhile
        sup = self._sv
        if sup.plan_waiting is not None:
            sup.deferred.append(msg)
            return
        directive, why = self._decide(msg, child)
        if directive is Directive.RESUME:
            self.system.send(child.path, Supervise(action="resume"), sender=self.path)
        elif directive is Directive.RESTART:
            self._restart_after_backoff(child)
        elif directive is Directive.STOP:
            sup.stop_requested.add(child.path)
            self.system.send(child.path, StopActor(reason=why), sender=self.path)
        else:
            self._escalate(msg, why)

    def _decide(self, msg: ChildFailed, child: Cell) -> tuple[Directive, str]:
        """Return the directive for a failure and, for a stop, the child's stop reason."""
        try:
            returned: object = self.strategy.decider(msg)  # user code: may return anything
        except BaseException as exc:  # noqa: BLE001 - a broken decider must not kill the
            self.ctx.log.opt(exception=exc).error("Decider of {path} raised", path=self.path)
            if is_exit_request(exc):  # supervisor
                self.system.exit_requested(self.path, exc, "in its supervisor decider")
                return Directive.STOP, "supervisor"
            return Directive.ESCALATE, "its decider raised"
        if not isinstance(returned, Directive):
            shown = safe_text(returned, use_repr=True)
            self.ctx.log.error(
                "Decider of {path} returned {value} ({type}), not a Directive, for the failure "
                "of {child}; escalating",
                path=self.path,
                value=shown,
                type=type(returned).__name__,
                child=msg.child,
            )
            return Directive.ESCALATE, f"its decider returned {shown}, not a Directive"
        directive = returned
        if directive is Directive.RESTART and child.restart_type is RestartType.TEMPORARY:
            return Directive.STOP, "supervisor"
        if directive is Directive.RESTART and not self._intensity_for(child.path).allow(
            self.system.clock.monotonic()
        ):
            return self._over_limit(msg.error)
        return directive, "supervisor"

    def _over_limit(self, error: ErrorInfo) -> tuple[Directive, str]:
        s = self.strategy
        limit = f"{s.max_restarts} restarts in {s.within:g} s"
        if s.on_limit == "escalate":
            return Directive.ESCALATE, f"limit of {limit}"
        cause = error.message if error.escalated_by else f"{error.error_type}: {error.message}"
        return Directive.STOP, f"supervisor gave up after {limit}; last error: {cause}"

    def _intensity_for(self, child: ActorPath) -> RestartIntensity:
        key = child if self.strategy.kind == "one_for_one" else None
        sup = self._sv
        if sup.intensities is None:
            sup.intensities = {}
        window = sup.intensities.get(key)
        if window is None:
            window = RestartIntensity(self.strategy.max_restarts, self.strategy.within)
            sup.intensities[key] = window
        return window

    def _restart_after_backoff(self, child: Cell) -> None:
        backoff = self.strategy.backoff
        previous = self._intensity_for(child.path).recent - 1
        delay = 0.0 if backoff is None else backoff.delay(previous)
        if delay <= 0:
            self._restart_children(child)
            return
        self.ctx.log.warning(
            "Restarting {child} in {delay:g} s (restart {n} in {within:g} s)",
            child=child.path,
            delay=delay,
            n=previous + 1,
            within=self.strategy.within,
        )
        call = _Call(partial(self._backoff_over, child.path, child.incarnation))
        handle = self._call_later(delay, partial(self.mailbox.put, call))
        if handle is None:  # the clock is closed: the system is going down
            return
        sup = self._sv
        if sup.backoffs is None:
            sup.backoffs = {}
        sup.backoffs[child.path] = handle

    def _backoff_over(self, path: ActorPath, incarnation: int) -> None:
        sup = self._sv
        if sup.backoffs is not None:
            sup.backoffs.pop(path, None)
        child = self.children.get(path)
        if child is None or child.incarnation != incarnation or self._stopping:
            return
        self._restart_children(child)

    def _cancel_backoffs(self, path: ActorPath | None = None) -> None:
        backoffs = None if self._sup is None else self._sup.backoffs
        if not backoffs:
            return
        for key in list(backoffs) if path is None else [path]:
            handle = backoffs.pop(key, None)
            if handle is not None:
                handle.cancel()

    def _call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle | None:
        """Arm a timer, or return ``None`` if the clock is closed (after shutdown)."""
        try:
            return self.system.clock.call_later(delay, callback)
        except ClockError:
            return None

    def _escalate(self, msg: ChildFailed, why: str) -> None:
        cause = msg.error
        if not cause.escalated_by:  # first hop: the child's own error is the root cause
            cause = cause.model_copy(
                update={"message": f"{msg.child} failed with {cause.error_type}: {cause.message}"}
            )
        info = ErrorInfo(
            error_type=_ESCALATION,
            error_types=_ESCALATION_BASES,
            message=cause.message,
            traceback=cause.traceback,
            escalated_by=(*cause.escalated_by, f"{self.path} ({why})"),
        )
        self._fail(None, info)

    def _restart_children(self, failed: Cell) -> None:
        order = list(self.children)
        if self.strategy.kind == "one_for_one":
            targets = [failed.path]
        elif self.strategy.kind == "one_for_all":
            targets = order
        else:
            targets = order[order.index(failed.path) :]
        steps: list[tuple[ActorPath, Action]] = [(path, "start") for path in reversed(targets)]
        steps.extend((path, "terminate") for path in targets)  # popped from the end
        sup = self._sv
        sup.plan[0:0] = steps  # after any restart already under way (a backoff's end)
        if sup.plan_waiting is None:
            self._next_step()

    def _next_step(self) -> None:
        sup = self._sv
        while sup.plan:
            path, action = sup.plan.pop()
            if path in self.children:
                sup.plan_waiting = (path, action)
                self.system.send(path, Supervise(action=action), sender=self.path)
                return
        sup.plan_waiting = None
        while sup.deferred and sup.plan_waiting is None:
            self._on_child_failed(sup.deferred.pop(0))

    def _on_directive_done(self, msg: DirectiveDone) -> None:
        if self._sup is not None and self._sup.plan_waiting == (msg.child, msg.action):
            self._next_step()

    def _on_child_stopped(self, msg: ChildStopped) -> None:
        holder = self.children.get(msg.child)
        if holder is not None and not holder._finished:
            # A new actor holds the path already (spawned once the old one released
            # it): this report is the old one's, and the new child stays ours.
            child = None
        else:
            child = self.children.pop(msg.child, None)
        sup = self._sv
        if (
            child is not None
            and sup.intensities is not None
            and self.strategy.kind == "one_for_one"
        ):
            sup.intensities.pop(msg.child, None)
        self._cancel_backoffs(msg.child)
        requested = msg.child in sup.stop_requested
        sup.stop_requested.discard(msg.child)
        if sup.awaiting_stop == msg.child:
            sup.awaiting_stop = None
            if sup.stop_timer is not None:
                sup.stop_timer.cancel()
            self._stop_next_child()
        elif (
            child is not None
            and not requested
            and msg.reason == "self"
            and not self._stopping
            and child.restart_type is RestartType.PERMANENT
        ):
            self._respawn(child)
        if sup.plan_waiting is not None and sup.plan_waiting[0] == msg.child:
            self._next_step()

    def _respawn(self, old: Cell) -> None:
        # A permanent child that stopped by itself comes back (OTP's "permanent").
        if not self._intensity_for(old.path).allow(self.system.clock.monotonic()):
            info = ErrorInfo(error_type="stopped", message="kept stopping by itself")
            directive, why = self._over_limit(info)
            if directive is Directive.ESCALATE:
                self._escalate(ChildFailed(child=old.path, error=info), why)
            else:
                self.ctx.log.error("Not spawning {child} again: {why}", child=old.path, why=why)
            return
        try:
            self.system.spawn(
                old.recipe,
                old.path.rsplit("/", 1)[1],
                parent=self.path,
                restart=old.restart_type,
                strategy=old.strategy,
                mailbox=old.mailbox.config,
                dispatcher="thread" if old._dispatcher is None else "loop",
            )
        except ActorflowError as exc:  # the system is stopping, or the path was taken
            self.ctx.log.warning("Not spawning {child} again: {error}", child=old.path, error=exc)

    # -- stopping --------------------------------------------------------------------

    def _on_stop_actor(self, msg: StopActor) -> None:
        self._begin_stop(msg.reason)

    def request_stop(
        self, reason: str, *, deadline: float | None, sender: ActorPath | None
    ) -> None:
        """Ask this cell to stop by ``deadline`` (the clock's monotonic time), or with only
        its supervisors' per-child stop timeouts if ``None`` (any thread)."""
        current = self._stop_deadline
        if deadline is not None and not self._stopping and (current is None or deadline < current):
            # Written before the StopActor is queued, so its handling reads it (the
            # mailbox lock orders the two). The earliest of several requests holds.
            self._stop_deadline = deadline
        self.system.send(self.path, StopActor(reason=reason), sender=sender, target=self)

    def _begin_stop(self, reason: str) -> None:
        if self._stopping or self._finished:
            return
        self._stopping = True
        self._stop_reason = reason
        self._cancel_timers_and_requests()
        sup = self._sup
        if sup is not None:
            self._cancel_backoffs()
            sup.plan.clear()
            sup.deferred.clear()
        self._stop_children_then(self._finish_stop)

    def _stop_children_then(self, then: Callable[[], None]) -> None:
        if not self.children and self._sup is None:
            then()  # a leaf that never supervised: nothing to stop, no state to make
            return
        sup = self._sv
        sup.after_children = then
        sup.stop_queue = list(self.children)  # popped from the end: reverse start order
        self._stop_next_child()

    def _stop_next_child(self) -> None:
        sup = self._sv
        while sup.stop_queue:
            path = sup.stop_queue.pop()
            child = self.children.get(path)
            if child is None or child.is_finished:
                continue  # gone already; its ChildStopped is on its way, or was handled
            sup.stop_requested.add(path)
            deadline = self._child_stop_deadline()
            child.request_stop("parent stopping", deadline=deadline, sender=self.path)
            delay = max(0.0, deadline - self.system.clock.monotonic())
            sup.stop_timer = self._call_later(delay, partial(self._report_stop_timeout, path))
            if sup.stop_timer is None:
                # The clock is closed: the system has shut down and nobody waits for this
                # cell (it was abandoned and its hung handler just returned). Do not wait.
                self.children.pop(path, None)
                continue
            sup.awaiting_stop = path
            return
        then, sup.after_children = sup.after_children, None
        if then is not None:
            then()

    def _child_stop_deadline(self) -> float:
        """When to stop waiting for the next child: its stop timeout, and never later than
        a margin before this cell's own deadline, so deadlines nest down the tree."""
        now = self.system.clock.monotonic()
        deadline = now + self.strategy.stop_timeout
        own = self._stop_deadline
        if own is not None:
            margin = min(_MAX_STOP_MARGIN, max(0.0, own - now) / 10)
            deadline = min(deadline, own - margin)
        return deadline

    def _report_stop_timeout(self, path: ActorPath) -> None:
        """Timer callback (timer thread): tell this cell a child did not stop in time."""
        self.system.send(self.path, StopTimedOut(child=path), sender=self.path, target=self)

    def _on_stop_timed_out(self, msg: StopTimedOut) -> None:
        if self._sup is not None and self._sup.awaiting_stop == msg.child:
            self._give_up_on(msg.child, "it did not stop in time")

    def _give_up_on(self, path: ActorPath, why: str) -> None:
        child = self.children.pop(path, None)
        if child is not None:
            logger.error(
                "Actor {child} is not stopping ({doing}): {why}; its path is released and its "
                "thread ends when it returns",
                child=path,
                doing=child.activity() or "waiting for its own children",
                why=why,
            )
            child.abandon()
        self._sv.awaiting_stop = None
        self._stop_next_child()

    def abandon(self) -> None:
        """Release the path of a cell that does not stop in time, stop its children, and
        dead-letter its queued mail (its parent's thread). Its system lane stays open: once
        the hung handler returns, the cell handles its StopActor and its thread ends."""
        self.abandoned = True
        self.system.cell_abandoned(self)
        # Reported now, as the stop its parent waited for; its own late stop is not.
        reason = f"abandoned: it did not stop in time ({self.activity() or 'stopping'})"
        self.system.actor_gone(self.path, reason)
        self.system.emit(ActorStopped(path=self.path, reason=reason))
        for orphan in self.system.unregister(self.path, self):
            self.system.send(orphan.path, StopActor(reason="parent hung"), sender=self.path)
        for path in _snapshot(self.children):
            self.system.send(path, StopActor(reason="parent hung"), sender=self.path)
        for env in self.mailbox.close_user():
            if isinstance(env, Envelope):
                self.system.dead_letters.record(
                    DeadLetterReason.STOPPED, env=env, detail="the actor hung while stopping"
                )

    def _finish_stop(self) -> None:
        self._stop_behaviour()
        self.suspended = True
        self._release(reason=self._stop_reason)

    def _release(self, *, reason: str) -> None:
        """Dead-letter the mailbox, release the path, report the stop, finish."""
        for env in self.mailbox.close():
            if isinstance(env, Envelope):
                self.system.dead_letters.record(
                    DeadLetterReason.STOPPED, env=env, detail="the actor stopped first"
                )
        for orphan in self.system.unregister(self.path, self):
            self.system.send(orphan.path, StopActor(reason="parent stopped"), sender=self.path)
        if not self.abandoned:
            self.system.actor_gone(self.path, reason)
            self.system.emit(ActorStopped(path=self.path, reason=reason))
        else:
            logger.warning("Abandoned actor {path} has stopped", path=self.path)
        self._finished = True
        if self.parent is not None:
            self._send_up(ChildStopped(child=self.path, reason=reason))
        else:
            self.system.root_stopped()

    # -- requests and timers ---------------------------------------------------------

    def tick(self) -> int:
        """Advance and return this actor's Lamport time (for a send)."""
        self._lamport += 1
        return self._lamport

    def request(self, to: ActorPath, message: Message, timeout: float) -> CorrelationId:
        """Send a request with a correlation id and arm its timeout timer."""
        self._request_counter += 1
        cid = CorrelationId(f"{self.path}#{self._request_counter}")
        timed_out = RequestTimedOut(
            correlation_id=cid, recipient=to, request_kind=message.kind_tag or "", timeout=timeout
        )
        system = self.system
        self._pending[cid] = system.clock.call_later(
            timeout, lambda: system.send(self.path, timed_out, sender=self.path)
        )
        system.send(
            to,
            message,
            sender=self.path,
            correlation_id=cid,
            reply_to=self.path,
            logical_time=self.tick(),
        )
        return cid

    def _remember_expired(self, cid: CorrelationId) -> None:
        expired = self._expired
        if expired is None:
            expired = self._expired = {}
        expired[cid] = None
        if len(expired) > _EXPIRED_MEMORY:
            del expired[next(iter(expired))]  # dicts keep insertion order

    def schedule(self, delay: float, message: Message, to: ActorPath) -> TimerId:
        """Deliver ``message`` to ``to`` after ``delay`` seconds of the clock."""
        timer_id = TimerId(self.system.ids.new_id(f"timer:{self.path}"))

        def fire() -> None:
            timers = self._timers  # the clock's thread: read once, it may be swapped out
            if timers is not None:
                timers.pop(timer_id, None)
            self.system.send(to, message, sender=self.path)

        timers = self._timers
        if timers is None:
            timers = self._timers = {}
        timers[timer_id] = self.system.clock.call_later(delay, fire)
        return timer_id

    def cancel_timer(self, timer_id: TimerId) -> bool:
        """Cancel a scheduled delivery; return whether it was pending."""
        handle = None if self._timers is None else self._timers.pop(timer_id, None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def _cancel_timers_and_requests(self) -> None:
        # Swapped out, not iterated in place: a timer firing on the clock's thread pops
        # itself from _timers meanwhile (each cancel below is Python code, between whose
        # steps that thread may run), which raised "dictionary changed size".
        timers, self._timers = self._timers, None
        for handle in list(timers.values()) if timers else ():
            handle.cancel()
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for cid, handle in pending.items():
            handle.cancel()
            self._remember_expired(cid)

    # -- inspection (any thread) -----------------------------------------------------

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of this actor's counters."""
        return ActorStatistics(
            path=self.path,
            behaviour=self.recipe.name,
            is_alive=not self.terminated.is_set(),
            is_suspended=self.suspended,
            mailbox_depth=len(self.mailbox),
            processed=self.processed,
            failed=self.failed,
            restarts=self.restarts,
            dead_letters=self.system.dead_letters.count_for(self.path),
            late_replies=self.late_replies,
            children=len(self.children),
        )


def _snapshot(children: dict[ActorPath, Cell]) -> list[ActorPath]:
    """Copy another thread's children dict, retrying if it changes while being copied."""
    for _ in range(100):
        try:
            return list(children)
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return []


_SYSTEM_HANDLERS: dict[type[Message], Callable[[Cell, Any], None]] = {
    ChildFailed: Cell._on_child_failed,
    ChildStopped: Cell._on_child_stopped,
    Supervise: Cell._on_supervise,
    DirectiveDone: Cell._on_directive_done,
    StopActor: Cell._on_stop_actor,
    StopTimedOut: Cell._on_stop_timed_out,
}
