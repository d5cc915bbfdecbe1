"""Properties of the flow decider over random DAG plans, outcomes and interleavings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
from actorflow.flow.invariants import state_problem
from actorflow.flow.messages import (
    CancelFlow,
    CheckpointSaved,
    HumanAnswered,
    ReplanFlow,
    RunFlow,
    StepAttemptFinished,
)
from actorflow.flow.models import (
    TERMINAL_STEP_STATES,
    FlowPlan,
    FlowStatus,
    PlanSpec,
    StepSpec,
    create_flow_step,
)
from actorflow.flow.persistence import plan_json, state_json
from actorflow.flow.retry import error_hierarchy
from actorflow.flow.stored import core_from_checkpoint
from actorflow.messages.base import Message
from actorflow.stores import Checkpoint

T0 = 1_800_000_000.0


@st.composite
def plans(draw: st.DrawFn) -> RunFlow:
    """A random DAG: each step depends on a random subset of the earlier ones."""
    n = draw(st.integers(1, 9))
    steps = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        kind = draw(st.sampled_from(["tool", "tool", "tool", "condition", "sync", "human"]))
        params: dict[str, Any] = {"critical": draw(st.booleans())}
        if draw(st.booleans()):
            params["skip_if_failed"] = True
        if kind == "condition":
            step_type, params["condition"] = "condition", draw(st.sampled_from(["True", "False"]))
        elif kind == "sync":
            step_type = "synchronization"
        elif kind == "human":
            step_type, params["message"] = "human_input", "Go on?"
        else:
            step_type, params["tool_name"] = "mcp_tool", "t"
        steps.append(
            create_flow_step(
                f"s{i}",
                step_type,
                params,
                [f"s{d}" for d in deps],
                id=f"s{i}",
                max_retries=draw(st.integers(0, 2)),
                timeout=draw(st.sampled_from([None, 5.0])),
            )
        )
    plan = FlowPlan(id="f", name="random", steps=steps)
    config = {
        "max_parallel_steps": draw(st.integers(1, 4)),
        "default_step_timeout": None,
        "retry_delay": draw(st.sampled_from([0.0, 1.0])),
        "jitter": draw(st.sampled_from([0.0, 0.5])),
        "flow_timeout": draw(st.sampled_from([None, 50.0])),
        "auto_save_interval": 30.0,
    }
    return RunFlow(plan=plan.freeze(), config=config, seed=draw(st.integers(0, 9)))


@dataclass
class World:
    """The outside world of one flow: attempts in flight, timers, the clock."""

    core: FlowCore | None = None
    now: float = T0
    running: dict[tuple[str, int], bool] = field(default_factory=dict)
    """Attempts in flight, and whether each asks a person."""
    finished: list[tuple[str, int]] = field(default_factory=list)
    human: set[tuple[str, int]] = field(default_factory=set)
    started: set[tuple[str, int]] = field(default_factory=set)
    timers: list[tuple[float, int, Message]] = field(default_factory=list)
    events: list[tuple[Message, float]] = field(default_factory=list)
    commands: list[list[Command]] = field(default_factory=list)
    states: list[FlowCore] = field(default_factory=list)
    ends: int = 0
    finishes: int = 0
    final_save_pending: bool = False
    settled: dict[str, str] = field(default_factory=dict)

    def feed(self, event: Message) -> None:
        before = None if self.core is None else json.dumps(self.core.to_json(), sort_keys=True)
        previous = self.core
        core, commands = decide(self.core, event, self.now)
        if previous is not None:  # decide never changes the state it is given
            assert json.dumps(previous.to_json(), sort_keys=True) == before
        self.events.append((event, self.now))
        self.commands.append(commands)
        self.states.append(core)
        self.check(previous, core, commands)
        self.core = core
        for command in commands:
            self.carry_out(command)

    def carry_out(self, command: Command) -> None:
        if isinstance(command, StartAttempt | AskHuman):
            key = (command.step_id, command.attempt)
            assert key not in self.started, f"attempt {key} started twice"
            self.started.add(key)
            self.running[key] = isinstance(command, AskHuman)
            if isinstance(command, AskHuman):
                self.human.add(key)
        elif isinstance(command, CancelAttempt):
            self.running.pop((command.step_id, command.attempt), None)
            self.finished.append((command.step_id, command.attempt))
        elif isinstance(command, ScheduleTimer):
            self.timers.append((self.now + command.delay, len(self.timers), command.message))
        elif isinstance(command, SaveState) and command.final:
            self.final_save_pending = True
        elif (
            isinstance(command, Emit)
            and command.event.startswith("flow_")
            and (command.event not in ("flow_started", "flow_resumed"))
        ):
            self.ends += 1
        elif isinstance(command, Finish):
            self.finishes += 1

    def check(self, previous: FlowCore | None, core: FlowCore, commands: list[Command]) -> None:
        spec = core.spec
        # state -> JSON -> state is the identity
        assert FlowCore.from_json(json.loads(json.dumps(core.to_json()))) == core
        # every state the decider makes keeps the rules stored states are checked by
        assert state_problem(core) is None, state_problem(core)
        if previous is not None and core.spec is not previous.spec:  # a new plan
            for sid, rec in core.steps.items():
                if rec.status not in TERMINAL_STEP_STATES:
                    self.settled.pop(sid, None)  # a step the new plan did not keep
        for sid, rec in core.steps.items():
            step = spec.steps[sid]
            assert rec.attempts - rec.offset <= 1 + step.max_retries, (sid, rec)
            if rec.status in TERMINAL_STEP_STATES:  # a step finishes at most once
                first = self.settled.setdefault(sid, rec.status.value)
                assert first == rec.status.value or (
                    rec.status.value == "cancelled" and (first == "cancelled")
                ), (sid, first, rec.status)
            elif sid in self.settled:
                raise AssertionError(f"{sid} left its terminal state {self.settled[sid]}")
            if (
                rec.attempts
                and previous is not None
                and sid in previous.steps
                and (rec.attempts > previous.steps[sid].attempts)
            ):  # it started an attempt: every dependency is terminal
                for dep in step.dependencies:
                    assert core.steps[dep].status in TERMINAL_STEP_STATES, (sid, dep)
        taken = sum(1 for r in core.steps.values() if r.live or r.retrying)
        assert taken <= spec.settings.max_parallel_steps
        assert taken == core.slots
        assert self.ends <= 1
        assert self.finishes <= 1
        if self.finishes:
            assert core.status is not FlowStatus.RUNNING

    def outcome(self, key: tuple[str, int], *, ok: bool, error: type[BaseException]) -> None:
        self.running.pop(key, None)
        self.finished.append(key)
        hierarchy = error_hierarchy(error)
        message = HumanAnswered if key in self.human else StepAttemptFinished
        self.feed(
            message(
                flow_id="f",
                step_id=key[0],
                attempt=key[1],
                ok=ok,
                result=None if not ok else f"{key[0]}#{key[1]}",
                error_type="" if ok else hierarchy[0],
                error="" if ok else "boom",
                error_types=() if ok else hierarchy,
            )
        )

    def fire_timer(self, index: int) -> None:
        due, _, message = self.timers.pop(index)
        self.now = max(self.now, due)
        self.feed(message)


_ERRORS = [ConnectionError, ValueError, TimeoutError, KeyError]


def _run(run: RunFlow, data: st.DataObject) -> World:
    world = World()
    world.feed(run)
    for _ in range(80):
        if world.finishes:
            break
        _act(world, data)
    _drain(world)
    return world


def _act(world: World, data: st.DataObject) -> None:
    """Let one random thing happen to the flow."""
    choices = []
    if world.running:
        choices += ["ok", "error"]
    if world.finished:
        choices.append("late")
    if world.timers:
        choices.append("timer")
    if world.final_save_pending:
        choices.append("saved")
    choices += ["cancel", "replan"]
    choice = data.draw(st.sampled_from(choices))
    if choice in ("ok", "error"):
        key = data.draw(st.sampled_from(sorted(world.running)))
        world.outcome(key, ok=choice == "ok", error=data.draw(st.sampled_from(_ERRORS)))
    elif choice == "late":
        key = data.draw(st.sampled_from(world.finished))
        world.outcome(key, ok=data.draw(st.booleans()), error=ValueError)
    elif choice == "timer":
        world.fire_timer(data.draw(st.integers(0, len(world.timers) - 1)))
    elif choice == "saved":
        world.final_save_pending = False
        world.feed(CheckpointSaved(final=True))
    elif choice == "replan":
        assert world.core is not None
        world.feed(_new_version(world.core.spec.plan, data))
    elif data.draw(st.integers(0, 9)) == 0:  # cancel, rarely
        world.feed(CancelFlow(reason="test"))


def _new_version(plan: PlanSpec, data: st.DataObject) -> ReplanFlow:
    """The next version of ``plan``: each step kept, changed, or dropped (when nothing
    kept depends on it)."""
    steps: list[StepSpec] = []
    needed: set[str] = set()
    for old in reversed(plan.steps):
        fate = data.draw(st.sampled_from(["keep", "keep", "change", "drop"]))
        if fate == "drop" and old.id not in needed:
            continue
        new = old
        if fate == "change":
            new = old.model_copy(update={"parameters": {**old.parameters, "v": plan.version}})
        needed.update(new.dependencies)
        steps.append(new)
    new = plan.model_copy(update={"steps": tuple(reversed(steps)), "version": plan.version + 1})
    return ReplanFlow(plan=new)


def _drain(world: World) -> None:
    """Let the world answer everything, in time order, until the flow finishes."""
    for _ in range(500):
        if world.finishes:
            return
        if world.final_save_pending:
            world.final_save_pending = False
            world.feed(CheckpointSaved(final=True))
        elif world.running:
            world.outcome(min(world.running), ok=True, error=ValueError)
        elif world.timers:
            world.fire_timer(min(range(len(world.timers)), key=lambda i: world.timers[i][:2]))
        else:
            raise AssertionError("the flow waits for nothing yet has not finished")
    raise AssertionError("the flow did not finish")


@settings(max_examples=150)
@given(run=plans(), data=st.data())
def test_random_flows_keep_the_invariants_and_end_exactly_once(
    run: RunFlow, data: st.DataObject
) -> None:
    world = _run(run, data)

    assert world.finishes == 1
    assert world.ends == 1
    assert world.core is not None
    assert world.core.status is not FlowStatus.RUNNING
    assert all(r.status in TERMINAL_STEP_STATES for r in world.core.steps.values())


@settings(max_examples=60)
@given(run=plans(), data=st.data())
def test_folding_the_same_events_twice_gives_the_same_states_and_commands(
    run: RunFlow, data: st.DataObject
) -> None:
    world = _run(run, data)

    core: FlowCore | None = None
    for (event, at), state, commands in zip(
        world.events, world.states, world.commands, strict=True
    ):
        core, again = decide(core, event, at)
        assert again == commands
        assert core == state


@settings(max_examples=60)
@given(run=plans(), data=st.data())
def test_a_completed_flow_has_a_final_result_and_a_failed_one_has_none(
    run: RunFlow, data: st.DataObject
) -> None:
    world = _run(run, data)
    assert world.core is not None

    variables = world.core.variables()
    if world.core.status is FlowStatus.COMPLETED:
        assert "final_result" in variables
    else:
        assert "final_result" not in variables


@settings(max_examples=100)
@given(run=plans(), data=st.data())
def test_a_flow_resumed_from_any_stored_state_runs_again_only_what_was_under_way(
    run: RunFlow, data: st.DataObject
) -> None:
    world = World()
    world.feed(run)
    for _ in range(data.draw(st.integers(0, 30))):
        if world.core is None or not world.core.is_running:
            break
        _act(world, data)
    core = world.core
    assert core is not None
    if not core.is_running:
        return
    snapshot = json.loads(json.dumps(core.to_json()))  # what a store keeps
    stored = Checkpoint(flow_id="f", version=1, state=json.loads(json.dumps(state_json(core))),
                        status="running", steps_done=0, steps_total=len(core.steps), at=world.now,
                        plan_hash="h", plan=plan_json(core.spec.plan), write_id="")  # fmt: skip
    assert core_from_checkpoint(stored) == core  # what resume reads back, checked
    under_way = {(sid, rec.live) for sid, rec in core.steps.items() if rec.live}
    completed = {sid for sid, rec in core.steps.items() if rec.status.value == "completed"}
    plan = core.spec.plan
    later = World(now=world.now + data.draw(st.sampled_from([0.0, 1.0, 100.0])))
    later.feed(RunFlow(plan=plan, config=dict(run.config), seed=run.seed, snapshot=snapshot))
    assert under_way <= set(later.started)  # the same attempt numbers: the same keys
    _drain(later)

    assert later.finishes == 1
    assert not {sid for sid, _ in later.started} & completed  # never run again
    assert later.core is not None
    for sid in completed:
        assert later.core.steps[sid].status.value == "completed"
