"""A statement that fails leaves its cursor without a result, as sqlite3's: the rows the
cursor's previous query had left were handed out as if they were the failed statement's
(a streaming cursor's current chunk too)."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import dbapi


@pytest.fixture
def filled(conn: dbapi.Connection) -> dbapi.Connection:
    conn.cursor().executemany("INSERT INTO tags (code, label) VALUES (?, ?)",
                              [(f"c{i:02}", f"l{i}") for i in range(20)])
    return conn


@pytest.mark.parametrize("failing", [
    ("execute", "SELECT nope FROM tags", None),
    ("execute", "SELEC code FROM tags", None),
    ("execute", "SELECT code FROM tags WHERE code = ?", ()),
    ("executemany", "INSERT INTO tags (code, label) VALUES (?, ?)", [("c01", "again")]),
    ("executemany", "INSERT INTO tags (code, label) VALUES (?, ?)", "not a list"),
])
def test_a_failed_statement_leaves_no_rows_to_fetch(filled: dbapi.Connection,
                                                    failing: tuple[str, str, Any]) -> None:
    cur = filled.cursor()
    cur.execute("SELECT code FROM tags ORDER BY code")
    assert cur.fetchone() == ("c00",)
    method, sql, params = failing
    with pytest.raises(dbapi.Error):
        getattr(cur, method)(sql, params) if params is not None else cur.execute(sql)
    assert cur.description is None
    assert cur.rowcount == -1
    with pytest.raises(dbapi.ProgrammingError, match="no result set"):
        cur.fetchall()
    cur.execute("SELECT count(*) FROM tags")  # the cursor goes on
    assert cur.fetchall() == [(20,)]


def test_a_failed_statement_ends_a_stream(tmp_path: Any) -> None:
    conn = dbapi.connect(str(tmp_path / "s.db"))
    try:
        cur = conn.cursor()
        cur.execute('CREATE COLLECTION t {"fields": [{"name": "id", "type": "INTEGER", '
                    '"nullable": false}], "primary_key": ["id"]}')
        cur.executemany("INSERT INTO t (id) VALUES (?)", [(i,) for i in range(3000)])
        conn.commit()
        stream = conn.cursor(stream=True)
        stream.execute("SELECT id FROM t ORDER BY id")
        assert stream.fetchone() == (0,) and stream.streaming
        with pytest.raises(dbapi.Error):
            stream.execute("SELECT nope FROM t")
        assert not stream.streaming
        with pytest.raises(dbapi.ProgrammingError, match="no result set"):
            stream.fetchmany(5)
    finally:
        conn.close()
