"""SQLAlchemy's "join a Session into an external transaction" recipe leaves the store untouched.

Application code under test commits, rolls back and uses savepoints; the outer rollback must
discard all of it, as seen by a fresh engine and by stdlib sqlite3 reading the store's file.
Also exercises the pytest plugin's ``docstore_connection`` / ``docstore_session`` fixtures.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, ForeignKey, String, create_engine, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

import sqla_docstore

pytest_plugins = ["pytester"]


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "fx_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(30))
    balance: Mapped[int]
    entries: Mapped[list[Entry]] = relationship(back_populates="account",
                                                cascade="all, delete-orphan")


class Entry(Base):
    __tablename__ = "fx_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("fx_accounts.id"))
    amount: Mapped[int]
    account: Mapped[Account] = relationship(back_populates="entries")


# ------------------------------------------------------------------ application code


class InsufficientFunds(Exception):
    pass


def open_account(session: Session, owner: str, balance: int) -> int:
    account = Account(owner=owner, balance=balance, entries=[Entry(amount=balance)])
    session.add(account)
    session.commit()
    return account.id


def transfer(session: Session, source: int, target: int, amount: int) -> None:
    """Commits on success, rolls back (and re-raises) on failure, like typical service code."""
    try:
        src = session.get(Account, source)
        dst = session.get(Account, target)
        assert src is not None and dst is not None
        src.balance -= amount
        dst.balance += amount
        src.entries.append(Entry(amount=-amount))
        dst.entries.append(Entry(amount=amount))
        session.flush()
        if src.balance < 0:
            raise InsufficientFunds(src.owner)
        session.commit()
    except Exception:
        session.rollback()
        raise


def close_account(session: Session, account_id: int) -> None:
    account = session.get(Account, account_id)
    session.delete(account)
    session.commit()


def audit_with_savepoint(session: Session) -> int:
    """Writes inside begin_nested(), then discards them; returns what the savepoint saw."""
    nested = session.begin_nested()
    session.add(Account(owner="audit", balance=0))
    session.flush()
    seen = session.scalar(select(func.count()).select_from(Account)) or 0
    nested.rollback()
    return seen


# ----------------------------------------------------------------------------- helpers


def _snapshot_sql(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            "accounts": [tuple(r) for r in conn.execute(
                select(Account.id, Account.owner, Account.balance).order_by(Account.id))],
            "entries": [tuple(r) for r in conn.execute(
                select(Entry.id, Entry.account_id, Entry.amount).order_by(Entry.id))],
        }


def _snapshot_file(path: Path) -> list[tuple[Any, ...]]:
    """Every row of every table in the SQLite file, read with stdlib sqlite3 (no sqla_docstore).

    Except ``@hilo``: id ranges are reserved outside transactions (as sequences are), so a
    rolled-back transaction may have reserved one.
    """
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != '@hilo' "
            "ORDER BY name")]
        rows: list[tuple[Any, ...]] = []
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            rows += [(table, *r) for r in conn.execute(f"SELECT * FROM {quoted} ORDER BY 1")]
        return rows
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "fixture.db"
    url = f"docstore:///{path}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        open_account(session, "seed-a", 100)
        open_account(session, "seed-b", 50)
    engine.dispose()
    yield url, path


# ------------------------------------------------------------------------------- tests


def test_recipe_leaves_store_untouched(store: tuple[str, Path]) -> None:
    url, path = store
    fresh = create_engine(url)
    before_sql = _snapshot_sql(fresh)
    fresh.dispose()
    before_file = _snapshot_file(path)
    assert [r[1] for r in before_sql["accounts"]] == ["seed-a", "seed-b"]

    engine = create_engine(url)
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        a, b = before_sql["accounts"][0][0], before_sql["accounts"][1][0]

        new_id = open_account(session, "carol", 30)
        transfer(session, a, new_id, 40)
        with pytest.raises(InsufficientFunds):
            transfer(session, b, new_id, 500)  # the app rolls back its own savepoint
        assert audit_with_savepoint(session) == 4
        session.execute(update(Account).where(Account.owner == "seed-b").values(balance=7))
        session.commit()
        close_account(session, a)

        # The test sees everything the app committed (it is still in the outer transaction).
        balances = dict(session.execute(select(Account.owner, Account.balance)).all())
        assert balances == {"seed-b": 7, "carol": 70}
        # seed-a and its entries are gone; seed-b has 1 entry, carol 2.
        assert conn.scalar(select(func.count()).select_from(Entry)) == 3
        assert conn.scalar(select(func.sum(Entry.amount))) == 50 + 30 + 40
        counts = sqla_docstore.request_counts(session)
        assert counts.get("batch", 0) == 0  # nothing reached the store

        session.close()
        trans.rollback()
    engine.dispose()

    fresh = create_engine(url)
    assert _snapshot_sql(fresh) == before_sql
    with fresh.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Account)) == 2
    fresh.dispose()
    assert _snapshot_file(path) == before_file


def test_recipe_outer_rollback_after_app_error(store: tuple[str, Path]) -> None:
    """An exception escaping the app mid-flush still leaves nothing behind."""
    url, path = store
    before_file = _snapshot_file(path)
    engine = create_engine(url)
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        session.add_all([Account(owner=f"bulk{i}", balance=i) for i in range(500)])
        session.commit()
        assert session.scalar(select(func.count()).select_from(Account)) == 502
        session.add(Account(owner="x", balance=1))
        session.flush()
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Account)) == 502
        session.close()
        trans.rollback()
        assert conn.scalar(select(func.count()).select_from(Account)) == 2
    engine.dispose()
    assert _snapshot_file(path) == before_file


def test_recipe_commits_when_outer_transaction_commits(store: tuple[str, Path]) -> None:
    """The control: the same recipe with an outer commit does reach the store, in one batch."""
    url, path = store
    engine = create_engine(url)
    (a, *_), (b, *_) = _snapshot_sql(engine)["accounts"]
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        open_account(session, "dave", 5)
        with pytest.raises(InsufficientFunds):
            transfer(session, a, b, 10_000)
        open_account(session, "erin", 6)
        session.close()
        before = sqla_docstore.request_counts(conn).get("batch", 0)
        trans.commit()
        assert sqla_docstore.request_counts(conn).get("batch", 0) == before + 1
    engine.dispose()
    fresh = create_engine(url)
    owners = [r[1] for r in _snapshot_sql(fresh)["accounts"]]
    fresh.dispose()
    assert owners == ["seed-a", "seed-b", "dave", "erin"]


# ------------------------------------------------------------------- plugin fixtures


@pytest.fixture
def tables(docstore_engine: Engine) -> None:
    Base.metadata.create_all(docstore_engine)


def test_plugin_session_sees_app_commits(tables: None, docstore_session: Session,
                                         docstore_connection: Any) -> None:
    a = open_account(docstore_session, "alice", 10)
    b = open_account(docstore_session, "bob", 0)
    transfer(docstore_session, a, b, 4)
    with pytest.raises(InsufficientFunds):
        transfer(docstore_session, b, a, 100)
    assert audit_with_savepoint(docstore_session) == 3
    rows = docstore_connection.execute(
        select(Account.owner, Account.balance).order_by(Account.owner)).all()
    assert [tuple(r) for r in rows] == [("alice", 6), ("bob", 4)]
    assert docstore_session.get_bind() is docstore_connection
    # Counted as production would send them: the app's three commits (the failed transfer
    # rolled back). Nothing reaches the store: see the file-store test below.
    assert sqla_docstore.request_counts(docstore_connection).get("batch", 0) == 3


def test_plugin_fixtures_roll_back_a_file_store(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Run a test file that uses the plugin fixtures against a file store in a child pytest,
    then check the file: the app's commits there must all have been rolled back."""
    path = tmp_path / "plugin.db"
    url = f"docstore:///{path}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        open_account(session, "seed", 1)
    engine.dispose()
    before = _snapshot_file(path)

    pytester.makepyfile(test_app=textwrap.dedent("""
        from sqlalchemy import func, select, text
        from sqlalchemy.orm import Session

        from integration.test_transactional_fixture import Account, open_account, transfer


        def test_app_commits(docstore_session: Session, docstore_connection) -> None:
            a = open_account(docstore_session, "x", 10)
            b = open_account(docstore_session, "y", 0)
            transfer(docstore_session, a, b, 3)
            n = docstore_connection.scalar(select(func.count()).select_from(Account))
            assert n == 3


        def test_store_seen_by_next_test(docstore_session: Session) -> None:
            # The previous test's commits were rolled back when its fixtures ended.
            owners = docstore_session.scalars(select(Account.owner)).all()
            assert owners == ["seed"]
    """))
    tests_dir = Path(__file__).resolve().parents[1]
    result = pytester.runpytest_subprocess(
        f"--docstore-url={url}", "-p", "no:cacheprovider", "-q",
        f"--rootdir={pytester.path}", "-o", f"pythonpath={tests_dir}",
    )
    result.assert_outcomes(passed=2)
    assert _snapshot_file(path) == before
