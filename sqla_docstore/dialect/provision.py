"""Provisioning hooks for SQLAlchemy's test plugin (loaded by DefaultDialect.load_provisioning)."""

from __future__ import annotations

import os
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.testing import config
from sqlalchemy.testing.provision import (
    drop_db,
    follower_url_from_main,
    post_configure_testing_engine,
    temp_table_keyword_args,
)


@follower_url_from_main.for_db("docstore")
def _follower_url(url: Any, ident: str) -> Any:
    if url.database and url.database != ":memory:":
        return url.set(database=f"{ident}_{os.path.basename(url.database)}")
    return url


@follower_url_from_main.for_db("ravendb")
def _raven_follower_url(url: Any, ident: str) -> Any:
    return url.set(database=f"{url.database}_{ident}")


@drop_db.for_db("docstore")
def _drop_db(cfg: Any, eng: Any, ident: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        path = f"{ident}_{os.path.basename(eng.url.database or '')}{suffix}"
        if os.path.exists(path):
            os.remove(path)


@temp_table_keyword_args.for_db("docstore", "ravendb")
def _temp_table_keyword_args(cfg: Any, eng: Any) -> dict[str, Any]:
    return {"prefixes": ["TEMPORARY"]}


#: the in-memory store of each ``docstore://`` testing engine, recorded as it connects
_memory_stores: WeakKeyDictionary[Engine, Any] = WeakKeyDictionary()


def _in_memory(url: URL) -> bool:
    return url.get_backend_name() == "docstore" and (url.database or ":memory:") == ":memory:"


@post_configure_testing_engine.for_db("docstore")
def _post_configure_testing_engine(url: URL, engine: Any, options: dict[str, Any],
                                   scope: Any) -> None:
    # SQLAlchemy's suite takes every testing engine to reach the main engine's database (as
    # any server database does; SQLite's in-memory ones do when asked, ``sqlite_share_pool``).
    # Each ``docstore://`` engine has a private store: a testing engine on a memory URL is
    # given the main engine's.
    if not _in_memory(url):
        return
    engine = getattr(engine, "sync_engine", engine)  # (an AsyncEngine's events)
    main = config.db
    if main is not None and main is not engine and _in_memory(main.url):
        share_memory_store(engine, main)
        return

    @event.listens_for(engine, "do_connect")
    def _record(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        _memory_stores.setdefault(engine, cparams["store"])


def share_memory_store(engine: Engine, main: Engine) -> None:
    """Make ``engine``'s new connections use ``main``'s in-memory store."""
    store = memory_store_of(main)
    _memory_stores[engine] = store

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["store"] = store


def memory_store_of(engine: Engine) -> Any:
    """The in-memory store ``engine``'s connections use (one connection is made if none was)."""
    store = _memory_stores.get(engine)
    if store is None:
        raw = engine.raw_connection()
        try:
            store = raw.driver_connection.backend.store  # type: ignore[union-attr]
        finally:
            raw.close()
        _memory_stores[engine] = store
    return store
