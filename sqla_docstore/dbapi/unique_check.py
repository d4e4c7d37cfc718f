"""Unique constraints checked at the end of each write statement, as SQL checks them.

The commit still reserves every unique value (the embedded store's SQLite unique indexes;
on RavenDB compare-exchange keys in the commit's cluster-wide batch): that is what keeps two
racing transactions from both taking a value. This check is the early answer SQL gives: an
INSERT, UPDATE or upsert ``DO UPDATE`` whose rows take a unique value another document holds
(stored, or written by this transaction, or by another row of the statement) raises
``IntegrityError`` ("UNIQUE constraint failed: t.col") at the statement, which then applies
none of its rows (the cursor runs it atomically); the transaction goes on.

The rows a statement wrote to a collection with unique constraints are collected as the
foreign keys collect them (``RowChange``); per constraint, the values that are new (inserted,
or changed by an update; NULLs never conflict) are looked up together over the collection as
the transaction sees it, this statement's writes included: one ``GROUP BY ... HAVING count(*)
> 1`` query per 500 values finds those SQL's equality sees twice, and only those are looked
at document by document (``upsert_lookup.holders``), a value two documents hold being a
duplicate. Values are one value as the commit's check compares them (``unique_value_key``).
On the embedded store no overlay is queried (``_refuse_held_by_index``): the stored documents
holding the values are found through the store's unique index (``stored_holders``, one
query per 500 values), the pending ones in a record of the values the transaction's pending
writes hold, kept as it writes (``dbapi.unique_pending``); a stored document the transaction
wrote counts by its pending state only. That check falls back to the query for what it
can't key (a value of another type than JSON's scalars, a key kept as the id).
An UPDATE moving values among its own rows is checked as the commit will write it: on the
embedded store, whose commit writes the rows in turn (each checked by SQLite's unique index),
row by row in that order too (``_refuse_taken_in_turn``: SQLite's own check, so ``UPDATE t
SET n = n + 1`` fails as on SQLite); on RavenDB, whose commit reserves the final values, in
the statement's final state only (``n = n + 1`` passes).
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Hashable
from types import NoneType
from typing import Any, NamedTuple, cast

from .. import values as json_values
from ..backends.base import BackendConnection
from ..errors import DuplicateKeyError
from ..pending import PendingBatch
from ..schema import CollectionSpec
from ..statements import ast
from .executor import ForeignKeyRules, RowChange
from .unique_pending import SCALARS, PendingValues, pending_values, sqlite_unique_key
from .upsert_lookup import UNIQUE, all_of, any_of, holders

UniqueKey = Callable[[tuple[Any, ...]], Hashable]


def rules_for(backend: BackendConnection, stmt: ast.Statement,
              fks: ForeignKeyRules | None) -> UniqueChecks | None:
    """The checks a write statement needs (None: it can take no unique value: a DELETE, a
    table without unique constraints, an UPDATE or upsert setting none of their fields)."""
    if not isinstance(stmt, (ast.Insert, ast.Update)):
        return None
    spec = backend.spec(stmt.table)
    sets = spec.unique_sets
    if not sets:
        return None
    upsert = isinstance(stmt, ast.Insert) and bool(stmt.on_conflict or stmt.resolution)
    if upsert or isinstance(stmt, ast.Update):
        assert isinstance(stmt, (ast.Insert, ast.Update))
        if not spec.computed_fields and not _sets_unique_field(stmt, sets):
            return None
    # the embedded store's commit applies an UPDATE's rows in turn (an upsert's DO UPDATE
    # rows too), each checked by SQLite's unique index as it is written: the statement checks
    # them in that order too (SQLite's own row-at-a-time check), where RavenDB's commit
    # reserves the final values
    in_turn = _updates_rows(stmt) and not hasattr(backend, "unique_value_key")
    return UniqueChecks(backend, fks, updates_only=upsert, in_turn=in_turn)


def _updates_rows(stmt: ast.Insert | ast.Update) -> bool:
    """An UPDATE, or an upsert with a DO UPDATE clause (not ``OR REPLACE``/``OR IGNORE``:
    those delete or skip the rows a row conflicts with, they move no value in turn)."""
    if isinstance(stmt, ast.Update):
        return True
    return stmt.resolution is None and any(
        clause.assignments is not None for clause in stmt.on_conflict)


def _sets_unique_field(stmt: ast.Insert | ast.Update,
                       sets: tuple[tuple[str, ...], ...]) -> bool:
    names = {f.lower() for fields in sets for f in fields}
    if isinstance(stmt, ast.Update):
        assigned = {name.lower() for name, _ in stmt.assignments}
    else:  # (an upsert: its inserted rows are checked by its lookup, see dbapi.upsert)
        assigned = {name.lower() for clause in stmt.on_conflict
                    for name, _ in clause.assignments or ()}
    return not assigned.isdisjoint(names)


class UniqueChecks:
    """A statement's ``ForeignKeyRules``: collects the rows it writes to collections with
    unique constraints, passes them on to the foreign keys (if enforced), and checks them at
    the statement's end (:meth:`verify`). ``updates_only``: the inserted rows were checked
    already (an upsert's lookup): only updated rows are. ``in_turn``: the updated rows are
    also checked one after the other, in the order they were written."""

    def __init__(self, backend: BackendConnection, fks: ForeignKeyRules | None,
                 updates_only: bool, in_turn: bool = False) -> None:
        self.backend, self.fks, self.updates_only = backend, fks, updates_only
        self.in_turn = in_turn
        self.written: dict[str, tuple[CollectionSpec, list[RowChange]]] = {}

    def after_statement(self, spec: CollectionSpec, changes: list[RowChange],
                        pending: PendingBatch, checks: Any = None) -> None:
        if spec.unique_sets:
            self.written.setdefault(spec.name, (spec, []))[1].extend(changes)
        if self.fks is not None:
            self.fks.after_statement(spec, changes, pending, checks)

    def act_now(self, spec: CollectionSpec, deleted: dict[str, Any], pending: PendingBatch,
                checks: Any) -> Any:
        return None if self.fks is None else self.fks.act_now(spec, deleted, pending, checks)

    def verify(self, pending: PendingBatch) -> None:
        """IntegrityError if a row the statement wrote holds a unique value another document
        holds, as the transaction sees the collections now."""
        key_of: UniqueKey = getattr(self.backend, "unique_value_key", sqlite_unique_key)
        by_index = hasattr(self.backend, "stored_holders") and key_of is sqlite_unique_key
        for spec, changes in self.written.values():
            sets = spec.unique_sets
            record: PendingValues | None = None
            for n, fields in enumerate(sets):
                texts = _inserted_texts(fields[0], changes) if (
                    by_index and len(fields) == 1 and len(changes) > 16
                    and not self.updates_only) else None
                if texts is not None:  # (a bulk load's: in C loops where it can)
                    if not texts:
                        continue
                    record = record or pending_values(pending, spec.name, sets)
                    if _refuse_texts_held_by_index(self.backend, spec, fields[0], n, texts,
                                                   record, pending):
                        continue
                new = self._new_values(fields, changes, key_of)
                if not new:
                    continue
                if self.in_turn:
                    passed = _refuse_taken_in_turn(spec, fields, changes, key_of, new)
                    if passed:
                        _refuse_passed_held(self.backend, spec, fields, passed, pending, key_of)
                if by_index and record is None:
                    record = pending_values(pending, spec.name, sets)
                if record is None or not _refuse_held_by_index(
                        self.backend, spec, fields, n, new, record, pending, key_of):
                    _refuse_held_twice(self.backend, spec, fields, new, pending, key_of)

    def _new_values(self, fields: tuple[str, ...], changes: list[RowChange],
                    key_of: UniqueKey) -> dict[Hashable, tuple[Any, ...]]:
        """The values of ``fields`` the changes gave their rows (by their unique key)."""
        if len(fields) == 1 and key_of is sqlite_unique_key:
            return self._new_scalars(fields[0], changes)
        new: dict[Hashable, tuple[Any, ...]] = {}
        get = _getter(fields)
        for change in changes:
            after, before = change.after, change.before
            if after is None or (before is None and self.updates_only):
                continue
            value = get(after)
            if None in value or not _plain(value):
                continue  # (NULLs never conflict; objects and arrays: the commit's check)
            try:
                key = key_of(value)
                if before is not None and key_of(get(before)) == key:
                    continue  # (unchanged)
                new.setdefault(key, value)
            except TypeError:  # (an unhashable value: left to the commit's check)
                continue
        return new

    def _new_scalars(self, name: str, changes: list[RowChange]
                     ) -> dict[Hashable, tuple[Any, ...]]:
        """``_new_values`` of a one-field constraint by ``sqlite_unique_key`` (a text keyed
        without a call, as it keys it: the value's tuple)."""
        new: dict[Hashable, tuple[Any, ...]] = {}
        updates_only = self.updates_only
        for change in changes:
            after, before = change.after, change.before
            if after is None or (before is None and updates_only):
                continue
            held = after.get(name)
            kind = type(held)
            if kind is str:
                if before is not None:
                    had = before.get(name)
                    if type(had) is str and had == held:
                        continue  # (unchanged)
                key: Hashable = (held,)
                new.setdefault(key, key)  # type: ignore[arg-type]
                continue
            if held is None or kind is dict or kind is list:
                continue  # (NULLs never conflict; objects and arrays: the commit's check)
            value = (held,)
            try:
                key = sqlite_unique_key(value)
                hash(key)
            except TypeError:  # (an unhashable value: left to the commit's check)
                continue
            if before is not None and sqlite_unique_key((before.get(name),)) == key:
                continue  # (unchanged)
            new.setdefault(key, value)
        return new


_BEFORE, _AFTER = operator.attrgetter("before"), operator.attrgetter("after")


def _inserted_texts(name: str, changes: list[RowChange]) -> dict[str, None] | None:
    """The texts rows all inserted hold in ``name`` (NULLs left out: they never conflict),
    as ``_new_values`` keys them but without the tuples, in C loops (a bulk load's rows);
    None for any other rows."""
    if list(map(_BEFORE, changes)).count(None) != len(changes):
        return None
    afters = list(map(_AFTER, changes))
    if None in afters:
        return None
    held = [after.get(name) for after in afters]
    kinds = set(map(type, held))
    if kinds - _TEXT_OR_NULL:
        return None
    texts: dict[Any, None] = dict.fromkeys(held)
    texts.pop(None, None)
    return texts


_TEXT_OR_NULL = frozenset({str, NoneType})


def _getter(fields: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row's values of ``fields``, as a tuple."""
    if len(fields) == 1:
        name = fields[0]
        return lambda body: (body.get(name),)
    return lambda body: tuple(body.get(f) for f in fields)


def _plain(value: tuple[Any, ...]) -> bool:
    """No object or array among the values (those are left to the commit's check)."""
    if len(value) == 1:
        kind = type(value[0])
        return kind is not dict and kind is not list
    return not any(isinstance(v, (dict, list)) for v in value)


class Passed(NamedTuple):
    """The values rows of a statement took and gave up again before its end (an executemany
    setting one row twice), and the documents the statement wrote."""

    values: dict[Hashable, tuple[Any, ...]]
    written: frozenset[Any]


def _refuse_taken_in_turn(spec: CollectionSpec, fields: tuple[str, ...],
                          changes: list[RowChange], key_of: UniqueKey,
                          new: dict[Hashable, tuple[Any, ...]]) -> Passed | None:
    """The statement's rows written one after the other: a row taking a value that another
    of its rows holds until it is written later fails (``UPDATE t SET k = k + 1`` visiting
    ``k`` = 1 while 2 is still held). Values held by rows the statement does not write are
    the final check's (``_refuse_held_twice``); so is everything when no row takes a value
    another row had or takes too (``new``: the values the rows take). Returns the values
    rows took only for a while (``Passed``, None if none), which rows the statement does not
    write must not hold either (``_refuse_passed_held``)."""
    if _no_row_takes_another_rows(fields, changes, key_of, new):
        return None
    get = _getter(fields)
    taken = [_in_turn_key(get(c.after), key_of) for c in changes if c.after is not None]
    if len(set(taken)) == len(taken) and all(
            _in_turn_key(get(c.before), key_of) not in new for c in changes
            if c.before is not None):
        return None
    held: dict[Hashable, Any] = {}  # value -> the row holding it now
    rows: list[tuple[Any, Any, Hashable, Hashable]] = []
    seen: set[Any] = set()
    for n, change in enumerate(changes):
        if change.after is None:
            continue
        row_after = _row_id(spec, change.after, n)
        after = _in_turn_key(get(change.after), key_of)
        if change.before is None:  # (a row an upsert inserts: held from then on)
            seen.add(row_after)
            rows.append((row_after, row_after, None, after))
            continue
        row = _row_id(spec, change.before, n)
        before = _in_turn_key(get(change.before), key_of)
        if row not in seen and before is not None:
            held.setdefault(before, row)  # (its value when the statement began)
        seen.add(row)
        rows.append((row, row_after, before, after))
    for row, row_after, before, after in rows:
        if before == after:
            continue
        if held.get(before) == row:
            del held[before]
        taker = held.get(after)
        if after is not None and taker is not None and taker != row:
            names = ", ".join(f"{spec.name}.{f}" for f in fields)
            raise DuplicateKeyError(
                f"UNIQUE constraint failed: {names} (a row of the statement takes the value "
                f"of {taker!r} before that row gives it up: the rows are written in turn)")
        if after is not None:
            held[after] = row_after
    return _passed(spec, fields, changes, rows, held, key_of)


def _passed(spec: CollectionSpec, fields: tuple[str, ...], changes: list[RowChange],
            rows: list[tuple[Any, Any, Hashable, Hashable]], held: dict[Hashable, Any],
            key_of: UniqueKey) -> Passed | None:
    """``_refuse_taken_in_turn``'s values taken and given up again (no longer ``held`` by
    the row that took them), with the documents written (a table with a key: the others
    name rows by their place in the statement)."""
    if not spec.primary_key:
        return None
    keys = {after for _, row_after, before, after in rows
            if after is not None and after != before and held.get(after) != row_after}
    if not keys:
        return None
    get = _getter(fields)
    values = {key: get(c.after) for c in changes if c.after is not None
              and (key := _in_turn_key(get(c.after), key_of)) in keys}
    written = frozenset(_row_id(spec, body, 0) for c in changes
                        for body in (c.before, c.after) if body is not None)
    return Passed(values, written)


def _refuse_passed_held(backend: BackendConnection, spec: CollectionSpec,
                        fields: tuple[str, ...], passed: Passed, pending: PendingBatch,
                        key_of: UniqueKey) -> None:
    """IntegrityError if a row the statement does not write holds a value one of its rows
    took for a while: SQLite refused that row then (an executemany's set taking a value
    another row holds, even if a later set changes it again)."""
    found = holders(backend, spec, fields, list(passed.values.values()), pending)
    for group in found.values():
        for value, match in group:
            if match.doc_id not in passed.written and key_of(value) in passed.values:
                names = ", ".join(f"{spec.name}.{f}" for f in fields)
                raise DuplicateKeyError(
                    f"UNIQUE constraint failed: {names} (a row of the statement takes the "
                    f"value {match.doc_id!r} holds, before it gives it up again)")


def _no_row_takes_another_rows(fields: tuple[str, ...], changes: list[RowChange],
                               key_of: UniqueKey, new: dict[Hashable, tuple[Any, ...]]
                               ) -> bool:
    """``_refuse_taken_in_turn``'s first test, in C loops, for rows holding texts before and
    after in a one-field constraint (a text is keyed as its tuple): no two rows take one text
    and no row held a text a row takes. False: not so, or other rows (the test then runs)."""
    if len(fields) != 1 or key_of is not sqlite_unique_key:
        return False
    name = fields[0]
    afters = [c.after.get(name) for c in changes if c.after is not None]
    befores = [c.before.get(name) for c in changes if c.before is not None]
    if not (_TEXT.issuperset(map(type, afters)) and _TEXT.issuperset(map(type, befores))):
        return False
    return len(set(afters)) == len(afters) and {key[0] for key in new}.isdisjoint(  # type: ignore[index]
        befores)


_TEXT = frozenset({str})


def _row_id(spec: CollectionSpec, body: dict[str, Any], n: int) -> Any:
    """The document a row is (its position in the statement if the table has no key)."""
    if not spec.primary_key:
        return n
    return spec.document_id(tuple(body.get(k) for k in spec.primary_key))


def _in_turn_key(value: tuple[Any, ...], key_of: UniqueKey) -> Hashable:
    """A value's unique key; None for a value that never conflicts (NULL) or is not checked."""
    if None in value or not _plain(value):
        return None
    try:
        key = key_of(value)
        hash(key)
    except TypeError:
        return None
    return key


def _refuse_held_by_index(backend: BackendConnection, spec: CollectionSpec,
                          fields: tuple[str, ...], n: int,
                          new: dict[Hashable, tuple[Any, ...]], record: PendingValues,
                          pending: PendingBatch, key_of: UniqueKey) -> bool:
    """``_refuse_held_twice`` without the overlay: the documents holding each new value are
    the pending ones holding it (``record``, of the ``n``-th constraint: a dict lookup) and
    the stored ones the transaction did not write (the store's unique index, one query per
    500 values: ``stored_holders``). False when it can't tell so (a value of another type
    than JSON's scalars, a key kept as the id, no table): ``_refuse_held_twice`` then does."""
    if not _fits_index(spec, fields, n, record) or not _scalars(new):
        return False
    keys = [record.key(n, key) for key in new] if record.doubled(n) else ()
    twice = record.held_twice(n, keys)
    if twice is not None:  # (two pending documents hold it)
        raise _held_twice(spec, fields, *twice)
    rows = backend.stored_holders(  # type: ignore[attr-defined]
        spec.name, fields, list(itertools.chain.from_iterable(cast("Any", new))))
    if rows is None:
        return False

    def taken(held: tuple[Any, ...]) -> Hashable | None:
        key = key_of(held)
        return record.key(n, key) if key in new else None

    _refuse_stored(spec, fields, n, rows, record, pending, taken)
    return True


def _refuse_texts_held_by_index(backend: BackendConnection, spec: CollectionSpec,
                                name: str, n: int, texts: dict[str, None],
                                record: PendingValues, pending: PendingBatch) -> bool:
    """``_refuse_held_by_index`` of the texts a bulk load's rows hold in a one-field
    constraint (``_inserted_texts``: each its own key in ``record``)."""
    fields = (name,)
    if not _fits_index(spec, fields, n, record):
        return False
    twice = record.held_twice(n, texts)
    if twice is not None:
        raise _held_twice(spec, fields, *twice)
    rows = backend.stored_holders(spec.name, fields, list(texts))  # type: ignore[attr-defined]
    if rows is None:
        return False

    def taken(held: tuple[Any, ...]) -> Hashable | None:
        return held[0] if type(held[0]) is str and held[0] in texts else None

    _refuse_stored(spec, fields, n, rows, record, pending, taken)
    return True


def _fits_index(spec: CollectionSpec, fields: tuple[str, ...], n: int,
                record: PendingValues) -> bool:
    """Whether the stored documents holding a constraint's values can be found by the store's
    index (not a key kept as the id, which the stored body does not hold) and the pending
    ones by ``record`` (each holds JSON scalars there)."""
    return not (spec.key_is_id and spec.primary_key[0] in fields) and record.usable(n)


def _refuse_stored(spec: CollectionSpec, fields: tuple[str, ...], n: int,
                   rows: list[tuple[str, str]], record: PendingValues, pending: PendingBatch,
                   taken: Callable[[tuple[Any, ...]], Hashable | None]) -> None:
    """IntegrityError if a stored document of ``rows`` (id, body JSON) the transaction did
    not write holds a value a row takes (``taken``: its key in ``record``, None if no row
    takes it) that another document holds (pending, or stored too)."""
    if not rows:
        return
    docs = pending.overlay.get(spec.name, {})
    get = _getter(fields)
    stored: dict[Hashable, str] = {}
    for doc_id, text in rows:
        if doc_id in docs:
            continue  # (its pending state holds what it holds: the record says)
        held = get(json_values.loads(text))
        if None in held or not _plain(held):
            continue
        key = taken(held)
        if key is None:
            continue  # (equal to SQL, not to the commit's equality)
        others = (*record.holders(n, key), *((stored[key],) if key in stored else ()))
        if others:
            raise _held_twice(spec, fields, others[0], doc_id)
        stored[key] = doc_id


def _scalars(new: dict[Hashable, tuple[Any, ...]]) -> bool:
    """Whether every value is made of JSON scalars (texts, numbers, booleans)."""
    if len(new) == 1:
        (value,) = new.values()
        return len(value) == 1 and type(value[0]) is str or SCALARS.issuperset(map(type, value))
    return SCALARS.issuperset(map(type, itertools.chain.from_iterable(new.values())))


def _held_twice(spec: CollectionSpec, fields: tuple[str, ...], first: str,
                second: str) -> DuplicateKeyError:
    names = ", ".join(f"{spec.name}.{f}" for f in fields)
    return DuplicateKeyError(f"UNIQUE constraint failed: {names} (documents {first!r} and "
                             f"{second!r} would hold one value)")


#: values looked up per query
_CHUNK = 500
_COUNT = ast.Func("count", (), star=True)


@functools.lru_cache(maxsize=256)  # (one tree per shape: its query plan is kept)
def _duplicates(table: str, fields: tuple[str, ...], count: int) -> ast.Select:
    """``SELECT f.., count(*) FROM t WHERE (f..) is one of ``count`` values GROUP BY f..
    HAVING count(*) > 1``: the values that documents hold twice (``:unique:i:f``)."""
    columns = tuple(ast.Column(None, f) for f in fields)
    where: ast.Expr
    if len(fields) == 1:
        where = ast.InList(columns[0], tuple(
            ast.Param(f"{UNIQUE}{i}:{fields[0]}") for i in range(count)))
    else:
        where = any_of([all_of([ast.Binary("=", ast.Column(None, f), ast.Param(f"{UNIQUE}{i}:{f}"))
                            for f in fields]) for i in range(count)])
    selected: tuple[ast.Expr, ...] = (*columns, _COUNT)
    return ast.Select(tuple(ast.ResultColumn(c) for c in selected),
                      (ast.TableRef(table),), where, columns,
                      ast.Binary(">", _COUNT, ast.Literal(1)))


def _refuse_held_twice(backend: BackendConnection, spec: CollectionSpec,
                       fields: tuple[str, ...], new: dict[Hashable, tuple[Any, ...]],
                       pending: PendingBatch, key_of: UniqueKey) -> None:
    """One query per ``_CHUNK`` values finds those SQL's equality sees twice; only those are
    looked at document by document, by the store's own equality (``key_of``)."""
    values = list(new.values())
    candidates: list[tuple[Any, ...]] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        params = {f"{UNIQUE}{i}:{f}": v for i, value in enumerate(chunk)
                  for f, v in zip(fields, value, strict=True)}
        _, rows = backend.query(_duplicates(spec.name, fields, len(chunk)), params, pending)
        candidates += [tuple(row[:len(fields)]) for row in rows]
    if not candidates:
        return
    held_by: dict[Hashable, list[str]] = {}
    for group in holders(backend, spec, fields, candidates, pending).values():
        for held, match in group:
            key = key_of(held)
            if key in new:
                ids = held_by.setdefault(key, [])
                if match.doc_id not in ids:
                    ids.append(match.doc_id)
    for ids in held_by.values():
        if len(ids) > 1:
            raise _held_twice(spec, fields, ids[0], ids[1])
