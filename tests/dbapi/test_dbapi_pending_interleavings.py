"""Random interleavings of the pending batch's writes, against SQLite.

Bulk INSERTs (kept as columns: ``CreateRun``), executemany UPDATEs by key (``PatchRun``, key
values repeated within one call), UPDATEs computed at commit, DELETEs, savepoints released and
rolled back, commits, and a DROP of the table with writes pending, each followed by queries
(read from the store aside of the overlay where the pending writes allow it) and by the
table's rows after the transaction: every result, rowcount and error class is SQLite's."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    text,
)
from sqlalchemy.engine import NestedTransaction

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("a", Integer), Column("b", String(10)))
u = Table("u", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("a", Integer), Column("b", String(10)))

STRINGS = ["x", 'q"', "\\", "é", "\x7f", "y"]
QUERIES = ["SELECT id, a, b FROM t ORDER BY id",
           "SELECT id, b FROM t WHERE id > 3 ORDER BY id",
           "SELECT id, b FROM t WHERE a > 2 ORDER BY id",
           "SELECT id, a FROM t WHERE b = 'y' ORDER BY a, id LIMIT 5",
           "SELECT a, count(*), max(b) FROM t GROUP BY a ORDER BY a",
           "SELECT t.id, u.a FROM t JOIN u ON u.id = t.id ORDER BY t.id"]
WRITES = {
    "upd": "UPDATE t SET a = :a WHERE id = :k",
    "upd2": "UPDATE t SET a = :a, b = :b WHERE id = :k",
    "updb": "UPDATE t SET b = :b WHERE id = :k",
    "upd3": "UPDATE t SET a = a + 1 WHERE id = :k",
    "upd4": "UPDATE t SET b = 'm', a = a * 2 WHERE a > :x",
    "del": "DELETE FROM t WHERE id = :k",
    "del2": "DELETE FROM t WHERE a = :x",
}
Op = tuple[str, Any]
BASE = [{"id": n, "a": n % 6, "b": STRINGS[n % len(STRINGS)]} for n in range(1, 41)]


def _ops(rng: random.Random) -> list[Op]:
    ops: list[Op] = []
    for _ in range(rng.randint(6, 16)):
        kind = rng.choice(["ins", "ins", "upd", "upd", "upd2", "updb", "upd3", "upd4", "del",
                           "del2", "sp", "sp", "rb", "rb", "rel", "sel", "sel", "commit", "drop",
                           "ins2"])
        if kind == "ins":  # (now and then a key twice: refused, as SQLite refuses it)
            keys = rng.sample(range(41, 101), rng.randint(1, 30))  # (1 to 40 are stored)
            keys += [rng.randint(1, 100)] if rng.random() < 0.1 else []
            ops.append((kind, [{"id": k, "a": rng.randint(0, 5), "b": rng.choice(STRINGS)}
                               for k in keys]))
        elif kind == "ins2":
            ops.append((kind, [{"id": rng.randint(1, 30), "a": rng.randint(0, 5), "b": "z"}
                               for _ in range(rng.randint(1, 4))]))
        elif kind in ("upd", "upd2", "updb", "upd3", "del"):
            ops.append((kind, [{"k": rng.randint(1, 100), "a": rng.randint(0, 9),
                                "b": rng.choice(["y", None, "\\", "é"])}
                               for _ in range(rng.randint(1, 12))]))
        elif kind in ("upd4", "del2"):
            ops.append((kind, {"x": rng.randint(0, 9)}))
        else:
            ops.append((kind, None))
    return ops


def _error(exc: Exception) -> str:
    cause = getattr(exc, "orig", exc)
    names = {c.__name__ for c in type(cause).__mro__}
    return "IntegrityError" if "IntegrityError" in names else type(cause).__name__


def _step(conn: Connection, op: str, arg: Any, out: list[Any],
          savepoints: list[NestedTransaction]) -> None:
    if op == "ins":
        conn.execute(insert(t), arg)
    elif op == "ins2":
        conn.execute(text("INSERT INTO u (id, a, b) VALUES (:id, :a, :b)"), arg)
    elif op in WRITES:
        out.append((op, conn.execute(text(WRITES[op]), arg).rowcount))
    elif op == "sp":
        savepoints.append(conn.begin_nested())
    elif op in ("rb", "rel") and savepoints:
        savepoint = savepoints.pop()
        savepoint.rollback() if op == "rb" else savepoint.commit()
    elif op == "commit":
        savepoints.clear()
        conn.commit()
    elif op == "drop":  # (DDL is not transactional in the store: committed at once)
        t.drop(conn)
        t.create(conn)
        savepoints.clear()
        conn.execute(insert(t), BASE)
        conn.commit()
    elif op == "sel":
        out += [[tuple(r) for r in conn.execute(text(q))] for q in QUERIES]


def _run(eng: Engine, ops: list[Op]) -> list[Any]:
    metadata.drop_all(eng)
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(t), BASE)
    out: list[Any] = []
    with eng.connect() as conn:
        savepoints: list[NestedTransaction] = []
        for op, arg in ops:
            try:
                _step(conn, op, arg, out, savepoints)
            except Exception as exc:  # (the transaction then ends: rolled back)
                out.append(("error", op, _error(exc)))
                savepoints.clear()
                conn.rollback()
        out += [[tuple(r) for r in conn.execute(text(q))] for q in QUERIES]
        conn.commit()
    with eng.connect() as conn:
        out += [[tuple(r) for r in conn.execute(text(q))] for q in QUERIES]
    return out


@pytest.fixture(params=["file", "memory", "ravendb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A file store (its queries may read aside of the overlay), a memory store, RavenDB."""
    url = {"file": f"docstore:///{tmp_path / 'store.db'}", "memory": "docstore://"}.get(
        request.param) or request.getfixturevalue("ravendb_url")
    eng = create_engine(url)
    yield eng
    eng.dispose()


@pytest.mark.parametrize("seed", range(60))
def test_interleaved_pending_writes_give_sqlites_results(
        store: Engine, savepoint_oracle: Engine, seed: int) -> None:
    ops = _ops(random.Random(seed * 7919 + 11))
    assert _run(store, ops) == _run(savepoint_oracle, ops)
