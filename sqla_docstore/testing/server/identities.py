"""Identities (ids like ``users|`` -> ``users/1``): ``/identity/next``, ``/identity/seed`` and
``/debug/identities``, over the counters ``identity:<prefix>`` that server-made ids use."""

from __future__ import annotations

from . import errors
from .database import Database, fold

_KEY = "identity:"


def _key(name: str | None) -> str:
    if not name or not name.strip():
        raise errors.bad_request("An identity needs a 'name'")
    return _KEY + fold(name[:-1] if name.endswith("|") else name)


def next_value(db: Database, name: str | None) -> int:
    key = _key(name)
    with db.write() as sql:
        sql.execute("""INSERT OR IGNORE INTO "@meta" VALUES (?, 0)""", (key,))
        sql.execute("""UPDATE "@meta" SET value = value + 1 WHERE key = ?""", (key,))
        return int(sql.execute("""SELECT value FROM "@meta" WHERE key = ?""",
                               (key,)).fetchone()[0])


def seed(db: Database, name: str | None, value: int, force: bool) -> int:
    """Raise the identity to ``value`` (or set it, with ``force``); the value it now has."""
    key = _key(name)
    with db.write() as sql:
        sql.execute("""INSERT OR IGNORE INTO "@meta" VALUES (?, 0)""", (key,))
        current = int(sql.execute("""SELECT value FROM "@meta" WHERE key = ?""",
                                  (key,)).fetchone()[0])
        if force or value > current:
            sql.execute("""UPDATE "@meta" SET value = ? WHERE key = ?""", (value, key))
            current = value
    return current


def listing(db: Database) -> dict[str, int]:
    with db.lock:
        rows = db.sql.execute("""SELECT key, value FROM "@meta" WHERE key LIKE 'identity:%'
                                 ORDER BY key""").fetchall()
    return {row[0][len(_KEY):] + "|": int(row[1]) for row in rows}
