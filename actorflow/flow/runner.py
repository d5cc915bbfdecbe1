"""The flow actor: a thin shell around the flow decider, under ``/flows/<flow_id>``.

Each message the flow receives is an event for :func:`~actorflow.flow.decider.decide`,
timed by its delivery's wall time (which the journal records); the shell keeps the
state the decider returns and carries out its commands: attempts start through its
:class:`~actorflow.flow.launcher.Launcher` (whose outcomes come back as events), timers
go to the system's clock, checkpoints to the store actor (written ahead: the effects of
a change wait until it is stored, see :mod:`actorflow.flow.persistence`) or to the
state manager.

There is no flow logic here: what runs, when, and what follows a result is decided
by the decider alone. All state belongs to the flow actor's thread.
"""

from __future__ import annotations

from typing import cast

from pydantic import JsonValue

from actorflow._trusted import trusted
from actorflow.errors import ConfigurationError, StoreError
from actorflow.flow.checkpoint import FINAL_SAVE_TIMEOUT, Checkpointer, flow_state
from actorflow.flow.commands import (
    AskHuman,
    CancelAttempt,
    Command,
    Emit,
    Finish,
    SaveState,
    ScheduleTimer,
    StartAttempt,
)
from actorflow.flow.decider import FlowCore, decide
from actorflow.flow.events import stream_items
from actorflow.flow.executor import EnhancedFlowExecutor
from actorflow.flow.fold import ORDER_EFFECT, STOP_EFFECT
from actorflow.flow.launcher import Launcher
from actorflow.flow.messages import (
    AgentTaskDone,
    CancelFlow,
    CheckpointSaved,
    FlowFinished,
    FlushCheckpoint,
    HumanAnswered,
    PlanChanged,
    ReplanFlow,
    RetryCheckpoint,
    RetryStep,
    RunFlow,
    SaveCheckpoint,
    StepAttemptFinished,
    StopFlowActor,
    SweepTimeouts,
)
from actorflow.flow.persistence import DurableCheckpoints
from actorflow.flow.steps import FlowServices
from actorflow.human.messages import HumanResponse
from actorflow.ids import CorrelationId
from actorflow.messages._frozen import freeze
from actorflow.messages.base import Message
from actorflow.messages.envelope import Envelope
from actorflow.messages.system import DeliveryFailed, RequestTimedOut
from actorflow.runtime.behaviour import Behaviour
from actorflow.runtime.context import Context
from actorflow.stores import STORE_PATH
from actorflow.stores.messages import SaveCheckpointResponse, StoreRequestFailed, WriteResponse
from actorflow.streams import STREAMS_PATH, StreamEvents, StreamRegistry, streams_of

__all__ = ["FlowRunner"]

_LEVELS = {"step_started": "DEBUG", "step_completed": "DEBUG", "step_skipped": "INFO",
           "retry_scheduled": "WARNING", "step_failed": "WARNING",
           "plan_refused": "WARNING"}  # fmt: skip


class FlowRunner(Behaviour):
    """Behaviour of a flow actor (one per running flow)."""

    def __init__(
        self,
        executor: EnhancedFlowExecutor,
        services: FlowServices,
        checkpoint_interval: float,
        *,
        mirror: bool = False,
        topic: str | None = None,
    ) -> None:
        self.mirror = mirror
        self.topic = topic
        """Tell stream events to the hub for this topic (None: streams are off)."""
        self.streams: StreamRegistry | None = None
        """The system's stream registry (when this flow tells stream events)."""
        self.final: dict[str, JsonValue] | None = None
        """The final state as JSON, once the flow ended (shared by its last stream event
        and the reply)."""
        """With a store, also save checkpoints to ``executor.state_manager`` (one the
        caller assigned: the seed's API)."""
        self.executor = executor
        self.launcher = Launcher(executor, services, topic)
        self.checkpoint_interval = checkpoint_interval
        self.core: FlowCore | None = None
        self.asker: Envelope | None = None
        self.replied = False
        self.checkpointer: Checkpointer | None = None
        self.durable: DurableCheckpoints | None = None
        """Checkpoints in the system's store, when it has one (then effects wait for
        the state that asked for them to be stored)."""
        self.stopping = False
        """The flow ended and answered; the actor stops once its final state is stored."""
        self.last_seq = -1
        """Sequence number of the last event fed to the decider (to spot reordering)."""

    # -- events ------------------------------------------------------------------------

    def on_run_flow(self, msg: RunFlow, ctx: Context) -> None:
        """Start the flow; the reply (FlowFinished) goes to whoever sent RunFlow."""
        if self.core is not None:
            raise ConfigurationError(f"Flow {self.core.flow_id!r} was started twice.")
        self.asker = ctx.envelope
        assert msg.plan is not None
        manager = self.executor.state_manager
        self.checkpointer = Checkpointer(manager, msg.plan.id, self.checkpoint_interval)
        if ctx.system.cell_at(STORE_PATH) is not None:
            retention = msg.config.get("memory_retention", 0.0)
            self.durable = DurableCheckpoints(
                msg.plan.id,
                version=msg.snapshot_version,
                writer=ctx.new_id("run"),
                retention=float(retention) if isinstance(retention, int | float) else None,
            )
        if self.topic is not None and ctx.system.cell_at(STREAMS_PATH) is None:
            self.topic = self.launcher.topic = None  # no hub: nobody could listen
        if self.topic is not None:  # looked up once per flow, not per attempt
            self.streams = self.launcher.streams = streams_of(ctx.system)
        self._feed(msg, ctx)

    def on_step_attempt_finished(self, msg: StepAttemptFinished, ctx: Context) -> None:
        """An attempt ended with a result or an error."""
        self.launcher.ended(msg.step_id, msg.attempt)
        self._feed(msg, ctx)

    def on_human_answered(self, msg: HumanAnswered, ctx: Context) -> None:
        """A person answered a ``human_input`` step (or asking failed)."""
        self.launcher.ended(msg.step_id, msg.attempt)
        self._feed(msg, ctx)

    def on_human_response(self, msg: HumanResponse, ctx: Context) -> None:
        """The human gateway ended a request of a ``human_input`` step."""
        if self.core is not None:
            self.launcher.human_responded(msg, self.core.flow_id, ctx)

    def on_replan_flow(self, msg: ReplanFlow, ctx: Context) -> None:
        """Go on by a new version of the plan; the sender learns whether it was taken."""
        before = self.core
        commands = self._feed(msg, ctx)
        core = self.core
        if core is None:
            return
        refused = [c for c in commands if isinstance(c, Emit) and c.event == "plan_refused"]
        reply = PlanChanged(
            flow_id=core.flow_id,
            accepted=before is not None and core.spec is not before.spec,
            version=core.spec.plan.version,
            reason=str(refused[0].detail.get("reason", "")) if refused else "",
        )
        ctx.reply(reply)

    def on_retry_step(self, msg: RetryStep, ctx: Context) -> None:
        """A retry delay passed."""
        self._feed(msg, ctx)

    def on_sweep_timeouts(self, msg: SweepTimeouts, ctx: Context) -> None:
        """The earliest attempt deadline came."""
        self._feed(msg, ctx)

    def on_cancel_flow(self, msg: CancelFlow, ctx: Context) -> None:
        """Stop the flow (a caller, or the flow timeout)."""
        self._feed(msg, ctx)

    def on_save_checkpoint(self, msg: SaveCheckpoint, ctx: Context) -> None:
        """Auto-save tick."""
        self._feed(msg, ctx)

    def on_checkpoint_saved(self, msg: CheckpointSaved, ctx: Context) -> None:
        """A checkpoint save ended."""
        saver = self.checkpointer
        if not msg.from_store:  # the state manager's save
            if saver is not None and msg.error:  # the final save's deadline passed
                saver.errors += 1
                saver.last_error = msg.error
            elif saver is not None and not saver.nowait:
                saver.saved(ctx)
            if self.durable is not None:
                return  # a mirrored state manager's save: the store's decides the end
        self._feed(msg, ctx)

    def on_write_response(self, msg: WriteResponse, ctx: Context) -> None:
        """The store committed the final checkpoint (with the flow's memory release)."""
        self.on_save_checkpoint_response(msg, ctx)

    def on_save_checkpoint_response(
        self, msg: SaveCheckpointResponse | WriteResponse, ctx: Context
    ) -> None:
        """The store committed a checkpoint: carry out what waited for it."""
        durable = self.durable
        if durable is not None and durable.owns(self._correlation(ctx)):
            at = self._at(ctx)
            for command in durable.saved(msg, ctx):
                self._carry_out(command, at, ctx)
            if self.stopping and durable.settled:
                ctx.stop()

    def on_store_request_failed(self, msg: StoreRequestFailed, ctx: Context) -> None:
        """The store did not commit a checkpoint."""
        durable = self.durable
        if durable is not None and durable.owns(self._correlation(ctx)):
            conflict = msg.error_type == "CheckpointConflictError"
            # An error that is no store error is the store's bug or a passing trouble (it
            # restarts): pause and try again, as for a transient one.
            unexpected = type(msg.to_error()) is StoreError
            text = f"{msg.error_type}: {msg.error}"
            durable.failed(text, ctx, transient=msg.transient or unexpected, conflict=conflict)
            if self.stopping and durable.settled:
                ctx.stop()

    def on_stop_flow_actor(self, msg: StopFlowActor, ctx: Context) -> None:
        """The flow ended long ago and its final state still could not be stored."""
        ctx.log.error(
            "Flow {flow}: its final state was not stored within {s:g} s; the store keeps "
            "an earlier one",
            flow=self._flow_id,
            s=FINAL_SAVE_TIMEOUT,
        )
        ctx.stop()

    def on_retry_checkpoint(self, msg: RetryCheckpoint, ctx: Context) -> None:
        """Send a failed checkpoint write again."""
        if self.durable is not None:
            self.durable.retry(msg, ctx)

    def on_flush_checkpoint(self, msg: FlushCheckpoint, ctx: Context) -> None:
        """Save the checkpoint that the minimum interval held back (I/O pacing only)."""
        if self.core is not None and self.checkpointer is not None:
            self.checkpointer.flush(self.core, self._at(ctx), ctx)

    # -- agent replies ---------------------------------------------------------------

    def on_agent_task_done(self, msg: AgentTaskDone, ctx: Context) -> None:
        """An agent answered an ``agent`` step."""
        self.launcher.agent_answered(msg, self._flow_id, ctx)

    def on_request_timed_out(self, msg: RequestTimedOut, ctx: Context) -> None:
        """An ``agent`` step's request, or a checkpoint write, got no answer in time."""
        durable = self.durable
        if durable is not None and durable.owns(msg.correlation_id):
            durable.failed(f"no answer in {msg.timeout:g} s", ctx, transient=True)
        else:
            self.launcher.agent_timed_out(msg, self._flow_id, ctx)

    def on_delivery_failed(self, msg: DeliveryFailed, ctx: Context) -> None:
        """An ``agent`` step's request (or a checkpoint write) could not be delivered, or
        the agent failed on it."""
        durable = self.durable
        if durable is not None and durable.owns(self._correlation(ctx)):
            text = f"the store actor did not take it ({msg.reason.value}: {msg.detail})"
            durable.failed(text, ctx, transient=True)
        else:
            self.launcher.agent_unreached(msg, self._flow_id, ctx)

    @staticmethod
    def _correlation(ctx: Context) -> CorrelationId | None:
        env = ctx.envelope
        return None if env is None else env.correlation_id

    # -- the fold ----------------------------------------------------------------------

    @property
    def _flow_id(self) -> str:
        assert self.core is not None
        return self.core.flow_id

    def _at(self, ctx: Context) -> float:
        env = ctx.envelope
        return env.wall_time if env is not None else ctx.now().timestamp()

    def _feed(self, event: Message, ctx: Context) -> list[Command]:
        env = ctx.envelope
        if env is not None:
            if env.seq < self.last_seq:  # two threads sent at once: the journal's order
                ctx.record_effect(ORDER_EFFECT, {"after": self.last_seq})  # is not ours
            self.last_seq = env.seq
        at = self._at(ctx)
        self.core, commands = decide(self.core, event, at)
        if self.topic is not None:
            self._publish(commands, at, ctx)
        durable = self.durable
        if durable is not None:  # the state goes to the store before its effects start
            for command in commands:
                if isinstance(command, SaveState):
                    durable.save(self.core, at, ctx, final=command.final)
        for command in commands:
            if durable is None:
                self._carry_out(command, at, ctx)
            elif isinstance(command, StartAttempt | AskHuman) and durable.behind:
                durable.hold(command)
            elif isinstance(command, CancelAttempt) and durable.drop(command):
                continue  # it never started
            elif not isinstance(command, SaveState) or self.mirror:
                self._carry_out(command, at, ctx)
        return commands

    def _carry_out(self, command: Command, at: float, ctx: Context) -> None:
        core = self.core
        assert core is not None
        assert self.checkpointer is not None
        if isinstance(command, StartAttempt):
            self.launcher.start(command, core, ctx)
        elif isinstance(command, AskHuman):
            self.launcher.ask(command, core, ctx)
        elif isinstance(command, SaveState):
            self.checkpointer.save(core, at, ctx, final=command.final)
        elif isinstance(command, ScheduleTimer):
            ctx.schedule(command.delay, command.message)
        elif isinstance(command, CancelAttempt):
            self.launcher.cancel(command.step_id, command.attempt)
        elif isinstance(command, Emit):
            self._emit(command, ctx)
        elif isinstance(command, Finish):
            self._reply(ctx)
            durable = self.durable
            if durable is None or durable.settled:
                ctx.stop()
            else:  # its final state is not stored yet: keep trying, for a while
                self.stopping = True
                ctx.schedule(FINAL_SAVE_TIMEOUT, StopFlowActor())

    def _publish(self, commands: list[Command], at: float, ctx: Context) -> None:
        """Tell the stream hub the events of one decision (one message), before any
        attempt it starts can emit its own."""
        emits = [c for c in commands if isinstance(c, Emit)]
        streams = self.streams
        if not emits or streams is None or not streams.is_heard(ctx.system):
            return
        core = self.core
        assert core is not None
        if core.finished_at is not None and self.final is None:
            dumped = flow_state(core, at).model_dump(mode="json", exclude={"plan"})
            self.final = cast("dict[str, JsonValue]", freeze(dumped))
        items = tuple(stream_items(emits, core, at, self.final, commands))
        ctx.tell(STREAMS_PATH, trusted(StreamEvents, items=items, topic=self.topic))

    def _emit(self, command: Emit, ctx: Context) -> None:
        level = _LEVELS.get(command.event, "INFO")
        if level == "DEBUG":  # every step's start and end: the journal shows them already
            return
        ctx.log.log(
            level,
            "Flow {flow}: {event} {step} {detail}",
            flow=self._flow_id,
            event=command.event,
            step=command.step_id or "",
            detail=dict(command.detail) or "",
        )

    # -- the end -----------------------------------------------------------------------

    def _reply(self, ctx: Context) -> None:
        if self.replied or self.asker is None or self.core is None:
            return
        self.replied = True
        problems: dict[str, JsonValue] = {}
        saver, durable = self.checkpointer, self.durable
        if saver is not None and saver.errors:  # say so: the stored state may be behind
            problems["checkpoint_errors"] = saver.errors
            problems["checkpoint_error"] = saver.last_error
        if durable is not None and (durable.failures or durable.broken):
            problems["checkpoint_errors"] = durable.failures + (1 if durable.broken else 0)
            problems["checkpoint_error"] = durable.broken or durable.last_error
        dumped: dict[str, JsonValue]
        if self.final is not None:  # made for the last stream event: the same, plus these
            meta = self.final.get("metadata")
            dumped = {**self.final, "metadata": {**(meta if isinstance(meta, dict) else {}),
                                                 **problems}}  # fmt: skip
        else:
            state = flow_state(self.core, self._at(ctx))
            state.metadata.update(problems)
            dumped = state.model_dump(mode="json", exclude={"plan"})
        status = dumped.get("status")
        # The dump is JSON data (the field's type), so the message is built as it is.
        reply = trusted(FlowFinished, flow_id=self.core.flow_id, status=str(status), state=dumped)
        ctx.reply(reply, to=self.asker)

    def on_stop(self, ctx: Context) -> None:
        """If the flow actor stops before the flow ended, its steps are cancelled and the
        waiting caller learns it. Without a store the flow ends FAILED (a final checkpoint
        is saved); with one, the stored state stays as it was, so the flow can resume."""
        if self.checkpointer is not None:
            self.checkpointer.stopped = True  # no message can reach this actor any more
        try:
            if self.core is not None and self.core.is_running:
                reason = "the flow actor stopped before the flow ended"
                if self.durable is not None:
                    reason += f"; resume it from the store with flow.resume({self._flow_id!r})"
                at = self._at(ctx)
                ctx.record_effect(STOP_EFFECT, {"reason": reason, "at": at})
                event = CancelFlow(reason=reason, failed=True)
                self.core, commands = decide(self.core, event, at)
                if self.topic is not None:
                    self._publish(commands, at, ctx)
                for command in commands:
                    if isinstance(command, CancelAttempt) and self.durable is not None:
                        # stored as running: a resumed flow asks its people again under
                        # the same request ids, so their open requests stay open
                        self.launcher.cancel(command.step_id, command.attempt, keep_request=True)
                    elif self.durable is None:
                        self._carry_out(command, at, ctx)
        finally:
            self._reply(ctx)  # whatever failed above, the caller is answered
