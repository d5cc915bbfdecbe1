from __future__ import annotations

from collections.abc import Iterator

import pytest

from actorflow.secrets import unregister_secret
from tests.models.fake_openai import FakeOpenAI, fake_openai

KEY = "sk-test-4f9a8b7c6d5e4f3a2b1c"
"""The API key the tests use; it must show up nowhere but in the server's requests."""


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server on 127.0.0.1."""
    with fake_openai() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _forget_the_key() -> Iterator[None]:
    """Clients register their key as a secret; forget it after each test."""
    yield
    unregister_secret(KEY)
