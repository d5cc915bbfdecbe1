from __future__ import annotations

import contextlib
from typing import Literal

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorflow import (
    CodecError,
    ConfigurationError,
    DuplicateKindError,
    Message,
    MessageError,
    UnknownKindError,
)
from actorflow.messages import (
    CodecLimits,
    decode_envelope,
    decode_message,
    encode_envelope,
    encode_message,
    message_record,
    pack,
    unpack,
)
from tests.message_strategies import (
    actorflow_kinds,
    change_in_place,
    envelopes,
    fields_for,
    for_message,
    messages,
    mutable_containers,
)


def test_the_strategies_cover_every_actorflow_message_kind() -> None:
    kinds = actorflow_kinds()

    assert len(kinds) >= 25
    for cls in kinds.values():
        for_message(cls)  # raises NotImplementedError for a field it cannot build


@pytest.mark.parametrize("kind", sorted(actorflow_kinds()))
@given(data=st.data())
def test_the_record_of_each_message_kind_is_its_json_dump(kind: str, data: st.DataObject) -> None:
    message = data.draw(for_message(actorflow_kinds()[kind]))

    assert message_record(message) == message.model_dump(mode="json")


@pytest.mark.parametrize("kind", sorted(actorflow_kinds()))
@given(data=st.data())
def test_each_message_kind_survives_the_msgpack_round_trip(kind: str, data: st.DataObject) -> None:
    message = data.draw(for_message(actorflow_kinds()[kind]))

    assert decode_message(encode_message(message)) == message


@given(messages())
def test_every_message_kind_survives_the_msgpack_round_trip(message: Message) -> None:
    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize("kind", sorted(actorflow_kinds()))
@given(data=st.data())
def test_no_message_of_any_kind_holds_a_container_that_can_be_changed(
    kind: str, data: st.DataObject
) -> None:
    message = data.draw(for_message(actorflow_kinds()[kind]))

    assert list(mutable_containers(message)) == []
    assert list(mutable_containers(decode_message(encode_message(message)))) == []


@pytest.mark.parametrize("kind", sorted(actorflow_kinds()))
@given(data=st.data())
def test_changing_the_data_a_message_was_built_from_does_not_change_the_message(
    kind: str, data: st.DataObject
) -> None:
    cls = actorflow_kinds()[kind]
    fields = data.draw(fields_for(cls))
    message = cls(**fields)
    before = message.model_dump(mode="json")

    change_in_place(fields)

    assert message.model_dump(mode="json") == before


@given(envelopes())
def test_every_envelope_survives_the_msgpack_round_trip(envelope: object) -> None:
    assert decode_envelope(encode_envelope(envelope)) == envelope  # type: ignore[arg-type]


@given(st.binary(max_size=512))
def test_random_bytes_give_only_typed_errors(data: bytes) -> None:
    for decode in (decode_envelope, decode_message, unpack):
        with contextlib.suppress(MessageError):
            decode(data)


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=6))
def test_random_maps_give_only_typed_errors(data: dict[str, object]) -> None:
    for decode in (decode_envelope, decode_message):
        with contextlib.suppress(MessageError):
            decode(pack(data))


@pytest.mark.parametrize(
    "bomb",
    [
        b"\xdd\xff\xff\xff\xff",
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        b"\x91" * 100_000 + b"\xc0",
        b"\x81\xa1k" * 50_000 + b"\xc0",
        b"\xc7\x05\x01hello",
        b"\xd6\xff\x00\x00\x00\x00",  # the msgpack timestamp extension
    ],
    ids=["array", "map", "str", "bin", "nested-arrays", "nested-maps", "ext", "timestamp"],
)
def test_msgpack_bombs_are_refused_with_a_codec_error(bomb: bytes) -> None:
    with pytest.raises(CodecError):
        unpack(bomb)


def test_limits_are_honoured() -> None:
    limits = CodecLimits(max_bytes=100, max_str_len=10, max_container_len=3, max_depth=2)

    with pytest.raises(CodecError, match=r"exceeds the 100-byte limit"):
        unpack(pack("x" * 200), limits)
    with pytest.raises(CodecError):
        unpack(pack("x" * 11), limits)
    with pytest.raises(CodecError):
        unpack(pack([1, 2, 3, 4]), limits)
    with pytest.raises(CodecError, match=r"nests deeper than 2 levels"):
        unpack(pack([[[1]]]), limits)
    assert unpack(pack([[1]]), limits) == [[1]]


def test_an_unknown_kind_names_the_kind() -> None:
    with pytest.raises(UnknownKindError, match=r"^Unknown message kind 'nope\.nope'"):
        decode_message(pack({"kind": "nope.nope"}))


def test_an_invalid_message_is_a_codec_error_naming_the_field() -> None:
    with pytest.raises(CodecError, match=r"Invalid 'lifecycle\.spawned' message: .* 'path'"):
        decode_message(pack({"kind": "lifecycle.spawned", "behaviour": "x"}))


def test_a_duplicate_kind_is_an_error_at_class_definition() -> None:
    with pytest.raises(DuplicateKindError, match=r"^Message kind 'lifecycle\.spawned' is claimed"):

        class Impostor(Message):
            kind: Literal["lifecycle.spawned"] = "lifecycle.spawned"


def test_a_kind_tag_must_be_area_dot_event() -> None:
    with pytest.raises(ConfigurationError, match=r"is not 'area\.event'"):

        class BadTag(Message):
            kind: Literal["NoDots"] = "NoDots"


def test_messages_are_frozen_and_refuse_extra_fields() -> None:
    from pydantic import ValidationError

    from actorflow.messages import StopActor

    stop = StopActor(reason="x")

    with pytest.raises(ValidationError):
        stop.reason = "y"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        StopActor(reason="x", extra=1)  # type: ignore[call-arg]


_PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(st.lists(_PLAIN, max_size=5))
def test_pack_gives_the_bytes_of_msgpack_packb(values: list[object]) -> None:
    """The reused per-thread Packer encodes as a fresh one would, object after object."""
    for value in values:
        assert pack(value) == msgpack.packb(value, use_bin_type=True)


def test_a_failed_or_large_pack_leaves_nothing_behind_for_the_next() -> None:
    for first in ({"a": 1, "b": object()}, [1, 2**64], "x" * 100_000):
        with contextlib.suppress(CodecError):
            pack(first)

        assert pack({"ok": [1, "two"]}) == msgpack.packb({"ok": [1, "two"]}, use_bin_type=True)


def test_unencodable_data_is_a_codec_error_naming_its_type() -> None:
    with pytest.raises(CodecError, match=r"^Cannot encode dict as msgpack: "):
        pack({"when": object()})
