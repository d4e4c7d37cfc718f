"""The ORM on ``docstore://``: sessions, unit of work, relationships and loaders, bulk DML,
optimistic concurrency, and the batching the store promises (one batch per commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    String,
    Table,
    delete,
    exc,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    scoped_session,
    selectinload,
    sessionmaker,
)
from sqlalchemy.orm.exc import StaleDataError

import sqla_docstore


class Base(DeclarativeBase):
    pass


post_tags = Table(
    "post_tags", Base.metadata,
    Column("post_id", ForeignKey("posts.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    age: Mapped[int | None]
    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Address.email"
    )
    posts: Mapped[list[Post]] = relationship(back_populates="author", order_by="Post.title")


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author: Mapped[User | None] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, back_populates="posts",
                                           order_by="Tag.name")


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    posts: Mapped[list[Post]] = relationship(secondary=post_tags, back_populates="tags",
                                             order_by="Post.title")


class Versioned(Base):
    __tablename__ = "versioned"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__ = {"version_id_col": version}


class Country(Base):
    """A string primary key chosen by the application."""

    __tablename__ = "countries"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Membership(Base):
    """A composite primary key."""

    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    group: Mapped[str] = mapped_column(String(20), primary_key=True)
    since: Mapped[dt.date | None]


@pytest.fixture
def db(engine: Engine) -> Engine:
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def Sess(db: Engine) -> sessionmaker[Session]:  # noqa: N802 - a class-like factory
    return sessionmaker(bind=db)


@pytest.fixture
def blog(Sess: sessionmaker[Session]) -> dict[str, int]:  # noqa: N803
    """Two users with addresses, three posts, three tags; returns ids by name."""
    with Sess() as s:
        python, sql, orm = Tag(name="python"), Tag(name="sql"), Tag(name="orm")
        alice = User(name="alice", age=30, addresses=[Address(email="a@x"), Address(email="a@y")])
        bob = User(name="bob", age=25, addresses=[Address(email="b@x")])
        s.add_all([
            alice, bob,
            Post(title="p1", author=alice, tags=[python, sql]),
            Post(title="p2", author=alice, tags=[orm]),
            Post(title="p3", author=bob, tags=[python, orm, sql]),
        ])
        s.commit()
        return {"alice": alice.id, "bob": bob.id, "python": python.id}


def _names(session: Session) -> list[str]:
    return list(session.scalars(select(User.name).order_by(User.name)))


# ------------------------------------------------------------------ sessions


def test_issue_example(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as session, Sess() as observer:
        session.add_all([User(name="Alice", addresses=[Address(email="a@x")]), User(name="Bob")])
        session.flush()
        alice = session.scalars(select(User).where(User.name == "Alice")).one()
        assert alice.id is not None
        assert alice.addresses[0].user_id == alice.id
        assert _names(observer) == []  # nothing reached the store yet
        observer.rollback()
        session.commit()
        assert sqla_docstore.request_counts(session).get("batch") == 1
        assert _names(observer) == ["Alice", "Bob"]


def test_commit_is_one_batch_whatever_the_number_of_objects(
    Sess: sessionmaker[Session],  # noqa: N803
) -> None:
    with Sess() as s:
        for i in range(200):
            u = User(name=f"u{i}", addresses=[Address(email=f"{i}@x")])
            s.add_all([u, Post(title=f"t{i}", author=u, tags=[Tag(name=f"g{i}")])])
        s.commit()
        assert sqla_docstore.request_counts(s)["batch"] == 1
        s.scalars(select(User).where(User.name == "u1")).one().age = 5
        s.delete(s.scalars(select(Tag).where(Tag.name == "g2")).one())
        s.add(User(name="more"))
        s.commit()
        assert sqla_docstore.request_counts(s)["batch"] == 2
    with Sess() as s:
        assert s.scalar(select(func.count()).select_from(Address)) == 200
        assert s.scalar(select(func.count()).select_from(post_tags)) == 199


def test_read_only_session_sends_no_batch(Sess: sessionmaker[Session],  # noqa: N803
                                          blog: dict[str, int]) -> None:
    with Sess() as s:
        _names(s)
        s.commit()
        assert "batch" not in sqla_docstore.request_counts(s)


def test_flush_of_n_objects_is_one_executemany(
    db: Engine, Sess: sessionmaker[Session], execute_counter: Any,  # noqa: N803
) -> None:
    seen = execute_counter(db)
    with Sess() as s:
        s.add_all([User(name=f"u{i}", age=i) for i in range(100)])
        s.flush()
        inserts = [(stmt, many) for stmt, many in seen if stmt.startswith("INSERT")]
        assert len(inserts) == 1 and inserts[0][1] is True
        assert len(seen) == 1
        ids = [u.id for u in s.scalars(select(User).order_by(User.id))]
        assert len(set(ids)) == 100 and None not in ids
        s.commit()


def test_rollback_discards_and_expires(Sess: sessionmaker[Session],  # noqa: N803
                                       blog: dict[str, int]) -> None:
    with Sess() as s:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        alice.name = "changed"
        s.add(User(name="temp"))
        s.flush()
        assert _names(s) == ["bob", "changed", "temp"]
        s.rollback()
        assert alice.name == "alice"
        assert _names(s) == ["alice", "bob"]


def test_session_begin_context_manager(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess.begin() as s:
        s.add(User(name="x"))
    with pytest.raises(RuntimeError), Sess.begin() as s:
        s.add(User(name="y"))
        raise RuntimeError
    with Sess() as s:
        assert _names(s) == ["x"]


def test_begin_nested(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add(User(name="outer"))
        nested = s.begin_nested()
        s.add(User(name="inner"))
        s.flush()
        assert _names(s) == ["inner", "outer"]
        nested.rollback()
        assert _names(s) == ["outer"]
        with s.begin_nested():
            s.add(User(name="kept"))
        s.commit()
    with Sess() as s:
        assert _names(s) == ["kept", "outer"]


def test_begin_nested_rolls_back_updates_and_deletes(
    Sess: sessionmaker[Session], blog: dict[str, int]  # noqa: N803
) -> None:
    with Sess() as s:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        sp = s.begin_nested()
        alice.age = 99
        s.delete(s.get(User, blog["bob"]))
        s.flush()
        sp.rollback()
        assert alice.age == 30
        assert _names(s) == ["alice", "bob"]
        s.commit()
    with Sess() as s:
        assert s.scalar(select(User.age).where(User.name == "alice")) == 30


def test_get_uses_the_identity_map_and_one_load(
    Sess: sessionmaker[Session], blog: dict[str, int]  # noqa: N803
) -> None:
    with Sess() as s:
        a1 = s.get(User, blog["alice"])
        loads = sqla_docstore.request_counts(s).get("load", 0)
        assert loads == 1
        assert s.get(User, blog["alice"]) is a1
        assert sqla_docstore.request_counts(s).get("load", 0) == 1
        assert s.get(User, 10**9) is None


def test_refresh(Sess: sessionmaker[Session], blog: dict[str, int]) -> None:  # noqa: N803
    with Sess() as s, Sess() as other:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        s.commit()  # end the snapshot-less transaction; attributes stay loaded
        o = other.get(User, blog["alice"])
        assert o is not None
        o.name = "renamed"
        other.commit()
        s.refresh(alice)
        assert alice.name == "renamed"


def test_merge(Sess: sessionmaker[Session], blog: dict[str, int]) -> None:  # noqa: N803
    detached = User(id=blog["bob"], name="bobby", age=26)
    with Sess() as s:
        merged = s.merge(detached)
        assert merged is not detached and merged.name == "bobby"
        s.commit()
        new = s.merge(User(name="merged-new"))
        s.commit()
        assert new.id is not None
    with Sess() as s:
        assert _names(s) == ["alice", "bobby", "merged-new"]


def test_delete_with_cascade(Sess: sessionmaker[Session], blog: dict[str, int]) -> None:  # noqa: N803
    with Sess() as s:
        bob = s.get(User, blog["bob"])
        for p in list(bob.posts if bob else []):
            s.delete(p)
        s.delete(bob)
        s.commit()
    with Sess() as s:
        assert _names(s) == ["alice"]
        assert sorted(s.scalars(select(Address.email))) == ["a@x", "a@y"]
        assert s.scalar(select(func.count()).select_from(post_tags)) == 3


def test_expire_on_commit(Sess: sessionmaker[Session], db: Engine,  # noqa: N803
                          blog: dict[str, int]) -> None:
    with Sess() as s, Sess() as other:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        s.commit()
        assert "name" not in alice.__dict__  # expired
        o = other.get(User, blog["alice"])
        assert o is not None
        o.name = "fresh"
        other.commit()
        assert alice.name == "fresh"  # reloaded on access
    keep = sessionmaker(bind=db, expire_on_commit=False)
    with keep() as s, Sess() as other:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        s.commit()
        o = other.get(User, blog["alice"])
        assert o is not None
        o.name = "again"
        other.commit()
        assert alice.name == "fresh"  # not expired, not reloaded


def test_autoflush(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add(User(name="auto"))
        assert s.scalar(select(func.count()).select_from(User)) == 1  # autoflushed
        with s.no_autoflush:
            s.add(User(name="later"))
            assert s.scalar(select(func.count()).select_from(User)) == 1
        assert s.scalar(select(func.count()).select_from(User)) == 2
    manual = sessionmaker(bind=Sess.kw["bind"], autoflush=False)
    with manual() as s:
        s.add(User(name="x"))
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_pending_reads_count_and_aggregate(Sess: sessionmaker[Session],  # noqa: N803
                                           blog: dict[str, int]) -> None:
    with Sess() as s:
        s.add(User(name="carol", age=45))
        bob = s.get(User, blog["bob"])
        assert bob is not None
        bob.age = 35
        got = s.execute(select(func.count(User.id), func.max(User.age), func.avg(User.age))).one()
        assert tuple(got) == (3, 45, (30 + 35 + 45) / 3)
        got = s.execute(select(User.name, func.count(Address.id)).outerjoin(User.addresses)
                        .group_by(User.name).order_by(User.name)).all()
        assert got == [("alice", 2), ("bob", 1), ("carol", 0)]


def test_string_and_composite_primary_keys(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add_all([Country(code="FR", name="France"), Country(code="de", name="Germany")])
        s.add_all([Membership(user_id=1, group="admin", since=dt.date(2024, 1, 1)),
                   Membership(user_id=1, group="dev"), Membership(user_id=2, group="dev")])
        s.commit()
    with Sess() as s:
        fr = s.get(Country, "FR")
        assert fr is not None and fr.name == "France"
        assert s.get(Country, "DE") is None  # SQL key equality stays exact
        m = s.get(Membership, (1, "admin"))
        assert m is not None and m.since == dt.date(2024, 1, 1)
        m.since = dt.date(2025, 1, 1)
        s.delete(s.get(Membership, (2, "dev")))
        s.commit()
    with Sess() as s:
        got = s.execute(select(Membership.user_id, Membership.group, Membership.since)
                        .order_by(Membership.user_id, Membership.group)).all()
        assert got == [(1, "admin", dt.date(2025, 1, 1)), (1, "dev", None)]


def test_scoped_session(db: Engine) -> None:
    registry = scoped_session(sessionmaker(bind=db))
    try:
        assert registry() is registry()
        registry.add(User(name="scoped"))
        registry.commit()
        assert registry.scalars(select(User.name)).all() == ["scoped"]
        registry.remove()
        assert registry.scalar(select(func.count()).select_from(User)) == 1
    finally:
        registry.remove()


def test_request_counts_of_a_session_span_transactions(
    Sess: sessionmaker[Session],  # noqa: N803
) -> None:
    with Sess() as s:
        assert sqla_docstore.request_counts(s) == {}
        for i in range(3):
            s.add_all([User(name=f"u{i}"), Tag(name=f"t{i}")])
            s.commit()
        counts = sqla_docstore.request_counts(s)
        assert counts["batch"] == 3
    with Sess() as fresh:
        assert sqla_docstore.request_counts(fresh) == {}


# --------------------------------------------------------------- relationships


def test_one_to_many_and_many_to_one_lazy(Sess: sessionmaker[Session],  # noqa: N803
                                          blog: dict[str, int]) -> None:
    with Sess() as s:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        assert [a.email for a in alice.addresses] == ["a@x", "a@y"]
        assert [p.title for p in alice.posts] == ["p1", "p2"]
        post = s.scalars(select(Post).where(Post.title == "p3")).one()
        assert post.author is not None and post.author.name == "bob"


def test_many_to_many_lazy(Sess: sessionmaker[Session], blog: dict[str, int]) -> None:  # noqa: N803
    with Sess() as s:
        p3 = s.scalars(select(Post).where(Post.title == "p3")).one()
        assert [t.name for t in p3.tags] == ["orm", "python", "sql"]
        python = s.get(Tag, blog["python"])
        assert python is not None and [p.title for p in python.posts] == ["p1", "p3"]


def _check_blog(posts: list[Post]) -> None:
    got = {p.title: ([t.name for t in p.tags], p.author.name if p.author else None)
           for p in posts}
    assert got == {"p1": (["python", "sql"], "alice"), "p2": (["orm"], "alice"),
                   "p3": (["orm", "python", "sql"], "bob")}


def test_selectinload(Sess: sessionmaker[Session], db: Engine, execute_counter: Any,  # noqa: N803
                      blog: dict[str, int]) -> None:
    seen = execute_counter(db)
    with Sess() as s:
        posts = s.scalars(select(Post).options(selectinload(Post.tags),
                                               selectinload(Post.author))).all()
        _check_blog(list(posts))
        users = s.scalars(select(User).options(selectinload(User.addresses))
                          .order_by(User.name)).all()
        assert [[a.email for a in u.addresses] for u in users] == [["a@x", "a@y"], ["b@x"]]
    assert len(seen) == 5  # no lazy load happened afterwards


def test_joinedload_one_to_many_and_many_to_one(
    Sess: sessionmaker[Session], db: Engine, execute_counter: Any,  # noqa: N803
    blog: dict[str, int],
) -> None:
    seen = execute_counter(db)
    with Sess() as s:
        users = s.scalars(select(User).options(joinedload(User.addresses))
                          .order_by(User.name)).unique().all()
        assert [[a.email for a in u.addresses] for u in users] == [["a@x", "a@y"], ["b@x"]]
        posts = s.scalars(select(Post).options(joinedload(Post.author))).all()
        assert {p.title: p.author.name for p in posts if p.author} == {
            "p1": "alice", "p2": "alice", "p3": "bob"
        }
    assert len(seen) == 2


def test_joinedload_many_to_many(Sess: sessionmaker[Session],  # noqa: N803
                                 blog: dict[str, int]) -> None:
    with Sess() as s:
        posts = s.scalars(select(Post).options(joinedload(Post.tags), joinedload(Post.author))
                          ).unique().all()
        _check_blog(list(posts))


def test_relationship_changes_flush_in_one_batch(
    Sess: sessionmaker[Session], blog: dict[str, int]  # noqa: N803
) -> None:
    with Sess() as s:
        p1 = s.scalars(select(Post).where(Post.title == "p1")).one()
        bob = s.get(User, blog["bob"])
        p1.author = bob
        p1.tags = [t for t in p1.tags if t.name != "sql"] + [Tag(name="new")]
        before = sqla_docstore.request_counts(s).get("batch", 0)
        s.commit()
        assert sqla_docstore.request_counts(s)["batch"] - before == 1
    with Sess() as s:
        p1 = s.scalars(select(Post).where(Post.title == "p1")).one()
        assert p1.author is not None and p1.author.name == "bob"
        assert [t.name for t in p1.tags] == ["new", "python"]


def test_join_query_through_relationships(Sess: sessionmaker[Session],  # noqa: N803
                                          blog: dict[str, int]) -> None:
    with Sess() as s:
        got = s.scalars(select(User.name).join(User.posts).join(Post.tags)
                        .where(Tag.name == "orm").order_by(User.name).distinct()).all()
        assert got == ["alice", "bob"]
        got = s.scalars(select(Post.title).where(Post.tags.any(Tag.name == "sql"))
                        .order_by(Post.title)).all()
        assert got == ["p1", "p3"]
        got = s.scalars(select(User.name).where(User.addresses.any(Address.email.like("b%"))))
        assert list(got) == ["bob"]


# ------------------------------------------------------------------ bulk DML


def test_bulk_update_and_delete_with_where(Sess: sessionmaker[Session],  # noqa: N803
                                           blog: dict[str, int]) -> None:
    with Sess() as s, Sess() as observer:
        alice = s.get(User, blog["alice"])
        assert alice is not None
        r = s.execute(update(User).where(User.age >= 25).values(age=User.age + 1))
        assert r.rowcount == 2
        assert alice.age == 31  # synchronize_session="auto" updated the identity map
        r = s.execute(delete(Address).where(Address.email.like("a@%")))
        assert r.rowcount == 2
        assert observer.scalar(select(func.count()).select_from(Address)) == 3
        observer.rollback()
        s.commit()
        assert observer.scalar(select(func.count()).select_from(Address)) == 1
        assert sorted(observer.scalars(select(User.age))) == [26, 31]


@pytest.mark.parametrize("strategy", ["fetch", "evaluate", False])
def test_bulk_update_synchronize_strategies(
    Sess: sessionmaker[Session], blog: dict[str, int], strategy: Any  # noqa: N803
) -> None:
    with Sess() as s:
        s.execute(update(User).where(User.name == "bob").values(name="robert")
                  .execution_options(synchronize_session=strategy))
        assert _names(s) == ["alice", "robert"]
        s.commit()


def test_orm_bulk_insert(Sess: sessionmaker[Session], db: Engine,  # noqa: N803
                         execute_counter: Any) -> None:
    seen = execute_counter(db)
    with Sess() as s:
        s.execute(insert(User), [{"name": f"b{i}", "age": i} for i in range(50)])
        s.commit()
        assert s.scalar(select(func.count()).select_from(User)) == 50
    assert sum(1 for stmt, _ in seen if stmt.startswith("INSERT")) == 1


# ------------------------------------------------- integrity and concurrency


def test_duplicate_primary_key_at_commit_applies_nothing(
    Sess: sessionmaker[Session],  # noqa: N803
) -> None:
    with Sess() as s:
        s.add(Country(code="FR", name="France"))
        s.commit()
    with Sess() as s:
        s.add_all([Country(code="FR", name="again"), Country(code="IT", name="Italy"),
                   User(name="side effect")])
        with pytest.raises(exc.IntegrityError):
            s.commit()
        s.rollback()
        assert s.scalars(select(Country.name)).all() == ["France"]
        assert _names(s) == []
        s.add(Country(code="ES", name="Spain"))  # usable after rollback
        s.commit()
        assert sorted(s.scalars(select(Country.code))) == ["ES", "FR"]


def test_duplicate_primary_key_within_the_transaction_fails_at_flush(
    Sess: sessionmaker[Session],  # noqa: N803
) -> None:
    with Sess() as s:
        s.add(Country(code="FR", name="France"))
        s.flush()
        with pytest.raises(exc.IntegrityError):
            s.execute(insert(Country).values(code="FR", name="dup"))
        s.rollback()
        assert s.scalars(select(Country)).all() == []


def _two_sessions(Sess: sessionmaker[Session]) -> Iterator[tuple[Session, Session, int]]:  # noqa: N803
    with Sess() as s:
        v = Versioned(name="v0")
        s.add(v)
        s.commit()
        vid = v.id
    with Sess() as mine, Sess() as theirs:
        yield mine, theirs, vid


@pytest.fixture
def versioned(Sess: sessionmaker[Session]) -> Iterator[tuple[Session, Session, int]]:  # noqa: N803
    yield from _two_sessions(Sess)


def test_version_counter_increments(Sess: sessionmaker[Session],  # noqa: N803
                                    versioned: tuple[Session, Session, int]) -> None:
    mine, _, vid = versioned
    v = mine.get(Versioned, vid)
    assert v is not None and v.version == 1
    v.name = "v1"
    mine.commit()
    assert v.version == 2


def test_stale_update_at_flush(versioned: tuple[Session, Session, int]) -> None:
    mine, theirs, vid = versioned
    a = mine.get(Versioned, vid)
    b = theirs.get(Versioned, vid)
    assert a is not None and b is not None
    b.name = "theirs"
    theirs.commit()
    a.name = "mine"
    with pytest.raises(StaleDataError):
        mine.flush()
    mine.rollback()
    assert mine.get(Versioned, vid).name == "theirs"  # type: ignore[union-attr]


def test_stale_delete_at_flush(versioned: tuple[Session, Session, int]) -> None:
    mine, theirs, vid = versioned
    a = mine.get(Versioned, vid)
    theirs.delete(theirs.get(Versioned, vid))
    theirs.commit()
    mine.delete(a)
    with pytest.raises(StaleDataError):
        mine.flush()
    mine.rollback()


def test_stale_update_at_commit(Sess: sessionmaker[Session],  # noqa: N803
                                versioned: tuple[Session, Session, int]) -> None:
    mine, theirs, vid = versioned
    a = mine.get(Versioned, vid)
    assert a is not None
    a.name = "mine"
    mine.add(User(name="same batch"))
    mine.flush()  # passes: the other session has not committed yet
    b = theirs.get(Versioned, vid)
    assert b is not None
    b.name = "theirs"
    theirs.commit()
    with pytest.raises(StaleDataError):
        mine.commit()
    mine.rollback()
    with Sess() as check:
        assert check.get(Versioned, vid).name == "theirs"  # type: ignore[union-attr]
        assert _names(check) == []  # nothing of the failed batch was applied
    mine.add(User(name="after"))
    mine.commit()
    with Sess() as check:
        assert _names(check) == ["after"]


def test_stale_delete_at_commit(versioned: tuple[Session, Session, int]) -> None:
    mine, theirs, vid = versioned
    a = mine.get(Versioned, vid)
    assert a is not None
    a.name = "mine"
    mine.flush()
    theirs.delete(theirs.get(Versioned, vid))
    theirs.commit()
    with pytest.raises(StaleDataError):
        mine.commit()
    mine.rollback()
    assert mine.get(Versioned, vid) is None


def test_delete_then_concurrent_change_at_commit(
    versioned: tuple[Session, Session, int],
) -> None:
    mine, theirs, vid = versioned
    mine.delete(mine.get(Versioned, vid))
    mine.flush()
    b = theirs.get(Versioned, vid)
    assert b is not None
    b.name = "theirs"
    theirs.commit()
    with pytest.raises(StaleDataError):
        mine.commit()
    mine.rollback()
    assert mine.get(Versioned, vid) is not None


def test_unversioned_update_is_last_writer_wins(
    Sess: sessionmaker[Session], blog: dict[str, int]  # noqa: N803
) -> None:
    # Without version_id_col an UPDATE by primary key carries no change-vector check.
    with Sess() as mine, Sess() as theirs:
        a = mine.get(User, blog["alice"])
        b = theirs.get(User, blog["alice"])
        assert a is not None and b is not None
        b.age = 1
        theirs.commit()
        a.name = "mine"
        mine.commit()
    with Sess() as s:
        alice = s.get(User, blog["alice"])
        assert alice is not None and (alice.name, alice.age) == ("mine", 1)


def test_not_null_violation_at_flush(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add(Address(email="orphan"))  # user_id is NOT NULL
        with pytest.raises(exc.IntegrityError, match="NOT NULL"):
            s.flush()
        s.rollback()


# ------------------------------------------------------------------ edge cases


def test_large_in_list_and_selectinload(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add_all([User(name=f"u{i}", addresses=[Address(email=f"{i}@x")]) for i in range(1500)])
        s.commit()
        ids = list(s.scalars(select(User.id)))
        assert len(s.scalars(select(User).where(User.id.in_(ids + [-1] * 100))).all()) == 1500
        users = s.scalars(select(User).options(selectinload(User.addresses))).all()
        assert sum(len(u.addresses) for u in users) == 1500


def test_joinedload_many_to_many_with_limit(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add_all([Post(title=f"p{i}", tags=[Tag(name=f"t{i}"), Tag(name=f"x{i}")])
                   for i in range(6)])
        s.commit()
        got = s.scalars(select(Post).options(joinedload(Post.tags)).order_by(Post.title)
                        .limit(3)).unique().all()
        assert [(p.title, [t.name for t in p.tags]) for p in got] == [
            ("p0", ["t0", "x0"]), ("p1", ["t1", "x1"]), ("p2", ["t2", "x2"])
        ]


def test_primary_key_change(Sess: sessionmaker[Session]) -> None:  # noqa: N803
    with Sess() as s:
        s.add(Country(code="FR", name="France"))
        s.commit()
        fr = s.get(Country, "FR")
        assert fr is not None
        fr.code = "FX"
        s.commit()
    with Sess() as s:
        assert s.scalars(select(Country.code)).all() == ["FX"]
        assert s.get(Country, "FR") is None


def test_get_after_pending_delete(Sess: sessionmaker[Session],  # noqa: N803
                                  blog: dict[str, int]) -> None:
    with Sess() as s:
        s.delete(s.get(Address, s.scalars(select(Address.id).where(Address.email == "b@x")).one()))
        s.flush()
        s.expunge_all()
        assert s.scalars(select(Address).where(Address.email == "b@x")).all() == []


def test_string_keys_differing_only_in_case_are_distinct_rows(
    Sess: sessionmaker[Session],  # noqa: N803
) -> None:
    # SQL compares string keys exactly; on SQLite "FR" and "fr" are two rows. RavenDB ids
    # ignore case (documented): there the second one is a duplicate key, and nothing is kept.
    on_ravendb = Sess.kw["bind"].dialect.name == "ravendb"
    with Sess() as s:
        s.add_all([Country(code="FR", name="France"), Country(code="fr", name="lower")])
        if on_ravendb:
            with pytest.raises(exc.IntegrityError):
                s.commit()
            s.rollback()
        else:
            s.commit()
    with Sess() as s:
        expected = [] if on_ravendb else ["FR", "fr"]
        assert sorted(s.scalars(select(Country.code))) == expected


def test_integrity_error_inside_begin_nested_keeps_the_outer_transaction(
    Sess: sessionmaker[Session],  # noqa: N803
) -> None:
    with Sess() as s:
        s.add(Country(code="FR", name="France"))
        s.flush()
        with pytest.raises(exc.IntegrityError), s.begin_nested():
            s.execute(insert(Country).values(code="FR", name="dup"))
        s.add(Country(code="IT", name="Italy"))
        s.commit()
    with Sess() as s:
        assert sorted(tuple(r) for r in s.execute(select(Country.code, Country.name))) == [
            ("FR", "France"), ("IT", "Italy")
        ]
