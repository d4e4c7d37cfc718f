"""``/hilo/next`` and ``/hilo/return``: RavenDB's HiLo ranges over the store's ``@hilo`` table."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ... import values
from ...backends.embedded.store import utc_now_text
from . import errors
from .database import Database, StoredDoc
from .writes import Writer

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


HILO_COLLECTION = "@hilo"
_DOC_PREFIX = "Raven/Hilo/"


def _state(w: Writer, tag: str) -> tuple[StoredDoc | None, dict[str, Any], str, int]:
    """(document, its body, the tag as first stored, current Max): RavenDB keeps the state in
    the document ``Raven/Hilo/{tag}``; a store the embedded backend wrote keeps it in its
    ``@hilo`` table, so both count (and both are kept)."""
    doc = w.find(_DOC_PREFIX + tag)
    body: dict[str, Any] = values.loads(doc[2]) if doc is not None else {}
    stored = body.get("Max")
    current = int(stored) if isinstance(stored, (int, float)) and not isinstance(
        stored, bool) else 0
    row = w.sql.execute("""SELECT tag, max FROM "@hilo" WHERE tag = ? COLLATE NOCASE""",
                        (tag,)).fetchone()
    stored_tag = row[0] if row else (doc[1][len(_DOC_PREFIX):] if doc is not None else tag)
    if row is not None:
        current = max(current, int(row[1]))
    return doc, body, stored_tag, current


def _save(w: Writer, tag: str, doc: StoredDoc | None, body: dict[str, Any], new_max: int,
          last_range_at: str | None, last_size: int | None) -> None:
    body = {**body, "Max": new_max}
    if doc is None:
        w.put(_DOC_PREFIX + tag, {**body, "@metadata": {"@collection": HILO_COLLECTION}}, None)
    else:
        w.store(doc[0], doc[1], doc, body, values.loads(doc[5] or "{}"),
                w.next_cv())
    w.sql.execute(
        """INSERT INTO "@hilo" (tag, max, last_range_at, last_size) VALUES (?, ?, ?, ?)
           ON CONFLICT(tag) DO UPDATE SET max = excluded.max,
           last_range_at = coalesce(excluded.last_range_at, last_range_at),
           last_size = coalesce(excluded.last_size, last_size)""",
        (tag, new_max, last_range_at, last_size))


def next_range(db: Database, node: str, raw_tag: str | None, last_size: int,
               last_range_at: str | None, separator: str, last_max: int) -> dict[str, Any]:
    """Reserve the next range after the stored ``Max`` (and the client's ``lastMax``):
    capacity doubles when ranges are used up within 30 s and halves when the last one is older
    than a minute (RavenDB's policy)."""
    tag = _tag(raw_tag)
    capacity = max(_MIN, last_size)
    age = _age(last_range_at)
    if age is not None and age < 30:
        capacity = min(capacity * 2, _MAX)
    elif age is not None and age > 60:
        capacity = max(capacity // 2, _MIN)
    db.ensure_collection(HILO_COLLECTION)
    with db.write():
        w = Writer(db, node)
        doc, body, stored_tag, current = _state(w, tag)
        low = max(current, last_max) + 1
        high = low + capacity - 1
        now = utc_now_text()
        _save(w, stored_tag, doc, body, high, now, capacity)
        w.finish()
    return {"Prefix": tag + separator, "Low": low, "High": high, "LastSize": capacity,
            "ServerTag": node, "LastRangeAt": now}


def return_range(db: Database, node: str, raw_tag: str | None, end: int, last: int) -> None:
    """Give back the unused end of a range, if nobody reserved after it."""
    tag = _tag(raw_tag)
    db.ensure_collection(HILO_COLLECTION)
    with db.write():
        w = Writer(db, node)
        doc, body, stored_tag, current = _state(w, tag)
        if current == end and last <= end:
            _save(w, stored_tag, doc, body, last, None, None)
            w.finish()
