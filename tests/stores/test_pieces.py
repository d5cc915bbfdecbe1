"""A state in pieces (``actorflow.stores._pieces``): joined, the pieces are the text the
encoder writes for the whole state, and patched pieces are the patched state's text."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorflow.errors import StoreDataError
from actorflow.stores._codec import encode
from actorflow.stores._pieces import (
    Member,
    StateTexts,
    members_of,
    object_text,
    patched,
)
from actorflow.stores._reading import apply_patch

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(["steps", "status", 'é\n"', "x"])
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=4)


@given(OBJECTS)
def test_joined_pieces_are_the_text_of_the_whole_object(value: dict[str, Any]) -> None:
    members = members_of(value, what="the state")

    assert members is not None
    assert object_text(members) == encode(value, what="the state")


@given(OBJECTS, OBJECTS, st.lists(KEYS, max_size=2, unique=True).map(tuple))
def test_patched_pieces_are_the_text_of_the_patched_object(
    state: dict[str, Any], changes: dict[str, Any], merge: tuple[str, ...]
) -> None:
    base = members_of(state, what="the state")
    change = members_of(changes, what="the patch")
    expected = apply_patch(copy.deepcopy(state), copy.deepcopy(changes), merge)

    assert base is not None
    assert change is not None
    assert object_text(patched(base, change, merge)) == encode(expected, what="the state")


def test_an_object_with_a_key_that_is_not_a_str_is_left_whole() -> None:
    assert members_of({"steps": {1: "a"}}, what="the state") is None
    assert members_of({2: "b"}, what="the state") is None


def test_a_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(
        StoreDataError, match=r"^The state is not plain JSON data: Out of range float"
    ):
        members_of({"x": [float("nan")]}, what="The state")


def _pieces(text: str) -> dict[str, Member]:
    members = members_of({"n": text}, what="the state")
    assert members is not None
    return members


def test_staged_pieces_count_once_their_transaction_is_kept_and_committed() -> None:
    texts = StateTexts()
    texts.stage("f", 2, "sum", _pieces("a"), 10)
    texts.end_transaction(kept=True)

    assert texts.get("f", 2) == (_pieces("a"), "sum")  # seen by later writes of the commit
    texts.end_commit(committed=True)
    assert texts.get("f", 2) == (_pieces("a"), "sum")
    assert texts.get("f", 3) is None  # another version: not known


def test_pieces_of_a_rolled_back_transaction_are_dropped() -> None:
    texts = StateTexts()
    texts.stage("f", 1, "one", _pieces("a"), 10)
    texts.end_transaction(kept=True)
    texts.end_commit(committed=True)
    texts.stage("f", 2, "two", _pieces("b"), 10)
    texts.end_transaction(kept=False)
    texts.end_commit(committed=True)

    assert texts.get("f", 1) == (_pieces("a"), "one")
    assert texts.get("f", 2) is None


def test_pieces_of_a_failed_commit_are_dropped() -> None:
    texts = StateTexts()
    texts.stage("f", 1, "one", _pieces("a"), 10)
    texts.end_transaction(kept=True)
    texts.end_commit(committed=False)

    assert texts.get("f", 1) is None


def test_a_flow_whose_state_is_not_known_has_no_pieces() -> None:
    texts = StateTexts()
    texts.stage("f", 1, "one", _pieces("a"), 10)
    texts.end_transaction(kept=True)
    texts.end_commit(committed=True)
    texts.forget("f")
    texts.end_transaction(kept=True)
    texts.end_commit(committed=True)

    assert texts.get("f", 1) is None


def test_the_flows_written_longest_ago_go_first_past_the_limit() -> None:
    texts = StateTexts(limit=25)
    for flow_id in ("a", "b", "c"):
        texts.stage(flow_id, 1, flow_id, _pieces(flow_id), 10)
        texts.end_transaction(kept=True)
        texts.end_commit(committed=True)

    assert [texts.get(f, 1) is not None for f in ("a", "b", "c")] == [False, True, True]
