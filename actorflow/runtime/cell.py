"""The cell: a pykka actor that owns an actor's thread, mailbox and path, and never dies
of a user exception.

The behaviour (the user's handlers) lives inside the cell. When it raises, the
cell turns the failing message into a dead letter, suspends its user lane and
tells its parent; the parent's :class:`SupervisorStrategy` answers with a
directive. The cell also plays the supervisor for its own children: restarts and
stops of several children run as a sequence of directives, each acknowledged
before the next is sent, so they happen in order without anyone blocking.

Every method here runs on the cell's own thread unless its docstring says otherwise.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, final

import pykka
from loguru import logger
from pykka import messages as pykka_messages

from actorflow.clock import TimerHandle
from actorflow.errors import BlockingCallError, EscalationError, InvalidMessageError
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
from actorflow.runtime.effects import LoopDispatcher
from actorflow.runtime.mailbox import Mailbox, MailboxConfig, OverflowPolicy, PutResult
from actorflow.runtime.stats import ActorStatistics
from actorflow.runtime.supervision import RestartIntensity, RestartType, SupervisorStrategy

if TYPE_CHECKING:
    from actorflow.runtime.system import ActorSystem

__all__ = ["Cell", "current_cell", "error_info", "forbid_blocking"]

Action = Literal["resume", "suspend", "terminate", "start"]

_local = threading.local()
_DRAIN_ROUNDS = 16
"""Batches an event-loop cell processes per drain before yielding to other callbacks."""
_ESCALATION = f"{EscalationError.__module__}.{EscalationError.__qualname__}"
_ESCALATION_BASES = tuple(f"{c.__module__}.{c.__qualname__}" for c in EscalationError.__mro__[1:])
_EXPIRED_MEMORY = 4096


def current_cell() -> Cell | None:
    """Return the cell whose thread is calling, or ``None`` outside the actor system."""
    cell: Cell | None = getattr(_local, "cell", None)
    return cell


def forbid_blocking(what: str) -> None:
    """Raise :class:`BlockingCallError` if called on an actor thread (any thread)."""
    cell = current_cell()
    if cell is not None:
        raise BlockingCallError(
            f"{what} would block the thread of actor {cell.path!r} inside a handler, "
            "where waiting on another actor deadlocks. Use ctx.request(path, message, "
            "timeout=...) and handle the reply as a message instead."
        )


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe ``exc`` as a serialisable :class:`ErrorInfo`."""
    names = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
    tb = "".join(traceback.format_exception(exc, limit=6))
    return ErrorInfo(error_type=names[0], error_types=names[1:], message=str(exc), traceback=tb)


class _GuardedFuture(pykka.ThreadingFuture[Any]):
    """A pykka future whose blocking ``get`` refuses to run on an actor thread."""

    def get(self, *, timeout: float | None = None) -> Any:
        forbid_blocking("Future.get()")
        return super().get(timeout=timeout)


@final
class Cell(pykka.ThreadingActor):
    """Owns one actor's thread, mailbox, path and behaviour; supervises its children."""

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
        self._mailbox_config = mailbox  # read by _create_actor_inbox in super().__init__
        self._dispatcher = dispatcher
        super().__init__()
        self.system = system
        self.path = path
        self.parent = parent
        self.recipe = recipe
        self.restart_type = restart
        self.strategy = strategy
        self.mailbox: Mailbox = self.actor_inbox  # type: ignore[assignment] # ours, see below
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
        self._expired: dict[CorrelationId, None] = {}
        self._timers: dict[TimerId, TimerHandle] = {}
        # supervisor state (lists, not deques: most actors never supervise anything)
        self._intensity = RestartIntensity(strategy.max_restarts, strategy.within)
        self._plan: list[tuple[ActorPath, Action]] = []
        self._plan_waiting: tuple[ActorPath, Action] | None = None
        self._deferred: list[ChildFailed] = []
        self._stop_queue: list[ActorPath] = []
        self._awaiting_stop: ActorPath | None = None
        self._stop_timer: TimerHandle | None = None
        self._after_children: Callable[[], None] | None = None
        self._stop_requested: set[ActorPath] = set()
        # own lifecycle
        self._stopping = False
        self._stop_reason = "requested"
        self._finished = False
        self._pykka_stop_futures: list[pykka.Future[Any]] = []

    @property
    def is_finished(self) -> bool:
        """Whether the cell has stopped processing (its path is released)."""
        return self._finished

    @property
    def terminated(self) -> threading.Event:
        """Set once the cell's thread has finished (pykka's ``actor_stopped``)."""
        return self.actor_stopped

    # -- pykka extension points ------------------------------------------------------

    def _create_actor_inbox(self) -> Mailbox:  # type: ignore[override] # needs self for config
        return Mailbox(self._mailbox_config)

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return _GuardedFuture()

    def _start_actor_loop(self) -> None:
        """Start the cell: its own thread, or callbacks on its dispatcher's event loop."""
        dispatcher = self._dispatcher
        if dispatcher is not None:
            self.mailbox.on_wake(lambda: dispatcher.schedule(self._drain))
            dispatcher.schedule(self._loop_begin)
            return
        self.thread = threading.Thread(target=self._run, name=f"actorflow:{self.path}", daemon=True)
        self.thread.start()

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
        self._begin()
        try:
            mailbox = self.mailbox
            while not self._finished:
                system, user = mailbox.take(include_user=not (self.suspended or self._stopping))
                self._process(system, user)
        except BaseException:
            logger.opt(exception=True).critical("Actor cell {path} crashed", path=self.path)
            raise
        finally:
            self._end()

    def _begin(self) -> None:
        _local.cell = self
        self.ctx.log = logger.bind(path=self.path, run_id=self.system.run_id)
        self._build_and_start()

    def _end(self) -> None:
        for future in self._pykka_stop_futures:
            future.set(None)
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
        except BaseException:
            logger.opt(exception=True).critical("Actor cell {path} crashed", path=self.path)
            raise
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
            elif cid in self._expired:
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
        except Exception as exc:  # noqa: BLE001 - the actor boundary: failures become messages
            self._fail(env, exc)
            return
        finally:
            ctx.envelope = None
        self.processed += 1

    # -- behaviour lifecycle ---------------------------------------------------------

    def _build_and_start(self) -> bool:
        try:
            self.behaviour = self.recipe.build()
            self.behaviour.on_start(self.ctx)
        except Exception as exc:  # noqa: BLE001 - the actor boundary
            self._fail(None, exc)
            return False
        return True

    def _stop_behaviour(self) -> None:
        behaviour, self.behaviour = self.behaviour, None
        if behaviour is None:
            return
        try:
            behaviour.on_stop(self.ctx)
        except Exception:  # noqa: BLE001 - the actor boundary: a failing on_stop still stops
            self.ctx.log.opt(exception=True).error("on_stop of {path} raised", path=self.path)

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
        if self.parent is None:
            self.system.root_failed(info)
            return
        report = ChildFailed(
            child=self.path, error=info, message_kind=kind, incarnation=self.incarnation
        )
        self.system.send(self.parent.path, report, sender=self.path, logical_time=self.tick())

    # -- system lane -----------------------------------------------------------------

    def adopt_births(self) -> None:
        """Take in children spawned for this cell from other threads (own thread)."""
        for child in self.system.take_births(self):
            self.children[child.path] = child
            if self._stopping:  # spawned while we stop: stop it too
                self._stop_requested.add(child.path)
                self.system.send(child.path, StopActor(reason="parent stopping"), sender=self.path)

    def _on_system_item(self, item: object) -> None:
        if self.births:
            self.adopt_births()
        if not isinstance(item, Envelope):
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
        self._intensity = RestartIntensity(self.strategy.max_restarts, self.strategy.within)
        self._plan.clear()
        self._plan_waiting = None
        self._deferred.clear()
        self.suspended = False
        self.system.emit(ActorRestarted(path=self.path, restarts=self.restarts))
        self._build_and_start()

    def _ack(self, action: Action) -> None:
        if self.parent is not None:
            done = DirectiveDone(child=self.path, action=action)
            self.system.send(self.parent.path, done, sender=self.path, logical_time=self.tick())

    # -- supervising children --------------------------------------------------------

    def _on_child_failed(self, msg: ChildFailed) -> None:
        child = self.children.get(msg.child)
        if child is None or child.incarnation != msg.incarnation or self._stopping:
            return  # stale report: the child was restarted or stopped meanwhile
        if self._plan_waiting is not None:
            self._deferred.append(msg)
            return
        directive, why = self._decide(msg, child)
        if directive is Directive.RESUME:
            self.system.send(child.path, Supervise(action="resume"), sender=self.path)
        elif directive is Directive.RESTART:
            self._restart_children(child)
        elif directive is Directive.STOP:
            self._stop_requested.add(child.path)
            self.system.send(child.path, StopActor(reason="supervisor"), sender=self.path)
        else:
            self._escalate(msg, why)

    def _decide(self, msg: ChildFailed, child: Cell) -> tuple[Directive, str]:
        try:
            directive = self.strategy.decider(msg)
        except Exception:  # noqa: BLE001 - a broken decider must not kill the supervisor
            self.ctx.log.opt(exception=True).error("Decider of {path} raised", path=self.path)
            return Directive.ESCALATE, "its decider raised"
        if directive is Directive.RESTART and child.restart_type is RestartType.TEMPORARY:
            return Directive.STOP, "temporary child"
        if directive is Directive.RESTART and not self._intensity.allow(
            self.system.clock.monotonic()
        ):
            s = self.strategy
            return Directive.ESCALATE, f"limit of {s.max_restarts} restarts in {s.within:g} s"
        return directive, "its decider said so"

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
        self._plan.extend((path, "start") for path in reversed(targets))
        self._plan.extend((path, "terminate") for path in targets)  # popped from the end
        self._next_step()

    def _next_step(self) -> None:
        while self._plan:
            path, action = self._plan.pop()
            if path in self.children:
                self._plan_waiting = (path, action)
                self.system.send(path, Supervise(action=action), sender=self.path)
                return
        self._plan_waiting = None
        while self._deferred and self._plan_waiting is None:
            self._on_child_failed(self._deferred.pop(0))

    def _on_directive_done(self, msg: DirectiveDone) -> None:
        if self._plan_waiting == (msg.child, msg.action):
            self._next_step()

    def _on_child_stopped(self, msg: ChildStopped) -> None:
        child = self.children.pop(msg.child, None)
        requested = msg.child in self._stop_requested
        self._stop_requested.discard(msg.child)
        if self._awaiting_stop == msg.child:
            self._awaiting_stop = None
            if self._stop_timer is not None:
                self._stop_timer.cancel()
            self._stop_next_child()
        elif (
            child is not None
            and not requested
            and msg.reason == "self"
            and not self._stopping
            and child.restart_type is RestartType.PERMANENT
        ):
            self._respawn(child)
        if self._plan_waiting is not None and self._plan_waiting[0] == msg.child:
            self._next_step()

    def _respawn(self, old: Cell) -> None:
        # A permanent child that stopped by itself comes back (OTP's "permanent").
        if not self._intensity.allow(self.system.clock.monotonic()):
            info = ErrorInfo(error_type="stopped", message="kept stopping by itself")
            s = self.strategy
            why = f"limit of {s.max_restarts} restarts in {s.within:g} s"
            self._escalate(ChildFailed(child=old.path, error=info), why)
            return
        self.system.spawn(
            old.recipe,
            old.path.rsplit("/", 1)[1],
            parent=self.path,
            restart=old.restart_type,
            strategy=old.strategy,
            mailbox=old.mailbox.config,
        )

    # -- stopping --------------------------------------------------------------------

    def _on_stop_actor(self, msg: StopActor) -> None:
        self._begin_stop(msg.reason)

    def _begin_stop(self, reason: str) -> None:
        if self._stopping or self._finished:
            return
        self._stopping = True
        self._stop_reason = reason
        self._cancel_timers_and_requests()
        self._plan.clear()
        self._deferred.clear()
        self._stop_children_then(self._finish_stop)

    def _stop_children_then(self, then: Callable[[], None]) -> None:
        self._after_children = then
        self._stop_queue = list(self.children)  # popped from the end: reverse start order
        self._stop_next_child()

    def _stop_next_child(self) -> None:
        while self._stop_queue:
            path = self._stop_queue.pop()
            if path in self.children:
                self._awaiting_stop = path
                self._stop_requested.add(path)
                self.system.send(path, StopActor(reason="parent stopping"), sender=self.path)
                self._stop_timer = self.system.clock.call_later(
                    self.strategy.stop_timeout, partial(self._report_stop_timeout, path)
                )
                return
        then, self._after_children = self._after_children, None
        if then is not None:
            then()

    def _report_stop_timeout(self, path: ActorPath) -> None:
        """Timer callback (timer thread): tell this cell a child did not stop in time."""
        self.system.send(self.path, StopTimedOut(child=path), sender=self.path)

    def _on_stop_timed_out(self, msg: StopTimedOut) -> None:
        path = msg.child
        if self._awaiting_stop != path:
            return
        child = self.children.pop(path, None)
        logger.error(
            "Actor {child} did not stop within {t} s; abandoning its thread",
            child=path,
            t=self.strategy.stop_timeout,
        )
        if child is not None:
            child.abandon()
        self._awaiting_stop = None
        self._stop_next_child()

    def abandon(self) -> None:
        """Release the path and dead-letter the mailbox of a hung cell (any thread)."""
        for orphan in self.system.unregister(self.path, self):
            self.system.send(orphan.path, StopActor(reason="parent hung"), sender=self.path)
        for env in self.mailbox.close():
            if isinstance(env, Envelope):
                self.system.dead_letters.record(
                    DeadLetterReason.STOPPED, env=env, detail="the actor hung while stopping"
                )

    def _finish_stop(self) -> None:
        self._stop_behaviour()
        self.suspended = True
        for env in self.mailbox.close():
            if isinstance(env, Envelope):
                self.system.dead_letters.record(
                    DeadLetterReason.STOPPED, env=env, detail="the actor stopped first"
                )
        for orphan in self.system.unregister(self.path, self):
            self.system.send(orphan.path, StopActor(reason="parent stopped"), sender=self.path)
        self.system.emit(ActorStopped(path=self.path, reason=self._stop_reason))
        self._finished = True
        if self.parent is not None:
            stopped = ChildStopped(child=self.path, reason=self._stop_reason)
            self.system.send(self.parent.path, stopped, sender=self.path, logical_time=self.tick())
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
        self._expired[cid] = None
        if len(self._expired) > _EXPIRED_MEMORY:
            del self._expired[next(iter(self._expired))]  # dicts keep insertion order

    def schedule(self, delay: float, message: Message, to: ActorPath) -> TimerId:
        """Deliver ``message`` to ``to`` after ``delay`` seconds of the clock."""
        timer_id = TimerId(self.system.ids.new_id(f"timer:{self.path}"))

        def fire() -> None:
            self._timers.pop(timer_id, None)
            self.system.send(to, message, sender=self.path)

        self._timers[timer_id] = self.system.clock.call_later(delay, fire)
        return timer_id

    def cancel_timer(self, timer_id: TimerId) -> bool:
        """Cancel a scheduled delivery; return whether it was pending."""
        handle = self._timers.pop(timer_id, None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def _cancel_timers_and_requests(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for cid, handle in self._pending.items():
            handle.cancel()
            self._remember_expired(cid)
        self._pending.clear()

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


_SYSTEM_HANDLERS: dict[type[Message], Callable[[Cell, Any], None]] = {
    ChildFailed: Cell._on_child_failed,
    ChildStopped: Cell._on_child_stopped,
    Supervise: Cell._on_supervise,
    DirectiveDone: Cell._on_directive_done,
    StopActor: Cell._on_stop_actor,
    StopTimedOut: Cell._on_stop_timed_out,
}
