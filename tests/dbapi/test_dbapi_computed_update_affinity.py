"""A value an UPDATE computes in SQL is stored by its column's affinity, as SQLite stores it
(and as an INSERT's computed values are): SET s = n + 1 stores '6' in a text column (it
stored 6: WHERE s = '6' found nothing, s read back as 6), SET n = f * 2 stores 3 in an
integer column (3.0), SET f = n + 1 stores 4.0 in a real one (4: f / 8 divided integers).
Computed now or at commit, both backends, against SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import JSON, Column, Engine, Float, Integer, MetaData, String, Table, func, select

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("n", Integer), Column("s", String(10)), Column("f", Float))

UPDATES = [
    t.update().values(s=t.c.n + 1),
    t.update().values(n=t.c.f * 2),
    t.update().values(f=t.c.n + 1),
    t.update().values(n=t.c.s + "7"),
    t.update().where(t.c.id == 1).values(s=t.c.f, n=t.c.n + 1),
    t.update().values(s=t.c.n * 3).returning(t.c.id, t.c.s),
]
READS = [
    select(t).order_by(t.c.id),
    select(t.c.id).where(t.c.s == "6").order_by(t.c.id),
    select(t.c.id, t.c.f / 8, t.c.n / 2, t.c.s + "z").order_by(t.c.id),
]


def _run(eng: Engine) -> list[Any]:
    seen: list[Any] = []
    with eng.begin() as conn:
        conn.execute(t.insert(), [{"id": 1, "n": 5, "s": "x", "f": 1.5},
                                  {"id": 2, "n": 2, "s": "y", "f": 3.0}])
    for stmt in UPDATES:
        with eng.begin() as conn:
            result = conn.execute(stmt)
            if stmt._returning:  # (what is stored is what RETURNING reports)
                seen.append(sorted(map(tuple, result)))
            seen.append([[tuple(r) for r in conn.execute(q)] for q in READS])
        with eng.connect() as conn:  # as committed
            seen.append([[tuple(r) for r in conn.execute(q)] for q in READS])
    return seen


def test_a_computed_update_stores_its_value_by_the_column_affinity(
        pair: tuple[Engine, Engine]) -> None:
    engine, oracle = pair
    expected = _run(oracle)
    assert _run(engine) == expected
    assert expected[0][0][0] == (1, 5, "6", 1.5)


docs = Table("docs", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
             Column("j", JSON), Column("k", JSON), Column("n", Integer))
JSON_UPDATES = [
    docs.update().values(j=docs.c.k),
    docs.update().values(k=func.coalesce(docs.c.j, docs.c.k)),
    docs.update().values(j=docs.c.n + 1),
    docs.update().values(k=docs.c.j).returning(docs.c.id, docs.c.k),
]


def test_a_json_field_set_from_another_keeps_its_value(pair: tuple[Engine, Engine]) -> None:
    """SET j = k (JSON columns): the array [1, 2] was stored as the string '[1,2]'."""
    def run(eng: Engine) -> list[Any]:
        seen: list[Any] = []
        with eng.begin() as conn:
            conn.execute(docs.insert(), [
                {"id": 1, "j": {"x": 1}, "k": [1, 2], "n": 5},
                {"id": 2, "j": "s", "k": "5", "n": 6},
                {"id": 3, "j": None, "k": {"a": [None, 2.5]}, "n": 7}])
        for stmt in JSON_UPDATES:
            with eng.begin() as conn:
                result = conn.execute(stmt)
                if stmt._returning:
                    seen.append(sorted(map(tuple, result)))
                seen.append([tuple(r) for r in conn.execute(select(docs).order_by(docs.c.id))])
            with eng.connect() as conn:
                seen.append([tuple(r) for r in conn.execute(select(docs).order_by(docs.c.id))])
        return seen

    engine, oracle = pair
    expected = run(oracle)
    assert run(engine) == expected
    assert expected[1][0] == (1, [1, 2], [1, 2], 5)


UNTYPED_DDL = "CREATE TABLE u (id INTEGER PRIMARY KEY, x, src)"
UNTYPED_SOURCES = [1, 0.1 + 0.2, 1 / 3, float(2**53), 2**62 + 1, "7", "abc", None, 2.5]
UNTYPED_SETS = ["src", "coalesce(src, 'z')", "abs(src)", "CAST(src AS REAL)", "src || ''",
                "json_quote(src)", "CASE WHEN id > 3 THEN src END"]


def _untyped(conn: Any) -> list[Any]:
    cur = conn.cursor()
    cur.execute(UNTYPED_DDL)
    conn.commit()
    cur.executemany("INSERT INTO u (id, src) VALUES (?, ?)", list(enumerate(UNTYPED_SOURCES)))
    seen = []
    for expr in UNTYPED_SETS:
        for returning in ("", " RETURNING id"):
            cur.execute(f"UPDATE u SET x = {expr}{returning}")
            cur.fetchall() if returning else None
            cur.execute("SELECT id, x, typeof(x) FROM u ORDER BY id")
            seen.append([tuple(r) for r in cur.fetchall()])
    conn.commit()
    cur.execute("SELECT id, x, typeof(x) FROM u ORDER BY id")
    return [*seen, [tuple(r) for r in cur.fetchall()]]


def test_an_untyped_field_set_from_an_expression_keeps_its_exact_value(engine: Engine) -> None:
    """SET x = src over an untyped column computed json_quote(src), which writes a real with 15
    digits (0.1 + 0.2 was stored as 0.3), and decoded any text computed for it as JSON
    (SET x = src || '' stored 7 for '7' and failed with InternalError on 'abc')."""
    oracle = sqlite3.connect(":memory:")
    raw = engine.raw_connection()
    try:
        expected = _untyped(oracle)
        got = _untyped(raw)
    finally:
        raw.close()
        oracle.close()
    assert got == expected
    assert (1, 0.1 + 0.2, "real") in expected[0] and (5, "7", "text") in expected[8]


TYPED_DDL = "CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, src TEXT)"
NUMBER_TEXTS = ["2.5", "1e3", " 8 ", "0.0", "7", "abc", "\u0663", "-0", "5."]


def _typed(conn: Any) -> list[Any]:
    cur = conn.cursor()
    cur.execute(TYPED_DDL)
    conn.commit()
    cur.executemany("INSERT INTO v (id, src) VALUES (?, ?)", list(enumerate(NUMBER_TEXTS)))
    seen = []
    for returning in ("", " RETURNING id"):
        cur.execute(f"UPDATE v SET i = src || '', r = trim(src), n = src || ''{returning}")
        cur.fetchall() if returning else None
        cur.execute("SELECT id, i, typeof(i), r, typeof(r), typeof(n), n < 10 FROM v ORDER BY id")
        seen.append([tuple(r) for r in cur.fetchall()])
    conn.commit()
    return seen


def test_a_computed_text_is_stored_as_a_numeric_columns_affinity_stores_it(
        engine: Engine) -> None:
    """SET i = src || '' stored '2.5' and '1e3' as texts in an INTEGER column (SQLite: 2.5 and
    1000), any numeric text as text in REAL and NUMERIC columns, and the Arabic-Indic digit
    '\u0663' as the integer 3 (SQLite keeps the text)."""
    oracle = sqlite3.connect(":memory:")
    raw = engine.raw_connection()
    try:
        expected = _typed(oracle)
        got = _typed(raw)
    finally:
        raw.close()
        oracle.close()
    assert got == expected
    assert (0, 2.5, "real", 2.5, "real", "real", 1) in expected[0]
