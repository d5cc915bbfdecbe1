from __future__ import annotations

import pytest

from tests.flow.support import Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
