"""The human gateway at ``/system/human``: human requests in, one outcome each out.

A :class:`~actorflow.human.messages.HumanRequest` is stored (in a
:class:`~actorflow.human.pending.PendingRequests`) with an absolute deadline on the
system clock, handed to a handler on the effects runner (or left for an answer from
outside, :class:`~actorflow.human.messages.AnswerHumanRequest`), and ends exactly once:
answered, timed out, cancelled or failed. The requester is told a
:class:`~actorflow.human.messages.HumanResponse`.

Nothing here waits: the deadline is a timer message, the handler's answer comes back
as a message, so every event that decides a request is a journaled delivery, and
whichever of an answer and a deadline the gateway takes first decides (an answer sent
at or after the deadline, by the envelope's clock time, is late whatever the order).
An accepted answer is recorded as a ``human`` effect named by the request id.

When the gateway starts (first start, restart, a new process over a lasting
``PendingRequests``), it re-arms every open request's deadline as stored (one already
past times out at once) and asks its handler again.

With a write-ahead ``PendingRequests`` (:class:`~actorflow.human.durable.
DurablePendingRequests`), every change is sent to the store as a request, and what the
outside sees of it (the handler asked, an outcome told, a reply) waits for the store's
acknowledgement, which comes as a message: nothing here waits for the disk.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import JsonValue

from actorflow.errors import (
    AlreadyAnsweredError,
    ConfigurationError,
    HumanInputError,
    HumanResponseExpiredError,
    UnknownHumanRequestError,
)
from actorflow.human._asking import HumanHandlers, ask_handler
from actorflow.human.durable import WriteAhead
from actorflow.human.messages import (
    AnswerHumanRequest,
    CancelHumanRequest,
    DeadlinePassed,
    HandlerAnswered,
    HandlerFailed,
    HumanAnswerAccepted,
    HumanCommandRefused,
    HumanRequest,
    HumanRequestsListed,
    HumanResponse,
    ListHumanRequests,
    PendingRecord,
    Waiter,
)
from actorflow.human.models import ErrorPolicy, HumanOutcome, TimeoutPolicy
from actorflow.human.pending import PendingRequests, ended_error
from actorflow.human.validation import check_request, validate_answer
from actorflow.ids import ActorPath, CorrelationId, TimerId
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeliveryFailed, ErrorInfo, RequestTimedOut
from actorflow.runtime.behaviour import Behaviour
from actorflow.runtime.cell import error_info
from actorflow.runtime.context import Context
from actorflow.runtime.effects import EffectHandle

__all__ = ["HUMAN_PATH", "HumanGateway"]

HUMAN_PATH = ActorPath("/system/human")
"""Where the actor system hosts its human gateway."""
WRITE_TIMEOUT = 60.0
"""Seconds a write-ahead of a durable ``PendingRequests`` may take (by the clock)."""


class HumanGateway(Behaviour):
    """Behaviour of ``/system/human`` (see the module docstring).

    Args:
        pending: where requests are kept (outlives the behaviour: restarts re-arm).
        handlers: the handlers requests are handed to, by name.
    """

    def __init__(self, pending: PendingRequests, handlers: HumanHandlers) -> None:
        self.pending = pending
        self.handlers = handlers
        self.timers: dict[str, TimerId] = {}
        """The deadline timer of each open request."""
        self.asking: dict[str, EffectHandle] = {}
        """The handler call under way for each open request."""
        self.unasked: set[str] = set()
        """Open requests whose handler was not registered when they were started."""
        self.durable = pending if isinstance(pending, WriteAhead) else None
        self.unacked: dict[CorrelationId, list[Callable[[], None]]] = {}
        """Writes sent and not acknowledged yet, oldest first, each with what waits
        for it."""

    # -- lifecycle (the gateway's thread) ---------------------------------------------

    def on_start(self, ctx: Context) -> None:
        """Re-arm the deadline of every open request and ask its handler again."""
        records = self.pending.list_pending()
        for record in records:
            self._start_stage(record, ctx)
        if records:
            ctx.log.info("Human gateway re-armed {count} open request(s)", count=len(records))

    def on_stop(self, ctx: Context) -> None:
        """Cancel the handler calls under way (the cell cancels the timers)."""
        for handle in self.asking.values():
            handle.cancel()
        self.asking.clear()

    # -- requests ---------------------------------------------------------------------

    def on_human_request(self, msg: HumanRequest, ctx: Context) -> None:
        """Store a new request, arm its deadline and hand it to its handler."""
        reply_to, correlation_id = _reply_slot(msg, ctx)
        known = self.pending.get(msg.request_id)
        if known is not None:
            self._rejoin(known, msg, reply_to, correlation_id, ctx)
            return
        try:
            check_request(msg)
        except ConfigurationError as exc:
            self._refuse_request(msg, exc, reply_to, correlation_id, ctx)
            return
        now = _now(ctx)
        deadline = msg.deadline if msg.deadline is not None else now + msg.timeout
        record = PendingRecord(
            request=msg,
            deadline=deadline,
            asked_at=now,
            reply_to=reply_to,
            correlation_id=correlation_id,
        )
        self.pending.put(record)
        ctx.log.info(
            "Human request {request_id} ({type}) open until {deadline}",
            request_id=msg.request_id,
            type=msg.type.value,
            deadline=deadline,
        )
        self._start_stage(record, ctx)

    def on_list_human_requests(self, msg: ListHumanRequests, ctx: Context) -> None:
        """Reply with the open requests (once every change before is stored)."""
        self._reply(HumanRequestsListed(records=self.pending.list_pending()), ctx)

    # -- write-ahead acknowledgements (a durable PendingRequests) ----------------------
    # The store's replies are handled by name (WriteResponse, StoreRequestFailed), so
    # this layer imports no store.

    def on_write_response(self, msg: Message, ctx: Context) -> None:
        """A write-ahead is stored: what waited for it goes ahead."""
        self._acknowledged(msg, ctx)

    def on_store_request_failed(self, msg: Message, ctx: Context) -> None:
        """A write-ahead failed: logged; what waited for it goes ahead unstored."""
        self._acknowledged(msg, ctx)

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        """A write-ahead got no answer in time: as a failed one."""
        self._acknowledged(msg, ctx, msg.correlation_id)

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        """A write-ahead reached no store: as a failed one."""
        self._acknowledged(msg, ctx)

    # -- what decides a request -------------------------------------------------------

    def on_answer_human_request(self, msg: AnswerHumanRequest, ctx: Context) -> None:
        """Take an answer from outside the handler, or refuse it with the reason."""
        try:
            record = self._open_for_answer(msg.request_id, ctx)
            value = self._accept(record, msg.value, msg.responder, ctx)
        except HumanInputError as exc:
            self._reply(HumanCommandRefused(request_id=msg.request_id, error=error_info(exc)), ctx)
            return
        self._reply(HumanAnswerAccepted(request_id=msg.request_id, value=value), ctx)

    def on_handler_answered(self, msg: HandlerAnswered, ctx: Context) -> None:
        """Take the handler's answer; an invalid one leaves the request open."""
        record = self._current(msg.request_id, msg.stage)
        if record is None:
            return  # the request ended, or moved on to an escalation, meanwhile
        self.asking.pop(msg.request_id, None)
        try:
            self._accept(record, msg.value, msg.responder, ctx)
        except HumanInputError as exc:
            # Which request and why, not the answer or the question (they may be secret).
            ctx.log.warning(
                "The handler's answer to human request {request_id} was refused ({kind})",
                request_id=msg.request_id,
                kind=type(exc).__name__,
            )
            ctx.log.trace("Refused answer: {error}", error=str(exc))

    def on_handler_failed(self, msg: HandlerFailed, ctx: Context) -> None:
        """Apply the request's error policy: fail it, wait on, or escalate."""
        record = self._current(msg.request_id, msg.stage)
        if record is None:
            return
        self.asking.pop(msg.request_id, None)
        policy = record.request.on_error
        error = msg.error
        ctx.log.warning(
            "The handler of human request {request_id} raised {error_type}: {error}",
            request_id=msg.request_id,
            error_type=error.error_type,
            error=error.message,
        )
        if policy is ErrorPolicy.WAIT:
            return
        if policy is ErrorPolicy.ESCALATE and record.stage == 0:
            self._escalate(record, _now(ctx) + _escalation_seconds(record), ctx)
            return
        why = f"its handler raised {error.error_type}: {error.message}"
        self._end(record, HumanOutcome.FAILED, ctx, error=error, reason=why)

    def on_deadline_passed(self, msg: DeadlinePassed, ctx: Context) -> None:
        """Apply the request's timeout policy."""
        record = self._current(msg.request_id, msg.stage)
        if record is None:
            return  # answered or cancelled first: the one outcome is taken
        self.timers.pop(msg.request_id, None)
        self._time_out(record, ctx)

    def on_cancel_human_request(self, msg: CancelHumanRequest, ctx: Context) -> None:
        """Cancel an open request; reply with its outcome, or refuse."""
        record = self.pending.get(msg.request_id)
        if record is None or record.outcome is not None:
            error = _unknown(msg.request_id) if record is None else ended_error(record)
            self._reply(
                HumanCommandRefused(request_id=msg.request_id, error=error_info(error)), ctx
            )
            return
        reason = msg.reason or "it was cancelled"
        response = self._end(record, HumanOutcome.CANCELLED, ctx, reason=reason)
        target = _reply_target(ctx)
        if (
            response is not None
            and target is not None
            and target not in {to for to, _ in record.waiters()}
        ):
            self._reply(response, ctx)

    # -- steps ------------------------------------------------------------------------

    def _start_stage(self, record: PendingRecord, ctx: Context) -> None:
        """Arm the record's deadline and hand it to the handler of its stage."""
        self._send_writes(ctx)  # the record is stored before anything it starts
        rid = record.request_id
        passed = DeadlinePassed(request_id=rid, stage=record.stage)
        delay = record.deadline - _now(ctx)
        if delay <= 0:
            ctx.tell(ctx.path, passed)  # past already (a restart after the deadline)
        else:
            self.timers[rid] = ctx.schedule(delay, passed)
        if not self._start_handler(record, ctx):
            ctx.log.info(
                "Human request {request_id} waits for an answer from outside", request_id=rid
            )

    def _start_handler(self, record: PendingRecord, ctx: Context) -> bool:
        """Hand ``record`` to the handler of its stage once it is stored; return False
        if no such handler is registered (it is tried again when the request is sent
        again)."""
        request, rid, stage = record.request, record.request_id, record.stage
        name = (
            request.handler or HumanHandlers.DEFAULT
            if stage == 0
            else request.escalate_to or HumanHandlers.ESCALATION
        )
        if self.handlers.get(name) is None:
            self.unasked.add(rid)
            return False
        self.unasked.discard(rid)
        self._after_writes(lambda: self._ask(rid, stage, name, ctx), ctx)
        return True

    def _ask(self, request_id: str, stage: int, name: str, ctx: Context) -> None:
        """Hand the request to handler ``name``, if it is still open at ``stage``."""
        record = self._current(request_id, stage)
        handler = self.handlers.get(name)
        if record is None or handler is None or request_id in self.asking:
            return
        self.asking[request_id] = ask_handler(ctx.system, ctx.path, handler, record.request, stage)

    def _time_out(self, record: PendingRecord, ctx: Context) -> None:
        request = record.request
        policy = request.on_timeout
        if policy is TimeoutPolicy.ESCALATE and record.stage == 0:
            self._escalate(record, record.deadline + _escalation_seconds(record), ctx)
        elif policy is TimeoutPolicy.DEFAULT:
            why = "nobody answered by the deadline; the default value was used"
            value = request.default_value
            self._end(
                record, HumanOutcome.TIMED_OUT, ctx, value=value, used_default=True, reason=why
            )
        else:
            self._end(record, HumanOutcome.TIMED_OUT, ctx, reason="nobody answered by the deadline")

    def _escalate(self, record: PendingRecord, deadline: float, ctx: Context) -> None:
        self._stop_asking(record.request_id, ctx)
        escalated = record.model_copy(update={"stage": 1, "deadline": deadline})
        self.pending.put(escalated)
        ctx.log.info(
            "Human request {request_id} escalated, open until {deadline}",
            request_id=record.request_id,
            deadline=deadline,
        )
        self._start_stage(escalated, ctx)

    def _accept(
        self, record: PendingRecord, value: JsonValue, responder: str | None, ctx: Context
    ) -> JsonValue:
        """End ``record`` answered with ``value``, recorded as a ``human`` effect.

        Raises:
            InvalidHumanAnswerError: the value does not fit (the request stays open).
            AlreadyAnsweredError, HumanResponseExpiredError: it ended meanwhile elsewhere
                (another process, through a shared store).
        """
        checked = validate_answer(record.request, value)
        response = self._end(
            record,
            HumanOutcome.ANSWERED,
            ctx,
            value=checked,
            responder=responder,
            reason="answered",
        )
        if response is None:
            stored = self.pending.get(record.request_id)
            assert stored is not None
            raise ended_error(stored)
        ctx.record_effect("human", checked, name=record.request_id)
        return checked

    def _end(
        self,
        record: PendingRecord,
        outcome: HumanOutcome,
        ctx: Context,
        *,
        value: JsonValue = None,
        used_default: bool = False,
        responder: str | None = None,
        error: ErrorInfo | None = None,
        reason: str = "",
    ) -> HumanResponse | None:
        """Resolve ``record`` and tell its requester; None if it had ended elsewhere (the
        stored outcome is told instead)."""
        request = record.request
        response = HumanResponse(
            request_id=request.request_id,
            outcome=outcome,
            value=value,
            used_default=used_default,
            responder=responder,
            answered_at=_now(ctx),
            error=error,
            reason=reason,
            flow_id=request.flow_id,
            step_id=request.step_id,
        )
        self._stop_asking(request.request_id, ctx)
        try:
            ended = self.pending.resolve(request.request_id, response)
        except (AlreadyAnsweredError, HumanResponseExpiredError, UnknownHumanRequestError):
            stored = self.pending.get(request.request_id)
            if stored is not None and stored.outcome is not None:
                told, waiters = stored.outcome, stored.waiters()
                self._after_writes(lambda: self._tell_all(waiters, told, ctx), ctx)
            return None
        ctx.log.info(
            "Human request {request_id} ended {outcome}: {reason}",
            request_id=request.request_id,
            outcome=outcome.value,
            reason=reason,
        )
        self.unasked.discard(request.request_id)
        waiters = ended.waiters()
        self._after_writes(lambda: self._tell_all(waiters, response, ctx), ctx)
        return response

    @staticmethod
    def _tell_all(
        waiters: tuple[tuple[ActorPath | None, CorrelationId | None], ...],
        message: Message,
        ctx: Context,
    ) -> None:
        for to, cid in waiters:
            _tell(to, cid, message, ctx)

    # -- helpers ----------------------------------------------------------------------

    def _current(self, request_id: str, stage: int) -> PendingRecord | None:
        """The open record at ``stage``, or None (a stale timer or handler answer)."""
        record = self.pending.get(request_id)
        if record is None or record.outcome is not None or record.stage != stage:
            return None
        return record

    def _open_for_answer(self, request_id: str, ctx: Context) -> PendingRecord:
        """The open record an answer may go to; deadlines at or before the answer's send
        time apply first.

        Raises:
            UnknownHumanRequestError, AlreadyAnsweredError, HumanResponseExpiredError.
        """
        record = self.pending.get(request_id)
        if record is None:
            raise _unknown(request_id)
        env = ctx.envelope
        sent_at = None if env is None else env.wall_time
        while record.outcome is None and sent_at is not None and sent_at >= record.deadline:
            self._time_out(record, ctx)  # the answer is late for this deadline
            record = self.pending.get(request_id)
            assert record is not None
        if record.outcome is not None:
            raise ended_error(record)
        return record

    def _rejoin(
        self,
        record: PendingRecord,
        msg: HumanRequest,
        reply_to: ActorPath | None,
        correlation_id: CorrelationId | None,
        ctx: Context,
    ) -> None:
        """A request sent again: tell its stored outcome, or tell the new sender later.

        An open request nobody asks (its handler was not registered: a new process) takes
        the handler the new sender names (a resumed flow registers under a new name)."""
        if record.outcome is not None:
            told = record.outcome
            self._after_writes(lambda: _tell(reply_to, correlation_id, told, ctx), ctx)
            return
        update: dict[str, object] = {}
        if reply_to is not None and (reply_to, correlation_id) not in record.waiters():
            # every sender of an open request is told its outcome (the first one too)
            update["also"] = (
                *record.also,
                Waiter(reply_to=reply_to, correlation_id=correlation_id),
            )
        unasked = record.request_id in self.unasked
        if unasked and record.stage == 0 and msg.handler != record.request.handler:
            update["request"] = record.request.model_copy(update={"handler": msg.handler})
        if update:
            record = record.model_copy(update=update)
            self.pending.put(record)
            self._send_writes(ctx)
        if unasked:  # its handler may be registered by now
            self._start_handler(record, ctx)

    def _refuse_request(
        self,
        msg: HumanRequest,
        exc: ConfigurationError,
        reply_to: ActorPath | None,
        correlation_id: CorrelationId | None,
        ctx: Context,
    ) -> None:
        ctx.log.warning(
            "Human request {request_id} refused ({kind})",
            request_id=msg.request_id,
            kind=type(exc).__name__,
        )
        ctx.log.trace("Refused request: {error}", error=str(exc))
        response = HumanResponse(
            request_id=msg.request_id,
            outcome=HumanOutcome.FAILED,
            error=error_info(exc),
            reason=str(exc),
            flow_id=msg.flow_id,
            step_id=msg.step_id,
        )
        self._after_writes(lambda: _tell(reply_to, correlation_id, response, ctx), ctx)

    def _stop_asking(self, request_id: str, ctx: Context) -> None:
        timer = self.timers.pop(request_id, None)
        if timer is not None:
            ctx.cancel_timer(timer)
        handle = self.asking.pop(request_id, None)
        if handle is not None:
            handle.cancel()

    def _reply(self, message: Message, ctx: Context) -> None:
        """Answer the message being handled, once every change before is stored."""
        env = ctx.envelope
        if env is not None and _reply_target(ctx) is not None:
            self._after_writes(lambda: ctx.reply(message, to=env), ctx)

    # -- write-ahead ------------------------------------------------------------------

    def _send_writes(self, ctx: Context) -> None:
        """Send the writes the pending requests made (a durable one's), in order."""
        if self.durable is None:
            return
        for path, message in self.durable.take_writes():
            cid = ctx.request(path, message, timeout=WRITE_TIMEOUT)
            self.unacked[cid] = []

    def _after_writes(self, action: Callable[[], None], ctx: Context) -> None:
        """Run ``action`` once every change made so far is stored (now, if it is)."""
        self._send_writes(ctx)
        if self.unacked:
            self.unacked[next(reversed(self.unacked))].append(action)
        else:
            action()

    def _acknowledged(
        self, reply: Message, ctx: Context, correlation_id: CorrelationId | None = None
    ) -> None:
        """A write (and every one before it: they are stored in order) is acknowledged:
        run what waited for them."""
        env: Envelope | None = ctx.envelope
        cid = correlation_id or (None if env is None else env.correlation_id)
        if cid is None or cid not in self.unacked or self.durable is None:
            ctx.log.warning("Unexpected {kind} at the human gateway", kind=reply.kind_tag)
            return
        error = self.durable.write_error(reply)
        if error is not None:
            ctx.log.error(
                "A human request could not be stored ({error}); the gateway goes on with "
                "it in memory, so it may not survive a restart",
                error=error,
            )
        waiting: list[Callable[[], None]] = []
        for sent in list(self.unacked):
            waiting.extend(self.unacked.pop(sent))
            if sent == cid:
                break
        for action in waiting:
            action()


def _now(ctx: Context) -> float:
    """The clock's time in epoch seconds (recorded in the journal as a clock effect)."""
    return ctx.now().timestamp()


def _escalation_seconds(record: PendingRecord) -> float:
    request = record.request
    return request.timeout if request.escalation_timeout is None else request.escalation_timeout


def _unknown(request_id: str) -> UnknownHumanRequestError:
    return UnknownHumanRequestError(
        f"No human request has the id {request_id!r}. List the open ones with "
        "list_human_requests() (or `actorflow pending`)."
    )


def _reply_target(ctx: Context) -> ActorPath | None:
    env = ctx.envelope
    return None if env is None else (env.reply_to or env.sender)


def _reply_slot(msg: HumanRequest, ctx: Context) -> tuple[ActorPath | None, CorrelationId | None]:
    """Whom to tell the outcome, and with which correlation id."""
    if msg.reply_to is not None:
        return msg.reply_to, None
    env = ctx.envelope
    return _reply_target(ctx), None if env is None else env.correlation_id


def _tell(
    to: ActorPath | None, correlation_id: CorrelationId | None, message: Message, ctx: Context
) -> None:
    if to is not None:
        ctx.system.send(to, message, sender=ctx.path, correlation_id=correlation_id)
