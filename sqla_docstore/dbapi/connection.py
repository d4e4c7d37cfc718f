"""PEP 249 Connection and Cursor: a pending batch per connection, one backend batch per commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from .. import errors
from ..backends.base import BackendConnection
from ..commands import Batch, CreateRun, PatchRun
from ..generated import check_schema
from ..pending import PendingBatch
from ..schema import CollectionSpec
from ..statements import ast
from ..statements.prepared import Prepared, prepare
from ..statements.prepared import StatementKind as Kind
from ..values import to_json
from . import (
    compared,
    decimals,
    executor,
    gc_pause,
    insert_columns,
    params,
    unique_check,
    upsert,
    views,
)
from .foreign_keys import ForeignKeys, InsertOrder, SetOrder


class pep249(errors.ErrorScope):  # noqa: N801 - used as a function
    """Every error leaving the DB-API is a PEP 249 one. The package raises its own classes
    where it knows what went wrong; anything else is a defect, reported as InternalError with
    the original exception kept as the cause (a nesting the parser did not bound as a
    ProgrammingError). A BaseException such as KeyboardInterrupt passes through."""

    __slots__ = ()

    def translate(self, exc: BaseException) -> errors.Error | None:
        if isinstance(exc, errors.Error) or not isinstance(exc, Exception):
            return None
        if isinstance(exc, RecursionError):
            return errors.ProgrammingError(f"{self.what}: the statement is nested too deeply")
        return errors.InternalError(
            f"{self.what} failed with an unexpected {type(exc).__name__}: {exc}")


class Warm(NamedTuple):
    """A query kept as the load by key it is (``Connection.warm``), while ``token`` stands."""

    token: object  # the backend's schema token when it was planned
    point: executor.PointLookup
    decimal_at: decimals.Positions  # its NUMERIC columns (see dbapi.decimals)
    positional: tuple[str, ...]  # the names of its ? parameters, in order
    description: tuple[tuple[Any, ...], ...] | None  # its result's (the point's labels)
    key: str | None  # the parameter that is its one key value, if one is (executor.key_param)
    read: executor.KeyReader | None  # the point's read by that value (PointLookup.read_key)


class Connection:
    """A transaction is implicit: writes collect in a pending batch until commit() or rollback()."""

    Error = errors.Error
    Warning = errors.Warning
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self, backend: BackendConnection, *, cluster_wide: bool = False,
                 foreign_keys: bool = False, unique_checks: str = "statement") -> None:
        self._backend: BackendConnection | None = backend
        self.pending = PendingBatch()
        self.cluster_wide = cluster_wide
        #: when unique values are checked: "statement" (each write statement, as SQL; the
        #: commit reserves them too) or "commit" only (see dbapi.unique_check)
        self.unique_checks = _unique_checks(unique_checks)
        #: the integer key the connection's INSERTs gave the last row they inserted (SQLite's
        #: last_insert_rowid(); 0 before any): the lastrowid of an INSERT that inserted none
        self.last_insert_rowid = 0
        #: declared foreign keys enforced (SQLite's PRAGMA foreign_keys; see foreign_keys.py)
        self.fks: ForeignKeys | None = ForeignKeys(backend) if foreign_keys else None
        #: cluster-wide batches check every written document's version (RavenDB's atomic
        #: guards); False is RavenDB's disableAtomicDocumentWrites (last writer wins)
        self.atomic_guards = True
        self._committed_versions: dict[str, str] = {}
        #: the next commit records the change vectors of the documents it creates too (a
        #: session with optimistic concurrency sets it; bulk inserts skip the reply otherwise)
        self.track_versions = False
        #: set by a transactional test fixture: the outermost savepoint is the application's
        #: transaction, so its release counts as a commit (one batch) and what it wrote then
        #: reads as stored data; its rollback forgets what it read, as a real one does
        self.savepoint_commits = False
        #: schemas assume_collections passed on in this transaction, by collection name
        self._assumed: dict[str, CollectionSpec] = {}
        #: the last collection of schemas passed on whole (a compiled statement's, reused)
        self._assumed_last: object = None
        #: temporary collections this connection created: dropped when it closes
        self.temporary: list[str] = []
        #: statement text -> the queries run as loads by key (``Warm``): run again as such
        #: while the token stands (see Cursor._run_warm)
        self.warm: dict[str, Warm] = {}
        #: each statement is a transaction of its own, committed when it ends (sqlite3's
        #: ``autocommit``; SQLAlchemy's AUTOCOMMIT isolation level), except while a
        #: savepoint is open: as in SQLite, a SAVEPOINT outside a transaction begins one,
        #: which the release of the outermost savepoint commits
        self.autocommit = False

    @property
    def note_reads(self) -> bool:
        """Whether every stored document a query reads is noted with its change vector (in
        ``change_vectors``; a later UPDATE or DELETE by key then takes the body read rather
        than load it). False (the default): on the embedded store a query reads the bodies
        alone, except in a transaction that has written and for ``SELECT ... FOR UPDATE``
        (whose documents are guarded by their change vectors); loads by key are noted
        either way, and RavenDB, which sends change vectors with the documents, notes every
        read. A DocumentSession sets it on the connections it uses (and restores it)."""
        return self.pending.note_reads

    @note_reads.setter
    def note_reads(self, value: bool) -> None:
        self.pending.note_reads = bool(value)

    @property
    def change_vectors(self) -> ChangeVectors:
        """Document id -> change vector, as this connection last read or wrote it (the reads
        of queries are listed where they are noted: ``note_reads``)."""
        return ChangeVectors(self.pending.seen, self._committed_versions)

    @property
    def expected_change_vectors(self) -> dict[str, str]:
        """Document id -> change vector an UPDATE or DELETE by key must find at commit
        (optimistic concurrency); emptied when the transaction ends."""
        return self.pending.expected

    def __repr__(self) -> str:
        state = "closed" if self._backend is None else f"{len(self.pending)} pending"
        return f"<sqla_docstore.dbapi.Connection {state}>"

    @property
    def backend(self) -> BackendConnection:
        if self._backend is None:
            raise errors.InterfaceError("connection is closed")
        return self._backend

    @property
    def closed(self) -> bool:
        return self._backend is None

    @property
    def request_counts(self) -> dict[str, int]:
        """Backend calls made through this connection, by kind (load, query, batch, hilo, ...)."""
        return dict(self.backend.counts)

    def cursor(self, *, stream: bool = False) -> Cursor:
        """A cursor. ``stream=True`` (a server-side cursor, as SQLAlchemy's
        ``stream_results`` / ``yield_per`` ask for): a query's rows come from the store as
        they are fetched, in memory a chunk (``arraysize``, at least 1000) at a time, where
        the backend can (a file store, no pending writes to the tables read); else whole. A
        statement without rows (DML, DDL) reads as no rows on it, as on sqlite3's cursors:
        SQLAlchemy fetches a streaming cursor's first row whatever the statement."""
        return Cursor(self, stream=stream)

    def assume_collections(self, specs: Iterable[CollectionSpec]) -> None:
        """The schemas an application maps (the dialect passes its Tables'): a collection
        that does not exist yet is created with its schema (embedded store) or read and
        written by it (RavenDB, where collections come with their first document); one that
        exists with no declared schema (another client's) is read and written through it.
        A declared schema always wins. Checked per statement: keep it cheap when known."""
        if specs is self._assumed_last:
            return  # the statement run before mapped the same Tables (one identity check)
        todo = self.unassumed(specs)
        if todo:
            with pep249("a mapped collection"):
                backend = self.backend
                for spec in todo:
                    backend.assume(spec)
                    self._assumed[spec.name] = spec
        self._assumed_last = specs

    def keep_warm(self, operation: str, token: object, point: executor.PointLookup,
                  decimal_at: decimals.Positions, positional: tuple[str, ...] = ()) -> None:
        warm = self.warm
        if len(warm) >= 500 and operation not in warm:
            warm.clear()
        key = executor.key_param(point)
        if positional and positional != (key,):
            key = None  # (other ? parameters too: the values are mapped to their names)
        warm[operation] = Warm(token, point, decimal_at, positional,
                               _description(list(point.labels)) if point.labels else None, key,
                               None if key is None else point.read_key)

    def unassumed(self, specs: Iterable[CollectionSpec]) -> list[CollectionSpec]:
        """Those of ``specs`` this transaction has not assumed yet (no I/O)."""
        return [s for s in specs if self._assumed.get(s.name) is not s]

    def commit(self) -> None:
        """Send the pending batch as one atomic backend call (no call if it is empty)."""
        with _COMMIT, gc_pause.paused(len(self.pending)):
            self._commit()

    def _commit(self) -> None:
        backend = self.backend
        pending = self.pending
        if self.fks is not None and pending:
            # deferred foreign keys, checked as SQLite checks them at COMMIT: a violation
            # fails the commit and leaves the transaction open (nothing was sent)
            self.fks.check_deferred(pending)
        try:
            if pending:
                # Inserts only (bulk loads) need no reply; after updates and deletes the new
                # change vectors are kept for the next optimistic-concurrency check.
                wanted = self.track_versions or not pending.only_creates()
                # runs kept as columns go as they are to a backend that takes them (runs of
                # PUTs only when no reply is wanted), the others are made into commands
                taken: tuple[type, ...] = (CreateRun,) if not wanted and getattr(
                    backend, "takes_create_runs", False) else ()
                if getattr(backend, "takes_patch_runs", False):
                    taken += (PatchRun,)
                commands, created = pending.commands_and_runs(taken)
                batch = Batch(list(commands), self.cluster_wide,
                              atomic_guards=self.atomic_guards, overlay=pending.overlay,
                              creates_only=pending.creates_only, created=list(created))
                results = backend.submit(batch, results=wanted)
                self._remember_versions(results)
        finally:
            # A failed commit ends the transaction too (the store applied nothing): its writes
            # must not linger and go out with the next commit.
            self._discard()

    def _remember_versions(self, results: list[dict[str, Any]]) -> None:
        versions = self._committed_versions
        if len(versions) > 10_000:
            versions.clear()
        if _by_id_and_cv(results):  # (the loop's answer, in C loops: a commit's PATCHes)
            versions.update(zip(map(_RESULT_ID, results), map(_RESULT_CV, results),
                                strict=True))
            return
        for result in results:
            if not isinstance(result, dict):
                continue
            doc_id = result.get("@id") or result.get("Id")
            cv = result.get("@change-vector") or result.get("ChangeVector")
            if isinstance(doc_id, str) and isinstance(cv, str):
                versions[doc_id] = cv

    def statement_done(self) -> None:
        """In autocommit mode a statement that ran commits what it wrote (and forgets what
        it read: the next statement is another transaction)."""
        if self.autocommit and not self.pending.in_savepoint:
            try:
                self.commit()
            except errors.IntegrityError:
                # a deferred foreign key the statement left violated: in autocommit mode
                # the statement fails and is undone, as in SQLite
                self._discard()
                raise

    def rollback(self) -> None:
        if self._backend is not None:
            with _ROLLBACK:
                self._discard()

    # Two-phase commit (not in PEP 249's core): prepare() checks and applies the batch without
    # making it visible; commit_prepared() or rollback_prepared() then ends it.
    def prepare(self) -> None:
        with pep249("prepare"):
            self._prepare()

    def _prepare(self) -> None:
        if self.fks is not None and self.pending:
            self.fks.check_deferred(self.pending)  # (as commit checks them; nothing sent)
        # The prepared batch outlives nothing of the pending state, but keeps its own copy of
        # the final document states (cluster-wide batches send whole documents).
        overlay = {name: dict(docs) for name, docs in self.pending.overlay.items()}
        batch = Batch(list(self.pending.commands), self.cluster_wide,
                      atomic_guards=self.atomic_guards, overlay=overlay)
        try:
            self.backend.prepare(batch)
        except BaseException:
            self._discard()
            raise

    def commit_prepared(self) -> None:
        with pep249("commit_prepared"):
            self._end_prepared(commit=True)

    def rollback_prepared(self) -> None:
        with pep249("rollback_prepared"):
            self._end_prepared(commit=False)

    def _end_prepared(self, commit: bool) -> None:
        try:
            self.backend.end_prepared(commit=commit)
        finally:
            self._discard()

    def _discard(self) -> None:
        self.track_versions = False
        backend = self.backend
        touched = bool(self.pending.overlay)
        self.pending.clear()
        if touched:
            backend.reset_overlay()
        backend.end_transaction()
        self._assumed.clear()
        self._assumed_last = None
        if self.fks is not None:
            self.fks.end_transaction()

    # Savepoints are not in PEP 249; they work on the pending batch, never on the store.
    def savepoint(self, name: str) -> None:
        if self._backend is None:
            raise errors.InterfaceError("connection is closed")
        self.pending.savepoint(name)

    def rollback_to_savepoint(self, name: str) -> None:
        unit = self.savepoint_commits and self.pending.outermost_savepoint(name)
        self.pending.rollback_to(name)
        if unit:
            self.pending.end_of_unit(committed=False)

    def release_savepoint(self, name: str) -> None:
        pending = self.pending
        if self.savepoint_commits and pending.outermost_savepoint(name):
            if pending.writes_since(name):
                backend = self.backend  # the batch a real commit would send, counted
                if backend.before_request is not None:
                    backend.before_request("batch")
                backend.counts["batch"] += 1
            pending.release(name)
            pending.end_of_unit(committed=True)
            return
        pending.release(name)

    def close(self) -> None:
        if self._backend is not None:
            self.pending.clear()
            backend, self._backend = self._backend, None
            with pep249("close"):
                self._drop_temporary(backend)
                backend.close()

    def _drop_temporary(self, backend: BackendConnection) -> None:
        """A temporary collection ends with the connection that created it (as SQLite's
        temporary tables do); one dropped already is skipped."""
        for name in self.temporary:
            try:
                backend.execute_schema(ast.DropCollection(name))
            except errors.OperationalError:
                pass  # dropped by the application already
        self.temporary.clear()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def _run_schema(conn: Connection, stmt: ast.Statement) -> None:
    """DDL applies at once (not transactionally, as in RavenDB). A dropped collection's pending
    writes in this connection's transaction are discarded with it, as SQL's DROP TABLE inside
    a transaction drops the rows that transaction wrote: a collection created again starts
    empty, and COMMIT sends the transaction's other writes."""
    backend = conn.backend
    if _nothing_to_do(backend, stmt):
        return
    if isinstance(stmt, ast.CreateCollection):
        check_schema(CollectionSpec.from_json(stmt.name, stmt.spec), backend.evaluate)
        if stmt.spec.get("temporary"):
            conn.temporary.append(stmt.name)
    prefix = None
    if isinstance(stmt, ast.DropCollection):
        try:
            spec = backend.spec(stmt.name)
        except errors.OperationalError:
            pass  # no such collection: the DROP itself says so
        else:
            if spec.view is not None:
                raise errors.ProgrammingError(f"use DROP VIEW to delete view {stmt.name}")
            prefix = spec.prefix
    _refuse_alter_over_pending(conn, stmt)
    try:
        backend.execute_schema(stmt)
    except errors.OperationalError:
        conditional = getattr(stmt, "if_exists", False) or getattr(stmt, "if_not_exists", False)
        if conditional and _nothing_to_do(backend, stmt):
            return  # another client created or dropped it meanwhile
        raise
    if isinstance(stmt, ast.DropCollection) and prefix is not None:
        conn.pending.discard_collection(stmt.name, prefix)


def _nothing_to_do(backend: BackendConnection, stmt: ast.Statement) -> bool:
    """``CREATE ... IF NOT EXISTS`` of a table (or view) that exists, ``DROP ... IF EXISTS``
    of one that does not: nothing, as in SQLite. A DROP INDEX of no index without IF EXISTS
    is an OperationalError, as SQLite says it."""
    if isinstance(stmt, ast.CreateCollection) and stmt.if_not_exists:
        return backend.exists(stmt.name)
    if isinstance(stmt, ast.DropCollection) and stmt.if_exists:
        return not backend.exists(stmt.name)
    if isinstance(stmt, ast.DropIndex):
        if any(stmt.name in backend.spec(name).indexes for name in backend.collection_names()):
            return False
        if stmt.if_exists:
            return True
        raise errors.OperationalError(f"no such index: {stmt.name}")
    return False


def _refuse_alter_over_pending(conn: Connection, stmt: ast.Statement) -> None:
    """An ALTER COLLECTION that rewrites or checks the stored documents (a default filled in, a
    column dropped, renamed or retyped, NOT NULL checked, the table renamed) while this
    transaction has uncommitted writes to that collection: OperationalError. It applies to
    the stored documents at once (DDL is not transactional) and the pending ones would miss
    it, and be committed without the default, under the old name or type, or NULL in a NOT
    NULL column. (Alembic sends the pending writes before each schema change.)"""
    if not isinstance(stmt, ast.AlterCollection) or not conn.pending.touches(stmt.name):
        return
    data = stmt.spec
    rewrites = {
        "add_column": data.get("default") is not None or data.get("nullable") is False,
        "drop_column": True,
        "alter_column": "type" in data or data.get("nullable") is False
        or bool(data.get("new_name")),
        "rename_table": True,
    }.get(stmt.action, False)
    if rewrites:
        raise errors.OperationalError(
            f"ALTER COLLECTION {stmt.name} ({stmt.action}) while this transaction has "
            "uncommitted writes to it: commit them first (the change applies to the stored "
            "documents at once; the pending ones would miss it)")


#: ``Connection.unique_checks``: at each write statement, or at commit only
STATEMENT, COMMIT = "statement", "commit"


def _unique_checks(value: str) -> str:
    if value not in (STATEMENT, COMMIT):
        raise errors.ProgrammingError(
            f"unique_checks must be {STATEMENT!r} or {COMMIT!r}, not {value!r}")
    return value


_WRITES: dict[Kind, Any] = {
    Kind.INSERT: upsert.run_insert,
    Kind.UPDATE: executor.run_update,
    Kind.DELETE: executor.run_delete,
}


def _write(conn: Connection, kind: Kind, stmt: Any, param_sets: Sequence[dict[str, Any]],
           many: bool) -> executor.Outcome:
    """A write statement's rows, with its parameter sets; checked as SQLite checks each
    set at its own end (foreign keys: see ``ForeignKeys.executemany_order``)."""
    fks: executor.ForeignKeyRules | None = conn.fks
    if conn.fks is not None and many and len(param_sets) > 1:
        apart = kind is Kind.UPDATE and executor.sets_apart(conn.backend, stmt, param_sets)
        order = conn.fks.executemany_order(stmt, apart)
        if order is SetOrder.EACH_SET:
            return executor.merged([_write_checked(conn, kind, stmt, [p], conn.fks)
                            for p in param_sets])
        if order is SetOrder.INSERT_ORDER:
            fks = InsertOrder(conn.fks, conn.backend.spec(stmt.table).name)
    return _write_checked(conn, kind, stmt, param_sets, fks)


def _write_checked(conn: Connection, kind: Kind, stmt: Any,
                   param_sets: Sequence[dict[str, Any]],
                   fks: executor.ForeignKeyRules | None) -> executor.Outcome:
    backend, pending = conn.backend, conn.pending
    uniques = unique_check.rules_for(backend, stmt, fks) if (
        conn.unique_checks == STATEMENT) else None
    outcome: executor.Outcome = _WRITES[kind](backend, stmt, param_sets, pending,
                                              uniques or fks)
    if uniques is not None:
        uniques.verify(pending)
    return outcome


_SAVEPOINT_OPS = {
    ast.SavepointAction.SAVEPOINT: Connection.savepoint,
    ast.SavepointAction.RELEASE: Connection.release_savepoint,
    ast.SavepointAction.ROLLBACK_TO: Connection.rollback_to_savepoint,
}


_descriptions: dict[tuple[str, ...], tuple[tuple[Any, ...], ...]] = {}
#: the scopes of every execute, commit and rollback (one object each: it keeps no state of a
#: call)
_EXECUTE = pep249("execute")
_COMMIT = pep249("commit")
_ROLLBACK = pep249("rollback")


def _description(columns: list[str]) -> tuple[tuple[Any, ...], ...]:
    """A result's PEP 249 description (name and six Nones per column), one tuple per list of
    names (shared by the results of a statement: immutable)."""
    key = tuple(columns)
    hit = _descriptions.get(key)
    if hit is None:
        if len(_descriptions) >= 1000:
            _descriptions.clear()
        hit = _descriptions[key] = tuple(
            (name, None, None, None, None, None, None) for name in key)
    return hit


_RESULT_ID = itemgetter("Id")
_RESULT_CV = itemgetter("ChangeVector")


def _by_id_and_cv(results: list[Any]) -> bool:
    """Whether every batch result is a dict naming its document by a string "Id" and its
    change vector by a string "ChangeVector", none by "@id" or "@change-vector" (which
    ``_remember_versions`` reads first)."""
    if not results or set(map(type, results)) != {dict}:
        return False
    if any(map(dict.get, results, repeat("@id"))) or any(
            map(dict.get, results, repeat("@change-vector"))):
        return False
    try:
        return ({*map(type, map(_RESULT_ID, results))} == {str}
                and {*map(type, map(_RESULT_CV, results))} == {str})
    except KeyError:
        return False


class ChangeVectors:
    """Read-only view: what this transaction read, else what the last commits wrote."""

    def __init__(self, seen: dict[str, Any], committed: dict[str, str]) -> None:
        self._seen = seen
        self._committed = committed

    def get(self, doc_id: str, default: str | None = None) -> str | None:
        hit = self._seen.get(doc_id)
        if hit is not None and hit[1]:
            return str(hit[1])
        return self._committed.get(doc_id, default)

    def __getitem__(self, doc_id: str) -> str:
        value = self.get(doc_id)
        if value is None:
            raise KeyError(doc_id)
        return value

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.get(doc_id) is not None


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection, *, stream: bool = False) -> None:
        self.connection: Connection | None = connection
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._pos = 0
        self._stream = stream
        self._ran = False  # a statement ran (a streaming cursor's DML reads as no rows)
        self._chunks: Iterator[list[tuple[Any, ...]]] | None = None  # rows still in the store

    def _conn(self) -> Connection:
        if self.connection is None:
            raise errors.InterfaceError("cursor is closed")
        return self.connection

    def execute(self, operation: str,
                parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        """Run a statement; ``parameters`` is a sequence of values for a statement with ``?``
        or a mapping for one with ``:name`` (see ``dbapi.params``)."""
        try:  # (as ``with pep249("execute")``, and a failure leaves no result)
            if not self._run_warm(operation, parameters):
                self._run(operation, [parameters], many=False)
            if self.connection is not None and self.connection.autocommit:
                self.connection.statement_done()
        except BaseException as exc:
            self._forget_result()
            if isinstance(exc, Exception):
                _EXECUTE.reraise(exc)
            raise
        return self

    def _run_warm(self, operation: str, parameters: Any) -> bool:
        """A load by key run before with these schemas (``Connection.warm``): no parse, view
        or plan lookups, the parameters read as given (a tuple of the right length for ``?``
        mapped to their names). False: run it in full (``_run``, which checks them)."""
        conn = self.connection
        if conn is None or type(operation) is not str:
            return False
        warm = conn.warm.get(operation)
        if warm is None:
            return False
        token, point, decimal_at, positional, description, key, read = warm
        backend = conn._backend
        if backend is None or token != backend.schema_token():
            return False
        if self._chunks is not None:  # (else ``_run`` ends it, if this returns False)
            self._end_stream()
        if read is not None:  # one key value (the common load by key): no dict of names
            if positional:  # (then ``key`` is its one ? parameter)
                if type(parameters) is not tuple or len(parameters) != 1:
                    return False
                value = parameters[0]
            elif type(parameters) is dict and key in parameters:
                value = parameters[key]
            else:
                return False
            if type(value) is not int and type(value) is not str:
                value = to_json(value)  # (as executor._value reads a parameter)
            rows = read(backend, value, conn.pending)
        else:
            if positional:
                if type(parameters) is not tuple or len(parameters) != len(positional):
                    return False
                parameters = dict(zip(positional, parameters, strict=False))  # same length
            elif type(parameters) is not dict:
                return False
            rows = executor.point_rows(backend, point, parameters, conn.pending)
        if rows is None:
            return False
        # (the Outcome run_point gives: its columns are the labels)
        self._set_rows(description, decimals.convert_at(rows, decimal_at)
                       if rows and decimal_at else rows)
        return True

    def executemany(self, operation: str,
                    seq_of_parameters: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        """Run a statement once per parameter set (sequences for ``?``, mappings for
        ``:name``)."""
        if isinstance(seq_of_parameters, (str, bytes, Mapping)) or not isinstance(
            seq_of_parameters, Iterable
        ):
            self._forget_result()
            raise errors.ProgrammingError(
                "executemany() takes a sequence of parameter sets (sequences of values for ?, "
                f"mappings for :name), not {type(seq_of_parameters).__name__}")
        with pep249("executemany"):
            try:
                given = (seq_of_parameters if type(seq_of_parameters) is list
                         else list(seq_of_parameters))
                with gc_pause.paused(len(given)):
                    self._run(operation, given, many=True)
                self._conn().statement_done()
            except BaseException:
                self._forget_result()
                raise
        return self

    def _run(self, operation: str, given: list[Any], many: bool) -> None:
        """Run ``operation`` with the parameter sets ``given`` (one unless ``many``), each
        checked against the statement's parameters (``dbapi.params``)."""
        conn = self._conn()
        backend = conn.backend
        if not isinstance(operation, str):
            raise errors.ProgrammingError(f"operation must be a string, not {operation!r}")
        prep = prepare(operation)
        param_sets = params.bind_many(prep, given) if many else [params.bind(prep, given[0])]
        # The token as it was before any schema was read (views, plans): a schema change made
        # meanwhile (by another thread's connection sharing the schemas, as RavenDB's
        # connections of an engine do) moves the token past it, never into it.
        token = backend.schema_token()
        stmt = views.expand(backend, prep.stmt)
        kind = prep.kind
        if kind is Kind.INSERT:  # (without a column list: the table's own)
            stmt = insert_columns.with_columns(backend, stmt)
        if kind in compared.KINDS:  # values compared with columns, by their affinity
            stmt, param_sets = compared.converted(backend, stmt, param_sets)
        pending = conn.pending
        if self._chunks is not None:
            self._end_stream()
        if kind is Kind.QUERY:
            if not many and self._run_point(operation, prep, stmt, param_sets[0], token):
                return
            if self._stream and not many:
                streamed = executor.stream_select(backend, stmt, param_sets[0], pending,
                                                  max(self.arraysize, 1000))
                if streamed is not None:
                    self._set(executor.Outcome(streamed[0], [], -1))
                    self._chunks = decimals.convert_stream(backend, stmt, *streamed)
                    return
            with gc_pause.paused(gc_pause.READ):  # a result's rows are all new objects
                outcomes = [executor.run_select(backend, stmt, p, pending) for p in param_sets]
            outcome = outcomes[-1] if outcomes else executor.Outcome()
            if many:
                outcome.rows = [r for o in outcomes for r in o.rows]
        elif kind in _WRITES:
            with pending.atomic_statement():
                outcome = _write(conn, kind, stmt, param_sets, many)
        elif kind is Kind.SCHEMA:
            _run_schema(conn, stmt)
            conn._assumed.clear()  # a dropped collection is created again on its next use
            conn._assumed_last = None
            if conn.fks is not None:
                conn.fks.forget()  # the keys that refer to a table may have changed
            outcome = executor.Outcome()
        elif kind is Kind.SAVEPOINT:
            _SAVEPOINT_OPS[stmt.action](conn, stmt.name)
            outcome = executor.Outcome()
        elif kind is Kind.CREATE_TABLE_AS:
            with pending.atomic_statement():
                outcome = views.create_table_as(backend, stmt, param_sets[0], pending,
                                                conn.fks)
        elif kind is Kind.CREATE_VIEW:
            views.create_view(backend, stmt)
            outcome = executor.Outcome()
        elif kind is Kind.DROP_VIEW:
            views.drop_view(backend, stmt)
            outcome = executor.Outcome()
        else:  # pragma: no cover - the parser returns only the kinds above
            raise errors.NotSupportedError(f"statement kind {type(stmt).__name__}")
        if outcome.rows and (kind is Kind.QUERY or kind in _WRITES):
            outcome.rows = decimals.convert(backend, stmt, outcome.columns, outcome.rows)
        if kind is Kind.INSERT:
            self._last_insert_rowid(outcome, many)
        self._set(outcome)

    def _last_insert_rowid(self, outcome: executor.Outcome, many: bool) -> None:
        """sqlite3's lastrowid after an INSERT that inserted no row (an upsert that skipped or
        updated its rows, an INSERT ... SELECT of no rows): after execute() the rowid the
        connection inserted last (0 if none), after executemany() the cursor's as it was."""
        conn = self._conn()
        if outcome.lastrowid is not None:
            conn.last_insert_rowid = outcome.lastrowid
        elif outcome.inserted_none or outcome.rowcount == 0:
            outcome.lastrowid = self.lastrowid if many else conn.last_insert_rowid

    def _run_point(self, operation: str, prep: Prepared, stmt: ast.SelectLike,
                   params: dict[str, Any], token: object | None) -> bool:
        """A query that is a load by key, run as one (False: it is not, or this key must be
        queried); kept in ``Connection.warm`` while the backend's schema token stands."""
        conn = self._conn()
        backend = conn.backend
        point = executor.warm_point(backend, stmt)
        if point is None:
            return False
        outcome = executor.run_point(backend, point, params, conn.pending)
        if outcome is None:
            return False
        at = decimals.positions(backend, stmt, outcome.columns)
        outcome.rows = decimals.convert_at(outcome.rows, at)
        # (a statement reading a view: not kept; nor one that read a schema anew)
        if token is not None and token == backend.schema_token() and stmt is prep.stmt:
            conn.keep_warm(operation, token, point, at, prep.positional)
        self._set(outcome)
        return True

    def _set(self, outcome: executor.Outcome) -> None:
        self._set_rows(_description(outcome.columns) if outcome.columns else None,
                       outcome.rows, outcome.rowcount, outcome.lastrowid)

    def _set_rows(self, description: tuple[tuple[Any, ...], ...] | None,
                  rows: list[tuple[Any, ...]], rowcount: int = -1,
                  lastrowid: int | None = None) -> None:
        self.description = description
        self._ran = True
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self._rows = rows
        self._pos = 0

    def _forget_result(self) -> None:
        """A statement failed: the cursor has no result (the last one's rows are not handed
        out as if they were its), as sqlite3's has none."""
        self._end_stream()
        self._set_rows(None, [])
        self._ran = False

    def _check_result(self) -> None:
        self._conn()
        if self.description is None and not (self._stream and self._ran):
            raise errors.ProgrammingError("the last operation produced no result set")

    @property
    def streaming(self) -> bool:
        """Rows of the current result are still in the store (a streaming cursor)."""
        return self._chunks is not None

    @property
    def chunk_exhausted(self) -> bool:
        return self._pos >= len(self._rows)

    def _refill(self) -> bool:
        """The next chunk of a streamed result, if the store has more rows."""
        if self._chunks is None:
            return False
        with pep249("fetch"), gc_pause.paused(gc_pause.READ):
            chunk = next(self._chunks, None)
        if chunk is None:
            self._chunks = None
            return False
        self._rows, self._pos = chunk, 0
        return True

    def _end_stream(self) -> None:
        if self._chunks is None:
            return
        chunks, self._chunks = self._chunks, None
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # the store's cursor (and its read connection) is released now

    def fetchone(self) -> tuple[Any, ...] | None:
        if self.connection is None or self.description is None:
            self._check_result()  # (raises: called a row at a time, so checked inline first)
        if self._pos >= len(self._rows) and not self._refill():
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        self._check_result()
        size = self.arraysize if size is None else size
        rows = self._rows[self._pos:self._pos + size]
        self._pos += len(rows)
        while len(rows) < size and self._refill():
            more = self._rows[:size - len(rows)]
            self._pos = len(more)
            rows.extend(more)
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self.connection is None or self.description is None:
            self._check_result()  # (raises: checked inline first, as in fetchone)
        rows = self._rows[self._pos:] if self._pos or self._chunks is not None else self._rows
        self._rows, self._pos = [], 0  # (the list handed out is the caller's now)
        # a stream's remaining chunks, appended (not copied per chunk)
        while self._chunks is not None and self._refill():
            rows.extend(self._rows)
            self._pos = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """``fetchone()`` until the rows run out, without a method call per row: each row is
        still taken from the cursor's state as it stands (a fetch call or a new statement in
        between is seen; a closed cursor or a statement without rows raises)."""
        while True:
            if self.connection is None or self.description is None:
                self._check_result()
            rows, pos = self._rows, self._pos
            if pos >= len(rows):
                if not self._refill():
                    return
                rows, pos = self._rows, self._pos
            self._pos = pos + 1
            yield rows[pos]

    def close(self) -> None:
        if self._chunks is not None:
            self._end_stream()
        self.connection = None
        self._rows = []

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing, as PEP 249 allows."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Does nothing, as PEP 249 allows."""
