"""Interop with the official ``ravendb`` client: each side reads what the other one wrote."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore.errors import DataError

ravendb = pytest.importorskip("ravendb")


class Base(DeclarativeBase):
    pass


class Member(Base):
    """Integer primary key from HiLo: documents ``users/1``, ``users/2``..."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    age: Mapped[int | None]


class Label(Base):
    """String primary key chosen by the application: document ``tags/<code>``."""

    __tablename__ = "tags"
    code: Mapped[str] = mapped_column(primary_key=True)
    label: Mapped[str | None]


# The official client's entities. Their class names give its collections (``Users``, ``Tags``:
# RavenDB collection names are case-insensitive) and HiLo tags (``users``, ``tags``), the same
# as the tables above; ``Raven-Python-Type`` names this module, so the client can import them.
class User:
    def __init__(self, name: str | None = None, age: int | None = None,
                 Id: str | None = None, id: int | None = None) -> None:  # noqa: N803,A002
        self.Id = Id
        self.id = id  # the SQL primary key our documents carry as a field
        self.name = name
        self.age = age


class Tag:
    def __init__(self, label: str | None = None, Id: str | None = None) -> None:  # noqa: N803
        self.Id = Id
        self.label = label


@pytest.fixture
def server(ravendb_server: Any) -> Any:
    return ravendb_server


@pytest.fixture
def engine(server: Any) -> Iterator[sa.Engine]:
    eng = sa.create_engine(f"ravendb://{server.url.split('://', 1)[1]}/{server.database}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(server: Any) -> Iterator[Any]:
    st = ravendb.DocumentStore(server.urls, server.database)
    st.conventions.disable_topology_cache = True
    st.initialize()
    yield st
    st.close()


def test_orm_documents_load_and_query_in_the_official_client(engine: sa.Engine,
                                                             store: Any) -> None:
    with Session(engine) as session:
        alice, bob = Member(name="Alice", age=30), Member(name="Bob", age=None)
        session.add_all([alice, bob, Label(code="py", label="Python")])
        session.commit()
        alice_id, bob_id = alice.id, bob.id
    with store.open_session() as s:
        loaded = s.load(f"users/{alice_id}", User)
        assert (loaded.Id, loaded.id, loaded.name, loaded.age) == (
            f"users/{alice_id}", alice_id, "Alice", 30)
        metadata = s.advanced.get_metadata_for(loaded)
        assert metadata["@collection"] == "users"
        assert metadata["@change-vector"]
        assert s.load(f"USERS/{bob_id}", User).name == "Bob"  # ids are case-insensitive
        tag = s.load("tags/py", Tag)
        assert (tag.Id, tag.label) == ("tags/py", "Python")
        found = list(s.query(object_type=User).where_equals("name", "Alice"))
        assert [(u.Id, u.age) for u in found] == [(f"users/{alice_id}", 30)]
        nulls = list(s.query(object_type=User).where_equals("age", None))
        assert [u.name for u in nulls] == ["Bob"]
        everyone = s.query(object_type=User).order_by("name")
        assert [u.name for u in everyone] == ["Alice", "Bob"]
        assert [t.label for t in s.query_collection("tags", Tag)] == ["Python"]


def test_official_client_documents_load_as_orm_objects(engine: sa.Engine, store: Any) -> None:
    with Session(engine) as session:  # one document of our own, to see both kinds together
        session.add(Member(name="Alice", age=30))
        session.commit()
    with store.open_session() as s:
        s.store(User("Carol", 50), "users/50")  # an id in the table's shape: key 50
        s.store(Tag("Rust"), "tags/rust")  # a string id
        s.store(Tag("Go"), "Tags/Go")  # the collection prefix in another case
        s.save_changes()

    with Session(engine) as session:
        rows = session.execute(sa.select(Member.id, Member.name, Member.age)
                               .order_by(Member.name)).all()
        # the primary key of a document without an ``id`` field is the number in its id
        assert [tuple(r) for r in rows] == [(1, "Alice", 30), (50, "Carol", 50)]
        by_name = session.scalars(sa.select(Member).where(Member.name == "Carol")).one()
        assert (by_name.id, by_name.age) == (50, 50)
        tags = session.scalars(sa.select(Label).order_by(Label.label)).all()
        assert [(t.code, t.label) for t in tags] == [("Go", "Go"), ("rust", "Rust")]
    with Session(engine) as session:  # fresh: get() must ask the server
        carol = session.get(Member, 50)
        assert carol is not None and carol.name == "Carol"
        # session.get builds the id from the primary key: "tags/<code>" finds string ids...
        rust = session.get(Label, "rust")
        assert rust is not None and rust.label == "Rust"
        # RavenDB finds "Tags/Go" for "tags/Go"; the key compares exactly, as SQL keys do
        go = session.get(Label, "Go")
        assert go is not None and (go.code, go.label) == ("Go", "Go")
        assert session.get(Label, "go") is None


def test_node_tagged_ids_under_an_integer_key_are_refused_not_guessed(engine: sa.Engine,
                                                                      store: Any) -> None:
    with store.open_session() as s:
        carol = User("Carol", 50)
        s.store(carol)  # HiLo id from the server's range document: users/<n>-A
        s.save_changes()
    assert carol.Id.startswith("users/") and carol.Id.endswith("-A")
    with Session(engine) as session:
        # Read as <n>, the row would be one that get(Member, n) cannot find (it asks for
        # "users/<n>") and that an UPDATE by key would miss: refused, naming the way out.
        with pytest.raises(sa.exc.DBAPIError) as caught:
            session.scalars(sa.select(Member).where(Member.name == "Carol")).all()
        assert isinstance(caught.value.orig, DataError)
        assert "docstore_key_is_id" in str(caught.value.orig)
    with store.open_session() as s:
        assert s.load(carol.Id, User).age == 50
        assert s.query(object_type=User).count() == 1  # nothing was written


def test_edits_by_the_official_client_keep_orm_keys(engine: sa.Engine, store: Any) -> None:
    with Session(engine) as session:
        session.add_all([Label(code="py", label="Python"), Member(name="Alice", age=30)])
        session.commit()
    with store.open_session() as s:
        # Tag has no ``code`` attribute: the official client writes the document back without
        # it; the key is then read from the document id.
        s.load("tags/py", Tag).label = "Python 3"
        s.load("users/1", User).age = 31
        s.save_changes()
    with Session(engine) as session:
        tag = session.get(Label, "py")
        assert tag is not None and (tag.code, tag.label) == ("py", "Python 3")
        member = session.get(Member, 1)
        assert member is not None and (member.name, member.age) == ("Alice", 31)
        member.age = 32  # and our writes on top of theirs go through
        session.commit()
    with store.open_session() as s:
        assert s.load("users/1", User).age == 32
