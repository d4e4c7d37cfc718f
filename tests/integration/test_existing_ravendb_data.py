"""A database the official RavenDB client wrote, used through SQLAlchemy on both backends.

The official client stores orders through the bundled server into a database file; the same
database is then reflected and automapped over ``ravendb://`` (the server) and over
``docstore:///file`` (the embedded store opening the server's file), queried, updated, written
and deleted, and read back by the official client with what SQLAlchemy did not map intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import array_contains
from sqla_docstore.errors import DataError

ravendb = pytest.importorskip("ravendb")


class Order:
    """The official client's entity: its collection is ``Orders``, its ids ``orders/<n>-A``."""

    def __init__(self, company: str | None = None, lines: Any = None, ship_to: Any = None,
                 tags: Any = None, freight: float | None = None, note: str | None = None,
                 Id: str | None = None) -> None:  # noqa: N803 - the client's naming
        self.Id = Id
        self.company = company
        self.lines = lines
        self.ship_to = ship_to
        self.tags = tags
        self.freight = freight
        self.note = note


CITIES = ["Paris", "Oslo", "Rome"]


@pytest.fixture
def server(ravendb_server_factory: Any, tmp_path: Path) -> Any:
    return ravendb_server_factory(tags="A", data=str(tmp_path))


@pytest.fixture
def client(server: Any) -> Iterator[Any]:
    store = ravendb.DocumentStore(server.urls, server.database)
    store.conventions.disable_topology_cache = True
    store.initialize()
    with store.open_session() as s:
        for i, city in enumerate(CITIES):
            s.store(Order(f"companies/{i}", [{"product": f"p{i}", "qty": i + 1}],
                          {"city": city, "zip": f"0{i}"}, ["rush", "gift"][:i], 1.5 * i,
                          note=None if i else "first"))
        s.save_changes()
    yield store
    store.close()


@pytest.fixture(params=["ravendb", "docstore"])
def engine(request: pytest.FixtureRequest, server: Any, client: Any,
           tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "ravendb":
        url = f"ravendb://{server.url.split('://', 1)[1]}/{server.database}"
    else:
        url = f"docstore:///{tmp_path}/{server.database}.db"
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()


def test_inspect_lists_and_infers_the_collection(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert inspector.get_table_names() == ["Orders"]
    columns = {c["name"]: c for c in inspector.get_columns("Orders")}
    assert list(columns) == ["id", "company", "lines", "ship_to", "tags", "freight", "note"]
    kinds = {name: type(c["type"]).__name__ for name, c in columns.items()}
    assert kinds == {"id": "VARCHAR", "company": "VARCHAR", "lines": "JSON", "ship_to": "JSON",
                     "tags": "JSON", "freight": "Float", "note": "VARCHAR"}
    assert [n for n, c in columns.items() if c["nullable"]] == ["note"]
    assert inspector.get_pk_constraint("Orders")["constrained_columns"] == ["id"]
    assert inspector.get_table_options("Orders") == {"docstore_key_is_id": True}


def test_raw_sql_reaches_a_collection_nobody_declared(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT id, company FROM "Orders" ORDER BY id')).all()
    assert [tuple(r) for r in rows] == [(f"orders/{i + 1}-A", f"companies/{i}")
                                        for i in range(3)]


def test_automapped_classes_query_update_insert_delete(engine: sa.Engine, client: Any) -> None:
    base = automap_base()
    base.prepare(autoload_with=engine)
    orders = base.classes.Orders
    with Session(engine) as session:
        rows = session.scalars(sa.select(orders).order_by(orders.freight)).all()
        assert [(o.id, o.ship_to["city"], o.tags) for o in rows] == [
            ("orders/1-A", "Paris", []), ("orders/2-A", "Oslo", ["rush"]),
            ("orders/3-A", "Rome", ["rush", "gift"])]
        # a nested field, and an array's elements
        oslo = session.scalars(sa.select(orders).where(
            orders.ship_to["city"].as_string() == "Oslo")).all()
        assert [o.id for o in oslo] == ["orders/2-A"]
        first_products = session.scalars(sa.select(orders.lines[(0, "product")].as_string())
                                         .order_by(orders.lines[(0, "qty")].as_integer()
                                                   .desc())).all()
        assert first_products == ["p2", "p1", "p0"]
        tagged = session.scalars(sa.select(orders.id).where(
            array_contains(orders.tags, "gift"))).all()
        assert tagged == ["orders/3-A"]
        second = session.get(orders, "orders/2-A")  # ids with the node tag are keys
        assert second is rows[1]
        second.freight = 99.5
        second.ship_to = {**second.ship_to, "city": "Bergen"}
        session.delete(rows[2])
        session.add(orders(id="orders/9-B", company="companies/9", lines=[],
                           ship_to={"city": "Lyon"}, tags=["new"], freight=1.0))
        session.commit()
    with client.open_session() as s:
        updated = s.load("orders/2-A", Order)
        assert (updated.freight, updated.ship_to) == (99.5, {"city": "Bergen", "zip": "01"})
        # what SQLAlchemy did not touch is as the client wrote it, metadata included
        assert (updated.company, updated.lines) == ("companies/1", [{"product": "p1", "qty": 2}])
        assert s.advanced.get_metadata_for(updated)["Raven-Python-Type"].endswith(".Order")
        assert s.load("orders/3-A", Order) is None
        created = s.load("orders/9-B", Order)
        assert (created.company, created.tags) == ("companies/9", ["new"])
        assert s.advanced.get_metadata_for(created)["@collection"] == "Orders"
        assert not hasattr(created, "id")  # the key is the id, not a field of the document


class MappedOrder(DeclarativeBase):
    pass


class Shipment(MappedOrder):
    """A hand-written mapping of the client's collection: the key is the whole id."""

    __tablename__ = "Orders"
    __table_args__ = {"docstore_key_is_id": True}
    id: Mapped[str] = mapped_column(primary_key=True)
    company: Mapped[str]
    freight: Mapped[float]


def test_a_declarative_mapping_of_the_collection_keeps_other_fields(engine: sa.Engine,
                                                                     client: Any) -> None:
    with Session(engine) as session:
        first = session.get(Shipment, "orders/1-A")
        assert first is not None and first.company == "companies/0"
        first.freight = 7.25
        session.commit()
    with client.open_session() as s:
        loaded = s.load("orders/1-A", Order)
        assert (loaded.freight, loaded.note, loaded.ship_to["city"]) == (7.25, "first", "Paris")


class IntKeyed(DeclarativeBase):
    pass


class IntOrder(IntKeyed):
    __tablename__ = "Orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    company: Mapped[str]


def test_a_key_the_documents_do_not_carry_is_refused(engine: sa.Engine) -> None:
    # "orders/1-A" has no integer key that maps back to it: reading it as 1 would make
    # session.get(IntOrder, 1) miss it and an insert of id 1 create a second order.
    with Session(engine) as session, pytest.raises(sa.exc.DBAPIError) as caught:
        session.scalars(sa.select(IntOrder)).all()
    assert isinstance(caught.value.orig, DataError)
    assert "docstore_key_is_id" in str(caught.value.orig)
