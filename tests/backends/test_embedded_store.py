"""The embedded store: collections, atomic batches, change vectors, auto-indexes, WAL files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.sqlgen import SqlGenerator, field_sql, json_path, quote
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Delete, Patch, Put
from sqla_docstore.errors import (
    ConcurrencyError,
    DuplicateKeyError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
)
from sqla_docstore.pending import PendingBatch
from sqla_docstore.schema import CollectionSpec, FieldSpec
from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse

PEOPLE = CollectionSpec(
    "people", (FieldSpec("id", "INTEGER", False), FieldSpec("name"), FieldSpec("age")), ("id",),
    "id",
)
PETS = CollectionSpec("pets", (FieldSpec("id", "INTEGER", False), FieldSpec("kind")), ("id",))


@pytest.fixture
def file_store(db_path: Path) -> Iterator[EmbeddedStore]:
    st = EmbeddedStore(str(db_path))
    with st.connection() as c:
        st.create_collection(c, PEOPLE)
        st.create_collection(c, PETS)
    yield st
    st.close()


@pytest.fixture
def backend(file_store: EmbeddedStore) -> Iterator[EmbeddedConnection]:
    conn = EmbeddedConnection(file_store)
    yield conn
    conn.close()


def _raw(db_path: Path, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as raw:
        return raw.execute(sql, args).fetchall()


def _docs(db_path: Path, collection: str) -> dict[str, tuple[dict[str, Any], str, str]]:
    """The stored documents, each change vector as the store gives it (the table holds the
    store's own as their etags)."""
    found = _raw(db_path, f'SELECT id, body, cv, modified FROM "@docs/{collection}"')
    ((db_id,),) = _raw(db_path, """SELECT value FROM "@meta" WHERE key = 'database_id'""")
    return {i: (json.loads(b), f"A:{cv}-{db_id}" if type(cv) is int else cv, mod)
            for i, b, cv, mod in found}


# ------------------------------------------------------------------- collections


def test_file_store_is_a_wal_sqlite_database(file_store: EmbeddedStore, db_path: Path) -> None:
    assert _raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {r[0] for r in _raw(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"@collections", "@hilo", "@meta", "@docs/people", "@docs/pets"} <= tables


def test_catalog_persists_across_store_objects(file_store: EmbeddedStore, db_path: Path) -> None:
    again = EmbeddedStore(str(db_path))
    try:
        assert again.spec("people") == PEOPLE
        assert again.database_id == file_store.database_id
    finally:
        again.close()


def test_collection_created_by_another_handle_is_found(
    file_store: EmbeddedStore, db_path: Path
) -> None:
    other = EmbeddedStore(str(db_path))
    try:
        with other.connection() as c:
            other.create_collection(c, CollectionSpec("late", (), ("k",)))
        with file_store.connection() as c:
            assert file_store.has_collection("late", c)
            assert "late" in file_store.collection_names(c)
    finally:
        other.close()


def test_create_existing_and_drop_missing_collection(file_store: EmbeddedStore) -> None:
    with file_store.connection() as c:
        with pytest.raises(OperationalError, match="already exists"):
            file_store.create_collection(c, PEOPLE)
        with pytest.raises(OperationalError, match="no such collection"):
            file_store.drop_collection(c, "ghosts")
        file_store.drop_collection(c, "pets")
        assert not file_store.has_collection("pets", c)


def test_spec_json_round_trip() -> None:
    spec = CollectionSpec(
        "c", (FieldSpec("a", "INTEGER", False, 3), FieldSpec("b")), ("a",), "a", (("b",),),
        {"ix": (("b",), True)}, "pfx", (("chk", "a > 0"),),
    )
    assert CollectionSpec.from_json("c", json.loads(json.dumps(spec.to_json()))) == spec
    assert spec.prefix == "pfx"
    assert spec.document_id((5,)) == "pfx/5"
    assert CollectionSpec("Users").document_id((1.0, True, "x")) == "users/1/1/x"


# ------------------------------------------------------------------- batches


def test_batch_applies_across_collections(backend: EmbeddedConnection, db_path: Path) -> None:
    results = backend.submit(Batch([
        Put("people", "people/1", {"id": 1, "name": "a"}, ""),
        Put("pets", "pets/1", {"id": 1, "kind": "cat"}, ""),
    ]))
    assert [r["Type"] for r in results] == ["PUT", "PUT"]
    assert backend.counts["batch"] == 1
    people = _docs(db_path, "people")
    assert people["people/1"][0] == {"id": 1, "name": "a"}
    assert results[0]["@change-vector"] == people["people/1"][1]
    assert set(_docs(db_path, "pets")) == {"pets/1"}


def test_change_vector_and_modified_change_on_every_write(
    backend: EmbeddedConnection, db_path: Path
) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "a"}, "")]))
    _, cv1, mod1 = _docs(db_path, "people")["people/1"]
    backend.submit(Batch([Patch("people", "people/1", {"name": "b"}, cv1)]))
    body, cv2, mod2 = _docs(db_path, "people")["people/1"]
    assert body == {"id": 1, "name": "b"}
    assert cv2 != cv1
    assert mod2 >= mod1 and mod2.endswith("Z")
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "c"})]))
    assert _docs(db_path, "people")["people/1"][1] not in (cv1, cv2)


def test_failed_expectation_applies_nothing(backend: EmbeddedConnection, db_path: Path) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "a"}, "")]))
    before = _docs(db_path, "people")
    with pytest.raises(ConcurrencyError) as info:
        backend.submit(Batch([
            Put("pets", "pets/9", {"id": 9}, ""),
            Patch("people", "people/1", {"name": "z"}),
            Patch("people", "people/2", {"name": "missing"}),  # must exist
        ]))
    assert info.value.stale == ("people/2",)
    assert _docs(db_path, "people") == before
    assert _docs(db_path, "pets") == {}


def test_stale_change_vector_is_a_conflict(backend: EmbeddedConnection) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1}, "")]))
    with pytest.raises(ConcurrencyError, match="changed by another transaction"):
        backend.submit(Batch([Delete("people", "people/1", "A:999-nope")]))


def test_put_expecting_absence_fails_on_existing(backend: EmbeddedConnection) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1}, "")]))
    with pytest.raises(DuplicateKeyError):
        backend.submit(Batch([Put("people", "people/1", {"id": 1}, "")]))
    # Ids compare exactly, as SQL primary keys do: another case is another document.
    backend.submit(Batch([Put("people", "PEOPLE/1", {"id": 1}, "")]))


def test_a_unique_field_failing_after_other_puts_is_not_called_a_duplicate_key(
        file_store: EmbeddedStore) -> None:
    # The puts of the batch before the failing one are still in SQLite's transaction when
    # the error is read: they are not documents that "already exist".
    tags = CollectionSpec("tags", (FieldSpec("id", "INTEGER", False), FieldSpec("code")),
                          ("id",), unique=(("code",),))
    with file_store.connection() as c:
        file_store.create_collection(c, tags)
    conn = EmbeddedConnection(file_store)
    try:
        conn.submit(Batch([Put("tags", "tags/1", {"id": 1, "code": "a"}, "")]))
        with pytest.raises(IntegrityError) as info:
            conn.submit(Batch([Put("tags", f"tags/{n}", {"id": n, "code": f"c{n}"}, "")
                               for n in range(2, 6)] + [Put("tags", "tags/9",
                                                           {"id": 9, "code": "a"}, "")]))
        assert not isinstance(info.value, DuplicateKeyError), info.value
        assert "unique constraint failed in collection tags" in str(info.value)
        assert [d for d in ("tags/2", "tags/9") if conn.get_documents("tags", [d], None)] == []
    finally:
        conn.close()


def test_delete_may_tolerate_absence(backend: EmbeddedConnection) -> None:
    results = backend.submit(Batch([Delete("people", "people/404", None, must_exist=False)]))
    assert results == [{"Id": "people/404", "Type": "DELETE", "Deleted": False}]
    with pytest.raises(ConcurrencyError, match="deleted"):
        backend.submit(Batch([Delete("people", "people/404")]))


def test_empty_batch_touches_nothing(backend: EmbeddedConnection) -> None:
    assert backend.submit(Batch()) == []


def test_get_documents_overlays_pending_exactly(backend: EmbeddedConnection) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "a"}, ""),
                          Put("people", "people/2", {"id": 2, "name": "b"}, "")]))
    pending = PendingBatch()
    pending.add(Delete("people", "people/2"), None)
    pending.add(Put("people", "people/3", {"id": 3}, ""), {"id": 3})
    found = backend.get_documents("people", ["people/1", "PEOPLE/1", "people/2", "people/3",
                                             "people/4"], pending)
    assert set(found) == {"people/1", "people/3"}
    assert found["people/1"][0] == "people/1"  # the id as stored
    assert found["people/1"][2] is not None and found["people/3"][2] is None


# ------------------------------------------------------------------- queries


def _plan_sql(backend: EmbeddedConnection, text: str) -> Any:
    return SqlGenerator(backend).plan_query(parse(text))


def test_queries_create_auto_indexes_that_sqlite_uses(
    backend: EmbeddedConnection, db_path: Path
) -> None:
    backend.submit(Batch([Put("people", f"people/{i}", {"id": i, "name": f"n{i}", "age": i}, "")
                          for i in range(1, 200)]))
    stmt = parse("SELECT people.id FROM people WHERE people.name = :n")
    assert backend.query(stmt, {"n": "n7"}, None)[1] == [(7,)]
    indexes = {r[0] for r in _raw(db_path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert "ix:auto:people:name" in indexes
    plan = _plan_sql(backend, "SELECT people.id FROM people WHERE people.name = :n")
    args = {slot: "n7" for slot in plan.binds}
    with backend.store.connection() as c:  # the store's functions (exact numbers) are needed
        found = c.execute("EXPLAIN QUERY PLAN " + plan.sql, args).fetchall()
    detail = " ".join(r[-1] for r in found)
    assert "ix:auto:people:name" in detail, detail
    assert "SCAN" not in detail.replace("SCAN CONSTANT", ""), detail


def test_order_by_field_is_indexed_too(backend: EmbeddedConnection, db_path: Path) -> None:
    backend.query(parse("SELECT people.id FROM people ORDER BY people.age"), {}, None)
    indexes = {r[0] for r in _raw(db_path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert "ix:auto:people:age" in indexes


def test_query_counts_and_labels(backend: EmbeddedConnection) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "a", "age": 3}, "")]))
    labels, found = backend.query(
        parse("SELECT people.name AS who, people.age + 1 AS next FROM people"), {}, None
    )
    assert labels == ["who", "next"] and found == [("a", 4)]
    assert backend.counts["query"] == 1


def test_query_overlays_pending_writes(backend: EmbeddedConnection) -> None:
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "a"}, ""),
                          Put("people", "people/2", {"id": 2, "name": "b"}, "")]))
    pending = PendingBatch()
    pending.add(Patch("people", "people/1", {"name": "A"}), {"id": 1, "name": "A"})
    pending.add(Delete("people", "people/2"), None)
    pending.add(Put("people", "people/3", {"id": 3, "name": "c"}, ""), {"id": 3, "name": "c"})
    stmt = parse("SELECT people.name FROM people ORDER BY people.id")
    assert backend.query(stmt, {}, pending)[1] == [("A",), ("c",)]
    assert backend.query(stmt, {}, None)[1] == [("a",), ("b",)]
    backend.reset_overlay()
    assert backend.query(stmt, {}, PendingBatch())[1] == [("a",), ("b",)]


def test_field_sql_quotes_names_and_refuses_quotes() -> None:
    assert quote('a"b') == '"a""b"'
    assert field_sql("t", "it's") == """json_extract("t".body, '$."it''s"')"""
    assert json_path("x") == """'$."x"'"""
    with pytest.raises(NotSupportedError):
        json_path('bad"name')


def test_unknown_collection_in_query(backend: EmbeddedConnection) -> None:
    with pytest.raises(OperationalError, match="no such collection: nowhere"):
        backend.query(parse("SELECT nowhere.a FROM nowhere"), {}, None)


def test_evaluate_constant_expressions(backend: EmbeddedConnection) -> None:
    exprs = (ast.Binary("+", ast.Param("a"), ast.Literal(2)), ast.Func("upper", (ast.Param("s"),)))
    assert backend.evaluate(exprs, {"a": 1, "s": "x"}) == (3, "X")


# ------------------------------------------------------------------ memory store


def test_memory_store_connections_share_documents() -> None:
    store = EmbeddedStore(None)
    a, b = dbapi.connect(store=store), dbapi.connect(store=store)
    try:
        a.cursor().execute('CREATE COLLECTION kv {"fields": [{"name": "k"}, {"name": "v"}], '
                           '"primary_key": ["k"]}')
        a.cursor().execute("INSERT INTO kv (k, v) VALUES (:k, :v)", {"k": "x", "v": 1})
        cur = b.cursor()
        cur.execute("SELECT count(*) FROM kv")
        assert cur.fetchone() == (0,)
        a.commit()
        cur.execute("SELECT kv.v FROM kv")
        assert cur.fetchall() == [(1,)]
    finally:
        a.close()
        b.close()
        store.close()


def test_every_command_of_a_batch_takes_the_next_etag(backend: EmbeddedConnection,
                                                      db_path: Path) -> None:
    """A commit reserves its etags in one statement (one per command); the change vectors
    written are those etags, and the next commit goes on above them."""
    def etag_of(cv: str) -> int:
        return int(cv.split(":")[1].split("-")[0])

    start = int(_raw(db_path, """SELECT value FROM "@meta" WHERE key = 'etag'""")[0][0])
    backend.submit(Batch([Put("people", "people/1", {"id": 1, "name": "a"}, ""),
                          Put("people", "people/2", {"id": 2, "name": "b"}, "")]))
    cv1 = _docs(db_path, "people")["people/1"][1]
    results = backend.submit(Batch([
        Put("pets", "pets/1", {"id": 1, "kind": "cat"}, ""),
        Patch("people", "people/1", {"name": "z"}, cv1),
        Delete("people", "people/2"),
        Put("pets", "pets/2", {"id": 2, "kind": "dog"}, ""),
        Put("pets", "pets/3", {"id": 3, "kind": "eel"}, ""),
    ]))
    docs = {**_docs(db_path, "people"), **_docs(db_path, "pets")}
    assert etag_of(docs["people/1"][1]) == start + 4 and "people/2" not in docs
    assert [etag_of(docs[f"pets/{n}"][1]) for n in (1, 2, 3)] == [start + 3, start + 6,
                                                                   start + 7]
    assert etag_of(results[1]["ChangeVector"]) == start + 4
    assert int(_raw(db_path, """SELECT value FROM "@meta" WHERE key = 'etag'""")[0][0]) == (
        start + 7)
    with pytest.raises(ConcurrencyError):  # a failed batch takes no etag
        backend.submit(Batch([Put("pets", "pets/4", {"id": 4}, ""),
                              Patch("people", "people/404", {"name": "x"})]))
    assert int(_raw(db_path, """SELECT value FROM "@meta" WHERE key = 'etag'""")[0][0]) == (
        start + 7)
    backend.submit(Batch([Put("pets", "pets/5", {"id": 5}, "")]))
    assert etag_of(_docs(db_path, "pets")["pets/5"][1]) == start + 8


def test_modified_is_utc_now_as_ravendb_writes_it() -> None:
    import datetime as dt
    import re

    from sqla_docstore.backends.embedded.store import utc_now_text
    from sqla_docstore.values import parse_datetime

    before = dt.datetime.now(dt.timezone.utc)
    texts = [utc_now_text() for _ in range(3)]
    after = dt.datetime.now(dt.timezone.utc)
    for text in texts:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}0Z", text), text
        assert before - dt.timedelta(microseconds=1) <= parse_datetime(text) <= after
