"""``sqla_docstore.request_counts``: exactly one "batch" per commit, whatever the number of
objects (1, 100, 5000) and collections (1, 3), through a Session across several transactions,
a SQLAlchemy Connection and a DB-API connection; and what checking unique values at each
statement costs (one query per 500 values, none with ``unique_checks=commit``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, String, create_engine, delete, func, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

import sqla_docstore
from sqla_docstore import dbapi


class Base(DeclarativeBase):
    pass


class Alpha(Base):
    __tablename__ = "rc_alpha"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    n: Mapped[int]


class Beta(Base):
    __tablename__ = "rc_beta"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    n: Mapped[int]


class Gamma(Base):
    __tablename__ = "rc_gamma"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)  # a string key
    name: Mapped[str] = mapped_column(String(20))
    n: Mapped[int]


class Delta(Base):
    __tablename__ = "rc_delta"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(20), unique=True)


CLASSES: list[Any] = [Alpha, Beta, Gamma]
OBJECTS = [1, 100, 5000]
COLLECTIONS = [1, 3]


def _new(cls: Any, i: int, tag: str) -> Any:
    if cls is Gamma:
        return Gamma(code=f"{tag}-{i}", name=tag, n=i)
    return cls(name=tag, n=i)


def _row(cls: Any, i: int, tag: str) -> dict[str, Any]:
    row = {"name": tag, "n": i}
    if cls is Gamma:
        row["code"] = f"{tag}-{i}"
    return row


def _split(objects: int, collections: int) -> list[tuple[Any, int]]:
    """``objects`` in all, spread over the first ``collections`` classes (each gets at least 1)."""
    classes = CLASSES[:collections]
    return [(cls, max(1, objects // collections)) for cls in classes]


def _count(engine: Engine, cls: Any, tag: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(cls).where(cls.name == tag)) or 0


@pytest.fixture(params=["memory", "file", "ravendb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "ravendb":
        url = request.getfixturevalue("ravendb_url")
    else:
        url = "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'rc.db'}"
    made = create_engine(url)
    Base.metadata.create_all(made)
    yield made
    made.dispose()


def _batches(target: Any) -> int:
    return sqla_docstore.request_counts(target).get("batch", 0)


# ----------------------------------------------------------------------------- Session


@pytest.mark.parametrize("collections", COLLECTIONS)
@pytest.mark.parametrize("objects", OBJECTS)
def test_session_one_batch_per_commit(engine: Engine, objects: int, collections: int) -> None:
    plan = _split(objects, collections)
    with Session(engine) as session:
        assert _batches(session) == 0
        # Transaction 1: inserts only.
        session.add_all([_new(cls, i, "t1") for cls, k in plan for i in range(k)])
        session.commit()
        assert _batches(session) == 1
        # Transaction 2: reads, updates, deletes and inserts in every collection.
        for cls, k in plan:
            rows = session.scalars(select(cls).where(cls.name == "t1")).all()
            assert len(rows) == k
            for row in rows[: (k + 1) // 2]:
                row.n += 1000
            for row in rows[(k + 1) // 2:]:
                session.delete(row)
            session.add(_new(cls, 0, "t2"))
        session.commit()
        assert _batches(session) == 2
        # Transaction 3: a bulk UPDATE and a bulk DELETE with WHERE, resolved into one batch.
        for cls, _ in plan:
            session.execute(update(cls).where(cls.n >= 1000).values(name="t3"))
            session.execute(delete(cls).where(cls.name == "t2"))
        session.commit()
        assert _batches(session) == 3
        # A transaction with a savepoint rolled back inside it still sends one batch.
        nested = session.begin_nested()
        session.add(_new(plan[0][0], 1, "gone"))
        nested.rollback()
        session.add(_new(plan[0][0], 2, "t4"))
        session.commit()
        assert _batches(session) == 4
        # A rolled-back transaction sends none.
        session.add(_new(plan[0][0], 3, "t5"))
        session.flush()
        session.rollback()
        assert _batches(session) == 4
    for cls, k in plan:
        assert _count(engine, cls, "t1") == 0
        assert _count(engine, cls, "t2") == 0
        assert _count(engine, cls, "t3") == (k + 1) // 2
    assert _count(engine, plan[0][0], "gone") == 0
    assert _count(engine, plan[0][0], "t4") == 1
    assert _count(engine, plan[0][0], "t5") == 0


def test_session_counts_are_per_session(engine: Engine) -> None:
    """Two sessions interleaved on one engine: each counts only its own commits."""
    with Session(engine) as a, Session(engine) as b:
        for i in range(3):
            a.add(Alpha(name="a", n=i))
            a.commit()
        b.add_all([Beta(name="b", n=i) for i in range(10)])
        b.commit()
        a.add(Alpha(name="a", n=99))
        a.commit()
        assert _batches(a) == 4
        assert _batches(b) == 1


@pytest.mark.parametrize("pool", ["NullPool", "overflow"])
def test_session_counts_survive_connection_close(tmp_path: Path, pool: str) -> None:
    """A Session's counts must not depend on the pool keeping its DB-API connection open:
    NullPool closes it at the end of every transaction, QueuePool closes overflow connections
    that come back to a full pool."""
    url = f"docstore:///{tmp_path / 'pool.db'}"
    kw: dict[str, Any] = (
        {"poolclass": NullPool} if pool == "NullPool" else {"pool_size": 1, "max_overflow": 1}
    )
    engine = create_engine(url, **kw)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as holder, Session(engine) as session:
            holder.scalar(select(func.count()).select_from(Alpha))  # takes the pooled connection
            session.add(Alpha(name="x", n=1))
            session.flush()  # takes a second (overflow) connection
            holder.commit()  # the pool is full again, so session's connection will be closed
            session.commit()
            assert _count(engine, Alpha, "x") == 1
            assert _batches(session) == 1
            session.add(Alpha(name="y", n=2))
            session.commit()
            assert _batches(session) == 2
    finally:
        engine.dispose()


# -------------------------------------------------------------------- SQLAlchemy Connection


@pytest.mark.parametrize("collections", COLLECTIONS)
@pytest.mark.parametrize("objects", OBJECTS)
def test_connection_one_batch_per_commit(engine: Engine, objects: int, collections: int) -> None:
    plan = _split(objects, collections)
    with engine.connect() as conn:
        start = _batches(conn)
        for cls, k in plan:
            conn.execute(insert(cls), [_row(cls, i, "c1") for i in range(k)])  # executemany
        conn.commit()
        assert _batches(conn) == start + 1
        for cls, k in plan:
            conn.execute(update(cls).where(cls.n < (k + 1) // 2).values(name="c2"))
            conn.execute(delete(cls).where(cls.name == "c1"))
            conn.execute(insert(cls).values(**_row(cls, -1, "c3")))
        conn.commit()
        assert _batches(conn) == start + 2
        with conn.begin_nested():
            conn.execute(insert(plan[0][0]).values(**_row(plan[0][0], -2, "c4")))
        conn.commit()
        assert _batches(conn) == start + 3
        conn.execute(insert(plan[0][0]).values(**_row(plan[0][0], -3, "c5")))
        conn.rollback()
        assert _batches(conn) == start + 3
    for cls, k in plan:
        assert _count(engine, cls, "c1") == 0
        assert _count(engine, cls, "c2") == (k + 1) // 2
        assert _count(engine, cls, "c3") == 1
    assert _count(engine, plan[0][0], "c4") == 1
    assert _count(engine, plan[0][0], "c5") == 0


# ---------------------------------------------------------------------- DB-API connection


def _sql(engine: Engine, stmt: Any) -> str:
    return str(stmt.compile(dialect=engine.dialect))


@pytest.mark.parametrize("collections", COLLECTIONS)
@pytest.mark.parametrize("objects", OBJECTS)
def test_dbapi_one_batch_per_commit(tmp_path: Path, objects: int, collections: int) -> None:
    path = tmp_path / "dbapi.db"
    engine = create_engine(f"docstore:///{path}", paramstyle="named")  # rows are mappings
    Base.metadata.create_all(engine)
    plan = _split(objects, collections)
    inserts = {cls: _sql(engine, insert(cls)) for cls, _ in plan}
    conn = dbapi.connect(str(path))
    try:
        assert _batches(conn) == 0
        cur = conn.cursor()
        for cls, k in plan:
            rows = [_row(cls, i, "d1") for i in range(k)]
            if cls is not Gamma:
                for i, row in enumerate(rows):
                    row["id"] = i + 1
            cur.executemany(inserts[cls], rows)
            assert cur.rowcount == k
        conn.commit()
        assert _batches(conn) == 1
        for cls, k in plan:
            cur.execute(f"UPDATE {cls.__tablename__} SET name = :name WHERE n < :limit",
                        {"name": "d2", "limit": k // 2})
            assert cur.rowcount == k // 2
            cur.execute(f"DELETE FROM {cls.__tablename__} WHERE name = :name", {"name": "d1"})
            assert cur.rowcount == k - k // 2
            cur.execute(f"SELECT count(*) FROM {cls.__tablename__}")
            assert cur.fetchone() == (k // 2,)
        conn.commit()
        assert _batches(conn) == 2
        conn.commit()  # nothing pending
        cur.execute(inserts[plan[0][0]], {**_row(plan[0][0], 7, "d3"), "id": 10_000_000,
                                          "code": "d3"})
        conn.rollback()
        assert _batches(conn) == 2
        reader = dbapi.connect(str(path))
        try:
            rc = reader.cursor()
            for cls, k in plan:
                rc.execute(f"SELECT count(*) FROM {cls.__tablename__} WHERE name = :name",
                           {"name": "d2"})
                assert rc.fetchone() == (k // 2,)
                rc.execute(f"SELECT count(*) FROM {cls.__tablename__}")
                assert rc.fetchone() == (k // 2,)
        finally:
            reader.close()
    finally:
        conn.close()
        engine.dispose()


# ------------------------------------------------------------------ unique values


@pytest.mark.parametrize("checks", ["statement", "commit"])
def test_unique_values_cost_one_query_per_500_at_each_statement(
    engine: Engine, checks: str
) -> None:
    made = engine if checks == "statement" else create_engine(
        engine.url.update_query_dict({"unique_checks": checks}))
    try:
        Base.metadata.create_all(made)
        with Session(made) as session:
            session.add_all([Delta(email=f"e{i}") for i in range(1200)])
            session.flush()  # one executemany: its 1,200 values in 3 queries
            session.execute(update(Delta).where(Delta.email == "e1").values(email="f1"))
            flushed = sqla_docstore.request_counts(session).get("query", 0)
            session.commit()
            counts = sqla_docstore.request_counts(session)
        # (the UPDATE's own query finds its row: one more, in both modes)
        assert flushed == (3 + 1 + 1 if checks == "statement" else 1), counts
        assert counts["batch"] == 1
    finally:
        if made is not engine:
            made.dispose()


def test_an_upsert_setting_a_unique_column_costs_one_more_query(engine: Engine) -> None:
    # README (Upserts): an executemany of 200 upserts into a table with one unique column makes
    # 2 requests before the commit; a DO UPDATE that sets the unique column is checked too
    rows = [{"id": i, "email": f"u{i}"} for i in range(200)]
    with engine.connect() as conn:
        conn.execute(insert(Delta), rows[:100])
        conn.commit()
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        sql = ("INSERT INTO rc_delta (id, email) VALUES (:id, :email) ON CONFLICT (id) DO UPDATE "
               "SET email = excluded.email")
        before = sum(raw.driver_connection.request_counts.values())
        cur.executemany(sql.replace("SET email = excluded.email", "SET id = excluded.id"), rows)
        plain = sum(raw.driver_connection.request_counts.values()) - before
        raw.rollback()
        before = sum(raw.driver_connection.request_counts.values())
        cur.executemany(sql, [{"id": r["id"], "email": "v" + r["email"]} for r in rows])
        setting = sum(raw.driver_connection.request_counts.values()) - before
        raw.rollback()
    finally:
        raw.close()
    assert (plain, setting) == (2, 3)
