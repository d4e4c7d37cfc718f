"""A query of one collection whose pending writes are all PATCHes of fields its SQL does not
read reads the file store itself, each pending document's body put in its rows, instead of
copying the pending writes to the overlay table first (``EmbeddedConnection._patches_aside``).

Every case runs on a durable file store and on SQLite with the same statements, and says
which way the query went: from the store with the pending bodies put in (``aside``), or over
the overlay table (any other query, or another connection committed since the transaction's
first query, or a document was loaded before it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore.backends.embedded.connection import EmbeddedConnection

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True),
              Column("k", Integer), Column("v", String(40)), Column("w", String(40)))
others = Table("others", metadata, Column("id", Integer, primary_key=True),
               Column("item_id", Integer), Column("v", String(40)))
keyed = Table("keyed", metadata, Column("id", String(40), primary_key=True),
              Column("k", Integer), Column("v", String(40)), docstore_key_is_id=True)

ROWS = [{"id": n, "k": n % 7, "v": f"v{n}", "w": f"w{n % 3}"} for n in range(1, 41)]


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """(a file store, SQLite on a file), both holding ROWS in ``items``."""
    engines = (create_engine(f"docstore:///{tmp_path / 'store.db'}"),
               create_engine(f"sqlite:///{tmp_path / 'oracle.db'}"))
    for eng in engines:
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(insert(items), ROWS)
            conn.execute(insert(others), [{"id": n, "item_id": n, "v": f"o{n}"}
                                          for n in range(1, 11)])
    yield engines
    for eng in engines:
        eng.dispose()


def _backend(conn: Connection) -> EmbeddedConnection:
    backend = conn.connection.dbapi_connection.backend  # type: ignore[union-attr]
    assert isinstance(backend, EmbeddedConnection)
    return backend


def _overlaid(conn: Connection, collection: str = "items") -> bool:
    """Whether the collection's pending writes were copied to its overlay table."""
    backend = _backend(conn)
    pending = conn.connection.dbapi_connection.pending  # type: ignore[union-attr]
    return collection in backend._temps and not pending.dirty.get(collection)


Steps = Callable[[Connection], list[Any]]


def _same_on_both(both: tuple[Engine, Engine], steps: Steps, *, aside: bool,
                  collection: str = "items") -> list[Any]:
    """Run ``steps`` in one transaction on each engine: the results agree; on the store the
    last query went aside (or not)."""
    store, oracle = both
    results = []
    for eng in (store, oracle):
        with eng.connect() as conn:
            results.append(steps(conn))
            if eng is store:
                assert _overlaid(conn, collection) is not aside
            conn.rollback()
    assert results[0] == results[1]
    return results[0]


PATCHED = (5, 6, 9, 12, 19, 20)


def _patch_some(conn: Connection) -> None:
    """Read items 5..20 (the transaction's first query), then PATCH v of 6 of them by key."""
    conn.execute(select(items).where(items.c.id.between(5, 20))).all()
    conn.execute(update(items).where(items.c.id == bindparam("b_id")).values(v=bindparam("nv")),
                 [{"b_id": n, "nv": f"new{n}"} for n in PATCHED])


def _query(stmt: Any) -> Steps:
    def steps(conn: Connection) -> list[Any]:
        _patch_some(conn)
        return [tuple(r) for r in conn.execute(stmt)]
    return steps


# ------------------------------------------------------------------ read aside of the overlay

@pytest.mark.parametrize("stmt", [
    select(items).where(items.c.id.between(10, 30)).order_by(items.c.id),
    select(items.c.v, items.c.id).where(items.c.k == 5).order_by(items.c.id),
    select(items).where(items.c.w == "w0").order_by(items.c.k.desc(), items.c.id),
    select(items.c.id.label("i"), items.c.v).where(items.c.id > 3).order_by("i").limit(7),
    select(items).where(items.c.id.in_(select(others.c.item_id).where(others.c.id != 9)))
    .order_by(items.c.id),
    select(items.c.id, (items.c.k * 2).label("k2"), items.c.v).where(items.c.id < 15)
    .order_by(items.c.id),
    select(items.c.k, func.count(), func.max(items.c.w)).group_by(items.c.k)
    .order_by(items.c.k),
    select(items.c.w).distinct().where(items.c.id < 30).order_by(items.c.w),
], ids=["range", "picked", "other-field", "label", "subquery", "computed-unpatched", "grouped",
        "distinct"])
def test_query_filtering_on_fields_not_patched_reads_aside(
        both: tuple[Engine, Engine], stmt: Any) -> None:
    rows = _same_on_both(both, _query(stmt), aside=True)
    assert rows and (any(str(value).startswith("new") for row in rows for value in row)
                     or "v" not in {c.name for c in stmt.selected_columns})


def test_query_without_order_has_the_rows_sqlite_has(both: tuple[Engine, Engine]) -> None:
    stmt = select(items).where(items.c.id.between(1, 25))
    rows = _same_on_both(both, lambda c: sorted(_query(stmt)(c)), aside=True)
    assert len(rows) == 25


def test_count_over_patched_documents_reads_aside(both: tuple[Engine, Engine]) -> None:
    """A query of SQL values only (no document picked in Python) counts the same rows."""
    stmt = select(func.count()).select_from(items).where(items.c.k > 2)
    assert _same_on_both(both, _query(stmt), aside=True)


# ------------------------------------------------------------------- the overlay, as before

@pytest.mark.parametrize("stmt", [
    select(items).where(items.c.v.like("new%")).order_by(items.c.id),
    select(items).where(items.c.id < 25).order_by(items.c.v),
    select(items.c.id, func.upper(items.c.v)).where(items.c.id < 25).order_by(items.c.id),
    select(items.c.v.label("label"), items.c.id).order_by("label"),
    select(items).where(items.c.id.in_(select(items.c.id).where(items.c.v == "new9"))),
    select(items.c.id).where(items.c.id.in_(select(others.c.id).where(others.c.v == "o5"))
                             | (items.c.v == "new6")).order_by(items.c.id),
    select(items.c.v).distinct().where(items.c.id < 25).order_by(items.c.v),
    select(items.c.k, func.max(items.c.v)).group_by(items.c.k).order_by(items.c.k),
    select(items, others.c.v).join(others, others.c.item_id == items.c.id).order_by(items.c.id),
], ids=["where-patched", "order-patched", "computed-patched", "label-patched", "subquery-patched",
        "or-patched", "distinct", "grouped", "join"])
def test_query_reading_a_patched_field_in_sql_reads_the_overlay(
        both: tuple[Engine, Engine], stmt: Any) -> None:
    _same_on_both(both, _query(stmt), aside=False)


@pytest.mark.parametrize("write", [
    insert(items).values(id=99, k=3, v="put", w="w0"),
    delete(items).where(items.c.id == 7),
    update(items).where(items.c.id == 8).values(k=items.c.k + 100),
], ids=["put", "delete", "computed"])
def test_a_write_other_than_a_plain_patch_reads_the_overlay(
        both: tuple[Engine, Engine], write: Any) -> None:
    stmt = select(items).where(items.c.id.between(1, 200)).order_by(items.c.id)

    def steps(conn: Connection) -> list[Any]:
        _patch_some(conn)
        conn.execute(write)
        return [tuple(r) for r in conn.execute(stmt)]

    _same_on_both(both, steps, aside=False)


def test_a_load_before_the_first_query_reads_the_overlay(both: tuple[Engine, Engine]) -> None:
    """A document loaded by key before any query may be a version another connection has
    changed since: no way to know which version the pending bodies were made from."""
    stmt = select(items).where(items.c.id.between(1, 12)).order_by(items.c.id)

    def steps(conn: Connection) -> list[Any]:
        loaded = conn.execute(select(items).where(items.c.id == 6)).all()
        conn.execute(update(items).where(items.c.id == 6).values(v="new6"))
        return loaded + [tuple(r) for r in conn.execute(stmt)]

    _same_on_both(both, steps, aside=False)


def test_a_rolled_back_savepoint_keeps_reading_aside(both: tuple[Engine, Engine]) -> None:
    stmt = select(items).where(items.c.id.between(1, 25)).order_by(items.c.id)

    def steps(conn: Connection) -> list[Any]:
        _patch_some(conn)
        nested = conn.begin_nested()
        conn.execute(update(items).where(items.c.id == 3).values(v="gone"))
        nested.rollback()
        return [tuple(r) for r in conn.execute(stmt)]

    rows = _same_on_both(both, steps, aside=True)
    assert ("gone" not in {r[2] for r in rows}) and "new5" in {r[2] for r in rows}


def test_key_kept_as_the_id_reads_the_overlay(tmp_path: Path) -> None:
    eng = create_engine(f"docstore:///{tmp_path / 'store.db'}")
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(keyed), [{"id": f"keyed/{n}", "k": n, "v": f"v{n}"}
                                     for n in range(1, 6)])
    with eng.connect() as conn:
        conn.execute(select(keyed)).all()
        conn.execute(update(keyed).where(keyed.c.id == "keyed/2").values(v="new"))
        got = conn.execute(select(keyed).where(keyed.c.k < 4).order_by(keyed.c.k)).all()
        assert _overlaid(conn, "keyed")
    assert [tuple(r) for r in got] == [("keyed/1", 1, "v1"), ("keyed/2", 2, "new"),
                                       ("keyed/3", 3, "v3")]
    eng.dispose()


# ----------------------------------------------- another connection commits meanwhile

def test_a_commit_by_another_connection_since_the_first_query_reads_the_overlay(
        both: tuple[Engine, Engine]) -> None:
    """The pending document is this transaction's version: another connection moved its k
    out of the range since it was read, yet the transaction's read finds it where its own
    version has it (what the overlay gives; reading the store would lose it)."""
    store, _ = both
    stmt = select(items).where(items.c.k == 5).order_by(items.c.id)
    with store.connect() as conn:
        _patch_some(conn)  # v of item 12 (k 5) changed, pending
        with store.begin() as other:
            other.execute(update(items).where(items.c.id == 12).values(k=6))
        got = [tuple(r) for r in conn.execute(stmt)]
        assert _overlaid(conn)
        conn.rollback()
    assert got == [(n, 5, f"new{n}" if n in PATCHED else f"v{n}", f"w{n % 3}")
                   for n in range(1, 41) if n % 7 == 5]


def test_a_commit_while_the_query_runs_reads_again_over_the_overlay(
        both: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another connection's commit seen only once the aside query ran (its data version read
    after the rows): the rows are read again, over the overlay."""
    store, oracle = both
    stmt = select(items).where(items.c.id.between(4, 22)).order_by(items.c.id)
    with oracle.connect() as conn:
        expected = _query(stmt)(conn)
        conn.rollback()
    calls: list[int] = []
    real = EmbeddedConnection._version

    def moving(self: EmbeddedConnection) -> tuple[int, int]:
        calls.append(1)
        data, schema = real(self)
        return data + (1 if len(calls) >= 2 else 0), schema  # after the first read: changed

    monkeypatch.setattr(EmbeddedConnection, "_version", moving)
    with store.connect() as conn:
        got = _query(stmt)(conn)
        assert _overlaid(conn) and len(calls) >= 2
        conn.rollback()
    assert got == expected


def test_a_schema_change_since_the_first_query_reads_the_overlay(
        both: tuple[Engine, Engine]) -> None:
    """DDL, even this connection's own (it may rewrite stored documents), ends reading the
    store aside for the transaction."""
    stmt = select(items).where(items.c.id.between(1, 25)).order_by(items.c.id)

    def steps(conn: Connection) -> list[Any]:
        _patch_some(conn)
        conn.exec_driver_sql("CREATE INDEX ix_items_w ON items (w)")
        return [tuple(r) for r in conn.execute(stmt)]

    _same_on_both(both, steps, aside=False)


# ------------------------------------------------------------------ the ORM's bulk update

class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))


def _bulk_update(eng: Engine) -> list[tuple[Any, ...]]:
    """SQLAlchemy's examples/performance bulk_updates: ranges read, changed, flushed in turn
    (each range holds the previous one's last, already updated, row)."""
    Base.metadata.create_all(eng)
    with Session(eng) as session:
        session.add_all([Customer(id=n, name=f"c{n}", description=f"d{n}") for n in range(1, 101)])
        session.commit()
    seen = []
    with Session(eng) as session:
        for chunk in range(0, 100, 20):
            customers = session.query(Customer).filter(
                Customer.id.between(chunk, chunk + 20)).all()
            seen += [(c.id, c.description) for c in customers]
            for customer in customers:
                customer.description += "updated"
            session.flush()
        session.commit()
    with Session(eng) as session:
        seen += [(c.id, c.description) for c in session.query(Customer).order_by(Customer.id)]
    return seen


def test_orm_flush_in_ranges_reads_aside_and_commits_what_sqlite_does(
        both: tuple[Engine, Engine]) -> None:
    store, oracle = both
    queries: list[str] = []
    real = EmbeddedConnection._run_aside

    def counted(self: EmbeddedConnection, *args: Any) -> Any:
        queries.append("aside")
        return real(self, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EmbeddedConnection, "_run_aside", counted)
        got = _bulk_update(store)
    assert got == _bulk_update(oracle)
    assert len(queries) == 4  # every range query after the first
    assert (20, "d20updatedupdated") in got  # (the first range's last row, updated twice)
