"""Reading a store back: every row validated like network input.

Each row read is checked for its shape, each field's type, the checksums of JSON blobs,
the JSON itself, that a checkpoint's plan hashes to the hash it recorded, and that a
flow's listing row agrees with its latest checkpoint. A checkpoint stored as a patch is
rebuilt from the whole state it builds on and every patch after it, each row checked and
none missing. Nothing missing is ever replaced by a default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from actorflow._trusted import trusted
from actorflow.errors import CheckpointRejectedError, PlanMismatchError, StoreCorruptedError
from actorflow.stores._codec import decode, digest
from actorflow.stores._tables import (
    CHECKPOINT_COLUMNS,
    EXPIRY_COLUMNS,
    FLOW_COLUMNS,
    HUMAN_COLUMNS,
    MEMORY_COLUMNS,
    CheckpointRow,
    FlowRow,
    Tables,
)
from actorflow.stores.records import (
    Checkpoint,
    FlowSummary,
    HumanRequestEntry,
    JsonObject,
    MemoryEntry,
)

__all__ = [
    "TableReads",
    "apply_patch",
    "check_sum",
    "checkpoint_row",
    "expiry_flow",
    "flow_row",
    "read_checkpoint",
    "read_flows",
    "read_human_request",
    "read_human_requests",
    "read_memory",
    "read_memory_keys",
    "reject",
    "state_of",
]

_CHECKPOINT_FIX = (
    "Do not resume the flow from it: restore the store file from a backup, or delete the "
    "flow (FlowDelete) to run it again from the start."
)
_MEMORY_FIX = "Restore the store file from a backup, or delete the entry and store it again."
_HUMAN_FIX = "Restore the store file from a backup."


T = TypeVar("T")


class TableReads:
    """The reads every backend answers alike over its tables: a mixin placed before
    :class:`~actorflow.stores.protocol.Store`, for a backend that defines ``_read``."""

    keep_versions: int

    def _read(self, read: Callable[[Tables], T]) -> T:
        """Run ``read`` on the backend's tables (under its lock, counted as a read)."""
        raise NotImplementedError

    def load_checkpoint(self, flow_id: str, *, version: int | None = None) -> Checkpoint | None:
        """Return the latest checkpoint (or ``version``); see ``Store.load_checkpoint``."""
        keep = self.keep_versions
        return self._read(lambda t: read_checkpoint(t, flow_id, version, keep_versions=keep))

    def list_flows(self) -> tuple[FlowSummary, ...]:
        """Return every stored flow, by flow id."""
        return self._read(read_flows)

    def get_memory(self, flow_id: str, key: str) -> MemoryEntry | None:
        """Return a memory entry, or None."""
        return self._read(lambda t: read_memory(t, flow_id, key))

    def list_memory(self, flow_id: str) -> tuple[str, ...]:
        """Return the flow's memory keys, sorted."""
        return self._read(lambda t: read_memory_keys(t, flow_id))

    def get_human_request(self, request_id: str) -> HumanRequestEntry | None:
        """Return the stored human request ``request_id``, or None."""
        return self._read(lambda t: read_human_request(t, request_id))

    def list_human_requests(self, *, open_only: bool = True) -> tuple[HumanRequestEntry, ...]:
        """Return the stored human requests (only the open ones, or all), oldest first."""
        return self._read(lambda t: read_human_requests(t, open_only=open_only))


# -- reading ----------------------------------------------------------------------------


def read_checkpoint(
    tables: Tables, flow_id: str, version: int | None, *, keep_versions: int
) -> Checkpoint | None:
    """Return the validated latest checkpoint (or ``version``) of ``flow_id``, or None.

    A checkpoint stored as a patch is rebuilt from the whole state it builds on and every
    patch after it, each row validated (checksum, version in sequence, none missing).
    Versions older than the latest ``keep_versions`` are not kept (None), even while
    their rows remain because a kept checkpoint builds on them.

    Raises:
        CheckpointRejectedError: a row fails validation (``PlanMismatchError`` for the plan).
    """
    raw = tables.flow_row(flow_id)
    if raw is None:
        return None
    flow = flow_row(raw, flow_id, tables.where)
    wanted = flow.version if version is None else version
    if wanted > flow.version or wanted < 1 or wanted <= flow.version - keep_versions:
        return None
    raw_checkpoint = tables.checkpoint_row(flow_id, wanted)
    where = f"checkpoint {wanted} of flow {flow_id!r} in {tables.where}"
    if raw_checkpoint is None:
        if version is not None:
            return None  # an older version that was pruned
        reject(
            f"Flow {flow_id!r} in {tables.where} lists checkpoint {wanted} as its latest, but "
            "no such checkpoint is stored"
        )
    row = checkpoint_row(raw_checkpoint, flow_id, wanted, where)
    if version is None:
        _check_listing_agrees(flow, row, where)
    state = state_of(tables, row, where)
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
        row = flow_row(raw, flow_id, tables.where)
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


def read_human_request(tables: Tables, request_id: str) -> HumanRequestEntry | None:
    """Return the validated human request row, or None.

    Raises:
        StoreCorruptedError: the row fails validation.
    """
    raw = tables.human_row(request_id)
    return None if raw is None else human_entry(raw, tables.where, request_id)


def read_human_requests(tables: Tables, *, open_only: bool) -> tuple[HumanRequestEntry, ...]:
    """Return the validated human request rows (the open ones, or all), oldest first.

    Raises:
        StoreCorruptedError: a row fails validation.
    """
    return tuple(human_entry(raw, tables.where) for raw in tables.human_rows(open_only=open_only))


def human_entry(
    raw: tuple[object, ...], where_store: str, request_id: str | None = None
) -> HumanRequestEntry:
    """Validate a raw human request row.

    Raises:
        StoreCorruptedError: it fails validation.
    """
    rid = raw[0] if raw else request_id
    where = f"human request {rid!r} in {where_store}"
    error = StoreCorruptedError
    _shape(raw, HUMAN_COLUMNS, where, error, _HUMAN_FIX)
    rid, flow_id, step_id, status, deadline, asked_at, text, checksum = raw
    checks = (
        (isinstance(rid, str) and bool(rid) and (request_id is None or rid == request_id),
         "request_id"),
        (flow_id is None or isinstance(flow_id, str), "flow_id"),
        (step_id is None or isinstance(step_id, str), "step_id"),
        (isinstance(status, str) and bool(status), "status"),
        (_is_time(deadline), "deadline"),
        (_is_time(asked_at), "asked_at"),
        (_is_hash(checksum), "record_sha256"),
    )  # fmt: skip
    for ok, name in checks:
        _expect(ok, where, name, error)
    _check_sum(text, checksum, where, error, _HUMAN_FIX)
    record = decode(text, where=where, error=error, fix=_HUMAN_FIX)
    _expect(isinstance(record, dict), where, "record (not a JSON object)", error)
    return trusted(
        HumanRequestEntry,
        request_id=rid,
        status=status,
        deadline=float(deadline),  # type: ignore[arg-type] # checked to be a number
        asked_at=float(asked_at),  # type: ignore[arg-type] # checked to be a number
        record=record,
        flow_id=flow_id,
        step_id=step_id,
    )


# -- validation ------------------------------------------------------------------------


def reject(text: str, error: type[StoreCorruptedError] = CheckpointRejectedError) -> NoReturn:
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
        reject(f"The row of {where} has invalid {what}: it was changed outside actorflow", error)


def _is_int(value: object, minimum: int) -> bool:
    return type(value) is int and value >= minimum


def _is_time(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type] # int or float


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64


def flow_row(raw: tuple[object, ...], flow_id: str, where_store: str) -> FlowRow:
    where = f"the listing of flow {flow_id!r} in {where_store}"
    _shape(raw, FLOW_COLUMNS, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    fid, version, status, done, total, updated, plan_hash, write_id, snap, snap_size, size = raw
    checks = (
        (fid == flow_id and isinstance(fid, str), "flow_id"),
        (_is_int(version, 1), "version"),
        (_is_int(snap, 1) and type(version) is int and snap <= version, "snapshot"),  # type: ignore[operator] # both int
        (_is_int(snap_size, 0) and _is_int(size, 0), "snapshot_size or patch_size"),
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


def checkpoint_row(
    raw: tuple[object, ...], flow_id: str, version: int, where: str
) -> CheckpointRow:
    _shape(raw, CHECKPOINT_COLUMNS, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    fid, ver, snap, state, checksum, status, done, total, at, plan_hash, write_id = raw
    checks = (
        (fid == flow_id, "flow_id"),
        (ver == version and type(ver) is int, "version"),
        (_is_int(snap, 1) and type(ver) is int and snap <= ver, "snapshot"),  # type: ignore[operator] # both int
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
    listed = (flow.status, flow.steps_done, flow.steps_total, flow.updated_at, flow.plan_hash,
              flow.snapshot)  # fmt: skip
    stored = (row.status, row.steps_done, row.steps_total, row.at, row.plan_hash, row.snapshot)
    if listed != stored or flow.write_id != row.write_id:
        reject(
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


def check_sum(row: CheckpointRow, where: str) -> None:
    """Refuse checkpoint ``row`` if its state does not match its checksum.

    Raises:
        CheckpointRejectedError: it does not.
    """
    _check_sum(row.state, row.state_sha256, where, CheckpointRejectedError, _CHECKPOINT_FIX)


def state_of(tables: Tables, row: CheckpointRow, where: str) -> JsonObject:
    """The whole state of checkpoint ``row``: its own, or its snapshot's with the patches
    of every version up to it applied (each row validated; none may be missing)."""
    if row.snapshot == row.version:
        return _state(row, where)
    first, last = row.snapshot, row.version - 1
    raws = tables.checkpoint_rows(row.flow_id, first, last)
    if len(raws) != last - first + 1:
        reject(
            f"The state of {where} builds on checkpoint {first} and the patches after it, "
            f"but only {len(raws)} of the {last - first + 1} rows before it are stored"
        )
    state: JsonObject | None = None
    for offset, raw in enumerate(raws):
        version = first + offset
        at = _where_version(where, version)
        link = checkpoint_row(raw, row.flow_id, version, at)
        if link.snapshot != row.snapshot:
            reject(
                f"The row of {at} has invalid snapshot (not {row.snapshot}, as the rows "
                "after it): it was changed outside actorflow"
            )
        if state is None:
            state = _state(link, at)
        else:
            apply_patch(state, *_patch(link, at))
    assert state is not None  # at least the snapshot's row
    return apply_patch(state, *_patch(row, where))


def _where_version(where: str, version: int) -> str:
    """``where`` ("checkpoint 9 of flow 'f' in x.db") for another version of the flow."""
    return f"checkpoint {version} {where.split(' ', 2)[2]}"


def _state(row: CheckpointRow, where: str) -> JsonObject:
    _check_sum(row.state, row.state_sha256, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    state = decode(row.state, where=where, error=CheckpointRejectedError, fix=_CHECKPOINT_FIX)
    if not isinstance(state, dict):
        reject(f"The stored state of {where} is a JSON {type(state).__name__}, not an object")
    return state


def _patch(row: CheckpointRow, where: str) -> tuple[JsonObject, list[str]]:
    """The ``(changes, merge keys)`` of patch row ``row``, checked."""
    _check_sum(row.state, row.state_sha256, where, CheckpointRejectedError, _CHECKPOINT_FIX)
    patch = decode(row.state, where=where, error=CheckpointRejectedError, fix=_CHECKPOINT_FIX)
    if not (
        isinstance(patch, list)
        and len(patch) == 3  # [base, merge, changes]
        and patch[0] == row.version - 1
        and type(patch[0]) is int
        and isinstance(patch[1], list)
        and all(isinstance(key, str) for key in patch[1])
        and isinstance(patch[2], dict)
    ):
        reject(
            f"The stored patch of {where} is not [{row.version - 1}, merge keys, changes], "
            "a change to the checkpoint before it"
        )
    return patch[2], patch[1]  # type: ignore[return-value] # each checked above


def _plan(tables: Tables, flow_id: str, plan_hash: str, where: str) -> JsonObject:
    text = tables.plan_text(flow_id, plan_hash)
    if text is None:
        reject(
            f"{where[0].upper()}{where[1:]} records plan hash {plan_hash[:12]!r}..., but no "
            "stored plan of the flow has that hash",
            PlanMismatchError,
        )
    if not isinstance(text, str) or digest(text) != plan_hash:
        reject(
            f"The stored plan of {where} does not hash to the plan hash "
            f"{plan_hash[:12]!r}... the checkpoint recorded: the plan was changed outside "
            "actorflow",
            PlanMismatchError,
        )
    plan = decode(text, where=f"the plan of {where}", error=PlanMismatchError, fix=_CHECKPOINT_FIX)
    if not isinstance(plan, dict):
        reject(f"The stored plan of {where} is a JSON {type(plan).__name__}, not an object")
    return plan


def expiry_flow(raw: tuple[object, ...], where_store: str) -> str:
    where = f"a memory retention row in {where_store}"
    _shape(raw, EXPIRY_COLUMNS, where, StoreCorruptedError, _MEMORY_FIX)
    flow_id, expires_at = raw
    _expect(isinstance(flow_id, str) and _is_time(expires_at), where, "fields", StoreCorruptedError)
    return flow_id  # type: ignore[return-value] # checked to be a str above


def apply_patch(state: JsonObject, changes: JsonObject, merge: Sequence[str]) -> JsonObject:
    """Apply ``changes`` to ``state`` in place (a fresh object of the caller's) and return
    it: each key replaces the state's, but a key in ``merge`` whose old and new values are
    both objects has its entries replaced one by one."""
    for key, value in changes.items():
        old = state.get(key)
        if key in merge and isinstance(value, dict) and isinstance(old, dict):
            old.update(value)
        else:
            state[key] = value
    return state
