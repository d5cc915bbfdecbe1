"""The actor system: the tree of supervised actors, addressing by path, tell and ask.

::

    /                  root supervisor (a failure escalated here stops the system)
    ├── system/        runtime actors: deadletters (later: journal, store, streams, human)
    ├── agents/        agents, orchestrator, resolver, resources
    └── flows/         one actor per running flow

Outside code (scripts, web handlers, tests) uses :meth:`ActorSystem.tell`,
:meth:`ActorSystem.ask` or ``await`` :meth:`ActorSystem.ask_async`. Code inside a
handler uses its :class:`~actorflow.runtime.context.Context` and never blocks.

A system that stops on its own (a failure escalated to the root, an actor raised
``KeyboardInterrupt`` or ``SystemExit``, a runtime fault) keeps that error: the next call
says why it stopped, and leaving its ``with`` block raises the error unless
:meth:`ActorSystem.wait_terminated` already did. ``docs/runtime.md`` has the rules.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Literal, final

import pykka
from loguru import logger

from actorflow.clock import Clock, SystemClock
from actorflow.errors import (
    ActorNameTakenError,
    AskTimeoutError,
    ConfigurationError,
    DeliveryFailedError,
    EscalationError,
    InvalidMessageError,
    MailboxFullError,
    ShutdownTimeoutError,
    SystemStoppedError,
    UnknownActorError,
)
from actorflow.ids import (
    ROOT_PATH,
    ActorPath,
    CorrelationId,
    IdFactory,
    MessageId,
    RandomIds,
    RunId,
    SequentialIds,
    actor_path,
    child_path,
)
from actorflow.journal.format import JournalEvent
from actorflow.journal.writer import JournalConfig, JournalWriter
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import (
    ActorSpawned,
    DeadLetterReason,
    DeliveryFailed,
    Directive,
    ErrorInfo,
    StopActor,
    SystemEscalated,
    SystemMessage,
)
from actorflow.runtime._wakeups import inbox_for
from actorflow.runtime.behaviour import Behaviour, Recipe, recipe
from actorflow.runtime.cell import (
    Cell,
    current_cell,
    error_info,
    forbid_blocking,
    safe_text,
)
from actorflow.runtime.deadletters import DeadLetterOffice, DeadLetterPublisher
from actorflow.runtime.effects import EffectRunner
from actorflow.runtime.mailbox import MailboxConfig
from actorflow.runtime.stats import ActorStatistics, SystemStatistics
from actorflow.runtime.supervision import (
    GUARDIAN_STRATEGY,
    RestartType,
    SupervisorStrategy,
    always,
)

__all__ = [
    "AGENTS_PATH",
    "ActorSystem",
    "DeliveryTap",
    "EventListener",
    "FLOWS_PATH",
    "SYSTEM_PATH",
]

SYSTEM_PATH = ActorPath("/system")
AGENTS_PATH = ActorPath("/agents")
FLOWS_PATH = ActorPath("/flows")
_TEMP = "/temp/ask-"
_DEFAULT_STRATEGY = SupervisorStrategy()
_ROOT_STRATEGY = SupervisorStrategy(decider=always(Directive.ESCALATE), stop_timeout=30.0)
"""The root escalates past itself (the system stops); it waits for a guardian to stop up
to 30 s, or until the deadline of shutdown(timeout) if that is sooner."""
_EXPIRED_SLOTS = 4096
_GONE_MEMORY = 4096
_START_CLEANUP_TIMEOUT = 5.0

EventListener = Callable[[Message], None]
"""Called with each lifecycle event, on the thread where it happened; must be quick."""
DeliveryTap = Callable[[Envelope], None]
"""Called with every envelope as it is sent, on the sending thread; must be quick."""


class Guardian(Behaviour):
    """Behaviour of the root and the top-level guardians: supervision only."""


@final
class ActorSystem:
    """A tree of supervised actors with addressing by path.

    Use it as a context manager (``with ActorSystem() as system:``), or call
    :meth:`start` and :meth:`shutdown`.

    Args:
        clock: time source for timers and restart windows (default: a new SystemClock,
            closed at shutdown).
        ids: id factory for timers and other generated ids (default: sequential).
        run_id: identity of this run (default: random).
        mailbox: default mailbox capacity and overflow policy for new actors.
        guardian_strategy: how ``/system``, ``/agents`` and ``/flows`` supervise their
            children (default: ``GUARDIAN_STRATEGY``: one-for-one, restarts with backoff,
            and a child failing a 6th time within a minute is stopped for good and
            reported; nothing escalates to the root).
        journal: where to write the message log (default: no journal). Every delivery,
            lifecycle event, dead letter and recorded effect goes into it.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
        run_id: str | None = None,
        mailbox: MailboxConfig | None = None,
        guardian_strategy: SupervisorStrategy | None = None,
        journal: JournalConfig | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._owns_clock = clock is None
        self.ids: IdFactory = ids or SequentialIds()
        self.run_id = RunId(run_id or RandomIds().new_id("run"))
        self.default_mailbox = mailbox or MailboxConfig()
        self.guardian_strategy = guardian_strategy or GUARDIAN_STRATEGY
        self.dead_letters = DeadLetterOffice(self)
        self._cells: dict[str, Cell] = {}
        self._retired = [0, 0, 0]
        """processed, failed and restarts of the actors that stopped."""
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._slot_counter = itertools.count(1)
        self._slots: dict[str, Callable[[Envelope | SystemStoppedError], None]] = {}
        self._expired_slots: OrderedDict[str, None] = OrderedDict()
        self._slot_targets: dict[str, str] = {}
        """Whom each open ask slot asked (to fail the asks when no reply can come)."""
        self._listeners: tuple[EventListener, ...] = ()
        self._taps: tuple[DeliveryTap, ...] = ()
        self._broken_taps: set[int] = set()  # ids of taps that raised (logged once each)
        self._threads: set[threading.Thread] = set()
        self._abandoned: set[Cell] = set()
        """Cells given up on while stopping whose thread has not ended yet."""
        self._gone: OrderedDict[str, str] = OrderedDict()
        """Why recently stopped actors stopped, for the dead letters sent to them."""
        self._terminated = threading.Event()
        self._state: Literal["new", "running", "stopping", "stopped"] = "new"
        self._stop_error: BaseException | None = None
        self._stop_error_raised = False
        self._why_stopped = ""
        """Why the system is stopping or stopped, as the end of a sentence."""
        self._time = self.clock.time
        self._journal_config = journal
        self.journal: JournalWriter | None = None
        """The journal writer while the system runs with a journal."""
        self.effects = EffectRunner()
        """Where outside work runs (started on first use, closed at shutdown)."""

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> ActorSystem:
        """Start the root supervisor and the guardians; return ``self``.

        If starting fails (say the journal cannot be opened), what was started is
        stopped and released again, the system is left stopped, and the error is raised.

        Raises:
            SystemStoppedError: the system was started before.
            ConfigurationError, JournalError: the journal cannot be opened.
        """
        with self._lock:
            if self._state != "new":
                raise SystemStoppedError(
                    f"Actor system {self.run_id!r} was already started; create a new one."
                )
            self._state = "running"
        try:
            self._start_tree()
        except BaseException as exc:
            self._failed_to_start(exc)
            raise
        logger.info("Actor system {run_id} started", run_id=self.run_id)
        return self

    def _start_tree(self) -> None:
        self._open_journal()
        root = Cell(
            self,
            ROOT_PATH,
            None,
            recipe(Guardian),
            restart=RestartType.PERMANENT,
            strategy=_ROOT_STRATEGY,
            mailbox=MailboxConfig(),
        )
        with self._lock:
            self._cells[ROOT_PATH] = root
        self._start_cell(root)
        for guardian in (SYSTEM_PATH, AGENTS_PATH, FLOWS_PATH):
            self.spawn(Guardian, guardian[1:], parent=ROOT_PATH, strategy=self.guardian_strategy)
        self.spawn(
            recipe(DeadLetterPublisher, self.dead_letters), "deadletters", parent=SYSTEM_PATH
        )

    def _failed_to_start(self, exc: BaseException) -> None:
        """Undo a start that raised: stop what runs, release threads and files."""
        logger.opt(exception=exc).error("Actor system {run_id} failed to start", run_id=self.run_id)
        self._stopped_on_its_own(exc, f"it failed to start: {_describe(exc)}", raised=True)
        try:
            self._stop_tree_and_release(_START_CLEANUP_TIMEOUT)
        except ShutdownTimeoutError:
            logger.opt(exception=True).error("Cleaning up a failed start timed out")

    def use_journal(self, config: JournalConfig | None) -> None:
        """Set (or with ``None`` remove) the journal of a system that has not started.

        Raises:
            ConfigurationError: the system has already started.
        """
        if self._state != "new":
            raise ConfigurationError(
                "use_journal() must be called before the actor system starts; pass "
                "journal=JournalConfig(...) to ActorSystem() instead."
            )
        self._journal_config = config

    def _open_journal(self) -> None:
        config = self._journal_config
        if config is None:
            return
        writer = JournalWriter(config, run_id=self.run_id, started_at=self.clock.time())
        self.journal = writer
        self._taps = (*self._taps, writer.append)
        self._listeners = (*self._listeners, self._journal_event)

    def _journal_event(self, event: Message) -> None:
        if self.journal is not None:
            self.journal.append(JournalEvent(next(self._seq), self._time(), event))

    def __enter__(self) -> ActorSystem:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Shut down; then raise the error that stopped the system on its own, if nobody
        has seen it yet (when the block itself raised, that error gets a note instead)."""
        try:
            self.shutdown()
        finally:
            pending = self._take_pending_error()
            if pending is not None:
                if exc is not None:
                    exc.add_note(f"Actor system {self.run_id!r} stopped: {self._why_stopped}.")
                else:
                    raise pending

    @property
    def is_new(self) -> bool:
        """Whether the system was never started (nor shut down)."""
        return self._state == "new"

    @property
    def is_running(self) -> bool:
        """Whether the system is started and is not stopping."""
        return self._state == "running" and not self._terminated.is_set()

    @property
    def escalation(self) -> EscalationError | None:
        """The error that stopped the system by escalating to the root, if any."""
        error = self._stop_error
        return error if isinstance(error, EscalationError) else None

    @property
    def stop_error(self) -> BaseException | None:
        """Why the system stopped on its own: the ``EscalationError`` of a failure that
        reached the root, the ``KeyboardInterrupt`` or ``SystemExit`` an actor raised, the
        error of a failed start or of a crashed cell; ``None`` otherwise."""
        return self._stop_error

    @property
    def pending_error(self) -> BaseException | None:
        """:attr:`stop_error`, if it has not been raised to the caller yet (by
        :meth:`wait_terminated`, :meth:`start` or leaving the ``with`` block)."""
        return None if self._stop_error_raised else self._stop_error

    @property
    def stop_reason(self) -> str:
        """Why the system is stopping or stopped, as the end of a sentence ("it was shut
        down", "actor '/agents/x' raised SystemExit(3) in its handler of 'k'"); ``""``
        while it runs."""
        return self._why_stopped

    def _take_pending_error(self) -> BaseException | None:
        with self._lock:
            pending = self.pending_error
            self._stop_error_raised = True
            return pending

    def _stopped_on_its_own(self, error: BaseException, why: str, *, raised: bool) -> bool:
        """Record why the system stops (the first reason wins); False if one was recorded."""
        with self._lock:
            if self._stop_error is not None:
                return False
            self._stop_error = error
            self._stop_error_raised = raised
            self._why_stopped = why
            if self._state == "running":
                self._state = "stopping"
            return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every actor (children before parents, in reverse start order) and wait.

        Queued messages become ``stopped`` dead letters. Harmless if already stopped.

        Raises:
            ShutdownTimeoutError: some actors did not stop within ``timeout`` seconds.
        """
        forbid_blocking("ActorSystem.shutdown()", self.effects.loop)
        timeout = _check_timeout(timeout, "shutdown()")
        with self._lock:
            if self._state == "new":
                self._state = "stopped"
                self._why_stopped = "it was shut down before it started"
                self._release(0.0)
            if self._state == "stopped":
                return
            if not self._why_stopped:
                self._why_stopped = "it was shut down"
            self._state = "stopping"
        self._stop_tree_and_release(timeout)
        logger.info("Actor system {run_id} stopped", run_id=self.run_id)

    def _stop_tree_and_release(self, timeout: float) -> None:
        """Stop the root (and so everything) by a deadline, wait, release, report hangs."""
        deadline = time.monotonic() + timeout
        root = self._cells.get(ROOT_PATH)
        if root is not None:
            root.request_stop("shutdown", deadline=self.clock.monotonic() + timeout, sender=None)
        stopped = root is None or self._terminated.wait(timeout)
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        hung = self._hung()
        with self._lock:
            self._state = "stopped"
        self._fail_open_asks()  # after a timed-out stop too: the system is done
        self._release(max(0.0, deadline - time.monotonic()))
        if not stopped or hung:
            raise ShutdownTimeoutError(
                f"Actor system {self.run_id!r} did not stop within {timeout:g} s: "
                f"{hung or 'the root did not finish stopping'}. Handlers must not block "
                "(see docs/runtime.md); an abandoned actor's thread ends when its handler "
                "returns."
            )

    def _hung(self, under: str | None = None) -> str:
        """Describe the actors (at or under ``under``) whose thread has not ended: those
        running a handler or hook if any, else all of them ('' if none)."""
        with self._lock:
            cells = [*self._cells.values(), *self._abandoned]
        alive = [
            c
            for c in cells
            if not c.terminated.is_set()
            and (under is None or c.path == under or c.path.startswith(under + "/"))
            and (c.thread is None or c.thread.is_alive())
        ]
        busy = [(c.path, c.activity()) for c in alive]
        described = sorted(
            f"{path!r} is still {doing}" for path, doing in busy if doing is not None
        )
        if described:
            return "; ".join(described)
        return ", ".join(sorted(repr(path) for path, _ in busy))

    def _release(self, grace: float) -> None:
        """Close the effects runner, the owned clock and the journal, within ``grace``
        seconds: at least 0.1 s for the effects (an effect that will not stop is logged,
        not waited for) and one for the journal (so a slow stop does not make it drop all)."""
        deadline = time.monotonic() + grace
        self.effects.close(timeout=max(0.1, grace))
        if self._owns_clock:
            self.clock.close()
        if self.journal is not None:
            self.journal.close(timeout=max(1.0, deadline - time.monotonic()))

    def wait_terminated(self, timeout: float | None = None) -> bool:
        """Block until the root has stopped; return False if ``timeout`` passed first.

        Raises:
            EscalationError: the system stopped because a failure escalated to the root.
            KeyboardInterrupt, SystemExit: an actor raised it, and the system stopped.
            BaseException: whatever else stopped it on its own (:attr:`stop_error`).
        """
        forbid_blocking("ActorSystem.wait_terminated()", self.effects.loop)
        if not self._terminated.wait(timeout):
            return False
        error = self._stop_error
        if error is not None:
            with self._lock:
                self._stop_error_raised = True
            raise error
        return True

    # -- spawning and addressing -----------------------------------------------------

    def spawn(
        self,
        behaviour: Recipe | type[Behaviour],
        name: str,
        *,
        parent: ActorPath | str = AGENTS_PATH,
        restart: RestartType = RestartType.PERMANENT,
        strategy: SupervisorStrategy | None = None,
        mailbox: MailboxConfig | None = None,
        dispatcher: Literal["thread", "loop"] = "thread",
    ) -> ActorPath:
        """Spawn an actor named ``name`` under ``parent`` and return its path.

        Args:
            behaviour: a Behaviour subclass (built with no arguments) or a Recipe.
            name: the last path segment.
            parent: the supervising actor (default ``/agents``).
            restart: whether the parent restarts it (permanent, transient, temporary).
            strategy: how this actor supervises its own children.
            mailbox: capacity and overflow policy (default: the system's).
            dispatcher: ``thread`` (its own thread, the default) or ``loop``: callbacks on
                the effects runner's event loop, next to the outside work it waits for.
                Only for actors whose handlers never block (flow actors use it).

        Raises:
            ConfigurationError: invalid name or behaviour.
            UnknownActorError: no live actor holds ``parent``.
            ActorNameTakenError: the path is taken.
        """
        rec = behaviour if isinstance(behaviour, Recipe) else _recipe_of(behaviour)
        checked = rec is not behaviour and _class_recipes.get(rec.factory) is rec
        parent_path = actor_path(_spawn_text("parent", parent, "'/agents'"))
        path = child_path(parent_path, _spawn_text("name", name, "'echo'"))
        restart = _check_spawn_options(restart, strategy, mailbox, dispatcher)
        with self._lock:
            self._check_running()
            parent_cell = self._cells.get(parent_path)
            if parent_cell is None:
                raise UnknownActorError(
                    f"Cannot spawn {path!r}: no live actor holds the parent path "
                    f"{parent_path!r}. Spawn the parent first."
                )
            if current_cell() is parent_cell:
                stopping = parent_cell.stopping_activity()
                if stopping is not None:
                    raise ConfigurationError(
                        f"Cannot spawn {path!r}: its parent {parent_path!r} is {stopping}, "
                        "and a child spawned while its parent stops would be orphaned. Do "
                        "the work in on_stop itself, or spawn the helper under another "
                        "actor (parent='/agents')."
                    )
            if path in self._cells:
                raise ActorNameTakenError(
                    f"Cannot spawn {path!r}: an actor already holds that path. "
                    "Pick another name or stop the existing actor first."
                )
            problem = None if checked else rec.mismatch()
            if problem is not None:
                raise ConfigurationError(
                    f"Cannot spawn {path!r}: recipe({rec.name}, ...) does not fit its "
                    f"constructor: {problem}. Pass the arguments it takes: "
                    f"recipe({rec.name}, arg, key=value)."
                )
            if rec is not behaviour and not checked:
                _class_recipes[behaviour] = rec
            cell = Cell(
                self,
                path,
                parent_cell,
                rec,
                restart=restart,
                strategy=strategy or _DEFAULT_STRATEGY,
                mailbox=mailbox or self.default_mailbox,
                dispatcher=self.effects.dispatcher() if dispatcher == "loop" else None,
            )
            self._cells[path] = cell
            if self._gone:
                self._gone.pop(path, None)
            if current_cell() is parent_cell:
                parent_cell.children[path] = cell
            else:  # the parent adopts it on its own thread before its next system message
                parent_cell.births.append(cell)
        try:
            if self._listeners:
                self.emit(ActorSpawned(path=path, behaviour=rec.name))
        finally:  # a listener's Ctrl-C on this thread propagates, with the actor started
            self._start_cell(cell)
        return path

    def _start_cell(self, cell: Cell) -> None:
        if cell.is_registered:  # thread cells; pykka's stop_all reaches loop cells by parent
            pykka.ActorRegistry.register(cell.actor_ref)
        cell._start_actor_loop()
        if cell.thread is not None:
            self._threads.add(cell.thread)

    def take_births(self, parent: Cell) -> list[Cell]:
        """Hand a parent the cells spawned for it from other threads (runtime internal).

        Under the system lock, like the spawns that add to it, so none is missed.
        """
        with self._lock:
            births, parent.births = parent.births, []
            return births

    def is_listening(self, path: ActorPath | str) -> bool:
        """Whether a reply sent to ``path`` now would reach someone: an outside ask still
        waiting in its reply slot, or a live actor (never blocks)."""
        if path.startswith(_TEMP):
            return path in self._slots
        return self._cells.get(ActorPath(path)) is not None

    def cell_at(self, path: ActorPath) -> Cell | None:
        """Return the live cell holding ``path`` (runtime internal)."""
        return self._cells.get(path)

    def paths(self) -> tuple[ActorPath, ...]:
        """Return the paths of all live actors, sorted."""
        return tuple(sorted(ActorPath(p) for p in self._cells))

    def unregister(self, path: ActorPath, cell: Cell) -> list[Cell]:
        """Release ``path`` if ``cell`` still holds it (runtime internal, any thread).

        Returns the children spawned for it that it never adopted (to be stopped).
        """
        with self._lock:
            if self._cells.get(path) is cell:
                del self._cells[path]
                # Its counters stay in the system's totals (it processes nothing more).
                self._retired[0] += cell.processed
                self._retired[1] += cell.failed
                self._retired[2] += cell.restarts
            orphans, cell.births = cell.births, []
            return orphans

    def thread_finished(self, cell: Cell) -> None:
        """Forget a finished cell thread (runtime internal)."""
        if cell.thread is not None:
            self._threads.discard(cell.thread)
        if cell.abandoned:
            with self._lock:
                self._abandoned.discard(cell)
            if self._terminated.is_set():  # its handler is done: no reply can come now
                self._fail_open_asks(only_to=cell.path)

    def cell_abandoned(self, cell: Cell) -> None:
        """Remember a cell given up on while stopping until its thread ends (internal)."""
        with self._lock:
            if not cell.terminated.is_set():
                self._abandoned.add(cell)

    def actor_gone(self, path: ActorPath, reason: str) -> None:
        """Remember why the actor at ``path`` stopped, for later dead letters (internal)."""
        with self._lock:
            self._gone[path] = reason
            if len(self._gone) > _GONE_MEMORY:
                self._gone.popitem(last=False)

    def _check_running(self) -> None:
        state = self._state
        if state == "running" and not self._terminated.is_set():
            return
        if state == "new":
            raise SystemStoppedError(
                f"Actor system {self.run_id!r} has not started. Call start() (or use it as a "
                "context manager) before sending or spawning."
            )
        why = self._why_stopped or "its root actor stopped"
        doing = "has stopped" if self._terminated.is_set() or state == "stopped" else "is stopping"
        raise SystemStoppedError(
            f"Actor system {self.run_id!r} is not running: it {doing} because {why}. "
            "A system cannot be restarted; create a new ActorSystem to go on."
        )

    # -- sending ---------------------------------------------------------------------

    def tell(self, to: ActorPath | str, message: Message) -> None:
        """Send ``message`` to the actor at ``to`` from outside the actor system.

        Undeliverable mail becomes a dead letter (see :attr:`dead_letters`).

        Raises:
            SystemStoppedError: the system is not running.
            InvalidMessageError: ``message`` is not a Message.
            MailboxFullError: the recipient is full and its overflow policy is ``reject``.
        """
        if self._state != "running" or self._terminated.is_set():
            self._check_running()
        try:
            cell = self._cells.get(to)
        except TypeError:  # unhashable: certainly not a path
            cell = None
        if cell is None:  # only then can ``to`` be a mistake: check it (off the hot path)
            self.send(self._check_path(to, "tell()"), message)
        else:
            path: ActorPath = to  # type: ignore[assignment] # a live actor's path; no call
            self.send(path, message, target=cell)

    def _check_path(self, to: object, call: str) -> ActorPath:
        """Return ``to`` as a path, or raise naming the mistake (the slow path of a send)."""
        if not isinstance(to, str):
            raise ConfigurationError(
                f"{call} needs the recipient's path as a str such as '/agents/echo', got "
                f"{to!r} ({type(to).__name__})."
            )
        if to.startswith("/"):
            return ActorPath(str(to))
        raise ConfigurationError(f"{call} got {self._relative_path_problem(to)}")

    def _relative_path_problem(self, to: str) -> str:
        suffix = "/" + to.strip("/")
        live = sorted((p for p in self._cells if p == suffix or p.endswith(suffix)), key=len)
        hint = (
            f": did you mean {live[0]!r}?"
            if live
            else f", such as {AGENTS_PATH + suffix!r}; no live actor's path ends with {suffix!r}."
        )
        return f"the relative path {to!r}, but actor paths are absolute{hint}"

    def send(
        self,
        to: ActorPath,
        message: Message,
        *,
        sender: ActorPath | None = None,
        correlation_id: CorrelationId | None = None,
        reply_to: ActorPath | None = None,
        logical_time: int = 0,
        quiet: bool = False,
        target: Cell | None = None,
    ) -> None:
        """Build the envelope and deliver it (the runtime's one delivery path, any thread).

        Args:
            quiet: when nobody holds ``to``, log instead of recording a dead letter.
            target: deliver to this cell even if it no longer holds ``to`` (supervision
                traffic to and from a cell given up on while stopping).
        """
        untrusted: object = message  # typed callers pass a Message; untyped ones may not
        if not isinstance(untrusted, Message):
            self.dead_letters.record(
                DeadLetterReason.INVALID,
                recipient=to,
                detail=f"{type(message).__name__} is not an actorflow Message",
            )
            raise InvalidMessageError(
                f"Cannot send {type(message).__name__} to {to!r}: only actorflow Message "
                "instances can be sent. Define a Message subclass with a 'kind' tag."
            )
        seq = next(self._seq)
        env = Envelope(
            seq,
            MessageId(f"m{seq}"),
            correlation_id,
            sender,
            to,
            reply_to,
            logical_time,
            self._time(),
            message,
        )
        for tap in self._taps:
            try:
                tap(env)
            except Exception as exc:  # noqa: BLE001 - a tap must not break delivery
                self._tap_failed(tap, exc)
        cell = self._cells.get(to) if target is None else target
        if cell is not None:
            cell.enqueue(env)
            return
        slot = self._slots.pop(to, None)
        if slot is not None:
            self._remember_expired_slot(to)
            slot(env)
            return
        if quiet or isinstance(message, SystemMessage):
            # Control messages to an actor that is gone are moot (it stopped meanwhile).
            logger.debug("Nobody at {to} for {kind}", to=to, kind=message.kind_tag)
            return
        if to in self._expired_slots:
            detail = "the ask had already timed out"
            self.dead_letters.record(DeadLetterReason.LATE_REPLY, env=env, detail=detail)
        else:
            detail = self._unknown_detail(to)
            self.dead_letters.record(DeadLetterReason.UNKNOWN_RECIPIENT, env=env, detail=detail)

    def _unknown_detail(self, to: ActorPath) -> str:
        untrusted: object = to  # a handler's ctx.tell() is not checked on the hot path
        if isinstance(untrusted, str) and not untrusted.startswith("/"):
            return self._relative_path_problem(untrusted)
        reason = self._gone.get(to)
        if reason is not None:
            return f"no live actor holds this path; the actor there stopped ({reason})"
        return "no live actor holds this path"

    def raise_mailbox_full(self, path: ActorPath, capacity: int) -> None:
        """Raise the ``reject`` policy's error (runtime internal)."""
        raise MailboxFullError(
            f"Mailbox of {path!r} is full ({capacity} messages) and its overflow policy is "
            "'reject'; the message was recorded as a dead letter. Slow down, or raise the "
            "capacity in MailboxConfig."
        )

    # -- asking from outside ---------------------------------------------------------

    def ask(self, to: ActorPath | str, message: Message, *, timeout: float = 5.0) -> Message:
        """Send ``message`` and block until the actor replies (``ctx.reply``).

        Not allowed on an actor thread: use ``ctx.request`` there.

        Raises:
            AskTimeoutError: no reply within ``timeout`` seconds.
            DeliveryFailedError: the request became a dead letter (unknown actor, the
                handler raised, the actor stopped, ...).
            BlockingCallError: called from inside a handler.
        """
        forbid_blocking("ActorSystem.ask()", self.effects.loop)
        timeout = _check_timeout(timeout, "ask()")
        if type(to) is not str or not to.startswith("/"):
            to = self._check_path(to, "ask()")
        arrived = threading.Lock()
        arrived.acquire()
        box: list[Envelope | SystemStoppedError] = []

        def on_reply(env: Envelope | SystemStoppedError) -> None:
            box.append(env)
            arrived.release()

        slot = self._open_slot(ActorPath(to), message, on_reply)
        if not arrived.acquire(timeout=timeout):
            if self._close_slot(slot):
                raise self._ask_timeout(to, message, timeout)
            arrived.acquire()  # the reply is being handed over right now
        reply = box[0]
        if isinstance(reply, SystemStoppedError):
            raise reply
        return self._unwrap(reply, to)

    async def ask_async(
        self, to: ActorPath | str, message: Message, *, timeout: float = 5.0
    ) -> Message:
        """Like :meth:`ask`, awaited: the event loop keeps running while the actor works.

        Raises:
            BlockingCallError: run to completion inside a handler (``asyncio.run`` on an
                actor thread blocks it like :meth:`ask` would).
        """
        cell = current_cell()
        if cell is not None and cell.thread is not None:
            # A loop-dispatched actor shares its thread with the loop that awaits this,
            # which is fine; on an actor's own thread, a loop was started in a handler.
            forbid_blocking("ActorSystem.ask_async()")
        timeout = _check_timeout(timeout, "ask_async()")
        if type(to) is not str or not to.startswith("/"):
            to = self._check_path(to, "ask_async()")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Envelope] = loop.create_future()

        inbox = inbox_for(loop)

        def on_reply(env: Envelope | SystemStoppedError) -> None:
            try:
                inbox.put(partial(_resolve, future, env))
            except RuntimeError:
                logger.debug("Reply to a closed event loop dropped")

        slot = self._open_slot(ActorPath(to), message, on_reply)
        try:
            env = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._close_slot(slot)
            raise self._ask_timeout(to, message, timeout) from None
        except asyncio.CancelledError:
            self._close_slot(slot)  # a reply after this is a late_reply dead letter
            raise
        return self._unwrap(env, to)

    def _open_slot(
        self,
        to: ActorPath,
        message: Message,
        on_reply: Callable[[Envelope | SystemStoppedError], None],
    ) -> ActorPath:
        if self._state != "running" or self._terminated.is_set():
            self._check_running()
        slot = ActorPath(f"{_TEMP}{next(self._slot_counter)}")
        self._slot_targets[slot] = to
        self._slots[slot] = on_reply
        try:
            self.send(to, message, correlation_id=CorrelationId(slot), reply_to=slot)
        except BaseException:
            self._slots.pop(slot, None)
            self._slot_targets.pop(slot, None)
            raise
        if self._terminated.is_set():  # the root stopped as this ask was sent
            self._fail_open_asks()
        return slot

    def _fail_open_asks(self, only_to: str | None = None) -> None:
        """The root has stopped, so no reply can come: fail every ask still waiting at
        once with :class:`SystemStoppedError` saying why (any thread). An ask to an actor
        given up on that is still in its handler waits for it: the handler may yet reply,
        and the ask fails when its thread ends (``only_to``)."""
        if not self._slots:
            return
        hung: set[str] = set()
        if only_to is None:
            with self._lock:
                hung = {c.path for c in self._abandoned if not c.terminated.is_set()}
        for slot in list(self._slots):
            target = self._slot_targets.get(slot)
            if (target != only_to) if only_to is not None else (target in hung):
                continue
            on_reply = self._slots.pop(slot, None)
            if on_reply is None:
                continue  # its reply (or timeout) got there first
            self._remember_expired_slot(slot)
            on_reply(
                SystemStoppedError(
                    f"Actor system {self.run_id!r} stopped while this ask waited for its "
                    f"reply, so none can come: {self._why_stopped or 'it stopped'}."
                )
            )

    def _close_slot(self, slot: ActorPath) -> bool:
        """Forget a timed-out slot; False if its reply is being delivered right now."""
        if self._slots.pop(slot, None) is None:
            return False
        self._remember_expired_slot(slot)
        return True

    def _remember_expired_slot(self, slot: str) -> None:
        self._slot_targets.pop(slot, None)
        self._expired_slots[slot] = None
        if len(self._expired_slots) > _EXPIRED_SLOTS:
            self._expired_slots.popitem(last=False)

    @staticmethod
    def _ask_timeout(to: str, message: Message, timeout: float) -> AskTimeoutError:
        return AskTimeoutError(
            f"No reply from {to!r} to {message.kind_tag!r} within {timeout:g} s. The actor "
            "may be busy, suspended after a failure, or may never reply; a later reply "
            "becomes a 'late_reply' dead letter."
        )

    @staticmethod
    def _unwrap(env: Envelope, to: str) -> Message:
        msg = env.message
        if isinstance(msg, DeliveryFailed):
            raise DeliveryFailedError(
                f"Ask to {to!r} failed: the {msg.request_kind!r} request became a dead letter "
                f"({msg.reason.value}): {msg.detail or 'no detail'}."
            )
        return msg

    # -- stopping actors -------------------------------------------------------------

    def stop_nowait(self, path: ActorPath | str, *, sender: ActorPath | None = None) -> None:
        """Ask the actor at ``path`` to stop (its children first); do not wait.

        Raises:
            ConfigurationError: ``path`` is not a str, or not absolute.
        """
        if type(path) is not str or not path.startswith("/"):
            path = self._check_path(path, "stop_nowait()")
        target = ActorPath(path)
        reason = "self" if sender == target else "requested"
        self.send(target, StopActor(reason=reason), sender=sender)

    def stop(self, path: ActorPath | str, *, timeout: float = 5.0) -> None:
        """Stop the actor at ``path`` and wait until it and its children have stopped.

        Its children get deadlines inside ``timeout``, so one that hangs is given up on
        (its path released, its thread left to end when its handler returns) in time.

        Raises:
            UnknownActorError: no live actor holds ``path``.
            ShutdownTimeoutError: it, or an actor under it, did not stop within ``timeout``
                seconds; the message names the actor that hung and what it was running.
        """
        forbid_blocking("ActorSystem.stop()", self.effects.loop)
        timeout = _check_timeout(timeout, "stop()")
        if type(path) is not str or not path.startswith("/"):
            path = self._check_path(path, "stop()")
        cell = self._cells.get(path)
        if cell is None:
            raise UnknownActorError(f"Cannot stop {path!r}: no live actor holds that path.")
        deadline = time.monotonic() + timeout
        cell.request_stop("requested", deadline=self.clock.monotonic() + timeout, sender=None)
        cell.terminated.wait(timeout)
        with self._lock:
            abandoned = [c for c in self._abandoned if c.path.startswith(path + "/")]
        for late in abandoned:
            late.terminated.wait(max(0.0, deadline - time.monotonic()))
        hung = self._hung(under=path)
        if hung:
            if cell.terminated.is_set():
                hung = f"{path!r} stopped, but {hung}"
            raise ShutdownTimeoutError(
                f"Actor {path!r} did not stop within {timeout:g} s: {hung}. Handlers must "
                "not block (see docs/runtime.md); an abandoned actor's thread ends when its "
                "handler returns."
            )

    # -- supervision hooks (runtime internal) ----------------------------------------

    def root_failed(self, error: ErrorInfo) -> None:
        """A failure escalated past the root: record it and stop the system."""
        chain = " -> ".join(error.escalated_by) or "the root"
        escalation = EscalationError(
            f"A failure escalated to the root supervisor, so actor system {self.run_id!r} "
            f"stopped. Root cause: {error.message}. Escalated by: {chain}. Fix the failure, "
            "or give a supervisor on that path a more tolerant SupervisorStrategy."
        )
        why = f"a failure escalated to the root supervisor: {error.message}"
        if self._stopped_on_its_own(escalation, why, raised=False):
            logger.error("Escalation reached the root: {error}", error=error.message)
            self.emit(SystemEscalated(path=ROOT_PATH, error=error))
        self.send(ROOT_PATH, StopActor(reason="escalation"), quiet=True)

    def exit_requested(self, path: ActorPath, exc: BaseException, where: str) -> None:
        """An actor raised ``KeyboardInterrupt`` or ``SystemExit``: stop the system with it
        (runtime internal, the actor's thread)."""
        why = f"actor {path!r} raised {_describe(exc)} {where}"
        exc.add_note(f"Raised by actor {path!r} {where}; actor system {self.run_id!r} stopped.")
        self._stop_by(exc, why, "exit request")

    def cell_crashed(self, path: ActorPath, exc: BaseException) -> None:
        """Something escaped a cell's own code: stop the system with it (runtime internal)."""
        why = f"the cell of actor {path!r} crashed with {_describe(exc)}"
        exc.add_note(f"Actor system {self.run_id!r} stopped: {why}.")
        self._stop_by(exc, why, "crash")

    def _stop_by(self, exc: BaseException, why: str, reason: str) -> None:
        if not self._stopped_on_its_own(exc, why, raised=False):
            return
        logger.critical("Actor system {run_id} is stopping: {why}", run_id=self.run_id, why=why)
        info = error_info(exc).model_copy(update={"message": why})
        self.emit(SystemEscalated(path=ROOT_PATH, error=info))
        self.send(ROOT_PATH, StopActor(reason=reason), quiet=True)

    def root_stopped(self) -> None:
        """The root finished stopping (runtime internal)."""
        self._terminated.set()
        self._fail_open_asks()

    # -- observing -------------------------------------------------------------------

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with each lifecycle event; return an unsubscribe function."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def add_tap(self, tap: DeliveryTap) -> Callable[[], None]:
        """Call ``tap`` with every envelope sent; return a function that removes it.

        A tap that raises is logged (once per tap, at ERROR) and skipped: delivery goes on.

        Raises:
            ConfigurationError: ``tap`` is not callable.
        """
        if not callable(tap):
            raise ConfigurationError(
                f"add_tap() needs a callable taking an Envelope, got {tap!r} "
                f"({type(tap).__name__})."
            )
        with self._lock:
            self._taps = (*self._taps, tap)

        def remove() -> None:
            with self._lock:
                self._taps = tuple(x for x in self._taps if x is not tap)

        return remove

    def _tap_failed(self, tap: DeliveryTap, exc: Exception) -> None:
        with self._lock:
            first = id(tap) not in self._broken_taps
            self._broken_taps.add(id(tap))
        if first:
            logger.opt(exception=exc).error(
                "Delivery tap {tap} raised; it is skipped for this envelope, and later errors "
                "from it are not logged",
                tap=safe_text(tap, use_repr=True),
            )

    def emit(self, event: Message) -> None:
        """Hand a lifecycle event to the listeners (runtime internal)."""
        for listener in self._listeners:
            try:
                listener(event)
            except BaseException as exc:  # a listener must not break the runtime
                if not isinstance(exc, KeyboardInterrupt | SystemExit):
                    logger.opt(exception=exc).error("Event listener {l!r} raised", l=listener)
                elif threading.current_thread() is threading.main_thread():
                    raise  # Ctrl-C (or sys.exit) on the caller's own thread is the caller's
                else:
                    where = f"in a listener of {event.kind_tag!r} events"
                    self._stop_by(exc, f"{_describe(exc)} was raised {where}", "exit request")

    def statistics(self) -> SystemStatistics:
        """Return a snapshot of system-wide counters (stopped actors' counts included)."""
        with self._lock:
            cells = list(self._cells.values())
            processed, failed, restarts = self._retired
        return SystemStatistics(
            run_id=self.run_id,
            actors=len(cells),
            processed=processed + sum(c.processed for c in cells),
            failed=failed + sum(c.failed for c in cells),
            restarts=restarts + sum(c.restarts for c in cells),
            mailbox_depth=sum(len(c.mailbox) for c in cells),
            dead_letters=self.dead_letters.total,
            dead_letters_by_reason=self.dead_letters.counts(),
        )

    def actor_statistics(self, path: ActorPath | str) -> ActorStatistics:
        """Return a snapshot of one actor's counters.

        Raises:
            ConfigurationError: ``path`` is not a str, or not absolute.
            UnknownActorError: no live actor holds ``path``.
        """
        if type(path) is not str or not path.startswith("/"):
            path = self._check_path(path, "actor_statistics()")
        cell = self._cells.get(path)
        if cell is None:
            raise UnknownActorError(f"No live actor holds {path!r}.")
        return cell.statistics()


_class_recipes: weakref.WeakKeyDictionary[object, Recipe] = weakref.WeakKeyDictionary()
"""The recipe of each Behaviour class spawned by class, once checked against its
signature: its actors share it (a recipe is immutable), and it is checked once."""


def _recipe_of(behaviour: object) -> Recipe:
    if isinstance(behaviour, type) and issubclass(behaviour, Behaviour):
        return _class_recipes.get(behaviour) or recipe(behaviour)
    raise ConfigurationError(
        f"spawn() needs a Behaviour subclass or a Recipe, got {behaviour!r}. "
        "Wrap a class with arguments as recipe(MyBehaviour, arg, key=value)."
    )


def _describe(exc: BaseException) -> str:
    """``SystemExit(3)``, ``ValueError('bad')``: the error as the reader would raise it."""
    try:
        args = exc.args
    except BaseException:  # noqa: BLE001 - a hostile exception: name its type only
        args = ()
    return f"{type(exc).__name__}({', '.join(safe_text(a, use_repr=True) for a in args)})"


def _spawn_text(option: str, value: object, example: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(
            f"spawn() {option} must be a str such as {example}, got {value!r} "
            f"({type(value).__name__})."
        )
    return value


def _check_spawn_options(
    restart: object, strategy: object, mailbox: object, dispatcher: object
) -> RestartType:
    """Check spawn's options before anything is built; return the restart type."""
    if dispatcher not in ("thread", "loop"):
        raise ConfigurationError(
            f"spawn() dispatcher must be 'thread' or 'loop', got {dispatcher!r}."
        )
    if strategy is not None and not isinstance(strategy, SupervisorStrategy):
        raise ConfigurationError(
            f"spawn() strategy must be a SupervisorStrategy or None, got {strategy!r}. "
            "Build one with SupervisorStrategy(kind=..., max_restarts=..., within=...)."
        )
    if mailbox is not None and not isinstance(mailbox, MailboxConfig):
        raise ConfigurationError(
            f"spawn() mailbox must be a MailboxConfig or None, got {mailbox!r}. "
            "Build one with MailboxConfig(capacity=..., overflow=...)."
        )
    if isinstance(restart, RestartType):
        return restart
    if isinstance(restart, str) and restart in RestartType.__members__.values():
        return RestartType(restart)
    choices = ", ".join(repr(r.value) for r in RestartType)
    raise ConfigurationError(
        f"spawn() restart must be one of {choices} (a RestartType), got {restart!r}."
    )


def _check_timeout(timeout: object, call: str) -> float:
    """Return ``timeout`` in seconds, or raise naming the call and the fix."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= threading.TIMEOUT_MAX  # NaN fails every comparison
    ):
        raise ConfigurationError(
            f"{call} timeout must be a positive, finite number of seconds, got {timeout!r} "
            f"({type(timeout).__name__}). Pass a number such as timeout=5.0."
        )
    return float(timeout)


def _resolve(future: asyncio.Future[Envelope], env: Envelope | SystemStoppedError) -> None:
    if future.done():
        return
    if isinstance(env, SystemStoppedError):
        future.set_exception(env)
    else:
        future.set_result(env)
