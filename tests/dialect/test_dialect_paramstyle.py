"""The dialect compiles ``?`` (qmark, SQLite's paramstyle) by default; ``paramstyle="named"`` may
be asked for; styles the DB-API can't read are refused up front."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from sqla_docstore import dbapi


def test_the_dbapi_and_the_dialect_agree_on_qmark() -> None:
    assert dbapi.paramstyle == "qmark"
    dialect = sa.create_engine("docstore://").dialect
    assert dialect.paramstyle == "qmark" and dialect.positional


def test_the_async_dialect_defaults_to_qmark_too() -> None:
    engine = create_async_engine("docstore://")
    assert engine.dialect.paramstyle == "qmark"
    named = create_async_engine("docstore://", paramstyle="named")
    assert named.dialect.paramstyle == "named" and not named.dialect.positional


@pytest.mark.parametrize("url", ["docstore://", "ravendb://127.0.0.1:1/db"])
@pytest.mark.parametrize("style", ["format", "pyformat", "numeric", "numeric_dollar"])
def test_a_paramstyle_the_dbapi_cannot_read_is_refused(url: str, style: str) -> None:
    with pytest.raises(sa.exc.ArgumentError, match="'qmark' .* or 'named'"):
        sa.create_engine(url, paramstyle=style)


@pytest.mark.parametrize("url", ["docstore://", "ravendb://127.0.0.1:1/db"])
def test_named_may_be_asked_for(url: str) -> None:
    dialect = sa.create_engine(url, paramstyle="named").dialect
    assert dialect.paramstyle == "named" and not dialect.positional


metadata = sa.MetaData()
things = sa.Table("things", metadata,
                  sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("name", sa.String(20)),
                  sa.Column("n", sa.Integer))


def test_core_statements_compile_to_qmark(engine: Engine) -> None:
    seen: list[tuple[str, object]] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda c, cur, stmt, params, ctx, many: seen.append((stmt, params)))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"name": "a", "n": 1}, {"name": "b", "n": 2}])
        got = conn.execute(sa.select(things.c.name).where(things.c.n > 1)).all()
    assert got == [("b",)]
    inserted, selected = seen[-2], seen[-1]
    assert "?" in inserted[0] and ":" not in inserted[0]
    assert inserted[1] == [("a", 1), ("b", 2)]  # tuples, as SQLite's dialect passes them
    assert selected[1] == (1,)


@pytest.mark.parametrize("sql, params, expected", [
    ("SELECT name FROM things WHERE n = ?", (2,), [("b",)]),
    ("SELECT name FROM things WHERE n > ? AND name <> ? ORDER BY n", (0, "a"), [("b",), ("c",)]),
    ("SELECT name, ? FROM things WHERE name = 'a?' OR n = ?", ("x", 3), [("c", "x")]),
    ("SELECT name FROM things WHERE n = ?2 OR n = ?1 ORDER BY n", (1, 3), [("a",), ("c",)]),
])
def test_exec_driver_sql_takes_qmark_with_a_tuple(engine: Engine, sql: str, params: object,
                                                  expected: list[tuple[object, ...]]) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"id": i, "name": c, "n": i}
                                       for i, c in enumerate("abc", 1)])
    with engine.connect() as conn:
        assert conn.exec_driver_sql(sql, params).all() == expected


def test_exec_driver_sql_executemany_with_tuples(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO things (id, name, n) VALUES (?, ?, ?)",
                             [(1, "a", 10), (2, "b", 20)])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, name, n FROM things ORDER BY id").all() == [
            (1, "a", 10), (2, "b", 20)]


def test_exec_driver_sql_with_a_mapping_for_qmark_is_refused(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError,
                                                 match="positional parameters"):
        conn.exec_driver_sql("SELECT name FROM things WHERE n = ?", {"n": 1})


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(30))
    books: Mapped[list[Book]] = relationship(back_populates="author",
                                             cascade="all, delete-orphan")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(30))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


@pytest.fixture(params=["qmark", "named"])
def styled_engine(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Engine]:
    """The ``engine`` fixture's URL (docstore:// and ravendb://) in each paramstyle."""
    eng = sa.create_engine(engine.url, paramstyle=request.param)
    yield eng
    eng.dispose()


def test_an_orm_round_trip_in_each_paramstyle(styled_engine: Engine) -> None:
    Base.metadata.create_all(styled_engine)
    with Session(styled_engine) as session:
        session.add_all([Author(name="ann", books=[Book(title="one"), Book(title="two")]),
                         Author(name="bob", books=[Book(title="three")])])
        session.commit()
    with Session(styled_engine) as session:
        ann = session.scalars(sa.select(Author).where(Author.name == "ann")).one()
        assert sorted(b.title for b in ann.books) == ["one", "two"]
        ann.name = "anne"
        session.delete(ann.books[0])
        bob = session.get(Author, 2)
        assert bob is not None and [b.title for b in bob.books] == ["three"]
        session.commit()
    with Session(styled_engine) as session:
        got = session.execute(sa.select(Author.name, sa.func.count(Book.id))
                              .join(Book).group_by(Author.name).order_by(Author.name)).all()
        assert got == [("anne", 1), ("bob", 1)]
        assert session.scalars(sa.select(Book.title).where(Book.title.in_(["two", "three"]))
                               .order_by(Book.title)).all() == ["three", "two"]


def test_foreign_keys_are_enforced_on_qmark_writes(engine: Engine) -> None:
    fk_engine = sa.create_engine(engine.url.update_query_dict({"foreign_keys": "on"}))
    Base.metadata.create_all(fk_engine)
    book = "INSERT INTO books (id, title, author_id) VALUES (?, ?, ?)"
    with fk_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO authors (id, name) VALUES (?, ?)", (1, "ann"))
        conn.exec_driver_sql(book, [(1, "one", 1), (2, "two", 1)])
    with pytest.raises(sa.exc.IntegrityError), fk_engine.begin() as conn:
        conn.exec_driver_sql(book, (3, "three", 9))
    with pytest.raises(sa.exc.IntegrityError), fk_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM authors WHERE id = ?", (1,))
    with fk_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM books").scalar() == 2
    fk_engine.dispose()
