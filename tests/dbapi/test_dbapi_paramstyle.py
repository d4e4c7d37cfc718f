"""Both of SQLite's parameter styles through the DB-API, as stdlib sqlite3 takes them: ``?``
(and ``?NNN``) with a sequence of values, ``:name`` with a mapping; one style per statement,
and every misuse a ProgrammingError saying what is wrong. Results are compared with sqlite3
running the same text with the same parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sqla_docstore import dbapi, errors

metadata = sa.MetaData()
sa.Table("things", metadata,
         sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String(20)),
         sa.Column("n", sa.Integer))
sa.Table("copies", metadata,
         sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String(20)),
         sa.Column("n", sa.Integer))
ROWS = [(1, "a", 10), (2, "b?", 20), (3, ":c", None), (4, "d", 40)]
INSERT_QMARK = "INSERT INTO things (id, name, n) VALUES (?, ?, ?)"
INSERT_NAMED = "INSERT INTO things (id, name, n) VALUES (:id, :name, :n)"


def _dicts(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{"id": i, "name": name, "n": n} for i, name, n in rows]


@pytest.fixture
def raw(engine: Engine) -> Iterator[dbapi.Connection]:
    """A DB-API connection of the ``engine`` fixture (docstore:// and ravendb://) with the
    ``things`` table filled and an empty ``copies`` table."""
    metadata.create_all(engine)
    proxied = engine.raw_connection()
    conn = proxied.dbapi_connection
    assert isinstance(conn, dbapi.Connection)
    conn.cursor().executemany(INSERT_QMARK, ROWS)
    conn.commit()
    yield conn
    proxied.close()


@pytest.fixture
def oracle3() -> Iterator[sqlite3.Connection]:
    """sqlite3 with the same tables and rows."""
    conn = sqlite3.connect(":memory:")
    for table in ("things", "copies"):
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(20), n INT)")
    conn.executemany(INSERT_QMARK, ROWS)
    yield conn
    conn.close()


def _both(raw: dbapi.Connection, oracle3: sqlite3.Connection, sql: str,
          params: Any) -> tuple[list[Any], list[Any]]:
    cur = raw.cursor()
    cur.execute(sql, params)
    # (sqlite3 takes no None for "no parameters", which PEP 249 allows)
    expected = oracle3.execute(sql, () if params is None else params).fetchall()
    return [tuple(r) for r in cur.fetchall()], expected


@pytest.mark.parametrize("sql, params", [
    ("SELECT id, name FROM things WHERE n = ?", (20,)),
    ("SELECT id, name FROM things WHERE n = :n", {"n": 20}),
    ("SELECT id FROM things WHERE n > ? AND name <> ? ORDER BY id", [5, "d"]),
    ("SELECT id FROM things WHERE n > :low AND name <> :name ORDER BY id",
     {"low": 5, "name": "d", "unused": 1}),
    ("SELECT id, ? FROM things WHERE name = 'b?' OR name = ':c' OR n = ? ORDER BY id",
     ("x", 40)),
    ("SELECT \"n\" FROM things WHERE id = ?", (1,)),
    ("SELECT id FROM things WHERE n = ?2 OR id = ?1 ORDER BY id", (3, 10)),
    ("SELECT id, ?1 + ?1 FROM things WHERE id = ?1", (2,)),
    ("SELECT id FROM things WHERE n = ?3 OR id = ? ORDER BY id", (0, 0, 20, 1)),
    ("SELECT id FROM things WHERE id IN (?, ?, ?) ORDER BY id", (4, 1, 9)),
    ("SELECT id FROM things WHERE n IS ? ORDER BY id", (None,)),
    ("SELECT count(*), sum(n) FROM things WHERE id <= ?", (3,)),
    ("SELECT id FROM things ORDER BY id LIMIT ? OFFSET ?", (2, 1)),
    ("SELECT id FROM things ORDER BY id", ()),
    ("SELECT id FROM things ORDER BY id", None),
    ("SELECT id FROM things ORDER BY id", {}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_both_styles_find_what_sqlite3_finds(raw: dbapi.Connection, oracle3: sqlite3.Connection,
                                             sql: str, params: Any) -> None:
    got, expected = _both(raw, oracle3, sql, params)
    assert expected  # every probe finds something
    assert got == expected


@pytest.mark.parametrize("sql, params, match", [
    ("SELECT id FROM things WHERE id = ?", {"id": 1}, r"positional parameters \(\?\).*dict"),
    ("SELECT id FROM things WHERE id = ?", {}, "positional parameters"),
    ("SELECT id FROM things WHERE id = :id", (1,), r"named parameters \(:name.*tuple"),
    ("SELECT id FROM things WHERE id = :id", [1], "named parameters .* list"),
    ("SELECT id FROM things WHERE id = ?", (1, 2), "takes 1 positional parameter .* 2 were"),
    ("SELECT id FROM things WHERE id = ? OR n = ?", (1,), "takes 2 .* 1 was supplied"),
    ("SELECT id FROM things WHERE id = ?", (), "takes 1 .* 0 were"),
    ("SELECT id FROM things WHERE id = ?", None, "takes 1 .* 0 were"),
    ("SELECT id FROM things WHERE id = ?3", (1, 2), "takes 3 .* 2 were"),
    ("SELECT id FROM things", (1,), "has no parameters, and 1 was supplied"),
    ("SELECT id FROM things WHERE id = :id OR n = ?", (1, 2), "mixes positional"),
    ("SELECT id FROM things WHERE id = ? OR n = :n", {"n": 1}, "mixes positional"),
    ("SELECT id FROM things WHERE id = :id? ", {"id": 1}, "mixes positional"),
    ("SELECT id FROM things WHERE id = ?0", (1,), r"\?1 to \?32766"),
    ("SELECT id FROM things WHERE id = ?32767", (1,), r"\?1 to \?32766"),
    ("SELECT id FROM things WHERE id = ?", "1", "sequence of values .* not str"),
    ("SELECT id FROM things WHERE id = ?", 1, "sequence of values .* not int"),
    ("SELECT id FROM things WHERE id = ?", {1}, "sequence of values .* not set"),
])
def test_each_misuse_is_a_programming_error(raw: dbapi.Connection, sql: str, params: Any,
                                            match: str) -> None:
    with pytest.raises(errors.ProgrammingError, match=match):
        raw.cursor().execute(sql, params)


@pytest.mark.parametrize("sql, params", [
    ("SELECT id FROM things WHERE id = ?", (1, 2)),
    ("SELECT id FROM things WHERE id = ? OR n = ?", (1,)),
    ("SELECT id FROM things WHERE id = ?", ()),
    ("SELECT id FROM things", (1,)),
    ("SELECT id FROM things WHERE id = ?", {"id": 1}),
])
def test_sqlite3_refuses_the_same_misuses(oracle3: sqlite3.Connection, sql: str,
                                          params: Any) -> None:
    with pytest.raises(sqlite3.ProgrammingError):
        oracle3.execute(sql, params)


def test_a_misused_executemany_writes_nothing(raw: dbapi.Connection) -> None:
    cur = raw.cursor()
    with pytest.raises(errors.ProgrammingError, match="takes 3 .* 2 were"):
        cur.executemany(INSERT_QMARK, [(5, "e", 50), (6, "f")])
    with pytest.raises(errors.ProgrammingError, match="positional parameters"):
        cur.executemany(INSERT_QMARK, [(5, "e", 50), {"id": 6, "name": "f", "n": 60}])
    with pytest.raises(errors.ProgrammingError, match="named parameters"):
        cur.executemany(INSERT_NAMED, [{"id": 5, "name": "e", "n": 50}, (6, "f", 60)])
    raw.commit()
    cur.execute("SELECT count(*) FROM things")
    assert cur.fetchall() == [(4,)]


@pytest.mark.parametrize("given", ["tuples", "lists", "generator of tuples"])
def test_executemany_with_values_stores_what_mappings_store(raw: dbapi.Connection,
                                                            given: str) -> None:
    rows = [(10 + i, f"x{i}", i * 3 if i % 4 else None) for i in range(50)]
    values: Any = {"tuples": rows, "lists": [list(r) for r in rows],
                   "generator of tuples": (r for r in rows)}[given]
    cur = raw.cursor()
    cur.executemany(INSERT_QMARK.replace("things", "copies"), values)
    assert cur.rowcount == 50
    cur.executemany(INSERT_NAMED, _dicts(rows))
    raw.commit()
    cur.execute("SELECT id, name, n FROM copies ORDER BY id")
    copies = cur.fetchall()
    cur.execute("SELECT id, name, n FROM things WHERE id >= 10 ORDER BY id")
    assert copies == cur.fetchall() == rows


def test_writes_with_returning_in_both_styles(raw: dbapi.Connection,
                                              oracle3: sqlite3.Connection) -> None:
    statements: list[tuple[str, Any]] = [
        ("INSERT INTO things (id, name, n) VALUES (?, ?, ?) RETURNING id, name, n + ?",
         (7, "g", 70, 1)),
        ("INSERT INTO things (id, name, n) VALUES (:id, :name, :n) RETURNING id, n",
         {"id": 8, "name": "h", "n": 80}),
        ("UPDATE things SET name = ?, n = n + ? WHERE id = ? RETURNING id, name, n",
         ("G", 5, 7)),
        ("UPDATE things SET name = :name WHERE n > :n RETURNING id, name", {"name": "z", "n": 70}),
        ("DELETE FROM things WHERE id = ? RETURNING id, name", (7,)),
        ("DELETE FROM things WHERE n IS NULL AND name = :name RETURNING id", {"name": ":c"}),
    ]
    for sql, params in statements:
        got, expected = _both(raw, oracle3, sql, params)
        assert sorted(got) == sorted(expected), sql
    raw.commit()
    assert _both(raw, oracle3, "SELECT id, name, n FROM things ORDER BY id", ())[0] == \
        oracle3.execute("SELECT id, name, n FROM things ORDER BY id").fetchall()


def test_a_warm_load_by_key_takes_values_and_still_checks_them(raw: dbapi.Connection) -> None:
    point = "SELECT things.id, things.name FROM things WHERE things.id = ?"
    cur = raw.cursor()
    for key in (1, 2, 1, 9, 4):
        cur.execute(point, (key,))
        assert cur.fetchall() == [(k, name) for k, name, _ in ROWS if k == key]
    assert point in raw.warm  # the loads by key after the first skip the analysis
    with pytest.raises(errors.ProgrammingError, match="positional parameters"):
        cur.execute(point, {"?1": 1})
    with pytest.raises(errors.ProgrammingError, match="takes 1 .* 2 were"):
        cur.execute(point, (1, 2))
    cur.execute(point, [4])  # a list is a sequence of values too
    assert cur.fetchall() == [(4, "d")]


def test_rql_queries_keep_dollar_names_and_take_question_marks(raw: dbapi.Connection) -> None:
    cur = raw.cursor()
    cur.execute("from things where n = $n", {"n": 40})
    by_name = cur.fetchall()
    cur.execute("from things where n = ?", (40,))
    assert cur.fetchall() == by_name and len(by_name) == 1
    with pytest.raises(errors.ProgrammingError, match="mixes positional"):
        cur.execute("from things where n = ? or id = $id", (40,))
