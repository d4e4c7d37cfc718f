"""Raw SQL (the DB-API, SQLAlchemy's text()) writes a value to a declared column, and compares
a literal or parameter with one, by the column's type affinity, as SQLite does: '5' written
to an INTEGER column is 5 (it was stored as the text '5'), 2.0 is 2, True is 1, 7 in a REAL
column is 7.0, 5 in a TEXT column is '5'; WHERE n < '3' over an INTEGER column compares 3
(it compared the text: every number is less than any text). INSERT (literals, parameters,
executemany, INSERT ... SELECT), UPDATE SET and the comparisons' forms, each statement run on
stdlib sqlite3 and on both backends, stored values read back with typeof()."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from sqla_docstore import errors

DDL = ("CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, s TEXT, "
       "b BLOB, v VARCHAR(20), f FLOAT, bi BIGINT)")
COLUMNS = ("i", "r", "n", "s", "b", "v", "f", "bi")
READ = ("SELECT id, " + ", ".join(f"{c}, typeof({c})" for c in COLUMNS)
        + " FROM t ORDER BY id")
#: values SQLite's affinities convert (or keep) in columns of each kind
VALUES: list[Any] = ["5", " 7 ", "2.5", "1e3", "3.0e+5", "+5", "-0", ".5", "5.", "0x10", "abc",
                     "", " ", "1_000", "\u0663", "12.50", 2.0, 2.5, -0.0, 7, True, False,
                     0.1, 1 / 3, 1e15, 123456789.125, 2**60, -(2**62), "-9223372036854775808",
                     "9223372036854775807", "0.1", "1e-7", "2E3"]
Run = Callable[..., Any]


@pytest.fixture
def both(engine: Engine,
         statement_runner: Callable[[Any], Run]) -> Iterator[tuple[Run, Run]]:
    raw = engine.raw_connection()
    lite = sqlite3.connect(":memory:")
    runs = statement_runner(raw.cursor()), statement_runner(lite.cursor())
    for run in runs:
        run(DDL)
        run("CREATE TABLE src (id INTEGER PRIMARY KEY, val)")
    yield runs
    raw.close()
    lite.close()


def _typed(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each value with its Python type (1 == 1.0 == True in Python); a NUMERIC column's
    Decimal (the DB-API's answer, README) as the number sqlite3 gives."""
    out = []
    for row in rows:
        items: list[Any] = []
        for value in row:
            if isinstance(value, Decimal):
                value = int(value) if value == value.to_integral_value() and (
                    "." not in str(value) and "E" not in str(value)) else float(value)
            # (a float by its repr: -0.0 == 0.0 in Python)
            items.append((type(value).__name__, repr(value) if type(value) is float else value))
        out.append(tuple(items))
    return out


def _same(docstore: Run, lite: Run, sql: str = READ) -> list[tuple[Any, ...]]:
    expected = _typed(lite(sql))
    assert _typed(docstore(sql)) == expected
    return expected


def _insert_sql(value: Any) -> str:
    return ("INSERT INTO t (id, " + ", ".join(COLUMNS) + ") VALUES (?, "
            + ", ".join("?" * len(COLUMNS)) + ")")


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_bound_value_is_stored_by_each_columns_affinity(both: tuple[Run, Run],
                                                          value: Any) -> None:
    for run in both:
        run(_insert_sql(value), (1, *[value] * len(COLUMNS)))
    stored = _same(*both)
    if value == "5":  # (the difference this closes: the text '5' was stored as given)
        assert stored[0][1:5] == (("int", 5), ("str", "integer"), ("float", "5.0"),
                                  ("str", "real"))


LITERALS = ["'5'", "' 7 '", "'2.5'", "'1e3'", "'abc'", "2.0", "2.5", "7", "TRUE", "-0.0",
            "'0x10'", "1e15", "0.1", "'12.50'", "NULL", "+5", "-7.0"]


@pytest.mark.parametrize("literal", LITERALS)
def test_a_literal_is_stored_by_each_columns_affinity(both: tuple[Run, Run],
                                                      literal: str) -> None:
    sql = ("INSERT INTO t (id, " + ", ".join(COLUMNS) + ") VALUES (1, "
           + ", ".join([literal] * len(COLUMNS)) + ")")
    for run in both:
        run(sql)
    _same(*both)


def test_executemany_converts_a_column_at_a_time_as_row_by_row(
        both: tuple[Run, Run]) -> None:
    # (enough rows for the column-at-a-time path; each column mixes kinds)
    rows = [(k, *[VALUES[(k + j) % len(VALUES)] for j in range(len(COLUMNS))])
            for k in range(1, 41)]
    for run in both:
        assert run(_insert_sql(None), rows, many=True) == 40
        # the same parameter in two columns of different affinities
        run("INSERT INTO t (id, i, s, r) VALUES (?1, ?2, ?2, ?2)",
            [(100 + k, v) for k, v in enumerate(["5", 2.0, True, "x", 7] * 4)], many=True)
        run("INSERT INTO t (id, i, s) VALUES (:id, :v, :v)",
            [{"id": 200 + k, "v": v} for k, v in enumerate(["5", 2.0, True, 7])], many=True)
    _same(*both)


def test_insert_select_and_update_store_by_the_target_columns_affinity(
        both: tuple[Run, Run]) -> None:
    values = [v for v in VALUES if not isinstance(v, bytes)]
    for run in both:
        run("INSERT INTO src (id, val) VALUES (?, ?)", list(enumerate(values, 1)), many=True)
        run("INSERT INTO t (id, " + ", ".join(COLUMNS) + ") SELECT id, "
            + ", ".join(["val"] * len(COLUMNS)) + " FROM src")
        run("INSERT INTO t (id, i, s) VALUES (1000, 1, 'x')")
    _same(*both)
    for k, value in enumerate(values):
        for run in both:
            run("UPDATE t SET i = ?, r = ?, n = ?, s = ?, v = ? WHERE id = ?",
                (value, value, value, value, value, k + 1))
    _same(*both)
    for run in both:
        run("UPDATE t SET i = '42', r = 3, s = 2.0, n = '1.50' WHERE id = 1000")
        run("UPDATE t SET i = ?, s = ? WHERE id = ?", [("6", 6.5, 1000), ("7", 7, 1)],
            many=True)
        run("UPDATE t SET bi = '9', i = i + 1 WHERE id = 1000")  # (computed beside a value)
        run("UPDATE t SET s = 3 WHERE id = 2 RETURNING id, s")
    _same(*both)


ROWS = [(1, 1, 1.5, 1, "1", "1"), (2, 2, 2.5, 2.5, "2", "2"), (3, 10, 10.0, 10, "10", "10"),
        (4, None, None, None, "abc", "abc"), (5, -3, -0.5, "x", "-3", "-3")]
#: (SQL, parameters): comparisons of a column with values of another kind
QUERIES: list[tuple[str, tuple[Any, ...]]] = [
    ("SELECT id FROM t WHERE i < '3' ORDER BY id", ()),
    ("SELECT id FROM t WHERE i < ? ORDER BY id", ("3",)),
    ("SELECT id FROM t WHERE id > '2' ORDER BY id", ()),
    ("SELECT id FROM t WHERE id = ? AND i = 2", ("2",)),
    ("SELECT id FROM t WHERE id = ? AND i = ?", ("2", "2.0")),
    ("SELECT id FROM t WHERE s = 10", ()),
    ("SELECT id FROM t WHERE s > ? ORDER BY id", (1,)),
    ("SELECT id FROM t WHERE v <> 2 ORDER BY id", ()),
    ("SELECT id FROM t WHERE s IN (1, 2.0, ?) ORDER BY id", (10,)),
    ("SELECT id FROM t WHERE i IN ('1', ?) ORDER BY id", ("10",)),
    ("SELECT id FROM t WHERE i NOT IN ('1', ?) ORDER BY id", (" 10 ",)),
    ("SELECT id FROM t WHERE r BETWEEN '1' AND ? ORDER BY id", ("2.5",)),
    ("SELECT id FROM t WHERE s BETWEEN 1 AND 2 ORDER BY id", ()),
    ("SELECT id FROM t WHERE i NOT BETWEEN '-5' AND ? ORDER BY id", ("2",)),
    ("SELECT id FROM t WHERE n = '2.5'", ()),
    ("SELECT id FROM t WHERE n >= ? ORDER BY id", ("2",)),
    ("SELECT id FROM t WHERE n = 'x'", ()),
    ("SELECT id FROM t WHERE b = '2'", ()),
    ("SELECT id FROM t WHERE b = 2", ()),
    ("SELECT id FROM t WHERE '3' > i ORDER BY id", ()),
    ("SELECT id FROM t WHERE i = ?1 OR s = ?1 ORDER BY id", ("10",)),
    ("SELECT id FROM t WHERE i = ?1 OR s = ?1 ORDER BY id", (10,)),
    ("SELECT id, ? FROM t WHERE i = ? ORDER BY id", ("1", "1")),
    ("SELECT id FROM t WHERE i = :v OR r = :v OR s = :v ORDER BY id", ()),
    ("SELECT q.a FROM (SELECT i AS a FROM t) AS q WHERE q.a = '10'", ()),
    ("SELECT id FROM t WHERE i IS '1'", ()),
    ("SELECT id FROM t WHERE i IS NOT ? ORDER BY id", ("1",)),
    ("SELECT id FROM t WHERE s IS DISTINCT FROM 1 ORDER BY id", ()),
    ("SELECT id, CASE i WHEN '1' THEN 'one' WHEN ? THEN 'two' ELSE 'other' END FROM t "
     "ORDER BY id", ("2",)),
    ("SELECT id FROM t AS q WHERE q.i >= '2' AND EXISTS "
     "(SELECT 1 FROM src WHERE src.id = q.i AND src.val = 'x') ORDER BY id", ()),
    ("SELECT id FROM t WHERE (SELECT s FROM t AS u WHERE u.id = 3) = 10", ()),
    ("SELECT t.id FROM t JOIN src ON src.id = t.i AND t.s = 10", ()),
    ("WITH RECURSIVE c(k) AS (SELECT i FROM t WHERE id = 1 UNION ALL "
     "SELECT k + 1 FROM c WHERE k < '5') SELECT k FROM c", ()),
    ("SELECT q.a FROM (SELECT i AS a FROM t UNION ALL SELECT bi FROM t) AS q "
     "WHERE q.a = '10'", ()),
    ("SELECT q.a FROM (SELECT i AS a FROM t UNION ALL SELECT s FROM t) AS q "
     "WHERE q.a = 'abc'", ()),
    ("SELECT i AS m, count(*) FROM t GROUP BY i HAVING i > '1' ORDER BY m", ()),
    ("SELECT id FROM t WHERE CAST(i AS TEXT) = 10", ()),
    ("SELECT id FROM t WHERE i + 0 = '10'", ()),  # an expression has no affinity
    ("SELECT id FROM t WHERE i = TRUE", ()),
    ("SELECT id FROM t WHERE s = ?", (True,)),
    ("SELECT id FROM t WHERE i > '9223372036854775808' ORDER BY id", ()),
    ("SELECT id FROM t WHERE (i, s) = (?, 1)", ("1",)),  # row values: element by element
    ("SELECT id FROM t WHERE (i, s) IN (VALUES (?, 10), ('2', 2)) ORDER BY id", ("10",)),
    ("SELECT id FROM t WHERE (i, s) IN ((?, ?)) ORDER BY id", ("1", 1)),
    ("UPDATE t SET v = 'u' WHERE i < '3'", ()),
    ("UPDATE t SET v = 'w' WHERE s = ? AND i > ?", (10, "5")),
    ("SELECT id, v FROM t ORDER BY id", ()),
    ("INSERT INTO src (id, val) SELECT id + 100, s FROM t WHERE i > '1'", ()),
    ("SELECT id, val FROM src ORDER BY id", ()),
    ("DELETE FROM t WHERE s = ?", (10,)),
    ("DELETE FROM t WHERE i IN ('1', '2')", ()),
    ("SELECT id FROM t ORDER BY id", ()),
]


def _seed(run: Run) -> None:
    run("INSERT INTO t (id, i, r, n, s, v) VALUES (?, ?, ?, ?, ?, ?)", ROWS, many=True)
    run("INSERT INTO t (id, bi, b) VALUES (6, 10, 2)")
    run("INSERT INTO src (id, val) VALUES (2, 'x'), (3, 'y'), (10, 'x')")


def _outcome(run: Run, sql: str, params: tuple[Any, ...]) -> Any:
    if ":v" in sql:
        return run(sql, {"v": "10"})
    return run(sql, params)


def test_a_value_compared_with_a_column_is_converted_by_its_affinity(
        both: tuple[Run, Run]) -> None:
    docstore, lite = both
    _seed(docstore)
    _seed(lite)
    seen = []
    for query, args in QUERIES:  # in turn: the writes among them change what follows
        expected = _outcome(lite, query, args)
        got = _outcome(docstore, query, args)
        assert (got == expected if isinstance(expected, int) else
                _typed(got) == _typed(expected)), (query, got, expected)
        seen.append(expected)
    assert seen[0] == [(1,), (2,), (5,)]  # (it compared with the text: every row but NULL's)
    assert seen[5] == [(3,)]  # s = 10 finds '10' (it compared a number with texts: none)


def test_a_compound_selects_column_of_two_affinities_refuses_a_convertible_value(
        both: tuple[Run, Run]) -> None:
    docstore, _ = both
    _seed(docstore)
    query = ("SELECT q.a FROM (SELECT i AS a FROM t UNION ALL SELECT s FROM t) AS q "
             "WHERE q.a = ?")
    with pytest.raises(errors.NotSupportedError, match="compound SELECT"):
        docstore(query, ("10",))
    with pytest.raises(errors.NotSupportedError, match="compound SELECT"):
        docstore(query.replace("?", "10"))
    assert docstore(query, ("abc",)) == [("abc",)]  # (no affinity converts it: as given)


def test_text_through_sqlalchemy_is_converted_too(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(DDL))
        conn.execute(text("INSERT INTO t (id, i, r, s) VALUES (1, :i, :r, :s)"),
                     {"i": "5", "r": 7, "s": 2.0})
        assert conn.execute(text("SELECT id FROM t WHERE i < :v"), {"v": "6"}).all() == [(1,)]
    with engine.connect() as conn:
        got = conn.execute(text("SELECT i, typeof(i), r, typeof(r), s, typeof(s) FROM t")).one()
    assert tuple(got) == (5, "integer", 7.0, "real", "2.0", "text")


def test_exact_numbers_stay_exact(both: tuple[Run, Run]) -> None:
    docstore, _ = both
    wide = "12345678901234567890.123456789"
    docstore("INSERT INTO t (id, i, n, bi) VALUES (?, ?, ?, ?)",
             (1, 2**70, wide, Decimal("2") ** 80))
    docstore("INSERT INTO t (id, n, r) VALUES (2, ?, ?)", (Decimal("0.1"), 2**53 + 1))
    assert docstore("SELECT i, n, bi FROM t WHERE id = 1") == [
        (2**70, Decimal(wide), 2**80)]
    # a NUMERIC column keeps the digits of a text a double would round, and compares them
    assert docstore("SELECT id FROM t WHERE n = ?", (wide,)) == [(1,)]
    assert docstore("SELECT id FROM t WHERE n = '0.1'") == [(2,)]
    assert docstore("SELECT id FROM t WHERE i = ?", (str(2**70),)) == []  # (a double, 2**70.0)
    # an integer a double does not hold stays exact in a REAL column (README: exact numbers)
    assert docstore("SELECT r, typeof(r) FROM t WHERE id = 2") == [(2**53 + 1, "integer")]


def test_a_numeric_text_a_double_makes_integral_keeps_its_digits(
        both: tuple[Run, Run]) -> None:
    """A NUMERIC column given a text whose double is an integer within 64 bits: SQLite
    stores that integer (12345678901234568 for '12345678901234567.891'); the store kept
    the digits only through SQLAlchemy's Numeric (its bind processor made the Decimal),
    raw SQL lost them. A text that is its integer ('2.0', '1e3') is SQLite's integer."""
    docstore, lite = both
    wide = ["12345678901234567.891", "12345678901234567.0", "1.00000000000000000001"]
    same = ["2.0", "1e3", " 20 ", "12345678901234567", "-0", "12.50"]
    for run in both:
        run("INSERT INTO t (id, n) VALUES (?, ?)", [(i, v) for i, v in enumerate(wide + same)],
            many=True)
        run("INSERT INTO t (id, n) VALUES (100, '12345678901234567.891')")
    lite_rows = lite("SELECT id, n, typeof(n) FROM t ORDER BY id")
    assert lite_rows[0] == (0, 12345678901234568, "integer")
    got = docstore("SELECT id, n, typeof(n) FROM t ORDER BY id")
    assert [n for _, n, _ in got[:len(wide)]] == [Decimal(v) for v in wide]
    assert got[-1][1] == Decimal(wide[0])
    assert _typed(got[len(wide):-1]) == _typed(lite_rows[len(wide):-1])
    assert docstore("SELECT id FROM t WHERE n = ? ORDER BY id", (wide[0],)) == [(0,), (100,)]


def test_a_float_beyond_64_bits_for_an_integer_column_is_refused(
        both: tuple[Run, Run]) -> None:
    docstore, lite = both
    # SQLite stores the REAL 1e+20; the store refuses a float beyond 2**53 in an exact column
    # (it could be an integer computed approximately), naming the column
    for value in ("1e20", 1e20, "9223372036854775808"):
        with pytest.raises(errors.DataError, match=r"t\.i"):
            docstore("INSERT INTO t (id, i) VALUES (1, ?)", (value,))
        lite("INSERT INTO t (id, i) VALUES (1, ?)", (value,))
        assert lite("SELECT typeof(i) FROM t") == [("real",)]
        lite("DELETE FROM t")


COMPUTED_DDL = ("CREATE TABLE c (id INTEGER PRIMARY KEY, n NUMERIC, r REAL, m MEDIUMINT, "
                "ch CHARACTER(10), i INTEGER, s TEXT, d DOUBLE)")


def test_a_computed_value_is_stored_by_each_columns_affinity(both: tuple[Run, Run]) -> None:
    # values an expression computes, in INSERT VALUES and UPDATE SET (computed now, or at
    # commit where the store can), by the declared type's affinity: also type names SQLite
    # classifies by their words (MEDIUMINT is INTEGER, CHARACTER(10) TEXT, DOUBLE REAL)
    read = "SELECT id, " + ", ".join(f"{c}, typeof({c})" for c in "n r m ch i s d".split()) \
        + " FROM c ORDER BY id"
    for run in both:
        run(COMPUTED_DDL)
        run("INSERT INTO c (id, n, r, m, ch, i, s, d) VALUES "
            "(1, 1.0 * 2, 1 + 1, 2.0 + 0, 3 + 0, '7' || '', 2.5 * 2, 3 - 1)")
        run("INSERT INTO c (id, n, r, m, ch, i, s, d) VALUES "
            "(2, '0.5' || '', 3 / 2, 7.5 / 2.5, 1.0 * 1, 1 = 1, 1e10 * 1, '4' || '')")
    _same(*both, read)
    for run in both:
        run("UPDATE c SET n = r * 3, m = r * 2, ch = r + 1, i = s || '', d = i + 1")
        run("UPDATE c SET s = n + 0.5, r = m * 1 WHERE id = 2")
    _same(*both, read)


def test_untyped_json_and_boolean_columns_keep_their_values(both: tuple[Run, Run]) -> None:
    # (README: the dialect's JSON and Boolean; SQLite gives JSON NUMERIC affinity and stores
    # 1 for True) a boolean still compares equal to 1, as SQLite's 1 does
    docstore, _ = both
    docstore("CREATE TABLE k (id INTEGER PRIMARY KEY, x, j JSON, flag BOOLEAN)")
    docstore("INSERT INTO k (id, x, j, flag) VALUES (?, ?, ?, ?)", (1, "5", "5", True))
    docstore("INSERT INTO k (id, x, j, flag) VALUES (2, '7', '7', '1')")
    assert docstore("SELECT x, j, flag FROM k ORDER BY id") == [("5", "5", True), ("7", "7", 1)]
    assert docstore("SELECT id FROM k WHERE flag = 1 ORDER BY id") == [(1,), (2,)]
    assert docstore("SELECT id FROM k WHERE flag = ? ORDER BY id", ("1",)) == [(1,), (2,)]
    assert docstore("SELECT id FROM k WHERE x = 5") == []  # (no affinity: as given)


def test_an_upsert_stores_and_compares_by_the_affinity(both: tuple[Run, Run]) -> None:
    for run in both:
        run("INSERT INTO t (id, i, s) VALUES (1, 5, 'a')")
        run("INSERT INTO t (id, i, s) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET s = ? "
            "WHERE t.i > ?", ("1", "7", "x", 2.0, "3"))
        run("INSERT INTO t (id, i, s) VALUES (1, 6, 9) ON CONFLICT (id) DO UPDATE SET "
            "s = excluded.s || '', i = '8' WHERE excluded.i < '10' AND t.s = 2.0")
        run("INSERT INTO t (id, i, s) VALUES (2, '6', 9) ON CONFLICT DO NOTHING")
        run("INSERT OR REPLACE INTO t (id, i, r) VALUES ('2', ?, ?)", ("3.0", 4))
    _same(*both)
