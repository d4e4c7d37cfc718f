"""The collection tables' layout (store.py, keys.py): a store file written before it (tables
``(id TEXT NOT NULL PRIMARY KEY, body, cv, modified, meta)``) is rebuilt when it is opened,
once, keeping its documents, its indexes and what they refuse; a renamed collection's rows
take the keys of their new ids (or of the new table's prefix)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, text
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.sqlgen import field_index_sql
from sqla_docstore.backends.embedded.store import LAYOUT, EmbeddedStore
from sqla_docstore.commands import Batch, Patch
from sqla_docstore.errors import ConcurrencyError

metadata = MetaData()
Table("orders", metadata, Column("id", String(40), primary_key=True), Column("n", Integer),
      Column("u", String(20), unique=True), docstore_key_is_id=True)
Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", String(20)))

#: the documents of the old file, in the order they were written (its rowids)
OLD_ROWS = [("orders/7", 7), ("orders/x", 1), ("orders/5", 5), ("Orders/5", 50),
            ("orders/05", 55), ("other/5", 500), ("orders/4611686018427387904", 9)]
_OLD_TABLE = ("CREATE TABLE {} (id TEXT NOT NULL PRIMARY KEY, body TEXT NOT NULL, "
              "cv TEXT NOT NULL, modified TEXT NOT NULL, meta TEXT)")


def _old_store(path: Path) -> None:
    """A store file as the code before the layout wrote it: the catalog made by the
    dialect's DDL, then every collection table replaced with plain sqlite3 by the old
    table (and its indexes, an automatic one and the bundled server's NOCASE index on the
    ids among them), its rows written in the order of OLD_ROWS, and no layout recorded."""
    eng = create_engine(f"docstore:///{path}")
    metadata.create_all(eng)
    eng.dispose()
    with sqlite3.connect(path) as raw:
        for name in ("orders", "notes"):
            table = f'"@docs/{name}"'
            index_sql = [sql for (sql,) in raw.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND "
                "name NOT LIKE '@ids:%' AND sql IS NOT NULL", (f"@docs/{name}",))]
            raw.execute(f"DROP TABLE {table}")
            raw.execute(_OLD_TABLE.format(table))
            for sql in index_sql:
                raw.execute(sql)
        raw.execute(f'CREATE INDEX "ix:auto:orders:n" ON "@docs/orders" '
                    f'({field_index_sql("n")})')
        raw.execute('CREATE INDEX "ix:@id:orders" ON "@docs/orders" (id COLLATE NOCASE)')
        raw.executemany('INSERT INTO "@docs/orders" VALUES (?, ?, ?, ?, NULL)', [
            (doc_id, json.dumps({"n": n, "u": f"u{n}"}), f"A:{e}-olddatabaseid00000000",
             "2026-11-30T00:00:00.0000000Z") for e, (doc_id, n) in enumerate(OLD_ROWS, 1)])
        raw.execute('INSERT INTO "@docs/notes" VALUES (?, ?, ?, ?, NULL)',
                    ("notes/3", json.dumps({"id": 3, "body": "b"}), "A:99-olddatabaseid00000000",
                     "2026-11-30T00:00:00.0000000Z"))
        raw.execute("""UPDATE "@meta" SET value = 100 WHERE key = 'etag'""")
        raw.execute("""DELETE FROM "@meta" WHERE key = 'layout'""")


def _raw(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as raw:
        return raw.execute(sql).fetchall()


def _indexes(path: Path) -> set[str]:
    return {name for (name,) in _raw(
        path, "SELECT name FROM sqlite_master WHERE type = 'index' AND "
              "tbl_name = '@docs/orders' AND sql IS NOT NULL")}


def test_an_old_store_is_rebuilt_once_keeping_documents_indexes_and_their_refusals(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    old_indexes = _indexes(path)
    assert {"ix:auto:orders:n", "ix:@id:orders"} <= old_indexes
    assert "k" not in [r[1] for r in _raw(path, 'PRAGMA table_info("@docs/orders")')]

    dbapi.connect(str(path)).close()  # (opening it rebuilds it)
    assert _indexes(path) == old_indexes | {"@ids:orders"}
    eng = create_engine(f"docstore:///{path}")
    with eng.connect() as conn:
        assert conn.execute(text("SELECT id, n FROM orders ORDER BY id")).all() == sorted(
            OLD_ROWS)
        for doc_id, n in OLD_ROWS:
            assert conn.execute(text("SELECT n FROM orders WHERE id = :i"),
                                {"i": doc_id}).scalar() == n
        assert conn.execute(text("SELECT id, body FROM notes")).all() == [(3, "b")]
    # keys: the ids' integers, the other ids from 2**62 up in their old rowid order
    others = [doc_id for doc_id, _ in OLD_ROWS if doc_id not in ("orders/5", "orders/7")]
    assert _raw(path, 'SELECT k, id FROM "@docs/orders" ORDER BY k') == [
        (5, "orders/5"), (7, "orders/7")] + [(2**62 + n, i) for n, i in enumerate(others)]
    assert _raw(path, """SELECT value FROM "@meta" WHERE key = 'layout'""") == [(LAYOUT,)]
    # change vectors of another database id than the store's stay texts
    assert {t for (t,) in _raw(path, 'SELECT typeof(cv) FROM "@docs/orders"')} == {"text"}
    plan = " ".join(str(r[-1]) for r in _raw(
        path, f'EXPLAIN QUERY PLAN SELECT id FROM "@docs/orders" WHERE {field_index_sql("n")} '
              "= 5"))
    assert "ix:auto:orders:n" in plan

    with eng.begin() as conn:  # writes of both kinds, after the rebuild
        conn.execute(text("UPDATE orders SET n = n + 1 WHERE id IN ('orders/5', 'orders/x')"))
        conn.execute(text("INSERT INTO orders (id, n, u) VALUES ('orders/6', 6, 'u6'), "
                          "('orders/6-A', 60, 'u60')"))
        conn.execute(text("DELETE FROM orders WHERE id = 'orders/05'"))
    for taken in ["('orders/7', 1, 'new1')", "('orders/x', 1, 'new2')",
                  "('orders/8', 1, 'u7')", "('orders/8-A', 1, 'u1')"]:
        with pytest.raises(SAIntegrityError), eng.begin() as conn:
            conn.execute(text(f"INSERT INTO orders (id, n, u) VALUES {taken}"))
    with eng.connect() as conn:
        assert conn.execute(text("SELECT id, n FROM orders ORDER BY id")).all() == sorted(
            [("orders/7", 7), ("orders/x", 2), ("orders/5", 6), ("Orders/5", 50),
             ("other/5", 500), ("orders/4611686018427387904", 9), ("orders/6", 6),
             ("orders/6-A", 60)])
    eng.dispose()
    # opened again: nothing rebuilt (the new rows keep their keys)
    keys = _raw(path, 'SELECT k, id FROM "@docs/orders" ORDER BY k')
    assert (6, "orders/6") in keys and (2**62 + len(others), "orders/6-A") in keys
    dbapi.connect(str(path)).close()
    assert _raw(path, 'SELECT k, id FROM "@docs/orders" ORDER BY k') == keys


def test_an_old_table_of_many_rows_is_rebuilt_whole_in_its_rowid_order(
        tmp_path: Path) -> None:
    """Rows are copied a chunk at a time: none lost or repeated across chunks, and the other
    ids keyed in the order they were written."""
    path = tmp_path / "old.db"
    _old_store(path)
    extra = [f"orders/{n}" if n % 3 else f"orders/{n}-B" for n in range(2600, 100, -1)]
    with sqlite3.connect(path) as raw:
        raw.executemany('INSERT INTO "@docs/orders" VALUES (?, ?, ?, ?, NULL)', [
            (doc_id, json.dumps({"n": n}), f"A:{n}-olddatabaseid00000000", "x")
            for n, doc_id in enumerate(extra)])
    dbapi.connect(str(path)).close()
    written = [doc_id for doc_id, _ in OLD_ROWS] + extra
    canonical = sorted((int(i.split("/")[1]), i) for i in written
                       if i.startswith("orders/") and i[7:].isdigit() and i[7] != "0"
                       and int(i[7:]) < 2**62)
    others = [i for i in written if i not in {i for _, i in canonical}]
    assert _raw(path, 'SELECT k, id FROM "@docs/orders" ORDER BY k') == canonical + [
        (2**62 + n, i) for n, i in enumerate(others)]


def _rows(cur: dbapi.Cursor, table: str) -> list[tuple[Any, ...]]:
    cur.execute(f"SELECT id, n FROM {table} ORDER BY id")
    return cur.fetchall()


def test_a_renamed_collection_finds_and_writes_every_document_under_its_new_ids(
        tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = dbapi.connect(str(path))
    cur = conn.cursor()
    spec = {"fields": [{"name": "id", "type": "VARCHAR"}, {"name": "n", "type": "INTEGER"}],
            "primary_key": ["id"]}
    cur.execute(f"CREATE COLLECTION orders {json.dumps(spec)}")
    keys = ["5", "05", "x", "7", "5-A"]
    cur.executemany("INSERT INTO orders (id, n) VALUES (?, ?)", [(k, n) for n, k in
                                                                 enumerate(keys)])
    conn.commit()
    cur.execute('ALTER COLLECTION orders {"action": "rename_table", "new_name": "sales"}')
    assert _raw(path, 'SELECT k, id FROM "@docs/sales"') == [
        (5, "sales/5"), (7, "sales/7"), (2**62, "sales/05"), (2**62 + 1, "sales/x"),
        (2**62 + 2, "sales/5-A")]
    for n, key in enumerate(keys):
        cur.execute("SELECT n FROM sales WHERE id = ?", (key,))
        assert cur.fetchall() == [(n,)]
    cur.execute("UPDATE sales SET n = n + 10 WHERE id IN ('5', 'x')")
    cur.execute("INSERT INTO sales (id, n) VALUES ('9', 9), ('9-A', 90)")
    conn.commit()
    assert _rows(cur, "sales") == sorted([("5", 10), ("05", 1), ("x", 12), ("7", 3),
                                          ("5-A", 4), ("9", 9), ("9-A", 90)])
    # the old name is free again, its index of other ids too
    cur.execute(f"CREATE COLLECTION orders {json.dumps(spec)}")
    cur.execute("INSERT INTO orders (id, n) VALUES ('x', 1), ('5', 2)")
    conn.commit()
    assert _rows(cur, "orders") == [("5", 2), ("x", 1)]
    conn.close()


def test_a_renamed_collection_with_its_own_prefix_keys_its_ids_as_other_ids(
        tmp_path: Path) -> None:
    """Ids ``a/1`` keep their explicit prefix when table ``a`` becomes ``b``: the table's
    prefix is ``b/`` then, so they are found by the index of other ids."""
    path = tmp_path / "s.db"
    conn = dbapi.connect(str(path))
    cur = conn.cursor()
    spec = {"fields": [{"name": "id", "type": "INTEGER"}, {"name": "n", "type": "INTEGER"}],
            "primary_key": ["id"], "id_prefix": "a"}
    cur.execute(f"CREATE COLLECTION a {json.dumps(spec)}")
    cur.executemany("INSERT INTO a (id, n) VALUES (?, ?)", [(1, 10), (2, 20)])
    conn.commit()
    assert _raw(path, 'SELECT k, id FROM "@docs/a"') == [(1, "a/1"), (2, "a/2")]
    cur.execute('ALTER COLLECTION a {"action": "rename_table", "new_name": "b"}')
    assert _raw(path, 'SELECT k, id FROM "@docs/b"') == [(2**62, "a/1"), (2**62 + 1, "a/2")]
    cur.execute("UPDATE b SET n = n + 1 WHERE id = 2")
    cur.execute("INSERT INTO b (id, n) VALUES (3, 30)")
    conn.commit()
    assert _rows(cur, "b") == [(1, 10), (2, 21), (3, 30)]
    cur.execute("SELECT n FROM b WHERE id = 1")
    assert cur.fetchall() == [(10,)]
    conn.close()


_LAYOUT_2_TABLE = ('CREATE TABLE "@docs/notes" (k INTEGER PRIMARY KEY, id TEXT NOT NULL, '
                   "body TEXT NOT NULL, cv TEXT NOT NULL, modified TEXT NOT NULL, meta TEXT)")


def test_a_layout_2_store_keeps_its_own_change_vectors_as_etags_once_rebuilt(
        tmp_path: Path) -> None:
    """Layout 2 kept change vectors as texts. Opened, a store of it keeps each one it wrote
    itself as its etag and any other as its text; each reads as before, a write expecting
    one read before the rebuild is applied and a stale one is refused."""
    path = tmp_path / "l2.db"
    conn = dbapi.connect(str(path))
    cur = conn.cursor()
    cur.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(20))")
    cur.executemany("INSERT INTO notes (id, body) VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    conn.commit()
    conn.close()
    with sqlite3.connect(path) as raw:  # the table as layout 2 wrote it
        ((db_id,),) = raw.execute("""SELECT value FROM "@meta" WHERE key = 'database_id'""")
        rows = raw.execute('SELECT k, id, body, cv, modified FROM "@docs/notes" ORDER BY k'
                           ).fetchall()
        assert [type(row[3]) for row in rows] == [int] * 3
        raw.execute('DROP TABLE "@docs/notes"')
        raw.execute(_LAYOUT_2_TABLE)
        texts = [f"A:{rows[0][3]}-{db_id}", f"A:{rows[1][3]}-{db_id}", "A:7-anotherdatabaseid0"]
        raw.executemany('INSERT INTO "@docs/notes" VALUES (?, ?, ?, ?, ?, NULL)',
                        [(k, i, b, cv, m) for (k, i, b, _, m), cv in zip(rows, texts, strict=True)])
        raw.execute("""UPDATE "@meta" SET value = 2 WHERE key = 'layout'""")

    store = EmbeddedStore(str(path))  # (opening it rebuilds it)
    assert _raw(path, 'SELECT cv FROM "@docs/notes" ORDER BY k') == [
        (rows[0][3],), (rows[1][3],), (texts[2],)]
    backend = EmbeddedConnection(store)
    try:
        docs = backend.get_documents("notes", ["notes/1", "notes/2", "notes/3"], None)
        assert [docs[f"notes/{n}"][2] for n in (1, 2, 3)] == texts
        with pytest.raises(ConcurrencyError):
            backend.submit(Batch([Patch("notes", "notes/2", {"body": "x"}, texts[0])]))
        reply = backend.submit(Batch([Patch("notes", "notes/1", {"body": "x"}, texts[0]),
                                      Patch("notes", "notes/3", {"body": "y"}, texts[2])]))
        assert [r["PatchStatus"] for r in reply] == ["Patched", "Patched"]
        docs = backend.get_documents("notes", ["notes/1", "notes/3"], None)
        assert [docs[i][1]["body"] for i in ("notes/1", "notes/3")] == ["x", "y"]
        assert [docs[i][2] for i in ("notes/1", "notes/3")] == [
            r["ChangeVector"] for r in reply]
    finally:
        backend.close()


@pytest.mark.parametrize("cv, stored", [
    ("A:5-{db}", 5), ("A:123456789012-{db}", 123456789012), ("A:05-{db}", "A:05-{db}"),
    ("A:-{db}", "A:-{db}"), ("A:+5-{db}", "A:+5-{db}"), ("A:\u0665-{db}", "A:\u0665-{db}"),
    ("B:5-{db}", "B:5-{db}"), ("A:5-other", "A:5-other"), ("A:5-{db},RAFT:3-x", None),
    ("5", "5"), ("", ""),
])
def test_only_the_stores_own_change_vectors_are_kept_as_etags(
        tmp_path: Path, cv: str, stored: Any) -> None:
    """``A:{etag}-{database id}`` exactly as the store writes it is kept as the etag; any
    other text (another node or database, a leading zero, a sign, another digit, a cluster
    entry, a text that reads as a number) as itself, and each reads back as it was."""
    store = EmbeddedStore(str(tmp_path / "s.db"))
    cv = cv.format(db=store.database_id)
    kept = store.stored_change_vector(cv)
    assert kept == (cv if stored is None else stored if type(stored) is int else stored.format(
        db=store.database_id))
    assert store.change_vector(kept) == cv


@pytest.mark.parametrize("database_id", ["plain-id", "with {braces} and {0}"])
def test_a_batch_of_the_stores_own_change_vectors_reads_as_each_one_alone(
        tmp_path: Path, database_id: str) -> None:
    store = EmbeddedStore(str(tmp_path / "s.db"))
    store.database_id = database_id  # (as tests comparing two stores set it)
    etags = [1, 9, 10, 12345678901]
    assert list(store.own_change_vectors(etags)) == list(map(store.change_vector, etags))
    assert store.change_vector(10) == f"A:10-{database_id}"
