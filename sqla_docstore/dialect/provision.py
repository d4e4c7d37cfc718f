"""Provisioning hooks for SQLAlchemy's test plugin (loaded by DefaultDialect.load_provisioning)."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.testing.provision import drop_db, follower_url_from_main, temp_table_keyword_args


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
