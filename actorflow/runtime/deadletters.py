"""Dead letters: every message nobody could process, counted, kept and published.

Recording is synchronous and exact (a lock-guarded counter per reason and per
recipient), so ``sent == processed + dead letters + queued`` holds at any quiet
moment. Publishing is asynchronous: each dead letter is delivered as a
:class:`~actorflow.messages.DeadLetter` message to the ``/system/deadletters``
actor, which calls subscribed callbacks and tells subscribed actors on its own
thread, so a slow subscriber never stalls the actor that produced the dead letter.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, final

from loguru import logger

from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeadLetter, DeadLetterReason, DeliveryFailed
from actorflow.runtime.behaviour import Behaviour

if TYPE_CHECKING:
    from actorflow.runtime.context import Context
    from actorflow.runtime.system import ActorSystem

__all__ = ["DEADLETTERS_PATH", "DeadLetterOffice", "DeadLetterPublisher"]

DEADLETTERS_PATH = ActorPath("/system/deadletters")
_RECENT = 1000

DeadLetterCallback = Callable[[DeadLetter], None]


@final
class DeadLetterOffice:
    """Counts, keeps the most recent, and publishes dead letters (thread-safe)."""

    def __init__(self, system: ActorSystem) -> None:
        self._system = system
        self._lock = threading.Lock()
        self._by_reason: Counter[DeadLetterReason] = Counter()
        self._by_recipient: Counter[str] = Counter()
        self._recent: deque[DeadLetter] = deque(maxlen=_RECENT)
        self._callbacks: tuple[DeadLetterCallback, ...] = ()
        self._actors: tuple[ActorPath, ...] = ()
        self._changed = threading.Condition(self._lock)

    def record(
        self,
        reason: DeadLetterReason,
        *,
        env: Envelope | None = None,
        recipient: ActorPath | None = None,
        message: Message | None = None,
        detail: str = "",
    ) -> DeadLetter:
        """Record one dead letter (any thread) and return it.

        Either ``env`` or ``recipient`` (and optionally ``message``) says what was lost.
        """
        if env is not None:
            letter = DeadLetter(
                reason=reason,
                recipient=env.recipient,
                sender=env.sender,
                seq=env.seq,
                message=env.message,
                detail=detail,
            )
        else:
            letter = DeadLetter(
                reason=reason, recipient=recipient or ActorPath("/"), message=message, detail=detail
            )
        with self._lock:
            self._by_reason[reason] += 1
            self._by_recipient[letter.recipient] += 1
            self._recent.append(letter)
            self._changed.notify_all()
        logger.warning(
            "Dead letter to {recipient}: {reason} {kind} {detail}",
            recipient=letter.recipient,
            reason=reason.value,
            kind=None if letter.message is None else letter.message.kind_tag,
            detail=detail,
        )
        self._system.emit(letter)
        if env is not None:
            self._answer_requester(env, reason, detail)
        self._publish(letter)
        return letter

    def _answer_requester(self, env: Envelope, reason: DeadLetterReason, detail: str) -> None:
        if env.reply_to is None or isinstance(env.message, DeliveryFailed):
            return
        failed = DeliveryFailed(
            recipient=env.recipient,
            request_kind=env.message.kind_tag or "",
            reason=reason,
            detail=detail,
        )
        self._system.send(
            env.reply_to, failed, sender=env.recipient, correlation_id=env.correlation_id
        )

    def _publish(self, letter: DeadLetter) -> None:
        if not (self._callbacks or self._actors):
            return
        if letter.recipient == DEADLETTERS_PATH or isinstance(letter.message, DeadLetter):
            return  # a lost publication is not published again: that could loop forever
        self._system.send(DEADLETTERS_PATH, letter, quiet=True)

    def subscribe(self, callback: DeadLetterCallback) -> Callable[[], None]:
        """Call ``callback(dead_letter)`` for each new dead letter; return an unsubscribe function.

        Callbacks run on the ``/system/deadletters`` actor's thread.
        """
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)

        return unsubscribe

    def subscribe_actor(self, path: ActorPath) -> None:
        """Tell the actor at ``path`` a ``DeadLetter`` message for each new dead letter."""
        with self._lock:
            if path not in self._actors:
                self._actors = (*self._actors, path)

    def unsubscribe_actor(self, path: ActorPath) -> None:
        """Stop telling ``path`` about dead letters."""
        with self._lock:
            self._actors = tuple(p for p in self._actors if p != path)

    def subscribers(self) -> tuple[tuple[DeadLetterCallback, ...], tuple[ActorPath, ...]]:
        """Return the current callback and actor subscribers."""
        return self._callbacks, self._actors

    @property
    def total(self) -> int:
        """How many dead letters were recorded."""
        with self._lock:
            return sum(self._by_reason.values())

    def counts(self) -> Mapping[str, int]:
        """Return dead letters counted by reason."""
        with self._lock:
            return {reason.value: n for reason, n in self._by_reason.items()}

    def count_for(self, recipient: ActorPath) -> int:
        """Return how many dead letters were addressed to ``recipient``."""
        with self._lock:
            return self._by_recipient[recipient]

    def recent(self) -> tuple[DeadLetter, ...]:
        """Return up to the last 1000 dead letters, oldest first."""
        with self._lock:
            return tuple(self._recent)

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Block until at least ``count`` dead letters were recorded; False on timeout."""
        from actorflow.runtime.cell import forbid_blocking  # noqa: PLC0415 - avoids a cycle

        forbid_blocking("DeadLetterOffice.wait_for()")
        with self._lock:
            return self._changed.wait_for(lambda: sum(self._by_reason.values()) >= count, timeout)


class DeadLetterPublisher(Behaviour):
    """The ``/system/deadletters`` behaviour: hands each dead letter to the subscribers."""

    def __init__(self, office: DeadLetterOffice) -> None:
        self._office = office

    def on_dead_letter(self, msg: DeadLetter, ctx: Context) -> None:
        """Call every callback subscriber and tell every actor subscriber."""
        callbacks, actors = self._office.subscribers()
        for callback in callbacks:
            try:
                callback(msg)
            except Exception:  # noqa: BLE001 - one bad subscriber must not starve the rest
                ctx.log.opt(exception=True).error(
                    "Dead-letter subscriber {cb!r} raised", cb=callback
                )
        for path in actors:
            ctx.tell(path, msg)
