"""After its own commit a connection's queries wait for non-stale results (RavenDB indexes a
batch after applying it), until a reply says the indexes caught up."""

from __future__ import annotations

from typing import Any

import requests
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


def test_own_writes_are_read_while_the_indexes_lag(ravendb_server_factory: Any) -> None:
    server = ravendb_server_factory("A")
    database = server.cluster.databases.get(server.database)
    url = f"ravendb://{server.url.split('://', 1)[1]}/{server.database}"
    writer, other = sa.create_engine(url), sa.create_engine(url)
    with Session(other) as session:  # both engines know the schema before the lag starts
        assert session.scalars(sa.select(Item.name).where(Item.name == "a")).all() == []
    database.index_lag = 1.5  # long enough for the stale reads below on a busy machine
    with Session(writer) as session:
        session.add(Item(name="a"))
        session.commit()
        # the writer's own query waits for the index to catch up with its commit
        assert session.scalars(sa.select(Item.name).where(Item.name == "a")).all() == ["a"]
    # the bundled server really lags: a client that did not write sees the stale index (as
    # on RavenDB), and the reply says so
    reply = requests.post(f"{server.url}/databases/{server.database}/queries", json={
        "Query": "from 'items' where name = $n", "QueryParameters": {"n": "b"}}, timeout=5)
    assert reply.json()["IsStale"] is False  # nothing written since the lag passed
    with Session(writer) as session:
        session.add(Item(name="b"))
        session.commit()
    stale = requests.post(f"{server.url}/databases/{server.database}/queries", json={
        "Query": "from 'items' where name = $n", "QueryParameters": {"n": "b"}}, timeout=5)
    assert stale.json()["IsStale"] is True and stale.json()["Results"] == []
    with Session(other) as session:
        assert session.scalars(sa.select(Item.name).where(Item.name == "b")).all() == []
    with Session(writer) as session:
        assert session.scalars(sa.select(Item.name).where(Item.name == "b")).all() == ["b"]
    writer.dispose()
    other.dispose()
