"""Statements RavenDB cannot answer exactly run on the client over the documents they need,
fetched with one streaming query (counted once), into a bounded local copy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import request_counts
from sqla_docstore.errors import NotSupportedError


class Base(DeclarativeBase):
    pass


class Word(Base):
    __tablename__ = "words"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


@pytest.fixture
def engine(ravendb_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(ravendb_url)
    with Session(eng) as session:
        session.add_all([Word(text=f"w{i:04d}") for i in range(2500)])
        session.commit()
    yield eng
    eng.dispose()


def test_a_client_side_query_reads_every_document_with_one_request(
        engine: sa.Engine) -> None:
    with Session(engine) as session:
        # LIKE is not answered by RavenDB exactly: evaluated here, over all 2,500 documents
        rows = session.scalars(sa.select(Word.text).where(Word.text.like("w1%"))
                               .order_by(Word.text)).all()
        assert rows == [f"w{i:04d}" for i in range(1000, 2000)]
        assert request_counts(session).get("query") == 1  # not one per page of 1,024


def test_the_local_copy_is_bounded(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.connection.dbapi_connection.backend.cluster.max_client_side_documents = 2000
    with Session(engine) as session, pytest.raises(sa.exc.DBAPIError) as caught:
        session.scalars(sa.select(Word.text).where(Word.text.like("w1%"))).all()
    assert isinstance(caught.value.orig, NotSupportedError)
    assert "more than 2000 documents of words" in str(caught.value.orig)


def test_a_table_dropped_and_created_again_under_another_case_is_read_fresh(
        ravendb_url: str) -> None:
    # RavenDB's collection names ignore case; the local copy of "Pets" must not stand in
    # the way of "pets", a table of another application created after "Pets" was dropped.
    eng = sa.create_engine(ravendb_url)
    try:
        for name, value in (("Pets", "cat"), ("pets", "dog")):
            meta = sa.MetaData()
            table = sa.Table(name, meta, sa.Column("id", sa.Integer, primary_key=True),
                             sa.Column("kind", sa.String(10)))
            meta.create_all(eng)
            with eng.begin() as conn:
                conn.execute(table.insert(), [{"id": 1, "kind": value}])
                # LIKE runs on the client: the documents go into the local copy
                got = conn.execute(sa.select(table.c.kind)
                                   .where(table.c.kind.like("%"))).scalars().all()
            assert got == [value]
            meta.drop_all(eng)
    finally:
        eng.dispose()
