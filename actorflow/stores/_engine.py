"""Store logic shared by every backend: preparing and applying writes.

Writes are prepared first (:func:`prepare`: JSON encoded, hashed, refused if not JSON
data) outside any transaction, then applied through a backend's :class:`Tables` inside
one: versions, idempotency, patches and snapshots, plans, pruning. A checkpoint that is a
patch is stored as its change; once the patches since the last whole state outweigh a
share of it, the state is stored whole again: joined from the pieces the store kept of the
flow's latest state (``_pieces``), or, if it kept none, read back and patched. Reading
back (and validating what is read) is in ``_reading``, re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from actorflow._trusted import trusted
from actorflow.errors import CheckpointConflictError, StoreDataError
from actorflow.stores._codec import canonical, digest, encode, storable
from actorflow.stores._pieces import Members, StateTexts, members_of, object_text, patched
from actorflow.stores._reading import (
    apply_patch,
    check_sum,
    checkpoint_row,
    expiry_flow,
    flow_row,
    read_checkpoint,
    read_flows,
    read_memory,
    read_memory_keys,
    reject,
    state_of,
)
from actorflow.stores._tables import CheckpointRow, FlowRow, HumanRow, MemoryRow, Tables
from actorflow.stores.records import (
    CheckpointWrite,
    FlowDelete,
    HumanRequestPut,
    JsonObject,
    MemoryDelete,
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

_WRITES = (
    CheckpointWrite, MemoryPut, MemoryDelete, MemoryRelease, MemoryPurge, FlowDelete,
    HumanRequestPut,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prepared:
    """A write with its JSON encoded and hashed, ready to apply."""

    write: StoreWrite
    text: str = ""
    """A checkpoint's row JSON: its whole state, or its patch (``[base, merge, changes]``)."""
    checksum: str = ""
    """The SHA-256 of ``text``."""
    plan_text: str | None = None
    plan_hash: str | None = None
    memory: tuple[MemoryRow, ...] = ()
    """A checkpoint's memory puts."""
    members: Members | None = None
    """A checkpoint's state (whole, or the patch's changes) in pieces (``_pieces``), or
    None if its keys are not all str."""


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
        # In pieces (the same text, joined), so the store can write the whole state later
        # without encoding it again.
        members = members_of(write.state, what=what)
        if members is None:
            text = encode(write.state, what=what)
        else:
            text = storable(object_text(members), what)
        if write.patch_of is not None:  # only the change is encoded and hashed
            text = f"[{write.patch_of},{encode(list(write.merge), what=what)},{text}]"
        return Prepared(
            write,
            text,
            digest(text),
            plan_text,
            None if plan_text is None else digest(plan_text),
            memory,
            members,
        )
    if isinstance(write, MemoryPut):
        row = _memory_row(write.flow_id, write.key, write.value)
        return Prepared(write, memory=(row,))
    if isinstance(write, HumanRequestPut):
        text = encode(write.record, what=f"The record of human request {write.request_id!r}")
        return Prepared(write, text, digest(text))
    if isinstance(write, _WRITES):
        return Prepared(write)
    raise StoreDataError(
        f"{type(write).__name__} is not a store write. Use CheckpointWrite, MemoryPut, "
        "MemoryDelete, MemoryRelease, MemoryPurge, FlowDelete or HumanRequestPut."
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
    if isinstance(write, HumanRequestPut):
        return _human_problem(write)
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
    if w.patch_of is None and w.merge:
        merge = list(w.merge)
        return f"of flow {w.flow_id!r} names keys to merge {merge!r} but is not a patch"
    if w.patch_of is not None and w.patch_of < 0:
        return f"of flow {w.flow_id!r} has patch_of={w.patch_of!r}, not a version"
    keys = [*w.memory_put, *w.memory_delete, *w.merge]
    return next((p for k in keys if (p := _text_problem(k, "memory key", _MAX_KEY))), "")


def _human_problem(w: HumanRequestPut) -> str:
    problem = _text_problem(w.request_id, "request_id", _MAX_ID) or _text_problem(
        w.status, "status", 64
    )
    if problem:
        return problem
    if not (math.isfinite(w.deadline) and math.isfinite(w.asked_at)):
        return f"of {w.request_id!r} has deadline={w.deadline!r}, asked_at={w.asked_at!r}"
    ids = [i for i in (w.flow_id, w.step_id) if i is not None]
    return next((p for i in ids if (p := _text_problem(i, "flow or step id", _MAX_ID))), "")


def _memory_row(flow_id: str, key: str, value: object) -> MemoryRow:
    text = encode(value, what=f"The memory value {key!r} of flow {flow_id!r}")
    return MemoryRow(flow_id, key, text, digest(text))


# -- writing ---------------------------------------------------------------------------


def apply_transaction(
    tables: Tables,
    prepared: tuple[Prepared, ...],
    *,
    keep_versions: int,
    texts: StateTexts | None = None,
) -> tuple[WriteReceipt, ...]:
    """Apply prepared writes through ``tables`` (inside the caller's transaction).

    Args:
        texts: the store's latest states in pieces: what the writes stored is staged there
            (the caller ends the transaction and the commit on it), and a snapshot that
            is due is built from them when they hold the flow's latest version.

    Raises:
        CheckpointConflictError: a checkpoint's expected version is not the stored one.
        CheckpointRejectedError: a flow's stored listing row fails validation.
    """
    return tuple(_apply(tables, p, keep_versions, texts) for p in prepared)


def _apply(  # noqa: PLR0911 - one return per kind of write
    tables: Tables, p: Prepared, keep_versions: int, texts: StateTexts | None
) -> WriteReceipt:
    w = p.write
    if isinstance(w, CheckpointWrite):
        return _apply_checkpoint(tables, p, w, keep_versions, texts)
    if isinstance(w, MemoryPut):
        tables.put_memory(p.memory[0])
        return WriteReceipt(op=w.op, flow_id=w.flow_id)
    if isinstance(w, MemoryDelete):
        removed = tables.delete_memory(w.flow_id, w.key)
        return WriteReceipt(op=w.op, flow_id=w.flow_id, removed=removed)
    if isinstance(w, MemoryRelease):
        return _apply_release(tables, w)
    if isinstance(w, HumanRequestPut):
        return _apply_human(tables, p, w)
    if isinstance(w, MemoryPurge):
        removed = 0
        for raw in tables.expired(w.now):
            flow_id = expiry_flow(raw, tables.where)
            removed += tables.delete_memory(flow_id, None)
            tables.set_expiry(flow_id, None)
        return WriteReceipt(op=w.op, removed=removed)
    if texts is not None:
        texts.forget(w.flow_id)
    removed = tables.delete_flow(w.flow_id)
    return WriteReceipt(op=w.op, flow_id=w.flow_id, removed=removed)


def _apply_checkpoint(
    tables: Tables, p: Prepared, w: CheckpointWrite, keep_versions: int, texts: StateTexts | None
) -> WriteReceipt:
    raw = tables.flow_row(w.flow_id)
    flow = None if raw is None else flow_row(raw, w.flow_id, tables.where)
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
    version = current + 1
    text, checksum, snapshot, members = _body(tables, p, w, flow, texts)
    if p.plan_text is not None and p.plan_hash is not None:
        plan_hash: str | None = p.plan_hash
        tables.put_plan(w.flow_id, p.plan_hash, p.plan_text)
    else:
        plan_hash = None if flow is None else flow.plan_hash
    row = CheckpointRow(
        w.flow_id, version, snapshot, text, checksum, w.status, w.steps_done,
        w.steps_total, w.at, plan_hash, w.write_id,
    )  # fmt: skip
    tables.put_checkpoint(row)
    if snapshot == version or flow is None:
        sizes = (len(text), 0)
    else:
        sizes = (flow.snapshot_size, flow.patch_size + len(text))
    listing = FlowRow(
        w.flow_id, version, w.status, w.steps_done, w.steps_total, w.at, plan_hash,
        w.write_id, snapshot, *sizes,
    )  # fmt: skip
    tables.put_flow(listing)
    if texts is not None:
        texts.stage(w.flow_id, version, checksum, members, sum(sizes))
    for entry in p.memory:
        tables.put_memory(entry)
    for key in w.memory_delete:
        tables.delete_memory(w.flow_id, key)
    # Keeping one version, a patch on the flow's snapshot leaves nothing to prune if this
    # store kept the flow's pieces: it wrote that snapshot itself, and pruned then.
    pruned = (
        keep_versions == 1
        and members is not None
        and flow is not None
        and snapshot == flow.snapshot
    )
    if version > keep_versions and not pruned:
        _prune(tables, w.flow_id, version - keep_versions + 1, row)
    return trusted(WriteReceipt, op=w.op, flow_id=w.flow_id, version=version, plan_hash=plan_hash)


def _body(
    tables: Tables, p: Prepared, w: CheckpointWrite, flow: FlowRow | None, texts: StateTexts | None
) -> tuple[str, str, int, Members | None]:
    """The new row's ``(state, state_sha256, snapshot)`` and the new state in pieces (None:
    not known): the prepared JSON, or for a patch that is due to become a snapshot, the
    whole state.

    Raises:
        CheckpointConflictError: a patch on another version than the stored one.
    """
    version = 1 if flow is None else flow.version + 1
    if w.patch_of is None:
        return p.text, p.checksum, version, p.members
    if flow is None or w.patch_of != flow.version:
        held = "no checkpoint" if flow is None else f"checkpoint {flow.version}"
        raise CheckpointConflictError(
            f"A change to checkpoint {w.patch_of} of flow {w.flow_id!r} came, but "
            f"{tables.where} holds {held}: another process wrote the flow, or a write "
            "was lost. Send the whole state."
        )
    base = None if texts is None or p.members is None else texts.get(w.flow_id, flow.version)
    members = None if base is None or p.members is None else patched(base[0], p.members, w.merge)
    if _patch_fits(flow, len(p.text), version):
        return p.text, p.checksum, flow.snapshot, members
    # The patches outweigh the state: store it whole (its cost amortised over them). From
    # its pieces if the rows it replaces are intact and still the ones they were made of;
    # else read back, checked, and patched.
    if base is not None and members is not None and _chain_checksum(tables, flow) == base[1]:
        text = object_text(members)
    else:
        what = f"The state of flow {w.flow_id!r}"
        state = _patched_latest(tables, flow, w)
        members = members_of(state, what=what)
        text = encode(state, what=what) if members is None else storable(object_text(members), what)
    return text, digest(text), version, members


def _chain_checksum(tables: Tables, flow: FlowRow) -> str:
    """The checksum of ``flow``'s latest row, once every row of its state (its snapshot and
    the patches after it) is checked to be stored, well formed, and to match its checksum
    (not decoded: the pieces the store kept are what they hold).

    Raises:
        CheckpointRejectedError: a row is missing, malformed or does not match its checksum.
    """
    raws = tables.checkpoint_rows(flow.flow_id, flow.snapshot, flow.version)
    count = flow.version - flow.snapshot + 1
    if len(raws) != count:
        reject(
            f"The state of checkpoint {flow.version} of flow {flow.flow_id!r} in "
            f"{tables.where} builds on checkpoint {flow.snapshot} and the patches after it, "
            f"but only {len(raws)} of those {count} rows are stored"
        )
    checksum = ""
    for version, raw in enumerate(raws, start=flow.snapshot):
        where = f"checkpoint {version} of flow {flow.flow_id!r} in {tables.where}"
        row = checkpoint_row(raw, flow.flow_id, version, where)
        if row.snapshot != flow.snapshot:
            reject(
                f"The row of {where} has invalid snapshot (not {flow.snapshot}, as its "
                "flow's listing says): it was changed outside actorflow"
            )
        check_sum(row, where)
        checksum = row.state_sha256
    return checksum


MAX_CHAIN = 256
"""Most patches a checkpoint builds on: a reader applies at most this many."""
PATCH_SHARE = 4
"""A new snapshot is due once the patches since the last one outweigh 1/PATCH_SHARE of
its size: writing whole states then costs a bounded multiple of the patches written
meanwhile (O(change) per checkpoint, amortised), and a reader decodes at most
(1 + 1/PATCH_SHARE) states' worth of JSON."""
MIN_PATCHES_SIZE = 1024
"""Characters of patches allowed since a snapshot however small it is (so a small state
is not stored whole at every change)."""


def _patch_fits(flow: FlowRow, size: int, version: int) -> bool:
    """Whether a patch of ``size`` characters may be stored as a patch (else whole)."""
    allowed = max(flow.snapshot_size // PATCH_SHARE, MIN_PATCHES_SIZE)
    return version - flow.snapshot <= MAX_CHAIN and flow.patch_size + size <= allowed


def _patched_latest(tables: Tables, flow: FlowRow, w: CheckpointWrite) -> JsonObject:
    """The state of ``flow``'s latest checkpoint (read and validated) with ``w`` applied."""
    where = f"checkpoint {flow.version} of flow {flow.flow_id!r} in {tables.where}"
    raw = tables.checkpoint_row(flow.flow_id, flow.version)
    if raw is None:
        reject(
            f"Flow {flow.flow_id!r} in {tables.where} lists checkpoint {flow.version} as its "
            "latest, but no such checkpoint is stored"
        )
    row = checkpoint_row(raw, flow.flow_id, flow.version, where)
    return apply_patch(state_of(tables, row, where), w.state, w.merge)


def _prune(tables: Tables, flow_id: str, oldest: int, latest: CheckpointRow) -> None:
    """Delete the checkpoints older than ``oldest`` that no kept checkpoint builds on."""
    if oldest == latest.version:
        below = latest.snapshot
    else:
        raw = tables.checkpoint_row(flow_id, oldest)
        if raw is None:
            return  # pruned before (the store kept fewer versions then)
        where = f"checkpoint {oldest} of flow {flow_id!r} in {tables.where}"
        below = checkpoint_row(raw, flow_id, oldest, where).snapshot
    tables.prune_checkpoints(flow_id, below)


def _apply_human(tables: Tables, p: Prepared, w: HumanRequestPut) -> WriteReceipt:
    row = HumanRow(
        w.request_id, w.flow_id, w.step_id, w.status, w.deadline, w.asked_at, p.text,
        p.checksum,
    )  # fmt: skip
    tables.put_human(row)
    return WriteReceipt(op=w.op, flow_id=w.flow_id or "")


def _apply_release(tables: Tables, w: MemoryRelease) -> WriteReceipt:
    if w.retain_for > 0:
        tables.set_expiry(w.flow_id, w.at + w.retain_for)
        return WriteReceipt(op=w.op, flow_id=w.flow_id)
    removed = tables.delete_memory(w.flow_id, None)
    tables.set_expiry(w.flow_id, None)
    return WriteReceipt(op=w.op, flow_id=w.flow_id, removed=removed)
