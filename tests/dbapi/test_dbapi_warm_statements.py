"""A load by key run again (a warm statement) skips the statement's analysis while the
store's schemas stand: it finds what its first (cold) run finds, and what the same condition
finds as a query, until a schema change, a view or a new transaction makes it analysed again."""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.affinity import integer_affinity

D = decimal.Decimal

SPEC = {"fields": [{"name": "id", "type": "INTEGER"}, {"name": "name", "type": "VARCHAR"},
                   {"name": "amount", "type": "NUMERIC"}, {"name": "doc", "type": "JSON"}],
        "primary_key": ["id"]}
ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "one", "amount": D("1.10"), "doc": {"a": [1, 2.5, None]}},
    {"id": 2, "name": None, "amount": D("123456789012345678901234567890.5"), "doc": None},
    {"id": 2**53 + 1, "name": "wide", "amount": 0.1, "doc": "text"},
]
PROBES: list[Any] = [1, 2, 2**53 + 1, float(2**53 + 1), 1.0, "1", True, D("1"), D("2.0"),
                     None, 3, -1]
POINT = "SELECT t.id, t.name, t.amount, t.doc FROM t WHERE t.id = :x"
QUERY = "SELECT t.id, t.name, t.amount, t.doc FROM t WHERE (t.id = :x OR 1 = 0)"
STAR = "SELECT * FROM t WHERE t.id = :x"


@pytest.fixture(params=["docstore", "ravendb"])
def connect_to(request: pytest.FixtureRequest) -> Iterator[Callable[[], dbapi.Connection]]:
    """Connections on the test's embedded store, and again on a fresh RavenDB database of the
    bundled server (sharing one cluster, as an engine's connections do)."""
    if request.param == "docstore":
        yield request.getfixturevalue("connect")
        return
    from sqla_docstore.backends.ravendb.http import Cluster

    name = request.getfixturevalue("ravendb_url").rsplit("/", 1)[1]
    cluster = Cluster([request.getfixturevalue("raven_node").url], name)
    opened: list[dbapi.Connection] = []

    def make() -> dbapi.Connection:
        opened.append(dbapi.connect(name, cluster=cluster))
        return opened[-1]

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def conn(connect_to: Callable[[], dbapi.Connection]) -> dbapi.Connection:
    return connect_to()


@pytest.fixture
def other(connect_to: Callable[[], dbapi.Connection], conn: dbapi.Connection
          ) -> dbapi.Connection:
    return connect_to()


@pytest.fixture
def filled(conn: dbapi.Connection,
           create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]
           ) -> dbapi.Connection:
    create_collection(conn, "t", SPEC)
    conn.cursor().executemany(
        "INSERT INTO t (id, name, amount, doc) VALUES (:id, :name, :amount, :doc)", ROWS)
    # one document without the name field at all (another client's): read as NULL
    conn.cursor().execute("INSERT INTO t (id, amount) VALUES (:id, :amount)",
                          {"id": 3, "amount": 7})
    conn.commit()
    return conn


def _run(conn: dbapi.Connection, sql: str, probe: Any) -> tuple[Any, list[Any]]:
    cur = conn.cursor()
    cur.execute(sql, {"x": probe})
    names = [d[0] for d in cur.description or ()]
    return names, [tuple(row) for row in cur.fetchall()]


def _same(left: list[Any], right: list[Any]) -> bool:
    """Equal rows, and equal types of their values (1 is not 1.0, nor True)."""
    return left == right and [list(map(type, r)) for r in left] == [
        list(map(type, r)) for r in right]


def test_a_warm_load_finds_what_its_cold_run_and_the_query_find(
        filled: dbapi.Connection) -> None:
    for probe in PROBES:
        filled.warm.clear()
        cold = _run(filled, POINT, probe)
        warm = _run(filled, POINT, probe)
        query = _run(filled, QUERY, integer_affinity(probe))  # SQLite compares "1" as 1
        assert cold[0] == warm[0] == query[0], probe
        assert _same(cold[1], query[1]) and _same(warm[1], query[1]), probe
    assert POINT in filled.warm  # it is kept (both backends have a schema token)
    assert _run(filled, POINT, 2)[1] == [
        (2, None, D("123456789012345678901234567890.5"), None)]
    assert _run(filled, POINT, 3)[1] == [(3, None, 7, None)]


def test_a_warm_load_sees_the_transactions_writes(filled: dbapi.Connection) -> None:
    assert _run(filled, POINT, 1)[1] == _run(filled, POINT, 1)[1] != []
    cur = filled.cursor()
    cur.execute("DELETE FROM t WHERE t.id = :x", {"x": 1})
    cur.execute("INSERT INTO t (id, name) VALUES (:id, :name)", {"id": 9, "name": "new"})
    cur.execute("UPDATE t SET name = :n WHERE t.id = :x", {"n": "changed", "x": 2})
    for probe in (1, 9, 2):
        assert _run(filled, POINT, probe) == _run(filled, QUERY, probe), probe
    assert _run(filled, POINT, 1)[1] == []
    assert _run(filled, POINT, 9)[1] == [(9, "new", None, None)]
    filled.rollback()
    assert _run(filled, POINT, 9)[1] == [] and _run(filled, POINT, 1)[1] != []


def test_a_schema_change_makes_a_warm_statement_analysed_again(
        filled: dbapi.Connection, other: dbapi.Connection) -> None:
    assert _run(filled, STAR, 1) == _run(filled, STAR, 1)
    assert _run(filled, STAR, 1)[0] == ["id", "name", "amount", "doc"]
    # another connection of the store adds a column: the same text now reads it
    other.cursor().execute("ALTER COLLECTION t " + json.dumps(
        {"action": "add_column", "name": "extra", "type": "INTEGER", "default": 5}))
    names, rows = _run(filled, STAR, 1)
    assert names == ["id", "name", "amount", "doc", "extra"]
    assert rows[0][-1] == 5 and _same(rows, _run(filled, STAR.replace(
        "t.id = :x", "(t.id = :x OR 1 = 0)"), 1)[1])


def test_a_table_replaced_by_a_view_is_read_as_the_view(
        filled: dbapi.Connection,
        create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]) -> None:
    point = "SELECT v.id, v.name FROM v WHERE v.id = :x"
    create_collection(filled, "v", SPEC)
    filled.cursor().execute("INSERT INTO v (id, name) VALUES (1, 'table row')")
    filled.commit()
    assert _run(filled, point, 1)[1] == _run(filled, point, 1)[1] == [(1, "table row")]
    filled.cursor().execute("DROP COLLECTION v")
    filled.cursor().execute("CREATE VIEW v AS SELECT t.id, t.name FROM t")
    assert _run(filled, point, 1)[1] == [(1, "one")]
    assert _run(filled, point, 1)[1] == [(1, "one")]
    # a statement over a view is analysed each time: the entry kept for the table is stale
    assert filled.warm[point][0] != filled.backend.schema_token()


def test_a_new_transaction_checks_the_schemas_again(filled: dbapi.Connection) -> None:
    _run(filled, POINT, 1)  # (the transaction's first statement: checks the schemas)
    assert POINT not in filled.warm
    _run(filled, POINT, 1)
    token = filled.warm[POINT][0]
    filled.commit()
    assert filled.backend.schema_token() is None  # not checked yet in this transaction
    # the first run checks the schemas (it is not kept: the token it started with was None),
    # the next one is kept under the new transaction's token
    assert _run(filled, POINT, 1)[1] != []
    assert filled.warm[POINT][0] == token
    assert _run(filled, POINT, 1)[1] != []
    assert filled.warm[POINT][0] not in (token, None)


def test_warm_parameters_are_checked_as_cold_ones(filled: dbapi.Connection) -> None:
    _run(filled, POINT, 1)
    cur = filled.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="no value given for parameter 'x'"):
        cur.execute(POINT, {"y": 1})
    with pytest.raises(dbapi.ProgrammingError, match="mapping"):
        cur.execute(POINT, (1,))  # type: ignore[arg-type]
    cur.close()
    with pytest.raises(dbapi.InterfaceError):
        cur.execute(POINT, {"x": 1})


def test_a_warm_run_skips_the_analysis_until_the_token_moves(
        filled: dbapi.Connection, other: dbapi.Connection,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore.dbapi import connection as dbapi_connection

    cold = [_run(filled, POINT, probe) for probe in (1, 2, 3)]
    assert POINT in filled.warm and filled.warm[POINT][0] == filled.backend.schema_token()
    analysed: list[str] = []
    real = dbapi_connection.prepare

    def counted(operation: str) -> Any:
        if operation == POINT:
            analysed.append(operation)
        return real(operation)

    monkeypatch.setattr(dbapi_connection, "prepare", counted)
    assert [_run(filled, POINT, probe) for probe in (1, 2, 3)] == cold
    assert analysed == []  # the warm path: no parse, view or plan lookups
    # another connection's schema change (DDL) moves the token: analysed again, then warm
    other.cursor().execute("CREATE COLLECTION u " + json.dumps(SPEC))
    assert _run(filled, POINT, 1) == cold[0]
    assert analysed == [POINT]
    assert _run(filled, POINT, 2) == cold[1] and analysed == [POINT]
    # a new transaction: the schemas are checked again, then the statement is kept again
    filled.commit()
    assert filled.backend.schema_token() is None
    assert _run(filled, POINT, 3) == cold[2] and _run(filled, POINT, 3) == cold[2]
    assert _run(filled, POINT, 1) == cold[0]
    assert analysed == [POINT, POINT, POINT]


def test_the_schema_token_moves_with_ddl_transactions_and_schema_reads(
        filled: dbapi.Connection, other: dbapi.Connection,
        create_collection: Callable[[dbapi.Connection, str, dict[str, Any]], None]) -> None:
    backend = filled.backend
    _run(filled, POINT, 1)
    token = backend.schema_token()
    assert token is not None and backend.schema_token() == token  # stable while unchanged
    create_collection(filled, "w", SPEC)  # this connection's DDL
    moved = backend.schema_token()
    assert moved not in (None, token)
    other.cursor().execute("DROP COLLECTION w")  # another connection's DDL
    assert backend.schema_token() not in (None, token, moved)


def test_a_warm_run_leaves_the_cursor_as_its_cold_run_does(filled: dbapi.Connection) -> None:
    """Description, rowcount, lastrowid and rows, on a cursor that held another result (a
    write's, a stream's) and with writes pending, as the cold run leaves them."""
    fresh = iter(range(101, 200))
    filled.cursor().execute("CREATE TABLE u (id INTEGER PRIMARY KEY, name VARCHAR)")

    def once(probe: Any, streamed: bool) -> tuple[Any, ...]:
        cur = filled.cursor(stream=streamed)
        if streamed:
            cur.execute("SELECT t.id FROM t ORDER BY t.id")
            cur.fetchone()
        else:
            # (a write to another table, whose lastrowid the query's result resets)
            cur.execute("INSERT INTO u (id, name) VALUES (:id, 'new')", {"id": next(fresh)})
        cur.execute(POINT, {"x": probe})
        return (cur.description, cur.rowcount, cur.lastrowid, cur.fetchall(), cur.fetchone())

    for streamed in (False, True):
        for probe in (1, 2, 3, 100, None, -1, D("1")):
            filled.warm.clear()
            cold = once(probe, streamed)
            kept = POINT in filled.warm
            warm = once(probe, streamed)
            assert kept or probe is None or isinstance(probe, D), probe
            assert cold == warm, (probe, streamed)
            assert [d[0] for d in cold[0]] == ["id", "name", "amount", "doc"]
            assert _same(cold[3], warm[3])
            filled.rollback()
    assert once(1, False)[2] is None and filled.cursor().execute(
        "INSERT INTO u (id) VALUES (1)").lastrowid == 1
    filled.cursor().execute("INSERT INTO t (id, name) VALUES (100, 'pending')")
    assert once(100, False)[3] == once(100, True)[3] == [(100, "pending", None, None)]


POINT_Q = "SELECT t.id, t.name, t.amount, t.doc FROM t WHERE t.id = ?"
QUERY_Q = "SELECT t.id, t.name, t.amount, t.doc FROM t WHERE (t.id = ? OR 1 = 0)"


def _run_q(conn: dbapi.Connection, sql: str, values: tuple[Any, ...]) -> list[Any]:
    return [tuple(row) for row in conn.cursor().execute(sql, values).fetchall()]


def test_a_warm_load_by_one_positional_key_finds_what_the_query_finds(
        filled: dbapi.Connection) -> None:
    """``t.id = ?`` run warm reads its one value as given (no mapping of names): the same
    rows, of the same types, as its cold run and as the query, for every kind of value."""
    for probe in PROBES:
        filled.warm.clear()
        cold = _run_q(filled, POINT_Q, (probe,))
        warm = _run_q(filled, POINT_Q, (probe,))
        query = _run_q(filled, QUERY_Q, (integer_affinity(probe),))
        assert _same(cold, query) and _same(warm, query), probe
    assert filled.warm[POINT_Q].key == "?1"  # (the one-key path)


def test_a_warm_load_by_key_with_other_parameters_reads_them_all(
        filled: dbapi.Connection) -> None:
    """A load by key whose statement has parameters besides the key (an ORDER BY's) runs
    warm with its values mapped to their names; a named one ignores keys it does not use."""
    ordered = POINT_Q + " ORDER BY ?"
    for probe in (1, 2, 3, 9, "1"):
        expected = _run_q(filled, QUERY_Q, (integer_affinity(probe),))
        for _ in range(2):
            assert _same(_run_q(filled, ordered, (probe, 1)), expected), probe
            cur = filled.cursor().execute(POINT, {"x": probe, "unused": object()})
            assert _same([tuple(r) for r in cur.fetchall()], expected), probe
    assert filled.warm[ordered].key is None and filled.warm[POINT].key == "x"
    cur = filled.cursor()
    for wrong in ((), (1, 2)):
        with pytest.raises(dbapi.ProgrammingError, match="incorrect number of parameters"):
            cur.execute(POINT_Q, wrong)
    assert cur.execute(POINT_Q, [1]).fetchall() == _run_q(filled, POINT_Q, (1,)) == _run_q(
        filled, QUERY_Q, (1,)) != []  # (a list of values as a tuple)



def test_a_warm_load_notes_its_read_as_a_cold_one_does(
        filled: dbapi.Connection, other: dbapi.Connection) -> None:
    """The documents a warm load read are the transaction's reads, with the change vectors
    the cold run notes: the ones another connection's commit then moved."""
    noted: list[Any] = []
    for warm in (False, True):
        filled.rollback()
        filled.warm.clear()
        for _ in range(2 if warm else 1):
            assert _run(filled, POINT, 2)[1] != []
        assert (POINT in filled.warm) is warm
        noted.append(filled.change_vectors["t/2"])
    assert noted[0] == noted[1] is not None
    other.cursor().execute("UPDATE t SET name = 'moved' WHERE t.id = 2")
    other.commit()
    assert _run(filled, POINT, 2)[1][0][1] == "moved" and POINT in filled.warm
    assert filled.change_vectors["t/2"] not in (None, noted[0])
