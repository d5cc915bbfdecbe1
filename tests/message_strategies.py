"""Hypothesis strategies for every registered message kind and for envelopes."""

from __future__ import annotations

import collections.abc
import enum
import types
import typing
from collections.abc import Iterator
from typing import Any, TypeVar

from hypothesis import strategies as st
from pydantic import BaseModel

import actorflow.flow
import actorflow.journal  # noqa: F401
from actorflow.ids import ActorPath, CorrelationId, MessageId
from actorflow.messages import Envelope, FrozenDict, FrozenList, Message, registered_kinds

M = TypeVar("M", bound=BaseModel)

PATHS = st.sampled_from(["/", "/agents", "/agents/a", "/system/deadletters", "/flows/f-1/x"]).map(
    ActorPath
)
TEXT = st.text(max_size=12)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


def for_annotation(annotation: Any) -> st.SearchStrategy[Any]:  # noqa: PLR0911, PLR0912
    """Return a strategy for values of a message field's annotation.

    Raises:
        NotImplementedError: the annotation is not covered (the coverage test fails).
    """
    if annotation is ActorPath:
        return PATHS
    if annotation in (CorrelationId, MessageId):
        return TEXT
    if annotation is str:
        return TEXT
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(0, 2**40)
    if annotation is float:
        return st.floats(0, 1e9, allow_nan=False)
    if annotation is type(None):
        return st.none()
    if annotation is typing.Any or repr(annotation).endswith("JsonValue"):
        return JSON
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return for_model(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        if isinstance(args[0], type) and issubclass(args[0], Message):  # AnyMessage
            return st.sampled_from(SIMPLE).flatmap(for_message)
        return for_annotation(args[0])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_annotation(a) for a in args))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(for_annotation(args[0]), max_size=3).map(tuple)
    if origin is frozenset:
        return st.frozensets(for_annotation(args[0]), max_size=3)
    if origin in (dict, collections.abc.Mapping):
        return st.dictionaries(TEXT, for_annotation(args[1]), max_size=3)
    if origin is list:
        return st.lists(for_annotation(args[0]), max_size=3)
    raise NotImplementedError(f"no strategy for {annotation!r}")


def _bounded(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any] | None:
    """A strategy for an ``int`` or ``float`` field with ``Field(ge=..., le=...)`` bounds."""
    bounds = {
        type(m).__name__: getattr(m, type(m).__name__.lower())
        for m in metadata
        if type(m).__name__ in ("Ge", "Gt", "Le", "Lt")
    }
    if annotation not in (int, float) or not bounds:
        return None
    low = bounds.get("Ge", bounds.get("Gt"))
    high = bounds.get("Le", bounds.get("Lt"))
    if annotation is int:
        low = None if low is None else low + ("Gt" in bounds)
        high = None if high is None else high - ("Lt" in bounds)
        return st.integers(0 if low is None else low, 2**40 if high is None else high)
    return st.floats(
        0 if low is None else low,
        1e9 if high is None else high,
        exclude_min="Gt" in bounds,
        exclude_max="Lt" in bounds,
        allow_nan=False,
    )


def _for_field(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)] or [None]
        bounded = _bounded(inner, metadata)
        if bounded is not None:  # ``int | None = Field(ge=1)``: the bounds are the int's
            return st.one_of(st.none(), bounded)
    bounded = _bounded(annotation, metadata)
    if bounded is None and annotation is str:
        shortest = max((getattr(m, "min_length", 0) or 0 for m in metadata), default=0)
        if shortest:  # ``Field(min_length=1)``
            return TEXT.filter(lambda text: len(text) >= shortest)
    return for_annotation(annotation) if bounded is None else bounded


AGENT_IDS = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda i: i not in {"orchestrator", "resolver", "resources", "hub"}
)
"""Agent ids as the agents layer checks them (fields named below, in its models)."""
_AGENT_ID_FIELDS = frozenset({"id", "agent_id", "sender_id", "receiver_id"})


def fields_for(cls: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy for the keyword arguments that build a ``cls`` (not ``kind``)."""
    is_agents = cls.__module__.startswith("actorflow.agents.")
    return st.fixed_dictionaries(
        {
            name: AGENT_IDS
            if is_agents and name in _AGENT_ID_FIELDS and field.annotation is str
            else _for_field(field.annotation, field.metadata)
            for name, field in cls.model_fields.items()
            if name != "kind" or not issubclass(cls, Message)  # a message's tag is its own
        }
    )


def for_model(cls: type[M]) -> st.SearchStrategy[M]:
    """Return a strategy for instances of model (or message) class ``cls``."""
    return fields_for(cls).map(lambda fields: cls(**fields))


def for_message(cls: type[Message]) -> st.SearchStrategy[Message]:
    """Return a strategy for instances of message class ``cls``."""
    return for_model(cls)


def actorflow_kinds() -> dict[str, type[Message]]:
    """The message kinds actorflow itself defines."""
    return {k: c for k, c in registered_kinds().items() if c.__module__.startswith("actorflow.")}


def _simple(cls: type[Message]) -> bool:
    return all(f.annotation in (str, int) for n, f in cls.model_fields.items() if n != "kind")


SIMPLE: list[type[Message]] = [c for c in actorflow_kinds().values() if _simple(c)]


def messages() -> st.SearchStrategy[Message]:
    """Any actorflow message."""
    return st.sampled_from(sorted(actorflow_kinds())).flatmap(
        lambda kind: for_message(actorflow_kinds()[kind])
    )


def envelopes() -> st.SearchStrategy[Envelope]:
    """Any envelope carrying any actorflow message."""
    return st.builds(
        Envelope,
        seq=st.integers(0, 2**40),
        message_id=TEXT.map(MessageId),
        correlation_id=st.none() | TEXT.map(CorrelationId),
        sender=st.none() | PATHS,
        recipient=PATHS,
        reply_to=st.none() | PATHS,
        logical_time=st.integers(0, 2**40),
        wall_time=st.floats(0, 2e9, allow_nan=False),
        message=messages(),
    )


def mutable_containers(value: object) -> Iterator[object]:
    """Yield every list, dict or set reachable from ``value`` that can still be changed.

    Looks inside tuples, frozensets, frozen containers and pydantic models' fields.
    """
    if isinstance(value, (FrozenList, tuple, frozenset)):
        for item in value:
            yield from mutable_containers(item)
    elif isinstance(value, FrozenDict):
        for item in value.values():
            yield from mutable_containers(item)
    elif isinstance(value, (list, dict, set)):
        yield value
    elif isinstance(value, BaseModel):
        for item in value.__dict__.values():
            yield from mutable_containers(item)


def change_in_place(value: object) -> None:
    """Change every list and dict reachable from ``value`` that can still be changed, as a
    careless sender might after sending: append ``None``, add a ``"changed"`` key."""
    found: list[object] = []
    _collect_mutable(value, found)
    for container in found:
        if isinstance(container, list):
            container.append(None)
        elif isinstance(container, dict):
            container["changed"] = True


def _collect_mutable(value: object, found: list[object]) -> None:
    children: list[object]
    if isinstance(value, (FrozenDict, FrozenList)):
        return  # read-only all the way down
    if isinstance(value, BaseModel):
        children = list(value.__dict__.values())
    elif isinstance(value, dict):
        found.append(value)
        children = list(value.values())
    elif isinstance(value, list):
        found.append(value)
        children = list(value)
    elif isinstance(value, (tuple, frozenset)):
        children = list(value)
    else:
        return
    for child in children:
        _collect_mutable(child, found)
