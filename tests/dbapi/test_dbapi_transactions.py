"""The pending batch seen through the DB-API: nothing reaches the store before commit, one batch
per commit, rollback and savepoints, reads that see the transaction's own writes."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.errors import ConcurrencyError

INSERT_USER = "INSERT INTO users (name, age, team) VALUES (:name, :age, :team)"
INSERT_TEAM = "INSERT INTO teams (title) VALUES (:title)"
NAMES = "SELECT users.name FROM users ORDER BY users.name"


def _names(conn: dbapi.Connection) -> list[str]:
    cur = conn.cursor()
    cur.execute(NAMES)
    return [r[0] for r in cur.fetchall()]


def _add(conn: dbapi.Connection, *names: str, age: int = 1, team: int | None = None) -> None:
    conn.cursor().executemany(
        INSERT_USER, [{"name": n, "age": age, "team": team} for n in names]
    )


def _commit_users(conn: dbapi.Connection, *names: str) -> None:
    _add(conn, *names)
    conn.commit()


# ------------------------------------------------------------------ isolation


def test_inserts_do_not_reach_the_store_before_commit(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    _add(conn, "a", "b")
    assert _names(conn) == ["a", "b"]
    assert _names(other) == []
    conn.commit()
    assert _names(other) == ["a", "b"]


def test_updates_and_deletes_do_not_reach_the_store_before_commit(
    conn: dbapi.Connection, other: dbapi.Connection, rows: Any
) -> None:
    _commit_users(conn, "a", "b", "c")
    cur = conn.cursor()
    cur.execute("UPDATE users SET name = :new WHERE users.name = :old", {"new": "z", "old": "a"})
    cur.execute("DELETE FROM users WHERE users.name = :n", {"n": "b"})
    assert _names(conn) == ["c", "z"]
    assert _names(other) == ["a", "b", "c"]
    conn.commit()
    assert _names(other) == ["c", "z"]


def test_rollback_discards_everything(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    _commit_users(conn, "keep")
    _add(conn, "gone")
    conn.cursor().execute("DELETE FROM users WHERE users.name = :n", {"n": "keep"})
    assert _names(conn) == ["gone"]
    before = dict(conn.request_counts)
    conn.rollback()
    assert len(conn.pending) == 0
    assert _names(conn) == ["keep"]
    assert _names(other) == ["keep"]
    assert conn.request_counts.get("batch", 0) == before.get("batch", 0)
    conn.commit()  # nothing left to send
    assert _names(other) == ["keep"]


# -------------------------------------------------------------- one batch per commit


@pytest.mark.parametrize("n_users, n_teams", [(1, 0), (50, 0), (300, 7)])
def test_commit_is_exactly_one_batch(
    conn: dbapi.Connection, other: dbapi.Connection, n_users: int, n_teams: int
) -> None:
    cur = conn.cursor()
    for i in range(n_users):  # one execute per document, the worst case for batching
        cur.execute(INSERT_USER, {"name": f"u{i:04d}", "age": i, "team": None})
    if n_teams:
        cur.executemany(INSERT_TEAM, [{"title": f"t{i}"} for i in range(n_teams)])
    cur.execute("UPDATE users SET age = :a WHERE users.age < :lim", {"a": 0, "lim": 3})
    cur.execute("DELETE FROM users WHERE users.name = :n", {"n": "u0000"})
    before = conn.request_counts.get("batch", 0)
    conn.commit()
    assert conn.request_counts.get("batch", 0) - before == 1
    assert len(_names(other)) == n_users - 1
    ocur = other.cursor()
    ocur.execute("SELECT count(*) FROM teams")
    assert ocur.fetchone() == (n_teams,)


def test_empty_commit_makes_no_batch_call(conn: dbapi.Connection, rows: Any) -> None:
    before = conn.request_counts.get("batch", 0)
    conn.commit()
    rows(conn, NAMES)  # a read-only transaction
    conn.commit()
    assert conn.request_counts.get("batch", 0) == before


def test_writes_make_no_store_calls_before_commit(conn: dbapi.Connection) -> None:
    _commit_users(conn, "a")
    before = dict(conn.request_counts)
    # HiLo keys (in the range reserved already): no read is needed for an INSERT.
    _add(conn, *(f"h{i}" for i in range(20)))
    assert conn.request_counts == before


def test_insert_of_explicit_keys_checks_them_with_one_load(conn: dbapi.Connection) -> None:
    _commit_users(conn, "a")
    cur = conn.cursor()
    before = dict(conn.request_counts)
    # Explicit keys: no id range is needed; one load finds whether a stored row has one.
    cur.executemany("INSERT INTO users (id, name) VALUES (:id, :name)",
                    [{"id": 1000 + i, "name": f"x{i}"} for i in range(20)])
    assert conn.request_counts == before | {"load": before.get("load", 0) + 1}


def test_request_counts_kinds(conn: dbapi.Connection) -> None:
    _add(conn, "a")
    counts = conn.request_counts
    assert counts.get("hilo", 0) >= 1
    assert counts.get("schema", 0) == 3  # the three CREATE COLLECTION of the fixture
    cur = conn.cursor()
    cur.execute("SELECT users.name FROM users WHERE users.id = :id", {"id": 999})
    assert conn.request_counts.get("load", 0) == counts.get("load", 0) + 1
    cur.execute(NAMES)
    assert conn.request_counts.get("query", 0) == counts.get("query", 0) + 1


# ------------------------------------------------------------- read your own writes


def test_point_lookup_sees_pending_insert_without_a_store_call(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_USER, {"name": "a", "age": 3, "team": None})
    new_id = cur.lastrowid
    before = conn.request_counts.get("load", 0)
    cur.execute("SELECT users.id, users.name, users.age FROM users WHERE users.id = :id",
                {"id": new_id})
    assert cur.fetchall() == [(new_id, "a", 3)]
    assert conn.request_counts.get("load", 0) == before  # served from the pending batch


def test_point_lookup_of_pending_delete_finds_nothing(conn: dbapi.Connection) -> None:
    _commit_users(conn, "a")
    cur = conn.cursor()
    cur.execute("SELECT users.id FROM users WHERE users.name = :n", {"n": "a"})
    (uid,) = cur.fetchone() or (None,)
    cur.execute("DELETE FROM users WHERE users.id = :id", {"id": uid})
    assert cur.rowcount == 1
    cur.execute("SELECT users.name FROM users WHERE users.id = :id", {"id": uid})
    assert cur.fetchall() == []


def test_join_count_and_aggregates_see_pending_writes(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    cur = conn.cursor()
    cur.execute(INSERT_TEAM, {"title": "red"})
    red = cur.lastrowid
    cur.execute(INSERT_TEAM, {"title": "blue"})
    blue = cur.lastrowid
    _add(conn, "a", "b", age=10, team=red)
    _add(conn, "c", age=40, team=blue)
    conn.commit()
    _add(conn, "d", age=20, team=red)  # pending
    cur.execute("UPDATE users SET age = :a WHERE users.name = :n", {"a": 50, "n": "c"})
    cur.execute("DELETE FROM users WHERE users.name = :n", {"n": "a"})
    query = (
        "SELECT teams.title, count(users.id) AS n, sum(users.age) AS total, "
        "min(users.age) AS lo, max(users.age) AS hi, avg(users.age) AS mean "
        "FROM teams JOIN users ON teams.id = users.team "
        "GROUP BY teams.title ORDER BY teams.title"
    )
    cur.execute(query)
    assert cur.fetchall() == [("blue", 1, 50, 50, 50, 50.0), ("red", 2, 30, 10, 20, 15.0)]
    ocur = other.cursor()
    ocur.execute(query)
    assert ocur.fetchall() == [("blue", 1, 40, 40, 40, 40.0), ("red", 2, 20, 10, 10, 10.0)]
    cur.execute("SELECT count(*) FROM users")
    assert cur.fetchone() == (3,)
    cur.execute(
        "SELECT users.name, teams.title FROM users LEFT OUTER JOIN teams "
        "ON teams.id = users.team ORDER BY users.name"
    )
    assert cur.fetchall() == [("b", "red"), ("c", "blue"), ("d", "red")]


def test_update_sees_earlier_pending_update(conn: dbapi.Connection, rows: Any) -> None:
    _commit_users(conn, "a")
    cur = conn.cursor()
    for _ in range(3):
        cur.execute("UPDATE users SET age = age + 1 WHERE users.name = :n", {"n": "a"})
        assert cur.rowcount == 1
    assert rows(conn, "SELECT users.age FROM users") == [(4,)]
    conn.commit()
    assert rows(conn, "SELECT users.age FROM users") == [(4,)]


def test_reinsert_after_pending_delete(conn: dbapi.Connection, other: dbapi.Connection,
                                       rows: Any) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO tags (code, label) VALUES (:c, :l)", {"c": "x", "l": "old"})
    conn.commit()
    cur.execute("DELETE FROM tags WHERE tags.code = :c", {"c": "x"})
    cur.execute("INSERT INTO tags (code, label) VALUES (:c, :l)", {"c": "x", "l": "new"})
    conn.commit()
    assert rows(other, "SELECT tags.code, tags.label FROM tags") == [("x", "new")]


# --------------------------------------------------------------- exact rowcount


def test_update_and_delete_rowcount_is_exact(conn: dbapi.Connection) -> None:
    _add(conn, "a", "b", "c", "d", age=5)
    conn.commit()
    _add(conn, "e", age=5)  # pending rows count too
    cur = conn.cursor()
    cur.execute("UPDATE users SET age = :a WHERE users.age = :old", {"a": 6, "old": 5})
    assert cur.rowcount == 5
    cur.execute("UPDATE users SET age = :a WHERE users.age = :old", {"a": 7, "old": 5})
    assert cur.rowcount == 0
    cur.execute("UPDATE users SET age = :a WHERE users.id = :id", {"a": 7, "id": 123456})
    assert cur.rowcount == 0
    cur.execute("DELETE FROM users WHERE users.name IN (:a, :b, :c)",
                {"a": "a", "b": "e", "c": "zz"})
    assert cur.rowcount == 2
    cur.execute("DELETE FROM users WHERE users.name IN (:a, :b)", {"a": "a", "b": "e"})
    assert cur.rowcount == 0
    cur.execute("DELETE FROM users")
    assert cur.rowcount == 3


def test_executemany_update_rowcount_sums(conn: dbapi.Connection) -> None:
    _add(conn, "a", "b", "c")
    cur = conn.cursor()
    cur.executemany("UPDATE users SET age = :a WHERE users.name = :n",
                    [{"a": 9, "n": "a"}, {"a": 9, "n": "nobody"}, {"a": 9, "n": "c"}])
    assert cur.rowcount == 2


# ------------------------------------------------------------------- savepoints


def test_savepoint_rollback_truncates_the_batch(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    _commit_users(conn, "base")
    _add(conn, "before")
    n = len(conn.pending)
    conn.savepoint("sp1")
    _add(conn, "after")
    conn.cursor().execute("DELETE FROM users WHERE users.name = :n", {"n": "base"})
    conn.cursor().execute("UPDATE users SET age = :a WHERE users.name = :n",
                          {"a": 99, "n": "before"})
    assert _names(conn) == ["after", "before"]
    conn.rollback_to_savepoint("sp1")
    assert len(conn.pending) == n
    assert _names(conn) == ["base", "before"]
    cur = conn.cursor()
    cur.execute("SELECT users.age FROM users WHERE users.name = :n", {"n": "before"})
    assert cur.fetchall() == [(1,)]
    conn.commit()
    assert _names(other) == ["base", "before"]


def test_nested_savepoints_and_release(conn: dbapi.Connection) -> None:
    conn.savepoint("outer")
    _add(conn, "a")
    conn.savepoint("inner")
    _add(conn, "b")
    conn.release_savepoint("inner")
    _add(conn, "c")
    assert _names(conn) == ["a", "b", "c"]
    conn.rollback_to_savepoint("outer")
    assert _names(conn) == []
    assert len(conn.pending) == 0
    with pytest.raises(dbapi.ProgrammingError, match="inner"):
        conn.rollback_to_savepoint("inner")  # released, then gone with "outer"'s rollback


def test_savepoint_statements_work_on_the_pending_batch(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SAVEPOINT outer_sp")
    _add(conn, "a")
    cur.execute("SAVEPOINT inner_sp")
    _add(conn, "b")
    cur.execute("RELEASE SAVEPOINT inner_sp")
    _add(conn, "c")
    cur.execute("ROLLBACK TO outer_sp")
    assert _names(conn) == []
    _add(conn, "d")
    cur.execute("release outer_sp;")
    conn.commit()
    assert _names(conn) == ["d"]
    with pytest.raises(dbapi.ProgrammingError, match="outer_sp"):
        cur.execute("ROLLBACK TO SAVEPOINT outer_sp")


def test_savepoint_can_be_rolled_back_twice(conn: dbapi.Connection) -> None:
    conn.savepoint("sp")
    _add(conn, "x")
    conn.rollback_to_savepoint("sp")
    _add(conn, "y")
    conn.rollback_to_savepoint("sp")
    assert _names(conn) == []


def test_unknown_savepoint(conn: dbapi.Connection) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="no such savepoint"):
        conn.rollback_to_savepoint("nope")
    with pytest.raises(dbapi.ProgrammingError, match="no such savepoint"):
        conn.release_savepoint("nope")


def test_savepoints_end_with_the_transaction(conn: dbapi.Connection) -> None:
    conn.savepoint("sp")
    conn.commit()
    with pytest.raises(dbapi.ProgrammingError):
        conn.rollback_to_savepoint("sp")


# ------------------------------------------------------- optimistic concurrency


def test_update_by_filter_conflicts_with_a_concurrent_change(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    _commit_users(conn, "a", "b")
    conn.cursor().execute("UPDATE users SET age = :a WHERE users.name = :n", {"a": 5, "n": "a"})
    _add(conn, "new")
    other.cursor().execute("UPDATE users SET age = :a WHERE users.name = :n", {"a": 6, "n": "a"})
    other.commit()
    with pytest.raises(ConcurrencyError) as info:
        conn.commit()
    assert len(info.value.stale) == 1 and info.value.stale[0].startswith("users/")
    conn.rollback()
    assert _names(other) == ["a", "b"]  # "new" was not applied either
    cur = other.cursor()
    cur.execute("SELECT users.age FROM users WHERE users.name = :n", {"n": "a"})
    assert cur.fetchall() == [(6,)]


def test_delete_of_a_concurrently_deleted_document_conflicts(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    _commit_users(conn, "a", "b")
    conn.cursor().execute("DELETE FROM users WHERE users.name = :n", {"n": "a"})
    conn.cursor().execute("UPDATE users SET age = :a WHERE users.name = :n", {"a": 9, "n": "b"})
    other.cursor().execute("DELETE FROM users WHERE users.name = :n", {"n": "a"})
    other.commit()
    with pytest.raises(ConcurrencyError, match="deleted"):
        conn.commit()
    conn.rollback()
    cur = other.cursor()
    cur.execute("SELECT users.name, users.age FROM users")
    assert cur.fetchall() == [("b", 1)]


def test_connection_is_usable_after_a_failed_commit(
    conn: dbapi.Connection, other: dbapi.Connection
) -> None:
    _commit_users(conn, "a")
    conn.cursor().execute("DELETE FROM users WHERE users.name = :n", {"n": "a"})
    other.cursor().execute("DELETE FROM users WHERE users.name = :n", {"n": "a"})
    other.commit()
    with pytest.raises(ConcurrencyError):
        conn.commit()
    conn.rollback()
    _commit_users(conn, "again")
    assert _names(other) == ["again"]


def test_pending_writes_survive_another_connections_prepared_rollback(
        connect: Any, create_collection: Any) -> None:
    """On a memory store the connections share one SQLite connection: a two-phase prepare
    holds a transaction open there, and its rollback took another connection's overlay
    table with it (reads then failed, or missed the pending writes)."""
    first, second = connect(), connect()
    create_collection(first, "things", {"fields": [
        {"name": "id", "type": "INTEGER", "nullable": False}], "primary_key": ["id"]})
    first.cursor().execute("INSERT INTO things (id) VALUES (:i)", {"i": 1})
    first.prepare()
    cur = second.cursor()
    cur.execute("INSERT INTO things (id) VALUES (:i)", {"i": 2})
    cur.execute("SELECT things.id FROM things WHERE things.id = :i OR things.id > 1", {"i": 2})
    assert cur.fetchall() == [(2,)]
    first.rollback_prepared()
    cur.execute("INSERT INTO things (id) VALUES (:i)", {"i": 3})
    cur.execute("SELECT things.id FROM things ORDER BY things.id")
    assert cur.fetchall() == [(2,), (3,)]
    second.commit()
