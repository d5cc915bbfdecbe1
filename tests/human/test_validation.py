"""Answer checks, bounded patterns, and typed text turned into answers."""

from __future__ import annotations

from typing import Any

import pytest

from actorflow import ConfigurationError, InvalidHumanAnswerError
from actorflow.human import (
    HumanCallbackType,
    TimeoutPolicy,
    check_pattern,
    check_request,
    parse_answer,
    validate_answer,
)
from actorflow.human.validation import MAX_ID_LENGTH, PATTERN_INPUT_LIMIT
from tests.human.support import ask

CONFIRM = HumanCallbackType.CONFIRM
INPUT = HumanCallbackType.INPUT
SELECT = HumanCallbackType.SELECT


@pytest.mark.parametrize("value", [True, False])
def test_a_confirmation_takes_a_bool(value: bool) -> None:
    assert validate_answer(ask(), value) is value


@pytest.mark.parametrize("value", [1, 0, "yes", None, [True]])
def test_a_confirmation_refuses_anything_but_a_bool(value: Any) -> None:
    with pytest.raises(InvalidHumanAnswerError, match=r"is not a bool"):
        validate_answer(ask(), value)


def test_a_selection_refuses_true_for_an_option_1() -> None:
    with pytest.raises(InvalidHumanAnswerError, match=r"not one of the options \[1, 2\]"):
        validate_answer(ask(type=SELECT, options=(1, 2)), value=True)


def test_a_multi_select_answer_must_be_a_list() -> None:
    request = ask(type=SELECT, options=("a", "b"), multi_select=True)

    with pytest.raises(InvalidHumanAnswerError, match=r"is not a list of options"):
        validate_answer(request, "a")


@pytest.mark.parametrize(
    ("value_type", "good", "bad"),
    [("str", "x", 1), ("int", 3, 3.5), ("int", 3, True), ("float", 2.5, "2.5"), ("bool", True, 1)],
)
def test_an_input_with_a_value_type_takes_only_that_type(
    value_type: str, good: Any, bad: Any
) -> None:
    request = ask(type=INPUT, value_type=value_type)

    assert validate_answer(request, good) == good
    with pytest.raises(InvalidHumanAnswerError):
        validate_answer(request, bad)


def test_a_float_input_takes_an_int_as_a_float() -> None:
    value = validate_answer(ask(type=INPUT, value_type="float"), 2)

    assert value == 2.0
    assert isinstance(value, float)


def test_an_input_must_match_its_pattern_in_full() -> None:
    request = ask(type=INPUT, pattern=r"[A-Z]{2}-\d{3}")

    assert validate_answer(request, "AB-123") == "AB-123"
    with pytest.raises(InvalidHumanAnswerError, match=r"does not match the pattern"):
        validate_answer(request, "AB-1234")


def test_text_longer_than_the_cap_is_refused() -> None:
    with pytest.raises(InvalidHumanAnswerError, match=r"has 11 characters; at most 10"):
        validate_answer(ask(type=INPUT, max_length=10), "x" * 11)


def test_text_matched_against_a_pattern_is_capped() -> None:
    request = ask(type=INPUT, pattern=r"a*")

    with pytest.raises(InvalidHumanAnswerError, match=rf"at most {PATTERN_INPUT_LIMIT}"):
        validate_answer(request, "a" * (PATTERN_INPUT_LIMIT + 1))


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a+)+$", "repeats a repeat"),
        (r"(\w+\s?)*x", "repeats a repeat"),
        (r"(a|ab)*c", "repeats an alternation"),
        (r"(a)\1", "back-reference"),
        (r"a*b*c*d*", "more than 3 long repeats"),
        ("a" * 300, "at most 256"),
        (r"(", "not a valid regular expression"),
    ],
)
def test_patterns_that_could_take_exponential_time_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"[a-z]+@[a-z]+\.[a-z]{2,}", r"(?:\d{1,3}\.){3}\d{1,3}", r"(?:a|b)*", r"(ab+)*+", r"\d+"],
)
def test_ordinary_patterns_are_taken(pattern: str) -> None:
    assert check_pattern(pattern).pattern == pattern


def test_a_request_with_an_unsafe_pattern_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^The answer pattern '\(a\+\)\+' is refused"):
        check_request(ask(type=INPUT, pattern="(a+)+"))


def test_a_pattern_on_an_answer_that_is_not_text_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"Patterns apply to text inputs only"):
        check_request(ask(type=INPUT, value_type="int", pattern=r"\d+"))


def test_a_default_policy_needs_a_valid_default() -> None:
    request = ask(type=SELECT, options=("a",), default_value="z", on_timeout=TimeoutPolicy.DEFAULT)

    with pytest.raises(ConfigurationError, match=r"the default is not a valid answer"):
        check_request(request)


@pytest.mark.parametrize(
    "fields",
    [
        {"request_id": ""},
        {"request_id": "r" * (MAX_ID_LENGTH + 1)},
        {"flow_id": "f" * (MAX_ID_LENGTH + 1)},
        {"step_id": ""},
    ],
)
def test_an_id_a_store_cannot_keep_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"it must be 1 to 512"):
        check_request(ask(**fields))


def test_ids_up_to_the_limit_are_taken() -> None:
    longest = "x" * MAX_ID_LENGTH
    check_request(ask(longest, flow_id=longest, step_id=longest))


def test_multi_select_is_only_for_selections() -> None:
    with pytest.raises(ConfigurationError, match=r"only a selection can take several"):
        check_request(ask(multi_select=True))


@pytest.mark.parametrize(
    ("text", "value"), [("yes", True), ("Y", True), ("no", False), ("0", False)]
)
def test_typed_yes_and_no_answer_a_confirmation(text: str, value: bool) -> None:
    assert parse_answer(ask(), text) is value


def test_a_typed_option_or_its_number_answers_a_selection() -> None:
    request = ask(type=SELECT, options=("red", "green", 7))

    assert parse_answer(request, "green") == "green"
    assert parse_answer(request, "1") == "red"
    assert parse_answer(request, "7") == 7


def test_typed_options_separated_by_commas_answer_a_multi_select() -> None:
    request = ask(type=SELECT, options=("red", "green", "blue"), multi_select=True)

    assert parse_answer(request, "blue, 1") == ["blue", "red"]


def test_typed_numbers_answer_numeric_inputs() -> None:
    assert parse_answer(ask(type=INPUT, value_type="int"), " 42 ") == 42
    with pytest.raises(InvalidHumanAnswerError, match=r"is not a whole number"):
        parse_answer(ask(type=INPUT, value_type="int"), "4.2")
