"""The context a behaviour's handlers get: send, reply, request, schedule, run effects,
spawn, stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, final

from loguru import logger
from pydantic import JsonValue

from actorflow.clock import Clock, to_seconds
from actorflow.errors import RoutingError
from actorflow.ids import ActorPath, CorrelationId, TimerId
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import EffectRecorded
from actorflow.runtime._run_effect import Work, start_effect
from actorflow.runtime.behaviour import Behaviour, Recipe
from actorflow.runtime.mailbox import MailboxConfig
from actorflow.runtime.supervision import RestartType, SupervisorStrategy

if TYPE_CHECKING:
    from loguru import Logger

    from actorflow.runtime.cell import Cell
    from actorflow.runtime.system import ActorSystem

__all__ = ["Context"]


@final
class Context:
    """What a handler may do; valid only on its actor's thread.

    One context per actor; ``envelope`` is the delivery being handled (``None``
    in ``on_start``/``on_stop``).
    """

    __slots__ = ("_cell", "_log", "envelope")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self.envelope: Envelope | None = None
        self._log: Logger | None = None

    @property
    def log(self) -> Logger:
        """The logger, bound to this actor's ``path`` and the system's ``run_id`` (bound on
        first use: a binding costs a few hundred bytes, and most actors never log)."""
        log = self._log
        if log is None:
            cell = self._cell
            log = self._log = logger.bind(path=cell.path, run_id=cell.system.run_id)
        return log

    @log.setter
    def log(self, log: Logger) -> None:
        self._log = log

    @property
    def path(self) -> ActorPath:
        """This actor's path."""
        return self._cell.path

    @property
    def parent(self) -> ActorPath | None:
        """The parent's path (``None`` for the root)."""
        return None if self._cell.parent is None else self._cell.parent.path

    @property
    def children(self) -> tuple[ActorPath, ...]:
        """Paths of live children, in start order."""
        cell = self._cell
        if cell.births:
            cell.adopt_births()
        return tuple(cell.children)

    @property
    def sender(self) -> ActorPath | None:
        """Sender of the message being handled (``None`` if it came from outside)."""
        return None if self.envelope is None else self.envelope.sender

    @property
    def system(self) -> ActorSystem:
        """The actor system (for spawning and statistics; never block on it here)."""
        return self._cell.system

    @property
    def clock(self) -> Clock:
        """The system's clock; read time through it, never through ``time``."""
        return self._cell.system.clock

    def now(self) -> datetime:
        """Return the clock's current UTC time, recorded in the journal as a ``clock`` effect."""
        now = self._cell.system.clock.now()
        self.record_effect("clock", now.isoformat(), name="now")
        return now

    def new_id(self, prefix: str) -> str:
        """Return a new id from the system's id factory, recorded as an ``id`` effect."""
        new = self._cell.system.ids.new_id(prefix)
        self.record_effect("id", new, name=prefix)
        return new

    def record_effect(self, effect: str, value: JsonValue, *, name: str = "") -> None:
        """Record a value that came from outside the actors (a tool result, a model output,
        a human answer) in the journal, so a replay can use it instead of the outside world.

        This is the one path every edge actor uses to record its effects.
        """
        env = self.envelope
        self._cell.system.emit(
            EffectRecorded(
                actor=self._cell.path,
                effect=effect,
                name=name,
                value=value,
                during_seq=None if env is None else env.seq,
            )
        )

    def tell(self, to: ActorPath, message: Message) -> None:
        """Send ``message`` to ``to``; never blocks. Undeliverable mail becomes a dead letter."""
        cell = self._cell
        cell.system.send(to, message, sender=cell.path, logical_time=cell.tick())

    def reply(self, message: Message, *, to: Envelope | None = None) -> None:
        """Answer the message being handled (or the earlier envelope ``to``), keeping its
        correlation id, so an outside ``ask`` or a ``ctx.request`` gets it as the reply.

        Raises:
            RoutingError: the message had no reply-to path and no sender.
        """
        env = to or self.envelope
        target = None if env is None else (env.reply_to or env.sender)
        if env is None or target is None:
            raise RoutingError(
                f"Actor {self.path!r} cannot reply: the message came from outside without "
                "a reply slot. Use ActorSystem.ask() when a reply is expected."
            )
        cell = self._cell
        cell.system.send(
            target,
            message,
            sender=cell.path,
            correlation_id=env.correlation_id,
            logical_time=cell.tick(),
        )

    def request(
        self, to: ActorPath, message: Message, *, timeout: float | timedelta
    ) -> CorrelationId:
        """Send a request; its reply, or a ``RequestTimedOut``, arrives later as a message.

        The reply keeps the returned correlation id. A reply after the timeout is a
        ``late_reply`` dead letter. If the request itself becomes a dead letter, a
        ``DeliveryFailed`` arrives in place of the reply.
        """
        return self._cell.request(to, message, to_seconds(timeout))

    def schedule(
        self, delay: float | timedelta, message: Message, *, to: ActorPath | None = None
    ) -> TimerId:
        """Deliver ``message`` to ``to`` (default: this actor) after ``delay``, by the clock."""
        return self._cell.schedule(to_seconds(delay), message, to or self._cell.path)

    def cancel_timer(self, timer_id: TimerId) -> bool:
        """Cancel a scheduled message; return whether it was still pending."""
        return self._cell.cancel_timer(timer_id)

    def run_effect(
        self, work: Work, *, name: str = "", timeout: float | timedelta | None = None
    ) -> CorrelationId:
        """Run ``work`` outside this actor; its result or error comes back as a message.

        ``work`` is a coroutine function or a coroutine (run on the effects event loop),
        or a blocking callable (run in the effects thread pool; if it returns an
        awaitable, that is awaited on the loop). This handler does not wait: later this
        actor gets ``EffectCompleted(effect_id, name, result)`` or, if the work raised,
        timed out or returned something that is not JSON data,
        ``EffectFailed(effect_id, name, error)`` with the error's type in
        ``error.error_type``. Both carry the returned id (also as the envelope's
        correlation id), are journaled as deliveries, and the outcome is recorded as an
        ``effect`` event (``EffectRecorded`` named by the effect id).

        Stopping or restarting this actor cancels its pending effects: a coroutine gets
        ``CancelledError`` at its ``await``; a blocking call is abandoned (its thread runs
        on, its result is dropped). Nothing is delivered for a cancelled effect; a result
        that raced the cancellation becomes a dead letter (``late_reply`` after a restart,
        ``stopped`` after a stop).

        Args:
            work: what to run, for example ``partial(client.complete, prompt)``.
            name: a label for the outcome message and the journal (a tool name, a model).
            timeout: cancel the work after this long by the system's clock; the actor
                then gets ``EffectFailed`` with ``builtins.TimeoutError``.

        Returns:
            The effect id, to match the outcome message to this call.

        Raises:
            ConfigurationError: ``work`` is neither awaitable nor callable, or ``timeout``
                is not a finite, non-negative number of seconds (or timedelta).
        """
        env = self.envelope
        return start_effect(
            self._cell,
            work,
            name=name,
            timeout=None if timeout is None else to_seconds(timeout, what="effect timeout"),
            during_seq=None if env is None else env.seq,
        )

    def spawn(
        self,
        behaviour: Recipe | type[Behaviour],
        name: str,
        *,
        restart: RestartType = RestartType.PERMANENT,
        strategy: SupervisorStrategy | None = None,
        mailbox: MailboxConfig | None = None,
    ) -> ActorPath:
        """Spawn a child of this actor and return its path."""
        return self._cell.system.spawn(
            behaviour,
            name,
            parent=self._cell.path,
            restart=restart,
            strategy=strategy,
            mailbox=mailbox,
        )

    def stop(self, path: ActorPath | None = None) -> None:
        """Ask ``path`` (default: this actor) to stop after its current message."""
        self._cell.system.stop_nowait(path or self._cell.path, sender=self._cell.path)
