"""A migration that cannot complete changes nothing: schema changes apply at once (as in
RavenDB), so the Alembic impl keeps, per transaction, what each one replaced and puts it back
when the transaction rolls back (Alembic rolls back a migration that raised).

Before a schema change, the migration's pending writes are sent (so the change sees them, as
SQL's DDL sees its transaction's writes) and every collection they or the change touch is first
copied (schema and documents). Undoing restores those copies in reverse order. Schema changes a
migration makes as raw text (``op.execute("ALTER ...")``) are not covered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..commands import Batch, Delete, Put


@dataclass(frozen=True)
class Snapshot:
    """A collection as it was: ``spec`` None if it did not exist."""

    name: str
    spec: dict[str, Any] | None
    documents: dict[str, dict[str, Any]]


Undo = Callable[[Any], None]  # called with the DB-API connection


class UndoLog:
    def __init__(self) -> None:
        self._steps: list[Undo] = []

    def forget(self) -> None:
        self._steps.clear()

    def before_change(self, dbapi_conn: Any, collections: Iterable[str]) -> None:
        """Send the transaction's pending writes, keeping what they replace, then keep the
        collections a schema change is about to alter."""
        pending = {getattr(c, "collection", None) for c in dbapi_conn.pending.commands}
        for name in sorted(n for n in pending if n):
            self.keep(dbapi_conn, name)
        if pending:
            dbapi_conn.commit()
        for name in collections:
            self.keep(dbapi_conn, name)

    def keep(self, dbapi_conn: Any, name: str) -> None:
        snap = _snapshot(dbapi_conn.backend, name)
        self._steps.append(lambda conn: _restore(conn, snap))

    def add(self, step: Undo) -> None:
        self._steps.append(step)

    def revert(self, dbapi_conn: Any) -> None:
        steps, self._steps = self._steps[::-1], []
        if not steps:
            return
        dbapi_conn.rollback()  # the failed migration's unsent writes go first
        for step in steps:
            try:
                step(dbapi_conn)
            except errors.Error as exc:
                raise errors.OperationalError(
                    f"undoing a failed migration's schema changes failed: {exc}") from exc


def _exists(backend: Any, name: str) -> bool:
    try:
        backend.spec(name)
    except errors.OperationalError:
        return False
    return True


def _snapshot(backend: Any, name: str) -> Snapshot:
    if not _exists(backend, name):
        return Snapshot(name, None, {})
    spec = backend.spec(name)
    return Snapshot(name, spec.to_json(), dict(backend.stored_documents(name)))


def run_ddl(dbapi_conn: Any, text: str) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute(text)
    finally:
        cur.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _restore(dbapi_conn: Any, snap: Snapshot) -> None:
    backend = dbapi_conn.backend
    exists = _exists(backend, snap.name)
    if snap.spec is None:
        if exists:
            run_ddl(dbapi_conn, f"DROP COLLECTION {_quote(snap.name)}")
        return
    if exists:
        action = {"action": "restore", "spec": snap.spec}
        run_ddl(dbapi_conn, f"ALTER COLLECTION {_quote(snap.name)} {json.dumps(action)}")
    else:
        run_ddl(dbapi_conn, f"CREATE COLLECTION {_quote(snap.name)} {json.dumps(snap.spec)}")
    current = dict(backend.stored_documents(snap.name))
    commands: list[Any] = [Delete(snap.name, i, must_exist=False)
                           for i in current if i not in snap.documents]
    commands += [Put(snap.name, i, body) for i, body in snap.documents.items()
                 if current.get(i) != body]
    if commands:
        backend.submit(Batch(commands), results=False)
    spec = backend.spec(snap.name)
    keys = [d.get(spec.autoincrement) for d in snap.documents.values()] if spec.autoincrement \
        else []
    ints = [k for k in keys if isinstance(k, int)]
    if ints:  # a collection created again: its HiLo ids go on after the restored keys
        backend.observe_id(spec.prefix, max(ints))
