"""Human-in-the-loop callbacks of the seed, re-exported from :mod:`actorflow.human`.

A ``human_input`` step calls the flow's human callback (``flow.set_human_callback``)
on the effects runner, never on an actor thread. The models, the gateway actor and
:class:`ScriptedHumanCallback` live in :mod:`actorflow.human`; this module keeps the
old import path working.
"""

from __future__ import annotations

from actorflow.human.models import (
    HumanCallbackData,
    HumanCallbackResponse,
    HumanCallbackType,
    IHumanCallback,
)
from actorflow.human.scripted import ScriptedHumanCallback

__all__ = [
    "HumanCallbackData",
    "HumanCallbackResponse",
    "HumanCallbackType",
    "IHumanCallback",
    "ScriptedHumanCallback",
]
