"""Messages are immutable all the way down: nobody sees a change made after sending."""

from __future__ import annotations

import collections
import copy
from collections.abc import Callable
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from actorflow import ActorSystem, ConfigurationError, Message, MessageError
from actorflow.errors import MessageFrozenError
from actorflow.messages import (
    EffectRecorded,
    FrozenDict,
    FrozenList,
    OpaqueMessage,
    decode_envelope,
    decode_message,
    encode_envelope,
    encode_message,
    message_record,
    thaw,
)
from actorflow.testing import Probe


class Basket(Message):
    """A message with the mutable-looking fields a user might write."""

    kind: Literal["test.basket"] = "test.basket"
    items: list[str] = Field(default_factory=list)
    data: dict[str, JsonValue] = Field(default_factory=dict)
    result: JsonValue = None
    count: int = 0


class Limits(BaseModel):
    """A frozen model with a dict inside, nested in a message (like a flow's PlanSpec)."""

    model_config = ConfigDict(frozen=True)

    caps: dict[str, list[int]]


class Configured(Message):
    kind: Literal["test.configured"] = "test.configured"
    limits: Limits


class Plain(Message):
    kind: Literal["test.plain"] = "test.plain"
    name: str
    tags: tuple[str, ...] = ()
    ids: frozenset[int] = frozenset()


def test_a_list_changed_by_the_sender_after_tell_is_not_seen_by_the_receiver(
    system: ActorSystem,
) -> None:
    probe = Probe(system, "probe")
    sent = Basket(items=["apple"])
    system.tell(probe.path, sent)

    with pytest.raises(MessageFrozenError):
        sent.items.append("pear")
    received = probe.expect(Basket)

    assert received.items == ["apple"]


def test_nested_json_data_is_read_only_all_the_way_down() -> None:
    msg = Basket(data={"steps": [{"id": "a", "tags": ["x"]}]}, result={"scores": [1, 2]})
    steps = msg.data["steps"]
    assert isinstance(steps, list)
    first = steps[0]
    assert isinstance(first, dict)
    assert isinstance(msg.result, dict)
    scores = msg.result["scores"]
    assert isinstance(scores, list)
    tags = first["tags"]
    assert isinstance(tags, list)

    changes: list[Callable[[], object]] = [
        lambda: msg.data.update(x=1),
        lambda: steps.append(1),
        lambda: first.pop("id"),
        lambda: tags.extend(["y"]),
        scores.sort,
    ]
    for change in changes:
        with pytest.raises(MessageFrozenError):
            change()

    assert msg == Basket(data={"steps": [{"id": "a", "tags": ["x"]}]}, result={"scores": [1, 2]})


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.append(1),
        lambda v: v.extend([1]),
        lambda v: v.insert(0, 1),
        lambda v: v.remove(1),
        lambda v: v.pop(),
        lambda v: v.clear(),
        lambda v: v.sort(),
        lambda v: v.reverse(),
        lambda v: v.__setitem__(0, 2),
        lambda v: v.__delitem__(0),
        lambda v: v.__iadd__([1]),
        lambda v: v.__imul__(2),
    ],
)
def test_every_change_to_a_frozen_list_is_refused(
    change: Callable[[FrozenList[int]], object],
) -> None:
    items = FrozenList([1])

    with pytest.raises(MessageFrozenError):
        change(items)

    assert items == [1]


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.__setitem__("a", 2),
        lambda v: v.__delitem__("a"),
        lambda v: v.__ior__({"b": 1}),
        lambda v: v.clear(),
        lambda v: v.pop("a"),
        lambda v: v.popitem(),
        lambda v: v.setdefault("b", 1),
        lambda v: v.update(b=1),
    ],
)
def test_every_change_to_a_frozen_dict_is_refused(
    change: Callable[[FrozenDict[str, int]], object],
) -> None:
    data = FrozenDict({"a": 1})

    with pytest.raises(MessageFrozenError):
        change(data)

    assert data == {"a": 1}


def test_the_error_says_why_and_how_to_change_the_data() -> None:
    msg = Basket(items=["a"])

    with pytest.raises(
        MessageFrozenError,
        match=r"^Cannot call append\(\) on message data: a message's lists are read-only, "
        r"because the message may already have been sent .* Copy it \(list\(value\)\), change "
        r"the copy, and build a new message \(model_copy\(update=\.\.\.\)\)\.$",
    ):
        msg.items.append("b")


def test_the_error_is_a_message_error_and_a_type_error() -> None:
    assert issubclass(MessageFrozenError, MessageError)
    assert issubclass(MessageFrozenError, TypeError)


def test_assignment_by_index_is_refused_like_on_a_tuple() -> None:
    msg = Basket(items=["a"], data={"k": 1})

    with pytest.raises(TypeError):
        msg.items[0] = "b"
    with pytest.raises(TypeError):
        msg.data["k"] = 2


def test_frozen_containers_compare_and_dump_like_plain_ones() -> None:
    msg = Basket(items=["a"], data={"k": [1, {"z": None}]})

    assert msg.items == ["a"]
    assert isinstance(msg.items, list)
    assert isinstance(msg.data, dict)
    assert repr(msg.data) == "{'k': [1, {'z': None}]}"
    assert msg.model_dump(mode="json") == {
        "kind": "test.basket",
        "items": ["a"],
        "data": {"k": [1, {"z": None}]},
        "result": None,
        "count": 0,
    }
    assert message_record(msg) == msg.model_dump(mode="json")


def test_model_dump_gives_plain_mutable_copies() -> None:
    msg = Basket(items=["a"], data={"k": [1]})

    dumped = msg.model_dump()
    dumped["items"].append("b")
    dumped["data"]["k"].append(2)

    assert type(dumped["data"]["k"]) is list
    assert msg.items == ["a"]
    assert msg.data == {"k": [1]}


def test_thaw_gives_plain_mutable_copies() -> None:
    msg = Basket(data={"k": [1, {"z": [2]}]})

    thawed = thaw(msg.data)

    assert thawed == msg.data
    assert type(thawed) is dict
    assert type(thawed["k"]) is list
    assert type(thawed["k"][1]["z"]) is list


def test_frozen_messages_survive_the_msgpack_round_trip() -> None:
    msg = Basket(items=["a"], data={"k": [1, {"z": [True]}]}, result=[{"x": 1.5}])

    decoded = decode_message(encode_message(msg))

    assert decoded == msg
    assert isinstance(decoded, Basket)
    assert type(decoded.data["k"]) is FrozenList


def test_the_caller_keeps_its_own_list_and_dict() -> None:
    items = ["a"]
    data: dict[str, JsonValue] = {"k": [1]}

    msg = Basket(items=items, data=data)
    items.append("b")
    data["k"].append(2)  # type: ignore[union-attr]

    assert msg.items == ["a"]
    assert msg.data == {"k": [1]}


def test_model_copy_freezes_the_values_it_puts_in() -> None:
    items = ["b"]

    msg = Basket(items=["a"]).model_copy(update={"items": items})
    items.append("c")

    assert msg.items == ["b"]
    with pytest.raises(MessageFrozenError):
        msg.items.append("d")


def test_model_construct_freezes_too() -> None:
    msg = Basket.model_construct(items=["a"], data={"k": [1]})

    assert type(msg.items) is FrozenList
    assert type(msg.data["k"]) is FrozenList


def test_copies_of_a_message_are_equal_and_share_its_read_only_data() -> None:
    msg = Basket(items=["a"], data={"k": [1]})

    for copied in (copy.copy(msg), copy.deepcopy(msg), msg.model_copy(deep=True)):
        assert copied == msg
        assert copied.data is msg.data


def test_a_nested_frozen_model_is_copied_with_its_dicts_frozen() -> None:
    limits = Limits(caps={"cpu": [1, 2]})

    msg = Configured(limits=limits)
    limits.caps["cpu"].append(3)

    assert msg.limits.caps == {"cpu": [1, 2]}
    with pytest.raises(MessageFrozenError):
        msg.limits.caps["cpu"].append(4)


def test_messages_without_lists_or_dicts_skip_the_freezing_step() -> None:
    assert Plain.frozen_fields == ()
    assert Plain.__pydantic_post_init__ is None
    assert Basket.frozen_fields == ("items", "data", "result")


def test_a_subclass_inherits_freezing_and_adds_its_own_fields() -> None:
    class Base(Message, abstract=True):
        tags: list[str] = Field(default_factory=list)

    class Tagged(Base):
        kind: Literal["test.tagged"] = "test.tagged"
        extra: dict[str, int] = Field(default_factory=dict)

    msg = Tagged(tags=["a"], extra={"b": 1})

    assert Tagged.frozen_fields == ("tags", "extra")
    assert type(msg.tags) is FrozenList
    assert type(msg.extra) is FrozenDict


def test_a_message_hook_of_its_own_still_runs_after_freezing() -> None:
    seen: list[object] = []

    class Hooked(Message):
        kind: Literal["test.hooked"] = "test.hooked"
        items: list[int] = Field(default_factory=list)

        def model_post_init(self, context: object, /) -> None:
            seen.append(type(self.items))

    Hooked(items=[1])

    assert seen == [FrozenList]


def test_system_messages_with_json_data_are_frozen() -> None:
    effect = EffectRecorded(actor="/agents/a", effect="tool", value={"rows": [[1, 2]]})
    opaque = OpaqueMessage(original_kind="x.y", fields={"a": [1]})

    assert type(effect.value["rows"][0]) is FrozenList  # type: ignore[index,call-overload]
    assert type(opaque.fields) is FrozenDict
    assert type(opaque.fields["a"]) is FrozenList


def test_an_envelope_round_trip_keeps_frozen_data(system: ActorSystem) -> None:
    probe = Probe(system, "probe")
    system.tell(probe.path, Basket(data={"k": [1]}))
    env = probe.expect_envelope()

    decoded = decode_envelope(encode_envelope(env))

    assert decoded == env
    assert type(decoded.message.data["k"]) is FrozenList  # type: ignore[attr-defined]


# -- annotations that cannot be frozen are refused when the class is defined ----------


def test_a_set_field_is_refused_with_the_fix() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^Message class '.*Seen' cannot be immutable: its field 'ids' is declared as "
        r"set\[int\], which can be changed after the message is sent\. Use frozenset\[\.\.\.\]\.$",
    ):

        class Seen(Message):
            kind: Literal["test.seen"] = "test.seen"
            ids: set[int]


def test_a_set_nested_in_a_dict_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"field 'groups' is declared as set\[str\]"):

        class Grouped(Message):
            kind: Literal["test.grouped"] = "test.grouped"
            groups: dict[str, set[str]]


def test_a_deque_field_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"declared as deque\[int\], .* Use tuple"):

        class Queued(Message):
            kind: Literal["test.queued"] = "test.queued"
            waiting: collections.deque[int]


def test_a_model_that_is_not_frozen_is_refused() -> None:
    class Settings(BaseModel):
        level: int = 0

    with pytest.raises(
        ConfigurationError,
        match=r"field 'settings' is declared as .*Settings, a model that is not frozen, so its "
        r"fields can be reassigned after sending\. Give .*Settings "
        r"model_config = ConfigDict\(frozen=True\)\.$",
    ):

        class Tuned(Message):
            kind: Literal["test.tuned"] = "test.tuned"
            settings: Settings


def test_a_refused_field_of_a_nested_model_names_both_classes() -> None:
    class Inner(BaseModel):
        model_config = ConfigDict(frozen=True)

        seen: set[str]

    with pytest.raises(ConfigurationError, match=r"its field 'seen' of .*Inner is declared"):

        class Outer(Message):
            kind: Literal["test.outer"] = "test.outer"
            inner: Inner
