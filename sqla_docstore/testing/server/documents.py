"""``/docs``: load by ids (any case), by id prefix, with includes; ETags from change vectors."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ... import values
from ...backends.embedded.store import collection_table
from . import cmpxchg
from .database import Database, StoredDoc, fold
from .writes import document_dict, document_text


def etag_of(docs: list[StoredDoc | None], includes: dict[str, str]) -> str:
    """Changes when any document or included document changes."""
    digest = hashlib.md5()
    for doc in docs:
        digest.update((doc[3] if doc else "-").encode() + b"\x00")
    for doc_id, text in includes.items():
        digest.update(doc_id.encode() + b"\x00" + text.encode() + b"\x00")
    return digest.hexdigest()


def load(db: Database, ids: list[str]) -> list[StoredDoc | None]:
    """The documents with these ids (ignoring case), in order; None for a missing id."""
    with db.lock:
        rows = db.find(ids)
    found: dict[str, StoredDoc] = {}
    for row in rows:
        found.setdefault(fold(row[1]), row)
    return [found.get(fold(doc_id)) for doc_id in ids]


def _paths(doc: Any, path: str) -> list[Any]:
    """Values at a dotted include path; arrays on the way are walked (``Lines[].Product`` and
    ``Lines.Product`` alike, as RavenDB does)."""
    nodes = [doc]
    for part in path.split("."):
        name = part[:-2] if part.endswith("[]") else part
        nxt: list[Any] = []
        for node in _flat(nodes):
            value = node.get(name) if isinstance(node, dict) else None
            if value is not None:
                nxt.append(value)
        nodes = nxt
    return _flat(nodes)


def _flat(nodes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        out.extend(_flat(node) if isinstance(node, list) else [node])
    return out


def includes_of(db: Database, docs: list[StoredDoc | None], paths: list[str]) -> dict[str, str]:
    """``Includes``: id -> document text for ids referenced by ``paths`` of ``docs``."""
    if not paths:
        return {}
    wanted: list[str] = []
    for doc in docs:
        if doc is None:
            continue
        body = values.loads(doc[2])
        for path in paths:
            wanted += [v for v in _paths(body, path) if isinstance(v, str)]
    loaded = load(db, list(dict.fromkeys(wanted)))
    return {doc[1]: document_text(doc) for doc in loaded if doc is not None}


def _metadata_text(doc: StoredDoc) -> str:
    return values.dumps({"@metadata": document_dict(doc)["@metadata"]})


def compare_exchange_includes_of(db: Database, docs: list[StoredDoc | None],
                                 paths: list[str]) -> dict[str, Any]:
    """``CompareExchangeValueIncludes``: key -> value for the keys ``paths`` of ``docs`` hold."""
    if not paths:
        return {}
    keys: list[str] = []
    for doc in docs:
        if doc is not None:
            body = values.loads(doc[2])
            keys += [v for path in paths for v in _paths(body, path) if isinstance(v, str)]
    found: dict[str, Any] = {}
    with db.lock:
        for key in dict.fromkeys(keys):
            row = cmpxchg.read(db.sql, key)
            if row is not None:
                found[row[0]] = {"Key": row[0], "Index": row[2], "Value": row[1]}
    return found


def results_text(docs: list[StoredDoc | None], includes: dict[str, str],
                 metadata_only: bool = False,
                 compare_exchange: dict[str, Any] | None = None) -> str:
    """``metadata_only``: each document as ``{"@metadata": ...}`` (includes stay whole)."""
    text = _metadata_text if metadata_only else document_text
    items = ",".join("null" if d is None else text(d) for d in docs)
    incl = ",".join(f"{values.dumps(k)}:{v}" for k, v in includes.items())
    tail = "}}"
    if compare_exchange:
        tail = '},"CompareExchangeValueIncludes":' + values.dumps(compare_exchange) + "}"
    return '{"Results":[' + items + '],"Includes":{' + incl + tail


def _wildcards(patterns: str | None) -> re.Pattern[str] | None:
    """RavenDB's ``matches``/``exclude``: ``|``-separated patterns of ``*`` and ``?``,
    ignoring case, over the part of the id after the prefix."""
    if not patterns:
        return None
    parts = ["".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p)
             for p in patterns.split("|") if p]
    return re.compile("(?:" + "|".join(parts) + r")\Z", re.IGNORECASE | re.DOTALL)


def starting_with(db: Database, prefix: str, start: int, page_size: int,
                  start_after: str | None, matches: str | None = None,
                  exclude: str | None = None) -> list[StoredDoc]:
    """Documents whose id starts with ``prefix`` (ignoring case), ordered by id, those whose
    rest matches ``matches`` and not ``exclude`` (wildcard patterns) when given."""
    wanted, unwanted = _wildcards(matches), _wildcards(exclude)
    filtered = wanted is not None or unwanted is not None
    with db.lock:
        names = db.collections()
        if not names:
            return []
        low = start_after if start_after and fold(start_after) > fold(prefix) else prefix
        op = ">" if low == start_after else ">="
        parts = [
            f"SELECT {i}, id, body, cv, modified, meta FROM {collection_table(n)} "
            f"WHERE id COLLATE NOCASE {op} :low AND id COLLATE NOCASE < :high"
            for i, n in enumerate(names)
        ]
        sql = " UNION ALL ".join(parts) + " ORDER BY 2 COLLATE NOCASE"
        if not filtered:
            sql += " LIMIT :take OFFSET :skip"
        rows = db.sql.execute(sql, {"low": low, "high": prefix + "\U0010ffff",
                                    "take": page_size, "skip": start}).fetchall()
    if filtered:
        rest = [r for r in rows if r[1].lower().startswith(prefix.lower())]
        rows = [r for r in rest
                if (wanted is None or wanted.match(r[1][len(prefix):]))
                and (unwanted is None or not unwanted.match(r[1][len(prefix):]))]
        rows = rows[start:start + page_size]
    cv = db.store.change_vector  # (the store keeps its own as their etags)
    return [(names[r[0]], r[1], r[2], cv(r[3]), r[4], r[5]) for r in rows]


def etag_number(change_vector: str) -> int:
    """The etag of this node's entry of a change vector (``A:12-dbid,...`` -> 12)."""
    first = change_vector.split(",", 1)[0]
    try:
        return int(first.split(":", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return 0


def newest_first(db: Database, start: int, page_size: int) -> list[StoredDoc]:
    """All documents, the most recently written first (RavenDB pages ``GET /docs`` so)."""
    with db.lock:
        names = db.collections()
        cv = db.store.change_vector  # (the store keeps its own as their etags)
        rows = [(name, doc_id, body, cv(stored), *rest) for name in names
                for doc_id, body, stored, *rest in db.sql.execute(
                    f"SELECT id, body, cv, modified, meta FROM {collection_table(name)}")]
    rows.sort(key=lambda doc: etag_number(doc[3]), reverse=True)
    return rows[start:start + page_size]



