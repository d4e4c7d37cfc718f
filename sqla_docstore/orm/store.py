"""DocumentStore and DocumentConventions: RavenDB's entry point, owning one engine per database."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..dbapi import open_store
from .asyncio import AsyncDocumentSession
from .budget import DEFAULT_MAX_REQUESTS
from .options import SessionOptions
from .session import DocumentSession


@dataclass
class DocumentConventions:
    """Store-wide defaults for the sessions a :class:`DocumentStore` opens.

    ``max_number_of_requests_per_session``: the request budget of each session (RavenDB's
    default 30; None = unlimited). ``use_optimistic_concurrency``: updates and deletes of loaded
    documents carry the change vector they were loaded with (single-node sessions).
    ``disable_atomic_document_writes_in_cluster_wide_transaction``: cluster-wide sessions send
    their batches without atomic guards.
    """

    max_number_of_requests_per_session: int | None = DEFAULT_MAX_REQUESTS
    use_optimistic_concurrency: bool = False
    disable_atomic_document_writes_in_cluster_wide_transaction: bool = False


class DocumentStore:
    """The store a RavenDB application starts from: it owns the engines and opens sessions.

    ``DocumentStore(url="docstore:///app.db")`` (any sqla_docstore URL: ``docstore://`` for a
    private in-memory store, ``docstore:///path.db``, ``ravendb://host:8080/Db``), or
    ``DocumentStore(urls=["http://a:8080", "http://b:8080"], database="Northwind")`` for a
    RavenDB cluster (``certificate_pem_path`` / ``trust_store_path`` for HTTPS with a client
    certificate). ``metadata`` (optional: mapped classes work on any database without it, the
    mapping being the schema): tables created (if missing) in every database the store opens.
    ``engine_options``: keyword arguments for ``create_engine``.

    Use it as a context manager (or call :meth:`close`): closing disposes the engines.
    ``open_session(database="Other")`` opens a session on another database: for a file store
    the sibling file ``Other.db`` next to the store's file, for RavenDB the database ``Other``
    of the same server, for ``docstore://`` another in-memory store. Each database gets one
    engine, created on first use and kept by the store.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        urls: list[str] | str | None = None,
        database: str | None = None,
        conventions: DocumentConventions | None = None,
        *,
        certificate_pem_path: str | None = None,
        trust_store_path: str | None = None,
        metadata: Any = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        if (url is None) == (urls is None):
            raise ValueError("DocumentStore needs url=<sqla_docstore URL>, or urls=[...] and "
                             "database=... for a RavenDB server or cluster")
        if isinstance(urls, str):
            urls = [urls]
        if urls is not None:
            if not urls or not database:
                raise ValueError("DocumentStore(urls=[...]) needs at least one url and a database")
            self._url = _raven_url(list(urls), database, certificate_pem_path, trust_store_path)
            self.urls: list[str] | None = [u.rstrip("/") for u in urls]
        else:
            assert url is not None
            self._url = make_url(url)
            self.urls = None
            if certificate_pem_path or trust_store_path:
                query = dict(self._url.query)
                if certificate_pem_path:
                    query["cert"] = certificate_pem_path
                if trust_store_path:
                    query["ca"] = trust_store_path
                self._url = self._url.set(query=query)
        self._own_name = self._url_database_name()
        self.database: str = database or self._own_name
        self.conventions = conventions if conventions is not None else DocumentConventions()
        self.metadata = metadata
        self.engine_options = dict(engine_options or {})
        self._engines: dict[str, Engine] = {}
        self._async_engines: dict[str, AsyncEngine] = {}
        self._memory_stores: dict[str, Any] = {}  # docstore://: one store per database name
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"<DocumentStore {self._url.render_as_string(hide_password=True)} " \
               f"database={self.database!r}>"

    # -- engines ----------------------------------------------------------------------
    @property
    def _kind(self) -> str:
        backend = self._url.get_backend_name()
        if backend == "ravendb":
            return "ravendb"
        return "file" if self._url.database not in (None, "", ":memory:") else "memory"

    def _url_database_name(self) -> str:
        kind = self._kind
        if kind == "ravendb":
            return self._url.database or ""
        if kind == "file":
            return Path(self._url.database or "").stem
        return "default"

    def _url_for(self, name: str) -> URL:
        if name.lower() == self._own_name.lower():
            return self._url
        if "/" in name or "\\" in name or name in (".", "..") or not name.strip():
            raise ValueError(f"not a database name: {name!r}")
        kind = self._kind
        if kind == "ravendb":
            return self._url.set(database=name)
        if kind == "file":
            path = Path(self._url.database or "")
            return self._url.set(database=str(path.with_name(name + path.suffix)))
        return self._url  # docstore://: every engine is a new in-memory store

    @property
    def engine(self) -> Engine:
        """The engine of the store's default database."""
        return self.get_engine()

    def get_engine(self, database: str | None = None) -> Engine:
        """The engine of ``database`` (default: the store's), created on first use."""
        if self._closed:
            raise RuntimeError("the DocumentStore is closed")
        name = database or self.database
        key = name.lower()  # RavenDB database names ignore case
        engine = self._engines.get(key)
        if engine is not None:
            return engine
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = create_engine(self._url_for(name), **self._options(key))
                if self.metadata is not None:
                    self.metadata.create_all(engine)
                self._engines[key] = engine
        return engine

    def get_async_engine(self, database: str | None = None) -> AsyncEngine:
        """The ``AsyncEngine`` of ``database``, on the same documents as :meth:`get_engine`'s
        (which creates the metadata's tables first: the first call per database blocks)."""
        name = database or self.database
        key = name.lower()
        engine = self._async_engines.get(key)
        if engine is not None:
            return engine
        self.get_engine(name)
        with self._lock:
            engine = self._async_engines.get(key)
            if engine is None:
                engine = create_async_engine(self._url_for(name), **self._options(key))
                self._async_engines[key] = engine
        return engine

    def _options(self, key: str) -> dict[str, Any]:
        options = dict(self.engine_options)
        connect_args = dict(options.pop("connect_args", {}))
        if self.urls is not None:
            connect_args.setdefault("urls", list(self.urls))
        if self._kind == "memory":  # the sync and the async engine share the store
            if key not in self._memory_stores:
                self._memory_stores[key] = open_store(":memory:")
            connect_args.setdefault("store", self._memory_stores[key])
        if connect_args:
            options["connect_args"] = connect_args
        return options

    # -- sessions ---------------------------------------------------------------------
    def open_session(
        self,
        database: str | SessionOptions | None = None,
        session_options: SessionOptions | None = None,
        **session_kw: Any,
    ) -> DocumentSession:
        """A new :class:`DocumentSession` with RavenDB defaults: the conventions' request
        budget and optimistic concurrency, objects not expired at save_changes().
        ``database`` (or ``session_options.database``) picks another database;
        ``session_kw`` go to the Session constructor (e.g. ``autoflush=False``)."""
        if isinstance(database, SessionOptions):
            database, session_options = None, database
        options = session_options if session_options is not None else SessionOptions()
        name = database or options.database or self.database
        bind = options.request_executor or self.get_engine(name)
        session_kw.setdefault("expire_on_commit", False)
        return DocumentSession(
            bind=bind,
            session_options=options,
            document_store=self,
            **session_kw,
        )

    def open_async_session(
        self,
        database: str | SessionOptions | None = None,
        session_options: SessionOptions | None = None,
        **session_kw: Any,
    ) -> AsyncDocumentSession:
        """:meth:`open_session` for asyncio: an :class:`AsyncDocumentSession`
        (``async with store.open_async_session() as s: await s.load(...)``)."""
        if isinstance(database, SessionOptions):
            database, session_options = None, database
        options = session_options if session_options is not None else SessionOptions()
        name = database or options.database or self.database
        session_kw.setdefault("expire_on_commit", False)
        return AsyncDocumentSession(self.get_async_engine(name), session_options=options,
                                    document_store=self, **session_kw)

    def initialize(self) -> DocumentStore:
        """RavenDB's ``initialize()``: nothing to do here (engines start lazily); returns the
        store so ``DocumentStore(...).initialize()`` reads as in RavenDB."""
        return self

    def close(self) -> None:
        """Dispose every engine the store created."""
        with self._lock:
            self._closed = True
            engines, self._engines = list(self._engines.values()), {}
            async_engines, self._async_engines = list(self._async_engines.values()), {}
        for async_engine in async_engines:
            # Pooled async connections close without awaiting: no event loop is needed here.
            async_engine.sync_engine.dispose(close=False)
        for engine in engines:
            engine.dispose()

    async def aclose(self) -> None:
        """:meth:`close`, awaiting the async engines' connections."""
        with self._lock:
            async_engines, self._async_engines = list(self._async_engines.values()), {}
        for async_engine in async_engines:
            await async_engine.dispose()
        self.close()

    async def __aenter__(self) -> DocumentStore:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _raven_url(urls: list[str], database: str, cert: str | None, ca: str | None) -> URL:
    first = urlsplit(urls[0] if "://" in urls[0] else "http://" + urls[0])
    driver = "ravendb+https" if first.scheme == "https" else "ravendb"
    query = {}
    if cert:
        query["cert"] = cert
    if ca:
        query["ca"] = ca
    return URL.create(driver, host=first.hostname, port=first.port, database=database,
                      query=query)
