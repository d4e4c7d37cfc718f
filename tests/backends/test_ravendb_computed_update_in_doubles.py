"""An UPDATE computed at commit by a RavenDB patch script (``SET n = n + 1``), whose script
would refuse the document for an integer result beyond 2**53 (it computes in doubles), is
refused at the statement with a DataError, the transaction and its earlier writes intact; it
was taken and read back right, then the commit failed and the transaction's other writes were
lost. One the script would refuse because it reads a text (in a numeric field, or a parameter:
it reads only numbers) is written with SQL's answer, computed by the statement and guarded by
the version read. The embedded store computes in SQLite's 64 bits and commits SQLite's
answer. Both backends, against sqlite3."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, exc, select

from sqla_docstore import errors

metadata = MetaData()
t = Table("t", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
          Column("n", Integer), Column("s", String(20)))

# (the stored n, the UPDATE's SET, its parameters)
CASES: list[tuple[Any, str, tuple[Any, ...]]] = [
    (2**62, "n = n + 1", ()),
    (2**53 - 1, "n = n + 1", ()),
    (-(2**62) - 1, "n = -n", ()),  # a double reads 2**62: it was stored
    (2**40, "n = n * n - n * n + 1", ()),  # an intermediate result beyond 2**53
    ("abc", "n = n + 1", ()),  # a text SQLite's INTEGER affinity keeps as text
    (5, "n = n + ?", ("7",)),
    (5, "n = coalesce(n, 0) + ?", (2**60,)),
]


def _sqlite(stored: Any, assignment: str, params: tuple[Any, ...]) -> list[Any]:
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s VARCHAR(20))")
    lite.execute("INSERT INTO t VALUES (1, ?, 'a'), (2, 5, 'b')", (stored,))
    lite.execute("UPDATE t SET s = 'other write' WHERE id = 2")
    lite.execute(f"UPDATE t SET {assignment} WHERE id = 1", params)
    return lite.execute("SELECT id, n, s FROM t ORDER BY id").fetchall()


@pytest.mark.parametrize(("stored", "assignment", "params"), CASES)
def test_a_computed_update_the_script_would_refuse_is_refused_or_answered_now(
        engine: Engine, stored: Any, assignment: str, params: tuple[Any, ...]) -> None:
    metadata.create_all(engine)
    raw = engine.raw_connection()
    cur = raw.cursor()
    cur.execute("INSERT INTO t (id, n, s) VALUES (1, ?, 'a'), (2, 5, 'b')", (stored,))
    raw.commit()
    cur.execute("UPDATE t SET s = 'other write' WHERE id = 2")
    expected = _sqlite(stored, assignment, params)
    # (a text read is answered by the statement: only wide integers are refused)
    refusal_expected = engine.url.drivername.startswith("ravendb") and not any(
        isinstance(v, str) for v in (stored, *params))
    refused = False
    try:
        cur.execute(f"UPDATE t SET {assignment} WHERE id = 1", params)
    except errors.DataError as error:
        assert "patch scripts compute in doubles" in str(error), error
        refused = True
    assert refused == refusal_expected
    cur.execute("SELECT id, n, s FROM t ORDER BY id")
    before_commit = [tuple(r) for r in cur.fetchall()]
    raw.commit()  # the other write, and the update if it was taken
    with engine.connect() as conn:
        after = [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
    raw.close()
    if refused:
        assert after == before_commit == [(1, stored, "a"), (2, 5, "other write")]
    else:
        assert after == before_commit == expected


def test_a_refused_computed_update_takes_nothing_of_the_statement(engine: Engine) -> None:
    """executemany: the second document's refusal leaves the first's update untaken too."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": 1, "n": 1, "s": "a"}, {"id": 2, "n": 2**62, "s": "b"}])
    with engine.connect() as conn:
        try:
            conn.execute(t.update().where(t.c.id.in_([1, 2])).values(n=t.c.n + 1))
        except exc.DataError:
            assert engine.url.drivername.startswith("ravendb")
            conn.commit()
            expected = [(1, 1), (2, 2**62)]
        else:
            conn.commit()
            expected = [(1, 2), (2, 2**62 + 1)]
        assert list(map(tuple, conn.execute(select(t.c.id, t.c.n).order_by(t.c.id)))) == expected
