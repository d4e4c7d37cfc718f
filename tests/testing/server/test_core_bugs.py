"""Core bugs found while building the server (they fail until the core is fixed)."""

from __future__ import annotations

from sqla_docstore import dbapi


def test_subquery_column_aliased_to_its_own_name_reads_the_field() -> None:
    conn = dbapi.connect(":memory:")
    cur = conn.cursor()
    cur.execute('CREATE COLLECTION users {"fields": [{"name": "id", "type": "INTEGER"}, '
                '{"name": "name", "type": "VARCHAR"}], "primary_key": ["id"]}')
    for i, name in enumerate(["a", "a", "b"]):
        cur.execute("INSERT INTO users (id, name) VALUES (:i, :n)", {"i": i, "n": name})
    conn.commit()
    cur.execute("SELECT q.name FROM (SELECT name AS name FROM users) AS q ORDER BY q.name")
    assert cur.fetchall() == [("a",), ("a",), ("b",)]  # got [('name',), ('name',), ('name',)]
    cur.execute("SELECT count(*) FROM (SELECT name AS name FROM users GROUP BY name) AS q")
    assert cur.fetchall() == [(2,)]  # got [(1,)]
    conn.close()
