from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorflow import ConditionError, ConditionEvaluationError
from actorflow.flow.expressions import Condition, ConditionLimits, evaluate_condition, is_true
from actorflow.flow.steps import resolve_references

NAMES: dict[str, object] = {
    "context": {"user_confirmed": True, "score": 0.91, "tags": ["a", "b"], "nested": {"k": [1, 2, 3]}},  # noqa: E501
    "x": 3,
    "name": "Ada",
    "items": [1, 2, 3],
    "empty": [],
    "nothing": None,
}  # fmt: skip

VALID = [
    ("context['user_confirmed'] == True", True),
    ("context['score'] > 0.9", True),
    ("1 < x <= 3", True),
    ("1 < x < 3", False),
    ("x in [1, 2, 3]", True),
    ("x not in items", False),
    ("'a' in context['tags']", True),
    ("context['nested']['k'][-1]", 3),
    ("context['nested']['k'][0] + x * 2", 7),
    ("(1 + 2) * 3 - 4 / 2", 7.0),
    ("7 // 2 + 7 % 2", 4),
    ("2 ** 10", 1024),
    ("-x + +2", -1),
    ("2 ** -1", 0.5),
    ("1 << 4", 16),
    ("256 >> 4", 16),
    ("not empty", True),
    ("not not x", True),
    ("nothing is None", True),
    ("x is not None", True),
    ("True and x", 3),
    ("False or name", "Ada"),
    ("False and missing['x']", False),
    ("True or missing", True),
    ("'high' if context['score'] > 0.9 else 'low'", "high"),
    ("'yes' if empty else 'no'", "no"),
    ("len(items) == 3", True),
    ("max(items) - min(items)", 2),
    ("max(4, 9, 2)", 9),
    ("sum([1, 2, 3.5])", 6.5),
    ("abs(-4)", 4),
    ("round(3.14159, 2)", 3.14),
    ("int('42') + float('0.5')", 42.5),
    ("str(x) + '!'", "3!"),
    ("bool(0)", False),
    ("any([0, 0, 1]) and not all([1, 0])", True),
    ("lower(name) == 'ada' and upper(name) == 'ADA'", True),
    ("startswith(name, 'A') and endswith(name, 'a')", True),
    ("contains(context['tags'], 'b')", True),
    ("[1, 2] + [3]", [1, 2, 3]),
    ("'ab' * 3", "ababab"),
    ("(1, 2)", (1, 2)),
    ("{'a': 1, 'b': [x]}", {"a": 1, "b": [3]}),
    ("\"double\" + 'single'", "doublesingle"),
    ("'line\\nbreak'", "line\nbreak"),
    ("true and not false and null == None", True),
    ("1_000 + 0.5e1", 1005.0),
    ("name[0]", "A"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_expressions_give_the_expected_values(text: str, expected: object) -> None:
    assert evaluate_condition(text, NAMES) == expected


class Trap:
    """An object that creates the canary if anything calls into it."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def _touch(self, *args: object) -> object:
        self.canary.write_text("pwned")
        return self

    __getitem__ = __getattr__ = __call__ = __eq__ = __lt__ = __add__ = __str__ = __int__ = _touch  # type: ignore[assignment]
    __len__ = __iter__ = __contains__ = __bool__ = __format__ = __index__ = _touch  # type: ignore[assignment]


def _abuse(canary: str) -> list[str]:
    c = canary
    return [
        # dunder walks and attribute access
        "().__class__.__bases__[0].__subclasses__()",
        "x.__class__",
        "[].__class__.__mro__",
        "''.__class__.__mro__[1].__subclasses__()",
        "context.__dict__",
        "name.upper()",
        "'a'.join(items)",
        "__builtins__",
        "__import__",
        "_private",
        "context['__class__']",
        # imports, builtins, code execution
        f"__import__('os').system('touch {c}')",
        f"open('{c}', 'w')",
        f"eval(\"open('{c}','w')\")",
        f"exec(\"open('{c}','w')\")",
        "compile('1', 'x', 'eval')",
        "getattr(x, 'real')",
        "setattr(x, 'y', 1)",
        "globals()",
        "locals()",
        "vars()",
        "dir()",
        "type(x)",
        "input()",
        "print(1)",
        "breakpoint()",
        "import os",
        "from os import system",
        # functions, comprehensions, formatting
        "lambda: 1",
        "(lambda: 1)()",
        "[i for i in items]",
        "{i: i for i in items}",
        "{i for i in items}",
        "(i for i in items)",
        "'{0.__class__}'.format(x)",
        "f'{x}'",
        "'%s' % x",
        "len(items, key=1)",
        "max(*items)",
        "(y := 1)",
        "trap()",
        "trap(1)",
        "items[0:2]",
        # huge numbers and sizes
        "9**9**9",
        "2**100000",
        "10**1000",
        "1 << 100000",
        "'a' * 10**9",
        "[1] * 10**9",
        "'a' * 10000 * 10000",
        "9" * 2000,
        "int('" + "9" * 100000 + "')",
        "str(10**300)",
        "sum([2**200, 2**200] * 100)",
        "1e400",
        "10.0 ** 400",
        # deep nesting and long input
        "(" * 5000 + "1" + ")" * 5000,
        "(" * 40 + "1" + ")" * 40,
        "[" * 40 + "]" * 40,
        "not " * 100 + "x",
        "-" * 200 + "1",
        "x" + " + x" * 600,
        "a" * 1001,
        # look-alike and invisible characters, statements, junk
        "\u0441ontext['user_confirmed']",
        "\uff58 == 1",
        "x\u200b == 1",
        "x == 1; x == 2",
        "x == 1\nx == 2",
        "x == 1 \\\n and x",
        "'unterminated",
        "x == 1\x00",
        "x ==",
        "",
        "   ",
        # objects that must never be touched
        "trap['key']",
        "trap == 1",
        "trap < 1",
        "trap + 1",
        "str(trap)",
        "int(trap)",
        "len(trap)",
        "trap in items",
        "1 in trap",
        "max(trap, 1)",
        # type confusion and runtime errors
        "'a' < 1",
        "[] < 1",
        "missing",
        "context['missing']",
        "items[10]",
        "1 / 0",
        "min()",
        "min([])",
        "len(1)",
        "name[x]['k']",
    ]


def test_injection_and_abuse_payloads_are_refused_and_the_canary_is_never_created(
    tmp_path: Path,
) -> None:
    canary = tmp_path / "CANARY"
    payloads = _abuse(str(canary))
    names = {**NAMES, "trap": Trap(canary)}
    refused = 0

    for payload in payloads:
        with pytest.raises((ConditionError, ConditionEvaluationError)) as info:
            evaluate_condition(payload, names)
        assert str(info.value), payload
        refused += 1

    assert refused == len(payloads) >= 90
    assert not canary.exists()


def test_syntax_errors_say_where_and_what_to_do() -> None:
    with pytest.raises(
        ConditionError, match=r"^Condition 'x\.y' is not allowed at character 1: .* x\['key'\]"
    ):
        Condition.parse("x.y")
    with pytest.raises(
        ConditionError, match=r"'open' is not an allowed function\. Allowed functions: abs,"
    ):
        Condition.parse("open('f')")


def test_evaluation_errors_name_the_problem() -> None:
    with pytest.raises(ConditionEvaluationError, match=r"name 'missing' is not defined \(known: "):
        evaluate_condition("missing == 1", NAMES)
    with pytest.raises(
        ConditionEvaluationError, match=r"the exponent 387420489 is over the 64 limit"
    ):
        evaluate_condition("9**9**9", NAMES)


def test_limits_are_configurable() -> None:
    tight = ConditionLimits(max_length=10, max_depth=3)

    with pytest.raises(ConditionError, match=r"longer than the 10-character limit"):
        Condition.parse("1 + 2 + 3 + 4", tight)
    with pytest.raises(ConditionError, match=r"nests too deeply"):
        Condition.parse("((((1))))", tight)


def test_a_parsed_condition_knows_its_names_and_can_be_reused() -> None:
    condition = Condition.parse("context['x'] > limit and flag")

    assert condition.names == {"context", "limit", "flag"}
    assert condition.evaluate({"context": {"x": 5}, "limit": 1, "flag": True}) is True
    assert is_true("context['x'] > limit", {"context": {"x": 0}, "limit": 1}) is False


@given(st.text(max_size=200))
def test_random_text_gives_a_value_or_a_typed_error(text: str) -> None:
    try:
        condition = Condition.parse(text)
    except ConditionError:
        return
    with contextlib.suppress(ConditionEvaluationError):
        condition.evaluate(NAMES)


@given(
    st.text(
        alphabet=st.sampled_from(list("xcontext[]'()0123456789+-*/%<>=!, andornotif else")),
        max_size=80,
    )
)
def test_random_token_soup_gives_a_value_or_a_typed_error(text: str) -> None:
    try:
        first = Condition.parse(text)
    except ConditionError:
        return
    assert Condition.parse(text) == first
    with contextlib.suppress(ConditionEvaluationError):
        first.evaluate(NAMES)


# -- total work budget (issue 10) ------------------------------------------------------

REPORTED = "[[[0]*10000]*10000]*10000 == [[[0]*10000]*10000]*10000"
"""The reported freeze: every per-operation limit passes, then ~10**12 C-level comparisons."""

OVER_BUDGET = re.compile(r"^Condition .* failed: .* over the work budget of \d+ units")


def _aliased(width: int, depth: int) -> object:
    """A list whose logical size is ``width ** depth`` while memory holds ``width * depth``."""
    value: object = 0
    for _ in range(depth):
        value = [value] * width
    return value


COSTLY = [
    REPORTED,
    "[[0] * 10000] * 10000",
    "len([[0] * 10000] * 10000) > 0",
    "[[[0] * 10000] * 10000] * 10000 != []",
    "[[0] * 10000] * 10000 in [[[0] * 10000] * 10000]",
    "0 in [[0] * 10000] * 10000",
    "max([[0] * 10000] * 10000)",
    "sum([[0] * 10000] * 10000)",
    "any([[0] * 10000] * 10000)",
    "([[0] * 10000] * 10000, 1)[1]",
    "{'k': [[0] * 10000] * 10000}['k'][0][0]",
    "[[0] * 10000] * 5000 + [[0] * 10000] * 5000",
    "['a' * 10000] * 10000 == ['a' * 10000] * 10000",
    "'a' * 10000 in ['a' * 10000] * 10000",
    "[('a' * 10000,) * 10000] * 10000",
]


@pytest.mark.parametrize("text", COSTLY)
def test_constructions_whose_total_work_is_too_large_are_refused(text: str) -> None:
    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        evaluate_condition(text, NAMES)


def test_the_reported_comparison_is_refused_saying_what_where_and_what_to_do() -> None:
    with pytest.raises(ConditionEvaluationError) as info:
        Condition.parse(REPORTED).evaluate({})

    message = str(info.value)
    assert message.startswith(f"Condition {REPORTED!r} failed: ")
    assert "repeating a list" in message
    assert "over the work budget of 1000000 units" in message
    assert "ConditionLimits(max_work=...)" in message


def test_the_reported_comparison_is_refused_in_a_parameter_reference() -> None:
    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        resolve_references({"flag": "${" + REPORTED + "}"}, {})
    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        resolve_references({"note": ["equal: ${" + REPORTED + "}!"]}, {})


def test_shared_references_are_counted_by_their_logical_size() -> None:
    """A list repeated from a repeated list costs every item it stands for, not its memory."""
    text = "[[0] * 100] * 100"

    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        evaluate_condition(text, {}, ConditionLimits(max_work=5_000))
    assert evaluate_condition(text, {}, ConditionLimits(max_work=50_000)) == [[0] * 100] * 100


def test_aliased_data_in_the_names_can_be_indexed_but_not_compared_whole() -> None:
    names = {"big": _aliased(1000, 3), "other": _aliased(1000, 3)}

    assert evaluate_condition("big[999][999][999] == 0 and len(big) == 1000", names) is True
    for text in ("big == other", "big != other", "big in [other]", "0 in big", "max(big, other)"):
        with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
            evaluate_condition(text, names)


def test_a_reference_that_returns_aliased_data_whole_is_refused() -> None:
    """The flow stores or formats what a reference returns, so its size counts too."""
    names = {"big": _aliased(1000, 3)}

    assert resolve_references("${len(big[0])}", names) == 1000
    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        resolve_references("${big}", names)
    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        resolve_references("all of it: ${big}", names)


def test_comparing_large_values_from_the_names_counts_their_size() -> None:
    names = {"rows": list(range(600)), "copy": list(range(600)), "doc": "A" * 100_000}
    tight = ConditionLimits(max_work=1_000)

    assert evaluate_condition("rows[5] == 5 and len(doc) > 10", names, tight) is True
    for text in (
        "rows == copy",
        "rows < copy",
        "599 in rows",
        "contains(rows, 599)",
        "doc == 'A'",
        "'B' in doc",
        "lower(doc) == 'a'",
        "startswith(upper(doc), 'A')",
    ):
        with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
            evaluate_condition(text, names, tight)


def test_a_dict_lookup_costs_its_key_not_the_whole_dict() -> None:
    names = {"table": {str(i): i for i in range(600)}}
    tight = ConditionLimits(max_work=2_000)

    assert evaluate_condition("'599' in table and table['7'] == 7", names, tight) is True
    with pytest.raises(ConditionEvaluationError, match=OVER_BUDGET):
        evaluate_condition("table == table", names, tight)


def test_arithmetic_on_integers_too_large_for_the_limit_is_refused_before_computing() -> None:
    names = {"huge": 1 << 4_000_000, "small": 12}

    assert evaluate_condition("huge > small and huge != small", names) is True
    for text in (
        "huge * huge",
        "huge // (huge >> 1)",
        "huge % 7",
        "-huge",
        "huge << 1",
        "abs(huge)",
    ):
        with pytest.raises(ConditionEvaluationError, match=r"an integer operand exceeds 256 bits"):
            evaluate_condition(text, names)


def test_round_refuses_digit_counts_that_would_build_a_huge_power_of_ten() -> None:
    assert evaluate_condition("round(1234, -2)", {}) == 1200

    with pytest.raises(
        ConditionEvaluationError, match=r"round\(\) digits must be within -64\.\.64"
    ):
        evaluate_condition("round(1, -10000000)", {})


def test_a_power_without_a_real_value_is_refused() -> None:
    with pytest.raises(ConditionEvaluationError, match=r"has no real value"):
        evaluate_condition("(-8) ** 0.5", {})


def _logical_size(value: object, cap: int) -> int:
    """Count items the way the budget does (strings per 64 characters), stopping past ``cap``."""
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        total += 1 + (len(item) // 64 if isinstance(item, str) else 0)
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
    return total


def _growing(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds("[{}, {}]".format, inner, inner),
            st.builds("({},)".format, inner),
            st.builds("{{'k': {}}}".format, inner),
            st.builds("({}) * {}".format, inner, st.integers(0, 60)),
            st.builds("({}) + ({})".format, inner, inner),
        ),
        max_leaves=8,
    )


@given(_growing(st.sampled_from(["0", "'abc'", "items", "[items]", "name * 30", "[]"])))
def test_a_value_an_evaluation_returns_never_exceeds_the_work_budget(text: str) -> None:
    limits = ConditionLimits(max_work=3_000)
    try:
        value = evaluate_condition(text, NAMES, limits)
    except ConditionEvaluationError:
        return

    assert _logical_size(value, limits.max_work) <= limits.max_work


@given(_growing(st.sampled_from(["0", "'abc'", "items", "[items]"])))
def test_comparing_any_two_constructions_finishes_or_is_refused(text: str) -> None:
    limits = ConditionLimits(max_work=3_000)
    with contextlib.suppress(ConditionEvaluationError):
        evaluate_condition(f"({text}) == ({text}) and ({text}) in [({text})]", NAMES, limits)


class CountingNames(Mapping[str, object]):
    """Names that count how often each one is read."""

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
        self.reads: dict[str, int] = {}

    def __getitem__(self, key: str) -> object:
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_each_name_is_read_and_checked_once_per_evaluation() -> None:
    """A mapping that handed out another object on a second read could slip past the check."""
    names = CountingNames({"rows": [1, 2, 3]})

    assert evaluate_condition("rows[0] + rows[1] + rows[2] == len(rows) * 2", names) is True
    assert names.reads == {"rows": 1}


def test_error_messages_show_large_values_briefly() -> None:
    with pytest.raises(ConditionEvaluationError) as info:
        evaluate_condition("[[0] * 10000] * 10 in {}", {})

    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[] * 100000000000000000000000", {}),
        ("'' * 100000000000000000000000", {}),
        ("() * (1 << 64)", {}),
        ("x * []", {"x": 10**30}),
        ("d[x]", {"d": {}, "x": 2**20000}),
        ("l[x]", {"l": [], "x": -(2**20000)}),
        ("[1] * x", {"x": 10**4000}),
    ],
)
def test_huge_integers_give_a_typed_error_at_once(text: str, names: dict[str, object]) -> None:
    with pytest.raises(ConditionEvaluationError, match=r"^Condition .* failed"):
        Condition.parse(text).evaluate(names)
