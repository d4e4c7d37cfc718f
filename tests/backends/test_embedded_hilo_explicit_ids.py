"""Explicit integer keys raise the store's HiLo state at commit, so another process's next
generated key starts above them, as SQLite's next rowid is max(rowid) + 1. Before, a process
that had inserted ids 1..1099 explicitly left the stored HiLo state untouched, and the next
process's INSERT without an id got key 1: DuplicateKeyError at commit."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

_DDL = "CREATE TABLE customer (id INTEGER NOT NULL, name VARCHAR(255), PRIMARY KEY (id))"
_INSERT = "INSERT INTO customer (id, name) VALUES (?, ?)"
_NEW = "INSERT INTO customer (name) VALUES ('new')"

#: run in a process of its own: the steps (sql, params or None, "many"/"one"), then commit;
#: prints the last cursor's lastrowid
_STEP = """
import json, sys
from sqla_docstore import dbapi
path, steps, end = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
conn = dbapi.connect(path)
cur = conn.cursor()
for sql, params, how in steps:
    if how == "many":
        cur.executemany(sql, [tuple(p) for p in params])
    else:
        cur.execute(sql, tuple(params or ()))
conn.commit() if end == "commit" else conn.rollback()
print(json.dumps(cur.lastrowid))
"""

_SCRIPTS = {
    "executemany": [(_INSERT, [[i, f"n{i}"] for i in range(1, 1100)], "many")],
    "one_at_a_time": [(_INSERT, [i, f"n{i}"], "one") for i in range(1, 40)],
    "values_high": [("INSERT INTO customer (id, name) VALUES (1098, 'a'), (7, 'b')", None,
                     "one")],
}


def _in_process(path: Path, steps: list, end: str = "commit") -> object:
    done = subprocess.run([sys.executable, "-c", _STEP, str(path), json.dumps(steps), end],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _oracle(steps: list) -> int | None:
    conn = sqlite3.connect(":memory:")
    conn.execute(_DDL)
    for sql, params, how in steps:
        if how == "many":
            conn.executemany(sql, [tuple(p) for p in params])
        else:
            conn.execute(sql, tuple(params or ()))
    conn.commit()
    return conn.execute(_NEW).lastrowid


@pytest.mark.parametrize("name", sorted(_SCRIPTS))
def test_a_new_process_generates_keys_above_the_explicit_ones(tmp_path: Path,
                                                              name: str) -> None:
    path = tmp_path / "store.db"
    steps = _SCRIPTS[name]
    _in_process(path, [(_DDL, None, "one"), *steps])
    assert _in_process(path, [(_NEW, None, "one")]) == _oracle(steps)


def test_explicit_keys_rolled_back_leave_the_hilo_state(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    _in_process(path, [(_DDL, None, "one")])
    _in_process(path, [(_INSERT, [500, "x"], "one")], end="rollback")
    assert _in_process(path, [(_NEW, None, "one")]) == 1  # as SQLite: nothing was stored


def test_a_key_at_the_64_bit_limit_leaves_the_hilo_state(tmp_path: Path) -> None:
    # no range fits above 2**63 - 1 (SQLite then picks an unused rowid at random): another
    # process generates keys where it would have, and its insert succeeds
    path = tmp_path / "store.db"
    _in_process(path, [(_DDL, None, "one"), (_INSERT, [2**63 - 1, "top"], "one")])
    assert _in_process(path, [(_NEW, None, "one")]) == 1
