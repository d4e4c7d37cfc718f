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
commit's write transaction, on RavenDB by a query just before the batch. Deferrable
constraints are checked immediately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..backends.base import BackendConnection
from ..commands import Absent, Delete, Patch
from ..errors import IntegrityError
from ..pending import PendingBatch, body_of
from ..schema import CollectionSpec, ForeignKeySpec
from ..statements import ast
from . import executor
from .executor import RowChange


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

    def forget(self) -> None:
        self._referencing = None

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
            checks.written += [(spec, c.after) for c in changes if c.after is not None and (
                c.before is None or _moved(spec, c.before, c.after))]
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

    def _verify(self, checks: _Checks, pending: PendingBatch) -> None:
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
        for spec, body in checks.written:
            current = _still_there(spec, body, pending)
            if current is not None and id(current) not in seen:
                seen.add(id(current))
                by_table.setdefault(spec.name, (spec, []))[1].append(current)
        for spec, bodies in by_table.values():
            self._check_references(spec, bodies, pending)

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
                          pending: PendingBatch) -> None:
        for fk in spec.foreign_keys:
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
        # At commit, no row this transaction does not write may refer to the removed key:
        # one another transaction made refer to it meanwhile fails the commit (a row of this
        # transaction's statements is checked by them, as here).
        checks.removed.append((ref, old))
        rule = ((ref.fk.ondelete if new is None else ref.fk.onupdate) or "NO ACTION").upper()
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
