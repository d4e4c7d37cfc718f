"""An UPDATE's values reach RavenDB as written: a patch script holds numbers as doubles and
stores a whole one as an integer (unless the property held a double), so a float without a
fraction, any integer (the property may hold a double: a REAL in an INTEGER column), an
integer a double does not hold inside a JSON value and a decimal's digits are set by a JSON
Patch instead. Rows read back as SQLite gives them."""

from __future__ import annotations

import decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    Table,
    bindparam,
    literal_column,
    select,
)

from sqla_docstore import dbapi
from sqla_docstore.backends.ravendb.patch_script import json_patch, split_script_values
from sqla_docstore.commands import Patch

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True), Column("f", Float),
          Column("big", BigInteger), Column("d", Numeric(10, 2)), Column("j", JSON),
          Column("n", Integer))

UPDATES = [{"k": 1, "f": 3.0, "big": 2**62 + 1, "d": decimal.Decimal("2.50"), "j": [1.0, 2]},
           {"k": 2, "f": 0.0, "big": 2**53 + 1, "d": decimal.Decimal("7"), "j": {"x": 4.0}},
           {"k": 3, "f": 2.5, "big": 5, "d": None, "j": None}]


def _updated(eng: Engine) -> list[Any]:
    with eng.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "f": None, "big": 1, "d": 1, "j": [], "n": i}
                                  for i in (1, 2, 3)])
    with eng.begin() as conn:
        conn.execute(t.update().where(t.c.id == bindparam("k")).values(
            f=bindparam("f"), big=bindparam("big"), d=bindparam("d"), j=bindparam("j"),
            n=t.c.n + 1), UPDATES)
    with eng.connect() as conn:
        rows = conn.execute(select(t, literal_column("f / 2")).order_by(t.c.id)).all()
        return [tuple((type(v), v) for v in row) for row in rows]


def test_updated_values_read_back_as_written(pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_updated(eng) for eng in pair)
    assert docstore == sqlite
    assert sqlite[0][1] == (float, 3.0) and sqlite[0][2] == (int, 2**62 + 1)


def test_only_the_values_a_script_would_change_are_moved() -> None:
    cmd = Patch("t", "t/1", {"f": 3.0, "g": 2.5, "s": "x", "n": 7, "w": 2**62 + 1,
                             "z": -0.0, "d": decimal.Decimal("1.5"), "j": [{"a/b~": 1.0}]},
                unset=("gone",))
    kept, moved = split_script_values(cmd)
    assert kept.set == {"g": 2.5, "s": "x"} and kept.unset == ("gone",)
    assert list(moved) == ["f", "n", "w", "z", "d", "j"]
    ops = json_patch("t/1", {"a/b~": 1.0})["JsonPatch"]["Operations"]
    assert ops == [{"op": "add", "path": "/a~1b~0", "value": 1.0}]


def test_integer_set_over_a_stored_real_reads_back_as_an_integer(ravendb_url: str) -> None:
    """SQLite keeps 0.5 in an INTEGER column; an UPDATE setting 1 there stores the integer 1
    (a patch script would have stored 1.0 where the property held a double)."""
    host, database = ravendb_url.removeprefix("ravendb://").split("/", 1)
    conn = dbapi.connect(database, urls=[f"http://{host}"])
    cur = conn.cursor()
    cur.execute("CREATE TABLE g (id INTEGER PRIMARY KEY, x INTEGER, u, y TEXT DEFAULT 'd')")
    cur.execute("INSERT INTO g (id, x, u) VALUES (1, 0.5, 1.5), (2, 3, 2)")
    conn.commit()
    cur.execute("UPDATE g SET x = length(y), u = id")
    conn.commit()
    reader = dbapi.connect(database, urls=[f"http://{host}"])
    rows = reader.cursor().execute("SELECT id, x, u FROM g ORDER BY id").fetchall()
    assert [tuple((type(v), v) for v in row) for row in rows] == [
        ((int, 1), (int, 1), (int, 1)), ((int, 2), (int, 1), (int, 2))]
