"""Loads by id on the embedded store: one id (a load by key, by ``get_documents`` or
``get_document``) finds what a load of many ids finds for it (more than a statement's 500
included), and both note the documents read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sqla_docstore import dbapi, values

SPEC = {"fields": [{"name": "id", "type": "INTEGER"}, {"name": "name", "type": "VARCHAR"}],
        "primary_key": ["id"]}
KEY_IS_ID = {"fields": [{"name": "key", "type": "VARCHAR"}, {"name": "name", "type": "VARCHAR"}],
             "primary_key": ["key"], "key_is_id": True}


@pytest.mark.parametrize("spec, ids, row", [
    (SPEC, [f"t/{i}" for i in range(1, 1201)], lambda i: {"id": i, "name": f"n{i}"}),
    (KEY_IS_ID, [f"k{i}" for i in range(1, 1201)], lambda i: {"key": f"k{i}", "name": None}),
])
def test_one_id_loads_what_many_ids_load(
        conn: dbapi.Connection, other: dbapi.Connection, spec: dict[str, Any], ids: list[str],
        row: Callable[[int], dict[str, Any]],
        create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]) -> None:
    create_collection(conn, "t", spec)
    names = ", ".join(spec_field["name"] for spec_field in spec["fields"])
    marks = ", ".join(f":{spec_field['name']}" for spec_field in spec["fields"])
    conn.cursor().executemany(f"INSERT INTO t ({names}) VALUES ({marks})",
                              [row(i) for i in range(1, 1001)])
    conn.commit()
    backend = other.backend
    wanted = ids + ["t/0", "nothing"]  # 1,202 ids: three statements, two ids absent
    many = backend.get_documents("t", wanted, other.pending)
    seen_many = dict(other.pending.seen)
    other.rollback()
    one: dict[str, Any] = {}
    for doc_id in wanted:
        one.update(backend.get_documents("t", [doc_id], other.pending))
    assert one == many
    other.rollback()
    spec_read = backend.spec("t")
    single = {doc_id: backend.get_document(spec_read, doc_id, other.pending) for doc_id in wanted}
    assert {k: d for k, d in single.items() if d is not None} == many  # get_document: the same
    assert other.pending.seen == seen_many
    assert len(many) == 1000
    first = next(iter(many.values()))
    assert first[1] == row(1) and first[2]  # the body (with its key), a change vector
    assert other.pending.seen == seen_many
    # (a body may be kept as its JSON text: parsed, it is the document loaded)
    assert {k: (values.loads(b) if isinstance(b, str) else b, cv)
            for k, (b, cv) in seen_many.items()} == {k: (d[1], d[2]) for k, d in many.items()}


@pytest.mark.parametrize("spec, key, value", [(SPEC, "id", 7), (KEY_IS_ID, "key", "k7")])
def test_a_write_by_key_after_a_load_by_key_loads_nothing_again(
        conn: dbapi.Connection, spec: dict[str, Any], key: str, value: Any,
        create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]) -> None:
    create_collection(conn, "t", spec)
    conn.cursor().execute(f"INSERT INTO t ({key}, name) VALUES (:k, 'old')", {"k": value})
    conn.commit()
    cur = conn.cursor()
    point = f"SELECT t.{key}, t.name FROM t WHERE t.{key} = :k"
    for _ in range(2):  # a cold run, then a warm one
        assert cur.execute(point, {"k": value}).fetchall() == [(value, "old")]
        read_cv = conn.change_vectors[f"t/{value}" if key == "id" else value]
        loads = conn.request_counts.get("load", 0)
        cur.execute(f"UPDATE t SET name = :n WHERE t.{key} = :k", {"n": "new", "k": value})
        assert cur.rowcount == 1 and conn.request_counts.get("load", 0) == loads
        assert cur.execute(point, {"k": value}).fetchall() == [(value, "new")]
        conn.commit()
        assert conn.change_vectors[f"t/{value}" if key == "id" else value] != read_cv
        cur.execute(f"UPDATE t SET name = 'old' WHERE t.{key} = :k", {"k": value})
        conn.commit()
