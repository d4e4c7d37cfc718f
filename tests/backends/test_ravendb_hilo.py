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
