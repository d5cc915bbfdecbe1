"""Store logic shared by every backend: applying writes and validating what is read.

Writes are prepared first (:func:`prepare`: JSON encoded, hashed, refused if not JSON
data) outside any transaction, then applied through a backend's :class:`Tables` inside
one. Every row read back is checked like network input: its shape, each field's type,
the checksums of JSON blobs, the JSON itself, that a checkpoint's plan hashes to the
hash it recorded, and that a flow's listing row agrees with its latest checkpoint.
Nothing missing is ever replaced by a default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NoReturn

from actorflow._trusted import trusted
from actorflow.errors import (
    CheckpointConflictError,
    CheckpointRejectedError,
    PlanMismatchError,
    StoreCorruptedError,
    StoreDataError,
)
from actorflow.stores._codec import canonical, decode, digest, encode
from actorflow.stores._tables import (
    CHECKPOINT_COLUMNS,
    EXPIRY_COLUMNS,
    FLOW_COLUMNS,
    MEMORY_COLUMNS,
    CheckpointRow,
    FlowRow,
    MemoryRow,
    Tables,
)
from actorflow.stores.records import (
    Checkpoint,
    CheckpointWrite,
    FlowDelete,
    FlowSummary,
    JsonObject,
    MemoryDelete,
    MemoryEntry,
    MemoryPurge,
    MemoryPut,
    MemoryRelease,
    StoreWrite,
    Transaction,
    WriteReceipt,
)

__all__ = [
    "Prepared",
    "apply_transaction",
    "prepare",
    "read_checkpoint",
    "read_flows",
    "read_memory",
    "read_memory_keys",
]

_CHECKPOINT_FIX = (
    "Do not resume the flow from it: restore the store file from a backup, or delete the "
    "flow (FlowDelete) to run it again from the start."
)
_MEMORY_FIX = "Restore the store file from a backup, or delete the entry and store it again."
_WRITES = (CheckpointWrite, MemoryPut, MemoryDelete, MemoryRelease, MemoryPurge, FlowDelete)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A write with its JSON encoded and hashed, ready to apply."""

    write: StoreWrite
    text: str = ""
    """The checkpoint state's or memory value's JSON."""
    plan_text: str | None = None
    plan_hash: str | None = None
    memory: tuple[MemoryRow, ...] = ()
    """A checkpoint's memory puts."""


def prepare(transaction: Transaction) -> tuple[Prepared, ...]:
    """Encode the JSON of every write of ``transaction``.

    Raises:
        StoreDataError: a write is not a store write, or holds data that is not JSON.
    """
    if not isinstance(transaction, tuple):
        raise StoreDataError(
            f"A transaction must be a tuple of store writes, got {type(transaction).__name__}."
        )
    return tuple(_prepare_one(w) for w in transaction)


def _prepare_one(write: object) -> Prepared:
    if isinstance(write, _WRITES):
        problem = _problem(write)
        if problem:
            raise StoreDataError(f"{type(write).__name__} {problem}. Fix the write and retry.")
    if isinstance(write, CheckpointWrite):
        what = f"The checkpoint state of flow {write.flow_id!r}"
        plan_text = None
        if write.plan is not None:
            plan_text = canonical(write.plan, what=f"The plan of flow {write.flow_id!r}")
        memory = tuple(_memory_row(write.flow_id, k, v) for k, v in write.memory_put.items())
        return Prepared(
            write,
            encode(write.state, what=what),
            plan_text,
            None if plan_text is None else digest(plan_text),
            memory,
        )
    if isinstance(write, MemoryPut):
        row = _memory_row(write.flow_id, write.key, write.value)
        return Prepared(write, memory=(row,))
    if isinstance(write, _WRITES):
        return Prepared(write)
    raise StoreDataError(
        f"{type(write).__name__} is not a store write. Use CheckpointWrite, MemoryPut, "
        "MemoryDelete, MemoryRelease, MemoryPurge or FlowDelete."
    )


_MAX_ID = 512
_MAX_KEY = 1024


def _text_problem(value: str, name: str, limit: int) -> str:
    if not value or len(value) > limit:
        return f"has {name} {value[:40]!r}, which must be 1 to {limit} characters"
    return ""


def _problem(write: StoreWrite) -> str:  # noqa: PLR0911 - one check per rule
    """Say what makes ``write`` invalid, or return ``""``."""
    if isinstance(write, MemoryPurge):
        return "" if math.isfinite(write.now) else f"has now={write.now!r}, not a finite time"
    problem = _text_problem(write.flow_id, "flow_id", _MAX_ID)
    if problem:
        return problem
    if isinstance(write, MemoryPut | MemoryDelete):
        return _text_problem(write.key, "key", _MAX_KEY)
    if isinstance(write, MemoryRelease):
        ok = math.isfinite(write.at) and math.isfinite(write.retain_for) and write.retain_for >= 0
        return "" if ok else f"has at={write.at!r}, retain_for={write.retain_for!r}: not valid"
    if not isinstance(write, CheckpointWrite):
        return ""
    w = write
    if not 0 <= w.steps_done <= w.steps_total:
        return f"of flow {w.flow_id!r} has steps_done={w.steps_done}, steps_total={w.steps_total}"
    if not w.status or len(w.status) > 64:
        return f"of flow {w.flow_id!r} has status {w.status[:40]!r} (1 to 64 characters)"
    if not math.isfinite(w.at) or (w.expected_version is not None and w.expected_version < 0):
        return f"of flow {w.flow_id!r} has at={w.at!r}, expected_version={w.expected_version!r}"
    if len(w.write_id) > 256:
        return f"of flow {w.flow_id!r} has a write_id longer than 256 characters"
    keys = [*w.memory_put, *w.memory_delete]
    return next((p for k in keys if (p := _text_problem(k, "memory key", _MAX_KEY))), "")


def _memory_row(flow_id: str, key: str, value: object) -> MemoryRow:
    text = encode(value, what=f"The memory value {key!r} of flow {flow_id!r}")
    return MemoryRow(flow_id, key, text, digest(text))


# -- writing ---------------------------------------------------------------------------


def apply_transaction(
    tables: Tables, prepared: tuple[Prepared, ...], *, keep_versions: int
) -> tuple[WriteReceipt, ...]:
    """Apply prepared writes through ``tables`` (inside the caller's transaction).

    Raises:
        CheckpointConflictError: a checkpoint's expected version is not the stored one.
        CheckpointRejectedError: a flow's stored listing row fails validation.
    """
    return tuple(_apply(tables, p, keep_versions) for p in prepared)


def _apply(tables: Tables, p: Prepared, keep_versions: int) -> WriteReceipt:
    w = p.write
    if isinstance(w, CheckpointWrite):
        return _apply_checkpoint(tables, p, w, keep_versions)
    if isinstance(w, MemoryPut):
        tables.put_memory(p.memory[0])
        return WriteReceipt(op=w.op, flow_id=w.flow_id)
    if isinstance(w, MemoryDelete):
        removed = tables.delete_memory(w.flow_id, w.key)
        return WriteReceipt(op=w.op, flow_id=w.flow_id, removed=removed)
    if isinstance(w, MemoryRelease):
        return _apply_release(tables, w)
    if isinstance(w, MemoryPurge):
        removed = 0
        for raw in tables.expired(w.now):
            flow_id = _expiry_flow(raw, tables.where)
            removed += tables.delete_memory(flow_id, None)
            tables.set_expiry(flow_id, None)
        return WriteReceipt(op=w.op, removed=removed)
    removed = tables.delete_flow(w.flow_id)
    return WriteReceipt(op=w.op, flow_id=w.flow_id, removed=removed)


def _apply_checkpoint(
    tables: Tables, p: Prepared, w: CheckpointWrite, keep_versions: int
) -> WriteReceipt:
    raw = tables.flow_row(w.flow_id)
    flow = None if raw is None else _flow_row(raw, w.flow_id, tables.where)
    current = 0 if flow is None else flow.version
    if flow is not None and w.write_id and flow.write_id == w.write_id:
        return WriteReceipt(
            op=w.op, flow_id=w.flow_id, version=current, plan_hash=flow.plan_hash, duplicate=True
        )
    if w.expected_version is not None and w.expected_version != current:
        raise CheckpointConflictError(
            f"Checkpoint of flow {w.flow_id!r} expected version {w.expected_version} in "
            f"{tables.where}, but version {current} is stored: another writer saved the flow "
            "meanwhile. Reload its latest checkpoint and go on from there; never overwrite "
            "it blindly."
        )
    if p.plan_text is not None and p.plan_hash is not None:
        plan_hash: str | None = p.plan_hash
        tables.put_plan(w.flow_id, p.plan_hash, p.plan_text)
    else:
        plan_hash = None if flow is None else flow.plan_hash
    version = current + 1
    row = CheckpointRow(
        w.flow_id, version, p.text, digest(p.text), w.status, w.steps_done,
        w.steps_total, w.at, plan_hash, w.write_id,
    )  # fmt: skip
    tables.put_checkpoint(row)
    tables.put_flow(
        FlowRow(
            w.flow_id, version, w.status, w.steps_done, w.steps_total, w.at, plan_hash, w.write_id
        )
    )
    for entry in p.memory:
        tables.put_memory(entry)
    for key in w.memory_delete:
        tables.delete_memory(w.flow_id, key)
    if version > keep_versions:
        tables.prune_checkpoints(w.flow_id, version - keep_versions + 1)
    return WriteReceipt(op=w.op, flow_id=w.flow_id, version=version, plan_hash=plan_hash)


def _apply_release(tables: Tables, w: MemoryRelease) -> WriteReceipt:
    if w.retain_for > 0:
        tables.set_expiry(w.flow_id, w.at + w.retain_for)
        return WriteReceipt(op=w.op, flow_id=w.flow_id)
    removed = tables.delete_memory(w.flow_id, None)
    tables.set_expiry(w.flow_id, None)
    return WriteReceipt(op=w.op, flow_id=w.flow_id, removed=removed)


# -- reading ---------------------------------------------------------------------------


def read_checkpoint(tables: Tables, flow_id: str, version: int | None) -> Checkpoint | None:
    """Return the validated latest checkpoint (or ``version``) of ``flow_id``, or None.

    Raises:
        CheckpointRejectedError: a row fails validation (``PlanMismatchError`` for the plan).
    """
    raw = tables.flow_row(flow_id)
    if raw is None:
        return None
    flow = _flow_row(raw, flow_id, tables.where)
    wanted = flow.version if version is None else version
    if wanted > flow.version or wanted < 1:
        return None
    raw_checkpoint = tables.checkpoint_row(flow_id, wanted)
    where = f"checkpoint {wanted} of flow {flow_id!r} in {tables.where}"
    if raw_checkpoint is None:
        if version is not None:
            return None  # an older version that was pruned
        _reject(
            f"Flow {flow_id!r} in {tables.where} lists checkpoint {wanted} as its latest, but "
            "no such checkpoint is stored"
        )
    row = _checkpoint_row(raw_checkpoint, flow_id, wanted, where)
    if version is None:
        _check_listing_agrees(flow, row, where)
    state = _state(row, where)
    plan = None if row.plan_hash is None else _plan(tables, flow_id, row.plan_hash, where)
    return trusted(
        Checkpoint,
        flow_id=flow_id,
        version=wanted,
        state=state,
        status=row.status,
        steps_done=row.steps_done,
        steps_total=row.steps_total,
        at=row.at,
        plan_hash=row.plan_hash,
        plan=plan,
        write_id=row.write_id,
    )


def read_flows(tables: Tables) -> tuple[FlowSummary, ...]:
    """Return every flow's validated listing.

    Raises:
        CheckpointRejectedError: a listing row fails validation.
    """
    out = []
    for raw in tables.flow_rows():
        flow_id = raw[0] if raw and isinstance(raw[0], str) else "?"
        row = _flow_row(raw, flow_id, tables.where)
        out.append(
            trusted(
                FlowSummary,
                flow_id=row.flow_id,
                status=row.status,
                steps_done=row.steps_done,
                steps_total=row.steps_total,
                updated_at=row.updated_at,
                version=row.version,
            )
        )
    return tuple(out)


def read_memory(tables: Tables, flow_id: str, key: str) -> MemoryEntry | None:
    """Return the validated memory entry, or None.

    Raises:
        StoreCorruptedError: the row fails validation.
    """
    raw = tables.memory_row(flow_id, key)
    if raw is None:
        return None
    where = f"the memory entry {key!r} of flow {flow_id!r} in {tables.where}"
    _shape(raw, MEMORY_COLUMNS, where, StoreCorruptedError, _MEMORY_FIX)
    _expect(raw[0] == flow_id and raw[1] == key, where, "its key columns", StoreCorruptedError)
    text, checksum = raw[2], raw[3]
    _check_sum(text, checksum, where, StoreCorruptedError, _MEMORY_FIX)
    value = decode(text, where=where, error=StoreCorruptedError, fix=_MEMORY_FIX)
    return trusted(MemoryEntry, flow_id=flow_id, key=key, value=value)


def read_memory_keys(tables: Tables, flow_id: str) -> tuple[str, ...]:
    """Return the flow's memory keys (each checked to be text)."""
    keys = tables.memory_keys(flow_id)
    for key in keys:
        if not isinstance(key, str) or not key:
            raise StoreCorruptedError(
                f"A memory key of flow {flow_id!r} in {tables.where} is {key!r}, not a "
                f"non-empty text. {_MEMORY_FIX}"
            )
    return tuple(keys)  # type: ignore[arg-type] # each checked to be a str above


# -- validation ------------------------------------------------------------------------


def _reject(text: str, error: type[StoreCorruptedError] = CheckpointRejectedError) -> NoReturn:
    fix = _MEMORY_FIX if error is StoreCorruptedError else _CHECKPOINT_FIX
    raise error(f"{text}. {fix}")


def _shape(
    raw: tuple[object, ...],
    columns: tuple[str, ...],
    where: str,
    error: type[StoreCorruptedError],
    fix: str,
) -> None:
    if len(raw) != len(columns):
        raise error(
            f"The row of {where} has {len(raw)} fields, expected {len(columns)} "
            f"({', '.join(columns)}). {fix}"
        )


def _expect(ok: bool, where: str, what: str, error: type[StoreCorruptedError]) -> None:
    if not ok:
        _reject(f"The row of {where} has invalid {what}: it was changed outside actorflow", error)


def _is_int(value: object, minimum: int) -> bool:
    return type(value) is int and value >= minimum


def _is_time(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type] # int or float


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64


def _flow_row(raw: tuple[object, ...], flow_id: str, where_store: str) -> FlowRow:
    where = f"the listing of flow {flow_id!r} in {where_store}"
    _shape(raw, FLOW_COLUMNS, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    fid, version, status, done, total, updated, plan_hash, write_id = raw
    checks = (
        (fid == flow_id and isinstance(fid, str), "flow_id"),
        (_is_int(version, 1), "version"),
        (isinstance(status, str) and bool(status), "status"),
        (_is_int(done, 0), "steps_done"),
        (_is_int(total, 0) and type(done) is int and done <= total, "steps_total"),  # type: ignore[operator] # both int
        (_is_time(updated), "updated_at"),
        (plan_hash is None or _is_hash(plan_hash), "plan_hash"),
        (isinstance(write_id, str), "write_id"),
    )
    for ok, name in checks:
        _expect(ok, where, name, CheckpointRejectedError)
    return FlowRow(*raw)  # type: ignore[arg-type] # every field checked above


def _checkpoint_row(
    raw: tuple[object, ...], flow_id: str, version: int, where: str
) -> CheckpointRow:
    _shape(raw, CHECKPOINT_COLUMNS, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    fid, ver, state, checksum, status, done, total, at, plan_hash, write_id = raw
    checks = (
        (fid == flow_id, "flow_id"),
        (ver == version and type(ver) is int, "version"),
        (isinstance(state, str), "state"),
        (_is_hash(checksum), "state_sha256"),
        (isinstance(status, str) and bool(status), "status"),
        (_is_int(done, 0), "steps_done"),
        (_is_int(total, 0) and type(done) is int and done <= total, "steps_total"),  # type: ignore[operator] # both int
        (_is_time(at), "at"),
        (plan_hash is None or _is_hash(plan_hash), "plan_hash"),
        (isinstance(write_id, str), "write_id"),
    )
    for ok, name in checks:
        _expect(ok, where, name, CheckpointRejectedError)
    return CheckpointRow(*raw)  # type: ignore[arg-type] # every field checked above


def _check_listing_agrees(flow: FlowRow, row: CheckpointRow, where: str) -> None:
    listed = (flow.status, flow.steps_done, flow.steps_total, flow.updated_at, flow.plan_hash)
    stored = (row.status, row.steps_done, row.steps_total, row.at, row.plan_hash)
    if listed != stored or flow.write_id != row.write_id:
        _reject(
            f"The listing of flow {flow.flow_id!r} does not match {where} "
            f"(listed {listed!r}, stored {stored!r}): one of them was changed outside actorflow"
        )


def _check_sum(
    text: object, checksum: object, where: str, error: type[StoreCorruptedError], fix: str
) -> None:
    if not isinstance(text, str):
        return  # decode() names the type
    if digest(text) != checksum:
        raise error(
            f"The stored JSON of {where} does not match its checksum: it is truncated, "
            f"damaged or was changed outside actorflow. {fix}"
        )


def _state(row: CheckpointRow, where: str) -> JsonObject:
    _check_sum(row.state, row.state_sha256, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    state = decode(row.state, where=where, error=CheckpointRejectedError, fix=_CHECKPOINT_FIX)
    if not isinstance(state, dict):
        _reject(f"The stored state of {where} is a JSON {type(state).__name__}, not an object")
    return state


def _plan(tables: Tables, flow_id: str, plan_hash: str, where: str) -> JsonObject:
    text = tables.plan_text(flow_id, plan_hash)
    if text is None:
        _reject(
            f"{where[0].upper()}{where[1:]} records plan hash {plan_hash[:12]!r}..., but no "
            "stored plan of the flow has that hash",
            PlanMismatchError,
        )
    if not isinstance(text, str) or digest(text) != plan_hash:
        _reject(
            f"The stored plan of {where} does not hash to the plan hash "
            f"{plan_hash[:12]!r}... the checkpoint recorded: the plan was changed outside "
            "actorflow",
            PlanMismatchError,
        )
    plan = decode(text, where=f"the plan of {where}", error=PlanMismatchError, fix=_CHECKPOINT_FIX)
    if not isinstance(plan, dict):
        _reject(f"The stored plan of {where} is a JSON {type(plan).__name__}, not an object")
    return plan


def _expiry_flow(raw: tuple[object, ...], where_store: str) -> str:
    where = f"a memory retention row in {where_store}"
    _shape(raw, EXPIRY_COLUMNS, where, StoreCorruptedError, _MEMORY_FIX)
    flow_id, expires_at = raw
    _expect(isinstance(flow_id, str) and _is_time(expires_at), where, "fields", StoreCorruptedError)
    return flow_id  # type: ignore[return-value] # checked to be a str above
