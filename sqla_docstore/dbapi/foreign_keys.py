"""Foreign keys enforced, as SQLite does with ``PRAGMA foreign_keys = ON`` (opt-in).

A document store has no foreign keys: they are recorded in the collection specs (for joins,
reflection and migrations) and, only when a connection asks for it (``foreign_keys=True``),
enforced here, at the end of each statement, into the same pending batch:

- a row written with a non-NULL reference must find the row it refers to (``MATCH SIMPLE``);
- deleting or re-keying a referenced row applies the key's ``ON DELETE`` / ``ON UPDATE``
  action to the rows that refer to it: ``CASCADE``, ``SET NULL``, ``SET DEFAULT``, or an
  ``IntegrityError`` for ``NO ACTION`` / ``RESTRICT`` (the default) while such rows exist.

What a transaction sees decides (its own pending writes included); the store does not lock
rows. A stored row a written row refers to is guarded in the batch (a PATCH that changes
nothing, as ``FOR UPDATE``'s guards): if another transaction deleted it meanwhile (or, for a
reference to columns other than its key, changed it at all), the commit fails whole
(``ConcurrencyError``). A key a transaction removes (deletes or changes) is
checked again at commit (``commands.Absent``): a row another transaction made refer to it
meanwhile fails the commit whole (``IntegrityError``); on the embedded store inside the
commit's write transaction, on RavenDB by a query just before the batch.

An ``executemany`` is checked as SQLite checks it, each parameter set at its own end (a set
sees the sets before it, not those after), while the call stays all or nothing in the batch:
where no set can change what another's check finds (``executemany_order``) the call is
checked once at its end; where only forward references among the rows a plain ``INSERT``
makes can differ, once with those refused (``InsertOrder``); else set by set.

A ``DEFERRABLE INITIALLY DEFERRED`` key is checked at COMMIT, as SQLite checks it: a row
written with such a reference, and a key removed under its ``NO ACTION``, are noted by the
statement and checked against the transaction's state when it commits
(:meth:`ForeignKeys.check_deferred`); a violation fails the commit with ``IntegrityError``
before anything is sent, and the transaction stays open. Its actions (``CASCADE``, ``SET
NULL``, ``SET DEFAULT``) and ``RESTRICT`` are taken at the statement, as in SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..backends.base import BackendConnection
from ..commands import Absent, Delete, Patch
from ..errors import IntegrityError
from ..pending import PendingBatch, body_of
from ..schema import CollectionSpec, ForeignKeySpec
from ..statements import ast
from . import executor
from .executor import RowChange


class SetOrder(Enum):
    """How the parameter sets of an ``executemany`` are checked (``executemany_order``)."""

    #: once at the call's end: no set can change what another set's check finds
    ONE_CHECK = "one check"
    #: once at the call's end, and a row referring to a row a later set inserts is refused
    INSERT_ORDER = "insert order"
    #: each set run and checked as its own statement, in turn
    EACH_SET = "each set"


@dataclass(frozen=True)
class _Reference:
    child: CollectionSpec
    fk: ForeignKeySpec


@dataclass
class _Checks:
    """What a statement checks once its actions ran."""

    written: list[tuple[CollectionSpec, dict[str, Any]]] = field(default_factory=list)
    no_action: list[tuple[_Reference, tuple[Any, ...]]] = field(default_factory=list)
    #: keys removed (deleted or changed) that rows may refer to: guarded at commit unless
    #: the statement gives them back (a row ``INSERT OR REPLACE`` deletes and inserts again)
    removed: list[tuple[_Reference, tuple[Any, ...]]] = field(default_factory=list)


class ForeignKeys:
    """The enforcement of one DB-API connection (the referencing keys are looked up once per
    transaction: :meth:`forget` at its end)."""

    def __init__(self, backend: BackendConnection) -> None:
        self.backend = backend
        self._referencing: dict[str, list[_Reference]] | None = None
        self._wheres: dict[tuple[str, tuple[str, ...]], ast.Expr] = {}
        #: what the transaction's statements left to check at COMMIT (deferred keys)
        self._later = _Checks()

    def forget(self) -> None:
        self._referencing = None

    def end_transaction(self) -> None:
        """The transaction ended (committed or rolled back): nothing is left to check."""
        self._later = _Checks()
        self._referencing = None

    # -- executemany ----------------------------------------------------------------------
    def executemany_order(self, stmt: ast.Insert | ast.Update | ast.Delete,
                          sets_apart: bool) -> SetOrder:
        """How an ``executemany`` of ``stmt`` is checked to find what SQLite finds checking
        each set at its own end. ``sets_apart``: each set names another row by its whole
        key and no key changes (an UPDATE's sets: see ``executor.sets_apart``).

        A set can change what another set's check finds only by removing or giving back a
        key rows refer to (a DELETE, or a write of a referred column), by changing the rows
        that refer to a key (its own table's, or others' through actions), or by writing
        again a row with a reference (first dangling, then mended). An INSERT that only
        inserts or skips rows removes no key and writes each row once: only a table referring
        to itself is in question, and there a plain INSERT's rows' order is checked
        (``INSERT_ORDER``) unless one set makes several rows. A DELETE gives no key back:
        only rows referring to the keys it removes that the call itself changes are in
        question (its own table's, or reached by actions)."""
        spec = self.backend.spec(stmt.table)
        refs = [ref for ref in self._referrers(spec.name)
                if not _deferred(ref.fk) or _acts(ref.fk)]
        refers = any(not _deferred(fk) for fk in spec.foreign_keys)
        if isinstance(stmt, ast.Insert) and _inserts_only(stmt):
            if not _refers_to_itself(spec):
                return SetOrder.ONE_CHECK
            if stmt.select is None and not stmt.more_values and not (
                    stmt.on_conflict or stmt.resolution):
                return SetOrder.INSERT_ORDER
            return SetOrder.EACH_SET  # (rows skipped: a set's row is not told apart)
        if isinstance(stmt, ast.Delete):
            return SetOrder.EACH_SET if any(
                ref.child.name == spec.name or _on_delete_acts(ref.fk) for ref in refs
            ) else SetOrder.ONE_CHECK
        if isinstance(stmt, ast.Update) and not spec.computed_fields:
            assigned = {name.lower() for name, _ in stmt.assignments}
            refs = [ref for ref in refs
                    if not assigned.isdisjoint(c.lower() for c in ref.fk.referred_columns)]
        if refs or (refers and not (isinstance(stmt, ast.Update) and sets_apart)):
            return SetOrder.EACH_SET
        return SetOrder.ONE_CHECK

    def check_deferred(self, pending: PendingBatch) -> None:
        """At COMMIT: the deferred keys' checks the transaction's statements left, against
        what it sees now (a row written since, or a savepoint rolled back, counts as it now
        stands). IntegrityError if one fails; the guards the checks add stay for the commit
        only if none does."""
        later = self._later
        if not (later.written or later.no_action):
            return
        with pending.atomic_statement():
            self._verify(later, pending, deferred=True)

    # -- the statement's rows ----------------------------------------------------------
    def after_statement(self, spec: CollectionSpec, changes: list[RowChange],
                        pending: PendingBatch, checks: _Checks | None = None) -> None:
        """Apply the actions the statement's changes call for, then check, as SQL does at
        the end of a statement, the references of every row written and that no row still
        refers to a key removed under ``NO ACTION``."""
        if not changes and checks is None:
            return
        checks = checks if checks is not None else _Checks()
        self._apply(spec, changes, pending, checks)
        self._verify(checks, pending)

    def act_now(self, spec: CollectionSpec, deleted: dict[str, Any], pending: PendingBatch,
                checks: _Checks | None) -> _Checks:
        """The actions a row deleted amid a statement calls for (a row ``INSERT OR REPLACE``
        deletes), taken at once on the rows referring to it then, as SQLite takes them (not
        on a row the statement inserts after it); what is left to check goes in ``checks``
        for ``after_statement`` (returned: ``checks``, or new ones)."""
        checks = checks if checks is not None else _Checks()
        self._apply(spec, [RowChange(deleted, None)], pending, checks)
        return checks

    def _apply(self, spec: CollectionSpec, changes: list[RowChange], pending: PendingBatch,
               checks: _Checks) -> None:
        if spec.foreign_keys:
            written = [(spec, c.after) for c in changes if c.after is not None and (
                c.before is None or _moved(spec, c.before, c.after))]
            deferred = {_deferred(fk) for fk in spec.foreign_keys}
            if False in deferred:
                checks.written += written
            if True in deferred:  # (checked at COMMIT)
                self._later.written += written
        for ref in self._referrers(spec.name):
            for change in changes:
                old = None if change.before is None else _values(change.before,
                                                                 ref.fk.referred_columns)
                if old is None:
                    continue
                new = None if change.after is None else _values(change.after,
                                                                ref.fk.referred_columns)
                if new != old:
                    self._act(ref, old, new, pending, checks)

    def _verify(self, checks: _Checks, pending: PendingBatch, deferred: bool = False) -> None:
        """``deferred``: the checks COMMIT makes of the deferred keys (else the immediate
        keys' at a statement's end)."""
        gone = self._still_removed(checks.removed, pending)
        for ref, old in checks.no_action:
            if (ref.child.name, ref.fk, old) in gone and self._rows(
                    ref.child.name, ref.fk.columns, old, pending):
                raise IntegrityError(
                    f"FOREIGN KEY constraint failed: {ref.child.name}"
                    f"({', '.join(ref.fk.columns)}) refers to {_show(old)} in "
                    f"{ref.fk.referred_table}, which is gone")
        by_table: dict[str, tuple[CollectionSpec, list[dict[str, Any]]]] = {}
        seen: set[int] = set()
        now = _WrittenNow(pending)
        for spec, body in checks.written:
            if deferred:
                currents = now.bodies(spec, body)
            else:
                current = _still_there(spec, body, pending)
                currents = [] if current is None else [current]
            for current in currents:
                if id(current) not in seen:
                    seen.add(id(current))
                    by_table.setdefault(spec.name, (spec, []))[1].append(current)
        for spec, bodies in by_table.values():
            self._check_references(spec, bodies, pending, deferred)

    def _still_removed(
        self, removed: list[tuple[_Reference, tuple[Any, ...]]], pending: PendingBatch,
    ) -> set[tuple[str, ForeignKeySpec, tuple[Any, ...]]]:
        """The removed keys no row holds at the statement's end (by child table), each
        guarded at commit: no row this transaction does not write may refer to it then (one
        another transaction made refer to it meanwhile fails the commit; a row of this
        transaction's statements is checked by them, as here)."""
        by_ref: dict[tuple[str, ForeignKeySpec], set[tuple[Any, ...]]] = {}
        for ref, old in removed:
            by_ref.setdefault((ref.child.name, ref.fk), set()).add(old)
        gone: set[tuple[str, ForeignKeySpec, tuple[Any, ...]]] = set()
        for (child, fk), keys in by_ref.items():
            parent = self.backend.spec(fk.referred_table)
            for old in self._missing_parents(parent, fk, keys, pending):
                gone.add((child, fk, old))
                pending.add_guard(Absent(child, fk.columns, old, fk.referred_table))
        return gone

    # -- references from written rows -----------------------------------------------------
    def _check_references(self, spec: CollectionSpec, bodies: list[dict[str, Any]],
                          pending: PendingBatch, deferred: bool = False) -> None:
        for fk in spec.foreign_keys:
            if _deferred(fk) != deferred:
                continue
            wanted = {v for v in (_values(b, fk.columns) for b in bodies) if v is not None}
            if not wanted:
                continue
            parent = self.backend.spec(fk.referred_table)
            missing = self._missing_parents(parent, fk, wanted, pending)
            if missing:
                raise IntegrityError(
                    f"FOREIGN KEY constraint failed: {spec.name}({', '.join(fk.columns)}) = "
                    f"{_show(sorted(missing, key=repr)[0])} has no row in {parent.name}"
                    f"({', '.join(fk.referred_columns)})")

    def _missing_parents(self, parent: CollectionSpec, fk: ForeignKeySpec,
                         wanted: set[tuple[Any, ...]], pending: PendingBatch) -> set[Any]:
        if tuple(fk.referred_columns) == tuple(parent.primary_key):
            # The usual case: references by primary key are one load of every parent.
            ids = {parent.document_id(key): key for key in wanted}
            found = self.backend.get_documents(parent.name, list(ids), pending)
            missing = {key for doc_id, key in ids.items()
                       if not _holds(found.get(doc_id), fk.referred_columns, key)}
            if not missing:
                _guard_stored(parent, list(ids), pending)
            return missing
        missing = set()
        referred: dict[str, str] = {}
        for key in wanted:
            rows = self._rows(parent.name, fk.referred_columns, key, pending)
            if not rows:
                missing.add(key)
            referred.update((row[0], row[2]) for row in rows)
        if not missing:  # (the referred columns may change too: the version read is guarded)
            _guard_stored(parent, list(referred), pending, referred)
        return missing

    # -- actions on referring rows ------------------------------------------------------------
    def _act(self, ref: _Reference, old: tuple[Any, ...], new: tuple[Any, ...] | None,
             pending: PendingBatch, checks: _Checks) -> None:
        rule = ((ref.fk.ondelete if new is None else ref.fk.onupdate) or "NO ACTION").upper()
        if rule == "NO ACTION" and _deferred(ref.fk):
            # checked at COMMIT, and guarded then if the key is still gone (the transaction
            # may give it back meanwhile)
            self._later.removed.append((ref, old))
            self._later.no_action.append((ref, old))
            return
        # At commit, no row this transaction does not write may refer to the removed key:
        # one another transaction made refer to it meanwhile fails the commit (a row of this
        # transaction's statements is checked by them, as here).
        checks.removed.append((ref, old))
        if rule == "NO ACTION":
            checks.no_action.append((ref, old))  # checked once the statement's actions ran
            return
        children = self._rows(ref.child.name, ref.fk.columns, old, pending)
        if not children:
            return
        if rule == "RESTRICT":
            verb, event = ("deleted", "DELETE") if new is None else ("changed", "UPDATE")
            raise IntegrityError(
                f"FOREIGN KEY constraint failed: {ref.child.name}({', '.join(ref.fk.columns)})"
                f" refers to {_show(old)} in {ref.fk.referred_table}, which is {verb} "
                f"(ON {event} RESTRICT)")
        if rule == "CASCADE" and new is None:
            for doc_id, _, cv in children:
                pending.add(Delete(ref.child.name, doc_id, None, True, cv), None)
            self._apply(ref.child, [RowChange(b, None) for _, b, _ in children], pending,
                        checks)
            return
        if rule == "CASCADE":
            assert new is not None
            changes = dict(zip(ref.fk.columns, new, strict=True))
        elif rule == "SET NULL":
            changes = dict.fromkeys(ref.fk.columns)
        elif rule == "SET DEFAULT":
            defaults = {f.name: f.default for f in ref.child.fields}
            changes = {c: defaults.get(c) for c in ref.fk.columns}
        else:
            raise IntegrityError(f"unknown foreign key action {rule!r} on {ref.child.name}")
        rows = []
        for doc_id, body, cv in children:
            after = {**body, **changes}
            executor.check_constraints(self.backend, ref.child, after)
            executor.write_update(ref.child, executor.Match(doc_id, body, cv), after, changes,
                                  None, pending)
            rows.append(RowChange(body, after))
        self._apply(ref.child, rows, pending, checks)

    # -- lookups ----------------------------------------------------------------------------
    def _referrers(self, table: str) -> list[_Reference]:
        if self._referencing is None:
            referencing: dict[str, list[_Reference]] = {}
            for name in self.backend.collection_names():
                child = self.backend.spec(name)
                for fk in child.foreign_keys:
                    referencing.setdefault(fk.referred_table.lower(), []).append(
                        _Reference(child, fk))
            self._referencing = referencing
        return self._referencing.get(table.lower(), [])

    def _rows(self, collection: str, columns: tuple[str, ...], key: tuple[Any, ...],
              pending: PendingBatch) -> list[tuple[Any, ...]]:
        where = self._wheres.get((collection, columns))
        if where is None:
            terms: list[ast.Expr] = [ast.Binary("=", ast.Column(None, c), ast.Param(f"fk{i}"))
                                     for i, c in enumerate(columns)]
            where = terms[0]
            for term in terms[1:]:
                where = ast.Binary("and", where, term)
            self._wheres[(collection, columns)] = where
        params = {f"fk{i}": v for i, v in enumerate(key)}
        rows = self.backend.rows_for_write(collection, None, where, (), params, pending)
        return [(r[0], r[1], r[2]) for r in rows]


class InsertOrder:
    """The ``ForeignKeyRules`` of a plain INSERT's ``executemany`` (one row per set, in
    order) into a table whose immediate keys refer to itself (``SetOrder.INSERT_ORDER``):
    the rows are checked at the call's end, and a row referring to a row a later set inserts
    is refused, as SQLite refuses it at its own set's end (a row may refer to itself)."""

    def __init__(self, fks: ForeignKeys, table: str) -> None:
        self.fks, self.table = fks, table

    def after_statement(self, spec: CollectionSpec, changes: list[RowChange],
                        pending: PendingBatch, checks: Any = None) -> None:
        self.fks.after_statement(spec, changes, pending, checks)
        if spec.name == self.table:
            _refuse_forward_references(spec, changes)

    def act_now(self, spec: CollectionSpec, deleted: dict[str, Any], pending: PendingBatch,
                checks: Any) -> Any:
        return self.fks.act_now(spec, deleted, pending, checks)


def _refuse_forward_references(spec: CollectionSpec, changes: list[RowChange]) -> None:
    """IntegrityError if a row of ``changes`` (rows inserted, in order) refers, by an immediate
    key to its own table, to a key only a later one of them holds. (A key held before the
    call can't be one a later row inserts: that row's INSERT fails as a duplicate.)"""
    rows = [c.after for c in changes if c.after is not None]
    for fk in spec.foreign_keys:
        if _deferred(fk) or fk.referred_table.lower() != spec.name.lower():
            continue
        held, keys = _column_keys(rows, fk.referred_columns), _column_keys(rows, fk.columns)
        # the first row holding each key (a key held twice fails the INSERT anyway)
        first = {key: n for n, key in reversed(list(enumerate(held)))}
        first.pop(None, None)
        for n, key in enumerate(keys):
            if key is not None and first.get(key, n) > n:
                shown = _show(key) if isinstance(key, tuple) else repr(key)
                raise IntegrityError(
                    f"FOREIGN KEY constraint failed: {spec.name}({', '.join(fk.columns)}) = "
                    f"{shown} has no row in {spec.name}({', '.join(fk.referred_columns)})"
                    " when its parameter set ends (a later set of the executemany inserts it)")


def _column_keys(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[Any]:
    """Each row's key in ``columns`` (``_values``), the value itself for one column."""
    if len(columns) == 1:
        return [body.get(columns[0]) for body in rows]
    return [_values(body, columns) for body in rows]


def _deferred(fk: ForeignKeySpec) -> bool:
    """SQLite defers only a ``DEFERRABLE INITIALLY DEFERRED`` key to COMMIT."""
    return bool(fk.deferrable) and (fk.initially or "").upper() == "DEFERRED"


def _acts(fk: ForeignKeySpec) -> bool:
    """Whether removing a key a row refers to by ``fk`` does something at the statement
    (an action, or RESTRICT's refusal), deferred or not."""
    return any((rule or "NO ACTION").upper() != "NO ACTION"
               for rule in (fk.ondelete, fk.onupdate))


def _inserts_only(stmt: ast.Insert) -> bool:
    """Whether an INSERT only inserts rows or skips them (``OR IGNORE``, ``DO NOTHING``),
    never changing or deleting one."""
    return stmt.resolution in (None, ast.ConflictResolution.IGNORE) and all(
        clause.assignments is None for clause in stmt.on_conflict)


def _on_delete_acts(fk: ForeignKeySpec) -> bool:
    """Whether deleting a row referred to by ``fk`` changes the rows referring to it."""
    return (fk.ondelete or "").upper() in ("CASCADE", "SET NULL", "SET DEFAULT")


def _refers_to_itself(spec: CollectionSpec) -> bool:
    return any(not _deferred(fk) and fk.referred_table.lower() == spec.name.lower()
               for fk in spec.foreign_keys)


class _WrittenNow:
    """The rows COMMIT checks for the deferred keys: a row a statement wrote as the
    transaction holds it now, none if it no longer writes it (deleted since, or a savepoint
    rolled back, leaving the stored row, which its own commit checked). A table without a
    primary key can't tell a row's later versions: every row the transaction holds in it is
    checked (once)."""

    def __init__(self, pending: PendingBatch) -> None:
        self.pending = pending
        self._keyless: set[str] = set()  # tables without a key whose rows were all taken

    def bodies(self, spec: CollectionSpec, body: dict[str, Any]) -> list[dict[str, Any]]:
        if not spec.primary_key:
            if spec.name in self._keyless:
                return []
            self._keyless.add(spec.name)
            docs = self.pending.overlay.get(spec.name, {})
            return [b for b in map(body_of, docs.values()) if b is not None]
        doc_id = spec.document_id(tuple(body.get(k) for k in spec.primary_key))
        state = self.pending.get(spec.name, doc_id)
        current = None if state is None else body_of(state)
        return [] if current is None else [current]


def _guard_stored(parent: CollectionSpec, doc_ids: list[str], pending: PendingBatch,
                  versions: dict[str, str] | None = None) -> None:
    """The commit must find the stored parents referred to, as this transaction read them:
    one guard each (an unchanged PATCH, which fails on a missing document, and with
    ``versions`` on one changed since), so a parent another transaction deletes before this
    one commits fails the commit instead of leaving the new reference dangling. Parents this
    transaction writes need none."""
    for doc_id in dict.fromkeys(doc_ids):
        if pending.get(parent.name, doc_id) is None:
            cv = versions.get(doc_id) if versions else None
            pending.add_guard(Patch(parent.name, doc_id, {}, cv or None, seen=cv or None))


def _values(body: dict[str, Any], columns: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The key a row holds in ``columns``; None if any is NULL (such a row refers to none)."""
    key = tuple(body.get(c) for c in columns)
    return None if any(v is None for v in key) else key


def _holds(doc: Any, columns: tuple[str, ...], key: tuple[Any, ...]) -> bool:
    return doc is not None and doc[1] is not None and _values(doc[1], columns) == key


def _moved(spec: CollectionSpec, before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(before.get(c) != after.get(c) for fk in spec.foreign_keys for c in fk.columns)


def _still_there(spec: CollectionSpec, body: dict[str, Any],
                 pending: PendingBatch) -> dict[str, Any] | None:
    """A row the statement wrote as it stands at the statement's end: None if its actions
    deleted it (a cascade), the later row if one took its key (a row of the same ``INSERT OR
    REPLACE``: SQLite checks only the rows that remain)."""
    if not spec.primary_key:
        return body
    doc_id = spec.document_id(tuple(body.get(k) for k in spec.primary_key))
    state = pending.get(spec.name, doc_id)
    return body if state is None else body_of(state)


def _show(key: tuple[Any, ...]) -> str:
    return repr(key[0]) if len(key) == 1 else repr(key)
