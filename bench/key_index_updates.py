"""What an index on the integer key field costs the store's updates, on plain sqlite3: N
``json_set`` updates by row key (the commit's PATCH run: body, change vector, last-modified)
of a collection table in the store's layout, with no index on the key field, with the
expression index a range query on it used to make (``json_extract(body, '$."id"')``), and with
a partial index of the documents whose key field is not their row key (``... WHERE
json_extract(body, '$."id"') IS NOT k``: what keeping ranges on ``k`` exact by SQLite alone
would take).

    python bench/key_index_updates.py [--n 5000] [--rounds 5]

CPU milliseconds of the updates alone, best of the rounds (the variants interleaved). Not a
test: the table is the result.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time

TABLE = ('CREATE TABLE d (k INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL, '
         'cv TEXT NOT NULL, modified TEXT NOT NULL, meta TEXT)')
VARIANTS = {
    "none": None,
    "expression": """CREATE INDEX ix ON d (json_extract(body, '$."id"'))""",
    "partial": """CREATE INDEX ix ON d (k) WHERE json_extract(body, '$."id"') IS NOT k""",
}
UPDATE = "UPDATE d SET body = json_set(body, ?, ?), cv = ?, modified = ? WHERE k = ?"


def run(variant: str, n: int, folder: str) -> float:
    path = os.path.join(folder, f"{variant}.db")
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.remove(name)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(TABLE)
    conn.executemany("INSERT INTO d VALUES (?, ?, ?, ?, ?, NULL)", [
        (i, f"customer/{i}", f'{{"id":{i},"name":"customer name {i}",'
         f'"description":"customer description {i}"}}', f"A:{i}-w0uL0IT/ttUkZEwY5s/PDA",
         "2026-12-01T23:54:23.1968080Z") for i in range(1, n + 1)])
    if VARIANTS[variant]:
        conn.execute(VARIANTS[variant])
    rows = [('$."description"', f"customer description {i} updated",
             f"A:{i + n}-w0uL0IT/ttUkZEwY5s/PDA", "2026-12-01T23:54:24.1968080Z", str(i))
            for i in range(1, n + 1)]
    conn.execute("BEGIN IMMEDIATE")
    start = time.process_time()
    conn.executemany(UPDATE, rows)
    spent = time.process_time() - start
    conn.execute("COMMIT")
    conn.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=sorted(VARIANTS), action="append")
    args = parser.parse_args()
    variants = args.only or list(VARIANTS)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for variant in variants:
                spent = run(variant, args.n, folder)
                best[variant] = min(best.get(variant, spent), spent)
    print(f"{args.n} json_set updates by row key, CPU ms, best of {args.rounds}")
    for variant in variants:
        print(f"  {variant:12s} {best[variant] * 1000:8.1f}")


if __name__ == "__main__":
    main()
