"""The unique values a transaction's pending writes hold, kept up to date as it writes.

The embedded store's check of a statement's unique values (``dbapi.unique_check``) counts
the documents holding each value as the transaction sees the collection: the stored ones it
did not write (looked up by the store's unique index) and the ones it wrote. This module keeps
the latter, per collection and unique constraint: which pending documents hold each value
(``PendingValues``). The record is brought up to date at each check from the ids the pending
batch says were written since (``PendingBatch.watched``: every write notes its ids there, and
so do a savepoint's rollback and a failed statement's, which restore the states they replaced),
so a check costs one dict lookup per value, not a copy of the pending writes into the
overlay table and a query of it.

Values are keyed as the check compares them (its ``key_of``: the commit's equality). A
document holding a value of a type other than JSON's scalars (left to the query's check) makes
the constraint's record ``usable`` no more while it holds it.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..pending import DocState, PendingBatch

UniqueKey = Callable[[tuple[Any, ...]], Hashable]

#: the types of the values a record keys (JSON's scalars, as statements write them)
SCALARS = frozenset({str, int, float, bool, decimal.Decimal})
_SKIPPED = frozenset({type(None), dict, list})  # (never conflict here: NULL, objects, arrays)
_ABSENT: Any = object()


@dataclass(slots=True)
class _Constraint:
    """One unique constraint's values held by pending documents."""

    fields: tuple[str, ...]
    #: doc id -> the key of the value it holds
    by_doc: dict[str, Hashable] = field(default_factory=dict)
    #: key -> the document holding it, or a tuple of the documents (two or more)
    by_key: dict[Hashable, str | tuple[str, ...]] = field(default_factory=dict)
    #: the keys two documents or more hold
    doubled: set[Hashable] = field(default_factory=set)
    #: the documents holding a value this record can't key
    odd: set[str] = field(default_factory=set)

    def holders(self, key: Hashable) -> tuple[str, ...]:
        held = self.by_key.get(key)
        if held is None:
            return ()
        return (held,) if type(held) is str else held  # type: ignore[return-value]

    def _drop(self, doc_id: str, key: Hashable) -> None:
        held = self.by_key[key]
        if type(held) is str:
            del self.by_key[key]
            return
        rest = tuple(h for h in held if h != doc_id)
        if len(rest) == 1:
            self.by_key[key] = rest[0]
            self.doubled.discard(key)
        else:
            self.by_key[key] = rest

    def _add(self, doc_id: str, key: Hashable) -> None:
        held = self.by_key.setdefault(key, doc_id)
        if held is not doc_id:  # (another document holds it: a key is dropped before)
            self.by_key[key] = (held, doc_id) if type(held) is str else (
                *held, doc_id)  # type: ignore[misc]
            self.doubled.add(key)

    def update(self, docs: dict[str, DocState], ids: Iterable[str], key_of: UniqueKey) -> None:
        """Each of ``ids`` holds the values of its state in ``docs`` now (none if absent or
        deleted)."""
        by_doc, odd, add = self.by_doc, self.odd, self._add
        single = self.fields[0] if len(self.fields) == 1 else None
        for doc_id in ids:
            old = by_doc.pop(doc_id, _ABSENT)
            if old is not _ABSENT:
                self._drop(doc_id, old)
            if odd:
                odd.discard(doc_id)
            state = docs.get(doc_id)
            if type(state) is not dict:  # (deleted, or no longer written: a rollback)
                continue
            if single is not None:
                value = state.get(single)
                kind = type(value)
                if kind is str:
                    key: Hashable = (value,)
                elif kind in _SKIPPED:
                    continue
                elif kind in SCALARS:
                    key = key_of((value,))
                else:
                    odd.add(doc_id)
                    continue
            else:
                values = tuple(state.get(f) for f in self.fields)
                kinds = set(map(type, values))
                if not kinds.isdisjoint(_SKIPPED):
                    continue
                if not kinds <= SCALARS:
                    odd.add(doc_id)
                    continue
                key = key_of(values)
            by_doc[doc_id] = key
            add(doc_id, key)


class PendingValues:
    """The unique values of one collection held by the transaction's pending documents, per
    constraint (``sets``, in order)."""

    __slots__ = ("constraints", "key_of", "sets")

    def __init__(self, sets: tuple[tuple[str, ...], ...], key_of: UniqueKey) -> None:
        self.sets, self.key_of = sets, key_of
        self.constraints = [_Constraint(fields) for fields in sets]

    def usable(self, n: int) -> bool:
        """Whether the record of the ``n``-th constraint holds every pending document's value
        (none holds a value of another type)."""
        return not self.constraints[n].odd

    def holders(self, n: int, key: Hashable) -> tuple[str, ...]:
        """The pending documents holding ``key`` on the ``n``-th constraint."""
        return self.constraints[n].holders(key)

    def doubled(self, n: int) -> set[Hashable]:
        """The keys two pending documents or more hold on the ``n``-th constraint."""
        return self.constraints[n].doubled

    def update(self, docs: dict[str, DocState], ids: Iterable[str]) -> None:
        for constraint in self.constraints:
            constraint.update(docs, ids, self.key_of)


def pending_values(pending: PendingBatch, collection: str,
                   sets: tuple[tuple[str, ...], ...], key_of: UniqueKey) -> PendingValues:
    """The record of ``collection``'s unique values held by pending documents, up to date:
    made from its pending documents the first time (and when its constraints changed), then
    kept (``PendingBatch.watched``)."""
    docs = pending.overlay.get(collection, {})
    entry = pending.watched.get(collection)
    if entry is not None:
        record, since = entry
        if record.sets == sets and record.key_of is key_of:
            if since:
                record.update(docs, since)
                since.clear()
            return record  # type: ignore[no-any-return]
    record = PendingValues(sets, key_of)
    record.update(docs, docs)
    pending.watched[collection] = (record, {})  # (the writes from now on are noted)
    return record
