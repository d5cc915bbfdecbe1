"""A state's JSON text in pieces, so a store writes a whole state without encoding it again.

A checkpoint stored as a patch costs its change; every so often the store writes the whole
state again (a snapshot, so a reader applies few patches). Building that text from the
stored rows means decoding the last whole state and the patches after it and encoding the
result, which costs far more than the patches did. So the store keeps, for the flows it
wrote lately, the latest state as *pieces*: the JSON text of each top-level member, and for
a member whose value is an object, of each of its entries. A patch replaces pieces (or, for
a merged key, entries), and a snapshot is the pieces joined: the very text
:func:`~actorflow.stores._codec.encode` gives for the whole state, at the cost of a join.

Pieces are plain strings made by the same encoder, so nothing a caller changes later can
change them. Before a whole state is written from pieces, the rows it replaces are read
and checked (each one there, well formed, matching its checksum, the latest one matching
the checksum the pieces were recorded with), but not decoded again: that is the cost
saved. :class:`StateTexts` keeps only what a committed transaction wrote: a write
stages its pieces, and they become the flow's latest only once the store's commit
succeeded; a refused transaction or a failed commit drops what it staged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from actorflow.stores._codec import encode_unchecked, key_json, not_json

__all__ = ["Member", "Members", "StateTexts", "members_of", "object_text", "patched"]


Member = str | dict[str, str]
"""One top-level member of a state: its text as it appears in the object's JSON
(``"key":value``), or for a member whose value is an object, that object's entries'
``"key":value`` texts by key."""
Members = Mapping[str, Member]
"""A JSON object's members by key, in order."""


def object_text(members: Members) -> str:
    """Return the JSON text of the object made of ``members`` (as ``encode`` writes it)."""
    return "{" + ",".join(_member_text(key, member) for key, member in members.items()) + "}"


def _member_text(key: str, member: Member) -> str:
    if isinstance(member, str):
        return member
    return f"{key_json(key)}:{{{','.join(member.values())}}}"


def members_of(value: Mapping[str, object], *, what: str) -> dict[str, Member] | None:
    """Encode each member of the object ``value`` (and each entry of a member that is an
    object) on its own; None if a key is not a str (the encoder would make it one, and
    such objects are left to it whole).

    The texts are not checked for lone surrogates: check the text they are joined into
    (:func:`~actorflow.stores._codec.storable`).

    Raises:
        StoreDataError: a value is not JSON data.
    """
    members: dict[str, Member] = {}
    try:
        for key, item in value.items():
            if type(key) is not str:
                return None
            if isinstance(item, dict):  # a message's frozen dicts too
                entries: dict[str, str] = {}
                for name, entry in item.items():
                    if type(name) is not str:
                        return None
                    entries[name] = f"{key_json(name)}:{encode_unchecked(entry)}"
                members[key] = entries
            else:
                members[key] = f"{key_json(key)}:{encode_unchecked(item)}"
    except (TypeError, ValueError, RecursionError) as exc:
        raise not_json(exc, what) from exc
    return members


def patched(base: Members, changes: Members, merge: Sequence[str]) -> dict[str, Member]:
    """Return ``base`` with the patch ``changes`` applied as ``apply_patch`` applies it to
    the decoded state: each member replaces the base's, but a key in ``merge`` whose old
    and new values are both objects has its entries replaced one by one."""
    result = dict(base)
    for key, member in changes.items():
        old = result.get(key)
        if key in merge and isinstance(member, dict) and isinstance(old, dict):
            result[key] = {**old, **member}
        else:
            result[key] = member
    return result


@dataclass(frozen=True, slots=True)
class _Latest:
    version: int
    checksum: str
    """The SHA-256 of the row of ``version`` (whole state or patch): the stored rows must
    still say so before the pieces are trusted."""
    members: Members
    size: int


_UNKNOWN: Final = None


class StateTexts:
    """The latest state of the flows a store wrote lately, in pieces (one store's writer
    only, under its lock).

    Writes stage pieces per transaction; :meth:`end_transaction` keeps or drops a
    transaction's, :meth:`end_commit` makes the kept ones the latest (after the store's
    commit succeeded) or drops them. At most ``limit`` characters of pieces are kept; the
    flows written longest ago go first.

    Args:
        limit: characters of state kept, over all flows.
    """

    def __init__(self, *, limit: int = 16_000_000) -> None:
        self.limit = limit
        self._latest: OrderedDict[str, _Latest] = OrderedDict()
        self._size = 0
        self._commit: dict[str, _Latest | None] = {}
        self._transaction: dict[str, _Latest | None] = {}

    def get(self, flow_id: str, version: int) -> tuple[Members, str] | None:
        """Return the pieces of ``flow_id`` at ``version`` and the checksum of that
        version's row, as staged or committed, or None if they are not known."""
        for layer in (self._transaction, self._commit):
            if flow_id in layer:
                staged = layer[flow_id]
                return _matching(staged, version)
        return _matching(self._latest.get(flow_id), version)

    def stage(
        self, flow_id: str, version: int, checksum: str, members: Members | None, size: int
    ) -> None:
        """Record what the current transaction wrote for ``flow_id`` (None: not known)."""
        self._transaction[flow_id] = (
            _UNKNOWN if members is None else _Latest(version, checksum, members, size)
        )

    def forget(self, flow_id: str) -> None:
        """The current transaction changed ``flow_id`` in a way pieces do not follow."""
        self._transaction[flow_id] = _UNKNOWN

    def end_transaction(self, *, kept: bool) -> None:
        """The current transaction is applied (``kept``) or rolled back."""
        if kept:
            self._commit.update(self._transaction)
        self._transaction.clear()

    def end_commit(self, *, committed: bool) -> None:
        """The store's commit succeeded (``committed``), or failed or was rolled back."""
        self._transaction.clear()
        staged, self._commit = self._commit, {}
        if not committed:
            # What a failed commit staged is dropped; if it may have been stored after all,
            # the versions no longer match and the pieces are not used.
            return
        for flow_id, latest in staged.items():
            old = self._latest.pop(flow_id, None)
            if old is not None:
                self._size -= old.size
            if latest is not None:
                self._latest[flow_id] = latest
                self._size += latest.size
        while self._size > self.limit and self._latest:
            _, dropped = self._latest.popitem(last=False)
            self._size -= dropped.size

    def clear(self) -> None:
        """Forget everything (the store was closed)."""
        self._latest.clear()
        self._commit.clear()
        self._transaction.clear()
        self._size = 0


def _matching(latest: _Latest | None, version: int) -> tuple[Members, str] | None:
    if latest is None or latest.version != version:
        return None
    return latest.members, latest.checksum
