"""``/hilo/next`` and ``/hilo/return``: RavenDB's HiLo ranges over the store's ``@hilo`` table."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ...backends.embedded.store import utc_now_text
from . import errors
from .database import Database

_MIN, _MAX = 32, 1024 * 1024
_ESCAPED = re.compile(r"\\(.)")


def _tag(raw: str | None) -> str:
    if not raw:
        raise errors.bad_request("HiLo needs a 'tag'")
    return _ESCAPED.sub(r"\1", raw)  # the client escapes tags Lucene-style


def _age(last_range_at: str | None) -> float | None:
    if not last_range_at:
        return None
    try:
        then = dt.datetime.fromisoformat(last_range_at.rstrip("Z")[:26])
    except ValueError:
        return None
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return (now - then).total_seconds()


def next_range(db: Database, node: str, raw_tag: str | None, last_size: int,
               last_range_at: str | None, separator: str, last_max: int) -> dict[str, Any]:
    """Reserve the next range: capacity doubles when ranges are used up within 30 s and halves
    when the last one is older than a minute (RavenDB's policy)."""
    tag = _tag(raw_tag)
    capacity = max(_MIN, last_size)
    age = _age(last_range_at)
    if age is not None and age < 30:
        capacity = min(capacity * 2, _MAX)
    elif age is not None and age > 60:
        capacity = max(capacity // 2, _MIN)
    with db.write() as sql:
        row = sql.execute("""SELECT tag, max FROM "@hilo" WHERE tag = ? COLLATE NOCASE""",
                          (tag,)).fetchone()
        stored_tag, current = (row[0], int(row[1])) if row else (tag, 0)
        low = max(current, last_max) + 1
        high = low + capacity - 1
        now = utc_now_text()
        sql.execute(
            """INSERT INTO "@hilo" (tag, max, last_range_at, last_size) VALUES (?, ?, ?, ?)
               ON CONFLICT(tag) DO UPDATE SET max = excluded.max,
               last_range_at = excluded.last_range_at, last_size = excluded.last_size""",
            (stored_tag, high, now, capacity))
    return {"Prefix": tag + separator, "Low": low, "High": high, "LastSize": capacity,
            "ServerTag": node, "LastRangeAt": now}


def return_range(db: Database, raw_tag: str | None, end: int, last: int) -> None:
    """Give back the unused end of a range, if nobody reserved after it."""
    tag = _tag(raw_tag)
    with db.write() as sql:
        row = sql.execute("""SELECT tag, max FROM "@hilo" WHERE tag = ? COLLATE NOCASE""",
                          (tag,)).fetchone()
        if row is not None and int(row[1]) == end and last <= end:
            sql.execute("""UPDATE "@hilo" SET max = ? WHERE tag = ?""", (last, row[0]))
