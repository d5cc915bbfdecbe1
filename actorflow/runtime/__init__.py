"""Cells and behaviours on pykka: the actor system, supervision, mailboxes, dead letters."""

from __future__ import annotations

from actorflow.runtime.behaviour import Behaviour, Recipe, handler_name, recipe
from actorflow.runtime.cell import current_cell
from actorflow.runtime.context import Context
from actorflow.runtime.deadletters import DEADLETTERS_PATH, DeadLetterOffice
from actorflow.runtime.effect_messages import EffectCompleted, EffectFailed
from actorflow.runtime.effects import EffectRunner, EffectStatistics
from actorflow.runtime.mailbox import MailboxConfig, OverflowPolicy
from actorflow.runtime.stats import ActorStatistics, SystemStatistics
from actorflow.runtime.supervision import (
    GUARDIAN_STRATEGY,
    Backoff,
    Decider,
    RestartType,
    SupervisorStrategy,
    always,
    decide_by_type,
)
from actorflow.runtime.system import (
    AGENTS_PATH,
    FLOWS_PATH,
    SYSTEM_PATH,
    ActorSystem,
    DeliveryTap,
    EventListener,
)

__all__ = [
    "AGENTS_PATH",
    "ActorStatistics",
    "ActorSystem",
    "Backoff",
    "Behaviour",
    "Context",
    "DEADLETTERS_PATH",
    "DeadLetterOffice",
    "Decider",
    "DeliveryTap",
    "EffectCompleted",
    "EffectFailed",
    "EffectRunner",
    "EffectStatistics",
    "EventListener",
    "FLOWS_PATH",
    "GUARDIAN_STRATEGY",
    "MailboxConfig",
    "OverflowPolicy",
    "Recipe",
    "RestartType",
    "SYSTEM_PATH",
    "SupervisorStrategy",
    "SystemStatistics",
    "always",
    "current_cell",
    "decide_by_type",
    "handler_name",
    "recipe",
]
