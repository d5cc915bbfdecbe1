"""The public names of actorflow.models and actorflow.secrets: sorted, present, documented."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import actorflow.models
import actorflow.secrets


@pytest.mark.parametrize("module", [actorflow.models, actorflow.secrets])
def test_public_names_are_sorted_present_and_documented(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{module.__name__}.{name} has no docstring"
