from __future__ import annotations

import pytest

from actorflow import ActorSystem
from actorflow.human import InMemoryPendingRequests
from actorflow.testing import Probe


@pytest.fixture
def pending() -> InMemoryPendingRequests:
    """Where the gateway keeps requests (shared by gateway incarnations in a test)."""
    return InMemoryPendingRequests()


@pytest.fixture
def requester(fake_system: ActorSystem) -> Probe:
    """A probe that asks the human gateway and gets the outcomes."""
    return Probe(fake_system, "requester")
