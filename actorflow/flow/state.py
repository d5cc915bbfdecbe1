"""State and memory managers of the seed: where flow checkpoints and flow memory live.

Both are async protocols, with in-memory implementations and SQLite ones (thin adapters
over :class:`actorflow.stores.SqliteStore`). Assign them as in the seed::

    flow.executor.state_manager = InMemoryStateManager()
    flow.executor.memory_manager = InMemoryMemoryManager()

    store = SqliteStore("flows.sqlite")      # one store object per file and process
    flow.executor.state_manager = SqliteStateManager(store)
    flow.executor.memory_manager = SqliteMemoryManager(store)
"""

from __future__ import annotations

import asyncio
import copy
import os
import threading
from typing import Any, Protocol, final, runtime_checkable

from pydantic import JsonValue, ValidationError
from pydantic_core import PydanticSerializationError

from actorflow.clock import Clock, SystemClock
from actorflow.errors import CheckpointRejectedError, StoreDataError
from actorflow.flow.models import FlowState, StepStatus
from actorflow.stores import CheckpointWrite, FlowDelete, SqliteStore, Synchronous
from actorflow.stores.protocol import build_write

__all__ = [
    "IMemoryManager",
    "IStateManager",
    "InMemoryMemoryManager",
    "InMemoryStateManager",
    "SqliteMemoryManager",
    "SqliteStateManager",
]


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


def _open(
    store: SqliteStore | str | os.PathLike[str], synchronous: Synchronous | str
) -> tuple[SqliteStore, bool]:
    """Return the store to use and whether the manager opened it (and so closes it)."""
    if isinstance(store, SqliteStore):
        return store, False
    return SqliteStore(store, synchronous=synchronous), True


@final
class SqliteStateManager:
    """Checkpoints in a SQLite store: each ``save_state`` is one committed transaction.

    The flow's state is stored as JSON (its plan once, by hash), and validated as a
    ``FlowState`` again when loaded. Calls run in a worker thread (``asyncio.to_thread``),
    so the event loop never waits on the disk.

    Args:
        store: an open :class:`~actorflow.stores.SqliteStore` (shared with a
            :class:`SqliteMemoryManager`; its owner closes it), or a path to open one
            (closed by :meth:`close`).
        synchronous: SQLite's ``synchronous`` setting when a path is given.
        clock: where "last change" times come from (default: the system clock).

    Raises:
        StoreLockedError, StoreSchemaError, StoreError: a path cannot be opened as a store.
    """

    def __init__(
        self,
        store: SqliteStore | str | os.PathLike[str],
        *,
        synchronous: Synchronous | str = Synchronous.NORMAL,
        clock: Clock | None = None,
    ) -> None:
        self.store, self._owns_store = _open(store, synchronous)
        self._clock: Clock = clock or SystemClock()

    async def save_state(self, flow_id: str, state: FlowState) -> None:
        """Store ``state`` as the latest checkpoint of ``flow_id`` (committed on return).

        Raises:
            StoreDataError: the state holds values that are not JSON data.
            StoreTransientError: the commit failed; nothing of it is stored.
        """
        write = _checkpoint_write(flow_id, state, self._clock.time())
        await asyncio.to_thread(self.store.save_checkpoint, write)

    async def load_state(self, flow_id: str) -> FlowState | None:
        """Return the latest checkpoint of ``flow_id``, validated, or None.

        Raises:
            CheckpointRejectedError: the stored checkpoint is damaged, its plan does not
                match its hash, or it is not a valid ``FlowState``.
        """
        checkpoint = await asyncio.to_thread(self.store.load_checkpoint, flow_id)
        if checkpoint is None:
            return None
        try:
            return FlowState.model_validate({**checkpoint.state, "plan": checkpoint.plan})
        except ValidationError as exc:
            raise CheckpointRejectedError(
                f"The stored checkpoint {checkpoint.version} of flow {flow_id!r} in "
                f"{str(self.store.path)!r} is not a valid flow state "
                f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']}). Do not "
                "resume the flow from it: restore the file from a backup or delete the flow."
            ) from exc

    async def delete_state(self, flow_id: str) -> None:
        """Forget ``flow_id``'s checkpoints and plans (its memory stays)."""
        await asyncio.to_thread(self.store.commit, (FlowDelete(flow_id=flow_id),))

    async def list_flows(self) -> list[str]:
        """Return the ids of the stored flows, sorted."""
        flows = await asyncio.to_thread(self.store.list_flows)
        return [f.flow_id for f in flows]

    def close(self) -> None:
        """Close the store if this manager opened it."""
        if self._owns_store:
            self.store.close()


def _checkpoint_write(flow_id: str, state: FlowState, at: float) -> CheckpointWrite:
    try:
        data = state.model_dump(mode="json", exclude={"plan"})
    except PydanticSerializationError as exc:
        raise StoreDataError(
            f"The state of flow {flow_id!r} holds a value that is not JSON data ({exc}). "
            "Keep step results and variables to JSON data."
        ) from exc
    plan = None if state.plan is None else state.plan.model_dump(mode="json")
    done = sum(1 for s in state.steps.values() if s.status is StepStatus.COMPLETED)
    return build_write(
        CheckpointWrite,
        flow_id=flow_id,
        state=data,
        status=state.status.value,
        steps_done=done,
        steps_total=max(done, len(state.steps)),
        at=at,
        plan=plan,
    )


@final
class SqliteMemoryManager:
    """Flow memory in a SQLite store, one namespace per flow id.

    Values must be JSON data (the in-memory manager keeps any Python value); they come
    back as fresh JSON values (tuples as lists). Calls run in a worker thread.

    Args:
        store: an open :class:`~actorflow.stores.SqliteStore` (shared with a
            :class:`SqliteStateManager`), or a path to open one (closed by :meth:`close`).
        synchronous: SQLite's ``synchronous`` setting when a path is given.
        clock: where retention times come from (default: the system clock).
    """

    def __init__(
        self,
        store: SqliteStore | str | os.PathLike[str],
        *,
        synchronous: Synchronous | str = Synchronous.NORMAL,
        clock: Clock | None = None,
    ) -> None:
        self.store, self._owns_store = _open(store, synchronous)
        self._clock: Clock = clock or SystemClock()

    async def store_memory(self, flow_id: str, key: str, value: JsonValue) -> None:
        """Store ``value`` under ``key`` for ``flow_id`` (committed on return).

        Raises:
            StoreDataError: ``value`` is not JSON data.
        """
        await asyncio.to_thread(self.store.put_memory, flow_id, key, value)

    async def retrieve_memory(self, flow_id: str, key: str) -> JsonValue:
        """Return the value under ``key`` for ``flow_id`` (None if absent).

        Raises:
            StoreCorruptedError: the stored entry is damaged.
        """
        entry = await asyncio.to_thread(self.store.get_memory, flow_id, key)
        return None if entry is None else entry.value

    async def delete_memory(self, flow_id: str, key: str) -> None:
        """Forget ``key`` for ``flow_id``."""
        await asyncio.to_thread(self.store.delete_memory, flow_id, key)

    async def list_memory(self, flow_id: str) -> list[str]:
        """Return the keys stored for ``flow_id``, sorted."""
        return list(await asyncio.to_thread(self.store.list_memory, flow_id))

    async def release_memory(self, flow_id: str, *, retain_for: float = 0.0) -> int:
        """The flow ended: delete its memory now, or ``retain_for`` seconds from now (a
        later :meth:`purge_memory` removes it). Return how many entries went now."""
        at = self._clock.time()
        return await asyncio.to_thread(
            lambda: self.store.release_memory(flow_id, at=at, retain_for=retain_for)
        )

    async def purge_memory(self) -> int:
        """Delete the memory whose retention has ended; return how many entries."""
        return await asyncio.to_thread(self.store.purge_memory, self._clock.time())

    def close(self) -> None:
        """Close the store if this manager opened it."""
        if self._owns_store:
            self.store.close()
