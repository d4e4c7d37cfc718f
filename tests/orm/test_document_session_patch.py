"""RavenDB's session.advanced.increment() / patch() / ignore_changes_for(), and the parts of its
session API a DocumentSession lacks refused by name. What RavenDB's client does on the same
calls (run against the bundled server): increment adds on the server when save_changes() sends
the batch (a missing field becomes the value added), so concurrent increments add up; patch sets
the field whatever else changed it; ignore_changes_for keeps the entity tracked and never saves
its changes. Both backends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_docstore import DocumentStore, errors
from sqla_docstore.orm.unsupported import UnsupportedSessionFeatureError


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    views: Mapped[int | None]
    tags: Mapped[list[str] | None] = mapped_column(sa.JSON)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sold: Mapped[int]


@pytest.fixture(params=["docstore", "ravendb"])
def doc_store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[DocumentStore]:
    if request.param == "docstore":
        url = f"docstore:///{tmp_path}/patch.db"  # a file: threads commit concurrently
    else:
        url = request.getfixturevalue("ravendb_url")
    with DocumentStore(url=url, metadata=Base.metadata) as st:
        yield st


@pytest.fixture
def post_id(doc_store: DocumentStore) -> int:
    with doc_store.open_session() as s:
        p = Post(title="first", tags=["t"])
        s.store(p)
        s.save_changes()
        return p.id


def _post(doc_store: DocumentStore, post_id: int) -> tuple[str, int | None]:
    with doc_store.open_session() as s:
        p = s.load(post_id, Post)
        return p.title, p.views


def test_concurrent_increments_all_add_up(doc_store: DocumentStore, post_id: int) -> None:
    def bump() -> None:
        for _ in range(10):
            with doc_store.open_session() as s:
                s.advanced.increment(f"posts/{post_id}", "views", 1)
                s.save_changes()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _post(doc_store, post_id) == ("first", 40)  # the missing field started at 0


def test_increment_under_a_tracked_change_is_not_lost(
        doc_store: DocumentStore, post_id: int) -> None:
    with doc_store.open_session() as s:
        p = s.load(post_id, Post)
        p.title = "edited"
        s.advanced.increment(p, "views", 5)
        with doc_store.open_session() as other:  # commits between our load and our save
            other.advanced.increment(post_id, "views", 2, object_type=Post)
            other.save_changes()
        s.save_changes()
        assert p.views == 7  # read again: the value the store has, not a stale one
    assert _post(doc_store, post_id) == ("edited", 7)


def test_patch_sets_the_field_and_nothing_is_sent_before_save_changes(
        doc_store: DocumentStore, post_id: int) -> None:
    with doc_store.open_session() as s:
        p = s.load(post_id, Post)
        s.advanced.patch(p, "title", "patched")
        assert _post(doc_store, post_id) == ("first", None)
        s.save_changes()
    assert _post(doc_store, post_id) == ("patched", None)


def test_patch_of_a_nested_path_or_an_unknown_field_is_refused(
        doc_store: DocumentStore, post_id: int) -> None:
    with doc_store.open_session() as s:
        p = s.load(post_id, Post)
        with pytest.raises(errors.NotSupportedError, match="nested path 'title.x'"):
            s.advanced.patch(p, "title.x", 1)
        with pytest.raises(errors.NotSupportedError, match="'nope'"):
            s.advanced.increment(p, "nope", 1)


def test_ignored_changes_are_not_saved_and_the_entity_stays_tracked(
        doc_store: DocumentStore, post_id: int) -> None:
    with doc_store.open_session() as s:
        p = s.load(post_id, Post)
        s.advanced.ignore_changes_for(p)
        p.tags.append("not saved")  # in place: the only change
        assert not s.advanced.has_changes()
        s.save_changes()
        p.title = "not saved either"
        assert not s.advanced.has_changes()
        s.save_changes()
        assert s.load(post_id, Post) is p
        fresh = Post(title="new, ignored")
        s.store(fresh)
        s.advanced.ignore_changes_for(fresh)
        s.save_changes()
        fresh_id = fresh.id
    assert _post(doc_store, post_id) == ("first", None)
    with doc_store.open_session() as s:
        assert s.load(fresh_id, Post) is None
        assert s.load(post_id, Post).tags == ["t"]


def test_ravendb_session_features_it_lacks_are_refused_by_name(
        doc_store: DocumentStore) -> None:
    with doc_store.open_session() as s:
        with pytest.raises(UnsupportedSessionFeatureError, match="include"):
            s.include("company")
        with pytest.raises(errors.NotSupportedError, match="wait_for_indexes_after_save"):
            s.advanced.wait_for_indexes_after_save_changes()
        with pytest.raises(UnsupportedSessionFeatureError, match=r"select\(Model\)"):
            s.query(object_type=Post)
        assert s.query(Post).count() == 0  # SQLAlchemy's form
        assert not hasattr(s.advanced, "lazily")
        with pytest.raises(AttributeError, match="no_such_thing"):
            s.advanced.no_such_thing  # noqa: B018


def test_increment_by_a_key_that_is_no_int_or_str(doc_store: DocumentStore) -> None:
    key = uuid.uuid4()
    with doc_store.open_session() as s:
        s.store(Ticket(id=key, sold=1))
        s.save_changes()
    with doc_store.open_session() as s:
        s.advanced.increment(key, "sold", 2, object_type=Ticket)
        s.save_changes()
    with doc_store.open_session() as s:
        assert s.load(key, Ticket).sold == 3
