"""Views (stored SELECTs expanded where a statement names them) and CREATE TABLE ... AS,
compared with SQLite on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    func,
    insert,
    inspect,
    select,
    text,
)

try:
    from sqlalchemy.sql.ddl import CreateTableAs, CreateView, DropView
except ImportError:  # SQLAlchemy 2.0: the view and CREATE TABLE AS constructs came with 2.1
    CreateTableAs = CreateView = DropView = None  # type: ignore[assignment,misc]

from sqla_docstore import errors

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("n", Integer),
              Column("s", String(10)), Column("flag", Boolean))
rows_ = st.lists(st.fixed_dictionaries({
    "n": st.one_of(st.none(), st.integers(-20, 20)),
    "s": st.one_of(st.none(), st.text("ab ", max_size=3)),
    "flag": st.one_of(st.none(), st.booleans()),
}), max_size=8)
QUERIES = [
    "SELECT * FROM big ORDER BY id",
    "SELECT n, s FROM big WHERE flag = 1 ORDER BY n, s",
    "SELECT count(*), sum(n), max(s) FROM big",
    "SELECT big.n, small.n FROM big JOIN small ON big.id = small.id ORDER BY big.id",
    "SELECT n FROM big UNION SELECT n FROM small ORDER BY n",
    "SELECT * FROM over_big ORDER BY total",
]


needs_21 = pytest.mark.skipif(CreateView is None, reason="SQLAlchemy 2.0 has no CreateView / "
                              "CreateTableAs constructs (raw CREATE VIEW is tested on it)")


@pytest.fixture
def pair(engine: Engine, oracle: Engine) -> Iterator[tuple[Engine, Engine]]:
    for eng in (engine, oracle):
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(text("CREATE VIEW big AS SELECT * FROM items WHERE n > 0"))
            conn.execute(
                CreateView(select(items.c.id, items.c.n).where(items.c.n <= 0), "small")
                if CreateView is not None else
                text("CREATE VIEW small AS SELECT items.id, items.n FROM items "
                     "WHERE items.n <= 0"))
            conn.execute(text("CREATE VIEW over_big AS SELECT n + id AS total FROM big"))
    yield engine, oracle


def _numbered(rows: list[dict[str, Any]], start: int = 1) -> list[dict[str, Any]]:
    """Rows with explicit ids (HiLo hands out other numbers than SQLite's max + 1)."""
    return [dict(r, id=start + i) for i, r in enumerate(rows)]


def _results(eng: Engine, rows: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[Any]:
    rows, extra = _numbered(rows), _numbered(extra, len(rows) + 1)
    with eng.connect() as conn:
        conn.execute(items.delete())
        if rows:
            conn.execute(insert(items), rows)
        conn.commit()
        if extra:  # pending writes: the views see them
            conn.execute(insert(items), extra)
        out = [conn.execute(text(q)).all() for q in QUERIES]
        conn.rollback()
        return out


@given(rows=rows_, extra=rows_)
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_queries_over_views_give_sqlites_rows(pair: tuple[Engine, Engine],
                                              rows: list[dict[str, Any]],
                                              extra: list[dict[str, Any]]) -> None:
    target, oracle = pair
    assert _results(target, rows, extra) == _results(oracle, rows, extra)


@given(rows=rows_)
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@needs_21
def test_create_table_as_copies_the_rows_and_column_types(engine: Engine, oracle: Engine,
                                                          rows: list[dict[str, Any]]) -> None:
    out = []
    for eng in (engine, oracle):
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(items.delete())
            Table("copy", MetaData()).drop(conn, checkfirst=True)
            if rows:
                conn.execute(insert(items), _numbered(rows))
            conn.execute(CreateTableAs(select(items.c.id, items.c.s, func.abs(items.c.n))
                                       .where(items.c.n > 0), "copy"))
            copied = conn.execute(text("SELECT * FROM copy ORDER BY id")).all()
            types = [c["type"]._type_affinity for c in inspect(conn).get_columns("copy")[:2]]
        out.append((copied, types))
    assert out[0] == out[1]



def test_create_table_as_expression_columns_hold_values_as_sqlite_does(
        engine: Engine, oracle: Engine) -> None:
    # An expression's column has no declared type in SQLite (no affinity): a text stays the
    # text, in comparisons, min/max and typeof too (not a JSON column's value).
    query = ("SELECT count(*), min(tag), max(j), typeof(j), sum(total), min(j) = '[1]' "
             "FROM derived")
    out = []
    for eng in (engine, oracle):
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(items.delete())
            conn.execute(insert(items), _numbered([{"n": 1}, {"n": 2}, {"n": 3}]))
            conn.execute(text("DROP TABLE IF EXISTS derived"))
            conn.execute(text("CREATE TABLE derived AS SELECT id + 1 AS id2, 'x' AS tag, "
                              "'[1]' AS j, n * 2 AS total FROM items"))
            out.append(conn.execute(text(query)).one())
    assert out[0] == out[1] == (3, "x", "[1]", "text", 12, 1)


@needs_21
def test_views_are_reflected_apart_from_tables(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(CreateView(select(items.c.id, items.c.s).where(items.c.n > 1), "named"))
        insp = inspect(conn)
        assert insp.get_view_names() == ["named"]
        assert "named" not in insp.get_table_names()
        assert [c["name"] for c in insp.get_columns("named")] == ["id", "s"]
        assert insp.get_view_definition("named").split() == [
            "CREATE", "VIEW", "named", "AS", "SELECT", "items.id,", "items.s", "FROM", "items",
            "WHERE", "items.n", ">", "1"]
        conn.execute(DropView(Table("named", MetaData())))
        assert inspect(conn).get_view_names() == []


def test_a_view_takes_no_writes_and_no_drop_table(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(text("CREATE VIEW v AS SELECT id, n FROM items"))
        for statement in ("INSERT INTO v (n) VALUES (1)", "UPDATE v SET n = 2",
                          "DELETE FROM v"):
            with pytest.raises(exc.OperationalError, match="because it is a view"):
                conn.execute(text(statement))
        with pytest.raises(exc.ProgrammingError, match="use DROP VIEW"):
            Table("v", MetaData()).drop(conn)


@pytest.mark.parametrize("statement, construct", [
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE OR REPLACE"),
    ("CREATE TEMPORARY VIEW v AS SELECT 1", "CREATE TEMPORARY"),
    ("CREATE MATERIALIZED VIEW v AS SELECT 1", "MATERIALIZED VIEW"),
])
def test_view_forms_the_store_lacks_are_refused_by_name(engine: Engine, statement: str,
                                                        construct: str) -> None:
    with engine.connect() as conn, pytest.raises(exc.NotSupportedError) as info:
        conn.execute(text(statement))
    assert isinstance(info.value.orig, errors.NotSupportedError)
    assert construct in str(info.value)


def test_raw_create_table_ddl_makes_a_collection(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE raw (id INTEGER PRIMARY KEY, name VARCHAR(30) NOT NULL "
                          "UNIQUE, share NUMERIC(10, 2))"))
        conn.execute(text("INSERT INTO raw (name, share) VALUES ('a', 1.5), ('b', NULL)"))
        assert conn.execute(text("SELECT id, name, share FROM raw ORDER BY id")).all() == [
            (1, "a", 1.5), (2, "b", None)]
        conn.commit()
        with pytest.raises(exc.IntegrityError):  # NOT NULL: when the statement runs
            conn.execute(text("INSERT INTO raw (share) VALUES (1)"))
        with pytest.raises(exc.IntegrityError):  # UNIQUE: when the statement runs too
            conn.execute(text("INSERT INTO raw (name) VALUES ('a')"))
        conn.rollback()
        columns = inspect(conn).get_columns("raw")
        # a primary-key column is NOT NULL, as in SQL (SQLite alone reports it nullable)
        assert [(c["name"], str(c["type"]), c["nullable"]) for c in columns] == [
            ("id", "INTEGER", False), ("name", "VARCHAR(30)", False),
            ("share", "NUMERIC(10, 2)", True)]
        with pytest.raises(exc.NotSupportedError, match="COLLATE"):
            conn.execute(text("CREATE TABLE bad (a TEXT COLLATE NOCASE)"))


def test_if_exists_and_if_not_exists_see_only_existing_collections(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.connect() as conn:
        conn.execute(text("DROP VIEW IF EXISTS never_made"))
        with pytest.raises(exc.OperationalError, match="no such view"):
            conn.execute(text("DROP VIEW never_made"))
        conn.execute(text("CREATE VIEW IF NOT EXISTS fresh AS SELECT id FROM items"))
        conn.execute(text("CREATE VIEW IF NOT EXISTS fresh AS SELECT n FROM items"))
        assert inspect(conn).get_view_names() == ["fresh"]
        assert [c["name"] for c in inspect(conn).get_columns("fresh")] == ["id"]
        conn.execute(text("DROP VIEW fresh"))
        assert inspect(conn).get_view_names() == []
