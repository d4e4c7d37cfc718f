"""Documents whose id is the collection's prefix and an integer (``orders/5``: row 5) and
documents of any other id (``orders/05``, ``Orders/5``, ``orders/5-A``, ``orders/x``,
``other/5``, ...: rows from 2**62 up, found by the partial index on ``id``) live side by side
in one collection table and behave alike: loads, updates, deletes, upserts, inserts again
after a delete, taken ids refused, ``id IN`` lists of both, pending writes of both read in
their transaction, savepoints rolled back. Each script runs on docstore:// (memory and file
stores) and on SQLite, which must give the same rows and errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
)

from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Delete, Patch, PatchRun, Put
from sqla_docstore.errors import ConcurrencyError, DuplicateKeyError
from sqla_docstore.schema import CollectionSpec, FieldSpec

metadata = MetaData()
Table("orders", metadata, Column("id", String(40), primary_key=True), Column("n", Integer),
      Column("u", String(20), unique=True), docstore_key_is_id=True)

#: ids of both kinds in one collection ``orders`` (prefix ``orders/``)
IDS = ["orders/5", "orders/05", "Orders/5", "orders/5-A", "orders/0", "orders/-5",
       "orders/4611686018427387904", "orders/4611686018427387903", "orders/x", "other/5",
       "orders/7", "orders/\u0661"]
ABSENT = ["orders/6", "orders/y", "ORDERS/5", "orders/007", "orders/"]
_ALL = "SELECT id, n, u FROM orders ORDER BY id"
_PEP249 = ("IntegrityError", "OperationalError", "ProgrammingError", "DataError")


@pytest.fixture(params=["memory", "file"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 's.db'}"
    eng = create_engine(url)
    metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def oracle() -> Iterator[Engine]:
    eng = create_engine("sqlite://")
    metadata.create_all(eng)
    yield eng
    eng.dispose()


def _kind(exc: Exception) -> str:
    return next((k.__name__ for k in type(exc).__mro__ if k.__name__ in _PEP249),
                type(exc).__name__)


def _step(conn: Connection, sql: str, params: Any = None) -> Any:
    """A statement's rows (a SELECT) or rowcount, or the PEP 249 class of its error (in a
    savepoint of its own, so the transaction goes on as SQLite's does)."""
    try:
        with conn.begin_nested():
            result = conn.execute(text(sql), params or {})
            if result.returns_rows:
                return sorted(tuple(r) for r in result)
            return result.rowcount
    except Exception as exc:  # noqa: BLE001 - compared with SQLite's
        return _kind(exc)


def _script(mixed: list[str]) -> list[tuple[str, Any]]:
    """The statements of the differential script over ``mixed`` ids."""
    rows = [{"id": i, "n": n, "u": f"u{n}"} for n, i in enumerate(mixed)]
    half = mixed[::2]
    steps: list[tuple[str, Any]] = [
        ("INSERT INTO orders (id, n, u) VALUES (:id, :n, :u)", rows),
        (_ALL, None),
    ]
    steps += [("SELECT id, n FROM orders WHERE id = :id", {"id": i}) for i in mixed + ABSENT]
    steps += [
        (f"SELECT id FROM orders WHERE id IN ({', '.join(repr(i) for i in mixed + ABSENT)})",
         None),
        ("UPDATE orders SET n = n + 100 WHERE id = :id", {"id": mixed[0]}),
        ("UPDATE orders SET n = n + 100 WHERE id = :id", {"id": mixed[1]}),
        ("UPDATE orders SET u = :u WHERE id = :id",
         [{"id": i, "u": f"v{n}"} for n, i in enumerate(mixed)]),
        (_ALL, None),
        ("UPDATE orders SET n = n * 2 WHERE id IN ('orders/5', 'orders/x', 'orders/6')", None),
        ("DELETE FROM orders WHERE id = :id", [{"id": i} for i in half]),
        (_ALL, None),
        ("INSERT INTO orders (id, n, u) VALUES (:id, :n, :u)",
         [{"id": i, "n": 1000 + n, "u": f"w{n}"} for n, i in enumerate(half)]),
        (_ALL, None),
        ("INSERT INTO orders (id, n, u) VALUES ('orders/5', 1, 'fresh1')", None),
        ("INSERT INTO orders (id, n, u) VALUES ('orders/x', 1, 'fresh2')", None),
        ("INSERT INTO orders (id, n, u) VALUES ('Orders/5', 1, 'fresh3')", None),
        ("INSERT INTO orders (id, n, u) VALUES ('orders/8', 1, 'v1')", None),
        ("INSERT INTO orders (id, n, u) VALUES ('orders/z', 1, 'v1')", None),
        ("UPDATE orders SET u = 'v3' WHERE id = 'orders/5-A'", None),
        ("INSERT INTO orders (id, n, u) VALUES (:id, :n, :u) "
         "ON CONFLICT (id) DO UPDATE SET n = excluded.n",
         [{"id": i, "n": 5000 + n, "u": f"x{n}"}
          for n, i in enumerate(["orders/5", "orders/x", "orders/9", "orders/9-B", "other/5"])]),
        (_ALL, None),
        ("DELETE FROM orders WHERE id IN ('orders/5', 'orders/x', 'orders/9', 'orders/05')",
         None),
        (_ALL, None),
    ]
    return steps


def _run(eng: Engine, steps: list[tuple[str, Any]], commit_each: bool) -> list[Any]:
    out = []
    with eng.connect() as conn:
        conn.begin()
        for sql, params in steps:
            out.append(_step(conn, sql, params))
            if commit_each:
                conn.commit()
                conn.begin()
        conn.commit()
        out.append(_step(conn, _ALL))
    return out


@pytest.mark.parametrize("commit_each", [True, False], ids=["committed", "pending"])
def test_ids_of_both_kinds_behave_as_sqlite_rows(target: Engine, oracle: Engine,
                                                 commit_each: bool) -> None:
    """Each statement committed alone (the store's rows), or all in one transaction (each
    read sees the pending writes of both kinds overlaid on the store)."""
    steps = _script(IDS)
    assert _run(target, steps, commit_each) == _run(oracle, steps, commit_each)


def test_a_savepoint_rolled_back_takes_back_writes_of_both_kinds(target: Engine,
                                                                  oracle: Engine) -> None:
    def run(eng: Engine) -> list[Any]:
        out = []
        with eng.connect() as conn:
            conn.begin()
            conn.execute(text("INSERT INTO orders (id, n) VALUES (:id, :n)"),
                         [{"id": i, "n": n} for n, i in enumerate(IDS)])
            conn.commit()
            conn.begin()
            conn.execute(text("UPDATE orders SET n = -1 WHERE id IN ('orders/5', 'orders/x')"))
            nested = conn.begin_nested()
            conn.execute(text("DELETE FROM orders WHERE id IN ('orders/7', 'orders/5-A')"))
            conn.execute(text("INSERT INTO orders (id, n) VALUES ('orders/11', 11), "
                              "('orders/11-A', 12)"))
            conn.execute(text("UPDATE orders SET n = -2 WHERE id IN ('orders/5', 'other/5')"))
            out.append(_step(conn, _ALL))
            nested.rollback()
            out.append(_step(conn, _ALL))
            conn.commit()
            out.append(_step(conn, _ALL))
        return out

    assert run(target) == run(oracle)


def test_rows_are_keyed_by_the_ids_integer_and_other_ids_from_2_to_the_62(
        tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    eng = create_engine(f"docstore:///{path}")
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO orders (id, n) VALUES (:id, 1)"), [{"id": i} for i in IDS])
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO orders (id, n) VALUES ('orders/3', 1), ('zz', 2)"))
    eng.dispose()
    with sqlite3.connect(path) as raw:
        rows = raw.execute('SELECT k, id FROM "@docs/orders"').fetchall()  # (scan order)
    others = [i for i in IDS if i not in ("orders/5", "orders/4611686018427387903",
                                          "orders/7")] + ["zz"]
    assert rows == [(3, "orders/3"), (5, "orders/5"), (7, "orders/7"),
                    (2**62 - 1, "orders/4611686018427387903")] + [
        (2**62 + n, i) for n, i in enumerate(others)]


def test_a_load_by_id_uses_the_row_key_or_the_index_of_other_ids(tmp_path: Path) -> None:
    from sqla_docstore.backends.embedded import connection as embedded

    store = EmbeddedStore(str(tmp_path / "s.db"))
    with store.connection() as conn:
        store.create_collection(conn, CollectionSpec("orders"))
        plans = {other: " ".join(str(r[-1]) for r in conn.execute(
            "EXPLAIN QUERY PLAN " + embedded._load_one_sql("orders", other), ("x",)))
            for other in (False, True)}
    assert "INTEGER PRIMARY KEY" in plans[False]
    assert '"@ids:orders"' in plans[True] or "@ids:orders" in plans[True]
    store.close()


# -- the commit's paths, command by command (EmbeddedConnection.submit) --------------------

PEOPLE = CollectionSpec("people", (FieldSpec("name"), FieldSpec("n", "INTEGER")))
_PEOPLE_IDS = ["people/1", "people/01", "People/1", "people/1-A", "people/x", "orders/1",
               "people/2", "people/3"]


@pytest.fixture
def people(tmp_path: Path) -> Iterator[EmbeddedConnection]:
    store = EmbeddedStore(str(tmp_path / "p.db"))
    with store.connection() as c:
        store.create_collection(c, PEOPLE)
    conn = EmbeddedConnection(store)
    conn.submit(Batch([Put("people", i, {"name": i, "n": n}, "")
                       for n, i in enumerate(_PEOPLE_IDS)]))
    yield conn
    conn.close()


def _stored(conn: EmbeddedConnection) -> dict[str, dict[str, Any]]:
    return {i: doc[1] for i, doc in conn.get_documents("people", _PEOPLE_IDS + ["people/9-Z"],
                                                       None).items()}


def test_a_batch_of_every_command_kind_writes_documents_of_both_kinds(
        people: EmbeddedConnection) -> None:
    before = _stored(people)
    assert set(before) == set(_PEOPLE_IDS)
    people.submit(Batch([
        Put("people", "people/1", {"name": "put"}, None),  # replaced (no version expected)
        Put("people", "people/x", {"name": "put"}, None),
        Put("people", "people/9-Z", {"name": "new"}, None),  # created by an upsert
        Patch("people", "People/1", {"name": "patched"}),
        Patch("people", "people/2", {"name": "patched"}),
        Patch("people", "people/1-A", {'quo"te': 1}),  # (a field json_set can't name)
        Patch("people", "people/3", {'quo"te': 2}),
        Delete("people", "people/01"),
        Delete("people", "orders/1"),
    ]))
    after = _stored(people)
    assert after == {
        "people/1": {"name": "put"}, "people/x": {"name": "put"},
        "people/9-Z": {"name": "new"}, "People/1": {"name": "patched", "n": 2},
        "people/2": {"name": "patched", "n": 6}, "people/1-A": {**before["people/1-A"],
                                                               'quo"te': 1},
        "people/3": {**before["people/3"], 'quo"te': 2}}


def test_a_patch_run_of_both_kinds_checks_and_writes_each_document(
        people: EmbeddedConnection) -> None:
    cvs = {i: doc[2] for i, doc in people.get_documents("people", _PEOPLE_IDS, None).items()}
    ids = ["people/2", "people/x", "People/1", "people/3"]
    people.submit(Batch([], created=[PatchRun("people", ids, ("name",),
                                              [(f"r{n}",) for n in range(4)],
                                              [cvs[i] for i in ids], [None] * 4)]))
    assert {i: _stored(people)[i]["name"] for i in ids} == {
        i: f"r{n}" for n, i in enumerate(ids)}
    now = {i: doc[2] for i, doc in people.get_documents("people", ids, None).items()}
    now["people/x"] = cvs["people/x"]  # (a version it no longer has)
    with pytest.raises(ConcurrencyError, match="'people/x' was changed"):
        people.submit(Batch([], created=[PatchRun("people", ids, ("name",),
                                                  [(f"s{n}",) for n in range(4)],
                                                  [now[i] for i in ids], [None] * 4)]))
    assert {i: _stored(people)[i]["name"] for i in ids} == {
        i: f"r{n}" for n, i in enumerate(ids)}


def test_a_patch_of_a_missing_document_of_either_kind_names_it(
        people: EmbeddedConnection) -> None:
    for missing in ("people/9", "people/9-Z"):
        with pytest.raises(ConcurrencyError, match=missing):
            people.submit(Batch([Patch("people", "people/2", {"name": "a"}),
                                 Patch("people", missing, {"name": "b"})]))
    assert _stored(people)["people/2"]["name"] == "people/2"


@pytest.mark.parametrize("taken", ["people/2", "people/x", "People/1"])
def test_an_insert_run_meeting_a_stored_id_of_either_kind_names_it(
        people: EmbeddedConnection, taken: str) -> None:
    run = [Put("people", f"people/{n}{suffix}", {"name": "n"}, "")
           for n in range(10, 160) for suffix in ("", "-A")]
    run.insert(77, Put("people", taken, {"name": "again"}, ""))
    with pytest.raises(DuplicateKeyError, match=f"'{taken}' already exists"):
        people.submit(Batch(run))
    assert set(_stored(people)) == set(_PEOPLE_IDS)


@pytest.mark.parametrize("keys", [
    list(range(1, 301)),  # every key a row key of the table: taken as the run's ints
    [0, -5, 2**62, 2**62 - 1, 2**63 - 1, 7, 3],  # some ids of the other range
    [2**62 + n for n in range(150)] + list(range(150)),
])
def test_a_bulk_insert_of_integer_keys_finds_each_row_by_its_key(
        tmp_path: Path, keys: list[int]) -> None:
    """A bulk INSERT's rows keyed by an integer column are written with their keys as the
    run carries them (``CreateRun.keys``) where the table takes them, else by their ids:
    each row is then found by its key, as in SQLite."""
    from sqla_docstore import dbapi

    rows = [(k, f"v{k}") for k in keys]
    answers = []
    for conn in (sqlite3.connect(":memory:"), dbapi.connect(str(tmp_path / "k.db"))):
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.commit()
        cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", rows)
        conn.commit()
        answers.append(_each_then_all(cur, keys))
        conn.close()
    assert answers[1] == answers[0]


def test_rows_a_bulk_insert_keys_by_their_integers_are_stored_at_them(tmp_path: Path) -> None:
    from sqla_docstore import dbapi

    path = tmp_path / "k.db"
    conn = dbapi.connect(str(path))
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(k, "x") for k in (9, 2, 2**62, 0)])
    conn.commit()
    conn.close()
    raw = sqlite3.connect(path)
    stored = raw.execute('SELECT k, id FROM "@docs/t" ORDER BY k').fetchall()
    raw.close()
    # (the other range in the order the rows were given)
    assert stored == [(2, "t/2"), (9, "t/9"), (2**62, "t/4611686018427387904"), (2**62 + 1, "t/0")]


def test_a_bulk_insert_into_a_collection_of_another_id_prefix_keys_ids_as_other_ids(
        tmp_path: Path) -> None:
    """Ids ``x/1`` of collection ``t`` (its own id prefix) are not the table's prefix: a bulk
    insert's integers are not their row keys, and each row is still found by its key."""
    import json

    from sqla_docstore import dbapi

    path = tmp_path / "k.db"
    conn = dbapi.connect(str(path))
    cur = conn.cursor()
    spec = {"fields": [{"name": "id", "type": "INTEGER"}, {"name": "v", "type": "TEXT"}],
            "primary_key": ["id"], "id_prefix": "x"}
    cur.execute(f"CREATE COLLECTION t {json.dumps(spec)}")
    cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(k, f"v{k}") for k in range(1, 40)])
    conn.commit()
    cur.execute("SELECT id, v FROM t WHERE id = 7")
    assert cur.fetchall() == [(7, "v7")]
    conn.close()
    raw = sqlite3.connect(path)
    stored = raw.execute('SELECT min(k), count(*) FROM "@docs/t"').fetchall()
    raw.close()
    assert stored == [(2**62, 39)]


def test_keys_a_bulk_insert_generates_across_2_to_the_62_find_their_rows(
        tmp_path: Path) -> None:
    """HiLo keys generated for a bulk INSERT after an explicit key just below 2**62 run past
    it: the run's bounds (its first and last key, HiLo's being ascending) send the keys from
    2**62 up to the table's other range, which a stored row of another id holds already;
    each row is found by its key, as in SQLite."""
    from sqla_docstore import dbapi

    answers = []
    for conn in (sqlite3.connect(":memory:"), dbapi.connect(str(tmp_path / "k.db"))):
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        cur.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(0, "zero"), (2**62 - 5, "x")])
        conn.commit()
        cur.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{n}",) for n in range(20)])
        conn.commit()
        answers.append(_each_then_all(cur, range(2**62 - 5, 2**62 + 16)))
        conn.close()
    assert answers[1] == answers[0]
    assert answers[0][1][-1] == (2**62 + 15, "v19")


def _each_then_all(cur: Any, keys: Iterable[int]) -> tuple[list[Any], list[Any]]:
    """The rows of t found by each key in turn, and all of its rows in key order."""
    found = []
    for k in keys:
        cur.execute("SELECT id, v FROM t WHERE id = ?", (k,))
        found.append(cur.fetchall())
    cur.execute("SELECT id, v FROM t ORDER BY id")
    return found, cur.fetchall()
