"""Regression tests for defects found in review: kind checks, freezing on every path."""

from __future__ import annotations

import collections
import dataclasses
import uuid
from collections.abc import Generator, Iterable
from decimal import Decimal
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

from actorflow import Message
from actorflow.errors import ConfigurationError, InvalidMessageError, MessageFrozenError
from actorflow.messages.base import message_class

T = TypeVar("T")


# -- 1. kind must be Literal["<one value>"] ---------------------------------------------


def test_kind_annotated_str_is_refused_at_definition() -> None:
    with pytest.raises(ConfigurationError, match=r"Loose.*Literal\['review\.loose'\]"):

        class Loose(Message):
            kind: str = "review.loose"  # type: ignore[assignment]


def test_kind_literal_with_two_values_is_refused_at_definition() -> None:
    with pytest.raises(ConfigurationError, match="TwoKinds"):

        class TwoKinds(Message):
            kind: Literal["review.two", "review.two_b"] = "review.two"


def test_kind_literal_differing_from_default_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="Mismatch"):

        class Mismatch(Message):
            kind: Literal["review.other"] = "review.mismatch"  # type: ignore[assignment]


class GenericResult(Message, Generic[T]):
    kind: Literal["review.generic"] = "review.generic"
    value: T


def test_parametrised_generic_message_shares_its_kind() -> None:
    built = GenericResult[int](value=1)
    assert built.value == 1
    assert type(built).kind_tag == "review.generic"
    assert message_class("review.generic") is GenericResult


# -- 2. model_copy / model_construct freeze whatever the field types ----------------------


class OnlyTuples(Message):
    kind: Literal["review.only_tuples"] = "review.only_tuples"
    xs: tuple[int, ...] = ()
    tags: frozenset[str] = frozenset()


def _assert_unshared(message: OnlyTuples, xs: list[int], tags: set[str]) -> None:
    assert message.xs is not xs
    assert message.tags is not tags
    assert isinstance(message.tags, frozenset)
    with pytest.raises((MessageFrozenError, AttributeError)):
        message.xs.append(3)  # type: ignore[attr-defined]
    xs.append(9)
    assert list(message.xs) == [1, 2]


def test_model_copy_freezes_update_of_tuple_only_class() -> None:
    xs, tags = [1, 2], {"a"}
    copied = OnlyTuples().model_copy(update={"xs": xs, "tags": tags})
    _assert_unshared(copied, xs, tags)


def test_model_construct_freezes_values_of_tuple_only_class() -> None:
    xs, tags = [1, 2], {"a"}
    built = OnlyTuples.model_construct(xs=xs, tags=tags)  # type: ignore[arg-type]
    _assert_unshared(built, xs, tags)


# -- 3. field types that cannot be frozen: refused at definition or at build time -------


def test_frozen_dataclass_field_is_refused_at_definition() -> None:
    @dataclasses.dataclass(frozen=True)
    class Holder:
        items: list[int]

    with pytest.raises(ConfigurationError, match=r"dataclass.*frozen=True"):

        class WithDataclass(Message):
            kind: Literal["review.dataclass"] = "review.dataclass"
            d: Holder


def test_typeddict_field_is_refused_at_definition() -> None:
    class Shape(TypedDict):
        items: list[int]

    with pytest.raises(ConfigurationError, match=r"TypedDict.*Mapping"):

        class WithTypedDict(Message):
            kind: Literal["review.typeddict"] = "review.typeddict"
            d: Shape


@pytest.mark.parametrize("annotation", [Iterable[int], Generator[int, None, None]])
def test_iterable_field_is_refused_at_definition(annotation: object) -> None:
    with pytest.raises(ConfigurationError, match="tuple"):
        type(
            "WithIterable",
            (Message,),
            {
                "__annotations__": {"kind": Literal["review.iterable"], "xs": annotation},
                "kind": "review.iterable",
            },
        )


class Pair(NamedTuple):
    items: list[int]


class WithNamedTuple(Message):
    kind: Literal["review.named_tuple"] = "review.named_tuple"
    t: Pair


def test_named_tuple_holding_a_list_is_frozen() -> None:
    items = [1]
    message = WithNamedTuple(t=Pair(items=items))
    assert isinstance(message.t, Pair)
    with pytest.raises(MessageFrozenError):
        message.t.items.append(2)
    items.append(9)
    assert message.t.items == [1]


class WithAny(Message):
    kind: Literal["review.any"] = "review.any"
    x: Any = None


@pytest.mark.parametrize(
    "value", [collections.deque([1]), collections.UserList([1]), collections.UserDict(a=1)]
)
def test_any_field_refuses_a_mutable_value_it_cannot_freeze(value: object) -> None:
    with pytest.raises(InvalidMessageError, match=type(value).__qualname__):
        WithAny(x=value)


@pytest.mark.parametrize("value", [1, "s", Decimal(1), uuid.UUID(int=1), (1, [2]), {"a": [1]}])
def test_any_field_keeps_or_freezes_known_values(value: object) -> None:
    assert WithAny(x=value).x == value


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str = "x"


class PartWithList(Part):
    items: list[int] = []


class UnfrozenPart(Part):
    model_config = ConfigDict(frozen=False)


class WithPart(Message):
    kind: Literal["review.part"] = "review.part"
    p: Part


def test_nested_model_subclass_adding_a_list_is_frozen_by_runtime_type() -> None:
    sent = PartWithList(items=[1])
    message = WithPart(p=sent)
    assert isinstance(message.p, PartWithList)
    with pytest.raises(MessageFrozenError):
        message.p.items.append(2)
    assert sent.items == [1]


def test_nested_model_subclass_that_is_not_frozen_is_refused() -> None:
    with pytest.raises(InvalidMessageError, match=r"UnfrozenPart.*frozen=True"):
        WithPart(p=UnfrozenPart())


def test_message_class_that_is_not_frozen_is_refused_at_definition() -> None:
    with pytest.raises(ConfigurationError, match=r"Unfrozen.*frozen=False"):

        class Unfrozen(Message, frozen=False):
            kind: Literal["review.unfrozen"] = "review.unfrozen"
