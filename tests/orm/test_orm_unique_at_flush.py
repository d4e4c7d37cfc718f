"""A taken unique value fails the flush, as on SQLite: the get-or-create pattern (a savepoint
rolled back, the transaction going on), a flush of several rows with one bad, an object
changed to another's value, composite constraints; compared with SQLAlchemy on sqlite://.
RavenDB's session API (DocumentSession) keeps its commit-time check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import DocumentSession, request_counts


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(50), unique=True)


class Seat(Base):
    __tablename__ = "seats"
    __table_args__ = (UniqueConstraint("row", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[str | None] = mapped_column(String(2))
    number: Mapped[int | None]


def _flushed(s: Session, *objects: Any) -> str:
    """Add ``objects`` in a savepoint and flush: "ok", or the error (the savepoint rolled
    back, as the get-or-create pattern does)."""
    try:
        with s.begin_nested():
            s.add_all(objects)
            s.flush()
    except IntegrityError as exc:
        return "IntegrityError: " + str(exc.orig).split(" (")[0]
    return "ok"


def _users(s: Session) -> list[tuple[int, str]]:
    return [tuple(r) for r in s.execute(select(User.id, User.email).order_by(User.id))]


def _get_or_create(eng: Engine) -> list[Any]:
    seen: list[Any] = []
    with Session(eng) as s:
        s.add(User(id=1, email="a"))
        s.commit()
    with Session(eng) as s:
        s.add(User(id=2, email="b"))
        seen.append(_flushed(s, User(id=3, email="a")))
        seen.append(_flushed(s, User(id=3, email="b")))
        seen.append(_flushed(s, User(id=3, email="c")))
        s.commit()
    with Session(eng) as s:
        seen.append(_users(s))
    return seen


def _many_with_one_bad(eng: Engine) -> list[Any]:
    seen: list[Any] = []
    with Session(eng) as s:
        s.add(User(id=1, email="a"))
        s.commit()
    with Session(eng) as s:
        seen.append(_flushed(s, User(id=2, email="x"), User(id=3, email="a"),
                             User(id=4, email="y")))
        seen.append(_users(s))
        seen.append(_flushed(s, User(id=2, email="x"), User(id=4, email="y")))
        s.commit()
    with Session(eng) as s:
        seen.append(_users(s))
    return seen


def _changed_to_another_value(eng: Engine) -> list[Any]:
    seen: list[Any] = []
    with Session(eng) as s:
        s.add_all([User(id=1, email="a"), User(id=2, email="b")])
        s.commit()
    with Session(eng) as s:
        one, two = s.get(User, 1), s.get(User, 2)
        assert one is not None and two is not None
        try:
            with s.begin_nested():
                two.email = "a"
                s.flush()
        except IntegrityError as exc:
            seen.append(str(exc.orig).split(" (")[0])
        s.refresh(two)
        one.email = "z"  # the value given up is free for the next flush
        s.flush()
        two.email = "a"
        s.commit()
    with Session(eng) as s:
        seen.append(_users(s))
    return seen


def _composite(eng: Engine) -> list[Any]:
    with Session(eng) as s:
        seen = [
            _flushed(s, Seat(id=1, row="A", number=1)),
            _flushed(s, Seat(id=2, row="A", number=1)),
            _flushed(s, Seat(id=2, row="A", number=None), Seat(id=3, row="A", number=None)),
            _flushed(s, Seat(id=4, row="B", number=1)),
        ]
        s.commit()
        seen.append([tuple(r) for r in s.execute(
            select(Seat.id, Seat.row, Seat.number).order_by(Seat.id))])
    return seen


SCRIPTS: dict[str, Callable[[Engine], list[Any]]] = {
    "get or create": _get_or_create,
    "several rows with one bad": _many_with_one_bad,
    "changed to another object's value": _changed_to_another_value,
    "composite and NULL": _composite,
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_taken_unique_value_fails_the_flush_as_on_sqlite(
    engine: Engine, savepoint_oracle: Engine, name: str
) -> None:
    Base.metadata.create_all(engine)
    Base.metadata.create_all(savepoint_oracle)
    expected = SCRIPTS[name](savepoint_oracle)
    assert any(isinstance(step, str) and step.startswith("IntegrityError")
               or step == "UNIQUE constraint failed: users.email" for step in expected)
    assert SCRIPTS[name](engine) == expected


def test_the_check_costs_one_request_per_flush_on_ravendb(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([User(id=i, email=f"u{i}") for i in range(1, 201)])
        s.flush()
        counts = request_counts(s)
        s.commit()
    if engine.dialect.name == "ravendb":
        # one query for the 200 unique values (HiLo and the commit's batch apart)
        assert counts.get("query", 0) == 1, counts


def test_document_session_finds_a_taken_value_at_save_changes(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with DocumentSession(bind=engine) as s:
        s.store(User(id=1, email="a"))
        s.save_changes()
    with DocumentSession(bind=engine) as s:
        s.store(User(id=2, email="a"))
        s.flush()  # (no check at the flush: RavenDB's session checks at save_changes)
        with pytest.raises(IntegrityError):
            s.save_changes()
    with Session(engine) as s:
        assert _users(s) == [(1, "a")]
        s.add(User(id=2, email="a"))
        with pytest.raises(IntegrityError):
            s.flush()  # (a plain Session on the same engine checks at the flush again)


@pytest.fixture(params=["docstore", "ravendb"])
def async_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "docstore":
        return f"docstore:///{tmp_path / 'async.db'}"
    return str(request.getfixturevalue("ravendb_url"))


def test_get_or_create_on_an_async_session(async_url: str) -> None:
    async def main() -> list[Any]:
        engine = create_async_engine(async_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            async with AsyncSession(engine) as s:
                s.add(User(id=1, email="a"))
                await s.commit()
            async with AsyncSession(engine) as s:
                s.add(User(id=2, email="b"))
                seen: list[Any] = []
                for obj in (User(id=3, email="a"), User(id=3, email="c")):
                    try:
                        async with s.begin_nested():
                            s.add(obj)
                            await s.flush()
                        seen.append("ok")
                    except IntegrityError:
                        seen.append("IntegrityError")
                await s.commit()
            async with AsyncSession(engine) as s:
                seen.append([tuple(r) for r in await s.execute(
                    select(User.id, User.email).order_by(User.id))])
            return seen
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == ["IntegrityError", "ok", [(1, "a"), (2, "b"), (3, "c")]]
