"""No lost write: single-statement read-modify-write is atomic, on both backends.

An UPDATE whose SET reads the row's own columns is applied to the document as it is when the
batch is applied; where applying later could change the answer the commit fails and applies
nothing. executemany applies each parameter set in turn, as SQL does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm.exc import StaleDataError

md = sa.MetaData()
counters = sa.Table(
    "counters", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("ratio", sa.Float),
    sa.Column("label", sa.String(20)),
)
checked = sa.Table(
    "accounts", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("balance", sa.Integer, sa.CheckConstraint("balance >= 0", name="no_overdraft")),
)
INCREMENT = sa.text("UPDATE counters SET value = value + 1 WHERE id = :id")


@pytest.fixture
def shared_engine(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """An engine many threads share: a file store, or the bundled RavenDB server."""
    if request.param == "docstore":
        eng = sa.create_engine(f"docstore:///{tmp_path / 'store.db'}")
    else:
        eng = sa.create_engine(request.getfixturevalue("ravendb_url"))
    md.create_all(eng)
    yield eng
    eng.dispose()


both = pytest.mark.parametrize("shared_engine", ["docstore", "ravendb"], indirect=True)


def _seed(eng: sa.Engine, **values: Any) -> None:
    with eng.begin() as conn:
        conn.execute(counters.insert(), {"id": 1, "value": 0, **values})


def _value(eng: sa.Engine, column: str = "value") -> Any:
    with eng.connect() as conn:
        return conn.execute(sa.select(counters.c[column]).where(counters.c.id == 1)).scalar_one()


def _run_threads(n: int, work: Callable[[], None]) -> list[BaseException]:
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


@both
def test_concurrent_increments_through_connections_all_count(shared_engine: sa.Engine) -> None:
    _seed(shared_engine)

    def work() -> None:
        for _ in range(50):
            with shared_engine.begin() as conn:
                assert conn.execute(INCREMENT, {"id": 1}).rowcount == 1

    assert _run_threads(8, work) == []
    assert _value(shared_engine) == 400


@both
def test_concurrent_increments_through_scoped_sessions_all_count(
    shared_engine: sa.Engine,
) -> None:
    _seed(shared_engine)
    Session = orm.scoped_session(orm.sessionmaker(bind=shared_engine))

    def work() -> None:
        for _ in range(25):
            with Session() as session, session.begin():
                session.execute(counters.update().where(counters.c.id == 1)
                                .values(value=counters.c.value + 2))
        Session.remove()

    assert _run_threads(8, work) == []
    assert _value(shared_engine) == 400


@both
def test_two_open_transactions_withdrawing_both_count(shared_engine: sa.Engine) -> None:
    _seed(shared_engine, value=100)
    first, second = shared_engine.connect(), shared_engine.connect()
    stmt = counters.update().where(counters.c.id == 1).values(value=counters.c.value - 30)
    first.begin()
    second.begin()
    first.execute(stmt)
    second.execute(stmt)
    # Each transaction reads its own write.
    assert first.execute(sa.select(counters.c.value)).scalar_one() == 70
    first.commit()
    second.commit()
    first.close()
    second.close()
    assert _value(shared_engine) == 40


@both
def test_set_reads_the_old_row_and_builds_on_a_concurrent_commit(
    shared_engine: sa.Engine,
) -> None:
    _seed(shared_engine, value=5, ratio=1.5)
    with shared_engine.connect() as mine:
        mine.begin()
        mine.execute(counters.update().where(counters.c.id == 1).values(
            value=counters.c.value * 2, ratio=counters.c.ratio + counters.c.value))
        with shared_engine.begin() as theirs:
            theirs.execute(INCREMENT, {"id": 1})
        mine.commit()
    # Applied to the committed document (value 6): both columns read the old row.
    assert _value(shared_engine) == 12
    assert _value(shared_engine, "ratio") == 7.5


@both
def test_null_propagates_through_a_computed_set(shared_engine: sa.Engine) -> None:
    _seed(shared_engine, ratio=None)
    with shared_engine.begin() as conn:
        conn.execute(counters.update().values(ratio=counters.c.ratio + 1))
    assert _value(shared_engine, "ratio") is None
    with shared_engine.begin() as conn:
        conn.execute(counters.update().values(
            ratio=sa.func.coalesce(counters.c.ratio, 0) + 0.5))
    assert _value(shared_engine, "ratio") == 0.5


@both
def test_document_deleted_before_commit_fails_the_computed_update(
    shared_engine: sa.Engine,
) -> None:
    _seed(shared_engine)
    with shared_engine.connect() as mine:
        mine.begin()
        assert mine.execute(INCREMENT, {"id": 1}).rowcount == 1
        with shared_engine.begin() as theirs:
            theirs.execute(counters.delete())
        with pytest.raises(StaleDataError):
            mine.commit()
    with shared_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(counters)).scalar() == 0


@both
def test_where_on_other_fields_fails_when_the_row_changed(shared_engine: sa.Engine) -> None:
    _seed(shared_engine, value=10)
    with shared_engine.connect() as mine:
        mine.begin()
        guarded = counters.update().where(counters.c.id == 1, counters.c.value >= 10)
        assert mine.execute(guarded.values(value=counters.c.value - 10)).rowcount == 1
        with shared_engine.begin() as theirs:
            theirs.execute(counters.update().values(value=5))
        with pytest.raises(StaleDataError):
            mine.commit()
    assert _value(shared_engine) == 5


@both
def test_returning_reports_what_is_stored_or_the_commit_fails(shared_engine: sa.Engine) -> None:
    _seed(shared_engine, value=1)
    with shared_engine.connect() as mine:
        mine.begin()
        stmt = counters.update().values(value=counters.c.value + 1).returning(counters.c.value)
        assert mine.execute(stmt).scalar_one() == 2
        with shared_engine.begin() as theirs:
            theirs.execute(INCREMENT, {"id": 1})
        with pytest.raises(StaleDataError):
            mine.commit()
    assert _value(shared_engine) == 2


@both
def test_check_constraint_holds_against_the_value_at_commit(shared_engine: sa.Engine) -> None:
    with shared_engine.begin() as conn:
        conn.execute(checked.insert(), {"id": 1, "balance": 50})
    withdraw = checked.update().where(checked.c.id == 1).values(balance=checked.c.balance - 40)
    with shared_engine.connect() as mine:
        mine.begin()
        mine.execute(withdraw)  # 50 - 40 is fine in this transaction's view
        with shared_engine.begin() as theirs:
            theirs.execute(withdraw)
        with pytest.raises((sa.exc.IntegrityError, StaleDataError)):
            mine.commit()  # 10 - 40 would overdraw: the commit fails, nothing is applied
    with shared_engine.connect() as conn:
        assert conn.execute(sa.select(checked.c.balance)).scalar_one() == 10


@both
def test_not_null_holds_against_the_value_at_commit(shared_engine: sa.Engine) -> None:
    _seed(shared_engine, value=3, ratio=None)
    with pytest.raises(sa.exc.IntegrityError):  # seen already in this transaction's view
        with shared_engine.begin() as conn:
            conn.execute(counters.update().values(value=counters.c.value + counters.c.ratio))
    # Seen only at commit: another transaction empties ratio meanwhile.
    with shared_engine.begin() as conn:
        conn.execute(counters.update().values(ratio=1.0))
    with shared_engine.connect() as mine:
        mine.begin()
        mine.execute(counters.update().where(counters.c.id == 1)
                     .values(value=counters.c.value + counters.c.ratio))
        with shared_engine.begin() as theirs:
            theirs.execute(counters.update().values(ratio=None))
        with pytest.raises(sa.exc.IntegrityError):
            mine.commit()
    assert _value(shared_engine) == 3


# ----------------------------------------------------------------------- executemany


@both
def test_executemany_update_applies_each_set_in_turn(shared_engine: sa.Engine) -> None:
    _seed(shared_engine)
    stmt = sa.text("UPDATE counters SET value = value + :d WHERE id = :id")
    with shared_engine.begin() as conn:
        result = conn.execute(stmt, [{"d": 1, "id": 1}, {"d": 1, "id": 1}])
        assert result.rowcount == 2
    assert _value(shared_engine) == 2


@both
def test_executemany_rename_chain_follows_earlier_sets(shared_engine: sa.Engine) -> None:
    _seed(shared_engine, label="a")
    stmt = sa.text("UPDATE counters SET label = :new WHERE label = :old")
    with shared_engine.begin() as conn:
        result = conn.execute(stmt, [{"old": "a", "new": "x"}, {"old": "x", "new": "y"}])
        assert result.rowcount == 2
    assert _value(shared_engine, "label") == "y"


@both
def test_executemany_key_change_chain(shared_engine: sa.Engine) -> None:
    _seed(shared_engine)
    stmt = sa.text("UPDATE counters SET id = :new WHERE id = :old")
    with shared_engine.begin() as conn:
        assert conn.execute(stmt, [{"old": 1, "new": 2}, {"old": 2, "new": 3}]).rowcount == 2
    with shared_engine.connect() as conn:
        assert conn.execute(sa.select(counters.c.id)).scalars().all() == [3]


@both
def test_executemany_delete_of_one_row_twice_counts_once_and_commits(
    shared_engine: sa.Engine,
) -> None:
    _seed(shared_engine)
    with shared_engine.begin() as conn:
        conn.execute(counters.insert(), {"id": 2, "value": 0})
    stmt = sa.text("DELETE FROM counters WHERE id = :id")
    with shared_engine.begin() as conn:
        assert conn.execute(stmt, [{"id": 1}, {"id": 1}, {"id": 2}]).rowcount == 2
    with shared_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(counters)).scalar() == 0
