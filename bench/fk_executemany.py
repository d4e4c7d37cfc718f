"""CPU time of executemany with foreign keys enforced, each set checked at its own end.

The DB-API with ``foreign_keys=True`` on an in-memory embedded store, beside sqlite3 with
``PRAGMA foreign_keys = ON``; CPU ms, best of 5 (``time.process_time``), the executemany only
(the transaction is rolled back after it). Run it from two checkouts to compare:
``PYTHONPATH=$PWD python bench/fk_executemany.py [N]`` (N = 10,000 by default).

Shapes: child rows referring to stored parents (checked once); rows of a self-referencing
table each referring to the row before (checked once, then their order); deletes from a table
referred to under NO ACTION only (checked once); updates of a referred table's other columns
(checked once); updates of distinct child rows' references (checked once); deletes from a
self-referencing ON DELETE CASCADE table (each set on its own).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from sqla_docstore import dbapi

DDL = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id))",
    "CREATE TABLE node (id INTEGER PRIMARY KEY, up INTEGER REFERENCES node(id))",
    "CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE pet (id INTEGER PRIMARY KEY, oid INTEGER REFERENCES owner(id))",
    "CREATE TABLE cnode (id INTEGER PRIMARY KEY,"
    " up INTEGER REFERENCES cnode(id) ON DELETE CASCADE)",
]


def _cases(n: int) -> dict[str, tuple[str, list[tuple[Any, ...]]]]:
    return {
        "child rows -> stored parents": (
            "INSERT INTO child VALUES (?, ?)", [(i, i % 100) for i in range(n)]),
        "self-referencing rows, each -> the one before": (
            "INSERT INTO node VALUES (?, ?)", [(i, i - 1 if i else None) for i in range(n)]),
        "delete unreferred owners (NO ACTION refs)": (
            "DELETE FROM owner WHERE id = ?", [(i,) for i in range(n // 2, n)]),
        "update owners' names (a referred table)": (
            "UPDATE owner SET name = ? WHERE id = ?", [("x", i) for i in range(n)]),
        "update distinct pets' references": (
            "UPDATE pet SET oid = ? WHERE id = ?", [(i + 1, i) for i in range(n // 2)]),
        "delete self-ref ON DELETE CASCADE rows (set by set)": (
            "DELETE FROM cnode WHERE id = ?", [(i,) for i in range(n)]),
    }


def _fill(conn: Any, n: int) -> None:
    cur = conn.cursor()
    for ddl in DDL:
        cur.execute(ddl)
    cur.executemany("INSERT INTO parent VALUES (?, ?)", [(i, f"p{i}") for i in range(100)])
    cur.executemany("INSERT INTO owner VALUES (?, ?)", [(i, f"o{i}") for i in range(n)])
    cur.executemany("INSERT INTO pet VALUES (?, ?)", [(i, i) for i in range(n // 2)])
    cur.executemany("INSERT INTO cnode VALUES (?, ?)", [(i, None) for i in range(n)])
    conn.commit()


def _docstore() -> Any:
    return dbapi.connect(":memory:", foreign_keys=True)


def _sqlite() -> Any:
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _best(connect: Callable[[], Any], n: int, sql: str,
          rows: list[tuple[Any, ...]]) -> float:
    best = float("inf")
    for _ in range(5):
        conn = connect()
        _fill(conn, n)
        start = time.process_time()
        conn.cursor().executemany(sql, rows)
        best = min(best, time.process_time() - start)
        conn.rollback()
        conn.close()
    return best * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"N = {n:,}; CPU ms, best of 5")
    print(f"{'shape':52s} {'docstore':>9s} {'sqlite3':>9s} {'ratio':>6s}")
    for name, (sql, rows) in _cases(n).items():
        ours = _best(_docstore, n, sql, rows)
        theirs = _best(_sqlite, n, sql, rows)
        print(f"{name:52s} {ours:9.1f} {theirs:9.1f} {ours / theirs:6.1f}")


if __name__ == "__main__":
    main()
