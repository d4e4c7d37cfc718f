"""The rows an upsert's proposed rows conflict with: per row, and for many rows at once.

A row's conflicts are the document its primary key names and, per unique constraint, a
document holding its values, as the transaction sees the collection. Rows of one statement
(VALUES rows, executemany sets) are looked up together first, one load of their ids and one
query per unique constraint; a row then uses what was found unless a row before it in the
statement wrote a document with its id or with values that may equal its own, or the query's
answer can't be matched to it exactly: then it is looked up alone, after the rows before it
are written (so it sees them, as SQL's rows do).
"""

from __future__ import annotations

import decimal
import functools
from typing import Any

from ..backends.base import BackendConnection
from ..pending import PendingBatch, is_gone
from ..schema import CollectionSpec
from ..statements import ast
from .executor import Match

#: parameter names of the unique values looked up (a ``:name`` parameter holds no colon)
UNIQUE = "unique:"
#: values matched per query of many rows at once
_CHUNK = 500


class _Unknown:
    """A row the query of many rows can't answer exactly: looked up alone."""


_UNKNOWN = _Unknown()


@functools.lru_cache(maxsize=256)  # (one tree per constraint: its query plan is kept)
def lookup_where(fields: tuple[str, ...]) -> ast.Expr:
    """``f1 = :unique:f1 AND ...``: the rows holding one row's values of a constraint."""
    return all_of([ast.Binary("=", ast.Column(None, f), ast.Param(UNIQUE + f)) for f in fields])


def all_of(terms: list[ast.Expr]) -> ast.Expr:
    where = terms[0]
    for term in terms[1:]:
        where = ast.Binary("and", where, term)
    return where


def conflicts_of(backend: BackendConnection, spec: CollectionSpec,
                 constraints: tuple[tuple[str, ...], ...], has_key: bool,
                 body: dict[str, Any], pending: PendingBatch) -> list[Match | None]:
    """Per constraint, the document the row ``body`` conflicts with on it, or None (a NULL
    in the values never conflicts)."""
    out: list[Match | None] = []
    for n, fields in enumerate(constraints):
        key = tuple(body.get(f) for f in fields)
        if None in key:
            out.append(None)
        elif n == 0 and has_key:
            out.append(_by_key(backend, spec, key, pending))
        else:
            found = backend.rows_for_write(spec.name, None, lookup_where(fields), (), {
                UNIQUE + f: v for f, v in zip(fields, key, strict=True)}, pending)
            out.append(Match(found[0][0], found[0][1], found[0][2]) if found else None)
    return out


def _by_key(backend: BackendConnection, spec: CollectionSpec, key: tuple[Any, ...],
            pending: PendingBatch) -> Match | None:
    doc_id = spec.document_id(key)
    found = _loaded(backend, spec, [doc_id], pending).get(doc_id)
    return found


def _loaded(backend: BackendConnection, spec: CollectionSpec, ids: list[str],
            pending: PendingBatch) -> dict[str, Match]:
    """The documents of ``ids`` the transaction sees (a pending delete hides one)."""
    written = pending.overlay.get(spec.name, {})
    wanted = [i for i in ids if not ((state := written.get(i)) is not None and is_gone(state))]
    found = backend.get_documents(spec.name, wanted, pending) if wanted else {}
    return {doc_id: Match(doc[0], doc[1], doc[2]) for doc_id, doc in found.items()
            if doc is not None and doc[1] is not None}


def loose(value: Any) -> Any:
    """A value's key under an equality looser than SQL's (every two values SQL may find
    equal, by affinity too, have one key): numbers and numeric texts by their number."""
    if isinstance(value, bool):
        return decimal.Decimal(int(value))
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, (int, decimal.Decimal)):
        return decimal.Decimal(value)
    if isinstance(value, str):
        try:
            number = decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            return value
        return number if number.is_finite() else value  # ('NaN' is no number to SQL)
    return repr(value)


class Lookup:
    """The conflicts of the rows of one statement, found together where that is exact."""

    def __init__(self, backend: BackendConnection, spec: CollectionSpec,
                 constraints: tuple[tuple[str, ...], ...], has_key: bool,
                 pending: PendingBatch, bodies: list[dict[str, Any]] | None) -> None:
        self.backend, self.spec, self.pending = backend, spec, pending
        self.constraints, self.has_key = constraints, has_key
        self.touched_ids: set[str] = set()
        self.touched: list[set[tuple[Any, ...]]] = [set() for _ in constraints]
        self.known = self._prefetched(bodies) if bodies is not None and len(bodies) > 1 else None

    def conflicts(self, index: int, body: dict[str, Any]) -> list[Match | None] | None:
        """The conflicts of the ``index``-th row found with the others, or None if it must
        be looked up alone (``conflicts_of``)."""
        if self.known is None:
            return None
        known = self.known[index]
        if any(c is _UNKNOWN for c in known) or self._touched(body):
            return None
        return known  # (no _UNKNOWN in it)

    def wrote(self, doc_id: str | None, *bodies: dict[str, Any] | None) -> None:
        """A row of the statement wrote ``doc_id`` (its ``bodies`` before and after)."""
        if doc_id is not None:
            self.touched_ids.add(doc_id)
        for body in bodies:
            if body is None:
                continue
            if self.has_key and (key_id := self._id(body)) is not None:
                self.touched_ids.add(key_id)
            for n, fields in enumerate(self.constraints):
                self.touched[n].add(tuple(loose(body.get(f)) for f in fields))

    def _touched(self, body: dict[str, Any]) -> bool:
        if self.has_key and self._id(body) in self.touched_ids:
            return True
        return any(tuple(loose(body.get(f)) for f in fields) in self.touched[n]
                   for n, fields in enumerate(self.constraints))

    def _id(self, body: dict[str, Any]) -> str | None:
        key = tuple(body.get(f) for f in self.constraints[0])
        return None if None in key else self.spec.document_id(key)

    def _prefetched(self, bodies: list[dict[str, Any]]) -> list[list[Any]]:
        """Per row, per constraint: the conflicting document, None, or _UNKNOWN."""
        known: list[list[Any]] = [[] for _ in bodies]
        for n, fields in enumerate(self.constraints):
            if n == 0 and self.has_key:
                ids = [self._id(body) for body in bodies]
                docs = _loaded(self.backend, self.spec, sorted({i for i in ids if i}),
                               self.pending)
                for row, doc_id in zip(known, ids, strict=True):
                    row.append(docs.get(doc_id) if doc_id is not None else None)
                continue
            values = [tuple(body.get(f) for f in fields) for body in bodies]
            try:
                distinct = [v for v in dict.fromkeys(values) if None not in v]
            except TypeError:  # (an object or array value: each row looked up alone)
                for row in known:
                    row.append(_UNKNOWN)
                continue
            found = self._holders(fields, distinct)
            for row, value in zip(known, values, strict=True):
                row.append(None if None in value else _match(found, value))
        return known

    def _holders(self, fields: tuple[str, ...], values: list[tuple[Any, ...]]
                 ) -> dict[Any, list[tuple[tuple[Any, ...], Match]]]:
        return holders(self.backend, self.spec, fields, values, self.pending)


def holders(backend: BackendConnection, spec: CollectionSpec, fields: tuple[str, ...],
            values: list[tuple[Any, ...]], pending: PendingBatch
            ) -> dict[Any, list[tuple[tuple[Any, ...], Match]]]:
    """The documents holding any of ``values`` of a constraint, as the transaction sees the
    collection, by their loose key (one query per ``_CHUNK`` values)."""
    out: dict[Any, list[tuple[tuple[Any, ...], Match]]] = {}
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        params: dict[str, Any] = {}
        terms: list[ast.Expr] = []
        for i, value in enumerate(chunk):
            names = [f"{UNIQUE}{i}:{f}" for f in fields]
            params.update(zip(names, value, strict=True))
            terms.append(all_of([ast.Binary("=", ast.Column(None, f), ast.Param(p))
                               for f, p in zip(fields, names, strict=True)]))
        where = ast.InList(ast.Column(None, fields[0]), tuple(
            ast.Param(f"{UNIQUE}{i}:{fields[0]}") for i in range(len(chunk)))) if len(
            fields) == 1 else any_of(terms)
        for row in backend.rows_for_write(spec.name, None, where, (), params, pending):
            held = tuple(row[1].get(f) for f in fields)
            out.setdefault(tuple(map(loose, held)), []).append(
                (held, Match(row[0], row[1], row[2])))
    return out


def any_of(terms: list[ast.Expr]) -> ast.Expr:
    """``t1 OR t2 OR ...`` as a balanced tree (its depth grows as the log of its terms)."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return ast.Binary("or", any_of(terms[:half]), any_of(terms[half:]))


def _match(found: dict[Any, list[tuple[tuple[Any, ...], Match]]],
           value: tuple[Any, ...]) -> Any:
    """The document holding ``value`` among ``found``: None if none may hold it, _UNKNOWN if
    one may but does not hold it exactly (SQL's equality by affinity: looked up alone)."""
    candidates = found.get(tuple(map(loose, value)))
    if not candidates:
        return None
    for held, match in candidates:
        if all(type(a) is type(b) and a == b for a, b in zip(held, value, strict=True)):
            return match
    return _UNKNOWN
