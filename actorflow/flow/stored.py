"""Reading flows back from the store: checkpoints checked like network input.

A stored checkpoint is the decider state a flow actor wrote (see
:mod:`actorflow.flow.persistence`) with its plan kept once by the store. Before a flow
resumes from one, everything in it is checked: the state's format number, its fields
(none missing, none unknown), each step record's shape, the plan (valid, and the plan
the state's steps belong to). Anything off is a
:class:`~actorflow.errors.CheckpointRejectedError` naming the flow and what is wrong:
a flow never resumes from partial state, and nothing missing is made up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, final

from pydantic import JsonValue, ValidationError

from actorflow.errors import CheckpointRejectedError, FlowError
from actorflow.flow.core import FlowCore, FlowSpec, Settings, StepRecord
from actorflow.flow.invariants import state_problem
from actorflow.flow.models import FlowConfig, FlowState, FlowStatus, PlanSpec, StepStatus
from actorflow.flow.persistence import STATE_FORMAT
from actorflow.ids import ActorPath
from actorflow.messages.base import Message
from actorflow.runtime.system import ActorSystem
from actorflow.stores import (
    STORE_PATH,
    Checkpoint,
    FlowSummary,
    MemoryStore,
    SqliteStore,
    Store,
    Synchronous,
)
from actorflow.stores.messages import (
    ListFlowsRequest,
    ListFlowsResponse,
    LoadCheckpointRequest,
    LoadCheckpointResponse,
    StoreRequestFailed,
)

__all__ = [
    "DEFAULT_STORE",
    "FlowClaim",
    "MEMORY",
    "STORE_ENV",
    "StoredFlow",
    "acquire_store",
    "claim_flow",
    "core_from_checkpoint",
    "default_store",
    "has_store",
    "list_stored_flows",
    "load_stored_flow",
    "release_store",
]

_STATE_KEYS: Final = frozenset(
    {"format", "spec", "status", "steps", "ready", "slots", "error", "started_at",
     "finished_at", "sweep_at", "ignored", "finished"}
)  # fmt: skip
_SPEC_KEYS: Final = frozenset({"order", "settings", "seed", "context", "inline"})
_RECORD_LENGTH: Final = len(StepRecord._fields)
_SETTINGS: Final = frozenset(f.name for f in fields(Settings))
_READ_TIMEOUT: Final = 30.0


@final
@dataclass(frozen=True, slots=True)
class StoredFlow:
    """A flow as the store keeps it: its decider state and the checkpoint's version."""

    core: FlowCore
    version: int
    """The checkpoint's version (the next write of the flow must follow it)."""
    at: float
    """When the stored state changed (epoch seconds)."""

    def flow_state(self) -> FlowState:
        """The seed's ``FlowState`` of the stored state."""
        from actorflow.flow.checkpoint import flow_state  # noqa: PLC0415 - avoids a cycle

        return flow_state(self.core, self.at)


def has_store(system: ActorSystem, store: ActorPath = STORE_PATH) -> bool:
    """Whether ``system`` hosts a store actor at ``store``."""
    return system.cell_at(store) is not None


async def load_stored_flow(
    system: ActorSystem, flow_id: str, *, store: ActorPath = STORE_PATH
) -> StoredFlow | None:
    """Return flow ``flow_id`` as stored, checked, or None if the store has no checkpoint.

    Raises:
        CheckpointRejectedError: the stored checkpoint cannot be trusted.
        StoreError: the store could not read it.
    """
    reply = await _ask(system, store, LoadCheckpointRequest(flow_id=flow_id))
    assert isinstance(reply, LoadCheckpointResponse)
    if reply.checkpoint is None:
        return None
    return StoredFlow(core_from_checkpoint(reply.checkpoint), reply.checkpoint.version,
                      reply.checkpoint.at)  # fmt: skip


async def list_stored_flows(
    system: ActorSystem, *, store: ActorPath = STORE_PATH
) -> tuple[FlowSummary, ...]:
    """Return every flow the store keeps (status, steps done / total, last change).

    Raises:
        StoreError: the store could not list them.
    """
    reply = await _ask(system, store, ListFlowsRequest())
    assert isinstance(reply, ListFlowsResponse)
    return reply.flows


async def _ask(system: ActorSystem, store: ActorPath, request: Message) -> Message:
    reply = await system.ask_async(store, request, timeout=_READ_TIMEOUT)
    if isinstance(reply, StoreRequestFailed):
        raise reply.to_error()
    return reply


def core_from_checkpoint(checkpoint: Checkpoint) -> FlowCore:
    """Rebuild the decider state a checkpoint holds, checking every part of it.

    Raises:
        CheckpointRejectedError: the state or its plan is not what a flow actor of this
            version writes.
    """
    flow_id = checkpoint.flow_id

    def reject(what: str) -> CheckpointRejectedError:
        return CheckpointRejectedError(
            f"The stored checkpoint {checkpoint.version} of flow {flow_id!r} cannot be "
            f"resumed: {what}. The store holds data this version did not write, or it was "
            "changed outside actorflow; restore the store from a backup or start the flow "
            "anew."
        )

    state = checkpoint.state
    if state.get("format") != STATE_FORMAT:
        raise reject(f"its state format is {state.get('format')!r}, not {STATE_FORMAT}")
    _exact_keys(state, _STATE_KEYS, "its state", reject)
    spec = state["spec"]
    if not isinstance(spec, dict):
        raise reject("its state has no flow spec")
    _exact_keys(spec, _SPEC_KEYS, "its flow spec", reject)
    if checkpoint.plan is None:
        raise reject("it has no plan")
    try:
        plan = PlanSpec.model_validate(checkpoint.plan)
    except ValidationError as exc:
        raise reject(f"its plan is not valid: {exc.errors()[0]['msg']}") from None
    if plan.id != flow_id:
        raise reject(f"its plan is the plan of flow {plan.id!r}")
    steps = state["steps"]
    if not isinstance(steps, dict) or set(steps) != {s.id for s in plan.steps}:
        raise reject("its step records are not the steps of its plan")
    for sid, record in steps.items():
        if not isinstance(record, list) or len(record) != _RECORD_LENGTH:
            raise reject(f"the record of step {sid!r} is not a step record")
    try:
        return _rebuild(state, spec, plan)
    except (KeyError, TypeError, ValueError) as exc:
        raise reject(
            f"a field does not hold what it should ({type(exc).__name__}: {exc})"
        ) from None


def _rebuild(state: Mapping[str, Any], spec: Mapping[str, Any], plan: PlanSpec) -> FlowCore:
    settings = spec["settings"]
    if not isinstance(settings, dict) or set(settings) != _SETTINGS:
        raise ValueError(f"the settings are not {sorted(_SETTINGS)}")
    try:  # within FlowConfig's limits, with their own types
        FlowConfig.model_validate(settings, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"setting {first['loc'][0]!r}: {first['msg']}") from None
    flow_spec = FlowSpec(
        plan,
        tuple(_strings(spec["order"])),
        Settings(**settings),
        seed=_integer(spec["seed"]),
        context=dict(spec["context"]),
        inline=_boolean(spec["inline"]),
    )
    if set(flow_spec.order) != set(flow_spec.steps):
        raise ValueError("the step order does not name the plan's steps")
    steps = {sid: _record(rec) for sid, rec in state["steps"].items()}
    core = FlowCore.create(
        flow_spec,
        FlowStatus(state["status"]),
        steps,
        ready=tuple(_strings(state["ready"])),
        slots=_integer(state["slots"]),
        error=_optional(state["error"], str),
        started_at=_optional(state["started_at"], float),
        finished_at=_optional(state["finished_at"], float),
        sweep_at=_optional(state["sweep_at"], float),
        ignored=_integer(state["ignored"]),
        finished=_boolean(state["finished"]),
    )
    problem = state_problem(core)
    if problem is not None:
        raise ValueError(problem)
    return core


def _record(data: list[Any]) -> StepRecord:
    (
        status,
        attempts,
        waiting,
        result,
        error,
        started,
        completed,
        live,
        deadline,
        retrying,
        offset,
    ) = data
    return StepRecord(
        StepStatus(status),
        _integer(attempts),
        _integer(waiting),
        result,
        _optional(error, str),
        _optional(started, float),
        _optional(completed, float),
        _integer(live),
        _optional(deadline, float),
        _boolean(retrying),
        _integer(offset),
    )


def _exact_keys(
    data: Mapping[str, JsonValue], keys: frozenset[str], what: str, reject: Any
) -> None:
    missing, unknown = keys - set(data), set(data) - keys
    if missing:
        raise reject(f"{what} lacks {sorted(missing)}")
    if unknown:
        raise reject(f"{what} has unknown fields {sorted(unknown)}")


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {value!r:.80}")
    return value


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r:.80}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r:.80}")
    return value


def _optional(value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__} or null, got {value!r:.80}")
    return value


# -- opening stores (shared within a process) -----------------------------------------------

DEFAULT_STORE: Final = Path(".actorflow/store.sqlite")
"""Where flows are kept unless told otherwise (``ACTORFLOW_STORE`` overrides it)."""
MEMORY: Final = "memory"
"""The store name that keeps flows in memory only (nothing survives the process)."""
STORE_ENV: Final = "ACTORFLOW_STORE"

_open_lock = threading.Lock()
_open: dict[Path, tuple[SqliteStore, int]] = {}


def default_store() -> str:
    """The store ``create_enhanced_flow()`` and ``actorflow`` use: ``$ACTORFLOW_STORE``,
    else ``.actorflow/store.sqlite``."""
    return os.environ.get(STORE_ENV) or str(DEFAULT_STORE)


def acquire_store(
    where: str | os.PathLike[str], synchronous: Synchronous | str = Synchronous.NORMAL
) -> Store:
    """Open the store ``where`` names: ``memory``, or a SQLite file (created with its
    folder if missing). Within one process, every opener of one file shares one store
    object (a file is open in one process at a time); give each back with
    :func:`release_store`.

    Raises:
        StoreLockedError: another process has the file open.
        StoreError, StoreSchemaError: it cannot be opened, or is not an actorflow store.
    """
    if str(where) == MEMORY:
        return MemoryStore()
    path = Path(where).absolute()
    with _open_lock:
        found = _open.get(path)
        if found is not None:
            _open[path] = (found[0], found[1] + 1)
            return found[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(path, synchronous=synchronous)
        _open[path] = (store, 1)
        return store


def release_store(store: Store) -> None:
    """Give back a store from :func:`acquire_store` (closed when its last user gives it
    back)."""
    if not isinstance(store, SqliteStore):
        store.close()
        return
    with _open_lock:
        found = _open.get(store.path)
        if found is None or found[0] is not store:
            store.close()
            return
        if found[1] > 1:
            _open[store.path] = (store, found[1] - 1)
            return
        del _open[store.path]
    store.close()


# -- one run of a flow at a time, among the facades of one process ---------------------------

_claims_lock = threading.Lock()
_claims: dict[int, set[str]] = {}


@final
class FlowClaim:
    """A flow id held by one run in this process (see :func:`claim_flow`)."""

    def __init__(self, key: int | None, flow_id: str) -> None:
        self.key = key
        self.flow_id = flow_id

    def release(self) -> None:
        """Let another run take the flow id (calling it twice is harmless)."""
        if self.key is None:
            return
        with _claims_lock:
            held = _claims.get(self.key)
            if held is not None:
                held.discard(self.flow_id)
                if not held:
                    del _claims[self.key]
        self.key = None


def claim_flow(store: Store | None, flow_id: str) -> FlowClaim:
    """Hold ``flow_id`` in ``store`` for one run: facades sharing a store object (two
    ``EnhancedFlow(store=path)`` on one file share it) never run one flow twice at once.

    Raises:
        FlowError: another run in this process holds the flow.
    """
    if store is None:
        return FlowClaim(None, flow_id)
    key = id(store)
    with _claims_lock:
        held = _claims.setdefault(key, set())
        if flow_id in held:
            raise FlowError(
                f"Flow {flow_id!r} is running in this process already (another EnhancedFlow "
                "on the same store); wait for it to end before running or resuming it."
            )
        held.add(flow_id)
    return FlowClaim(key, flow_id)
