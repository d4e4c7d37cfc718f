"""HiLo over HTTP: ranges from /hilo/next, unused ranges returned when the engine closes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import request_counts
from sqla_docstore.testing.server.node import serve_cluster


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
def node() -> Iterator[Any]:
    cluster = serve_cluster(None, "A", databases=["db"])
    yield cluster
    cluster.close()


def test_unused_range_is_returned_on_close_and_reused(node: Any) -> None:
    url = f"ravendb://{node.urls[0].split('://', 1)[1]}/db"
    first = sa.create_engine(url)
    Base.metadata.create_all(first)
    with Session(first) as session:
        session.add_all([Ticket(), Ticket()])
        session.commit()
        assert request_counts(session) == {"batch": 1, "hilo": 1}
    first.dispose()
    returns = [r for r in node.requests if r.path.endswith("/hilo/return")]
    assert len(returns) == 1 and "end=32" in returns[0].query and "last=2" in returns[0].query
    second = sa.create_engine(url)
    with Session(second) as session:
        session.add(Ticket())
        session.commit()
        # Ids stay dense: the returned range 3..32 was handed out again.
        assert sorted(session.scalars(sa.select(Ticket.id))) == [1, 2, 3]
    second.dispose()


@pytest.mark.parametrize("explicit", [[1098, 7], list(range(1, 1100))], ids=["two", "many"])
def test_another_client_generates_ids_above_the_explicit_ones(ravendb_url: str,
                                                              explicit: list[int]) -> None:
    # Two engines are two clients (each its own HiLo ranges). SQLite gives max(rowid) + 1;
    # the second client got id 1 and failed its commit as taken. The first client reserved
    # a range above the explicit ids after its commit: it goes on at max + 1, as SQLite, and
    # the other client above that range (HiLo ranges leave gaps between clients).
    first, second = sa.create_engine(ravendb_url), sa.create_engine(ravendb_url)
    try:
        Base.metadata.create_all(first)
        with Session(first) as s:
            s.add_all([Ticket(id=n) for n in explicit])
            s.commit()
        with Session(second, expire_on_commit=False) as s:
            theirs = Ticket()
            s.add(theirs)
            s.commit()
        with Session(first, expire_on_commit=False) as s:
            mine = Ticket()
            s.add(mine)
            s.commit()
        assert mine.id == max(explicit) + 1
        assert theirs.id > max(explicit)
    finally:
        first.dispose()
        second.dispose()


def test_explicit_ids_below_the_reserved_range_cost_no_hilo_request(ravendb_url: str) -> None:
    engine = sa.create_engine(ravendb_url)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            s.add(Ticket())  # reserves a range (1..32)
            s.commit()
        with Session(engine) as s:
            s.add(Ticket(id=5))
            s.commit()
            assert request_counts(s).get("hilo", 0) == 0
    finally:
        engine.dispose()
