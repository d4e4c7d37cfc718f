"""foreign_keys=on at the DB-API, against sqlite3 with PRAGMA foreign_keys = ON (the oracle),
on both backends: each parameter set of an executemany checked at its own end (it sees the
sets before it, not those after), a multi-row VALUES or INSERT ... SELECT at the statement's
end, and DEFERRABLE INITIALLY DEFERRED keys at COMMIT (a failed COMMIT leaves the transaction
open).

A failing executemany applies none of its sets here (the project's rule; sqlite3 keeps the
sets before the failing one): the oracle runs each executemany in a savepoint it rolls back on
failure, which is that rule on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
import sqlalchemy as sa
from fk_steps import foreign_keys_url, sqlite_with_foreign_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqla_docstore import errors

DDL = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT UNIQUE)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY,"
    " pid INTEGER REFERENCES parent(id) ON UPDATE CASCADE ON DELETE CASCADE,"
    " strict INTEGER REFERENCES parent(id),"
    " code TEXT REFERENCES parent(code) ON UPDATE CASCADE)",
    "CREATE TABLE node (id INTEGER PRIMARY KEY, up INTEGER REFERENCES node(id))",
    "CREATE TABLE dchild (id INTEGER PRIMARY KEY,"
    " pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TABLE dnode (id INTEGER PRIMARY KEY,"
    " up INTEGER REFERENCES dnode(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TABLE owner (id INTEGER PRIMARY KEY)",
    "CREATE TABLE pet (id INTEGER PRIMARY KEY, oid INTEGER REFERENCES owner(id))",
]
TABLES = ["parent", "child", "node", "dchild", "dnode", "owner", "pet"]
COMMIT, ROLLBACK = "COMMIT", "ROLLBACK"


class Step(NamedTuple):
    """A statement run once (``many`` False: ``params`` is one set) or by executemany; or
    COMMIT / ROLLBACK, as the DB-API's commit() / rollback()."""

    sql: str
    params: Any = ()
    many: bool = False


def many(sql: str, *sets: tuple[Any, ...]) -> Step:
    return Step(sql, list(sets), True)


class Oracle:
    """sqlite3 with the pragma, the transaction begun explicitly, a failing write undone
    whole (see the module's docstring)."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys = ON")
        for ddl in DDL:
            self.conn.execute(ddl)
        self.conn.execute("BEGIN")

    def run(self, step: Step) -> str:
        conn = self.conn
        try:
            if step.sql in (COMMIT, ROLLBACK):
                conn.execute(step.sql)  # (a COMMIT that fails leaves the transaction open)
                conn.execute("BEGIN")
                return "ok"
            if not step.many:  # (one statement applies whole or not at all)
                conn.execute(step.sql, step.params)
                return "ok"
            conn.execute("SAVEPOINT step")
            try:
                conn.executemany(step.sql, step.params)
            except sqlite3.Error:
                conn.execute("ROLLBACK TO step")
                raise
            finally:
                conn.execute("RELEASE step")
        except sqlite3.Error as exc:
            return type(exc).__name__
        return "ok"

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t: self.conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
                for t in TABLES}


class Target:
    """The store's DB-API connection (foreign_keys=on)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.raw = engine.raw_connection()
        self.conn = self.raw.driver_connection
        assert self.conn is not None
        for ddl in DDL:
            self.conn.cursor().execute(ddl)
        self.conn.commit()

    def run(self, step: Step) -> str:
        conn = self.conn
        assert conn is not None
        try:
            if step.sql == COMMIT:
                conn.commit()
            elif step.sql == ROLLBACK:
                conn.rollback()
            elif step.many:
                conn.cursor().executemany(step.sql, step.params)
            else:
                conn.cursor().execute(step.sql, step.params)
        except errors.IntegrityError:  # (DuplicateKeyError is one, as sqlite3 says)
            return "IntegrityError"
        except errors.Error as exc:
            return type(exc).__name__
        return "ok"

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        assert self.conn is not None
        return {t: [tuple(r) for r in self.conn.cursor().execute(
            f"SELECT * FROM {t} ORDER BY id").fetchall()] for t in TABLES}

    def empty(self) -> None:
        """Every row deleted, children first, and committed."""
        self.conn.rollback()  # type: ignore[union-attr]
        for table in ["child", "dchild", "node", "dnode", "parent", "pet", "owner"]:
            self.conn.cursor().execute(f"DELETE FROM {table}")  # type: ignore[union-attr]
        self.conn.commit()  # type: ignore[union-attr]


@pytest.fixture(params=["docstore", "ravendb"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    engine = sa.create_engine(foreign_keys_url(request))
    made = Target(engine)
    yield made
    made.raw.close()
    engine.dispose()


def _same(target: Target, steps: list[Step]) -> list[str]:
    """Each step's outcome, the rows after each, and the committed rows, as on the oracle;
    the outcomes returned (for the test to say what SQLite did)."""
    oracle = Oracle()
    outcomes = []
    for step in [*steps, Step(COMMIT)]:
        expected = oracle.run(step)
        assert (target.run(step), step) == (expected, step)
        assert target.state() == oracle.state(), step
        outcomes.append(expected)
    return outcomes


PARENTS = many("INSERT INTO parent VALUES (?, ?)", (1, "a"), (2, "b"))


# -- executemany: each set at its own end -----------------------------------------------------
def test_a_set_referring_to_a_row_a_later_set_inserts_is_refused(target: Target) -> None:
    assert _same(target, [
        many("INSERT INTO node VALUES (?, ?)", (1, None), (2, 3), (3, 1)),
        Step("INSERT INTO node VALUES (9, NULL)"),  # the transaction goes on
    ]) == ["IntegrityError", "ok", "ok"]


def test_a_set_referring_to_a_row_an_earlier_set_inserted_is_accepted(target: Target) -> None:
    assert _same(target, [
        many("INSERT INTO node VALUES (?, ?)", (1, None), (2, 1), (3, 2), (4, 4)),
    ]) == ["ok", "ok"]


def test_a_row_referring_to_itself_is_accepted(target: Target) -> None:
    assert _same(target, [many("INSERT INTO node VALUES (?, ?)", (5, 5), (6, 6))]) == [
        "ok", "ok"]


def test_a_forward_reference_within_one_multi_row_values_is_accepted(target: Target) -> None:
    assert _same(target, [
        Step("INSERT INTO node VALUES (1, 2), (2, 3), (3, NULL)"),
        many("INSERT INTO node VALUES (?, ?), (?, ?)", (4, 5, 5, None), (6, 7, 7, 4)),
        many("INSERT INTO node VALUES (?, ?), (?, ?)", (8, 10, 9, None), (10, 9, 11, 8)),
    ]) == ["ok", "ok", "IntegrityError", "ok"]


def test_insert_select_is_checked_at_the_statement_end(target: Target) -> None:
    assert _same(target, [
        Step("INSERT INTO node VALUES (1, NULL)"),
        Step("INSERT INTO node SELECT id + 10, id + 11 FROM node UNION ALL SELECT 12, NULL"),
        many("INSERT INTO node SELECT ?, ?", (20, 21), (21, None)),
    ]) == ["ok", "ok", "IntegrityError", "ok"]


def test_a_child_row_inserted_by_set_is_checked_against_the_parents(target: Target) -> None:
    assert _same(target, [
        PARENTS,
        many("INSERT INTO child (id, pid) VALUES (?, ?)", (10, 1), (11, 2), (12, 1)),
        many("INSERT INTO child (id, pid) VALUES (?, ?)", (13, 1), (14, 3)),
    ]) == ["ok", "ok", "IntegrityError", "ok"]


def test_deleting_a_parent_then_its_child_in_a_later_set_is_refused(target: Target) -> None:
    assert _same(target, [
        Step("INSERT INTO node VALUES (1, NULL), (2, 1)"),
        many("DELETE FROM node WHERE id = ?", (1,), (2,)),
        many("DELETE FROM node WHERE id = ?", (2,), (1,)),
    ]) == ["ok", "IntegrityError", "ok", "ok"]


def test_deleting_a_strictly_referred_parent_before_its_child_is_refused(
        target: Target) -> None:
    assert _same(target, [
        PARENTS,
        Step("INSERT INTO child (id, strict) VALUES (10, 2)"),
        many("DELETE FROM parent WHERE id = ?", (2,), (1,)),
        many("DELETE FROM child WHERE id = ?", (10,)),
        many("DELETE FROM parent WHERE id = ?", (2,), (1,)),
    ]) == ["ok", "ok", "IntegrityError", "ok", "ok", "ok"]


def test_a_key_removed_then_given_back_by_a_later_set_is_refused(target: Target) -> None:
    assert _same(target, [
        PARENTS,
        Step("INSERT INTO child (id, strict) VALUES (10, 2)"),
        Step(COMMIT),  # (RavenDB: unique values swapped among rows inserted uncommitted fail)
        many("UPDATE parent SET id = ? WHERE id = ?", (20, 2), (2, 20)),
        many("UPDATE parent SET code = ? WHERE id = ?", ("x", 1), ("a", 2), ("b", 1)),
    ]) == ["ok", "ok", "ok", "IntegrityError", "ok", "ok"]


def test_re_keying_cascades_set_by_set(target: Target) -> None:
    assert _same(target, [
        PARENTS,
        many("INSERT INTO child (id, pid, code) VALUES (?, ?, ?)", (10, 1, "a"), (11, 2, "b")),
        Step(COMMIT),  # (as above)
        many("UPDATE parent SET id = ? WHERE id = ?", (10, 1), (20, 10), (3, 2)),
        Step(COMMIT),  # (a re-keyed row is a new document on RavenDB: as above)
        many("UPDATE parent SET code = ? WHERE id = ?", ("z", 20), ("a", 3), ("b", 20)),
    ]) == ["ok", "ok", "ok", "ok", "ok", "ok", "ok"]


def test_a_reference_first_dangling_then_mended_by_a_later_set_is_refused(
        target: Target) -> None:
    assert _same(target, [
        PARENTS,
        Step("INSERT INTO child (id, strict) VALUES (10, 1)"),
        many("UPDATE child SET strict = ? WHERE id = ?", (7, 10), (2, 10)),
        many("UPDATE child SET strict = ? WHERE id = ?", (2, 10)),
        many("INSERT OR REPLACE INTO child (id, strict) VALUES (?, ?)", (10, 9), (10, 1)),
    ]) == ["ok", "ok", "IntegrityError", "ok", "IntegrityError", "ok"]


def test_on_delete_cascade_set_by_set(target: Target) -> None:
    assert _same(target, [
        PARENTS,
        many("INSERT INTO child (id, pid) VALUES (?, ?)", (10, 1), (11, 2)),
        many("DELETE FROM parent WHERE id = ?", (1,), (2,), (3,)),
    ]) == ["ok", "ok", "ok", "ok"]


# -- deferred keys: at COMMIT ----------------------------------------------------------------
def test_a_deferred_violation_mended_before_commit_commits(target: Target) -> None:
    assert _same(target, [
        Step("INSERT INTO dchild VALUES (1, 5)"),
        many("INSERT INTO dnode VALUES (?, ?)", (1, 2), (2, 3)),
        Step("INSERT INTO parent VALUES (5, 'e')"),
        Step("INSERT INTO dnode VALUES (3, NULL)"),
    ]) == ["ok", "ok", "ok", "ok", "ok"]


def test_a_deferred_violation_fails_the_commit_and_the_transaction_stays_open(
        target: Target) -> None:
    assert _same(target, [
        PARENTS,
        Step("INSERT INTO dchild VALUES (1, 5)"),
        Step(COMMIT),
        Step(COMMIT),  # still violated
        Step("INSERT INTO parent VALUES (5, 'e')"),  # mended in the same transaction
        Step(COMMIT),
        Step("DELETE FROM parent WHERE id = 5"),  # a deferred NO ACTION: at COMMIT too
        Step(COMMIT),
        Step(ROLLBACK),  # discards the delete
    ]) == ["ok", "ok", "IntegrityError", "IntegrityError", "ok", "ok", "ok",
           "IntegrityError", "ok", "ok"]


def test_a_deleted_deferred_parent_given_back_commits(target: Target) -> None:
    assert _same(target, [
        PARENTS,
        Step("INSERT INTO dchild VALUES (1, 2)"),
        Step(COMMIT),
        Step("DELETE FROM parent WHERE id = 2"),
        Step("INSERT INTO parent VALUES (2, 'c')"),
    ]) == ["ok", "ok", "ok", "ok", "ok", "ok"]


def test_a_savepoint_rolled_back_takes_its_deferred_violation_with_it(target: Target) -> None:
    assert _same(target, [
        PARENTS,
        Step("SAVEPOINT sp"),
        Step("INSERT INTO dchild VALUES (1, 5)"),
        Step("DELETE FROM parent WHERE id = 1"),
        Step("ROLLBACK TO sp"),
        Step("RELEASE sp"),
        Step("INSERT INTO dchild VALUES (2, 1)"),
    ]) == ["ok"] * 8


def test_a_deferred_key_s_actions_and_restrict_are_taken_at_the_statement(
        target: Target) -> None:
    oracle = Oracle()
    for ddl in ["CREATE TABLE dact (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES"
                " parent(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)",
                "CREATE TABLE drest (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES"
                " parent(id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED)"]:
        oracle.conn.execute(ddl)
        target.conn.cursor().execute(ddl)  # type: ignore[union-attr]
    steps = [PARENTS, many("INSERT INTO dact VALUES (?, ?)", (1, 1), (2, 2)),
             Step("INSERT INTO drest VALUES (1, 2)"),
             Step("DELETE FROM parent WHERE id = 1"), Step("DELETE FROM parent WHERE id = 2")]
    for step in steps:
        assert target.run(step) == oracle.run(step), step
    assert target.run(Step(COMMIT)) == oracle.run(Step(COMMIT)) == "ok"
    read = "SELECT * FROM dact ORDER BY id"
    assert target.conn.cursor().execute(read).fetchall() == [  # type: ignore[union-attr]
        tuple(r) for r in oracle.conn.execute(read)] == [(2, 2)]


def test_a_deferred_violation_in_autocommit_mode_fails_the_statement(target: Target) -> None:
    conn = target.conn
    assert conn is not None
    conn.autocommit = True
    with pytest.raises(errors.IntegrityError):
        conn.cursor().execute("INSERT INTO dchild VALUES (1, 5)")
    assert conn.cursor().execute("SELECT * FROM dchild").fetchall() == []
    oracle = sqlite3.connect(":memory:", isolation_level=None)
    oracle.execute("PRAGMA foreign_keys = ON")
    for ddl in DDL:
        oracle.execute(ddl)
    with pytest.raises(sqlite3.IntegrityError):
        oracle.execute("INSERT INTO dchild VALUES (1, 5)")
    assert oracle.execute("SELECT * FROM dchild").fetchall() == []


# -- a random differential: sequences of executemany into a parent and a child table -------
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
keys = st.integers(1, 5)
refs = st.one_of(st.none(), keys)
writes = st.one_of(
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO node VALUES (?, ?)", *s)),
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT OR REPLACE INTO node VALUES (?, ?)", *s)),
    st.lists(st.tuples(keys, st.one_of(st.none(), keys)), min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO dnode VALUES (?, ?)", *s)),
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO parent (id) VALUES (?)", *[(k,) for k, _ in s])),
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT OR REPLACE INTO dchild VALUES (?, ?)", *s)),
    st.lists(st.tuples(st.integers(10, 14), keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO child (id, pid, strict) VALUES (?, ?, ?)", *s)),
    st.lists(st.tuples(refs, keys), min_size=1, max_size=4).map(
        lambda s: many("UPDATE node SET up = ? WHERE id = ?", *s)),
    st.lists(st.tuples(keys, keys), min_size=1, max_size=4).map(
        lambda s: many("UPDATE parent SET id = ? WHERE id = ?", *s)),
    st.lists(keys, min_size=1, max_size=4).map(
        lambda s: many("DELETE FROM node WHERE id = ?", *[(k,) for k in s])),
    st.lists(keys, min_size=1, max_size=4).map(
        lambda s: many("DELETE FROM parent WHERE id = ?", *[(k,) for k in s])),
    st.lists(keys, min_size=1, max_size=4).map(
        lambda s: many("DELETE FROM dnode WHERE id = ?", *[(k,) for k in s])),
    st.lists(keys, min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO owner VALUES (?)", *[(k,) for k in s])),
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO pet VALUES (?, ?)", *s)),
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT OR IGNORE INTO pet VALUES (?, ?)", *s)),
    st.lists(st.tuples(keys, refs), min_size=1, max_size=4).map(
        lambda s: many("INSERT INTO node VALUES (?, ?) ON CONFLICT DO NOTHING", *s)),
    st.lists(st.tuples(refs, keys), min_size=1, max_size=4).map(
        lambda s: many("UPDATE pet SET oid = ? WHERE id = ?", *s)),
    st.lists(keys, min_size=1, max_size=4).map(
        lambda s: many("DELETE FROM owner WHERE id = ?", *[(k,) for k in s])),
    st.lists(keys, min_size=1, max_size=4).map(
        lambda s: many("DELETE FROM pet WHERE id = ?", *[(k,) for k in s])),
    st.lists(st.tuples(keys, keys), min_size=1, max_size=4).map(
        lambda s: many("UPDATE owner SET id = ? WHERE id = ?", *s)),
    st.just(Step(COMMIT)),
)


@SETTINGS
@given(steps=st.lists(writes, min_size=1, max_size=7))
def test_random_executemany_sequences_as_sqlite(target: Target, steps: list[Step]) -> None:
    target.empty()
    _same(target, steps)


def test_a_deferred_violation_in_a_table_without_a_key_is_checked_at_commit(
        target: Target) -> None:
    oracle = Oracle()
    ddl = ("CREATE TABLE dfree (n INTEGER, pid INTEGER REFERENCES parent(id)"
           " DEFERRABLE INITIALLY DEFERRED)")
    oracle.conn.execute(ddl)
    target.conn.cursor().execute(ddl)  # type: ignore[union-attr]
    steps = [PARENTS, Step("INSERT INTO dfree VALUES (1, 5)"), Step("SAVEPOINT sp"),
             Step("INSERT INTO dfree VALUES (2, 6)"), Step("ROLLBACK TO sp"),
             Step("UPDATE dfree SET n = 3"), Step(COMMIT),
             Step("INSERT INTO parent VALUES (5, 'e')"), Step(COMMIT)]
    outcomes = [(target.run(step), oracle.run(step)) for step in steps]
    assert [t for t, _ in outcomes] == [o for _, o in outcomes] == [
        "ok", "ok", "ok", "ok", "ok", "ok", "IntegrityError", "ok", "ok"]
    read = "SELECT n, pid FROM dfree"
    assert target.conn.cursor().execute(read).fetchall() == [  # type: ignore[union-attr]
        tuple(r) for r in oracle.conn.execute(read)] == [(3, 5)]


# -- through SQLAlchemy: the DDL it emits keeps the key deferred ---------------------------
def test_sqlalchemy_s_deferred_foreign_key_is_recorded_and_checked_at_commit(
        target: Target) -> None:
    md = sa.MetaData()
    sa.Table("sa_parent", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("sa_child", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("pid", sa.ForeignKey("sa_parent.id", deferrable=True,
                                            initially="DEFERRED")))
    ddl = str(sa.schema.CreateTable(md.tables["sa_child"]).compile(
        dialect=sa.dialects.sqlite.dialect()))
    assert "REFERENCES sa_parent (id) DEFERRABLE INITIALLY DEFERRED" in ddl
    oracle = sqlite_with_foreign_keys()
    outcomes = []
    for engine in [target.engine, oracle]:
        md.create_all(engine)
        if engine is target.engine:  # (the catalog spec keeps the key's options)
            (fk,) = sa.inspect(engine).get_foreign_keys("sa_child")
            assert fk["options"] == {"deferrable": True, "initially": "DEFERRED"}
        with engine.connect() as conn:
            conn.execute(md.tables["sa_child"].insert(), {"id": 1, "pid": 7})  # accepted
            with pytest.raises(sa.exc.IntegrityError):
                conn.commit()
            # SQLAlchemy asks for rollback() after a failed commit; it ended its transaction
            # already, so the DB-API connection's stays open, the row with it, as on sqlite3
            conn.rollback()
            outcomes.append(conn.execute(sa.select(md.tables["sa_child"])).all())
            conn.execute(md.tables["sa_parent"].insert(), {"id": 7})
            conn.commit()
            outcomes.append(conn.execute(sa.select(md.tables["sa_child"])).all())
    oracle.dispose()
    assert outcomes[:2] == outcomes[2:] == [[(1, 7)], [(1, 7)]]
