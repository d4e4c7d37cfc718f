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

Values are keyed as the commit's unique index compares them (``sqlite_unique_key``). A
document holding a value of a type other than JSON's scalars (left to the query's check) makes
the constraint's record ``usable`` no more while it holds it.
"""

from __future__ import annotations

import decimal
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from types import NoneType
from typing import Any

from ..pending import DocState, PendingBatch

#: SQLite's integers (a JSON number beyond them is read as a REAL)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: the types of the values a record keys (JSON's scalars, as statements write them)
SCALARS = frozenset({str, int, float, bool, decimal.Decimal})
_SKIPPED = frozenset({NoneType, dict, list})  # (never conflict here: NULL, objects, arrays)
_DICT = frozenset({dict})
_TEXT_OR_NULL = frozenset({str, NoneType})
_ABSENT: Any = object()


def sqlite_unique_key(values: tuple[Any, ...]) -> Hashable:
    """When the embedded store's unique index finds two values equal: SQLite compares the
    JSON values it reads, numbers by their value (``1``, ``1.0`` and ``true`` are one), texts
    exactly (case counts)."""
    if len(values) == 1 and type(values[0]) is str:  # (the common case, without a copy)
        return values
    return tuple(_sqlite_value(v) for v in values)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else float(value)
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value() and _INT64_MIN <= value <= _INT64_MAX:
            return int(value)
        return float(value)
    return value


@dataclass(slots=True)
class _Constraint:
    """One unique constraint's values held by pending documents, by their key: a value's
    ``sqlite_unique_key``, except that a text of a one-field constraint is its own key (no
    tuple made per document: ``key`` turns the one into the other)."""

    fields: tuple[str, ...]
    #: doc id -> the key of the value it holds
    by_doc: dict[str, Hashable] = field(default_factory=dict)
    #: key -> the document holding it, or a tuple of the documents (two or more)
    by_key: dict[Hashable, str | tuple[str, ...]] = field(default_factory=dict)
    #: the keys two documents or more hold
    doubled: set[Hashable] = field(default_factory=set)
    #: the documents holding a value this record can't key
    odd: set[str] = field(default_factory=set)

    def key(self, unique_key: Hashable) -> Hashable:
        """This record's key of a value's ``sqlite_unique_key``."""
        if len(self.fields) == 1 and type(unique_key[0]) is str:  # type: ignore[index]
            return unique_key[0]  # type: ignore[index]
        return unique_key

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
                *held, doc_id)
            self.doubled.add(key)

    def _add_texts(self, docs: dict[str, DocState], ids: list[str], name: str) -> bool:
        """``update`` where none of ``ids`` held a value, and each is a document holding a
        text (or NULL) in ``name`` no other holds (a bulk load's rows), in C loops; False,
        changing nothing, in any other case."""
        by_key = self.by_key
        if not self.by_doc.keys().isdisjoint(ids):
            return False
        states = list(map(docs.get, ids))
        if set(map(type, states)) != _DICT:
            return False
        held = [state.get(name) for state in states]  # type: ignore[union-attr]
        kinds = set(map(type, held))
        if kinds - _TEXT_OR_NULL:
            return False
        if NoneType in kinds:
            ids = [doc_id for doc_id, value in zip(ids, held, strict=True) if value is not None]
            held = [value for value in held if value is not None]
        if not by_key.keys().isdisjoint(held):
            return False
        count = len(by_key)
        by_key.update(zip(held, ids, strict=True))
        if len(by_key) != count + len(held):  # (a text two of them hold: taken back)
            for value in held:
                by_key.pop(value, None)  # (each was new to it)
            return False
        self.by_doc.update(zip(ids, held, strict=True))
        return True

    def update(self, docs: dict[str, DocState], ids: Iterable[str]) -> None:
        """Each of ``ids`` holds the values of its state in ``docs`` now (none if absent or
        deleted)."""
        by_doc, odd, add = self.by_doc, self.odd, self._add
        single = self.fields[0] if len(self.fields) == 1 else None
        if single is not None:
            ids = list(ids)
            if len(ids) > 1 and self._add_texts(docs, ids, single):
                return
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
                    key: Hashable = value
                elif kind in _SKIPPED:
                    continue
                elif kind in SCALARS:
                    key = (_sqlite_value(value),)
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
                key = sqlite_unique_key(values)
            by_doc[doc_id] = key
            add(doc_id, key)


class PendingValues:
    """The unique values of one collection held by the transaction's pending documents, per
    constraint (``sets``, in order), keyed as ``sqlite_unique_key`` keys them."""

    __slots__ = ("constraints", "sets")

    def __init__(self, sets: tuple[tuple[str, ...], ...]) -> None:
        self.sets = sets
        self.constraints = [_Constraint(fields) for fields in sets]

    def usable(self, n: int) -> bool:
        """Whether the record of the ``n``-th constraint holds every pending document's value
        (none holds a value of another type)."""
        return not self.constraints[n].odd

    def key(self, n: int, unique_key: Hashable) -> Hashable:
        """The key in the ``n``-th constraint's record of a value's ``sqlite_unique_key``."""
        return self.constraints[n].key(unique_key)

    def holders(self, n: int, key: Hashable) -> tuple[str, ...]:
        """The pending documents holding the value of ``key`` (the record's, see ``key``) on
        the ``n``-th constraint."""
        held = self.constraints[n].by_key.get(key)
        if held is None:
            return ()
        return (held,) if type(held) is str else held  # type: ignore[return-value]

    def doubled(self, n: int) -> bool:
        """Whether two pending documents hold one value on the ``n``-th constraint."""
        return bool(self.constraints[n].doubled)

    def held_twice(self, n: int, keys: Iterable[Hashable]) -> tuple[str, str] | None:
        """Two pending documents holding the value of one of ``keys`` (the record's) on the
        ``n``-th constraint (the first such value's), or None."""
        doubled = self.constraints[n].doubled
        if doubled:
            for key in keys:
                if key in doubled:
                    first, second = self.holders(n, key)[:2]
                    return first, second
        return None

    def update(self, docs: dict[str, DocState], ids: Iterable[str]) -> None:
        for constraint in self.constraints:
            constraint.update(docs, ids)


def pending_values(pending: PendingBatch, collection: str,
                   sets: tuple[tuple[str, ...], ...]) -> PendingValues:
    """The record of ``collection``'s unique values held by pending documents, up to date:
    made from its pending documents the first time (and when its constraints changed), then
    kept (``PendingBatch.watched``)."""
    docs = pending.overlay.get(collection, {})
    entry = pending.watched.get(collection)
    if entry is not None:
        record, since = entry
        if record.sets == sets:
            if since:
                record.update(docs, since)
                since.clear()
            return record
    record = PendingValues(sets)
    record.update(docs, docs)
    pending.watched[collection] = (record, {})  # (the writes from now on are noted)
    return record
