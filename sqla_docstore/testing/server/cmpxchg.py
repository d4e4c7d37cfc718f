"""Compare-exchange values (RavenDB's cluster-wide unique values) in the store's ``@cmpxchg``."""

from __future__ import annotations

import sqlite3
from typing import Any

from ... import values
from . import errors
from .database import Database
from .writes import Writer

#: Keys of the atomic guards the server keeps for cluster-wide document writes.
ATOMIC_PREFIX = "rvn-atomic/"


def read(sql: sqlite3.Connection, key: str) -> tuple[str, Any, int] | None:
    """(key as stored, value ``{"Object": ..., "@metadata"?: ...}``, index), or None."""
    row = sql.execute("""SELECT key, value, idx FROM "@cmpxchg" WHERE key = ?""", (key,)).fetchone()
    return None if row is None else (row[0], values.loads(row[1]), int(row[2]))


def index_of(sql: sqlite3.Connection, key: str) -> int:
    row = read(sql, key)
    return 0 if row is None else row[2]


def write(sql: sqlite3.Connection, key: str, value: Any, index: int) -> None:
    sql.execute(
        """INSERT INTO "@cmpxchg" (key, value, idx) VALUES (?, ?, ?) ON CONFLICT(key)
           DO UPDATE SET value = excluded.value, idx = excluded.idx""",
        (key, values.dumps(value), index))


def remove(sql: sqlite3.Connection, key: str) -> None:
    sql.execute("""DELETE FROM "@cmpxchg" WHERE key = ?""", (key,))


def check_key(key: str | None) -> str:
    if not key:
        raise errors.bad_request("The compare exchange key must not be empty")
    if key.lower().startswith(ATOMIC_PREFIX):
        raise errors.RavenError(
            400, "Raven.Client.Exceptions.CompareExchangeInvalidKeyException",
            f"You cannot manipulate the atomic guard '{key}' via the client API")
    return key


# -- endpoints -----------------------------------------------------------------------------

def get_values(db: Database, keys: list[str], prefix: str | None, start: int,
               page_size: int) -> dict[str, Any] | None:
    """GET /cmpxchg: one key (None when missing: 404), several keys, or a key prefix (no key
    and no prefix: all values, as RavenDB lists them)."""
    if not keys and prefix is None:
        prefix = ""
    with db.lock:
        if prefix is not None:
            rows = db.sql.execute(
                """SELECT key, value, idx FROM "@cmpxchg" WHERE key >= ? AND key < ?
                   AND key NOT LIKE 'rvn-atomic/%' ORDER BY key LIMIT ? OFFSET ?""",
                (prefix, prefix + "\U0010ffff", page_size, start)).fetchall()
            return {"Results": [{"Key": r[0], "Value": values.loads(r[1]), "Index": r[2]}
                                for r in rows]}
        found = [read(db.sql, key) for key in keys]
    if len(keys) == 1 and found[0] is None:
        return None
    return {"Results": [
        {"Key": key, "Value": None, "Index": -1} if row is None
        else {"Key": row[0], "Value": row[1], "Index": row[2]}
        for key, row in zip(keys, found, strict=True)
    ]}


def put_value(db: Database, node: str, key: str, index: int, value: Any) -> dict[str, Any]:
    """PUT /cmpxchg: store if the current index is ``index`` (0: only if absent)."""
    check_key(key)
    with db.write() as sql:
        current = read(sql, key)
        current_index = 0 if current is None else current[2]
        if current_index != index:
            return {"Index": current_index, "Value": None if current is None else current[1],
                    "Successful": False}
        new_index = Writer(db, node).raft_index()
        write(sql, current[0] if current else key, value, new_index)
    return {"Index": new_index, "Value": value, "Successful": True}


def delete_value(db: Database, node: str, key: str, index: int) -> dict[str, Any]:
    """DELETE /cmpxchg: remove if the current index is ``index``."""
    check_key(key)
    with db.write() as sql:
        current = read(sql, key)
        if current is None or current[2] != index:
            return {"Index": 0 if current is None else current[2],
                    "Value": None if current is None else current[1], "Successful": False}
        new_index = Writer(db, node).raft_index()
        remove(sql, key)
    return {"Index": new_index, "Value": current[1], "Successful": True}
