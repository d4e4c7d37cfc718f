"""Keys and constraints through the DB-API: duplicate keys, NOT NULL, CHECK, unique values, HiLo
ids, RavenDB-shaped document ids."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.errors import DuplicateKeyError

INSERT_USER = "INSERT INTO users (name, age) VALUES (:name, :age)"
INSERT_TAG = "INSERT INTO tags (code, label) VALUES (:code, :label)"


def _count(conn: dbapi.Connection, collection: str) -> int:
    cur = conn.cursor()
    cur.execute(f"SELECT count(*) FROM {collection}")
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


# --------------------------------------------------------------- duplicate keys


def test_duplicate_key_within_the_transaction_fails_at_execute(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_TAG, {"code": "a", "label": "first"})
    n = len(conn.pending)
    with pytest.raises(dbapi.IntegrityError, match="tags/a"):
        cur.execute(INSERT_TAG, {"code": "a", "label": "second"})
    assert len(conn.pending) == n  # the failed statement added nothing


def test_duplicate_key_inside_one_executemany_adds_nothing(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.IntegrityError):
        cur.executemany(INSERT_TAG, [{"code": "a", "label": None}, {"code": "b", "label": None},
                                     {"code": "a", "label": None}])
    # PEP 249 leaves a failed executemany's effects undefined; a partial batch must at least
    # not contain the duplicate.
    codes = [c.id for c in conn.pending.commands]
    assert codes.count("tags/a") <= 1


def test_duplicate_key_across_transactions_fails_at_commit_applying_nothing(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    cur = other.cursor()
    cur.execute(INSERT_USER, {"name": "side effect", "age": 1})
    cur.execute(INSERT_TAG, {"code": "b", "label": "ok"})
    cur.execute(INSERT_TAG, {"code": "a", "label": "dup"})  # "a" is free when inserted
    conn.cursor().execute(INSERT_TAG, {"code": "a", "label": "first"})
    conn.commit()  # ... and taken before ``other`` commits
    with pytest.raises(dbapi.IntegrityError, match="tags/a"):
        other.commit()
    other.rollback()
    assert _count(conn, "users") == 0
    assert _count(conn, "tags") == 1
    cur = conn.cursor()
    cur.execute("SELECT tags.label FROM tags WHERE tags.code = :c", {"c": "a"})
    assert cur.fetchall() == [("first",)]


def test_insert_of_a_committed_key_fails_at_execute_and_the_transaction_goes_on(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    conn.cursor().execute(INSERT_TAG, {"code": "a", "label": "first"})
    conn.commit()
    cur = other.cursor()
    cur.execute(INSERT_TAG, {"code": "b", "label": "ok"})
    n = len(other.pending)
    with pytest.raises(DuplicateKeyError, match="tags/a"):  # as SQLite: at the INSERT
        cur.executemany(INSERT_TAG, [{"code": "c", "label": None}, {"code": "a", "label": None}])
    assert len(other.pending) == n
    other.commit()
    assert _count(conn, "tags") == 2


def test_duplicate_key_error_class(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_TAG, {"code": "a", "label": None})
    with pytest.raises(DuplicateKeyError):
        cur.execute(INSERT_TAG, {"code": "a", "label": None})


def _emails(conn: dbapi.Connection, create_collection: Any) -> None:
    create_collection(conn, "emails", {
        "fields": [{"name": "id", "nullable": False}, {"name": "addr", "nullable": False}],
        "primary_key": ["id"], "autoincrement": "id", "unique": [["addr"]],
    })


def test_unique_value_taken_fails_the_insert_and_the_transaction_goes_on(
    connect: Any, create_collection: Any
) -> None:
    conn = connect()
    _emails(conn, create_collection)
    cur = conn.cursor()
    cur.execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "x@y"})
    conn.commit()
    cur.execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "other@y"})
    with pytest.raises(dbapi.IntegrityError, match=r"UNIQUE constraint failed: emails\.addr"):
        cur.execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "x@y"})
    conn.commit()
    assert _count(conn, "emails") == 2


def test_unique_checks_commit_finds_a_taken_value_at_commit_only(
    connect: Any, create_collection: Any
) -> None:
    conn = dbapi.connect(store=connect().backend.store, unique_checks="commit")
    try:
        _emails(conn, create_collection)
        cur = conn.cursor()
        cur.execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "x@y"})
        conn.commit()
        cur.execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "other@y"})
        cur.execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "x@y"})
        with pytest.raises(dbapi.IntegrityError):
            conn.commit()
        conn.rollback()
        assert _count(conn, "emails") == 1
    finally:
        conn.close()


def test_unique_checks_takes_statement_or_commit_only(connect: Any) -> None:
    store = connect().backend.store
    with pytest.raises(dbapi.ProgrammingError, match="unique_checks"):
        dbapi.connect(store=store, unique_checks="never")


def test_two_transactions_racing_for_a_unique_value_one_commit_fails(
    connect: Any, create_collection: Any
) -> None:
    # the statement-time check sees only what is committed and this transaction's writes:
    # the commit's reservation is what keeps two racing transactions from both taking it
    first, second = connect(), connect()
    _emails(first, create_collection)
    first.cursor().execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "x@y"})
    second.cursor().execute("INSERT INTO emails (addr) VALUES (:a)", {"a": "x@y"})
    first.commit()
    with pytest.raises(dbapi.IntegrityError):
        second.commit()
    second.rollback()
    assert _count(second, "emails") == 1


# ------------------------------------------------------------ NOT NULL and CHECK


def test_not_null_on_insert_and_update(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.IntegrityError, match="NOT NULL constraint failed: users.name"):
        cur.execute("INSERT INTO users (age) VALUES (:age)", {"age": 1})
    with pytest.raises(dbapi.IntegrityError, match="NOT NULL"):
        cur.execute(INSERT_USER, {"name": None, "age": 1})
    cur.execute(INSERT_USER, {"name": "a", "age": 1})
    n = len(conn.pending)
    with pytest.raises(dbapi.IntegrityError, match="NOT NULL"):
        cur.execute("UPDATE users SET name = :n", {"n": None})
    assert len(conn.pending) == n
    cur.execute("SELECT users.name FROM users")
    assert cur.fetchall() == [("a",)]


def _raw(engine: Engine) -> Any:
    """A DB-API connection of ``engine`` (docstore:// or ravendb://)."""
    return engine.raw_connection()


def test_null_in_a_primary_key_column_is_refused_at_the_insert(engine: Engine) -> None:
    # SQL's PRIMARY KEY implies NOT NULL; SQLite alone accepts NULL there (and then two such
    # rows): the docstore keeps to the standard, as PostgreSQL does (README: SQL parity)
    raw = _raw(engine)
    try:
        cur = raw.cursor()
        cur.execute("CREATE TABLE g (a INTEGER, b INTEGER, name TEXT, PRIMARY KEY (a, b))")
        cur.execute("CREATE TABLE s (code TEXT PRIMARY KEY, n INTEGER)")
        raw.commit()
        cur.execute("INSERT INTO g (a, b, name) VALUES (1, 1, 'kept')")
        both = "INSERT INTO g (a, b, name) VALUES (:a, :b, 'x')"
        for sql, params in [(both, {"a": 2, "b": None}), (both, {"a": None, "b": 2}),
                            ("INSERT INTO g (a, name) VALUES (3, 'no b')", {})]:
            column = "g.a" if params.get("a", 0) is None else "g.b"
            with pytest.raises(dbapi.IntegrityError, match=(
                    rf"NOT NULL constraint failed: {column} \(a primary-key column\)")):
                cur.execute(sql, params)
        with pytest.raises(dbapi.IntegrityError, match=r"NOT NULL constraint failed: s\.code"):
            cur.execute("INSERT INTO s (code, n) VALUES (NULL, 1)")
        with pytest.raises(dbapi.IntegrityError, match="NOT NULL constraint failed: g.b"):
            cur.executemany("INSERT INTO g (a, b) VALUES (:a, :b)",
                            [{"a": 5, "b": 5}, {"a": 5, "b": None}])
        raw.commit()  # the transaction's other write is not lost
        cur.execute("SELECT a, b, name FROM g")
        assert cur.fetchall() == [(1, 1, "kept")]
        cur.execute("SELECT count(*) FROM s")
        assert cur.fetchall() == [(0,)]
    finally:
        raw.close()


def test_updating_a_primary_key_column_to_null_is_refused(engine: Engine) -> None:
    raw = _raw(engine)
    try:
        cur = raw.cursor()
        cur.execute("CREATE TABLE g (a INTEGER, b INTEGER, name TEXT, PRIMARY KEY (a, b))")
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)")
        cur.execute("INSERT INTO g (a, b, name) VALUES (1, 1, 'one')")
        cur.execute("INSERT INTO t (id, x) VALUES (7, 'seven')")
        raw.commit()
        cur.execute("UPDATE g SET name = 'renamed'")
        with pytest.raises(dbapi.IntegrityError, match=r"NOT NULL constraint failed: g\.b"):
            cur.execute("UPDATE g SET b = NULL WHERE a = 1")
        # NULL means "generate" only in an INSERT: the HiLo key can't be updated to NULL
        with pytest.raises(dbapi.IntegrityError, match=r"NOT NULL constraint failed: t\.id"):
            cur.execute("UPDATE t SET id = :v", {"v": None})
        raw.commit()
        cur.execute("SELECT a, b, name FROM g")
        assert cur.fetchall() == [(1, 1, "renamed")]
        cur.execute("SELECT id, x FROM t")
        assert cur.fetchall() == [(7, "seven")]
    finally:
        raw.close()


def test_null_in_the_hilo_key_still_generates_it(engine: Engine) -> None:
    raw = _raw(engine)
    try:
        cur = raw.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)")
        cur.execute("INSERT INTO t (id, x) VALUES (NULL, 'a')")
        cur.execute("INSERT INTO t (id, x) VALUES (:id, 'b')", {"id": None})
        raw.commit()
        cur.execute("SELECT id, x FROM t ORDER BY x")
        found = cur.fetchall()
        assert [x for _, x in found] == ["a", "b"]
        assert all(type(i) is int for i, _ in found) and found[0][0] != found[1][0]
    finally:
        raw.close()


def test_check_constraint_on_insert_and_update(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.IntegrityError, match="CHECK constraint failed: age_positive"):
        cur.execute(INSERT_USER, {"name": "a", "age": -1})
    cur.execute(INSERT_USER, {"name": "a", "age": 0})
    cur.execute(INSERT_USER, {"name": "b", "age": None})  # NULL passes a CHECK, as in SQL
    with pytest.raises(dbapi.IntegrityError, match="CHECK"):
        cur.execute("UPDATE users SET age = age - 1 WHERE users.name = :n", {"n": "a"})
    cur.execute("SELECT users.age FROM users WHERE users.name = :n", {"n": "a"})
    assert cur.fetchall() == [(0,)]


def test_a_failing_statement_applies_none_of_its_rows(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.executemany(INSERT_USER, [{"name": n, "age": a} for n, a in (("a", 5), ("b", 0),
                                                                    ("c", 7))])
    with pytest.raises(dbapi.IntegrityError, match="CHECK"):
        cur.execute("UPDATE users SET age = age - 1")  # b would go below 0
    with pytest.raises(dbapi.DataError, match="NUL"):
        cur.executemany(INSERT_USER, [{"name": "d", "age": 1}, {"name": "e\x00", "age": 1}])
    cur.execute("SELECT users.name, users.age FROM users ORDER BY users.name")
    assert cur.fetchall() == [("a", 5), ("b", 0), ("c", 7)]  # nothing of either statement
    conn.commit()


def test_check_naming_its_table_reads_the_row(
        conn: dbapi.Connection, create_collection: Any) -> None:
    """Older stores kept CHECK text with the table's name ("t.x > 0")."""
    create_collection(conn, "t", {
        "fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                   {"name": "x", "type": "INTEGER"}],
        "primary_key": ["id"], "checks": [["positive", "t.x > 0"]]})
    cur = conn.cursor()
    cur.execute("INSERT INTO t (id, x) VALUES (:a, :b)", {"a": 1, "b": 5})
    with pytest.raises(dbapi.IntegrityError, match="CHECK constraint failed: positive"):
        cur.execute("INSERT INTO t (id, x) VALUES (:a, :b)", {"a": 2, "b": -5})


def test_constant_field_default_applies_when_insert_omits_it(
    connect: Any, create_collection: Any
) -> None:
    conn = connect()
    create_collection(conn, "cfg", {
        "fields": [{"name": "k", "nullable": False},
                   {"name": "level", "nullable": False, "default": 3}],
        "primary_key": ["k"],
    })
    cur = conn.cursor()
    cur.execute("INSERT INTO cfg (k) VALUES (:k)", {"k": "x"})
    cur.execute("SELECT cfg.level FROM cfg")
    assert cur.fetchall() == [(3,)]


# ---------------------------------------------------------------------- ids


def test_document_ids_are_collection_slash_key(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_USER, {"name": "a", "age": 1})
    uid = cur.lastrowid
    cur.execute(INSERT_TAG, {"code": "Red", "label": None})
    assert [c.id for c in conn.pending.commands] == [f"users/{uid}", "tags/Red"]
    conn.commit()
    cur.execute("from users select id(), name")
    assert cur.fetchall() == [(f"users/{uid}", "a")]
    cur.execute("from tags select id()")
    assert cur.fetchall() == [("tags/Red",)]


def test_composite_keys_join_with_slashes(connect: Any, create_collection: Any) -> None:
    conn = connect()
    create_collection(conn, "links", {
        "fields": [{"name": "a", "nullable": False}, {"name": "b", "nullable": False},
                   {"name": "w"}],
        "primary_key": ["a", "b"],
    })
    cur = conn.cursor()
    cur.execute("INSERT INTO links (a, b, w) VALUES (:a, :b, :w)", {"a": 1, "b": "x", "w": 5})
    conn.commit()
    cur.execute("from links select id(), w")
    assert cur.fetchall() == [("links/1/x", 5)]
    cur.execute("SELECT links.w FROM links WHERE links.a = :a AND links.b = :b",
                {"a": 1, "b": "x"})
    assert cur.fetchall() == [(5,)]
    cur.execute("INSERT INTO links (a, b, w) VALUES (:a, :b, :w)", {"a": 1, "b": "y", "w": 6})
    with pytest.raises(dbapi.IntegrityError):
        cur.execute("INSERT INTO links (a, b, w) VALUES (:a, :b, :w)", {"a": 1, "b": "y", "w": 7})


def test_key_update_moves_the_document(conn: dbapi.Connection, other: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_TAG, {"code": "old", "label": "l"})
    conn.commit()
    cur.execute("UPDATE tags SET code = :new WHERE tags.code = :old", {"new": "new", "old": "old"})
    assert cur.rowcount == 1
    conn.commit()
    ocur = other.cursor()
    ocur.execute("from tags select id(), code, label")
    assert ocur.fetchall() == [("tags/new", "new", "l")]


def test_hilo_ids_are_unique_across_connections(
    connect: Any, conn: dbapi.Connection
) -> None:
    conns = [conn, connect(), connect()]
    seen: list[int] = []
    for round_ in range(3):
        for i, c in enumerate(conns):
            cur = c.cursor()
            cur.executemany(INSERT_USER,
                            [{"name": f"r{round_}c{i}n{j}", "age": 1} for j in range(40)])
            c.commit()
    cur = conn.cursor()
    cur.execute("SELECT users.id FROM users")
    seen = [r[0] for r in cur.fetchall()]
    assert len(seen) == 3 * 3 * 40
    assert len(set(seen)) == len(seen)
    assert all(isinstance(i, int) and i > 0 for i in seen)


def test_explicit_ids_are_not_handed_out_again(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO users (id, name) VALUES (:id, :n)", {"id": 7, "n": "explicit"})
    cur.executemany(INSERT_USER, [{"name": f"a{i}", "age": 1} for i in range(10)])
    conn.commit()  # would fail with a duplicate key if HiLo handed out 7
    cur.execute("SELECT count(*) FROM users")
    assert cur.fetchone() == (11,)


def test_a_generated_key_inserted_again_explicitly_is_a_duplicate(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    """Keys an INSERT generates skip the store check (they are fresh); an explicit INSERT of
    one of them still fails at execute, in the same transaction and in another one."""
    cur = conn.cursor()
    cur.executemany(INSERT_USER, [{"name": f"g{i}", "age": 1} for i in range(3)])
    cur.execute("SELECT users.id FROM users")
    ids = sorted(r[0] for r in cur.fetchall())
    explicit = "INSERT INTO users (id, name) VALUES (:id, :n)"
    with pytest.raises(DuplicateKeyError, match=f"users/{ids[1]}"):
        cur.execute(explicit, {"id": ids[1], "n": "again"})
    conn.commit()
    with pytest.raises(DuplicateKeyError, match=f"users/{ids[2]}"):
        other.cursor().execute(explicit, {"id": ids[2], "n": "again"})
    assert _count(other, "users") == 3


def test_explicit_keys_check_the_store_unless_handed_out_unused(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    """Explicit integer keys HiLo handed out in this process and nobody used skip the store
    check; the others are checked, and the first taken one, in row order, is the error."""
    handed = conn.backend.next_ids("users", 2)  # as the ORM's session takes them
    explicit = "INSERT INTO users (id, name) VALUES (:id, :n)"
    other.cursor().executemany(explicit, [{"id": 7, "n": "stored"}, {"id": 9, "n": "stored"}])
    other.commit()
    loads = conn.request_counts.get("load", 0)
    rows = [{"id": handed[0], "n": "a"}, {"id": 8, "n": "b"}, {"id": 9, "n": "c"},
            {"id": 7, "n": "d"}, {"id": handed[1], "n": "e"}]
    with pytest.raises(DuplicateKeyError, match="users/9"):
        conn.cursor().executemany(explicit, rows)
    assert conn.request_counts.get("load", 0) == loads + 1  # one load, of 8, 9 and 7
    conn.cursor().executemany(explicit, [{"id": 8, "n": "b"}, {"id": 10, "n": "f"}])
    conn.commit()
    assert _count(other, "users") == 4


def _insert_many(conn: dbapi.Connection, prefix: str, n: int) -> list[int]:
    cur = conn.cursor()
    ids = []
    for i in range(n):
        cur.execute(INSERT_USER, {"name": f"{prefix}{i}", "age": 1})
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    conn.commit()
    return ids


def test_hilo_ids_unique_across_two_store_handles_on_one_file(
    db_path: Path, create_collection: Any, specs: dict[str, Any]
) -> None:
    # Two EmbeddedStore objects on one file behave like two processes: separate HiLo
    # registries that must reserve disjoint ranges through the file.
    first, second = EmbeddedStore(str(db_path)), EmbeddedStore(str(db_path))
    a, b = dbapi.connect(store=first), dbapi.connect(store=second)
    try:
        create_collection(a, "users", specs["users"])
        ids = _insert_many(a, "a", 5) + _insert_many(b, "b", 5)
        ids += _insert_many(a, "a2", 40) + _insert_many(b, "b2", 40)
        assert len(set(ids)) == len(ids) == 90
        assert _count(a, "users") == 90
    finally:
        a.close()
        b.close()


def test_hilo_ids_continue_after_reopening_a_file_store(
    db_path: Path, create_collection: Any, specs: dict[str, Any]
) -> None:
    conn = dbapi.connect(str(db_path))
    create_collection(conn, "users", specs["users"])
    before = _insert_many(conn, "a", 10)
    conn.close()
    del conn
    gc.collect()  # the process-wide store cache holds stores weakly: this really reopens
    conn = dbapi.connect(str(db_path))
    try:
        after = _insert_many(conn, "b", 10)
        assert not set(before) & set(after)
        assert min(after) > max(before)
        assert _count(conn, "users") == 20
    finally:
        conn.close()


def test_ids_are_reserved_without_committing(
    db_path: Path, create_collection: Any, specs: dict[str, Any]
) -> None:
    # An id handed to a transaction that rolls back is never reused (HiLo semantics).
    first = EmbeddedStore(str(db_path))
    conn = dbapi.connect(store=first)
    create_collection(conn, "users", specs["users"])
    cur = conn.cursor()
    cur.execute(INSERT_USER, {"name": "rolled back", "age": 1})
    lost = cur.lastrowid
    conn.rollback()
    conn.close()
    second = dbapi.connect(store=EmbeddedStore(str(db_path)))
    try:
        assert lost not in _insert_many(second, "x", 3)
    finally:
        second.close()
