"""Behaviours SQLAlchemy's own suites found different from SQLite, compared with SQLite on both
backends where SQLite has them: an INSERT of a committed key, RETURNING of UPDATE ... FROM and
of DELETE, CAST to BLOB."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    delete,
    exc,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session, registry

metadata = MetaData()
users = Table("users", metadata, Column("id", Integer, primary_key=True),
              Column("name", String(20)), Column("age", Integer))
addresses = Table("addresses", metadata, Column("id", Integer, primary_key=True),
                  Column("user_id", ForeignKey("users.id")), Column("email", String(30)))
blobs = Table("blobs", metadata, Column("id", Integer, primary_key=True),
              Column("b", LargeBinary), Column("s", String(20)), Column("f", Integer),
              Column("r", String(10)))

USERS = [{"id": 1, "name": "john", "age": 25}, {"id": 2, "name": "jack", "age": 47},
         {"id": 3, "name": "jill", "age": 29}, {"id": 4, "name": "jane", "age": 37}]
ADDRESSES = [{"id": 1, "user_id": 1, "email": "jo1"}, {"id": 2, "user_id": 2, "email": "ja1"},
             {"id": 3, "user_id": 4, "email": "jan1"}, {"id": 4, "user_id": 3, "email": "ji1"}]


class User:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


registry().map_imperatively(User, users)


def _fill(eng: Engine) -> None:
    with eng.begin() as conn:
        conn.execute(users.insert(), USERS)
        conn.execute(addresses.insert(), ADDRESSES)


def _both(pair: tuple[Engine, Engine], run: Any) -> list[Any]:
    out = []
    for eng in pair:
        _fill(eng)
        with eng.connect() as conn:
            out.append(run(conn))
            conn.rollback()
    return out


# ------------------------------------------------------------ INSERT of a committed key


def _insert_committed_key(eng: Engine) -> list[Any]:
    seen = []
    with Session(eng) as session, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = User(id=1, name="u1")
        session.add(first)
        session.commit()
        session.add(User(id=1, name="u2"))
        with pytest.raises(exc.IntegrityError):
            session.flush()  # the INSERT itself fails, as in SQL: not the later commit
        seen.append(first in session)
        session.rollback()
        session.add(User(id=2, name="u3"))
        session.commit()
        seen.append(session.scalars(select(users.c.name).order_by(users.c.id)).all())
    seen.append(sorted({str(w.message).split(" <")[0] for w in caught}))
    return seen


def test_insert_of_a_committed_key_fails_at_the_flush(pair: tuple[Engine, Engine]) -> None:
    docstore, sqlite = (_insert_committed_key(eng) for eng in pair)
    assert docstore == sqlite
    assert docstore[1] == ["u1", "u3"]
    # SQLAlchemy warns of the conflicting instance only, never that the flush "replaced" it
    assert docstore[2] == ["New instance"]


# ----------------------------------------------------------------------------- RETURNING


def test_update_from_returns_the_from_tables_columns(engine: Engine) -> None:
    # SQLite's RETURNING names the target table only ("no such column: email"); the answer
    # is PostgreSQL's: the FROM row each target row was updated with
    metadata.create_all(engine)
    stmt = (update(users).where(users.c.id == addresses.c.user_id).where(users.c.age > 29)
            .values(age=users.c.age - 10)
            .returning(users.c.id, addresses.c.email, func.length(users.c.name),
                       users.c.age, addresses.c.email + users.c.name))
    (rows,) = _both((engine,), lambda conn: sorted(conn.execute(stmt).all()))
    assert rows == [(2, "ja1", 4, 37, "ja1jack"), (4, "jan1", 4, 27, "jan1jane")]


def test_update_from_refuses_returning_another_tables_column_with_a_column_it_sets(
    engine: Engine,
) -> None:
    metadata.create_all(engine)
    _fill(engine)
    stmt = (update(users).where(users.c.id == addresses.c.user_id).values(age=1)
            .returning(addresses.c.email + users.c.age))  # PostgreSQL: the new age
    refused = pytest.raises(exc.NotSupportedError, match="and age, which the UPDATE sets")
    with engine.connect() as conn, refused:
        conn.execute(stmt)


def test_delete_returns_rows_in_the_order_sqlite_scans_them(
    pair: tuple[Engine, Engine],
) -> None:
    stmt = delete(users).where(users.c.age > 26).returning(users.c.id, users.c.name)
    docstore, sqlite = _both(pair, lambda conn: conn.execute(stmt).all())
    assert docstore == sqlite == [(2, "jack"), (3, "jill"), (4, "jane")]


def test_update_returns_rows_in_the_order_sqlite_scans_them(
    pair: tuple[Engine, Engine],
) -> None:
    stmt = (update(users).where(users.c.age < 40).values(age=users.c.age + 1)
            .returning(users.c.id, users.c.age))
    docstore, sqlite = _both(pair, lambda conn: conn.execute(stmt).all())
    assert docstore == sqlite == [(1, 26), (3, 30), (4, 38)]


def test_delete_using_returns_the_using_tables_columns(engine: Engine) -> None:
    metadata.create_all(engine)
    _fill(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "DELETE FROM addresses USING users WHERE users.id = addresses.user_id "
            "AND users.age > :age RETURNING addresses.id, users.name", {"age": 30}).all()
        assert rows == [(2, "jack"), (3, "jane")]
        conn.rollback()


# ---------------------------------------------------------------------------- CAST BLOB


def test_cast_to_blob_is_sqlites(pair: tuple[Engine, Engine]) -> None:
    def run(conn: Any) -> list[Any]:
        conn.execute(blobs.insert(), [{"id": 1, "b": b"\x00\xffab", "s": "h\u00e9llo", "f": 7,
                                       "r": None}])
        return conn.execute(select(
            cast(literal(b"foo", literal_execute=True), LargeBinary),
            cast(blobs.c.b, LargeBinary), cast(blobs.c.s, LargeBinary),
            cast(blobs.c.f, LargeBinary), cast(blobs.c.f / 2.0, LargeBinary),
            cast(blobs.c.r, LargeBinary), cast(bindparam("p", b"\x01\x02"), LargeBinary),
            cast(bindparam("q", "x"), LargeBinary), cast(bindparam("n", 12), LargeBinary),
        )).all()

    docstore, sqlite = _both(pair, run)
    assert docstore == sqlite == [(b"foo", b"\x00\xffab", "h\u00e9llo".encode(), b"7", b"3.5",
                                   None, b"\x01\x02", b"x", b"12")]


def test_cast_to_blob_in_a_where_clause(pair: tuple[Engine, Engine]) -> None:
    def run(conn: Any) -> list[Any]:
        conn.execute(blobs.insert(), [{"id": 1, "b": b"ab", "s": "ab"},
                                      {"id": 2, "b": b"cd", "s": "ab"}])
        return conn.execute(select(blobs.c.id).where(cast(blobs.c.s, LargeBinary) == blobs.c.b)
                            .order_by(blobs.c.id)).all()

    docstore, sqlite = _both(pair, run)
    assert docstore == sqlite == [(1,)]
