from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from actorflow._trusted import trusted


class Sample(BaseModel):
    kind: Literal["sample"] = "sample"
    name: str
    count: int = 3
    tags: list[str] = Field(default_factory=list)
    at: datetime | None = None


def test_a_trusted_model_equals_the_validated_one() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    values = {"kind": "sample", "name": "a", "count": 1, "tags": ["x"], "at": at}

    built = trusted(Sample, **values)

    assert built == Sample(**values)
    assert built.model_dump() == Sample(**values).model_dump()
    assert built.model_fields_set == set(values)


def test_plain_defaults_fill_left_out_fields_and_are_not_marked_set() -> None:
    built = trusted(Sample, name="a", tags=[])

    assert built == Sample(name="a")
    assert built.model_fields_set == {"name", "tags"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"count": 1, "tags": []}, r"missing \['name'\]"),
        ({"name": "a"}, r"missing \['tags'\]"),  # a factory default is never filled in
        ({"name": "a", "tags": [], "colour": "red"}, r"unknown \['colour'\]"),
    ],
)
def test_missing_or_unknown_fields_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        trusted(Sample, **values)
