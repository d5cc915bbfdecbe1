from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actorflow.stores import MemoryStore, SqliteStore, Store

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The name of the backend under test (every contract test runs on each)."""
    name: str = request.param
    return name


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of the backend under test, closed after the test."""
    made: Store = MemoryStore() if backend == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()
