"""The small core additions the server relies on: RQL parsing and whole-document queries."""

from __future__ import annotations

from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Put
from sqla_docstore.schema import CollectionSpec
from sqla_docstore.statements import ast
from sqla_docstore.statements.parser import parse, parse_rql


def test_parse_rql_keeps_exact_and_reads_quoted_names() -> None:
    stmt = parse_rql("from 'Users' as u where exact(u.name = $n) select u.name as 'Name'")
    assert isinstance(stmt, ast.Select)
    assert stmt.from_ == (ast.TableRef("Users", "u"),)
    assert isinstance(stmt.where, ast.Func) and stmt.where.name == "exact"
    assert stmt.columns[0].alias == "Name"
    plain = parse("from 'Users' where exact(name = $n)")
    assert isinstance(plain, ast.Select) and isinstance(plain.where, ast.Binary)


def test_documents_query_and_nocase() -> None:
    store = EmbeddedStore(None)
    conn = EmbeddedConnection(store)
    try:
        store.create_collection(conn._conn, CollectionSpec("Users"))
        conn.submit(Batch([Put("Users", "users/1", {"name": "Alice"}),
                           Put("Users", "users/2", {"name": "bob"})]))
        stmt = parse("from Users where name = $n")
        assert isinstance(stmt, ast.Select)
        assert conn.documents(stmt, {"n": "alice"}) == []
        where = ast.Binary("=", ast.Func("nocase", (ast.Column(None, "name"),)), ast.Param("n"))
        nocase = ast.Select(stmt.columns, stmt.from_, where)
        rows = conn.documents(nocase, {"n": "ALICE"})
        assert [(r[0], r[1]) for r in rows] == [("users/1", '{"name":"Alice"}')]
        assert rows[0][2].startswith("A:") and rows[0][3].endswith("Z") and rows[0][4] is None
    finally:
        conn.close()
        store.close()
