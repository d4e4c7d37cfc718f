"""DocumentSession: a SQLAlchemy Session with RavenDB's session API, request budget and options."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import event, inspect, select, tuple_
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.orm import Mapper, Session, attributes, scoped_session
from sqlalchemy.orm import exc as orm_exc
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.orm.state import InstanceState
from sqlalchemy.pool import Pool
from sqlalchemy.schema import Table
from sqlalchemy.util.concurrency import in_greenlet

from .. import errors
from ..dbapi import Connection as DBAPIConnection
from ..dialect.mapping import table_spec
from . import inplace, patching, unsupported
from .budget import DEFAULT_MAX_REQUESTS, RequestBudget
from .options import SessionOptions, TransactionMode

if TYPE_CHECKING:
    from .store import DocumentStore

_UNSET: Any = object()


# ------------------------------------------------------------------------------ errors


class TrackingDisabledError(sa_exc.InvalidRequestError, RuntimeError):
    """An operation needs entity tracking, and the session was opened with ``no_tracking``."""


class ClusterTransactionRequiredError(sa_exc.InvalidRequestError, RuntimeError):
    """A compare-exchange operation was used outside a ``TransactionMode.CLUSTER_WIDE`` session."""


class MissingCoreHookError(NotImplementedError):
    """The backend in use does not expose what this feature needs yet; the message names it."""


# ------------------------------------------------------------------------- what_changed


class ChangeType(str, Enum):
    """RavenDB's ``DocumentsChanges.ChangeType`` (the Python client's values)."""

    DOCUMENT_DELETED = "document_deleted"
    DOCUMENT_ADDED = "document_added"
    FIELD_CHANGED = "field_changed"
    NEW_FIELD = "new_field"
    REMOVED_FIELD = "removed_field"
    ARRAY_VALUE_CHANGED = "array_value_changed"
    ARRAY_VALUE_ADDED = "array_value_added"
    ARRAY_VALUE_REMOVED = "array_value_removed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class DocumentsChanges:
    """One change of ``session.advanced.what_changed()``, shaped as RavenDB's."""

    field_old_value: Any
    field_new_value: Any
    change: ChangeType
    field_name: str | None = None
    field_path: str | None = None


@dataclass
class CompareExchangeValue:
    """A compare-exchange entry: ``key``, the ``index`` it was read or created with, ``value``."""

    key: str
    index: int
    value: Any


class ReadOnlyMetadata(dict[str, Any]):
    """``advanced.get_metadata_for()``: a dict whose edits raise NotSupportedError (RavenDB's
    client would save them; this session can't write metadata, so they are not dropped
    silently)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        keys = [a for a in args[:1] if isinstance(a, str)]
        what = f" ({keys[0]})" if keys else ""
        raise errors.NotSupportedError(
            f"editing a document's metadata{what} through advanced.get_metadata_for() is not "
            "supported: sqla_docstore does not write metadata (RavenDB's client saves such "
            "edits, e.g. @expires); the metadata given is read-only")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = _refuse
    __ior__ = _refuse


# ------------------------------------------------------------- backend attachments


class _Attachment:
    """The session's settings installed on one DB-API connection for one transaction: the
    request-budget hook, cluster-wide batches, unique values checked at commit only, no HTTP
    cache, every read noted with its change vector. ``detach`` restores them."""

    def __init__(self, session: DocumentSession, dbapi_conn: DBAPIConnection) -> None:
        self.session_ref = weakref.ref(session)
        self.dbapi_conn = dbapi_conn
        self.backend = backend = dbapi_conn.backend
        self.hooked = hasattr(backend, "before_request")
        self.previous = getattr(backend, "before_request", None)
        self.active = True
        budget, previous = session._budget, self.previous

        def hook(kind: str) -> None:
            # Left installed by mistake, the hook only passes calls on: after detach it must
            # never count another session's calls.
            if self.active:
                budget.before_request(kind)
            if previous is not None:
                previous(kind)

        self.hook = hook
        backend.before_request = hook
        options = session.session_options
        self.cluster_wide = dbapi_conn.cluster_wide
        # atomic_guards is a core hook the embedded store does not have yet (see the report).
        self.atomic_guards: bool | None = getattr(dbapi_conn, "atomic_guards", None)
        if options.cluster_wide:
            dbapi_conn.cluster_wide = True
            if self.atomic_guards is not None:
                dbapi_conn.atomic_guards = (
                    not session._disable_atomic_writes
                )
        # RavenDB's session finds a taken unique value at save_changes(), not at each flush
        self.unique_checks = dbapi_conn.unique_checks
        dbapi_conn.unique_checks = "commit"
        # the change vector of every document the session loads (optimistic concurrency,
        # cluster-wide guards, get_change_vector_for): Connection.change_vectors
        self.note_reads: bool | None = getattr(dbapi_conn, "note_reads", None)
        if self.note_reads is not None:
            dbapi_conn.note_reads = True
        self.http = getattr(backend, "http", None)
        self.use_cache = getattr(self.http, "use_cache", None)
        if options.no_caching and self.use_cache is not None:
            self.http.use_cache = False  # type: ignore[union-attr]

    def detach(self) -> None:
        if not self.active:
            return
        self.active = False
        _attached.pop(id(self.dbapi_conn), None)
        session = self.session_ref()
        if session is not None:
            session._attached.pop(id(self.dbapi_conn), None)
        if getattr(self.backend, "before_request", None) is self.hook:
            self.backend.before_request = self.previous
        if self.dbapi_conn.closed:
            return
        self.dbapi_conn.cluster_wide = self.cluster_wide
        self.dbapi_conn.unique_checks = self.unique_checks
        if self.note_reads is not None:
            self.dbapi_conn.note_reads = self.note_reads
        if self.atomic_guards is not None:
            self.dbapi_conn.atomic_guards = self.atomic_guards
        if self.use_cache is not None:
            self.http.use_cache = self.use_cache  # type: ignore[union-attr]


#: id(DB-API connection) -> the attachment of the session using it right now.
_attached: dict[int, _Attachment] = {}


def _outside_greenlet(session: Session, mapper: Mapper[Any]) -> bool:
    """Whether the session is the sync side of an AsyncSession, called outside the greenlet
    that lets it do I/O (``AsyncSession.add()`` is a plain call)."""
    try:
        if not session.get_bind(mapper).dialect.is_async:
            return False
    except sa_exc.UnboundExecutionError:
        return False
    return not in_greenlet()


def _dbapi_of(connection: SAConnection) -> DBAPIConnection | None:
    # Under asyncio, the adapter: it reads and sets the DB-API connection's attributes, and
    # sends its backend's I/O to a worker thread.
    dbapi_conn: Any = connection.connection.dbapi_connection
    if isinstance(dbapi_conn, DBAPIConnection) or isinstance(
            getattr(dbapi_conn, "driver_connection", None), DBAPIConnection):
        return cast(DBAPIConnection, dbapi_conn)
    return None


# ------------------------------------------------------------------------- HiLo plans

_hilo_plans: weakref.WeakKeyDictionary[Mapper[Any], tuple[str, Table, str] | None] = (
    weakref.WeakKeyDictionary()
)


def _hilo_plan(mapper: Mapper[Any]) -> tuple[str, Table, str] | None:
    """(attribute key, table, column name) of a mapper's single autoincrement key, if any."""
    try:
        return _hilo_plans[mapper]
    except KeyError:
        pass
    plan = None
    if len(mapper.primary_key) == 1:
        col = mapper.primary_key[0]
        table = col.table
        if isinstance(table, Table) and table.autoincrement_column is col:
            plan = (mapper.get_property_by_column(col).key, table, col.name)
    _hilo_plans[mapper] = plan
    return plan


def _python_type(col: Any) -> Any:
    try:
        return col.type.python_type
    except NotImplementedError:
        return None


def _key_part(col: Any, text: str, doc_id: str) -> Any:
    kind = _python_type(col)
    try:
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is uuid.UUID:
            return uuid.UUID(text)
    except ValueError:
        raise ValueError(
            f"{doc_id!r}: {text!r} is not a valid {kind.__name__} for key column {col.name}"
        ) from None
    return text


# ------------------------------------------------------------------------------ session


class DocumentSession(Session):
    """A :class:`sqlalchemy.orm.Session` with RavenDB's session API and guarantees.

    Use it directly (``DocumentSession(bind=engine)``), through
    ``sessionmaker(class_=DocumentSession, max_number_of_requests_per_session=50)`` or
    ``scoped_session``, or get one from ``DocumentStore.open_session()``.

    On top of everything a Session does:

    * **HiLo ids at add/store**: a new object whose key is a single integer autoincrement column
      gets its id when it enters the session (``add``, ``store``, cascades), as RavenDB's
      ``store()`` does, so ``obj.id`` is known before any flush. Range fetches cost no request
      of the budget.
    * **Request budget**: every backend call (load, query, batch, schema lookup) counts; the call
      over ``max_number_of_requests_per_session`` (default 30, ``None`` = no limit) is not sent
      and raises ``sqlalchemy.exc.OperationalError`` wrapping
      :class:`sqla_docstore.errors.RequestBudgetError`. The count spans the session's life
      and restarts at ``close()``.
    * **Identity map holds on**: objects stay tracked (strongly referenced) until ``close()``,
      ``expunge``/``advanced.evict`` or ``advanced.clear()``, as in RavenDB, so loading an id
      again never costs a request (``strong_identity_map=False``: SQLAlchemy's weak map).
    * RavenDB names: :meth:`load`, :meth:`store`, :meth:`delete` (by entity or id),
      :meth:`save_changes`, and :attr:`advanced`.
    * ``session_options``: :class:`SessionOptions` (``no_tracking``, ``no_caching``,
      ``transaction_mode``...).
    """

    def __init__(
        self,
        bind: Any = None,
        *,
        max_number_of_requests_per_session: int | None = _UNSET,
        use_optimistic_concurrency: bool | None = None,
        session_options: SessionOptions | None = None,
        document_store: DocumentStore | None = None,
        strong_identity_map: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(bind, **kw)
        options = session_options if session_options is not None else SessionOptions()
        conventions = document_store.conventions if document_store is not None else None
        if max_number_of_requests_per_session is _UNSET:
            max_number_of_requests_per_session = (
                conventions.max_number_of_requests_per_session if conventions is not None
                else DEFAULT_MAX_REQUESTS
            )
        if options.cluster_wide and use_optimistic_concurrency:
            raise sa_exc.ArgumentError(
                "use_optimistic_concurrency is not supported with TransactionMode.CLUSTER_WIDE: "
                "cluster-wide transactions guard every written document with atomic guards "
                "instead"
            )
        if use_optimistic_concurrency is None:
            # Conventions apply to single-node sessions; cluster-wide ones use atomic guards.
            use_optimistic_concurrency = bool(
                conventions is not None and conventions.use_optimistic_concurrency
                and not options.cluster_wide
            )
        if options.no_tracking and use_optimistic_concurrency:
            raise sa_exc.ArgumentError(
                "use_optimistic_concurrency needs entity tracking; it cannot be combined with "
                "SessionOptions(no_tracking=True)"
            )
        disable_atomic = options.disable_atomic_document_writes_in_cluster_wide_transaction
        if disable_atomic is None:
            disable_atomic = bool(
                conventions is not None
                and conventions.disable_atomic_document_writes_in_cluster_wide_transaction
            )
        self.session_options = options
        self.document_store = document_store
        self.use_optimistic_concurrency = use_optimistic_concurrency
        self._disable_atomic_writes = disable_atomic
        self._budget = RequestBudget(max_number_of_requests_per_session)
        self._attached: dict[int, _Attachment] = {}
        self._known_missing: set[tuple[Mapper[Any], tuple[Any, ...]]] = set()
        # Changes flushed in the current transaction, for what_changed() after an autoflush:
        # (kind, state, {field: (old, new)}).
        self._flushed: list[tuple[ChangeType, InstanceState[Any], dict[str, tuple[Any, Any]]]] = []
        self._change_vectors: dict[Any, str | None] = {}
        #: identity keys store(..., change_vector) / delete(..., expected_change_vector) gave
        self._forced_keys: set[Any] = set()
        self._cmpxchg: dict[str, tuple[str, CompareExchangeValue]] = {}
        #: compare-exchange values read in this transaction, with their value as read
        self._cmpxchg_read: dict[str, tuple[CompareExchangeValue, Any]] = {}
        self._executing = 0
        self._advanced: Advanced | None = None
        self._hilo_targets: dict[Mapper[Any], tuple[Any, str]] = {}
        self._dbapi_by_mapper: dict[Mapper[Any], DBAPIConnection | None] = {}
        self._spec_by_mapper: dict[Mapper[Any], Any] = {}  # (found ones only)
        self._id_specs: dict[Mapper[Any], Any] = {}  # the last found, for the session's life
        self._autoflushing = False
        self._ignored: dict[int, InstanceState[Any]] = {}  # advanced.ignore_changes_for()
        # RavenDB's session keeps what it tracks until disposed; SQLAlchemy's identity map is
        # weak, so an object nobody references would be loaded again (another request).
        self._strong: dict[int, object] | None = {} if strong_identity_map else None

    # -- RavenDB API ------------------------------------------------------------------
    def query(self, *entities: Any, **kwargs: Any) -> Any:
        """SQLAlchemy's legacy ``Session.query(Model)``. RavenDB's form
        (``query(object_type=..., index_name=..., collection_name=...)``) is refused by name."""
        ravendb_form = {"object_type", "index_name", "collection_name", "is_map_reduce"}
        if ravendb_form & kwargs.keys():
            unsupported.check("session", "query", unsupported.SESSION)
        return super().query(*entities, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only names Session lacks get here: RavenDB's that this session does not have are
        # refused by name.
        unsupported.check("session", name, unsupported.SESSION)

    @property
    def advanced(self) -> Advanced:
        """RavenDB's ``session.advanced``: request counts, change tracking, metadata."""
        if self._advanced is None:
            self._advanced = Advanced(self)
        return self._advanced

    def load(
        self, id_or_ids: Any, object_type: Any = None, *, options: Iterable[Any] = ()
    ) -> Any:
        """Load one document (returns the object or None) or several (a list of ids: returns
        ``{id: object or None}`` in the order given, fetched with one request).

        An id is the primary key value (``1``, or a tuple for a composite key) or the document
        id ``"companies/1"`` (the collection's id prefix, ``/``, the key; the prefix matches
        without regard to case, as RavenDB ids do). A tracked object is returned without a
        request (identity map), as is an object stored in this session and not yet saved;
        an id already found missing in this transaction returns None without a request.
        ``object_type`` (a mapped class) may be left out when the document id's prefix names
        exactly one mapped class. ``options`` are loader options (e.g. ``selectinload(...)``).
        """
        many = isinstance(id_or_ids, (list, set, frozenset)) or (
            isinstance(id_or_ids, tuple) and object_type is not None
            and len(self._mapper(object_type, None).primary_key) == 1
        )
        if many:
            ids = list(id_or_ids)
            if not ids:
                return {}
            mapper = self._mapper(object_type, ids[0])
            return self._load_many(mapper, ids, tuple(options))
        mapper = self._mapper(object_type, id_or_ids)
        return self._load_many(mapper, [id_or_ids], tuple(options))[id_or_ids]

    def store(self, entity: object, key: Any = None, change_vector: str | None = None) -> None:
        """RavenDB's ``store()``: add ``entity`` to the session. A HiLo id is assigned now if
        the key is an integer autoincrement column left empty; ``key`` sets the id explicitly
        (a key value or a document id ``"companies/7"``). Nothing is sent until
        :meth:`save_changes`."""
        self._require_tracking("store entity")
        state = attributes.instance_state(entity)
        mapper = state.mapper
        if state in self._deleted or state.deleted:
            raise sa_exc.InvalidRequestError(
                "Can't store object, it was already deleted in this session. Document id "
                f"{self._document_id(mapper, state)}"
            )
        if change_vector is not None:
            self._force_change_vector(state, change_vector, "store()")
        if key is not None:
            values = self._key(mapper, key)
            if state.key is not None and state.key[1] != values:
                raise sa_exc.InvalidRequestError(
                    f"cannot change the id of a persistent object to {key!r}"
                )
            tracked = self._tracked(mapper, values)
            if tracked is not None and tracked is not entity:
                raise sa_exc.InvalidRequestError(
                    "Attempted to associate a different object with id "
                    f"'{self._document_id(mapper, values)}'."
                )
            for col, value in zip(mapper.primary_key, values, strict=True):
                setattr(entity, mapper.get_property_by_column(col).key, value)
        self.add(entity)

    def delete(
        self, entity_or_id: Any, object_type: Any = None, *,
        expected_change_vector: str | None = None,
    ) -> None:
        """Mark an object deleted; or, given an id (key or document id), the document with
        that id: a tracked object is deleted without a request, otherwise the document is
        loaded first (one request) so cascades and the identity map stay right. Deleting an
        id that does not exist does nothing, as in RavenDB."""
        self._require_tracking("delete entity")
        try:
            attributes.instance_state(entity_or_id)
        except orm_exc.NO_STATE:
            entity = self.load(entity_or_id, object_type)
            if entity is None:
                return
            entity_or_id = entity
        if expected_change_vector is not None:
            self._force_change_vector(attributes.instance_state(entity_or_id),
                                      expected_change_vector, "delete()")
        super().delete(entity_or_id)

    def save_changes(self) -> None:
        """RavenDB's ``save_changes()``: flush and commit, one batch per database. The session
        stays usable; objects from :meth:`DocumentStore.open_session` keep their values (no
        expiry, no reload)."""
        self.flush()
        # The connections' change vectors after the commit replace the ones loaded, and are
        # recorded for the documents this session created, so the next save of the same
        # objects is checked against what this session wrote.
        keys = dict.fromkeys(self._change_vectors)
        keys.update((state.key, None) for kind, state, _ in self._flushed
                    if kind is not ChangeType.DOCUMENT_DELETED and state.key is not None)
        tracked = []
        for key in keys:
            obj = self.identity_map.get(key)
            if obj is not None:
                state = attributes.instance_state(obj)
                dbapi_conn = self._dbapi_for(state.mapper)
                if dbapi_conn is not None and hasattr(dbapi_conn, "track_versions"):
                    dbapi_conn.track_versions = True  # the batch reply must name new ones
                tracked.append((key, dbapi_conn, self._document_id(state.mapper, state)))
        self.commit()
        for key, dbapi_conn, doc_id in tracked:
            cvs = getattr(dbapi_conn, "change_vectors", None)
            if cvs is not None and cvs.get(doc_id):
                self._change_vectors[key] = cvs.get(doc_id)

    def flush(self, objects: Any = None) -> None:
        """Flush as Session does, and also what was changed in place inside a tracked value
        (a nested dict or list, see :mod:`sqla_docstore.orm.inplace`), as RavenDB saves it.
        An autoflush (before a query) sends assignments only, as in any Session: comparing
        every tracked value before each query would cost as much as the query."""
        self._drop_ignored_changes()
        if not self._autoflushing:
            self._mark_changed_in_place()
        written: list[tuple[InstanceState[Any], set[str] | None]] = [
            (st, set(st.committed_state)) for st in self.identity_map.all_states()
            if st.modified]
        written += [(st, None) for st in self._new]
        super().flush(objects)
        for state, keys in written:  # what they were written with, compared from now on
            if state.key is not None and not state.deleted and not state.detached:
                inplace.remember(state, keys)

    def _autoflush(self) -> None:
        self._autoflushing = True
        try:
            super()._autoflush()
        finally:
            self._autoflushing = False

    def _mark_changed_in_place(self) -> None:
        self._drop_ignored_changes()
        for state in self.identity_map.all_states():
            inplace.mark_changed(state)

    def _drop_ignored_changes(self) -> None:
        """advanced.ignore_changes_for(): the object's changes are taken as saved and never
        sent (a new object is not stored); its deletion still is."""
        for key, state in list(self._ignored.items()):
            obj = state.obj()
            if obj is None or state.session_id != self.hash_key:
                del self._ignored[key]
            elif state in self._new:
                del self._ignored[key]
                self.expunge(obj)
            elif not state.deleted and state not in self._deleted:
                if state.modified:
                    state._commit_all(state.dict, self.identity_map)
                inplace.remember(state)  # an edit in place is ignored too

    def add(self, instance: object, *, _warn: bool = True) -> None:
        self._require_tracking("add entity")
        super().add(instance, _warn=_warn)

    def close(self) -> None:
        """Close as Session does; the request count restarts (the session is new again)."""
        super().close()
        self._reset_state()

    def reset(self) -> None:
        super().reset()
        self._reset_state()

    def _reset_state(self) -> None:
        self._budget.reset()
        self._known_missing.clear()
        self._flushed.clear()
        self._change_vectors.clear()
        self._forced_keys.clear()
        self._cmpxchg.clear()
        self._cmpxchg_read.clear()
        self._ignored.clear()
        self._id_specs.clear()
        if self._strong is not None:
            self._strong.clear()

    # -- helpers ----------------------------------------------------------------------
    def _force_change_vector(self, state: InstanceState[Any], change_vector: str,
                             what: str) -> None:
        """RavenDB's forced concurrency check: the document's update or delete carries
        ``change_vector`` (whatever use_optimistic_concurrency says), so the commit fails
        (StaleDataError), nothing applied, unless the stored document still has it."""
        if state.key is None:
            if change_vector == "":
                return  # must not exist: an INSERT of a taken id fails already
            raise errors.NotSupportedError(
                f"{what} with a change vector of an object not loaded in this session: load "
                "the document, then change the loaded object (a new object is inserted, it "
                "cannot overwrite a stored document)")
        if change_vector == "":
            raise errors.NotSupportedError(
                f"{what} with the change vector '' (the document must not exist) of a document "
                "loaded in this session")
        self._change_vectors[state.key] = change_vector
        self._forced_keys.add(state.key)

    def _require_tracking(self, what: str) -> None:
        if self.session_options.no_tracking:
            raise TrackingDisabledError(
                f"Cannot {what}: entity tracking is disabled in this session "
                "(SessionOptions(no_tracking=True))."
            )

    def _dbapi_for(self, mapper: Mapper[Any]) -> DBAPIConnection | None:
        """The DB-API connection the session's transaction uses for ``mapper`` (begins the
        transaction if needed); cached until the transaction ends."""
        if mapper in self._dbapi_by_mapper:
            return self._dbapi_by_mapper[mapper]
        try:
            conn = self.connection(bind_arguments={"mapper": mapper})
        except (sa_exc.InvalidRequestError, sa_exc.UnboundExecutionError):
            return None
        found = self._dbapi_by_mapper[mapper] = _dbapi_of(conn)
        return found

    def _spec(self, mapper: Mapper[Any]) -> Any:
        """The stored collection spec of the mapper's key table, or None (not a docstore
        backend, or no such collection yet). Schema lookups are HiLo's: not counted. Kept
        until the transaction ends (a document id per loaded object asks for it)."""
        known = self._spec_by_mapper.get(mapper)
        if known is not None:
            return known
        dbapi_conn = self._dbapi_for(mapper)
        if dbapi_conn is None:
            return None
        table = mapper.primary_key[0].table
        with self._budget.paused():
            try:
                mapped = table_spec(table, self.get_bind(mapper).dialect)
                if mapped is not None:  # the mapping is the schema (dialect/mapping.py)
                    dbapi_conn.assume_collections([mapped])
                found = dbapi_conn.backend.spec(table.name)
            except errors.OperationalError:
                return None
        if found is not None:
            self._spec_by_mapper[mapper] = self._id_specs[mapper] = found
        return found

    def _prefix(self, mapper: Mapper[Any]) -> str:
        spec = self._spec(mapper)
        return spec.prefix if spec is not None else mapper.primary_key[0].table.name.lower()

    def _document_id(self, mapper: Mapper[Any], key_or_state: Any) -> str:
        if isinstance(key_or_state, InstanceState):
            state = key_or_state
            key = state.key[1] if state.key is not None else tuple(
                state.dict.get(mapper.get_property_by_column(c).key) for c in mapper.primary_key
            )
        else:
            key = key_or_state
        # (outside a transaction, the spec a transaction of this session found: an id's
        # shape does not change, and an AsyncSession's advanced.* can do no I/O here)
        spec = self._id_specs.get(mapper) if not self._attached else None
        if spec is None:
            spec = self._spec(mapper)
        if spec is not None and None not in key:
            return str(spec.document_id(tuple(key)))
        prefix = spec.prefix if spec is not None else self._prefix(mapper)
        return prefix + "/" + "/".join("" if k is None else str(k) for k in key)

    def _mapper(self, object_type: Any, sample_id: Any) -> Mapper[Any]:
        if object_type is not None:
            try:
                found = inspect(object_type)
            except sa_exc.NoInspectionAvailable:
                found = None
            if not isinstance(found, Mapper):
                raise sa_exc.ArgumentError(
                    f"object_type must be a mapped class, not {object_type!r}"
                )
            return found
        if isinstance(sample_id, str) and "/" in sample_id:
            prefix = sample_id.split("/", 1)[0].lower()
            candidates = [m for m in _all_base_mappers()
                          if m.primary_key and m.primary_key[0].table.name.lower() == prefix]
            metadata = getattr(self.document_store, "metadata", None)
            if len(candidates) > 1 and metadata is not None:
                # The store's own tables decide between applications' same-named classes.
                candidates = [m for m in candidates
                              if m.primary_key[0].table.metadata is metadata]
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                names = ", ".join(sorted(m.class_.__qualname__ for m in candidates))
                raise sa_exc.ArgumentError(
                    f"load({sample_id!r}) needs object_type=<mapped class>: several mapped "
                    f"classes use the collection {prefix!r} ({names})"
                )
        raise sa_exc.ArgumentError(
            f"load({sample_id!r}) needs object_type=<mapped class>: the id does not name a "
            "mapped class's collection"
        )

    def _key(self, mapper: Mapper[Any], value: Any) -> tuple[Any, ...]:
        """The primary-key tuple an id names (a key value, a tuple, or a document id)."""
        cols = mapper.primary_key
        if isinstance(value, str) and len(cols) == 1:
            spec = self._spec(mapper)
            if spec is not None and spec.key_is_id:
                return (value,)  # the key is the whole document id
        if isinstance(value, tuple):
            if len(value) != len(cols):
                raise ValueError(f"{mapper.class_.__name__} has {len(cols)} key column(s); "
                                 f"got the key {value!r}")
            return value
        if isinstance(value, str):
            prefix = self._prefix(mapper)
            if value[: len(prefix) + 1].lower() == prefix.lower() + "/":
                rest = value[len(prefix) + 1:]
                parts = rest.split("/", len(cols) - 1) if len(cols) > 1 else [rest]
                if len(parts) != len(cols):
                    raise ValueError(f"{value!r} is not a document id of {mapper.class_.__name__}"
                                     f" (ids look like '{prefix}/<key>')")
                return tuple(_key_part(c, p, value) for c, p in zip(cols, parts, strict=True))
            if len(cols) == 1 and _python_type(cols[0]) is not str:
                raise ValueError(f"{value!r} is not a document id of {mapper.class_.__name__} "
                                 f"(ids look like '{prefix}/<key>')")
        if len(cols) != 1:
            raise ValueError(f"{mapper.class_.__name__} has a composite key: pass a tuple or a "
                             "document id")
        return (value,)

    def _tracked(self, mapper: Mapper[Any], key: tuple[Any, ...]) -> Any:
        """The object with this identity in the identity map or among pending new objects."""
        obj = self.identity_map.get(mapper.identity_key_from_primary_key(tuple(key)))
        if obj is not None:
            return obj
        for state in self._new:
            if state.mapper.base_mapper is mapper.base_mapper and tuple(
                state.dict.get(state.mapper.get_property_by_column(c).key)
                for c in state.mapper.primary_key
            ) == key:
                return state.obj()
        return None

    def _load_many(self, mapper: Mapper[Any], ids: list[Any],
                   options: tuple[Any, ...]) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        wanted: dict[tuple[Any, ...], list[Any]] = {}
        tracking = not self.session_options.no_tracking
        for given in ids:
            key = self._key(mapper, given)
            if tracking:
                obj = self._tracked(mapper, key)
                if obj is not None:
                    found[given] = None if obj in self.deleted else obj
                    continue
                if (mapper.base_mapper, key) in self._known_missing:
                    found[given] = None
                    continue
            wanted.setdefault(key, []).append(given)
        if wanted:
            cols = mapper.primary_key
            keys = list(wanted)
            where = (cols[0].in_([k[0] for k in keys]) if len(cols) == 1
                     else tuple_(*cols).in_(keys))
            stmt = select(mapper).where(where).options(*options)
            by_key = {tuple(mapper.primary_key_from_instance(o)): o for o in self.scalars(stmt)}
            for key, givens in wanted.items():
                obj = by_key.get(key)
                if obj is None and tracking:
                    self._known_missing.add((mapper.base_mapper, key))
                for given in givens:
                    found[given] = obj
        return {given: found[given] for given in ids}

    # -- event handlers (registered below on the class) ----------------------------------
    def _attach(self, connection: SAConnection) -> None:
        dbapi_conn = _dbapi_of(connection)
        if dbapi_conn is None or dbapi_conn.closed or id(dbapi_conn) in self._attached:
            return
        attachment = _Attachment(self, dbapi_conn)
        self._attached[id(dbapi_conn)] = attachment
        _attached[id(dbapi_conn)] = attachment

    def _detach_all(self) -> None:
        for attachment in list(self._attached.values()):
            attachment.detach()

    def _assign_id(self, instance: object) -> None:
        state = attributes.instance_state(instance)
        plan = _hilo_plan(state.mapper)
        if plan is None or state.dict.get(plan[0]) is not None:
            return
        # (backend, id prefix) per mapper for the transaction: adding many objects must not
        # look the connection and the collection up each time.
        target = self._hilo_targets.get(state.mapper)
        if target is None:
            if _outside_greenlet(self, state.mapper):
                return  # AsyncSession.add(): the id comes from HiLo at flush instead
            dbapi_conn = self._dbapi_for(state.mapper)
            if dbapi_conn is None:
                return
            backend = dbapi_conn.backend
            with self._budget.paused():
                try:
                    spec = backend.spec(plan[1].name)
                except errors.OperationalError:
                    return  # no such collection: the flush reports it
            if spec.autoincrement != plan[2]:
                return
            target = self._hilo_targets[state.mapper] = (backend, spec.prefix)
        backend, prefix = target
        with self._budget.paused():
            new_id = backend.next_ids(prefix, 1)[0]
        setattr(instance, plan[0], new_id)

    def _before_flush(self) -> None:
        if self.session_options.no_tracking and (self._new or self._deleted or self.dirty):
            raise TrackingDisabledError(
                "Cannot execute save_changes when entity tracking is disabled."
            )
        for state in list(self._new):
            self._flushed.append((ChangeType.DOCUMENT_ADDED, state, {}))
        for state in list(self._deleted):
            self._flushed.append((ChangeType.DOCUMENT_DELETED, state, {}))
        writes = []
        for obj in self.dirty:
            state = attributes.instance_state(obj)
            fields = _field_changes(state)
            if fields:
                self._flushed.append((ChangeType.FIELD_CHANGED, state, fields))
                writes.append(state)
        writes += list(self._deleted)
        if writes and (self.use_optimistic_concurrency or (
            self.session_options.cluster_wide and not self._disable_atomic_writes
        )):
            self._expect_change_vectors(writes)
        elif self._forced_keys:
            self._expect_change_vectors([st for st in writes if st.key in self._forced_keys])

    def _expect_change_vectors(self, states: list[InstanceState[Any]]) -> None:
        """Optimistic concurrency: updates and deletes carry the change vector each document
        was loaded with (needs the core hook ``expected_change_vectors``)."""
        for state in states:
            dbapi_conn = self._dbapi_for(state.mapper)
            if dbapi_conn is None:
                continue
            expected = getattr(dbapi_conn, "expected_change_vectors", None)
            if expected is None:
                if not self.use_optimistic_concurrency:
                    return  # cluster-wide atomic guards: the store's own guarantees apply
                raise MissingCoreHookError(
                    "use_optimistic_concurrency needs the core hooks "
                    "dbapi.Connection.change_vectors (the change vector each loaded document "
                    "had) and dbapi.Connection.expected_change_vectors (checked by UPDATE and "
                    "DELETE by key at commit); this backend does not have them yet. Use "
                    "version_id_col on the mapping meanwhile."
                )
            cv = self._change_vectors.get(state.key)
            if cv is not None:
                expected[self._document_id(state.mapper, state)] = cv

    def _record_change_vector(self, instance: object) -> None:
        state = attributes.instance_state(instance)
        dbapi_conn = self._dbapi_for(state.mapper)
        cvs = getattr(dbapi_conn, "change_vectors", None)
        if cvs is not None:
            self._change_vectors[state.key] = cvs.get(self._document_id(state.mapper, state))

    def _read_change_vector(self, state: InstanceState[Any]) -> str | None:
        """The change vector the current transaction read the document with, if it has one
        (no transaction is begun for it)."""
        if not self._attached or state.key is None:
            return None
        dbapi_conn = self._dbapi_for(state.mapper)
        cvs = getattr(dbapi_conn, "change_vectors", None)
        return None if cvs is None else cvs.get(self._document_id(state.mapper, state))

    def _after_transaction_end(self) -> None:
        self._detach_all()
        self._hilo_targets.clear()
        self._dbapi_by_mapper.clear()
        self._spec_by_mapper.clear()
        self._known_missing.clear()
        self._flushed.clear()
        self._cmpxchg.clear()
        self._cmpxchg_read.clear()

    def _before_commit(self) -> None:
        # A commit flushes only a session SQLAlchemy sees changes in: in-place edits first.
        self._mark_changed_in_place()
        # The change vectors documents were read with end with the transaction: kept for
        # get_change_vector_for() (a read-only session that never commits pays nothing).
        for state in self.identity_map.all_states() if self._attached else ():
            if self._change_vectors.get(state.key) is None:
                cv = self._read_change_vector(state)
                if cv is not None:
                    self._change_vectors[state.key] = cv
        for key, (item, loaded) in self._cmpxchg_read.items():
            if key not in self._cmpxchg and not inplace.unchanged(item.value, loaded):
                self._cmpxchg[key] = ("PUT", item)
        if not self._cmpxchg:
            return
        for key, (op, item) in self._cmpxchg.items():
            conn = self._cmpxchg_connection()
            conn.pending.add_compare_exchange(op, key, item.value, item.index)

    def _cmpxchg_connection(self) -> DBAPIConnection:
        dbapi_conn = _dbapi_of(self.connection())
        if dbapi_conn is None or not hasattr(dbapi_conn.pending, "add_compare_exchange"):
            raise MissingCoreHookError(
                "compare-exchange values need the core hooks PendingBatch.add_compare_exchange"
                "(op, key, value, index) (CompareExchangePUT/DELETE commands sent in the "
                "cluster-wide batch and checked atomically with it) and "
                "backend.get_compare_exchange_values(keys) -> {key: (value, index)}; this "
                "backend does not have them yet"
            )
        return dbapi_conn


def _field_changes(state: InstanceState[Any]) -> dict[str, tuple[Any, Any]]:
    """{document field: (old, new)} of a persistent object's unflushed net changes."""
    out: dict[str, tuple[Any, Any]] = {}
    mapper = state.mapper
    for prop in mapper.column_attrs:
        hist = state.attrs[prop.key].history
        if hist.has_changes() and (hist.added or hist.deleted):
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new or type(old) is not type(new):
                out[prop.columns[0].name] = (old, new)
    for rel in mapper.relationships:
        if rel.direction is not MANYTOONE:
            continue
        hist = state.attrs[rel.key].history
        if not hist.has_changes():
            continue
        old_obj = hist.deleted[0] if hist.deleted else None
        new_obj = hist.added[0] if hist.added else None
        for local, remote in rel.local_remote_pairs:
            old = _column_value(old_obj, remote)
            new = _column_value(new_obj, remote)
            if old != new:
                out[local.name] = (old, new)
    return out


def _column_value(obj: Any, column: Any) -> Any:
    if obj is None:
        return None
    state = attributes.instance_state(obj)
    return state.dict.get(state.mapper.get_property_by_column(column).key)


def _all_base_mappers() -> list[Mapper[Any]]:
    from sqlalchemy.orm import mapperlib

    return [m for reg in list(mapperlib._all_registries()) for m in reg.mappers
            if m.inherits is None]


# ---------------------------------------------------------------------- class listeners


@event.listens_for(DocumentSession, "after_begin")
def _on_after_begin(session: Session, transaction: Any, connection: SAConnection) -> None:
    if isinstance(session, DocumentSession):
        session._attach(connection)


@event.listens_for(DocumentSession, "after_transaction_end")
def _on_transaction_end(session: Session, transaction: Any) -> None:
    if isinstance(session, DocumentSession) and transaction.parent is None:
        session._after_transaction_end()


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    # A pooled connection may be taken by another thread as soon as it is back: the session's
    # settings come off before that, not at the (later) transaction-end event.
    attachment = _attached.get(id(dbapi_connection))
    if attachment is not None and attachment.dbapi_conn is dbapi_connection:
        attachment.detach()


@event.listens_for(DocumentSession, "loaded_as_persistent")
@event.listens_for(DocumentSession, "pending_to_persistent")
@event.listens_for(DocumentSession, "detached_to_persistent")
@event.listens_for(DocumentSession, "deleted_to_persistent")
def _hold(session: Session, instance: object) -> None:
    if isinstance(session, DocumentSession) and session._strong is not None:
        session._strong[id(instance)] = instance


@event.listens_for(DocumentSession, "persistent_to_detached")
@event.listens_for(DocumentSession, "persistent_to_deleted")
@event.listens_for(DocumentSession, "persistent_to_transient")
def _let_go(session: Session, instance: object) -> None:
    if isinstance(session, DocumentSession) and session._strong is not None:
        session._strong.pop(id(instance), None)


@event.listens_for(DocumentSession, "transient_to_pending")
def _on_transient_to_pending(session: Session, instance: object) -> None:
    if isinstance(session, DocumentSession):
        session._assign_id(instance)


@event.listens_for(DocumentSession, "before_flush")
def _on_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if isinstance(session, DocumentSession):
        session._before_flush()


@event.listens_for(DocumentSession, "before_commit")
def _on_before_commit(session: Session) -> None:
    if isinstance(session, DocumentSession):
        session._before_commit()


@event.listens_for(DocumentSession, "loaded_as_persistent")
def _on_loaded_values(session: Session, instance: object) -> None:
    if isinstance(session, DocumentSession):
        inplace.remember(attributes.instance_state(instance))


@event.listens_for(DocumentSession, "detached_to_persistent")
def _on_attached_values(session: Session, instance: object) -> None:
    # An object a DocumentSession kept values of is compared with those (an edit made while
    # detached is saved); one from elsewhere, from what it holds now.
    state = attributes.instance_state(instance)
    if isinstance(session, DocumentSession) and not inplace.remembers(state):
        inplace.remember(state)


@event.listens_for(Mapper, "refresh")
def _on_refresh(instance: object, context: Any, attrs: Any) -> None:
    state = attributes.instance_state(instance)
    if isinstance(state.session, DocumentSession):
        inplace.remember(state, None if attrs is None else set(attrs))


@event.listens_for(DocumentSession, "loaded_as_persistent")
def _on_loaded(session: Session, instance: object) -> None:
    # Optimistic concurrency and cluster-wide guards send it with the next write; an
    # AsyncSession's (in its greenlet now) could not look it up later without I/O; other
    # sessions look it up when asked (get_change_vector_for) or keep it at commit.
    if isinstance(session, DocumentSession) and (
        session.use_optimistic_concurrency or session.session_options.cluster_wide
        or in_greenlet()
    ):
        session._record_change_vector(instance)


@event.listens_for(DocumentSession, "do_orm_execute")
def _on_do_orm_execute(orm_execute_state: Any) -> Any:
    session = orm_execute_state.session
    if not (isinstance(session, DocumentSession) and session.session_options.no_tracking
            and orm_execute_state.is_select) or session._executing:
        return None
    # no_tracking: run the whole query (eager loads included), then let go of every object
    # it loaded; only the outermost execution does it, so eager loaders finish first.
    session._executing += 1
    try:
        frozen = orm_execute_state.invoke_statement().freeze()
    finally:
        session._executing -= 1
    for obj in list(session.identity_map.values()):
        session.expunge(obj)
    return frozen()


# ---------------------------------------------------------------------------- advanced


class Advanced:
    """``session.advanced``: RavenDB's advanced session operations."""

    def __init__(self, session: DocumentSession) -> None:
        self._session = session
        self._cluster: ClusterTransaction | None = None

    @property
    def session(self) -> DocumentSession:
        return self._session

    @property
    def document_store(self) -> DocumentStore | None:
        return self._session.document_store

    @property
    def session_options(self) -> SessionOptions:
        return self._session.session_options

    @property
    def number_of_requests(self) -> int:
        """Backend calls counted by the budget since the session was opened (or closed)."""
        return self._session._budget.count

    @property
    def requests_by_kind(self) -> dict[str, int]:
        """The counted calls by kind: load, query, batch, schema."""
        return dict(self._session._budget.by_kind)

    @property
    def max_number_of_requests_per_session(self) -> int | None:
        return self._session._budget.limit

    @max_number_of_requests_per_session.setter
    def max_number_of_requests_per_session(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("max_number_of_requests_per_session must be >= 0")
        self._session._budget.limit = value

    @property
    def use_optimistic_concurrency(self) -> bool:
        return self._session.use_optimistic_concurrency

    @use_optimistic_concurrency.setter
    def use_optimistic_concurrency(self, value: bool) -> None:
        if value and self._session.session_options.cluster_wide:
            raise sa_exc.InvalidRequestError(
                "use_optimistic_concurrency is not supported with TransactionMode.CLUSTER_WIDE"
            )
        self._session.use_optimistic_concurrency = value

    @property
    def transaction_mode(self) -> TransactionMode:
        return self._session.session_options.transaction_mode

    def has_changes(self) -> bool:
        """Whether save_changes() would write anything: new, deleted or changed objects, or
        writes already flushed in the current transaction."""
        s = self._session
        s._mark_changed_in_place()
        if s._new or s._deleted or s._flushed:
            return True
        if any(_field_changes(attributes.instance_state(o)) for o in s.dirty):
            return True
        return any(a.dbapi_conn.pending for a in s._attached.values()
                   if not a.dbapi_conn.closed)

    def has_changed(self, entity: object) -> bool:
        s = self._session
        s._mark_changed_in_place()
        state = attributes.instance_state(entity)
        if state in s._new or state in s._deleted or _field_changes(state):
            return True
        return any(st is state for _, st, _ in s._flushed)

    def what_changed(self) -> dict[str, list[DocumentsChanges]]:
        """``{document id: [DocumentsChanges]}`` of what save_changes() would write, built from
        SQLAlchemy's attribute history (including changes an autoflush already sent to the
        pending batch): DOCUMENT_ADDED, DOCUMENT_DELETED, or one FIELD_CHANGED per field."""
        s = self._session
        s._mark_changed_in_place()
        merged: dict[int, tuple[ChangeType, InstanceState[Any], dict[str, tuple[Any, Any]]]] = {}

        def note(kind: ChangeType, state: InstanceState[Any],
                 fields: dict[str, tuple[Any, Any]]) -> None:
            prior = merged.get(id(state))
            if prior is None:
                merged[id(state)] = (kind, state, dict(fields))
            elif kind is ChangeType.DOCUMENT_DELETED:
                if prior[0] is ChangeType.DOCUMENT_ADDED:
                    del merged[id(state)]  # added and deleted in one unit of work: no change
                else:
                    merged[id(state)] = (kind, state, {})
            elif prior[0] is ChangeType.FIELD_CHANGED:
                for name, (old, new) in fields.items():
                    first_old = prior[2][name][0] if name in prior[2] else old
                    prior[2][name] = (first_old, new)

        for kind, state, fields in s._flushed:
            note(kind, state, fields)
        for state in list(s._new):
            note(ChangeType.DOCUMENT_ADDED, state, {})
        for state in list(s._deleted):
            note(ChangeType.DOCUMENT_DELETED, state, {})
        for obj in s.dirty:
            state = attributes.instance_state(obj)
            fields = _field_changes(state)
            if fields:
                note(ChangeType.FIELD_CHANGED, state, fields)
        out: dict[str, list[DocumentsChanges]] = {}
        for kind, state, fields in merged.values():
            doc_id = s._document_id(state.mapper, state)
            if kind is ChangeType.FIELD_CHANGED:
                changes = [DocumentsChanges(old, new, kind, name, "")
                           for name, (old, new) in fields.items() if old != new]
                if changes:
                    out[doc_id] = changes
            else:
                out[doc_id] = [DocumentsChanges(None, None, kind)]
        return out

    def evict(self, entity: object) -> None:
        """Stop tracking ``entity`` (Session.expunge): its changes will not be saved and the
        next load of its id fetches a new object."""
        self._session.expunge(entity)

    def clear(self) -> None:
        """Stop tracking every object (Session.expunge_all)."""
        self._session.expunge_all()
        self._session._known_missing.clear()

    def refresh(self, entity: object) -> None:
        self._session.refresh(entity)

    def is_loaded(self, document_id: Any, object_type: Any = None) -> bool:
        """Whether the id is tracked by the session (loading it would make no request)."""
        s = self._session
        mapper = s._mapper(object_type, document_id)
        return s._tracked(mapper, s._key(mapper, document_id)) is not None

    def get_document_id(self, entity: object) -> str | None:
        """The document id of a tracked entity (``"companies/1"``), None if it has no key."""
        state = attributes.instance_state(entity)
        if state.key is None and state not in self._session._new:
            return None
        return self._session._document_id(state.mapper, state)

    def __getattr__(self, name: str) -> Any:
        unsupported.check("session.advanced", name, unsupported.ADVANCED)

    def ignore_changes_for(self, entity: object) -> None:
        """RavenDB's ``ignore_changes_for``: the entity stays tracked (loading its id gives it)
        but its changes are never saved nor reported; an entity stored and not yet saved is
        not saved. Deleting it still deletes it."""
        state = self._tracked_state(entity)
        self._session._ignored[id(state)] = state

    def increment(self, key_or_entity: Any, path: str, value_to_add: Any,
                  object_type: Any = None) -> None:
        """RavenDB's ``increment``: add ``value_to_add`` to the numeric field ``path`` on the
        server when the batch is applied (a missing or null field becomes ``value_to_add``);
        sent by ``save_changes()``. See :mod:`sqla_docstore.orm.patching`."""
        patching.apply(self._session, key_or_entity, path, value_to_add, increment=True,
                       object_type=object_type)

    def patch(self, key_or_entity: Any, path: str, value: Any, object_type: Any = None) -> None:
        """RavenDB's ``patch``: set the field ``path`` of the document on the server when the
        batch is applied, whatever else changed it; sent by ``save_changes()``."""
        patching.apply(self._session, key_or_entity, path, value, increment=False,
                       object_type=object_type)

    def get_change_vector_for(self, entity: object) -> str | None:
        """The change vector the entity's document had when loaded or last saved."""
        s = self._session
        state = self._tracked_state(entity)
        if s._change_vectors.get(state.key) is not None:
            return s._change_vectors[state.key]
        read = s._read_change_vector(state)
        if read is not None:
            return read
        if state.key in s._change_vectors:
            return None
        dbapi_conn = s._dbapi_for(state.mapper)
        if dbapi_conn is None or not hasattr(dbapi_conn, "change_vectors"):
            raise MissingCoreHookError(
                "get_change_vector_for() needs the core hook dbapi.Connection.change_vectors "
                "({document id: change vector} of documents read or written through the "
                "connection); this backend does not expose change vectors yet"
            )
        return None  # a new document has no change vector before it is saved

    def get_metadata_for(self, entity: object) -> dict[str, Any]:
        """The document's metadata as far as the session knows it: ``@id``, ``@collection``,
        ``Raven-Python-Type``, and ``@change-vector`` when the backend exposes it. Read-only:
        RavenDB's client saves edits (``@expires``, custom keys), this session can't, so an
        edit raises NotSupportedError instead of being dropped."""
        s = self._session
        state = self._tracked_state(entity)
        table = state.mapper.primary_key[0].table
        meta = ReadOnlyMetadata({
            "@id": s._document_id(state.mapper, state),
            "@collection": table.name,
            "Raven-Python-Type": f"{type(entity).__module__}.{type(entity).__qualname__}",
        })
        try:
            cv = self.get_change_vector_for(entity)
        except MissingCoreHookError:
            cv = None
        if cv is not None:
            dict.__setitem__(meta, "@change-vector", cv)
        return meta

    def _tracked_state(self, entity: object) -> InstanceState[Any]:
        state = attributes.instance_state(entity)
        if state.session_id != self._session.hash_key:
            raise sa_exc.InvalidRequestError(
                f"Entity is not associated with the session, cannot get its metadata: {entity!r}"
            )
        return state

    @property
    def cluster_transaction(self) -> ClusterTransaction:
        """Compare-exchange operations of a CLUSTER_WIDE session."""
        if self._cluster is None:
            self._cluster = ClusterTransaction(self._session)
        return self._cluster


class ClusterTransaction:
    """``session.advanced.cluster_transaction``: compare-exchange values written atomically with
    the session's documents in its cluster-wide transaction."""

    def __init__(self, session: DocumentSession) -> None:
        self._session = session

    def _check(self) -> None:
        if not self._session.session_options.cluster_wide:
            raise ClusterTransactionRequiredError(
                "This function is part of cluster transaction session, in order to use it you "
                "have to open the session with "
                "SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)"
            )

    def create_compare_exchange_value(self, key: str, item: Any) -> CompareExchangeValue:
        """Reserve ``key`` (it must not exist) with ``item``; sent with save_changes()."""
        self._check()
        self._session._cmpxchg_connection()
        if key in self._session._cmpxchg:
            raise sa_exc.InvalidRequestError(
                f"The key '{key}' already has a compare exchange value in this session"
            )
        value = CompareExchangeValue(key, 0, item)
        self._session._cmpxchg[key] = ("PUT", value)
        return value

    def get_compare_exchange_value(self, key: str) -> CompareExchangeValue | None:
        """The stored value of ``key`` (one counted request), or None."""
        return self.get_compare_exchange_values([key]).get(key)

    def get_compare_exchange_values(self, keys: Iterable[str]) -> dict[str, CompareExchangeValue]:
        self._check()
        s = self._session
        dbapi_conn = s._cmpxchg_connection()
        backend = dbapi_conn.backend
        getter = getattr(backend, "get_compare_exchange_values", None)
        if getter is None:
            raise MissingCoreHookError(
                "get_compare_exchange_value() needs the core hook "
                "backend.get_compare_exchange_values(keys) -> {key: (value, index)}"
            )
        found: Mapping[str, tuple[Any, int]] = getter(list(keys))
        values = {k: CompareExchangeValue(k, index, value) for k, (value, index) in found.items()}
        for key, item in values.items():
            # Tracked as RavenDB's session tracks it: a change of .value is saved (a PUT at
            # the index read, so a concurrent change fails the commit).
            s._cmpxchg_read[key] = (item, inplace.kept(item.value))
        return values

    def delete_compare_exchange_value(self, item_or_key: Any, index: int | None = None) -> None:
        """Delete a compare-exchange value (an item read in this session, or key + index)."""
        self._check()
        self._session._cmpxchg_connection()
        if isinstance(item_or_key, CompareExchangeValue):
            key, index = item_or_key.key, item_or_key.index
        else:
            key = item_or_key
            if index is None:
                raise ValueError("delete_compare_exchange_value(key, index): index is required")
        self._session._cmpxchg[key] = ("DELETE", CompareExchangeValue(key, index, None))


class ScopedDocumentSession(scoped_session[DocumentSession]):
    """``scoped_session`` that also proxies the RavenDB names of :class:`DocumentSession`
    (``load``, ``store``, ``save_changes``, ``advanced``) to the current session."""

    def load(self, id_or_ids: Any, object_type: Any = None, *,
             options: Iterable[Any] = ()) -> Any:
        return self.registry().load(id_or_ids, object_type, options=options)

    def store(self, entity: object, key: Any = None, change_vector: str | None = None) -> None:
        self.registry().store(entity, key, change_vector)

    def save_changes(self) -> None:
        self.registry().save_changes()

    @property
    def advanced(self) -> Advanced:
        return self.registry().advanced
