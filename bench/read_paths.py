"""Ways to read the columns of many stored documents, on plain sqlite3 (no sqla_docstore code),
so the read path's choice can be checked on another machine or SQLite version.

    python bench/read_paths.py [--n 10000] [--rounds 30] [--sqlite-module pysqlite3]

A collection table as the embedded store lays it out (``id TEXT PRIMARY KEY, body TEXT, cv,
modified, meta``) holds ``--n`` documents ``{"id": i, "name": ..., "description": ...}``; a
plain table holds the same three columns. Timed (CPU milliseconds, best of ``--rounds``):

- ``plain columns``: sqlite3's fetchall of the plain table (what SQLAlchemy on SQLite reads);
- ``bodies``: fetching the bodies alone;
- ``bodies + json``: the bodies, joined and parsed as one array by the standard library, each
  object made into its row as it is parsed (the store's path without the ``fast`` extra);
- ``bodies + orjson``: the same parsed by orjson, the fields picked after (with the extra);
- ``json_extract x3`` / ``->> x3``: SQLite extracting each field (its JSON functions, in C);
- ``jsonb ->> x3``: the same from JSONB bodies (SQLite 3.45 and later).

``--sqlite-module pysqlite3`` runs it on the SQLite that package bundles (pip install
pysqlite3-binary: a bench-only choice, not a dependency). Not a test: a table to read.
"""

from __future__ import annotations

import argparse
import importlib
import json
import operator
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any


def _best(run: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sqlite-module", default="sqlite3")
    args = parser.parse_args()
    sqlite = importlib.import_module(args.sqlite_module)
    path = os.path.join(tempfile.mkdtemp(prefix="read_paths"), "r.db")
    conn = sqlite.connect(path)
    conn.execute("CREATE TABLE docs (id TEXT NOT NULL PRIMARY KEY, body TEXT NOT NULL, "
                 "cv TEXT NOT NULL, modified TEXT NOT NULL, meta TEXT)")
    conn.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, name VARCHAR, description VARCHAR)")
    rows = [(i, f"customer name {i}", f"customer description {i}") for i in range(1, args.n + 1)]
    conn.executemany("INSERT INTO plain VALUES (?, ?, ?)", rows)
    conn.executemany("INSERT INTO docs (id, body, cv, modified) VALUES (?, ?, ?, ?)", [
        (f"customer/{i}", json.dumps({"id": i, "name": n, "description": d},
                                     separators=(",", ":")),
         f"A:{i}-ku5po0NqHIHHy+ElHw4UBQ", "2026-12-01T00:11:14.4300410Z")
        for i, n, d in rows])
    conn.commit()
    names = ("id", "name", "description")
    hook = json.JSONDecoder(object_hook=operator.itemgetter(*names)).scan_once  # type: ignore[attr-defined]
    pick = operator.itemgetter(*names)

    def bodies() -> list[str]:
        return [body for (body,) in conn.execute("SELECT body FROM docs")]

    def fields(expr: str, table: str = "docs") -> Callable[[], Any]:
        sql = f"SELECT {', '.join(expr.format(n) for n in names)} FROM {table}"
        return lambda: conn.execute(sql).fetchall()

    paths: dict[str, Callable[[], Any]] = {
        "plain columns": lambda: conn.execute("SELECT * FROM plain").fetchall(),
        "bodies": bodies,
        "bodies + json": lambda: hook("[" + ",".join(bodies()) + "]", 0),
        "json_extract x3": fields("json_extract(body, '$.{}')"),
    }
    try:
        import orjson
    except ImportError:
        pass
    else:
        paths["bodies + orjson"] = lambda: list(map(pick, orjson.loads(
            "[" + ",".join(bodies()) + "]")))
    if sqlite.sqlite_version_info >= (3, 38):
        paths["->> x3"] = fields("body ->> '{}'")
    if sqlite.sqlite_version_info >= (3, 45):
        conn.execute("CREATE TABLE jb AS SELECT id, jsonb(body) AS body FROM docs")
        paths["jsonb ->> x3"] = fields("body ->> '{}'", "jb")
    print(f"SQLite {sqlite.sqlite_version}, {args.n} documents, CPU ms, best of {args.rounds}")
    for label, run in paths.items():
        print(f"{label:<18} {_best(run, args.rounds):8.2f}")


if __name__ == "__main__":
    main()
