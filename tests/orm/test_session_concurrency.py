"""Concurrent DocumentSessions on the embedded store: field-level updates, unmapped fields,
unique constraints under racing threads, version_id_col."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import DocumentStore


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(50))


class Seat(Base):
    """A composite UniqueConstraint."""

    __tablename__ = "seats"
    id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[int]
    number: Mapped[int]
    __table_args__ = (UniqueConstraint("row", "number"),)


class Counter(Base):
    __tablename__ = "counters"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int]
    version: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__ = {"version_id_col": version}


@pytest.fixture(params=["memory", "file"])
def doc_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "memory" else f"docstore:///{tmp_path / 'app.db'}"
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


@pytest.fixture
def account_id(doc_store: DocumentStore) -> int:
    with doc_store.open_session() as s:
        a = Account(email="a@x", name="Ann", city="Oslo")
        s.store(a)
        s.save_changes()
        return a.id


def test_field_level_updates_of_different_fields_both_survive(doc_store: DocumentStore,
                                                              account_id: int) -> None:
    with doc_store.open_session() as s1, doc_store.open_session() as s2:
        s1.load(account_id, Account).name = "Anna"
        s2.load(account_id, Account).city = "Bergen"
        s1.save_changes()
        s2.save_changes()
    with doc_store.open_session() as s:
        a = s.load(account_id, Account)
        assert (a.name, a.city) == ("Anna", "Bergen")


def test_updates_keep_fields_the_model_does_not_map(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with DocumentStore(url=f"docstore:///{path}", metadata=Base.metadata) as st:
        with st.open_session() as s:
            a = Account(email="legacy@x", name="Old")
            s.store(a)
            s.save_changes()
        with sqlite3.connect(path) as raw:  # another application wrote an extra field
            (body,) = raw.execute('SELECT body FROM "@docs/accounts" WHERE id = ?',
                                  (f"accounts/{a.id}",)).fetchone()
            doc = json.loads(body)
            doc["legacy"] = {"kept": True}
            raw.execute('UPDATE "@docs/accounts" SET body = ? WHERE id = ?',
                        (json.dumps(doc), f"accounts/{a.id}"))
        with st.open_session() as s:
            s.load(a.id, Account).name = "New"
            s.save_changes()
    with sqlite3.connect(path) as raw:
        (body,) = raw.execute('SELECT body FROM "@docs/accounts" WHERE id = ?',
                              (f"accounts/{a.id}",)).fetchone()
    stored = json.loads(body)
    assert stored["name"] == "New" and stored["legacy"] == {"kept": True}


def _race(doc_store: DocumentStore, make: object, threads: int = 8) -> tuple[int, list[str]]:
    """Each thread stores make() in its own session and saves; (successes, error names)."""
    barrier = threading.Barrier(threads)
    ok: list[int] = []
    failures: list[str] = []

    def work() -> None:
        with doc_store.open_session() as s:
            s.store(make())  # type: ignore[operator]
            barrier.wait()
            try:
                s.save_changes()
                ok.append(1)
            except IntegrityError:
                failures.append("IntegrityError")
            except Exception as exc:  # pragma: no cover - reported by the assertion
                failures.append(repr(exc))

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(ok), failures


def test_unique_email_holds_under_8_racing_threads(doc_store: DocumentStore) -> None:
    successes, failures = _race(doc_store, lambda: Account(email="same@x"))
    assert successes == 1
    assert failures == ["IntegrityError"] * 7
    with doc_store.open_session() as s:
        assert len(s.scalars(select(Account).where(Account.email == "same@x")).all()) == 1


def test_composite_unique_constraint_holds_under_racing_threads(
        doc_store: DocumentStore) -> None:
    successes, failures = _race(doc_store, lambda: Seat(row=1, number=7))
    assert (successes, len(failures)) == (1, 7)
    assert set(failures) == {"IntegrityError"}


def test_unique_violation_within_one_session(doc_store: DocumentStore, account_id: int) -> None:
    with doc_store.open_session() as s:
        s.store(Account(email="a@x"))
        with pytest.raises(IntegrityError):
            s.save_changes()


def test_version_id_col_keeps_working_in_a_document_session(doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        c = Counter(value=0)
        s.store(c)
        s.save_changes()
        cid = c.id
    with doc_store.open_session() as s1, doc_store.open_session() as s2:
        s1.load(cid, Counter).value = 1
        s2.load(cid, Counter).value = 2
        s1.save_changes()
        with pytest.raises(StaleDataError):
            s2.save_changes()
    with doc_store.open_session() as s:
        c = s.load(cid, Counter)
        assert (c.value, c.version) == (1, 2)
