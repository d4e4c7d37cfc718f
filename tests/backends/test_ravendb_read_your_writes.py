"""After its own commit a connection's queries wait for non-stale results (RavenDB indexes a
batch after applying it), until a reply says the indexes caught up."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Other(Base):
    __tablename__ = "others"
    id: Mapped[int] = mapped_column(primary_key=True)


def _query_bodies(server: Any) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path.endswith("/queries")]


def test_queries_after_a_commit_wait_for_non_stale_results_once(
        ravendb_server_factory: Any) -> None:
    server = ravendb_server_factory("A")
    engine = sa.create_engine(f"ravendb://{server.url.split('://', 1)[1]}/{server.database}")
    with Session(engine) as session:
        assert session.scalars(sa.select(Item).where(Item.name == "a")).all() == []
        session.add(Item(name="a"))
        session.commit()
        server.clear_requests()
        found = session.scalars(sa.select(Item.name).where(Item.name == "a")).all()
        assert found == ["a"]
        session.scalars(sa.select(Other)).all()  # not written: no wait
        session.scalars(sa.select(Item.name).where(Item.name == "b")).all()  # caught up
    waits = [b.get("WaitForNonStaleResults") for b in _query_bodies(server)]
    assert waits == [True, None, None]
    first = _query_bodies(server)[0]
    assert first["WaitForNonStaleResultsTimeout"] == "00:00:15"
    engine.dispose()


def test_queries_before_any_write_do_not_wait(ravendb_server_factory: Any) -> None:
    server = ravendb_server_factory("A")
    engine = sa.create_engine(f"ravendb://{server.url.split('://', 1)[1]}/{server.database}")
    server.clear_requests()
    with Session(engine) as session:
        session.scalars(sa.select(Item).where(Item.name == "a")).all()
    assert all("WaitForNonStaleResults" not in b for b in _query_bodies(server))
    engine.dispose()
