"""The embedded store's write floor: its collection table layout, and variants of it, on plain
sqlite3 (no sqla_docstore code), so a layout change can be judged before it is made.

    python bench/write_layouts.py [--n 10000] [--rounds 5] [--sizes 80,1000,4000]
        [--only textid,intkey,...] [--callgrind-helper cg.so]

Each variant is a fresh WAL file (synchronous=NORMAL, as the store opens its files) holding
``--n`` documents ``{"id": i, "name": ..., "description": ...}`` padded to each body size.
Timed (CPU seconds of this process, best of ``--rounds``; every round runs every variant, so a
busy machine slows them alike):

- ``insert``: one executemany of the rows (id, body, cv, modified) and its COMMIT;
- ``update``: the bodies replaced by id (``UPDATE ... SET body, cv, modified WHERE id = ?``);
- ``json_set``: one field set by SQLite's json_set by id (the store's PATCH runs, an ORM flush);
- ``point``: 10,000 ``SELECT body, cv ... WHERE id = ?`` in autocommit (per query);
- ``scan``: ``SELECT id, body, cv`` of every row;
- ``commit1``: 300 commits of one UPDATE by id each (per commit).

Variants: ``textid`` (the store's table until layout 2: a rowid table and the id's
autoindex; the variants below but ``intkey`` are changes of it); ``keyidx``: plus the
expression index on the integer key field a query on it makes (``json_extract(body,
'$."id"')``, ``ensure_auto_indexes``); ``ididx``: an index on an
expression of the id column instead (maintained only when the id changes); ``norowid``: the
same columns WITHOUT ROWID; ``intmeta``: cv and modified as integers (an etag, 100 ns ticks);
``ps8k``/``ps16k``: page_size 8 KiB / 16 KiB (a new file's only); ``intkey`` (the store's
table since layout 2, ``store.create_collection``): the row key is the id's integer
(``customer/17`` is row 17) and only ids of another form (none here) are indexed, through a
partial index: rows are written and found by their key. Not a test: a table to read.

Instruction counts (no noise from other load): with ``--callgrind-helper`` (a shared library
whose ``cg_on()`` / ``cg_off(name)`` start and stop callgrind's collection and dump it, see
bench/README.md) under ``valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no``,
each operation is one callgrind dump named by the operation.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from typing import Any, NamedTuple

_DB_ID = base64.b64encode(os.urandom(16)).decode()[:22]
_MODIFIED = "2026-11-30T21:20:03.4567890Z"
_TODAY = ("CREATE TABLE t (id TEXT NOT NULL PRIMARY KEY, body TEXT NOT NULL, cv TEXT NOT NULL, "
          "modified TEXT NOT NULL, meta TEXT)")
_INT_META = _TODAY.replace("cv TEXT", "cv INTEGER").replace("modified TEXT", "modified INTEGER")
_KEY_INDEX = """CREATE INDEX kx ON t (json_extract(body, '$."id"'))"""
_ID_INDEX = "CREATE INDEX kx ON t (CAST(substr(id, 10) AS INTEGER))"
_INT_KEY = ("CREATE TABLE t (id TEXT NOT NULL, body TEXT NOT NULL, cv TEXT NOT NULL, "
            "modified TEXT NOT NULL, meta TEXT)")
_OTHER_IDS = "CREATE UNIQUE INDEX ox ON t (id) WHERE rowid < 0"


class Variant(NamedTuple):
    ddl: tuple[str, ...]
    int_meta: bool = False
    page_size: int | None = None
    int_key: bool = False  # rows addressed by rowid = the id's integer (``intkey``)


VARIANTS = {
    "textid": Variant((_TODAY,)),
    "keyidx": Variant((_TODAY, _KEY_INDEX)),
    "ididx": Variant((_TODAY, _ID_INDEX)),
    "norowid": Variant((_TODAY + " WITHOUT ROWID",)),
    "norowid+keyidx": Variant((_TODAY + " WITHOUT ROWID", _KEY_INDEX)),
    "intmeta": Variant((_INT_META,), int_meta=True),
    "intmeta+keyidx": Variant((_INT_META, _KEY_INDEX), int_meta=True),
    "ps8k": Variant((_TODAY,), page_size=8192),
    "ps16k": Variant((_TODAY,), page_size=16384),
    "intkey": Variant((_INT_KEY, _OTHER_IDS), int_key=True),
}
OPS = ("insert", "update", "json_set", "point", "scan", "commit1")
_PER_CALL = {"point": 10_000, "commit1": 300}  # reported per call, in microseconds


def body(i: int, size: int) -> str:
    doc: dict[str, Any] = {"id": i + 1, "name": f"customer name {i}",
                           "description": f"customer description {i}"}
    short = len(json.dumps(doc, separators=(",", ":")))
    if size > short + 11:
        doc["notes"] = "x" * (size - short - 11)
    return json.dumps(doc, separators=(",", ":"))


def _meta(v: Variant, etag: int) -> tuple[Any, Any]:
    if v.int_meta:
        return etag, 17_648_000_000_000_000
    return f"A:{etag}-{_DB_ID}", _MODIFIED


_helper: Any = None  # the callgrind helper library, if given


def _cpu(fn: Callable[[], Any], name: str) -> float:
    if _helper is not None:
        _helper.cg_on()
    start = time.process_time()
    fn()
    spent = time.process_time() - start
    if _helper is not None:
        _helper.cg_off(name.encode())
    return spent


def _connect(path: str, v: Variant) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    if v.page_size:
        conn.execute(f"PRAGMA page_size={v.page_size}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _in_transaction(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")


def one_round(v: Variant, n: int, size: int, path: str) -> dict[str, float]:
    """Every operation once on a fresh file: CPU seconds by operation."""
    for leftover in (path, path + "-wal", path + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    conn = _connect(path, v)
    for ddl in v.ddl:
        conn.execute(ddl)
    names = [f"customer/{i + 1}" for i in range(n)]
    ids: list[Any] = list(range(1, n + 1)) if v.int_key else names
    by_id = "rowid = ?" if v.int_key else "id = ?"
    out: dict[str, float] = {}
    if v.int_key:
        rows = [(ids[i], names[i], body(i, size), *_meta(v, i + 1)) for i in range(n)]
        insert = "INSERT INTO t (rowid, id, body, cv, modified) VALUES (?, ?, ?, ?, ?)"
    else:
        rows = [(ids[i], body(i, size), *_meta(v, i + 1)) for i in range(n)]
        insert = "INSERT INTO t (id, body, cv, modified) VALUES (?, ?, ?, ?)"
    out["insert"] = _cpu(lambda: _in_transaction(conn, insert, rows), "insert")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = [(body(i, size).replace("customer", "Customer"), *_meta(v, n + i + 1), ids[i])
            for i in range(n)]
    out["update"] = _cpu(lambda: _in_transaction(
        conn, f"UPDATE t SET body = ?, cv = ?, modified = ? WHERE {by_id}", rows), "update")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = [(f"customer description {i} updated", *_meta(v, 2 * n + i + 1), ids[i])
            for i in range(n)]
    out["json_set"] = _cpu(lambda: _in_transaction(
        conn, """UPDATE t SET body = json_set(body, '$."description"', ?), cv = ?, """
              f"modified = ? WHERE {by_id}", rows), "json_set")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    conn = _connect(path, v)  # a new handle, as a new connection reads
    rng = random.Random(3)
    picked = [ids[rng.randrange(n)] for _ in range(_PER_CALL["point"])]

    def point() -> None:
        for doc_id in picked:
            conn.execute(f"SELECT body, cv FROM t WHERE {by_id}", (doc_id,)).fetchone()

    out["point"] = _cpu(point, "point")
    out["scan"] = _cpu(lambda: conn.execute("SELECT id, body, cv FROM t").fetchall(), "scan")
    one_body = body(0, size)

    def commits() -> None:
        for k, doc_id in enumerate(picked[:_PER_CALL["commit1"]]):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"UPDATE t SET body = ?, cv = ?, modified = ? WHERE {by_id}",
                         (one_body, *_meta(v, 3 * n + k), doc_id))
            conn.execute("COMMIT")

    out["commit1"] = _cpu(commits, "commit1")
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="80,1000,4000")
    parser.add_argument("--only", default="", help="variant names, comma-separated")
    parser.add_argument("--callgrind-helper", help="a library with cg_on() and cg_off(name)")
    args = parser.parse_args()
    global _helper
    if args.callgrind_helper:
        _helper = ctypes.CDLL(args.callgrind_helper)
    names = [v for v in args.only.split(",") if v] or list(VARIANTS)
    tmp = tempfile.mkdtemp(prefix="write-layouts-")
    print(f"SQLite {sqlite3.sqlite_version}, {args.n} documents, CPU best of {args.rounds} "
          "interleaved rounds: ms, point and commit1 in us per call")
    try:
        for size in map(int, args.sizes.split(",")):
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.rounds):
                for name in names:
                    times = one_round(VARIANTS[name], args.n, size, os.path.join(tmp, "t.db"))
                    kept = best.setdefault(name, times)
                    for op, seconds in times.items():
                        kept[op] = min(kept[op], seconds)
            print(f"\nbody ~{len(body(0, size))} B")
            print(f"{'variant':16}" + "".join(f"{op:>10}" for op in OPS))
            for name, times in best.items():
                cells = [times[op] / _PER_CALL[op] * 1e6 if op in _PER_CALL else times[op] * 1e3
                         for op in OPS]
                print(f"{name:16}" + "".join(f"{c:10.2f}" for c in cells), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
