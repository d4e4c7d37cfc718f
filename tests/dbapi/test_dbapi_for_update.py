"""SELECT ... FOR UPDATE on a document store: no lock, the documents read are guarded by their
change vectors, so a concurrent change of one fails the commit (README: with_for_update)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    exc,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm.exc import StaleDataError

metadata = MetaData()
accounts = Table("accounts", metadata, Column("id", Integer, primary_key=True),
                 Column("balance", Integer))
#: a unique column: on RavenDB a commit writing it is a cluster-wide batch (no PATCH there)
emails = Table("emails", metadata, Column("id", Integer, primary_key=True),
               Column("address", String(50), unique=True))


@pytest.fixture
def funded(engine: Engine) -> Iterator[Engine]:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(accounts.insert(), [{"id": i, "balance": 100} for i in (1, 2, 3)])
    yield engine


@given(low=st.integers(0, 4), skip=st.booleans(), read=st.booleans())
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_for_update_returns_the_rows_sqlite_returns(funded: Engine, oracle: Engine, low: int,
                                                    skip: bool, read: bool) -> None:
    metadata.create_all(oracle)
    with oracle.begin() as conn:
        conn.execute(accounts.delete())
        conn.execute(accounts.insert(), [{"id": i, "balance": 100} for i in (1, 2, 3)])
    query = (select(accounts).where(accounts.c.id > low).order_by(accounts.c.id)
             .with_for_update(skip_locked=skip, read=read))
    results = []
    for eng in (funded, oracle):
        with eng.begin() as conn:
            results.append(conn.execute(query).all())
    assert results[0] == results[1]


def test_a_concurrent_change_of_a_row_read_for_update_fails_the_commit(funded: Engine) -> None:
    with funded.connect() as mine:
        assert mine.execute(select(accounts.c.balance).where(accounts.c.id == 2)
                            .with_for_update()).scalar() == 100
        with funded.begin() as theirs:
            theirs.execute(update(accounts).where(accounts.c.id == 2).values(balance=0))
        mine.execute(update(accounts).where(accounts.c.id == 1).values(balance=200))
        with pytest.raises(StaleDataError):
            mine.commit()
    with funded.connect() as conn:  # nothing of the failed commit was applied
        assert conn.execute(select(accounts.c.balance).order_by(accounts.c.id)).scalars().all() \
            == [100, 0, 100]


def test_a_concurrent_delete_of_a_row_read_for_update_fails_the_commit(funded: Engine) -> None:
    with funded.connect() as mine:
        mine.execute(select(accounts).where(accounts.c.balance > 0).with_for_update()).all()
        with funded.begin() as theirs:
            theirs.execute(accounts.delete().where(accounts.c.id == 3))
        with pytest.raises(StaleDataError):
            mine.commit()


def test_rows_read_for_update_commit_with_a_write_of_a_unique_column(funded: Engine) -> None:
    """On RavenDB such a commit is cluster-wide, which takes no PATCH: the guards of the rows
    read made every one fail with ProgrammingError ('no final state for document')."""
    with funded.begin() as conn:
        conn.execute(select(accounts).where(accounts.c.id < 3).with_for_update()).all()
        conn.execute(emails.insert(), {"address": "a@x"})
        conn.execute(update(accounts).where(accounts.c.id == 2).values(balance=50))
    with funded.connect() as conn:
        assert conn.execute(select(accounts.c.balance).order_by(accounts.c.id)).scalars().all() \
            == [100, 50, 100]
        assert conn.execute(select(emails.c.address)).scalars().all() == ["a@x"]


def test_a_concurrent_change_of_a_row_read_for_update_fails_a_commit_writing_a_unique_column(
        funded: Engine) -> None:
    with funded.connect() as mine:
        mine.execute(select(accounts).where(accounts.c.id == 2).with_for_update()).all()
        with funded.begin() as theirs:
            theirs.execute(update(accounts).where(accounts.c.id == 2).values(balance=0))
        mine.execute(emails.insert(), {"address": "a@x"})
        with pytest.raises(StaleDataError):
            mine.commit()
    with funded.connect() as conn:  # nothing of the failed commit was applied
        assert conn.execute(select(func.count()).select_from(emails)).scalar() == 0


def test_rows_read_for_update_then_written_commit_when_nobody_else_changed_them(
        funded: Engine) -> None:
    with funded.begin() as conn:
        rows = conn.execute(select(accounts).with_for_update()).all()
        for row in rows:
            conn.execute(update(accounts).where(accounts.c.id == row.id)
                         .values(balance=accounts.c.balance + row.id))
    with funded.connect() as conn:
        assert conn.execute(select(accounts.c.balance).order_by(accounts.c.id)).scalars().all() \
            == [101, 102, 103]


@pytest.mark.parametrize("query, construct", [
    (select(func.count()).select_from(accounts).with_for_update(), "aggregate"),
    (select(accounts.c.balance).distinct().with_for_update(), "DISTINCT"),
])
def test_for_update_over_no_single_row_is_refused_by_name(funded: Engine, query: object,
                                                          construct: str) -> None:
    with funded.connect() as conn, pytest.raises(exc.NotSupportedError, match=construct):
        conn.execute(query)  # type: ignore[call-overload]


def test_for_update_of_a_compound_query_is_refused(funded: Engine) -> None:
    with funded.connect() as conn, pytest.raises(exc.NotSupportedError, match="FOR UPDATE"):
        conn.execute(text("SELECT id FROM accounts UNION SELECT id FROM accounts FOR UPDATE"))
