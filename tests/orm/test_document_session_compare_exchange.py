"""A compare-exchange value read in a cluster-wide session is tracked, as RavenDB's session
tracks it: a change of its ``.value`` is saved by save_changes() (a PUT at the index it was read
with), and a concurrent change of the same key fails the commit. Before, the change was silently
not saved. Both backends; the official client saves the same assignment and raises
ConcurrencyException on the same race (run against the bundled server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import DocumentStore, SessionOptions, TransactionMode


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


@pytest.fixture(params=["docstore", "ravendb"])
def doc_store(request: pytest.FixtureRequest) -> Iterator[DocumentStore]:
    url = "docstore://" if request.param == "docstore" else request.getfixturevalue("ravendb_url")
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        with st.open_session(session_options=_cluster_wide()) as s:
            s.advanced.cluster_transaction.create_compare_exchange_value("emails/a", {"n": 1})
            s.save_changes()
        yield st


def _cluster_wide() -> SessionOptions:
    return SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)


def _value(doc_store: DocumentStore) -> object:
    with doc_store.open_session(session_options=_cluster_wide()) as s:
        item = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a")
        assert item is not None
        return item.value


def test_a_changed_value_is_saved(doc_store: DocumentStore) -> None:
    with doc_store.open_session(session_options=_cluster_wide()) as s:
        item = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a")
        assert item is not None
        item.value = {"n": 2}
        s.save_changes()
    assert _value(doc_store) == {"n": 2}
    with doc_store.open_session(session_options=_cluster_wide()) as s:
        item = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a")
        assert item is not None
        item.value["n"] = 3  # in place
        s.save_changes()
    assert _value(doc_store) == {"n": 3}


def test_a_value_changed_meanwhile_fails_the_commit_with_the_documents(
        doc_store: DocumentStore) -> None:
    with doc_store.open_session(session_options=_cluster_wide()) as s1, \
            doc_store.open_session(session_options=_cluster_wide()) as s2:
        first = s1.advanced.cluster_transaction.get_compare_exchange_value("emails/a")
        second = s2.advanced.cluster_transaction.get_compare_exchange_value("emails/a")
        assert first is not None and second is not None
        first.value = {"n": 10}
        s1.save_changes()
        second.value = {"n": 20}
        account = Account(name="written with it")
        s2.store(account)
        account_id = account.id
        with pytest.raises(StaleDataError):
            s2.save_changes()
    assert _value(doc_store) == {"n": 10}
    with doc_store.open_session() as s:
        assert s.load(account_id, Account) is None  # nothing of the failed batch was applied


def test_an_unchanged_value_sends_nothing(doc_store: DocumentStore) -> None:
    with doc_store.open_session(session_options=_cluster_wide()) as s:
        item = s.advanced.cluster_transaction.get_compare_exchange_value("emails/a")
        assert item is not None
        s.save_changes()
        assert s.advanced.number_of_requests == 1  # the read; no batch
