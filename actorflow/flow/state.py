"""State and memory managers of the seed: where flow checkpoints and flow memory live.

Both are async protocols with in-memory implementations here; later stores (SQLite,
PostgreSQL) implement the same protocols. Assign them as in the seed::

    flow.executor.state_manager = InMemoryStateManager()
    flow.executor.memory_manager = InMemoryMemoryManager()
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Protocol, final, runtime_checkable

from actorflow.flow.models import FlowState

__all__ = ["IMemoryManager", "IStateManager", "InMemoryMemoryManager", "InMemoryStateManager"]


@runtime_checkable
class IStateManager(Protocol):
    """Keeps flow checkpoints."""

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        """Store ``state`` as the latest checkpoint of ``flow_id``."""
        ...

    async def load_state(self, flow_id: str) -> FlowState | None:
        """Return the latest checkpoint of ``flow_id``, or None."""
        ...

    async def delete_state(self, flow_id: str) -> None:
        """Forget ``flow_id``'s checkpoints."""
        ...

    async def list_flows(self) -> list[str]:
        """Return the ids of the flows with a checkpoint."""
        ...


@runtime_checkable
class IMemoryManager(Protocol):
    """Keeps per-flow key/value memory."""

    async def store_memory(self, flow_id: str, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for ``flow_id``."""
        ...

    async def retrieve_memory(self, flow_id: str, key: str) -> Any:
        """Return the value under ``key`` for ``flow_id`` (None if absent)."""
        ...

    async def delete_memory(self, flow_id: str, key: str) -> None:
        """Forget ``key`` for ``flow_id``."""
        ...


@final
class InMemoryStateManager:
    """Checkpoints in a dict; ``load_state`` returns copies. For tests and scripts."""

    def __init__(self) -> None:
        self._states: dict[str, FlowState] = {}
        self._lock = threading.Lock()  # used from several event loops; held for a dict op

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        """Keep ``state`` (not a copy: flow actors hand over a fresh snapshot each time and
        never change it afterwards; do the same if you save states yourself)."""
        with self._lock:
            self._states[flow_id] = state

    def save_state_nowait(self, flow_id: str, state: FlowState) -> None:
        """Keep ``state`` without awaiting (flow actors use this when a manager offers it,
        as saving here never blocks)."""
        with self._lock:
            self._states[flow_id] = state

    async def load_state(self, flow_id: str) -> FlowState | None:
        """Return a copy of the latest checkpoint, or None."""
        with self._lock:
            state = self._states.get(flow_id)
            return None if state is None else state.model_copy(deep=True)

    async def delete_state(self, flow_id: str) -> None:
        """Forget the flow."""
        with self._lock:
            self._states.pop(flow_id, None)

    async def list_flows(self) -> list[str]:
        """Return the flow ids, in insertion order."""
        with self._lock:
            return list(self._states)


@final
class InMemoryMemoryManager:
    """Flow memory in a dict of dicts (values are deep-copied in and out)."""

    def __init__(self) -> None:
        self._memory: dict[str, dict[str, Any]] = {}

    async def store_memory(self, flow_id: str, key: str, value: Any) -> None:
        """Store a copy of ``value``."""
        self._memory.setdefault(flow_id, {})[key] = copy.deepcopy(value)

    async def retrieve_memory(self, flow_id: str, key: str) -> Any:
        """Return a copy of the value, or None."""
        return copy.deepcopy(self._memory.get(flow_id, {}).get(key))

    async def delete_memory(self, flow_id: str, key: str) -> None:
        """Forget ``key``."""
        self._memory.get(flow_id, {}).pop(key, None)

    async def list_memory(self, flow_id: str) -> list[str]:
        """Return the keys stored for ``flow_id``."""
        return list(self._memory.get(flow_id, {}))
