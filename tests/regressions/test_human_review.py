"""Regressions from the adversarial review of the human gateway (issue 13): H1..Hn.

Each test shows one defect and is marked ``xfail(strict=True)`` until it is fixed.
"""

from __future__ import annotations

import asyncio
import io
import queue
import threading
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from pydantic import JsonValue
from rich.console import Console

from actorflow import (
    ActorSystem,
    ConfigurationError,
    FakeClock,
    FlowDefinitionError,
    FlowPlan,
    FlowState,
    FlowStatus,
    HumanCallbackManager,
    InvalidHumanAnswerError,
    MemoryStore,
    create_flow_step,
    spawn_store,
)
from actorflow.human import (
    HUMAN_PATH,
    ConsoleHumanCallback,
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    HumanOutcome,
    HumanRequest,
    HumanResponse,
    InMemoryPendingRequests,
    PendingRecord,
    answer_human_request,
    human_handlers,
    list_human_requests,
    spawn_human_gateway,
)
from actorflow.human.validation import check_pattern, check_request, validate_answer
from actorflow.journal import JournalConfig, JournalEvent, open_journal
from actorflow.messages import EffectRecorded, Envelope
from actorflow.testing import Answer, Probe, ScriptedHuman
from tests.flow.support import human_effects, new_flow, plan_of
from tests.human.support import ask, outcome, send


@pytest.fixture
def requester(fake_system: ActorSystem) -> Probe:
    """A probe that asks the human gateway and gets the outcomes."""
    return Probe(fake_system, "requester")


class _Handler:
    """An IHumanCallback whose every method runs ``answer``."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked = threading.Event()

    async def _call(self, data: HumanCallbackData) -> Any:
        self.asked.set()
        return await self.answer(data)

    async def on_human_confirm(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]

    async def on_human_input(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]

    async def on_human_select(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]

    async def on_human_help(self, data: HumanCallbackData) -> HumanCallbackResponse:
        return await self._call(data)  # type: ignore[no-any-return]


def _confirm_plan() -> FlowPlan:
    step = create_flow_step(
        "ask", "human_input", {"message": "Ship it?", "input_type": "confirm"}, id="ask",
        max_retries=0,
    )  # fmt: skip
    return plan_of(step)


# -- H1: nested bounded repeats pass the pattern check ------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [r"(?:a*){16}b", r"((a|a){0,16}){0,16}b", r"(a{0,16}){0,16}b"],
)
def test_a_pattern_with_a_bounded_repeat_of_a_repeat_is_refused(pattern: str) -> None:
    """``(?:a*){16}b`` takes seconds on 14 a's (and years on 256): a repeat of at most 16
    is not 'long', so the check never looks inside it for nested repeats."""
    with pytest.raises(ConfigurationError, match=r"^The answer pattern .* is refused"):
        check_pattern(pattern)


# -- H2: non-text answers have no size bound ----------------------------------------------


def test_a_huge_list_answer_to_an_untyped_input_is_refused() -> None:
    """``max_length`` caps text only: a list (or dict) answer of any size is accepted,
    then journaled as a ``human`` effect and kept in the pending records."""
    request = ask("big", HumanCallbackType.INPUT, message="Anything?")
    huge: list[JsonValue] = ["x" * 100] * 200_000  # 20 MB of JSON

    with pytest.raises(InvalidHumanAnswerError, match=r"^Answer .* to human request .big."):
        validate_answer(request, huge)


# -- H3: the handler's answer for another request id is taken ---------------------------


def test_a_handler_answer_for_another_request_id_is_not_taken(
    fake_system: ActorSystem, requester: Probe
) -> None:
    """The gateway ignores ``HumanCallbackResponse.callback_id``: a handler that mixes up
    two requests answers the wrong one and nobody notices."""

    async def wrong_id(data: HumanCallbackData) -> HumanCallbackResponse:
        return HumanCallbackResponse(callback_id="someone-else", response_type="confirm",
                                     value=True)  # fmt: skip

    spawn_human_gateway(fake_system, _Handler(wrong_id))
    send(fake_system, ask("r1", reply_to=requester.path))

    response = outcome(requester)
    assert response.outcome is not HumanOutcome.ANSWERED


# -- H4: a handler raising CancelledError itself is taken for a gateway cancel ------------


def test_a_handler_that_raises_cancelled_error_fails_the_request(
    fake_system: ActorSystem, requester: Probe
) -> None:
    """``ask_handler`` drops every CancelledError as 'the gateway cancelled it', so a handler
    whose own awaitable was cancelled (a client library, a shut-down UI) leaves the request
    open until its deadline: the on_error policy (fail) never applies."""

    async def cancelled(data: HumanCallbackData) -> HumanCallbackResponse:
        raise asyncio.CancelledError

    spawn_human_gateway(fake_system, _Handler(cancelled))
    send(fake_system, ask("r1", reply_to=requester.path))

    response = outcome(requester, timeout=1.0)
    assert response.outcome is HumanOutcome.FAILED


# -- H5: the same plan run twice reuses the first run's answer ----------------------------


def _run(flow: Any, plan: FlowPlan) -> FlowState:
    state: FlowState = flow.execute_sync(plan)
    return state


def test_running_a_plan_again_asks_the_human_again(system: ActorSystem) -> None:
    """The request id is ``flow id/step id/attempt`` and the flow id is the plan id, so
    a second run of the same plan sends a request id the gateway knows; ``_rejoin``
    tells it the first run's stored outcome and nobody is asked."""
    human = ScriptedHuman([True, False])
    flow = new_flow(system)
    flow.set_human_callback(human)
    plan = _confirm_plan()
    first = _run(flow, plan)
    assert first.steps["ask"].result is True

    second = _run(flow, plan)

    assert len(human.asked) == 2
    assert second.status is FlowStatus.COMPLETED
    assert second.steps["ask"].result is False


# -- H6: NaN and infinity are accepted, then journaled as null ----------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [1.0, float("-inf")]])
def test_a_non_finite_answer_to_an_untyped_input_is_refused(value: Any) -> None:
    """JsonValue lets NaN and infinity through; the journal's JSON dump writes them as
    null, so the flow goes on with one answer while the journal records another."""
    request = ask("nan", HumanCallbackType.INPUT, message="Anything?")
    assert HumanResponse(request_id="x", outcome=HumanOutcome.ANSWERED, value=float("nan")
                         ).model_dump(mode="json")["value"] is None  # fmt: skip

    with pytest.raises(InvalidHumanAnswerError):
        validate_answer(request, value)


# -- H7: a request no answer can fit is taken -------------------------------------------


def test_a_request_with_a_negative_max_length_is_refused() -> None:
    """``check_request`` promises to refuse a request that cannot be answered; with
    ``max_length=-1`` every text answer is refused, so it can only time out."""
    request = ask("m", HumanCallbackType.INPUT, message="Name?", max_length=-1)

    with pytest.raises(ConfigurationError, match=r"^Human request 'm'"):
        check_request(request)


# -- H8: every manager leaves its handler registered at the gateway ---------------------


def test_a_manager_does_not_leave_its_handler_registered(fake_system: ActorSystem) -> None:
    """Each HumanCallbackManager registers its callback as ``manager-N`` and never
    removes it: the gateway's handler table grows with every manager made, and keeps
    every callback (and what it holds) alive as long as the system."""
    manager = HumanCallbackManager(ScriptedHuman({"Go?": True}), system=fake_system)
    assert asyncio.run(manager.request_confirmation("Go?")) is True
    handlers = human_handlers(fake_system)
    assert handlers is not None

    assert handlers.get(manager._name) is None


# -- H9: ended requests are kept forever --------------------------------------------------


def test_ended_requests_do_not_accumulate_without_bound(clock: FakeClock) -> None:
    """Every request, answered or not, stays in the dict for the process's life (and
    H5 shows the harm of remembering them): there is no retention nor bound."""
    pending = InMemoryPendingRequests()
    count = 2_000
    for n in range(count):
        request = ask(f"r{n}")
        pending.put(PendingRecord(request=request, deadline=1.0, asked_at=0.0))
        answered = HumanResponse(request_id=f"r{n}", outcome=HumanOutcome.ANSWERED, value=True)
        pending.resolve(f"r{n}", answered)

    kept = sum(pending.get(f"r{n}") is not None for n in range(count))
    assert kept < count


# -- H10: a graceful stop cancels the request a resumed flow needs ------------------------


def test_a_durable_flow_stopped_while_asking_leaves_its_request_open() -> None:
    """With a store the flow's state stays running so it can be resumed, but its
    ``on_stop`` still cancels the attempt and with it the gateway request; the resumed
    flow asks the same request id and gets that ``cancelled`` outcome, so its step
    fails instead of waiting on (or taking an answer given meanwhile)."""
    pending = InMemoryPendingRequests()
    human = ScriptedHuman.silent()
    plan = _confirm_plan()
    plan.id = "durable"
    box: list[FlowState] = []
    with ActorSystem() as one:
        spawn_store(one, MemoryStore())
        spawn_human_gateway(one, pending=pending)
        flow = new_flow(one)
        flow.set_human_callback(human)
        runner = threading.Thread(target=lambda: box.append(flow.execute_sync(plan)))
        runner.start()
        assert human.wait_asked(1, 10)
    runner.join(10)
    (record,) = [r for r in pending.list_pending() if r.request_id.startswith("durable/ask/1@")]

    assert record.outcome is None


# -- H11: without the gateway nothing checks the answer -----------------------------------


def test_without_the_gateway_an_invalid_confirmation_does_not_land_in_the_context(
    system: ActorSystem,
) -> None:
    """``ask_human`` returns ``response.value`` as it is: 'maybe' becomes
    ``context['user_confirmed']`` and a condition ``== True`` quietly takes the no branch."""
    flow = new_flow(system, human_gateway=False)
    flow.set_human_callback(ScriptedHuman({"Ship it?": "maybe"}))

    state = flow.execute_sync(_confirm_plan())

    assert state.variables.get("user_confirmed") != "maybe"
    assert state.status is not FlowStatus.COMPLETED


# -- H12: a flow waits forever when its gateway goes away ---------------------------------


def test_a_flow_whose_gateway_stops_still_times_its_human_step_out(clock: FakeClock) -> None:
    """Under the gateway ``_deadline`` gives a human step no deadline (the gateway times
    the request); if the gateway stops (or the request is dead-lettered), no outcome
    ever comes and the flow waits forever, its step timeout long past."""
    human = ScriptedHuman.silent()
    box: list[FlowState] = []
    with ActorSystem(clock=clock) as system:
        flow = new_flow(system, human_timeout=60.0, auto_save_interval=10_000)
        flow.set_human_callback(human)
        runner = threading.Thread(target=lambda: box.append(flow.execute_sync(_confirm_plan())))
        runner.start()
        assert human.wait_asked(1, 10)
        system.stop(HUMAN_PATH)
        clock.advance(3600.0)
        runner.join(2)

        assert not runner.is_alive()
    (state,) = box
    assert state.status is FlowStatus.FAILED


# -- H13: answers asked without the gateway are not journaled as human effects ------------


def test_without_the_gateway_answers_are_journaled_as_human_effects(tmp_path: Path) -> None:
    """The gateway records each answer as a ``human`` effect named by the request id;
    the direct path records none, so a flow's answers cannot be found the same way
    in the journal (and a replay has no human effect to feed back)."""
    path = tmp_path / "journal"
    with ActorSystem(journal=JournalConfig(path=path)) as system:
        flow = new_flow(system, human_gateway=False)
        flow.set_human_callback(ScriptedHuman({"Ship it?": True}))
        state = flow.execute_sync(_confirm_plan())
    assert state.status is FlowStatus.COMPLETED
    effects = human_effects(path)

    assert effects == [(f"{state.flow_id}/ask/1", True)]


# -- H14: a second requester of an open request takes the outcome from the first ----------


def test_both_requesters_of_one_open_request_are_told_its_outcome(fake_system: ActorSystem) -> None:
    """``_rejoin`` replaces ``reply_to``: two callers sending one request id (a manager
    re-sending the same HumanCallbackData, a flow and a tool) leave the first waiting
    for an outcome that never comes (a manager: for twice the timeout plus a minute)."""
    first, second = Probe(fake_system, "first"), Probe(fake_system, "second")
    spawn_human_gateway(fake_system)
    send(fake_system, ask("r1", reply_to=first.path))
    send(fake_system, ask("r1", reply_to=second.path))
    answer_human_request(fake_system, "r1", value=True)

    assert outcome(second).value is True
    assert outcome(first, timeout=1.0).value is True


# -- H15: a console prompt whose request ended goes on reading the keyboard --------------


class _Keyboard:
    """Standard input a test types into line by line; ``waiting`` is set while a read
    waits for a line."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.waiting = threading.Event()

    def readline(self) -> str:
        self.waiting.set()
        try:
            return self.lines.get(timeout=2)
        except queue.Empty:
            return ""  # the input ended
        finally:
            self.waiting.clear()


class _Screen(io.StringIO):
    """A console's output; ``shown`` is set once ``text`` has been written."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.shown = threading.Event()

    def write(self, s: str) -> int:
        written = super().write(s)
        if self.text in self.getvalue():
            self.shown.set()
        return written


def test_a_line_typed_after_a_request_timed_out_answers_the_next_request(
    fake_system: ActorSystem, clock: FakeClock, requester: Probe
) -> None:
    """The read of a timed-out confirmation cannot be interrupted; when a line comes it
    is parsed for the dead request: 'alice' is not yes/no, so the dead prompt asks
    again and keeps reading, while the open request for a name is never prompted.

    The person types once the screen shows the next prompt (as a person would: a line
    typed before the console has learnt of the timeout still answers the dead prompt)."""
    keyboard = _Keyboard()
    screen = _Screen("Name?")
    console = Console(file=screen, force_terminal=False, width=200)
    human = ConsoleHumanCallback(console, stream=keyboard)  # type: ignore[arg-type]
    spawn_human_gateway(fake_system, human)
    send(fake_system, ask("r1", timeout=10, reply_to=requester.path))
    assert keyboard.waiting.wait(2)
    send(fake_system, ask("r2", HumanCallbackType.INPUT, message="Name?", timeout=100,
                          reply_to=requester.path))  # fmt: skip
    clock.advance(10)
    assert outcome(requester).outcome is HumanOutcome.TIMED_OUT
    assert screen.shown.wait(2)

    keyboard.lines.put("alice\n")

    answered = outcome(requester, timeout=2.0)
    assert (answered.request_id, answered.value) == ("r2", "alice")


# -- H16: the manager without a system drops the escalate policy -----------------------


def test_a_manager_without_a_system_does_not_silently_drop_escalation(clock: FakeClock) -> None:
    """The manager's docstring promises 'the same timeout policies' without a system,
    but ``_timed_out`` treats ``escalate`` as ``fail``: nobody is escalated to and the
    caller gets a plain timeout. It should escalate, or refuse the option up front."""
    manager = HumanCallbackManager(ScriptedHuman.silent(), clock=clock)

    async def main() -> Any:  # refused up front: nobody is asked, no deadline armed
        return await manager.request_confirmation("Go?", timeout=10, on_timeout="escalate")

    with pytest.raises(ConfigurationError, match="escalat"):
        asyncio.run(main())
    assert clock.pending_timers() == 0


# -- H17: a flow config the gateway always refuses is taken --------------------------------


def test_an_infinite_human_timeout_is_refused_by_the_config_or_waits(system: ActorSystem) -> None:
    """``FlowConfig.human_timeout`` only checks ``gt=0``; the gateway refuses an
    infinite timeout, so every human step of such a flow fails at run time instead of
    the assignment being refused (or inf meaning 'no limit', as the old path took it)."""
    flow = new_flow(system)
    refused = False
    try:
        flow.config.human_timeout = float("inf")
    except ValueError:
        refused = True
    if not refused:
        flow.set_human_callback(ScriptedHuman({"Ship it?": True}))
        state = flow.execute_sync(_confirm_plan())

        assert state.status is FlowStatus.COMPLETED, state.error


# -- H18: the journaled request carries the wall clock ------------------------------------


def test_a_flows_human_request_is_stamped_by_the_system_clock(
    clock: FakeClock, tmp_path: Path
) -> None:
    """``human_question`` leaves ``HumanCallbackData.timestamp`` to its default factory,
    ``time.time``; the HumanRequest the flow sends (journaled) then holds the real time
    under a FakeClock, so two runs of one scenario journal different messages and a
    replay diverges."""
    path = tmp_path / "journal"
    with ActorSystem(clock=clock, journal=JournalConfig(path=path)) as system:
        flow = new_flow(system)
        flow.set_human_callback(ScriptedHuman({"Ship it?": True}))
        state = flow.execute_sync(_confirm_plan())
    assert state.status is FlowStatus.COMPLETED
    with open_journal(path) as journal:
        stamps = [
            r.message.timestamp
            for r in journal
            if isinstance(r, Envelope) and isinstance(r.message, HumanRequest)
        ]

    assert stamps == [clock.time()]


# -- H19: without a callback the gateway is bypassed and nobody can answer ----------------


def test_a_flow_without_a_callback_waits_for_an_answer_from_outside(system: ActorSystem) -> None:
    """The launcher takes the gateway only when the flow has a callback; without one the
    step fails at once ('no human callback'), so a request can never be answered from
    outside (``answer_human_request``, ``actorflow answer``) as the issue asks."""
    spawn_human_gateway(system)
    flow = new_flow(system)
    plan = _confirm_plan()
    box: list[FlowState] = []
    runner = threading.Thread(target=lambda: box.append(flow.execute_sync(plan)))
    runner.start()
    while runner.is_alive() and not list_human_requests(system):
        runner.join(0.05)  # wait for the request, or for the flow to end without one
    if runner.is_alive():
        (request,) = list_human_requests(system)
        assert request.request_id.startswith(f"{plan.id}/ask/1@")
        answer_human_request(system, request.request_id, value=True)
    runner.join(10)
    (state,) = box

    assert state.status is FlowStatus.COMPLETED, state.error
    assert state.variables["user_confirmed"] is True


# -- H20: a manager call cancelled by its caller leaves the request open ----------------


def test_cancelling_a_manager_call_cancels_its_request(fake_system: ActorSystem) -> None:
    """Through the gateway, ``request()`` only awaits ``ask_async``: when its caller is
    cancelled (a web request gone, ``asyncio.timeout``) the gateway's request stays
    open, the handler keeps asking the human, and an answer is taken for nobody."""
    human = ScriptedHuman.silent()
    manager = HumanCallbackManager(human, system=fake_system)

    async def main() -> None:
        task = asyncio.ensure_future(manager.request_confirmation("Go?"))
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, lambda: human.wait_asked(1, 5))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())

    assert human.wait_cancelled(1, 2)
    assert list_human_requests(fake_system) == ()


# -- H21: a human step no request can come of passes plan validation ---------------------


@pytest.mark.parametrize(
    "params",
    [
        {"input_type": "input", "pattern": "(a+)+"},
        {"input_type": "select", "options": ["x"], "on_timeout": "default", "default_value": "z"},
        {"input_type": "confirm", "multi_select": True},
    ],
)
def test_a_human_step_the_gateway_would_refuse_is_refused_before_the_flow_runs(
    system: ActorSystem, params: dict[str, Any]
) -> None:
    """These questions are refused by ``check_request`` whatever the answer, yet the plan
    is taken: the steps before it run (side effects), then the flow fails with 'the
    request was failed: ...' instead of a FlowDefinitionError up front."""
    flow = new_flow(system)
    flow.set_human_callback(ScriptedHuman.silent())
    step = create_flow_step("ask", "human_input", {"message": "Name?", **params}, id="ask",
                            max_retries=0)  # fmt: skip

    with pytest.raises(FlowDefinitionError):
        flow.execute_sync(plan_of(step))


# -- H22: an answer the journal cannot encode is taken, and missing from the journal -----


def test_an_int_answer_beyond_64_bits_is_refused_or_journaled(
    clock: FakeClock, tmp_path: Path
) -> None:
    """``value_type='int'`` takes any Python int; msgpack cannot encode one beyond 64
    bits, so the answer, its ``human`` effect and the outcome are missing from the
    journal while the requester goes on with the value."""
    path = tmp_path / "journal"
    with ActorSystem(clock=clock, journal=JournalConfig(path=path)) as system:
        spawn_human_gateway(system)
        send(system, ask("r1", HumanCallbackType.INPUT, message="N?", value_type="int"))
        try:
            answer_human_request(system, "r1", value=2**70)
        except InvalidHumanAnswerError:
            return  # refused: the fix may take this way
    with open_journal(path) as journal:
        effects = [
            r.message.name
            for r in journal
            if isinstance(r, JournalEvent)
            and isinstance(r.message, EffectRecorded)
            and r.message.effect == "human"
        ]

    assert effects == ["r1"]


# -- H23: without the gateway a failing human is asked again and again --------------------


def test_without_the_gateway_a_failed_human_step_is_not_asked_again(system: ActorSystem) -> None:
    """The gateway path marks every human failure non-retryable ('a person is not asked
    again unbidden'); the direct path does not, so a callback error re-asks the person
    up to ``default_max_retries`` more times."""
    human = ScriptedHuman({"Ship it?": Answer(error=RuntimeError("the form crashed"))})
    flow = new_flow(system, human_gateway=False)
    flow.set_human_callback(human)
    step = create_flow_step("ask", "human_input", {"message": "Ship it?", "input_type": "confirm"},
                            id="ask")  # fmt: skip

    state = flow.execute_sync(plan_of(step))

    assert state.status is FlowStatus.FAILED
    assert len(human.asked) == 1


# -- H24: refused answers and questions are logged at WARNING ------------------------------


def test_a_refused_answer_is_not_logged_above_trace(fake_system: ActorSystem) -> None:
    """``on_handler_answered`` logs ``str(InvalidHumanAnswerError)``, which quotes the
    answer and the question; STYLE says prompts (and secrets: a mistyped PIN) never go
    above TRACE."""
    lines: list[tuple[str, str]] = []
    refused = threading.Event()

    def sink(message: Any) -> None:
        lines.append((message.record["level"].name, message.record["message"]))
        if "refused" in message.record["message"]:
            refused.set()

    logger.enable("actorflow")
    handler = logger.add(sink, level="TRACE", format="{message}")
    try:
        human = ScriptedHuman({"Your PIN?": "hunter2"})
        spawn_human_gateway(fake_system, human)
        send(fake_system, ask("r1", HumanCallbackType.INPUT, message="Your PIN?",
                              pattern="[0-9]{4}"))  # fmt: skip
        assert refused.wait(2)  # the refusal is logged, at some level
    finally:
        logger.remove(handler)
        logger.disable("actorflow")

    loud = [text for level, text in lines if level not in ("TRACE", "DEBUG")]
    assert not [text for text in loud if "hunter2" in text or "Your PIN?" in text]


# -- H25: console prompts waiting for their turn hold the effects pool -------------------


def test_console_prompts_waiting_their_turn_leave_the_pool_to_other_work(
    fake_system: ActorSystem,
) -> None:
    """``ConsoleHumanCallback`` waits for its turn at the terminal *inside* a pool thread
    (``_ask_in_turn`` takes the lock there): with as many open requests as the pool has
    threads, every sync tool and blocking handler of the system queues behind a person."""
    keyboard = _Keyboard()
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    human = ConsoleHumanCallback(console, stream=keyboard)  # type: ignore[arg-type]
    spawn_human_gateway(fake_system, human)
    threads = fake_system.effects.statistics().max_threads
    ran = threading.Event()
    try:
        for n in range(threads):
            send(fake_system, ask(f"r{n}"))
        assert keyboard.waiting.wait(2)
        started = threading.Event()  # an effect scheduled after every prompt's start
        fake_system.effects.submit(_nothing, lambda _r, _e: started.set())
        assert started.wait(2)
        fake_system.effects.call_blocking(lambda: 42, lambda _r, _e: ran.set())

        assert ran.wait(1)
    finally:
        for _ in range(threads):
            keyboard.lines.put("y\n")


async def _nothing() -> None:
    """An effect that does nothing (it runs after the effects scheduled before it)."""


# -- H26: options no answer can tell apart are taken ------------------------------------------


@pytest.mark.parametrize("options", [("a", "a"), (1, 1.0), (float("nan"), "b")])
def test_a_selection_whose_options_cannot_be_told_apart_is_refused(
    options: tuple[JsonValue, ...],
) -> None:
    """Duplicate options (``1`` and ``1.0`` compare equal) make an answer ambiguous and a
    multi-select of both impossible ('names an option twice'); a NaN option can never
    be chosen (NaN != NaN) and is journaled as null."""
    request = ask("s", HumanCallbackType.SELECT, message="Pick", options=options)

    with pytest.raises(ConfigurationError, match=r"^Human request 's'"):
        check_request(request)
