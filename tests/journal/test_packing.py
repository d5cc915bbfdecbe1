"""The journal packs bodies with ormsgpack where ormsgpack gives msgpack's bytes, and with
msgpack for everything else: frames are byte for byte those msgpack-python wrote before
(``Packer(use_bin_type=True)``), and a value msgpack refuses is refused with msgpack's
own error."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import math
import uuid
from typing import Any

import msgpack
import ormsgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from actorflow.journal import JournalEvent, JournalHeader, JournalRecord
from actorflow.journal._packing import pack_body
from actorflow.journal.format import encode_body, encode_frames, frame
from actorflow.messages import Envelope, FrozenDict, FrozenList, message_record
from actorflow.messages.codec import envelope_to_record
from tests.journal.conftest import sample_records
from tests.message_strategies import envelopes, messages
from tests.support import Work


def msgpack_outcome(value: object) -> tuple[str, object]:
    """What msgpack-python (the journal's packer before ormsgpack) makes of ``value``."""
    try:
        return "bytes", msgpack.Packer(use_bin_type=True).pack(value)
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return "error", (type(exc), str(exc))


def journal_outcome(value: object) -> tuple[str, object]:
    """What the journal's packer makes of ``value``."""
    try:
        return "bytes", pack_body(value)
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return "error", (type(exc), str(exc))


def msgpack_body(record: JournalRecord) -> bytes:
    """A record's body as the journal encoded it with msgpack-python alone."""
    body: dict[str, Any]
    if isinstance(record, Envelope):
        body = {**envelope_to_record(record), "type": "delivery"}
    elif isinstance(record, JournalEvent):
        body = {
            "type": "event",
            "seq": record.seq,
            "wall_time": record.wall_time,
            "event": message_record(record.message),
        }
    else:
        body = record.model_dump(mode="json")
    packed: bytes = msgpack.Packer(use_bin_type=True).pack(body)
    return packed


def msgpack_frames(records: list[JournalRecord]) -> bytes:
    return b"".join(frame(msgpack_body(record)) for record in records)


@given(st.lists(envelopes(), min_size=1, max_size=8), messages())
def test_frames_of_every_message_kind_are_the_bytes_msgpack_gives(
    batch: list[Envelope], message: Any
) -> None:
    """Deliveries of any message, events and a header: batch and one-record paths alike."""
    header = JournalHeader(format_version=1, run_id="r", started_at=1.0, actorflow_version="x")
    records: list[JournalRecord] = [*batch, JournalEvent(3, 4.0, message), header]
    out = bytearray()

    count, failed = encode_frames(records, out)

    assert (count, failed) == (len(records), [])
    assert bytes(out) == msgpack_frames(records)
    assert [encode_body(record) for record in records] == list(map(msgpack_body, records))


def test_the_sample_records_encode_as_msgpack_encoded_them() -> None:
    records = sample_records()
    out = bytearray()

    encode_frames(records, out)

    assert bytes(out) == msgpack_frames(records)


KEYS = st.text(max_size=4) | st.integers(-5, 300) | st.binary(max_size=3) | st.none()
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN, infinities and -0.0 included
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=6)  # surrogates too
    | st.binary(max_size=6)
)
DATA: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)


@given(DATA)
def test_any_plain_value_packs_to_msgpack_bytes_or_raises_msgpack_error(value: object) -> None:
    assert journal_outcome(value) == msgpack_outcome(value)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Shape(enum.Enum):
    ROUND = 1


class Text(str):
    __slots__ = ()


class Number(int):
    __slots__ = ()


class Real(float):
    __slots__ = ()


@dataclasses.dataclass
class Point:
    x: int = 1


class Model(BaseModel):
    x: int = 1


Pair = collections.namedtuple("Pair", "a b")


def nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


INT_EDGES = [
    0, 1, -1, 127, 128, 255, 256, -32, -33, -128, -129, 2**15, -(2**15) - 1, 2**16,
    2**31, -(2**31) - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, -(2**63),
]  # fmt: skip

CASES: dict[str, object] = {
    "int edges": INT_EDGES,
    "int of 2**64": 2**64,
    "int below -2**63": -(2**63) - 1,
    "int of 100 digits": 10**100,
    "floats": [0.0, -0.0, 1.5, 1e300, 5e-324, math.nan, math.inf, -math.inf],
    "tuples and lists": ((1, (2,)), [3, [4]], ()),
    "bytes": [b"", b"\x00\xff", bytearray(b"ab"), memoryview(b"cd")],
    "long str, bin and array": ["x" * 70_000, b"y" * 70_000, list(range(70_000))],
    "int keys": {1: "a", -1: "b", 2**40: "c"},
    "bytes, None, bool and tuple keys": {b"k": 1, None: 2, True: 3, (1, 2): 4},
    "str subclass key": {Text("k"): 1},
    "surrogate": "\ud800",
    "non-BMP text": "\U0001f600 \u00e9",
    "str, int, float subclasses": [Text("t"), Number(5), Real(2.5)],
    "str enum": Colour.RED,
    "int enum": Level.HIGH,
    "enum": Shape.ROUND,
    "bool": [True, False, None],
    "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    "naive datetime": datetime.datetime(2020, 1, 2),
    "date": datetime.date(2020, 1, 2),
    "time": datetime.time(3, 4),
    "timedelta": datetime.timedelta(seconds=1),
    "uuid": uuid.UUID(int=7),
    "dataclass": Point(),
    "pydantic model": Model(),
    "namedtuple": Pair(1, 2),
    "set": {1},
    "frozenset": frozenset({1}),
    "complex": 1j,
    "object": object(),
    "msgpack ExtType": msgpack.ExtType(1, b"x"),
    "frozen message data": FrozenDict({"a": FrozenList([1, FrozenDict({"b": None})])}),
    "a message": Work(n=1),
    **{f"nested {depth} deep": nested(depth) for depth in (254, 255, 256, 257, 300, 511, 512)},
}


@pytest.mark.parametrize("value", CASES.values(), ids=CASES.keys())
def test_each_edge_case_packs_as_msgpack_packs_it(value: object) -> None:
    for body in (value, {"value": value}, [value]):
        assert journal_outcome(body) == msgpack_outcome(body)


def test_numpy_values_pack_as_msgpack_packs_them() -> None:
    numpy = pytest.importorskip("numpy")
    for value in (numpy.float64(1.5), numpy.int64(3), numpy.array([1, 2]), numpy.bool_(1)):
        assert journal_outcome({"v": value}) == msgpack_outcome({"v": value})


def test_a_record_msgpack_refuses_is_dropped_with_msgpack_error() -> None:
    """A datetime smuggled past validation: refused as msgpack refused it, not packed."""
    moment = datetime.datetime(2020, 1, 2, tzinfo=datetime.UTC)
    message = Work.model_construct(n=moment)  # type: ignore[arg-type]
    bad_event = JournalEvent(2, 1.0, message)
    good = sample_records()[0]
    assert isinstance(good, Envelope)
    bad_delivery = good._replace(message=message)
    records: list[JournalRecord] = [good, bad_event, good, bad_delivery, good]
    out = bytearray()

    count, failed = encode_frames(records, out)

    assert count == 3
    assert bytes(out) == msgpack_frames([good] * 3)
    error = (TypeError, "can not serialize 'datetime.datetime' object")
    assert [(record, type(exc), str(exc)) for record, exc in failed] == [
        (bad_event, *error),
        (bad_delivery, *error),
    ]


@pytest.mark.parametrize("value", [ormsgpack.Ext(1, b"x"), ormsgpack.Fragment(b"\xc0")])
def test_ormsgpack_own_wrappers_are_the_one_known_difference(value: object) -> None:
    """ormsgpack packs its own ``Ext`` and ``Fragment`` (msgpack refuses them). No message
    holds one through validation: only a field set past it (``model_construct``) or a
    hand-built envelope could, so the journal accepts this difference rather than pay a
    deep type check per record; the reader reports such a frame if it does not decode."""
    assert msgpack_outcome({"v": value})[0] == "error"
    assert journal_outcome({"v": value})[0] == "bytes"
