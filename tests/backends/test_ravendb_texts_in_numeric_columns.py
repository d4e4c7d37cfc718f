"""A text in an INTEGER, REAL or NUMERIC column (one its affinity leaves text: ``'0x10'``,
``'abc'``, ``''``, a blob) is greater than every number in SQL. RavenDB's numeric ranges never
match a string, so a pushed-down ``n > 2`` used to miss such rows (README "RavenDB over HTTP").
The fields a write put a string into are recorded on the server with the write, and their
``>``/``>=`` are sent in a form that keeps strings; every answer is SQLite's."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from sqla_docstore.backends.ravendb.connection import RavenConnection
from sqla_docstore.backends.ravendb.rql import pushdown, translate
from sqla_docstore.schema import CollectionSpec, FieldSpec
from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse_expression

DDL = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, r REAL, d NUMERIC, k INTEGER NOT NULL)"
ROWS = [(1, 1, 1.5, 1, 1), (2, 2, 2.0, 2, 2), (3, 3, 3.5, 3, 3), (4, "0x10", "abc", "", 9),
        (5, None, None, None, 5), (6, "abc", "0x10", "x", 0), (7, -4, -4.5, -4, "zz"),
        (8, b"\x01", b"\x02", b"\x03", 8)]
INSERT = "INSERT INTO t (id, n, r, d, k) VALUES (?, ?, ?, ?, ?)"

# every form a comparison with a number takes in rql.py: >, >=, reversed operands, BETWEEN and
# its negation, NOT of each comparison, the comparison inside AND / OR, and a parameter
WHERES = [
    "n > 2", "n >= 2", "2 < n", "2 <= n", "n > :v", ":v < n", "r > 2", "r >= 2.5", "d > 2",
    "d >= 2", "k > 2", "n BETWEEN 1 AND 3", "n NOT BETWEEN 1 AND 3", "NOT (n > 2)",
    "NOT (n >= 2)", "NOT (n <= 2)", "NOT (n < 2)", "NOT (2 < n)", "n < 2", "n <= 2",
    "n > 2 AND r > 2", "n > 2 OR k < 0", "NOT (n > 2 OR r > 2)", "n != 2", "n = 2",
    "n IN (1, 2)", "n NOT IN (1, 2)", "d BETWEEN 1 AND 3", "NOT (d > 2)",
]


def _select(where: str) -> Callable[[Any], Any]:
    def run(conn: Any) -> Any:
        cur = conn.cursor()
        cur.executemany(INSERT, ROWS)
        conn.commit()  # a previous transaction wrote the texts
        cur.execute(f"SELECT id FROM t WHERE {where} ORDER BY id", {"v": 2})
        return [r[0] for r in cur.fetchall()]
    return run


@pytest.mark.parametrize("where", WHERES)
def test_select_finds_texts_as_sqlite_does(
        raw_and_sqlite: Callable[..., tuple[Any, Any]], where: str) -> None:
    got, expected = raw_and_sqlite(DDL, _select(where))
    assert got == expected


@pytest.mark.parametrize("query", ["SELECT id FROM t ORDER BY k",
                                   "SELECT id FROM t ORDER BY k DESC",
                                   "SELECT id FROM t WHERE k > 0 ORDER BY k LIMIT 3",
                                   "SELECT count(*) FROM t WHERE k > 2"])
def test_order_and_count_over_a_field_holding_texts(
        raw_and_sqlite: Callable[..., tuple[Any, Any]], query: str) -> None:
    def run(conn: Any) -> Any:
        cur = conn.cursor()
        cur.executemany(INSERT, ROWS)
        conn.commit()
        cur.execute(query)
        return cur.fetchall()
    got, expected = raw_and_sqlite(DDL, run)
    assert got == expected


@pytest.mark.parametrize("where", ["n > 2", "n >= 2", "2 < n", "n BETWEEN 2 AND 3",
                                   "n NOT BETWEEN 2 AND 3", "NOT (n > 2)", "r > 2", "d >= 2"])
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_update_and_delete_find_texts_as_sqlite_does(
        raw_and_sqlite: Callable[..., tuple[Any, Any]], where: str, verb: str) -> None:
    def run(conn: Any) -> Any:
        cur = conn.cursor()
        cur.executemany(INSERT, ROWS)
        conn.commit()
        if verb == "UPDATE":
            cur.execute(f"UPDATE t SET k = -1 WHERE {where}")
        else:
            cur.execute(f"DELETE FROM t WHERE {where}")
        count = cur.rowcount
        conn.commit()
        cur.execute("SELECT id, k FROM t ORDER BY id")
        return count, cur.fetchall()
    got, expected = raw_and_sqlite(DDL, run)
    assert got == expected


@pytest.mark.parametrize("unique", [False, True])  # a single-node batch; a cluster-wide one
def test_a_text_another_engine_writes_is_found(ravendb_url: str, unique: bool) -> None:
    """The reading engine has read the table (its schema and catalog cached) before the other
    engine writes the text; its next transaction finds it, in SELECT, UPDATE and DELETE."""
    ddl = DDL.replace("k INTEGER NOT NULL", "k INTEGER NOT NULL UNIQUE" if unique else
                      "k INTEGER NOT NULL")
    reader, writer = create_engine(ravendb_url), create_engine(ravendb_url)
    try:
        with reader.begin() as conn:
            conn.exec_driver_sql(ddl)
            conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (1, 1, 1), (2, 3, 2)")
        with reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM t WHERE n > 2").all() == [(2,)]
        with writer.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (3, 'abc', 3)")
        with reader.begin() as conn:
            assert conn.exec_driver_sql("SELECT id FROM t WHERE n > 2 ORDER BY id").all() == [
                (2,), (3,)]
            assert conn.exec_driver_sql("UPDATE t SET k = k + 10 WHERE n >= 3").rowcount == 2
        with reader.begin() as conn:
            assert conn.exec_driver_sql("DELETE FROM t WHERE 2 < n").rowcount == 2
            assert conn.exec_driver_sql("SELECT id FROM t").all() == [(1,)]
    finally:
        reader.dispose()
        writer.dispose()


def test_a_text_written_by_another_process_is_found(ravendb_url: str) -> None:
    """Another client process, through its own engine on the same server."""
    import subprocess
    import sys

    engine = create_engine(ravendb_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(DDL)
            conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (1, 5, 1)")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM t WHERE n > 2").all() == [(1,)]
        script = ("import sys\nfrom sqlalchemy import create_engine\n"
                  "e = create_engine(sys.argv[1])\n"
                  "with e.begin() as c:\n"
                  "    c.exec_driver_sql(\"UPDATE t SET r = '0x10' WHERE id = 1\")\n"
                  "    c.exec_driver_sql(\"INSERT INTO t (id, r, k) VALUES (2, 'x', 2)\")\n"
                  "e.dispose()\n")
        subprocess.run([sys.executable, "-c", script, ravendb_url], check=True, timeout=120)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM t WHERE r >= 100 ORDER BY id").all() == [
                (1,), (2,)]
    finally:
        engine.dispose()


def test_a_text_in_a_pending_write_and_after_rollback(
        raw_and_sqlite: Callable[..., tuple[Any, Any]]) -> None:
    def run(conn: Any) -> Any:
        cur = conn.cursor()
        cur.execute("INSERT INTO t (id, n, k) VALUES (1, 1, 1), (2, 5, 2)")
        conn.commit()
        cur.execute("UPDATE t SET n = 'abc' WHERE id = 1")
        cur.execute("SELECT id FROM t WHERE n > 2 ORDER BY id")
        pending = cur.fetchall()
        conn.rollback()
        cur.execute("SELECT id FROM t WHERE n > 2 ORDER BY id")
        return pending, cur.fetchall()
    got, expected = raw_and_sqlite(DDL, run)
    assert got == expected


def test_renamed_and_dropped_tables_keep_exact_answers(ravendb_url: str) -> None:
    engine = create_engine(ravendb_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(DDL)
            conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (1, 'abc', 1), (2, 5, 2)")
        with engine.begin() as conn:
            conn.exec_driver_sql('ALTER COLLECTION t {"action": "alter_column", "name": "n", '
                                 '"new_name": "m"}')
            conn.exec_driver_sql('ALTER COLLECTION t {"action": "rename_table", '
                                 '"new_name": "u"}')
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM u WHERE m > 2 ORDER BY id").all() == [
                (1,), (2,)]
        with engine.begin() as conn:
            conn.exec_driver_sql('ALTER COLLECTION u {"action": "add_column", "name": "z", '
                                 '"type": "INTEGER", "nullable": true, "default": "none"}')
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM u WHERE z > 2 ORDER BY id").all() == [
                (1,), (2,)]
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE u")
            conn.exec_driver_sql(DDL.replace(" t ", " u "))
            conn.exec_driver_sql("INSERT INTO u (id, n, k) VALUES (1, 3, 1)")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id FROM u WHERE n > 2").all() == [(1,)]
            raw = conn.connection.dbapi_connection
            backend = raw.backend  # type: ignore[union-attr]
            assert isinstance(backend, RavenConnection)
            assert backend.mixed_of("u") == frozenset()  # dropped with the table
    finally:
        engine.dispose()


SPEC = CollectionSpec("items", (FieldSpec("id", "INTEGER", False), FieldSpec("n", "INTEGER"),
                                FieldSpec("d", "NUMERIC"), FieldSpec("k", "INTEGER", False)),
                      ("id",), "id")


def _where(sql: str, texts: frozenset[str]) -> str | None:
    select = ast.Select((ast.ResultColumn(ast.Column(None, "id")),), (ast.TableRef("items"),),
                        parse_expression(sql))
    planned = translate(select, lambda name: SPEC, {}, lambda name: texts)
    return None if planned is None else planned[0].text.partition(" where ")[2]


def test_fields_without_texts_keep_their_plain_ranges() -> None:
    """No string recorded: the same RQL as before (no cost for the common case)."""
    assert _where("n > 2", frozenset()) == "n > $p0"
    assert _where("n >= 2", frozenset({"d"})) == "n >= $p0"


def test_a_field_holding_texts_keeps_strings_in_its_greater_than() -> None:
    present = "(exists(n) and n != null)"
    assert _where("n > 2", frozenset({"n"})) == f"({present} and (true and not n <= $p0))"
    assert _where("2 <= n", frozenset({"n"})) == f"({present} and (true and not n < $p0))"
    assert _where("NOT (n > 2)", frozenset({"n"})) == "n <= $p0"
    assert _where("n < 2", frozenset({"n"})) == "n < $p0"
    # decimals compare as doubles: a superset, on the client, still keeping strings
    assert _where("d > 2", frozenset({"d"})) is None
    assert pushdown(parse_expression("d > 2"), SPEC, "items", {}, frozenset({"d"})).text == (
        "from 'items' where ((exists(d) and d != null) and (true and not d < $p0))")


def test_a_field_holding_texts_is_not_ordered_by_on_the_server() -> None:
    select = ast.Select((ast.ResultColumn(ast.Column(None, "id")),), (ast.TableRef("items"),),
                        None, order_by=(ast.OrderItem(ast.Column(None, "k")),))
    assert translate(select, lambda name: SPEC, {}) is not None
    assert translate(select, lambda name: SPEC, {}, lambda name: frozenset({"k"})) is None


@pytest.fixture
def counted(ravendb_url: str) -> Iterator[Engine]:
    engine = create_engine(ravendb_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("unique", [False, True])
def test_recording_a_text_costs_a_batch_more_only_when_cluster_wide(
        counted: Engine, unique: bool) -> None:
    """A cluster-wide batch (a table with a UNIQUE column) takes no PATCH: one batch more,
    the first time a field gets such a value."""
    with counted.begin() as conn:
        conn.exec_driver_sql(DDL.replace("k INTEGER NOT NULL", "k INTEGER NOT NULL UNIQUE")
                             if unique else DDL)
        conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (1, 1, 1)")
    with counted.connect() as conn:
        conn.exec_driver_sql("SELECT id FROM t WHERE n > 0").all()  # schemas cached
        backend = conn.connection.dbapi_connection.backend  # type: ignore[union-attr]

        def cost(sql: str) -> dict[str, int]:
            before = dict(backend.counts)
            conn.exec_driver_sql(sql)
            conn.commit()
            return {k: v - before.get(k, 0) for k, v in backend.counts.items()
                    if v != before.get(k, 0)}

        number = cost("INSERT INTO t (id, n, k) VALUES (2, 7, 2)")
        extra = {"batch": number["batch"] + 1} if unique else {}
        assert cost("INSERT INTO t (id, n, k) VALUES (3, 'abc', 3)") == {**number, **extra}
        assert cost("INSERT INTO t (id, n, k) VALUES (4, 'xyz', 4)") == number  # (recorded)
        assert backend.mixed_of("t") == frozenset({"n"})
        assert conn.exec_driver_sql("SELECT id FROM t WHERE n > 1 ORDER BY id").all() == [
            (2,), (3,), (4,)]


def test_sqlite_keeps_these_texts_as_text() -> None:
    """The premise, from sqlite3 itself."""
    oracle = sqlite3.connect(":memory:")
    oracle.execute(DDL)
    oracle.executemany(INSERT, ROWS)
    assert oracle.execute("SELECT id FROM t WHERE n > 2 ORDER BY id").fetchall() == [
        (3,), (4,), (6,), (8,)]
    oracle.close()


@pytest.mark.parametrize("update", ["UPDATE t SET n = n + 1 WHERE id = ?",
                                    "UPDATE t SET n = n * 2, k = k - 1 WHERE id = ?",
                                    "UPDATE t SET n = coalesce(n, 0) + 1",
                                    "UPDATE t SET k = k + n WHERE id = ?"])
def test_a_computed_update_reading_a_text_gives_sqlites_answer(
        raw_and_sqlite: Callable[..., tuple[Any, Any]], update: str) -> None:
    """RavenDB's patch script computes with numbers only: a document whose field holds a text
    gets SQL's answer computed by the statement, guarded by the version read (it used to be
    refused with DataError)."""
    def run(conn: Any) -> Any:
        cur = conn.cursor()
        cur.executemany(INSERT, ROWS[:7])  # (a blob outside a BLOB column reads back as its
        conn.commit()                       # base64 text here, LargeBinary's form)
        for doc_id in (1, 4, 6, 7):
            cur.execute(update, (doc_id,) if "?" in update else ())
        conn.commit()
        cur.execute("SELECT id, n, k FROM t ORDER BY id")
        return cur.fetchall()
    got, expected = raw_and_sqlite(DDL, run)
    assert got == expected


@pytest.mark.parametrize("unique", [False, True])
def test_the_record_is_internal_and_only_grows(ravendb_url: str, unique: bool) -> None:
    """The record is no table; a rolled-back text records nothing; a committed one is
    recorded, in a single-node batch and before a cluster-wide one."""
    from sqlalchemy import inspect

    engine = create_engine(ravendb_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(DDL.replace("k INTEGER NOT NULL",
                                             "k INTEGER NOT NULL UNIQUE" if unique else
                                             "k INTEGER NOT NULL"))
            conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (1, 1, 1)")
        with engine.connect() as conn:
            conn.exec_driver_sql("INSERT INTO t (id, n, k) VALUES (2, 'abc', 2)")
            conn.rollback()
            backend = conn.connection.dbapi_connection.backend  # type: ignore[union-attr]
            assert backend.mixed_of("t") == frozenset()
            conn.exec_driver_sql("INSERT INTO t (id, r, k) VALUES (3, 'x', 3)")
            conn.commit()
            conn.exec_driver_sql("SELECT 1 FROM t").all()  # (the next transaction reads it)
            assert backend.mixed_of("t") == frozenset({"r"})
            assert inspect(engine).get_table_names() == ["t"]
            assert conn.exec_driver_sql("SELECT id FROM t WHERE r > 0").all() == [(3,)]
    finally:
        engine.dispose()
