"""Unique constraints over RavenDB: compare-exchange reservations in cluster-wide batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore.backends.ravendb.connection import RavenConnection
from sqla_docstore.testing.server.node import serve_cluster


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


def _url(engine: sa.Engine) -> str:
    return f"http://{engine.url.host}:{engine.url.port}/databases/{engine.url.database}"


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


def test_a_value_held_by_a_document_the_commit_creates_then_deletes_is_free(
        engine: sa.Engine) -> None:
    with Session(engine) as s:  # (INSERT OR REPLACE and a key change do this in one commit)
        s.add(Account(id=1, email="a@x"))
        s.flush()
        s.delete(s.get(Account, 1))
        s.flush()
        s.add(Account(id=2, email="a@x"))
        s.commit()
    assert _emails(engine) == ["a@x"]
    with Session(engine) as s, pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):
        s.add(Account(id=3, email="b@x"))
        s.add(Account(id=4, email="b@x"))  # (both kept: still taken twice)
        s.commit()


def test_a_duplicate_insert_never_overwrites_the_stored_document(engine: sa.Engine) -> None:
    with Session(engine) as s:
        s.add(Account(id=1, email="first@x"))
        s.commit()
    with Session(engine) as s, pytest.raises(sa.exc.IntegrityError):
        s.add(Account(id=1, email="second@x"))
        s.commit()
    assert _emails(engine) == ["first@x"]


def test_a_duplicate_insert_of_a_document_written_outside_cluster_transactions_fails(
        engine: sa.Engine) -> None:
    # Another client's single-node write: no atomic guard protects this document.
    doc = {"id": 5, "email": "theirs@x", "@metadata": {"@collection": "accounts"}}
    requests.post(f"{_url(engine)}/bulk_docs", timeout=10, json={"Commands": [
        {"Id": "accounts/5", "ChangeVector": None, "Document": doc, "Type": "PUT"}]},
    ).raise_for_status()
    with Session(engine) as s, pytest.raises(sa.exc.IntegrityError):
        s.add(Account(id=5, email="mine@x"))
        s.commit()
    assert _emails(engine) == ["theirs@x"]


def test_a_value_taken_back_by_its_owner_while_a_racer_takes_it_is_held_once(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(engine) as s:
        s.add(Account(id=1, email="a@x"))
        s.commit()
    with Session(engine) as s:
        s.get(Account, 1).email = "b@x"  # type: ignore[union-attr]  # "a@x" is free now
        s.commit()
    read_owner = RavenConnection._current_unique_keys
    raced: list[bool] = []

    def owner_takes_it_back_meanwhile(self: Any, collection: str, doc_id: str) -> Any:
        found = read_owner(self, collection, doc_id)  # the racer sees a stale reservation
        if not raced:
            raced.append(True)
            with Session(engine) as owner:
                owner.get(Account, 1).email = "a@x"  # type: ignore[union-attr]
                owner.commit()
        return found

    monkeypatch.setattr(RavenConnection, "_current_unique_keys", owner_takes_it_back_meanwhile)
    with Session(engine) as s, pytest.raises(sa.exc.IntegrityError):
        s.add(Account(id=2, email="a@x"))
        s.commit()
    monkeypatch.undo()
    assert raced and _emails(engine) == ["a@x"]


def test_ids_can_be_created_again_after_the_collection_is_dropped(engine: sa.Engine) -> None:
    with Session(engine) as s:
        s.add(Account(id=1, email="a@x"))
        s.commit()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Account(id=1, email="a@x"))  # its atomic guard went with the deleted document
        s.commit()
    assert _emails(engine) == ["a@x"]


class Counter(Base):
    """A collection without unique constraints: written single-node, so its documents have no
    atomic guard that a cluster-wide batch could check."""

    __tablename__ = "counters"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]
    tag: Mapped[str]


UPDATES = {
    "computed": sa.update(Counter).where(Counter.id == 1).values(n=Counter.n + 1),
    "by key": sa.update(Counter).where(Counter.id == 1).values(tag="mine"),
    "by filter": sa.update(Counter).where(Counter.tag == "x").values(n=100),
}


@pytest.mark.parametrize("update", list(UPDATES))
def test_a_document_changed_meanwhile_fails_a_cluster_wide_commit_that_updates_it(
        engine: sa.Engine, update: str) -> None:
    """Writing a unique column makes the batch cluster-wide, where an update is a PUT of the
    whole document as this transaction leaves it, guarded only by RavenDB's atomic guard,
    which a single-node write never moves: the other transaction's commit was overwritten,
    silently. Now the documents it updates are checked just before the batch is sent."""
    with engine.begin() as conn:
        conn.execute(sa.insert(Counter), {"id": 1, "n": 1, "tag": "x"})
    with engine.connect() as mine:
        mine.execute(sa.insert(Account), {"email": "a@x"})
        mine.execute(UPDATES[update])
        with engine.begin() as theirs:
            theirs.execute(sa.update(Counter).values(n=10, tag="theirs"))
        with pytest.raises(sa.orm.exc.StaleDataError, match="counters/1"):
            mine.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.select(Counter.n, Counter.tag)).one() == (10, "theirs")
    assert _emails(engine) == []


def test_a_cluster_wide_commit_updating_an_unchanged_document_applies(
        engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Counter), {"id": 1, "n": 1, "tag": "x"})
    with engine.begin() as conn:
        conn.execute(sa.insert(Account), {"email": "a@x"})
        conn.execute(UPDATES["computed"])
        conn.execute(sa.delete(Counter).where(Counter.id == 2))  # (none: nothing to check)
    with engine.connect() as conn:
        assert conn.execute(sa.select(Counter.n, Counter.tag)).one() == (2, "x")
    assert _emails(engine) == ["a@x"]


def test_a_document_written_single_node_since_a_cluster_wide_write_takes_another(
        engine: sa.Engine) -> None:
    """The bundled server dropped the cluster-transaction entry (RAFT) from a document's
    change vector at a single-node write, where RavenDB merges change vectors: the atomic
    guard no longer matched the version read, so every later cluster-wide write of the
    document failed (StaleDataError), with nobody else writing."""
    with engine.begin() as conn:
        conn.execute(sa.insert(Counter), {"id": 1, "n": 1, "tag": "x"})
    for n, email in enumerate(["a@x", "b@x"]):
        with engine.begin() as conn:  # cluster-wide: a unique column
            conn.execute(sa.insert(Account), {"email": email})
            conn.execute(UPDATES["computed"])
        with engine.begin() as conn:  # single-node
            conn.execute(sa.update(Counter).values(tag=f"plain {n}"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(Counter.n, Counter.tag)).one() == (3, "plain 1")
    assert _emails(engine) == ["a@x", "b@x"]


def test_a_cluster_wide_update_keeps_the_metadata_other_clients_wrote(
        engine: sa.Engine) -> None:
    """An update in a cluster-wide batch is a PUT of the whole document: its metadata was
    replaced by the collection alone, dropping Raven-Python-Type & co. (a PATCH keeps them)."""
    requests.post(f"{_url(engine)}/bulk_docs", timeout=10, json={"Commands": [{
        "Id": "counters/1", "ChangeVector": None, "Type": "PUT", "Document": {
            "id": 1, "n": 1, "tag": "x", "Other": "kept",
            "@metadata": {"@collection": "counters", "Raven-Python-Type": "app.Counter"}}}],
    }).raise_for_status()
    with engine.begin() as conn:
        conn.execute(sa.insert(Account), {"email": "a@x"})
        conn.execute(UPDATES["computed"])
    doc = requests.get(f"{_url(engine)}/docs", params={"id": "counters/1"},
                       timeout=10).json()["Results"][0]
    assert doc["@metadata"]["Raven-Python-Type"] == "app.Counter"
    assert doc["@metadata"]["@collection"] == "counters"
    assert (doc["n"], doc["Other"]) == (2, "kept")
