"""Checks on human requests and answers; text answers turned into typed values.

- :func:`check_request`: a request that cannot be answered (a selection without
  options, an unsafe pattern, a default that does not fit) is refused before anyone is
  asked.
- :func:`validate_answer`: a confirmation is a bool, a selection is one of the options
  (a list of distinct ones when multi-select), an input has its value type and matches
  its pattern; text is capped at ``max_length``.
- :func:`parse_answer`: typed text (a console, the CLI) into the value an answer needs.

Patterns are checked before use, because Python's ``re`` backtracks: a nested
repeat such as ``(a+)+`` takes exponential time on a crafted answer. A pattern must be
short, without back-references, without a repeat or an alternation inside a repeat
that can run long (write ``[ab]*`` for ``(a|b)*``, or make the outer repeat possessive,
``(ab+)*+``), and with at most three long repeats; text matched against it is capped
at :data:`PATTERN_INPUT_LIMIT` characters, which bounds the polynomial cases.
"""

from __future__ import annotations

import functools
import math
import re

# The public re has no parse tree; these modules are stable since 3.11 (no stubs).
import re._constants as sre_constants  # type: ignore[import-not-found] # no stub
import re._parser as sre_parse  # type: ignore[import-not-found] # no stub
from collections.abc import Sequence
from typing import Any

from pydantic import JsonValue

from actorflow.errors import CodecError, ConfigurationError, InvalidHumanAnswerError
from actorflow.human.messages import HumanRequest
from actorflow.human.models import HumanCallbackType, TimeoutPolicy
from actorflow.messages.codec import pack

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_PATTERN_LENGTH",
    "PATTERN_INPUT_LIMIT",
    "check_pattern",
    "check_request",
    "parse_answer",
    "validate_answer",
]

MAX_ID_LENGTH = 512
"""Longest request, flow or step id a request may carry (characters): what a store
keeps, so a durable gateway never takes a request it cannot write ahead."""
MAX_PATTERN_LENGTH = 256
"""Longest pattern a request may carry (characters)."""
PATTERN_INPUT_LIMIT = 256
"""Longest text matched against a pattern (characters)."""
_LONG = 16
"""A repeat that may run more often than this is a long repeat."""
_SMALL = 4
"""A repeat of a repeat is refused when the outer one may run more often than this."""
_MAX_LONG_REPEATS = 3
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)
_Node = tuple[object, Any]
"""An item of ``re``'s parse tree: (opcode, argument); its argument's shape depends on the
opcode (a decoding boundary, hence ``Any``)."""
_YES = frozenset({"y", "yes", "true", "1", "on"})
_NO = frozenset({"n", "no", "false", "0", "off"})


@functools.lru_cache(maxsize=256)
def check_pattern(pattern: str) -> re.Pattern[str]:
    """Return ``pattern`` compiled, if it is safe to match answers against.

    Raises:
        ConfigurationError: the pattern is too long, invalid, or could take
            exponential time (see the module docstring).
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ConfigurationError(
            f"The answer pattern {pattern[:40]!r}... has {len(pattern)} characters; at most "
            f"{MAX_PATTERN_LENGTH} are allowed. Use a shorter pattern."
        )
    try:
        compiled = re.compile(pattern)
        tree = sre_parse.parse(pattern)
    except re.error as exc:
        raise ConfigurationError(
            f"The answer pattern {pattern!r} is not a valid regular expression: {exc}."
        ) from None
    problem = _unsafe(tree.data, inside_long=False, long_repeats=[0])
    if problem is not None:
        raise ConfigurationError(
            f"The answer pattern {pattern!r} is refused: {problem}, which can make matching "
            "take exponential time. Write [ab]* for (a|b)*, avoid repeats of repeats, or "
            "make the outer repeat possessive (*+, ++)."
        )
    return compiled


def _unsafe(items: Sequence[_Node], *, inside_long: bool, long_repeats: list[int]) -> str | None:
    """Say what makes the parsed pattern ``items`` unsafe, or return None."""
    for op, av in items:
        if op in _REPEATS:
            problem = _unsafe_repeat(av, inside_long, long_repeats, possessive=False)
        elif op is sre_constants.POSSESSIVE_REPEAT:
            problem = _unsafe_repeat(av, inside_long, long_repeats, possessive=True)
        elif op is sre_constants.BRANCH:
            problem = "it repeats an alternation" if inside_long else None
            for branch in () if problem else av[1]:
                problem = problem or _unsafe(
                    branch.data, inside_long=False, long_repeats=long_repeats
                )
        elif op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            problem = "it uses a back-reference"
        else:
            body = _group_body(op, av)
            problem = (
                None
                if body is None
                else _unsafe(body, inside_long=inside_long, long_repeats=long_repeats)
            )
        if problem is not None:
            return problem
    return None


def _unsafe_repeat(
    av: Any, inside_long: bool, long_repeats: list[int], *, possessive: bool
) -> str | None:
    _low, high, body = av
    if inside_long and high > 1:
        return "it repeats a repeat"
    is_long = high > _LONG
    if is_long:
        long_repeats[0] += 1
        if long_repeats[0] > _MAX_LONG_REPEATS:
            return f"it has more than {_MAX_LONG_REPEATS} long repeats"
    if high > 1 and not possessive:  # it may backtrack into what it repeats
        inner = _largest_repeat(body.data)
        if inner > _LONG or (high > _SMALL and inner > 1):
            # (a*){3} is polynomial of a high degree, (a{0,16}){0,16} exponential;
            # (?:\d{1,3}\.){3} (small in small) is fine. Possessive never backtracks.
            return "it repeats a repeat"
    nested = inside_long or (is_long and not possessive)
    return _unsafe(body.data, inside_long=nested, long_repeats=long_repeats)


def _largest_repeat(items: Sequence[_Node]) -> int:
    """The most times any repeat inside ``items`` may run (0: none)."""
    largest = 0
    for op, av in items:
        if op in _REPEATS or op is sre_constants.POSSESSIVE_REPEAT:
            largest = max(largest, av[1], _largest_repeat(av[2].data))
        elif op is sre_constants.BRANCH:
            for branch in av[1]:
                largest = max(largest, _largest_repeat(branch.data))
        else:
            body = _group_body(op, av)
            if body is not None:
                largest = max(largest, _largest_repeat(body))
    return largest


def _group_body(op: object, av: Any) -> Sequence[_Node] | None:
    """The items inside a group or lookaround, or None for a leaf."""
    if op is sre_constants.SUBPATTERN:
        return av[-1].data  # type: ignore[no-any-return]
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return av[1].data  # type: ignore[no-any-return]
    if op is sre_constants.ATOMIC_GROUP:
        return av.data  # type: ignore[no-any-return]
    return None


def check_request(request: HumanRequest) -> None:
    """Check that ``request`` can be answered at all.

    Raises:
        ConfigurationError: an empty id or one longer than :data:`MAX_ID_LENGTH`, a
            selection without options, multi-select on something else, a negative or
            infinite timeout, a pattern that is unsafe or on an answer that is not text,
            or (under the ``default`` timeout policy) a default value that is not a
            valid answer.
    """
    rid = request.request_id
    _check_ids(request)
    for what, seconds in (
        ("timeout", request.timeout),
        ("escalation_timeout", request.escalation_timeout),
    ):
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise ConfigurationError(
                f"Human request {rid!r} has {what} {seconds!r}; it must be a finite, "
                "non-negative number of seconds."
            )
    if request.deadline is not None and not math.isfinite(request.deadline):
        raise ConfigurationError(
            f"Human request {rid!r} has deadline {request.deadline!r}; it must be a finite "
            "time in epoch seconds."
        )
    if request.max_length < 0:
        raise ConfigurationError(
            f"Human request {rid!r} has max_length {request.max_length}; it must be ≥ 0."
        )
    options = list(request.options or ())
    for index, option in enumerate(options):
        if _unjournalable(option) is not None or _among(option, options[:index]):
            raise ConfigurationError(
                f"Human request {rid!r} has option {option!r} at {index}, which is not a "
                "finite value told apart from the options before it. Pass distinct options."
            )
    if request.type is HumanCallbackType.SELECT and not request.options:
        raise ConfigurationError(
            f"Human request {rid!r} is a selection without options. Pass the options to "
            "choose from."
        )
    if request.multi_select and request.type is not HumanCallbackType.SELECT:
        raise ConfigurationError(
            f"Human request {rid!r} is a {request.type.value!r} request with multi_select; "
            "only a selection can take several options."
        )
    if request.pattern is not None:
        _check_pattern_use(request)
    if request.on_timeout is TimeoutPolicy.DEFAULT:
        try:
            validate_answer(request, request.default_value)
        except InvalidHumanAnswerError as exc:
            raise ConfigurationError(
                f"Human request {rid!r} uses its default value on timeout, but the default "
                f"is not a valid answer: {exc}"
            ) from None


def _check_ids(request: HumanRequest) -> None:
    rid = request.request_id
    for what, text in (
        ("request_id", rid),
        ("flow_id", request.flow_id),
        ("step_id", request.step_id),
    ):
        if text is not None and not 0 < len(text) <= MAX_ID_LENGTH:
            raise ConfigurationError(
                f"Human request {rid[:80]!r} has a {what} of {len(text)} characters; it must "
                f"be 1 to {MAX_ID_LENGTH} (a store keeps no longer one). Use a shorter id."
            )


def _check_pattern_use(request: HumanRequest) -> None:
    assert request.pattern is not None
    if request.type in (HumanCallbackType.CONFIRM, HumanCallbackType.SELECT) or (
        request.value_type not in (None, "str")
    ):
        raise ConfigurationError(
            f"Human request {request.request_id!r} has a pattern, but its answer is not "
            f"text (a {request.type.value!r} request, value type {request.value_type!r}). "
            "Patterns apply to text inputs only."
        )
    check_pattern(request.pattern)


def validate_answer(request: HumanRequest, value: JsonValue) -> JsonValue:
    """Return ``value`` as the answer to ``request`` (a float input's int as a float).

    Raises:
        InvalidHumanAnswerError: the value does not fit the request; the message says why
            and what would.
    """
    problem = _unjournalable(value)
    if problem is not None:
        raise _invalid(request, value, problem)
    if request.type is HumanCallbackType.CONFIRM:
        if not isinstance(value, bool):
            raise _invalid(request, value, "is not a bool. A confirmation takes true or false")
        return value
    if request.type is HumanCallbackType.SELECT:
        return _check_selection(request, value)
    return _check_input(request, value)


MAX_ANSWER_BYTES = 64 * 1024
"""Most bytes an answer may take, packed (it is journaled and kept with its request)."""
_INT_LIMIT = 2**63


def _unjournalable(value: JsonValue) -> str | None:
    """Why ``value`` cannot be recorded as it is (NaN, infinity and ints beyond 64 bits
    do not survive the journal; a huge answer is no answer), or None."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "holds a number that is not finite (NaN or infinity)"
        if (
            isinstance(item, int)
            and not isinstance(item, bool)
            and not (-_INT_LIMIT <= item < _INT_LIMIT)
        ):
            return "holds an integer beyond 64 bits"
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    try:
        size = len(pack(value))
    except (CodecError, ValueError, TypeError, OverflowError, RecursionError):
        return "cannot be recorded (not JSON data)"
    if size > MAX_ANSWER_BYTES:
        return f"takes {size:,} bytes; at most {MAX_ANSWER_BYTES:,} are taken"
    return None


def _check_selection(request: HumanRequest, value: JsonValue) -> JsonValue:
    options = list(request.options or ())
    if not request.multi_select:
        if not _among(value, options):
            raise _invalid(request, value, f"is not one of the options {options!r}")
        return value
    if not isinstance(value, list | tuple):
        raise _invalid(request, value, f"is not a list of options from {options!r}")
    chosen = list(value)
    for item in chosen:
        if not _among(item, options):
            raise _invalid(request, value, f"has {item!r}, which is not one of {options!r}")
    if any(_among(item, chosen[:i]) for i, item in enumerate(chosen)):
        raise _invalid(request, value, "names an option twice")
    return chosen


def _among(value: JsonValue, options: list[JsonValue]) -> bool:
    """Whether ``value`` is one of ``options`` (``True`` is not ``1`` here)."""
    return any(type(value) is type(o) and value == o for o in options) or any(
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and isinstance(o, int | float)
        and not isinstance(o, bool)
        and value == o
        for o in options
    )


def _check_input(request: HumanRequest, value: JsonValue) -> JsonValue:
    kind = request.value_type
    if kind == "bool" and not isinstance(value, bool):
        raise _invalid(request, value, "is not a bool (true or false)")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise _invalid(request, value, "is not a whole number")
    if kind == "float":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _invalid(request, value, "is not a finite number")
        value = float(value)
    if kind == "str" and not isinstance(value, str):
        raise _invalid(request, value, "is not text")
    if isinstance(value, str):
        _check_text(request, value)
    elif request.pattern is not None:
        raise _invalid(request, value, f"is not text to match {request.pattern!r}")
    return value


def _check_text(request: HumanRequest, value: str) -> None:
    limit = request.max_length
    if request.pattern is not None:
        limit = min(limit, PATTERN_INPUT_LIMIT)
    if len(value) > limit:
        raise _invalid(
            request, value[:40] + "...", f"has {len(value)} characters; at most {limit} are taken"
        )
    if request.pattern is not None and check_pattern(request.pattern).fullmatch(value) is None:
        raise _invalid(request, value, f"does not match the pattern {request.pattern!r}")


def _invalid(request: HumanRequest, value: object, why: str) -> InvalidHumanAnswerError:
    return InvalidHumanAnswerError(
        f"Answer {value!r} to human request {request.request_id!r} ({request.message!r}) "
        f"{why}. The request stays open for a valid answer.",
        reason=f"{value!r} {why}",
    )


def parse_answer(request: HumanRequest, text: str) -> JsonValue:
    """Turn typed ``text`` into the answer ``request`` needs, and validate it.

    A confirmation takes yes/no, y/n, true/false, 1/0; a selection takes an option as
    written or its number (1 for the first), several separated by commas when
    multi-select; an input of value type int, float or bool is parsed as one.

    Raises:
        InvalidHumanAnswerError: the text is not a valid answer.
    """
    text = text.strip()
    if request.type is HumanCallbackType.CONFIRM:
        return validate_answer(request, _parse_bool(request, text))
    if request.type is HumanCallbackType.SELECT:
        if request.multi_select:
            parts = [p.strip() for p in text.split(",") if p.strip()]
            return validate_answer(request, [_parse_option(request, p) for p in parts])
        return validate_answer(request, _parse_option(request, text))
    return validate_answer(request, _parse_input(request, text))


def _parse_bool(request: HumanRequest, text: str) -> bool:
    word = text.lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise _invalid(request, text, "is not yes or no")


def _parse_option(request: HumanRequest, text: str) -> JsonValue:
    options = list(request.options or ())
    for option in options:
        if _option_text(option) == text:
            return option
    if text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    raise _invalid(request, text, f"is not one of the options {options!r} nor their number")


def _option_text(option: JsonValue) -> str:
    if isinstance(option, bool):
        return "true" if option else "false"
    return str(option)


def _parse_input(request: HumanRequest, text: str) -> JsonValue:
    kind = request.value_type
    if kind == "bool":
        return _parse_bool(request, text)
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            word = "whole number" if kind == "int" else "number"
            raise _invalid(request, text, f"is not a {word}") from None
    return text
