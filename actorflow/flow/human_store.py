"""The human gateway over a store: requests that survive a restart (the flow layer joins
``human`` and ``stores``, which do not know each other)."""

from __future__ import annotations

from actorflow.human.durable import DurablePendingRequests
from actorflow.human.gateway import HUMAN_PATH
from actorflow.human.models import IHumanCallback
from actorflow.human.outside import spawn_human_gateway
from actorflow.runtime.system import ActorSystem
from actorflow.stores import StorePendingLog

__all__ = ["ensure_durable_gateway"]


def ensure_durable_gateway(system: ActorSystem, handler: IHumanCallback | None = None) -> bool:
    """Spawn the human gateway over the store actor's human requests (open ones re-armed
    with their stored deadlines), unless a gateway runs already; return whether it was
    spawned. Call it after the store actor is spawned and before any flow runs (flows
    register their own handlers at the gateway by name).

    Raises:
        StoreError, AskTimeoutError: the store's requests could not be loaded.
    """
    if system.cell_at(HUMAN_PATH) is not None:
        return False
    pending = DurablePendingRequests(StorePendingLog(system))
    spawn_human_gateway(system, handler, pending)
    return True
