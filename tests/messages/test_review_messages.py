"""Regression tests for defects found in review: kind checks, freezing on every path."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

import pytest

from actorflow import Message
from actorflow.errors import ConfigurationError, MessageFrozenError
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
