"""JSON-data fields are validated and frozen in one walk that accepts what pydantic does."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue, TypeAdapter, ValidationError

from actorflow import Message
from actorflow.messages import FrozenDict, FrozenList, thaw
from actorflow.messages._json import frozen_json


class Level(enum.IntEnum):
    LOW = 1


class Colour(enum.StrEnum):
    RED = "red"


class Name(str):
    __slots__ = ()


class Report(Message):
    kind: Literal["test.report"] = "test.report"
    data: dict[str, JsonValue]
    result: JsonValue = None
    extra: dict[str, JsonValue] | None = None


_PYDANTIC = TypeAdapter(JsonValue)
ODD_LEAVES = st.sampled_from(
    [(1, 2), {1}, frozenset({"a"}), b"x", Decimal("1.5"), Level.LOW, Colour.RED, Name("n")]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | ODD_LEAVES
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), children, max_size=3)
    ),
    max_leaves=10,
)


@given(VALUES)
def test_it_accepts_exactly_what_pydantic_accepts_and_gives_equal_data(value: object) -> None:
    try:
        expected = _PYDANTIC.validate_python(value)
    except ValidationError:
        with pytest.raises(ValueError, match=r"is not (JSON data|a string)"):
            frozen_json(value)
    else:
        got = frozen_json(value)

        assert got == expected
        assert thaw(got) == expected


@given(VALUES)
def test_what_it_accepts_is_plain_json_and_frozen(value: object) -> None:
    try:
        got = frozen_json(value)
    except ValueError:
        return

    def check(item: object) -> None:
        assert type(item) in (FrozenDict, FrozenList, str, int, float, bool, type(None))
        if isinstance(item, dict):
            assert all(type(k) is str for k in item)
            for child in item.values():
                check(child)
        elif isinstance(item, list):
            for child in item:
                check(child)

    check(got)


def test_a_message_with_data_that_is_not_json_names_where() -> None:
    with pytest.raises(
        ValidationError, match=r"set at \['rows'\]\[1\] is not JSON data \(use dict with str"
    ):
        Report(data={"rows": [1, {2, 3}]})


def test_a_key_that_is_not_a_string_is_named() -> None:
    with pytest.raises(ValidationError, match=r"key 3 at \['a'\] is not a string"):
        Report(data={"a": {3: "x"}})


def test_a_json_object_field_refuses_other_json_values() -> None:
    with pytest.raises(ValidationError, match=r"expected a JSON object \(a dict\), got list"):
        Report(data=[1])


def test_optional_and_any_json_fields_are_frozen() -> None:
    report = Report(data={}, result=[{"a": [1]}], extra={"b": [2]})
    empty = Report(data={}, extra=None)

    assert type(report.result) is FrozenList
    assert type(report.extra) is FrozenDict
    assert type(report.extra["b"]) is FrozenList
    assert empty.extra is None


def test_enum_and_str_subclass_values_become_plain_values() -> None:
    report = Report(data={"level": Level.LOW, "colour": Colour.RED, "name": Name("n")})

    assert [type(v) for v in report.data.values()] == [int, str, str]
    assert report.data == {"level": 1, "colour": "red", "name": "n"}


def test_frozen_data_from_another_message_is_accepted() -> None:
    first = Report(data={"a": [1, {"b": 2}]})

    second = Report(data=first.data, result=first.data["a"])

    assert second.data == first.data
    assert second.result == [1, {"b": 2}]


def test_the_json_schema_still_describes_the_fields() -> None:
    schema = Report.model_json_schema()

    assert schema["properties"]["data"]["type"] == "object"
    assert "kind" in schema["properties"]
