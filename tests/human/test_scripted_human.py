"""The scripted human of actorflow.testing, and the seed's models kept in place."""

from __future__ import annotations

import asyncio
import threading

import actorflow.flow.human
import actorflow.human
from actorflow import FakeClock
from actorflow.human import HumanCallbackData, HumanCallbackResponse, HumanCallbackType
from actorflow.testing import NO_ANSWER, Answer, ScriptedHuman


def question(message: str, **fields: object) -> HumanCallbackData:
    return HumanCallbackData(type=HumanCallbackType.INPUT, message=message, **fields)


def test_answers_come_from_a_mapping_by_message_or_step_id() -> None:
    human = ScriptedHuman({"Name?": "Ada", "ask-age": 36})

    name = asyncio.run(human.on_human_input(question("Name?")))
    age = asyncio.run(human.on_human_input(question("Age?", step_id="ask-age")))

    assert (name.value, age.value) == ("Ada", 36)
    assert name.callback_id == human.asked[0].request_id


def test_answers_come_from_a_list_in_order() -> None:
    human = ScriptedHuman(["first", "second"])

    values = [asyncio.run(human.on_human_input(question("Q?"))).value for _ in range(2)]

    assert values == ["first", "second"]


def test_an_answer_waits_for_its_delay_on_the_fake_clock() -> None:
    clock = FakeClock()
    human = ScriptedHuman({"Q?": Answer(value="late", after=30)}, clock=clock)
    box: list[HumanCallbackResponse] = []
    call = threading.Thread(
        target=lambda: box.append(asyncio.run(human.on_human_input(question("Q?"))))
    )
    call.start()
    assert human.wait_asked(1, timeout=2)
    assert clock.wait_for_timers(1, timeout=2)

    clock.advance(29)
    assert box == []
    clock.advance(1)
    call.join(2)

    assert box[0].value == "late"
    assert box[0].answered_at == clock.time()


def test_a_question_without_an_answer_is_noted_and_never_answered() -> None:
    human = ScriptedHuman({"Q?": NO_ANSWER})

    async def ask_briefly() -> None:
        task = asyncio.ensure_future(human.on_human_input(question("Other?")))
        await asyncio.wait({task}, timeout=0)  # one step: the call is waiting
        task.cancel()

    asyncio.run(ask_briefly())

    assert [d.message for d in human.unscripted] == ["Other?"]
    assert human.wait_cancelled(1, timeout=1)


def test_the_seed_import_path_gives_the_same_classes() -> None:
    for name in actorflow.flow.human.__all__:
        assert getattr(actorflow.flow.human, name) is getattr(actorflow.human, name)


def test_the_seed_data_has_its_fields_and_the_new_ones() -> None:
    data = question("Q?")

    assert set(HumanCallbackData.model_fields) >= {
        "type", "message", "options", "default_value", "timeout", "flow_id", "step_id",
        "timestamp", "request_id", "multi_select", "metadata",
    }  # fmt: skip
    assert data.request_id.startswith("human-")
    assert data.request_id != question("Q?").request_id
    assert set(HumanCallbackResponse.model_fields) == {
        "callback_id", "response_type", "value", "responder", "answered_at",
    }  # fmt: skip
