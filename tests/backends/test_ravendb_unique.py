"""Unique constraints over RavenDB: compare-exchange reservations in cluster-wide batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore.server.node import serve_cluster


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    cluster = serve_cluster(None, "A", databases=["db"])
    eng = sa.create_engine(f"ravendb://{cluster.urls[0].split('://', 1)[1]}/db",
                           pool_size=10)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()
    cluster.close()


def _emails(engine: sa.Engine) -> list[str]:
    with Session(engine) as s:
        return sorted(s.scalars(sa.select(Account.email)))


def test_eight_threads_racing_for_one_email_exactly_one_wins(engine: sa.Engine) -> None:
    outcomes: list[Any] = []
    start = threading.Barrier(8)

    def insert() -> None:
        with Session(engine) as s:
            s.add(Account(email="a@x.example"))
            start.wait()
            try:
                s.commit()
                outcomes.append("ok")
            except sa.exc.IntegrityError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=insert) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 1, outcomes
    assert len(outcomes) == 8
    assert _emails(engine) == ["a@x.example"]


def test_a_value_given_up_can_be_taken_and_case_matters(engine: sa.Engine) -> None:
    with Session(engine) as s:
        s.add_all([Account(id=1, email="old@x"), Account(id=2, email="b@x")])
        s.commit()
    with Session(engine) as s, pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):
        s.get(Account, 2).email = "old@x"  # type: ignore[union-attr]
        s.commit()
    with Session(engine) as s:
        s.get(Account, 1).email = "new@x"  # type: ignore[union-attr]
        s.commit()
    with Session(engine) as s:
        s.get(Account, 2).email = "old@x"  # type: ignore[union-attr]  # free again
        s.add(Account(id=3, email="NEW@x"))  # SQL unique values compare exactly
        s.commit()
    assert _emails(engine) == ["NEW@x", "new@x", "old@x"]
    with Session(engine) as s:
        s.delete(s.get(Account, 1))
        s.commit()
    with Session(engine) as s:
        s.add(Account(id=4, email="new@x"))  # a deleted holder's value is free
        s.commit()
    assert _emails(engine) == ["NEW@x", "new@x", "old@x"]
