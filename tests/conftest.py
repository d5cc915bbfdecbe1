from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pykka
import pytest
from hypothesis import HealthCheck, settings

from actorflow import ActorSystem, FakeClock
from actorflow.ids import SequentialIds

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("slow", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _actor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("actorflow", "Thread"))]


@pytest.fixture(autouse=True, scope="session")
def _store_outside_the_work_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Flows that use the default store (``actorflow run``, ``create_enhanced_flow()``)
    keep it in a temporary folder, not in the folder the tests run from (where another
    process may hold it)."""
    store = tmp_path_factory.mktemp("store") / "store.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACTORFLOW_STORE", str(store))
        yield


@pytest.fixture(autouse=True)
def _no_thread_outlives_the_test() -> Iterator[None]:
    """Stop every pykka actor after each test and fail if an actor thread survives."""
    yield
    pykka.ActorRegistry.stop_all(timeout=10)
    deadline = time.monotonic() + 10
    for thread in _actor_threads():
        if thread.name.startswith("actorflow"):
            thread.join(max(0.0, deadline - time.monotonic()))
    leftover = [t.name for t in _actor_threads() if t.name.startswith("actorflow") and t.is_alive()]
    assert not leftover, f"threads outlived the test: {leftover}"


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    """A started actor system on the real clock, shut down after the test."""
    with ActorSystem(ids=SequentialIds()) as sys_:
        yield sys_


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock that moves only when the test advances it."""
    return FakeClock()


@pytest.fixture
def fake_system(clock: FakeClock) -> Iterator[ActorSystem]:
    """A started actor system on a FakeClock, shut down after the test."""
    with ActorSystem(clock=clock, ids=SequentialIds()) as sys_:
        yield sys_
