"""A small, safe expression language for flow conditions and parameter references.

Parsed by its own tokenizer and recursive-descent parser and evaluated by walking
the tree: no ``eval``, ``exec``, ``compile`` or ``ast``. Everything has a limit.

The language::

    context['user_confirmed'] == True          subscripts on dicts, lists, tuples, strings
    score >= 0.8 and region in ['eu', 'us']    and / or / not, in / not in, is / is not
    1 < retries <= 3                           chained comparisons
    (base * 2 + 1) // 3 % 5 ** 2               arithmetic (+ - * / // % **, << >>)
    'high' if score > 0.9 else 'low'           conditional
    len(items) > 0 and lower(name) == 'ada'    allowed functions only (see FUNCTIONS)

Literals: integers, floats, 'strings' or "strings" (escapes \\n \\t \\\\ \\' \\"),
True/False/None (also true/false/null), [lists], (tuples,), {'dicts': 1}.
Names are ASCII identifiers not starting with ``_``; there is no attribute access
(write ``a['b']``), no lambdas, comprehensions, f-strings, keyword arguments,
slicing or statements. Values in the names must be JSON-like (exact str, int, float,
bool, None, list, tuple, dict with str or int keys, at most 64 levels deep); anything
else is refused before an operator can touch it. User documentation: docs/conditions.md.

Limits (:class:`ConditionLimits`). Parsing caps the text's length, tokens, nesting and
literal numbers (:class:`ConditionError`). Evaluation caps each operation: integer
operands and results (``max_int_bits``: checked *before* multiplying, dividing, shifting
or ``round()``-ing, since huge-integer arithmetic in C would hold the interpreter),
exponents, shift counts, ``round()`` digits and the length of a built string or list.

Per-operation caps are not enough: ``[[[0]*10000]*10000]*10000 == ...`` builds lists of
10,000 items only, yet the comparison walks 10**12 items inside C, holding the GIL, so
every thread of the process freezes and no timeout can fire. Hence the *total-work
budget* (``max_work``, 1,000,000 units by default) of one evaluation, counted *before*
each step is taken:

* A value's *logical size* is 1 per number, None or bool (plus 1 per 512 bits of an
  integer), 1 per string plus 1 per 64 characters, and 1 per list, tuple or dict plus the
  sizes of its items (keys and values), counted through shared references: ``[x] * 1000``
  counts ``x`` a thousand times although it holds it once.
* Building a value (literal, ``+``, ``*`` repetition, a function's result) costs its
  logical size; so does the value an evaluation returns (callers store, format or
  serialise it).
* ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` and ``is`` (between values other than
  None and booleans) cost the sizes of both sides; ``in`` costs both sides, except that
  looking a key up in a dict costs the key only.
* A function call costs the sizes of its arguments (``len()`` and ``bool()`` cost 1),
  plus what it does through operators (``min``, ``max``, ``sum``, ``contains``).
* Reading a name costs one unit per item of each distinct list, tuple or dict in it (the
  walk that checks the value is JSON-like), once per evaluation; subscripting costs the
  size of the key or index; every node of the expression costs 1.

One unit is about the cost of visiting one item, so the default budget bounds an
evaluation to about a second in the worst case, and its work in C to a fraction of that.
Going over raises :class:`ConditionEvaluationError` saying which operation, in which
expression, and what to do; it is deterministic, so flows do not retry it. Each
``${...}`` reference is one evaluation with its own budget.
"""

from __future__ import annotations

import itertools
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Final, final

from pydantic import BaseModel, ConfigDict, Field

from actorflow.errors import ConditionError, ConditionEvaluationError
from actorflow.messages import FrozenDict, FrozenList

__all__ = ["FUNCTIONS", "Condition", "ConditionLimits", "evaluate_condition", "is_true"]

_DATA_CONTAINERS = (list, tuple, dict, FrozenList, FrozenDict)
"""Container types of plain data (message data comes as read-only lists and dicts)."""


@final
class ConditionLimits(BaseModel):
    """Caps on expressions and on the values they compute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_length: Annotated[int, Field(gt=0)] = 1000
    max_depth: Annotated[int, Field(gt=0, le=200)] = 32
    max_tokens: Annotated[int, Field(gt=0)] = 500
    max_int_bits: Annotated[int, Field(gt=0)] = 256
    max_power_exponent: Annotated[int, Field(ge=0)] = 64
    max_shift: Annotated[int, Field(ge=0)] = 64
    max_sequence_length: Annotated[int, Field(gt=0)] = 10_000
    max_collection_items: Annotated[int, Field(gt=0)] = 1000
    max_work: Annotated[int, Field(gt=0)] = 1_000_000
    """Total work of one evaluation, in units: see "Limits" in the module docstring."""


_DEFAULT = ConditionLimits()

# -- tokens --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t]+)
  | (?P<number>\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|//|<<|>>|==|!=|<=|>=|[-+*/%<>()\[\]{},:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else"})
_CONSTANTS: Final[dict[str, object]] = {
    "True": True,
    "False": False,
    "None": None,
    "true": True,
    "false": False,
    "null": None,
}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # number, string, name, op, end
    text: str
    at: int
    value: object = None


def _fail(text: str, at: int, why: str, fix: str) -> ConditionError:
    return ConditionError(f"Condition {text!r} is not allowed at character {at}: {why}. {fix}")


def _tokens(text: str, limits: ConditionLimits) -> list[_Tok]:
    if len(text) > limits.max_length:
        raise ConditionError(
            f"Condition of {len(text)} characters is longer than the {limits.max_length}-character "
            "limit. Split it into several condition steps."
        )
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = (
                "There is no attribute access; write x['key'] instead of x.key."
                if char == "."
                else "Use only ASCII names, numbers, quoted strings and the operators listed "
                "in the condition language."
            )
            raise _fail(text, pos, f"unexpected character {char!r}", hint)
        kind = match.lastgroup or ""
        token = match.group()
        if kind == "name" and token.startswith("_"):
            raise _fail(
                text,
                pos,
                f"name {token!r} starts with '_'",
                "Names starting with '_' are reserved.",
            )
        if kind != "space":
            out.append(_Tok(kind, token, pos, _literal(kind, token, text, pos, limits)))
            if len(out) > limits.max_tokens:
                raise _fail(
                    text, pos, "too many tokens", f"Keep it under {limits.max_tokens} tokens."
                )
        pos = match.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _literal(kind: str, token: str, text: str, at: int, limits: ConditionLimits) -> object:
    if kind == "number":
        digits = token.replace("_", "")
        if len(digits) > 80:
            raise _fail(text, at, "the number is too long", "Use a number of at most 80 digits.")
        if any(c in digits for c in ".eE"):
            value = float(digits)
            if math.isinf(value):
                raise _fail(text, at, "the number is too large", "Use a smaller number.")
            return value
        number = int(digits)
        if number.bit_length() > limits.max_int_bits:
            raise _fail(text, at, "the integer is too large", "Use a smaller number.")
        return number
    if kind == "string":
        body, out, i = token[1:-1], [], 0
        while i < len(body):
            if body[i] == "\\":
                escaped = _ESCAPES.get(body[i + 1])
                if escaped is None:
                    raise _fail(
                        text,
                        at,
                        f"unknown escape '\\{body[i + 1]}'",
                        "Use \\n \\t \\\\ \\' or \\\".",
                    )
                out.append(escaped)
                i += 2
            else:
                out.append(body[i])
                i += 1
        return "".join(out)
    return None


# -- nodes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    """A literal value."""

    value: object


@dataclass(frozen=True, slots=True)
class Name:
    """A name looked up in the evaluation's names."""

    id: str


@dataclass(frozen=True, slots=True)
class Subscript:
    """``target[index]``."""

    target: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call:
    """``function(args...)`` of an allowed function."""

    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x``, ``+x`` or ``not x``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic: ``left op right``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logic:
    """``and`` / ``or`` over two or more operands (short-circuit)."""

    op: str
    values: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    """A chain of comparisons: ``a < b <= c``."""

    left: Node
    ops: tuple[str, ...]
    rights: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class IfElse:
    """``then if test else otherwise``."""

    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Collection:
    """A list, tuple or dict literal."""

    kind: str
    items: tuple[Node, ...]
    keys: tuple[Node, ...] = ()


Node = Const | Name | Subscript | Call | Unary | Binary | Logic | Compare | IfElse | Collection

# -- parser ----------------------------------------------------------------------------

_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, text: str, limits: ConditionLimits) -> None:
        self.text = text
        self.limits = limits
        self.tokens = _tokens(text, limits)
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.pos]

    def take(self) -> _Tok:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def is_(self, text: str) -> bool:
        tok = self.tok
        return tok.kind in ("op", "name") and tok.text == text

    def expect(self, text: str) -> None:
        if not self.is_(text):
            raise self.error(f"expected {text!r}")
        self.pos += 1

    def error(self, why: str) -> ConditionError:
        tok = self.tok
        found = "the end" if tok.kind == "end" else repr(tok.text)
        return _fail(self.text, tok.at, f"{why}, found {found}", "Check the condition's syntax.")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise _fail(
                self.text, self.tok.at, "it nests too deeply",
                f"Keep nesting under {self.limits.max_depth} levels.",
            )  # fmt: skip

    def parse(self) -> Node:
        node = self.ternary()
        if self.tok.kind != "end":
            raise self.error("unexpected text after the expression")
        return node

    def ternary(self) -> Node:
        self.nest()
        node = self.or_()
        if self.is_("if"):
            self.take()
            test = self.or_()
            self.expect("else")
            node = IfElse(test, node, self.ternary())
        self.depth -= 1
        return node

    def or_(self) -> Node:
        values = [self.and_()]
        while self.is_("or"):
            self.take()
            values.append(self.and_())
        return values[0] if len(values) == 1 else Logic("or", tuple(values))

    def and_(self) -> Node:
        values = [self.not_()]
        while self.is_("and"):
            self.take()
            values.append(self.not_())
        return values[0] if len(values) == 1 else Logic("and", tuple(values))

    def not_(self) -> Node:
        if self.is_("not"):
            self.take()
            self.nest()
            node = Unary("not", self.not_())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.shift()
        ops: list[str] = []
        rights: list[Node] = []
        while True:
            tok = self.tok
            if tok.kind == "op" and tok.text in _COMPARE:
                op = self.take().text
            elif self.is_("in"):
                self.take()
                op = "in"
            elif self.is_("not") and self.tokens[self.pos + 1].text == "in":
                self.pos += 2
                op = "not in"
            elif self.is_("is"):
                self.take()
                op = "is not" if self.is_("not") and bool(self.take()) else "is"
            else:
                break
            ops.append(op)
            rights.append(self.shift())
        return left if not ops else Compare(left, tuple(ops), tuple(rights))

    def binary(self, ops: frozenset[str], operand: Callable[[], Node]) -> Node:
        node = operand()
        while self.tok.kind == "op" and self.tok.text in ops:
            op = self.take().text
            node = Binary(op, node, operand())
        return node

    def shift(self) -> Node:
        return self.binary(frozenset({"<<", ">>"}), self.arith)

    def arith(self) -> Node:
        return self.binary(frozenset({"+", "-"}), self.term)

    def term(self) -> Node:
        return self.binary(frozenset({"*", "/", "//", "%"}), self.factor)

    def factor(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            op = self.take().text
            self.nest()
            node = Unary(op, self.factor())
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.is_("**"):
            self.take()
            self.nest()
            node = Binary("**", base, self.factor())
            self.depth -= 1
            return node
        return base

    def postfix(self) -> Node:
        node = self.atom()
        while self.is_("["):
            self.take()
            self.nest()
            node = Subscript(node, self.ternary())
            self.depth -= 1
            self.expect("]")
        if self.is_("("):
            raise self.error("only allowed functions can be called, by name")
        return node

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind in ("number", "string"):
            return Const(tok.value)
        if tok.kind == "name":
            if tok.text in _CONSTANTS:
                return Const(_CONSTANTS[tok.text])
            if tok.text in _KEYWORDS:
                self.pos -= 1
                raise self.error("expected a value")
            if self.is_("("):
                return self.call(tok)
            return Name(tok.text)
        if tok.kind == "op" and tok.text in "([{":
            self.nest()
            node = self.collection(tok.text)
            self.depth -= 1
            return node
        self.pos -= 1
        raise self.error("expected a value")

    def call(self, name: _Tok) -> Node:
        if name.text not in FUNCTIONS:
            raise _fail(
                self.text, name.at, f"{name.text!r} is not an allowed function",
                f"Allowed functions: {', '.join(sorted(FUNCTIONS))}.",
            )  # fmt: skip
        self.take()
        args = self.items(")")
        return Call(name.text, tuple(args))

    def items(self, close: str) -> list[Node]:
        items: list[Node] = []
        while not self.is_(close):
            items.append(self.ternary())
            if len(items) > self.limits.max_collection_items:
                raise self.error("too many items")
            if not self.is_(close):
                self.expect(",")
        self.take()
        return items

    def collection(self, opener: str) -> Node:
        if opener == "(":
            if self.is_(")"):
                self.take()
                return Collection("tuple", ())
            first = self.ternary()
            if self.is_(")"):
                self.take()
                return first
            self.expect(",")
            return Collection("tuple", (first, *self.items(")")))
        if opener == "[":
            return Collection("list", tuple(self.items("]")))
        keys: list[Node] = []
        values: list[Node] = []
        while not self.is_("}"):
            keys.append(self.ternary())
            self.expect(":")
            values.append(self.ternary())
            if len(keys) > self.limits.max_collection_items:
                raise self.error("too many items")
            if not self.is_("}"):
                self.expect(",")
        self.take()
        return Collection("dict", tuple(values), tuple(keys))


# -- evaluation --------------------------------------------------------------------------

_NUMBER = (int, float, bool)
_SEQUENCE = (str, list, tuple)
_CONTAINERS = (dict, list, tuple, str, FrozenList, FrozenDict)
_SCALARS = (float, bool, type(None))
_MAX_DATA_DEPTH = 64
_CHARS_PER_UNIT = 64
"""A string counts one unit per this many characters (C string work is ~100x cheaper per
character than Python's work per item)."""
_BITS_PER_UNIT = 512
"""An integer counts one unit per this many bits, for the same reason."""
_CONSTANT_TIME = frozenset({"len", "bool"})
"""Functions whose cost does not depend on the size of their argument."""


_MAX_REPEAT = 10**9
"""Most times a string or list may be repeated (the size budget usually stops it first)."""
_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 60


def _brief(value: object) -> str:
    """A bounded repr for messages: a full repr of shared references could take minutes,
    and so could printing a huge integer."""
    if type(value) is int and value.bit_length() > _BRIEF_INT_BITS:
        return f"<an integer of {value.bit_length()} bits>"
    return _BRIEF.repr(value)


_BRIEF_INT_BITS = 256


def _scalar_size(value: object) -> int:
    if type(value) is str:
        return 1 + len(value) // _CHARS_PER_UNIT
    if type(value) is int:
        return 1 + value.bit_length() // _BITS_PER_UNIT
    return 1


class _NotPlainError(Exception):
    """A value is not JSON-like data (internal: turned into ConditionEvaluationError)."""


class _Eval:
    def __init__(self, text: str, names: Mapping[str, object], limits: ConditionLimits) -> None:
        self.text = text
        self.names = names
        self.limits = limits
        self.values: dict[str, object] = {}
        self.work = 0
        # Logical sizes of the containers seen so far, by identity. Holding the object keeps
        # its id from being reused by another object during this evaluation.
        self.sizes: dict[int, tuple[object, int]] = {}

    def fail(self, why: str) -> ConditionEvaluationError:
        return ConditionEvaluationError(f"Condition {self.text!r} failed: {why}.")

    def spend(self, units: int, doing: str) -> None:
        """Count ``units`` of work, before doing it; refuse once the budget would be passed."""
        self.work += units
        if self.work > self.limits.max_work:
            raise ConditionEvaluationError(
                f"Condition {self.text!r} failed: {doing} would take it over the work budget "
                f"of {self.limits.max_work} units (every value built, compared, searched or "
                "returned counts its items, nested ones and shared references included, and one "
                f"unit per {_CHARS_PER_UNIT} characters of a string). Work on smaller parts of "
                "the data (a key, an index, len()) or compute the value in a step; code that "
                "evaluates conditions itself can pass ConditionLimits(max_work=...)."
            )

    def size(self, value: object, source: str = "a value") -> int:
        """The logical size of ``value``: what a full comparison or copy of it may touch.

        Containers met for the first time are walked (each distinct one once, at the cost of
        its items); their sizes count shared references as many times as they appear.
        """
        try:
            return self.measure(value, 0, f"reading {source}")
        except _NotPlainError as exc:
            raise self.fail(
                f"{source} holds something other than JSON-like data (strings, numbers, "
                f"booleans, None, lists, tuples and dicts with string or integer keys): {exc}"
            ) from None

    def measure(self, value: object, depth: int, doing: str) -> int:
        kind = type(value)
        if kind is str or kind is int or kind in _SCALARS:
            return _scalar_size(value)
        if kind not in _DATA_CONTAINERS:
            raise _NotPlainError(f"a value of type {kind.__name__!r}")
        known = self.sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if depth >= _MAX_DATA_DEPTH:
            raise _NotPlainError(f"it nests more than {_MAX_DATA_DEPTH} levels deep")
        assert isinstance(value, list | tuple | dict)
        self.spend(1 + len(value), doing)
        items: Iterable[object] = value
        if isinstance(value, dict):
            if not all(type(key) is str or type(key) is int for key in value):
                raise _NotPlainError("a dict key that is not a string or integer")
            items = itertools.chain(value, value.values())
        total = 1
        for item in items:  # scalars inline: this loop is most of the cost of reading names
            kind = type(item)
            if kind is str or kind is int or kind in _SCALARS:
                total += _scalar_size(item)
            else:
                total += self.measure(item, depth + 1, doing)
        self.sizes[id(value)] = (value, total)
        return total

    def built(self, value: object, size: int, doing: str) -> object:
        """Charge a new value's logical ``size`` and remember it."""
        self.spend(size, doing)
        if type(value) in _DATA_CONTAINERS:
            self.sizes[id(value)] = (value, size)
        return value

    def run(self, node: Node) -> object:  # noqa: PLR0911, PLR0912 - one case per node type
        self.spend(1, "evaluating it")
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Name):
            if node.id in self.values:
                return self.values[node.id]
            if node.id not in self.names:
                raise self.fail(
                    f"name {node.id!r} is not defined "
                    f"(known: {', '.join(sorted(self.names)) or 'none'})"
                )
            return self.checked(node.id, self.names[node.id])
        if isinstance(node, Subscript):
            return self.subscript(self.run(node.target), self.run(node.index))
        if isinstance(node, Logic):
            result: object = None
            for value in node.values:
                result = self.run(value)
                if (node.op == "and") != bool(result):
                    return result
            return result
        if isinstance(node, Unary):
            operand = self.run(node.operand)
            if node.op == "not":
                return not operand
            self.numbers(operand)
            return -operand if node.op == "-" else +operand  # type: ignore[operator]
        if isinstance(node, Binary):
            return self.binary(node.op, self.run(node.left), self.run(node.right))
        if isinstance(node, Compare):
            return self.chain(node)
        if isinstance(node, IfElse):
            return self.run(node.then) if self.run(node.test) else self.run(node.otherwise)
        if isinstance(node, Call):
            return self.call(node.function, [self.run(a) for a in node.args])
        return self.collection(node)

    def chain(self, node: Compare) -> bool:
        left = self.run(node.left)
        for op, right_node in zip(node.ops, node.rights, strict=True):
            right = self.run(right_node)
            if not self.compare(op, left, right):
                return False
            left = right
        return True

    def collection(self, node: Collection) -> object:
        values = [self.run(item) for item in node.items]
        size = 1 + sum(self.size(v) for v in values)
        if node.kind == "list":
            return self.built(values, size, "building a list")
        if node.kind == "tuple":
            return self.built(tuple(values), size, "building a tuple")
        keys = [self.run(k) for k in node.keys]
        if not all(type(k) in (str, int) for k in keys):
            raise self.fail("dict keys must be strings or integers")
        # Counted before building: building hashes every key.
        self.spend(size + sum(self.size(k) for k in keys), "building a dict")
        result = dict(zip(keys, values, strict=True))
        size = 1 + sum(self.size(k) + self.size(v) for k, v in result.items())
        self.sizes[id(result)] = (result, size)
        return result

    def checked(self, name: str, value: object) -> object:
        """Refuse values that are not JSON-like: operators on them could run their code.

        Walking the value also records the sizes of its containers and counts the walk.
        """
        self.size(value, f"name {name!r}")
        # Later reads use this object: a mapping could hand out another one next time.
        self.values[name] = value
        return value

    def subscript(self, target: object, index: object) -> object:
        if type(target) not in _CONTAINERS:
            raise self.fail(
                f"cannot subscript a {type(target).__name__}; only dicts, lists, tuples and strings"
            )
        self.spend(self.size(index), "looking up a key or index")
        try:
            if isinstance(target, dict):
                return target[index]
            if type(index) is not int:
                raise self.fail(
                    f"a {type(target).__name__} index must be an integer, "
                    f"not {type(index).__name__}"
                )
            return target[index]  # type: ignore[index]
        except KeyError:
            raise self.fail(f"key {_brief(index)} is missing") from None
        except IndexError:
            raise self.fail(f"index {_brief(index)} is out of range") from None
        except TypeError:
            raise self.fail(f"{_brief(index)} cannot be used as a key") from None

    def numbers(self, *values: object) -> None:
        for value in values:
            if type(value) not in _NUMBER:
                raise self.fail(f"{type(value).__name__} values cannot be used in arithmetic here")
            # Checked before computing: multiplying or dividing huge integers from the names
            # would hold the interpreter for minutes.
            if type(value) is int and value.bit_length() > self.limits.max_int_bits:
                raise self.fail(f"an integer operand exceeds {self.limits.max_int_bits} bits")

    def check_int(self, value: object) -> object:
        if type(value) is int and value.bit_length() > self.limits.max_int_bits:
            raise self.fail(f"an integer result exceeds {self.limits.max_int_bits} bits")
        if type(value) is float and math.isinf(value):
            raise self.fail("a result is too large")
        if type(value) is complex:
            raise self.fail(
                "the result has no real value (a negative number to a fractional power)"
            )
        return value

    def check_size(self, length: int) -> None:
        if length > self.limits.max_sequence_length:
            raise self.fail(
                f"a result would hold {length} items, "
                f"over the {self.limits.max_sequence_length} limit"
            )

    def binary(self, op: str, a: object, b: object) -> object:
        if op == "+" and type(a) in _SEQUENCE and type(a) is type(b):
            self.check_size(len(a) + len(b))  # type: ignore[arg-type]
            joined = a + b  # type: ignore[operator]
            if type(joined) is str:
                return self.built(joined, self.size(joined), "joining strings")
            size = self.size(a) + self.size(b) - 1
            return self.built(joined, size, f"joining {type(a).__name__}s")
        if op == "*" and (type(a) in _SEQUENCE or type(b) in _SEQUENCE):
            return self.repeat(*((a, b) if type(a) in _SEQUENCE else (b, a)))
        self.numbers(a, b)
        return self.arithmetic(op, _num(a), _num(b))

    def repeat(self, seq: object, times: object) -> object:
        if type(times) is not int:
            raise self.fail("a string or list can only be repeated an integer number of times")
        assert isinstance(seq, str | list | tuple)
        assert isinstance(times, int)
        if abs(times) > _MAX_REPEAT:  # before any arithmetic or formatting of ``times``
            raise self.fail(
                f"repeating a {type(seq).__name__} {_brief(times)} times is not allowed "
                f"(at most {_MAX_REPEAT:,})"
            )
        self.check_size(len(seq) * max(times, 0))
        doing = f"repeating a {type(seq).__name__} {times} times"
        if isinstance(seq, str):
            # Logical size before building: the string itself is at most the length limit.
            self.spend(1 + len(seq) * max(times, 0) // _CHARS_PER_UNIT, doing)
            return seq * times
        # Every copy of an item is a shared reference that later work walks in full.
        size = 1 + max(times, 0) * (self.size(seq) - 1)
        self.spend(size, doing)
        result = seq * times
        self.sizes[id(result)] = (result, size)
        return result

    def arithmetic(self, op: str, x: int | float, y: int | float) -> object:  # noqa: PLR0911
        try:
            if op == "+":
                return self.check_int(x + y)
            if op == "-":
                return self.check_int(x - y)
            if op == "*":
                return self.check_int(x * y)
            if op == "/":
                return self.check_int(x / y)
            if op == "//":
                return self.check_int(x // y)
            if op == "%":
                return self.check_int(x % y)
            if op == "**":
                return self.power(x, y)
            if type(x) is not int or type(y) is not int:
                raise self.fail("shifts need integers")
            if not 0 <= y <= self.limits.max_shift:
                raise self.fail(f"a shift count must be 0..{self.limits.max_shift}")
            return self.check_int(x << y if op == "<<" else x >> y)
        except ZeroDivisionError:
            raise self.fail("division by zero") from None
        except OverflowError:
            raise self.fail("a result is too large") from None

    def power(self, x: int | float, y: int | float) -> object:
        if abs(y) > self.limits.max_power_exponent:
            raise self.fail(
                f"the exponent {y!r} is over the {self.limits.max_power_exponent} limit"
            )
        if (
            type(x) is int
            and type(y) is int
            and x.bit_length() * abs(y) > self.limits.max_int_bits * 2
        ):
            raise self.fail(f"an integer result exceeds {self.limits.max_int_bits} bits")
        return self.check_int(x**y)

    def compare(self, op: str, a: object, b: object) -> bool:
        if op in ("in", "not in"):
            return self.contains(a, b) == (op == "in")
        if op in ("is", "is not") and (a is None or b is None or type(a) is bool):
            return (a is b) == (op == "is")
        # Equality and ordering walk both values in C until they differ: count both in full.
        self.spend(self.size(a) + self.size(b), f"comparing with {op!r}")
        if op in ("==", "is"):
            return bool(a == b)
        if op in ("!=", "is not"):
            return bool(a != b)
        comparable = (type(a) in _NUMBER and type(b) in _NUMBER) or (
            type(a) is type(b) and type(a) in _SEQUENCE
        )
        if not comparable:
            raise self.fail(f"cannot order {type(a).__name__} and {type(b).__name__} with {op!r}")
        return bool(
            {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]  # type: ignore[operator]
        )

    def contains(self, a: object, b: object) -> bool:
        if type(b) not in _CONTAINERS:
            raise self.fail(
                f"'in' needs a dict, list, tuple or string on its right, not {type(b).__name__}"
            )
        if type(b) is str and type(a) is not str:
            raise self.fail("'in' a string needs a string on its left")
        # A dict lookup hashes and compares the key only; a search compares with every item.
        cost = self.size(a) if type(b) in (dict, FrozenDict) else self.size(a) + self.size(b)
        self.spend(cost, f"'in' on a {type(b).__name__}")
        try:
            return a in b  # type: ignore[operator]
        except TypeError:
            raise self.fail(f"{_brief(a)} cannot be looked up") from None

    def call(self, name: str, args: list[object]) -> object:
        fn, arity = FUNCTIONS[name]
        if not arity[0] <= len(args) <= arity[1]:
            raise self.fail(f"{name}() takes {arity[0]}..{arity[1]} arguments, got {len(args)}")
        if name not in _CONSTANT_TIME:
            self.spend(sum(self.size(a) for a in args), f"calling {name}()")
        try:
            result = fn(self, *args)
        except ConditionEvaluationError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise self.fail(f"{name}() failed: {exc}") from None
        result = self.check_int(result)
        return self.built(result, self.size(result), f"the result of {name}()")


def _num(value: object) -> int | float:
    """Narrow a value already checked to be a number (bools count as ints)."""
    assert isinstance(value, int | float)
    return float(value) if type(value) is float else int(value)


def _number(ev: _Eval, value: object) -> int | float:
    ev.numbers(value)
    return _num(value)


def _len(ev: _Eval, value: object) -> int:
    if type(value) not in _CONTAINERS:
        raise ev.fail(f"len() needs a dict, list, tuple or string, not {type(value).__name__}")
    return len(value)  # type: ignore[arg-type]


def _text(ev: _Eval, value: object) -> str:
    if type(value) is int and value.bit_length() > ev.limits.max_int_bits:
        raise ev.fail("str() of an integer that large is not allowed")
    if type(value) not in (str, int, float, bool, type(None)):
        raise ev.fail(f"str() of a {type(value).__name__} is not allowed")
    return str(value)


def _int(ev: _Eval, value: object) -> int:
    if type(value) is str and len(value) > 80:
        raise ev.fail("int() of a string longer than 80 characters is not allowed")
    if type(value) not in (str, int, float, bool):
        raise ev.fail(f"int() of a {type(value).__name__} is not allowed")
    assert isinstance(value, str | int | float)
    return int(value)


def _float(ev: _Eval, value: object) -> float:
    if type(value) is str and len(value) > 80:
        raise ev.fail("float() of a string longer than 80 characters is not allowed")
    if type(value) not in (str, int, float, bool):
        raise ev.fail(f"float() of a {type(value).__name__} is not allowed")
    return float(value)  # type: ignore[arg-type]


def _items(ev: _Eval, value: object, name: str) -> list[object]:
    if type(value) not in (list, tuple, FrozenList):
        raise ev.fail(f"{name}() needs a list or tuple")
    assert isinstance(value, list | tuple)
    return list(value)


def _str_arg(ev: _Eval, value: object, name: str) -> str:
    if type(value) is not str:
        raise ev.fail(f"{name}() needs a string, not {type(value).__name__}")
    assert isinstance(value, str)
    return value


def _round(ev: _Eval, value: object, digits: object = 0) -> int | float:
    places = int(_number(ev, digits))
    # round(1, -10**9) would compute 10**10**9 in C, holding the interpreter.
    if abs(places) > ev.limits.max_power_exponent:
        bound = ev.limits.max_power_exponent
        raise ev.fail(f"round() digits must be within -{bound}..{bound}, not {places}")
    return round(_number(ev, value), places)


def _extreme(ev: _Eval, args: tuple[object, ...], pick: Callable[..., object], name: str) -> object:
    values = _items(ev, args[0], name) if len(args) == 1 else list(args)
    if not values:
        raise ev.fail(f"{name}() of nothing")
    best = values[0]
    for value in values[1:]:
        if ev.compare("<", value, best) == (pick is min):
            best = value
    return best


def _sum(ev: _Eval, value: object) -> object:
    total: object = 0
    for item in _items(ev, value, "sum"):
        total = ev.binary("+", total, item)
    return total


FUNCTIONS: Final[dict[str, tuple[Callable[..., object], tuple[int, int]]]] = {
    "len": (_len, (1, 1)),
    "abs": (lambda ev, x: abs(_number(ev, x)), (1, 1)),
    "min": (lambda ev, *a: _extreme(ev, a, min, "min"), (1, 100)),
    "max": (lambda ev, *a: _extreme(ev, a, max, "max"), (1, 100)),
    "round": (_round, (1, 2)),
    "int": (_int, (1, 1)),
    "float": (_float, (1, 1)),
    "str": (_text, (1, 1)),
    "bool": (lambda _ev, x: bool(x), (1, 1)),
    "sum": (_sum, (1, 1)),
    "any": (lambda ev, x: any(_items(ev, x, "any")), (1, 1)),
    "all": (lambda ev, x: all(_items(ev, x, "all")), (1, 1)),
    "lower": (lambda ev, x: _str_arg(ev, x, "lower").lower(), (1, 1)),
    "upper": (lambda ev, x: _str_arg(ev, x, "upper").upper(), (1, 1)),
    "startswith": (
        lambda ev, x, p: _str_arg(ev, x, "startswith").startswith(_str_arg(ev, p, "startswith")),
        (2, 2),
    ),
    "endswith": (
        lambda ev, x, p: _str_arg(ev, x, "endswith").endswith(_str_arg(ev, p, "endswith")),
        (2, 2),
    ),
    "contains": (lambda ev, x, p: ev.compare("in", p, x), (2, 2)),
}
"""The functions an expression may call: name -> (implementation, (min args, max args))."""


@final
class Condition:
    """A parsed, reusable expression."""

    __slots__ = ("limits", "names", "text", "tree")

    def __init__(self, text: str, tree: Node, limits: ConditionLimits) -> None:
        self.text = text
        self.tree = tree
        self.limits = limits
        self.names = frozenset(_free_names(tree))

    @classmethod
    def parse(cls, text: str, limits: ConditionLimits | None = None) -> Condition:
        """Parse ``text``.

        Raises:
            ConditionError: it is malformed, too large, or uses something not allowed.
        """
        if not isinstance(text, str):
            raise ConditionError(f"A condition must be a string, got {type(text).__name__}.")
        limits = limits or _DEFAULT
        return cls(text, _Parser(text, limits).parse(), limits)

    def evaluate(self, names: Mapping[str, object]) -> object:
        """Evaluate over ``names``.

        Raises:
            ConditionEvaluationError: a missing name or key, a type mismatch, a limit.
        """
        evaluation = _Eval(self.text, names, self.limits)
        try:
            value = evaluation.run(self.tree)
            # The caller stores, formats or serialises the value: that costs its size too.
            evaluation.spend(evaluation.size(value), "returning the result")
        except ConditionEvaluationError:
            raise
        except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:
            # A case no rule foresaw is still this condition's failure, typed and final.
            raise ConditionEvaluationError(
                f"Condition {self.text!r} failed to evaluate: {type(exc).__name__}: "
                f"{str(exc)[:200]}. Simplify the expression or the data it works on."
            ) from None
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and (self.text, self.tree) == (other.text, other.tree)

    def __hash__(self) -> int:
        return hash((self.text, self.tree))

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def _free_names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.id}
    children: list[Node] = []
    if isinstance(node, Subscript):
        children = [node.target, node.index]
    elif isinstance(node, Call):
        children = list(node.args)
    elif isinstance(node, Unary):
        children = [node.operand]
    elif isinstance(node, Binary):
        children = [node.left, node.right]
    elif isinstance(node, Logic):
        children = list(node.values)
    elif isinstance(node, Compare):
        children = [node.left, *node.rights]
    elif isinstance(node, IfElse):
        children = [node.test, node.then, node.otherwise]
    elif isinstance(node, Collection):
        children = [*node.items, *node.keys]
    return set().union(*(_free_names(c) for c in children)) if children else set()


def evaluate_condition(
    text: str, names: Mapping[str, object], limits: ConditionLimits | None = None
) -> object:
    """Parse and evaluate ``text`` over ``names``."""
    return Condition.parse(text, limits).evaluate(names)


def is_true(text: str, names: Mapping[str, object], limits: ConditionLimits | None = None) -> bool:
    """Whether ``text`` evaluates to a true value over ``names``."""
    return bool(evaluate_condition(text, names, limits))
