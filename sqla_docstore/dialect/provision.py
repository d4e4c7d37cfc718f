"""Provisioning hooks for SQLAlchemy's test plugin (loaded by DefaultDialect.load_provisioning)."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
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


@post_configure_testing_engine.for_db("docstore")
def _post_configure_testing_engine(url: Any, engine: Engine, options: dict[str, Any],
                                   scope: Any) -> None:
    # SQLAlchemy's fixtures ask for an engine on the main engine's in-memory database with
    # ``sqlite_share_pool`` (the SQLite dialect moves the main pool over); here each
    # ``docstore://`` engine has a private store, so the new engine is given the main one's.
    main = config.db
    if options.get("sqlite_share_pool") and main is not None and (
            url.database or ":memory:") == ":memory:":
        share_memory_store(engine, main)


def share_memory_store(engine: Engine, main: Engine) -> None:
    """Make ``engine``'s new connections use ``main``'s in-memory store."""
    raw = main.raw_connection()
    try:
        store = raw.driver_connection.backend.store  # type: ignore[union-attr]
    finally:
        raw.close()

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["store"] = store
