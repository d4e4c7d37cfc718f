"""Differential fuzzer of the ORM unit of work: random sequences of Session operations run in
lockstep on SQLite (the oracle) and on ``docstore://`` / ``ravendb://``, compared after every
step.

The model has what moved applications use: a one-to-many with ``cascade="all, delete-orphan"``
(``Author.books``) and its many-to-one (``Book.author``), a many-to-many through an association
table (``Book.tags``), a self-referential parent/children (``Node``), joined-table and single-
table inheritance (``Item`` / ``Gadget`` / ``Widget``), a ``version_id_col``
(``Author.version``), a server default and an SQL ``onupdate`` (``Author.created``,
``Author.touched``), unique columns (``Author.name``, ``Tag.label``) and a JSON column mutated
in place through ``MutableDict`` (``Author.meta``).

A program is a list of operations: add / add_all, attribute changes, collection append and
remove, reassigned parents, deletes (cascading), flush, commit, rollback, ``begin_nested()`` and
the savepoint's commit or rollback, expire / expire_all / refresh / expunge / merge,
``session.get`` and identity-map checks, selects with joinedload / selectinload / subqueryload,
polymorphic selects, ORM-enabled ``update()`` / ``delete()`` with every ``synchronize_session``
(computed values, correlated subqueries, joined and single-table subclasses, ``UPDATE ...
RETURNING`` objects), the legacy ``Query.update()`` / ``delete()`` and ``bulk_save_objects`` /
``bulk_insert_mappings`` / ``bulk_update_mappings``, bulk INSERT / UPDATE with lists of dicts (a
versioned mapper too), ``insert().returning(Model)``, SQLite's ``ON CONFLICT DO UPDATE / DO
NOTHING`` returning objects, ``populate_existing``, ``with_for_update``, ``merge(load=False)``,
filters through ``any()`` and joins, aggregates, SQL text and Core inserts on the session's
connection, and queries inside ``no_autoflush``. Objects are named by a per-program counter
(``a3``, ``b7``), the same on both sides, and every comparison goes through those names, never
through generated keys (README: integer keys come from HiLo, not SQLite's max+1).

After each step the two sides must agree on: the step's result (rows ordered by name,
rowcounts), or the exception (the same SQLAlchemy class; a DB-API cause on the target must be
a PEP 249 class of ``sqla_docstore.errors``); what the session holds (every object in the
identity map or pending, with the attributes it has loaded, collections as sets), without
loading anything. After each successful commit a fresh session reads every table back and the
two must agree again.

Left out on purpose (README): a unique value taken twice by new objects (names and labels
are fresh by construction; a merge of an object without a key adds a copy, whose flush fails
with IntegrityError on both sides, and upserts meet stored rows only), anything ordered
without ORDER BY (every query orders by a name, collections compare as sets), and a key
SQLite hands out twice (``OracleKeys``). SQLAlchemy is not deterministic everywhere (its unit
of work visits objects in set order): the harness holds
every loaded object (a weak identity map loses them when the garbage collector runs), flushes
before expiring, counts the ORM's usage errors as one class and lets an unloaded relationship
match any value; each of these says why where it is done.

The run is reproducible (``derandomize=True``, no example database) unless ``ORM_UOW_SEED`` is
set. ``ORM_UOW_EXAMPLES=N`` sets the number of programs (default 300 on ``docstore://``, 60 on
``ravendb://``), ``ORM_UOW_STEPS=N`` their longest length (default 40),
``ORM_UOW_SHRINK=1`` turns on shrinking, ``ORM_UOW_FILE=1`` runs the ``docstore://`` test on a
file store, ``ORM_UOW_FOREIGN_KEYS=1`` enforces foreign keys on both sides; ``pytest -s``
prints the counts.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    ForeignKey,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
    subqueryload,
)

from sqla_docstore import errors

from .test_differential import sqlite_oracle

# ------------------------------------------------------------------------------- the model


class Base(DeclarativeBase):
    pass


book_tags = Table(
    "uow_book_tags", Base.metadata,
    Column("book_id", ForeignKey("uow_books.id"), primary_key=True),
    Column("tag_id", ForeignKey("uow_tags.id"), primary_key=True),
)


class Author(Base):
    __tablename__ = "uow_authors"
    __table_args__ = {"sqlite_autoincrement": True}  # see OracleKeys
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    rating: Mapped[int | None]
    version: Mapped[int] = mapped_column(nullable=False)
    created: Mapped[int] = mapped_column(server_default=text("5"))
    touched: Mapped[int] = mapped_column(default=0, onupdate=literal_column("touched") + 1)
    meta: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(JSON), default=dict)
    books: Mapped[list[Book]] = relationship(back_populates="author",
                                             cascade="all, delete-orphan")
    __mapper_args__ = {"version_id_col": version}


class Book(Base):
    __tablename__ = "uow_books"
    __table_args__ = {"sqlite_autoincrement": True}  # see OracleKeys
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    pages: Mapped[int | None]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("uow_authors.id"))
    author: Mapped[Author | None] = relationship(back_populates="books")
    tags: Mapped[list[Tag]] = relationship(secondary=book_tags, back_populates="books")


class Tag(Base):
    __tablename__ = "uow_tags"
    __table_args__ = {"sqlite_autoincrement": True}  # see OracleKeys
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(20), unique=True)
    books: Mapped[list[Book]] = relationship(secondary=book_tags, back_populates="tags")


class Node(Base):
    __tablename__ = "uow_nodes"
    __table_args__ = {"sqlite_autoincrement": True}  # see OracleKeys
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("uow_nodes.id"))
    parent: Mapped[Node | None] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[Node]] = relationship(back_populates="parent", cascade="all")


class Item(Base):
    __tablename__ = "uow_items"
    __table_args__ = {"sqlite_autoincrement": True}  # see OracleKeys
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(20))
    weight: Mapped[int | None]
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "item"}


class Gadget(Item):
    __tablename__ = "uow_gadgets"
    id: Mapped[int] = mapped_column(ForeignKey("uow_items.id"), primary_key=True)
    power: Mapped[int | None]
    __mapper_args__ = {"polymorphic_identity": "gadget"}


class Widget(Item):
    """Single-table inheritance beside the joined-table subclass: ``size`` is on the items
    table."""

    size: Mapped[int | None] = mapped_column(use_existing_column=True)
    __mapper_args__ = {"polymorphic_identity": "widget"}


metadata = Base.metadata


class Kind(Enum):
    AUTHOR = "a"
    BOOK = "b"
    TAG = "t"
    NODE = "n"
    ITEM = "i"


#: The class of each kind, and its natural key attribute (what objects are compared by).
CLASS: dict[Kind, type[Base]] = {Kind.AUTHOR: Author, Kind.BOOK: Book, Kind.TAG: Tag,
                                 Kind.NODE: Node, Kind.ITEM: Item}
NATURAL = {Author: "name", Book: "title", Tag: "label", Node: "name", Item: "name",
           Gadget: "name", Widget: "name"}
#: Plain attributes compared in snapshots, per class (relationships are added as name sets).
COLUMNS = {
    Author: ("name", "rating", "version", "created", "touched", "meta"),
    Book: ("title", "pages"),
    Tag: ("label",),
    Node: ("name",),
    Item: ("kind", "name", "weight"),
    Gadget: ("kind", "name", "weight", "power"),
    Widget: ("kind", "name", "weight", "size"),
}
RELATIONS = {Author: ("books",), Book: ("author", "tags"), Tag: ("books",),
             Node: ("parent", "children"), Item: (), Gadget: (), Widget: ()}

# ------------------------------------------------------------------------------- strategies

picks = st.integers(0, 63)  # an index into the objects of a kind, modulo their number
kinds = st.sampled_from(list(Kind))
small = st.none() | st.integers(0, 9)
meta_keys = st.sampled_from(["k", "x", "y"])
meta_values = st.none() | st.integers(0, 3) | st.sampled_from(["s", "t"]) | st.lists(
    st.integers(0, 2), max_size=2)
syncs = st.sampled_from(["auto", "fetch", "evaluate", False])
loaders = st.sampled_from(["lazy", "joined", "selectin", "subquery"])

OPERATIONS = st.one_of(
    st.tuples(st.just("add_author"), small, st.dictionaries(meta_keys, meta_values, max_size=2)),
    st.tuples(st.just("add_book"), picks, small, st.lists(picks, max_size=2)),
    st.tuples(st.just("add_tag")),
    st.tuples(st.just("add_node"), st.none() | picks),
    st.tuples(st.just("add_item"), st.integers(0, 2), small),
    st.tuples(st.just("add_all"), st.lists(small, min_size=1, max_size=3), st.integers(0, 2)),
    st.tuples(st.just("set_rating"), picks, small),
    st.tuples(st.just("set_pages"), picks, small),
    st.tuples(st.just("set_weight"), picks, small),
    st.tuples(st.just("meta_set"), picks, meta_keys, meta_values),
    st.tuples(st.just("meta_del"), picks, meta_keys),
    st.tuples(st.just("append_book"), picks, picks),
    st.tuples(st.just("remove_book"), picks, picks),
    st.tuples(st.just("move_book"), picks, st.none() | picks),
    st.tuples(st.just("tag"), picks, picks),
    st.tuples(st.just("untag"), picks, picks),
    st.tuples(st.just("reparent"), picks, st.none() | picks),
    st.tuples(st.just("delete"), kinds, picks),
    st.tuples(st.just("flush")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("rollback")),
    st.tuples(st.just("begin_nested")),
    st.tuples(st.just("end_nested"), st.booleans()),
    st.tuples(st.just("expire"), kinds, picks),
    st.tuples(st.just("expire_all")),
    st.tuples(st.just("refresh"), kinds, picks),
    st.tuples(st.just("expunge"), kinds, picks),
    st.tuples(st.just("merge"), kinds, picks),
    st.tuples(st.just("get"), kinds, picks),
    st.tuples(st.just("identity"), kinds, picks),
    st.tuples(st.just("query"), kinds, loaders, small),
    st.tuples(st.just("query_items"), st.integers(0, 2)),
    st.tuples(st.just("orm_update_widgets"), small, small, syncs),
    st.tuples(st.just("legacy_query_update"), small, small, syncs),
    st.tuples(st.just("legacy_query_delete"), small, syncs),
    st.tuples(st.just("update_returning"), small, small),
    st.tuples(st.just("bulk_save_objects"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("bulk_update_mappings"), st.lists(st.tuples(picks, small), min_size=1,
                                                        max_size=3)),
    st.tuples(st.just("bulk_insert_mappings"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("subquery_update"), small),
    st.tuples(st.just("orm_update"), small, small, syncs),
    st.tuples(st.just("orm_increment"), small, syncs),
    st.tuples(st.just("orm_update_gadgets"), st.booleans(), small, small, syncs),
    st.tuples(st.just("orm_delete"), small, syncs),
    st.tuples(st.just("query_related"), st.booleans(), small),
    st.tuples(st.just("bulk_update_authors"), st.lists(st.tuples(picks, small), min_size=1,
                                                       max_size=3)),
    st.tuples(st.just("bulk_insert_tags"), st.integers(1, 3)),
    st.tuples(st.just("bulk_update_books"), st.lists(st.tuples(picks, small), min_size=1,
                                                     max_size=3)),
    st.tuples(st.just("insert_returning"), st.lists(small, min_size=1, max_size=3)),
    st.tuples(st.just("no_autoflush"), kinds, small),
    st.tuples(st.just("upsert"), st.lists(st.tuples(st.none() | picks, small), min_size=1,
                                          max_size=3), st.booleans()),
    st.tuples(st.just("aggregate"), st.booleans()),
    st.tuples(st.just("text_update"), small),
    st.tuples(st.just("expire_attrs"), picks, st.sampled_from(["meta", "rating", "books"])),
    st.tuples(st.just("populate_existing"), kinds),
    st.tuples(st.just("get_for_update"), kinds, picks),
    st.tuples(st.just("merge_no_load"), kinds, picks),
    st.tuples(st.just("core_insert_books"), picks, st.integers(1, 3)),
)

# ----------------------------------------------------------------------------- one side


@dataclass
class Side:
    """One engine and its session running a program; objects named as the program made them."""

    engine: Engine
    session: Session
    made: dict[Kind, list[Any]] = field(default_factory=lambda: {k: [] for k in Kind})
    names: dict[int, str] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)  # so ids in ``names`` are never reused
    counter: Counter[str] = field(default_factory=Counter)

    def fresh(self, prefix: str) -> str:
        self.counter[prefix] += 1
        return f"{prefix}{self.counter[prefix]}"

    def remember(self, kind: Kind, obj: Any, name: str) -> Any:
        self.made[kind].append(obj)
        self.names[id(obj)] = name
        self.keep.append(obj)
        return obj

    def pick(self, kind: Kind, index: int | None) -> Any:
        objs = self.made[kind]
        if index is None or not objs:
            return None
        return objs[index % len(objs)]

    def name_of(self, obj: Any) -> str:
        if obj is None:
            return "-"
        loaded = inspect(obj).dict.get(NATURAL[type(obj)])
        if loaded is not None:
            self.names.setdefault(id(obj), loaded)
            self.keep.append(obj)
            return str(loaded)
        return self.names.get(id(obj), "?")


class Skip(Exception):
    """The operation does not apply (no object of the kind yet): nothing was done."""


def _need(obj: Any) -> Any:
    if obj is None:
        raise Skip
    return obj


def _loader(name: str, kind: Kind) -> list[Any]:
    option = {"joined": joinedload, "selectin": selectinload, "subquery": subqueryload}.get(name)
    if option is None:
        return []
    by_kind: dict[Kind, list[Any]] = {
        Kind.AUTHOR: [Author.books], Kind.BOOK: [Book.tags, Book.author],
        Kind.TAG: [Tag.books], Kind.NODE: [Node.children], Kind.ITEM: []}
    paths = by_kind[kind]
    return [option(p) for p in paths]


def _row(side: Side, obj: Any) -> tuple[Any, ...]:
    """An object as the session sees it now, loading nothing: its loaded attributes, then
    a tuple of its relationships (collections as sorted name lists)."""
    cls = type(obj)
    state = inspect(obj)
    loaded = state.dict
    values: list[Any] = [cls.__name__, side.name_of(obj), _state_name(state)]
    for attr in COLUMNS[cls]:
        value = loaded.get(attr, "<unloaded>")
        values.append(dict(value) if isinstance(value, dict) else value)
    relationships: list[Any] = []
    for rel in RELATIONS[cls]:
        if rel not in loaded:
            relationships.append(UNLOADED_RELATIONSHIP)
        elif isinstance(loaded[rel], list):
            relationships.append(sorted(side.name_of(o) for o in loaded[rel]))
        else:
            relationships.append(side.name_of(loaded[rel]))
    return (*values, tuple(relationships))


#: A relationship the object has not loaded. Whether a flush leaves an empty collection of a
#: new object initialized (``[]``) or unloaded depends on the order SQLAlchemy visits the
#: flushed objects in (set iteration order, different from run to run, SQLite against SQLite
#: too), so it matches any value; loaded collections and every column compare exactly.
UNLOADED_RELATIONSHIP = "<unloaded relationship>"


def same(expected: Any, got: Any) -> bool:
    """Equality, with an unloaded relationship on either side matching anything."""
    if UNLOADED_RELATIONSHIP in (expected, got):
        return True
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return type(expected) is type(got) and len(expected) == len(got) and all(
            same(e, g) for e, g in zip(expected, got, strict=True))
    return bool(expected == got) and type(expected) is type(got)


def _state_name(state: Any) -> str:
    for name in ("deleted", "pending", "persistent", "detached", "transient"):
        if getattr(state, name):
            return name
    return "?"


def session_view(side: Side) -> list[tuple[Any, ...]]:
    """What the session holds: identity map and pending objects, nothing loaded; in the
    order of their columns (relationships may be unloaded on one side only)."""
    objs = list(side.session.identity_map.values()) + list(side.session.new)
    rows = [_row(side, o) for o in objs]
    return sorted(rows, key=lambda row: repr(row[:-1]))


def stored_view(engine: Engine) -> dict[str, Any]:
    """Every table read back by a fresh session, by natural names."""
    with Session(engine) as s:
        authors = s.scalars(select(Author).options(selectinload(Author.books))
                            .order_by(Author.name)).all()
        books = s.scalars(select(Book).options(selectinload(Book.tags), joinedload(Book.author))
                          .order_by(Book.title)).all()
        nodes = s.scalars(select(Node).options(joinedload(Node.parent))
                          .order_by(Node.name)).all()
        items = s.scalars(select(Item).order_by(Item.name)).all()
        return {
            "authors": [(a.name, a.rating, a.version, a.created, a.touched, dict(a.meta),
                         sorted(b.title for b in a.books)) for a in authors],
            "books": [(b.title, b.pages, b.author.name if b.author else None,
                       sorted(t.label for t in b.tags)) for b in books],
            "tags": s.scalars(select(Tag.label).order_by(Tag.label)).all(),
            "nodes": [(n.name, n.parent.name if n.parent else None) for n in nodes],
            "items": [(type(i).__name__, i.kind, i.name, i.weight, getattr(i, "power", None),
                       getattr(i, "size", None)) for i in items],
            "links": sorted(s.execute(
                select(Book.title, Tag.label).select_from(book_tags)
                .join(Book, Book.id == book_tags.c.book_id)
                .join(Tag, Tag.id == book_tags.c.tag_id)).all()),
        }


# ----------------------------------------------------------------------------- operations

Operation = tuple[Any, ...]


def _add_author(side: Side, rating: int | None, meta: dict[str, Any]) -> Any:
    name = side.fresh("a")
    obj = side.remember(Kind.AUTHOR, Author(name=name, rating=rating, meta=dict(meta)), name)
    side.session.add(obj)
    return name


def _add_book(side: Side, author: int, pages: int | None, tags: list[int]) -> Any:
    name = side.fresh("b")
    owner = side.pick(Kind.AUTHOR, author)
    labels = [t for t in (side.pick(Kind.TAG, i) for i in tags) if t is not None]
    book = Book(title=name, pages=pages, author=owner, tags=list(dict.fromkeys(labels)))
    side.session.add(side.remember(Kind.BOOK, book, name))
    return name


def _add_tag(side: Side) -> Any:
    name = side.fresh("t")
    side.session.add(side.remember(Kind.TAG, Tag(label=name), name))
    return name


def _add_node(side: Side, parent: int | None) -> Any:
    name = side.fresh("n")
    node = Node(name=name, parent=side.pick(Kind.NODE, parent))
    side.session.add(side.remember(Kind.NODE, node, name))
    return name


def _add_item(side: Side, subclass: int, value: int | None) -> Any:
    name = side.fresh("i")
    obj = (Item(name=name, weight=value), Gadget(name=name, power=value),
           Widget(name=name, size=value))[subclass]
    side.session.add(side.remember(Kind.ITEM, obj, name))
    return name


def _add_all(side: Side, ratings: list[int | None], books: int) -> Any:
    made = []
    for rating in ratings:
        name = side.fresh("a")
        author = Author(name=name, rating=rating, meta={})
        for _ in range(books):
            title = side.fresh("b")
            author.books.append(side.remember(Kind.BOOK, Book(title=title), title))
        made.append(side.remember(Kind.AUTHOR, author, name))
    side.session.add_all(made)
    return len(made)


def _set(kind: Kind, attr: str) -> Callable[[Side, int, Any], Any]:
    def run(side: Side, index: int, value: Any) -> Any:
        setattr(_need(side.pick(kind, index)), attr, value)
    return run


def _meta_set(side: Side, index: int, key: str, value: Any) -> Any:
    _need(side.pick(Kind.AUTHOR, index)).meta[key] = value


def _meta_del(side: Side, index: int, key: str) -> Any:
    _need(side.pick(Kind.AUTHOR, index)).meta.pop(key, None)


def _append_book(side: Side, author: int, book: int) -> Any:
    owner, obj = _need(side.pick(Kind.AUTHOR, author)), _need(side.pick(Kind.BOOK, book))
    if obj not in owner.books:
        owner.books.append(obj)


def _remove_book(side: Side, author: int, index: int) -> Any:
    owner = _need(side.pick(Kind.AUTHOR, author))
    if owner.books:
        # Picked by name: a collection loaded without ORDER BY comes in index order here,
        # in rowid order on SQLite (README: rows without ORDER BY come in index order).
        books = sorted(owner.books, key=side.name_of)
        book = books[index % len(books)]
        owner.books.remove(book)
        return side.name_of(book)
    return None


def _move_book(side: Side, book: int, author: int | None) -> Any:
    _need(side.pick(Kind.BOOK, book)).author = side.pick(Kind.AUTHOR, author)


def _tag(side: Side, book: int, tag: int) -> Any:
    obj, label = _need(side.pick(Kind.BOOK, book)), _need(side.pick(Kind.TAG, tag))
    if label not in obj.tags:
        obj.tags.append(label)


def _untag(side: Side, book: int, tag: int) -> Any:
    obj, label = _need(side.pick(Kind.BOOK, book)), _need(side.pick(Kind.TAG, tag))
    if label in obj.tags:
        obj.tags.remove(label)


def _reparent(side: Side, node: int, parent: int | None) -> Any:
    obj, new = _need(side.pick(Kind.NODE, node)), side.pick(Kind.NODE, parent)
    up = new
    while up is not None:  # never a cycle: a node is not its own ancestor
        if up is obj:
            raise Skip
        up = up.parent
    obj.parent = new


def _delete(side: Side, kind: Kind, index: int) -> Any:
    side.session.delete(_need(side.pick(kind, index)))


def _end_nested(side: Side, commit: bool) -> Any:
    transaction = side.session.get_nested_transaction()
    if transaction is None:
        raise Skip
    if commit:
        transaction.commit()
    else:
        transaction.rollback()


def _commit(side: Side) -> Any:
    side.session.commit()


def _flushed(side: Side) -> None:
    """Flush before expiring: expiring an object with unflushed changes while its parents'
    collections hold the other half of them (a child moved to a pending parent) leaves the
    unit of work to pick a side in an order SQLAlchemy does not fix (set iteration order):
    SQLite against SQLite disagrees with itself from run to run."""
    session = side.session
    if session.new or session.dirty or session.deleted:
        session.flush()


def _expire(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    _flushed(side)
    side.session.expire(obj)


def _expire_all(side: Side) -> Any:
    _flushed(side)
    side.session.expire_all()


def _refresh(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    _flushed(side)
    side.session.refresh(obj)
    return _row(side, obj)


def _expunge(side: Side, kind: Kind, index: int) -> Any:
    side.session.expunge(_need(side.pick(kind, index)))


def _merge(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    # (merging an object without a key adds a copy of it: a second row with the same unique
    # values, which the flush refuses with IntegrityError on both sides)
    merged = side.session.merge(obj)
    return _row(side, merged)


def _get(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    key = obj.id
    if key is None:
        raise Skip
    found = side.session.get(CLASS[kind], key)
    return None if found is None else (_row(side, found), found is obj)


def _identity(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    state = inspect(obj)
    if state.key is None:
        return None
    return (state.key in side.session.identity_map,
            side.session.identity_map.get(state.key) is obj)


def _query(side: Side, kind: Kind, loader: str, bound: int | None) -> Any:
    cls = CLASS[kind]
    stmt = select(cls).options(*_loader(loader, kind)).order_by(getattr(cls, NATURAL[cls]))
    if kind is Kind.AUTHOR and bound is not None:
        stmt = stmt.where(Author.rating < bound)
    if kind is Kind.BOOK and bound is not None:
        stmt = stmt.where(Book.pages >= bound)
    found = side.session.scalars(stmt).unique().all()
    return [_row(side, o) for o in found]


def _query_items(side: Side, which: int) -> Any:
    stmt = select((Item, Gadget, Widget)[which]).order_by(Item.name)
    return [_row(side, o) for o in side.session.scalars(stmt).all()]


def _orm_update(side: Side, bound: int | None, value: int | None, sync: Any) -> Any:
    stmt = update(Author).values(rating=value)
    if bound is not None:
        stmt = stmt.where(Author.rating < bound)
    result = side.session.execute(stmt.execution_options(synchronize_session=sync))
    return result.rowcount  # type: ignore[attr-defined]


def _orm_increment(side: Side, bound: int | None, sync: Any) -> Any:
    stmt = update(Author).where(Author.rating.is_not(None)).values(rating=Author.rating + 1)
    if bound is not None:
        stmt = stmt.where(Author.rating >= bound)
    result = side.session.execute(stmt.execution_options(synchronize_session=sync))
    return result.rowcount  # type: ignore[attr-defined]


def _orm_update_gadgets(side: Side, on_base: bool, bound: int | None, value: int | None,
                        sync: Any) -> Any:
    """An UPDATE of the joined-table subclass, filtered on its own or on the base table's
    column (SQLAlchemy then renders UPDATE ... FROM)."""
    stmt = update(Gadget).values(power=value)
    if bound is not None:
        stmt = stmt.where((Gadget.weight if on_base else Gadget.power) < bound)
    result = side.session.execute(stmt.execution_options(synchronize_session=sync))
    return result.rowcount  # type: ignore[attr-defined]


def _query_related(side: Side, through_any: bool, bound: int | None) -> Any:
    """Filters across relationships: EXISTS through ``any()`` or a JOIN to the parent."""
    stmt: Any
    if through_any:
        criterion = Book.pages > bound if bound is not None else Book.pages.is_(None)
        stmt = select(Author).where(Author.books.any(criterion)).order_by(Author.name)
    else:
        stmt = select(Book).join(Book.author).order_by(Book.title)
        if bound is not None:
            stmt = stmt.where(Author.rating < bound)
    return [_row(side, o) for o in side.session.scalars(stmt).all()]


def _bulk_update_authors(side: Side, changes: list[tuple[int, int | None]]) -> Any:
    """Bulk UPDATE by primary key of a versioned mapper (lists of dicts)."""
    rows: dict[int, dict[str, Any]] = {}
    for index, rating in changes:
        author = _need(side.pick(Kind.AUTHOR, index))
        if inspect(author).key is None:
            raise Skip
        # the version is part of the key SQLAlchemy matches a versioned row by
        rows[inspect(author).key[1][0]] = {"rating": rating, "version": author.version}
    side.session.execute(update(Author), [{"id": k, **v} for k, v in rows.items()])


def _orm_update_widgets(side: Side, bound: int | None, value: int | None, sync: Any) -> Any:
    """An UPDATE of the single-table subclass (SQLAlchemy adds its discriminator)."""
    stmt = update(Widget).values(size=value)
    if bound is not None:
        stmt = stmt.where(Widget.weight < bound)
    result = side.session.execute(stmt.execution_options(synchronize_session=sync))
    return result.rowcount  # type: ignore[attr-defined]


def _legacy_query_update(side: Side, bound: int | None, value: int | None, sync: Any) -> Any:
    """``Query.update()``, the 1.x API moved applications still call."""
    query = side.session.query(Book)
    if bound is not None:
        query = query.filter(Book.pages < bound)
    return query.update({"pages": value}, synchronize_session=sync)


def _legacy_query_delete(side: Side, bound: int | None, sync: Any) -> Any:
    query = side.session.query(Node).filter(~Node.children.any())  # leaves only
    if bound is not None:
        query = query.filter(Node.name < f"n{bound}")
    return query.delete(synchronize_session=sync)


def _update_returning(side: Side, bound: int | None, value: int | None) -> Any:
    """ORM-enabled UPDATE ... RETURNING the objects."""
    stmt = update(Author).values(rating=value).returning(Author)
    if bound is not None:
        stmt = stmt.where(Author.rating < bound)
    return sorted((_row(side, o) for o in side.session.scalars(stmt).all()), key=repr)


def _bulk_save_objects(side: Side, count: int, return_defaults: bool) -> Any:
    """The legacy ``bulk_save_objects`` of new objects (they stay out of the session)."""
    objs = []
    for _ in range(count):
        name = side.fresh("n")
        objs.append(Node(name=name))
    side.session.bulk_save_objects(objs, return_defaults=return_defaults)
    return [o.id is not None for o in objs]


def _bulk_update_mappings(side: Side, changes: list[tuple[int, int | None]]) -> Any:
    rows: dict[int, int | None] = {}
    for index, pages in changes:
        book = _need(side.pick(Kind.BOOK, index))
        if inspect(book).key is None:
            raise Skip
        rows[inspect(book).key[1][0]] = pages
    side.session.bulk_update_mappings(Book, [{"id": k, "pages": v} for k, v in rows.items()])


def _bulk_insert_mappings(side: Side, count: int, return_defaults: bool) -> Any:
    rows = [{"name": side.fresh("i"), "weight": 1} for _ in range(count)]
    side.session.bulk_insert_mappings(Gadget, rows, return_defaults=return_defaults)
    return [sorted(r) for r in rows] if return_defaults else None


def _subquery_update(side: Side, bound: int | None) -> Any:
    """An ORM UPDATE whose value is a correlated scalar subquery (tags per book)."""
    tags = (select(func.count()).select_from(book_tags)
            .where(book_tags.c.book_id == Book.id).scalar_subquery())
    stmt = update(Book).values(pages=tags)
    if bound is not None:
        stmt = stmt.where(Book.pages >= bound)
    result = side.session.execute(stmt.execution_options(synchronize_session="fetch"))
    return result.rowcount  # type: ignore[attr-defined]


def _orm_delete(side: Side, bound: int | None, sync: Any) -> Any:
    # Books without tags only: SQLite enforces no foreign keys here, so deleting a tagged
    # book's row would leave association rows that a later flush trips over in different
    # ways (an orphan link is not this test's subject).
    stmt = delete(Book).where(~Book.tags.any())
    if bound is not None:
        stmt = stmt.where(Book.pages < bound)
    result = side.session.execute(stmt.execution_options(synchronize_session=sync))
    return result.rowcount  # type: ignore[attr-defined]


def _bulk_insert_tags(side: Side, count: int) -> Any:
    labels = [side.fresh("t") for _ in range(count)]
    side.session.execute(insert(Tag), [{"label": label} for label in labels])
    return labels


def _bulk_update_books(side: Side, changes: list[tuple[int, int | None]]) -> Any:
    rows = {}
    for index, pages in changes:
        book = _need(side.pick(Kind.BOOK, index))
        if inspect(book).key is None:
            raise Skip
        rows[inspect(book).key[1][0]] = pages
    side.session.execute(update(Book), [{"id": k, "pages": v} for k, v in rows.items()])


def _insert_returning(side: Side, ratings: list[int | None]) -> Any:
    rows: list[dict[str, Any]] = [{"name": side.fresh("a"), "rating": r, "meta": {}}
                                  for r in ratings]
    made = side.session.scalars(insert(Author).returning(Author), rows).all()
    for obj in made:
        side.remember(Kind.AUTHOR, obj, obj.name)
    return sorted((_row(side, o) for o in made), key=repr)


def _upsert(side: Side, rows: list[tuple[int | None, int | None]], update_on_conflict: bool
            ) -> Any:
    """SQLite's INSERT ... ON CONFLICT (name) DO UPDATE / DO NOTHING RETURNING the ORM
    objects; a row names an existing author (a conflict) or a fresh one."""
    # A conflict only with a stored row (flushed first, persistent): an upsert of a pending
    # or transient author's name would make its own INSERT a unique violation, which the
    # store reports at commit, SQLite at flush (README: unique constraints are checked at
    # commit).
    _flushed(side)
    values: dict[str, dict[str, Any]] = {}
    for index, rating in rows:
        known = side.pick(Kind.AUTHOR, index)
        name = side.names.get(id(known)) if known is not None and inspect(
            known).persistent else None
        name = name or side.fresh("a")
        values[name] = {"name": name, "rating": rating, "version": 1, "touched": 0,
                        "meta": {}}
    stmt = sqlite_insert(Author).values(list(values.values()))
    if update_on_conflict:
        stmt = stmt.on_conflict_do_update(index_elements=[Author.name],
                                          set_={"rating": stmt.excluded.rating})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[Author.name])
    made = side.session.scalars(
        stmt.returning(Author), execution_options={"populate_existing": True}).all()
    for obj in made:
        if id(obj) not in side.names:
            side.remember(Kind.AUTHOR, obj, obj.name)
    return sorted((_row(side, o) for o in made), key=repr)


def _aggregate(side: Side, by_author: bool) -> Any:
    """Aggregates over what the session flushed: counts and sums per author, or overall."""
    if by_author:
        stmt = (select(Author.name, func.count(Book.id), func.sum(Book.pages))
                .join(Book, Book.author_id == Author.id, isouter=True)
                .group_by(Author.name).order_by(Author.name))
        return [tuple(r) for r in side.session.execute(stmt).all()]
    overall = select(func.count(), func.max(Author.rating), func.min(Author.version)).select_from(
        Author)
    return tuple(side.session.execute(overall).one())


def _text_update(side: Side, bound: int | None) -> Any:
    """SQL text through the session: the ORM knows nothing of it (the objects keep the values
    they have loaded until expired)."""
    result = side.session.execute(
        text("UPDATE uow_books SET pages = coalesce(pages, 0) + 1 WHERE pages < :b"),
        {"b": 5 if bound is None else bound})
    return result.rowcount  # type: ignore[attr-defined]


def _expire_attrs(side: Side, index: int, attr: str) -> Any:
    obj = _need(side.pick(Kind.AUTHOR, index))
    _flushed(side)
    side.session.expire(obj, [attr])


def _populate_existing(side: Side, kind: Kind) -> Any:
    _flushed(side)  # populate_existing overwrites unflushed changes, as expire does
    cls = CLASS[kind]
    stmt = select(cls).order_by(getattr(cls, NATURAL[cls])).execution_options(
        populate_existing=True)
    return [_row(side, o) for o in side.session.scalars(stmt).unique().all()]


def _get_for_update(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    key = inspect(obj).key
    if key is None:
        raise Skip
    found = side.session.get(CLASS[kind], key[1], with_for_update=True)
    return None if found is None else (_row(side, found), found is obj)


def _merge_no_load(side: Side, kind: Kind, index: int) -> Any:
    obj = _need(side.pick(kind, index))
    if inspect(obj).key is None:
        raise Skip  # see _merge
    return _row(side, side.session.merge(obj, load=False))


def _core_insert_books(side: Side, author: int, count: int) -> Any:
    """Rows inserted with Core on the session's connection, then found by the ORM."""
    owner = _need(side.pick(Kind.AUTHOR, author))
    key = inspect(owner).key
    if key is None:
        raise Skip
    titles = [side.fresh("b") for _ in range(count)]
    side.session.connection().execute(
        insert(Book), [{"title": t, "pages": 1, "author_id": key[1][0]} for t in titles])
    return titles


def _no_autoflush(side: Side, kind: Kind, bound: int | None) -> Any:
    with side.session.no_autoflush:
        return _query(side, kind, "lazy", bound)


RUNNERS: dict[str, Callable[..., Any]] = {
    "add_author": _add_author,
    "add_book": _add_book,
    "add_tag": _add_tag,
    "add_node": _add_node,
    "add_item": _add_item,
    "add_all": _add_all,
    "set_rating": _set(Kind.AUTHOR, "rating"),
    "set_pages": _set(Kind.BOOK, "pages"),
    "set_weight": _set(Kind.ITEM, "weight"),
    "meta_set": _meta_set,
    "meta_del": _meta_del,
    "append_book": _append_book,
    "remove_book": _remove_book,
    "move_book": _move_book,
    "tag": _tag,
    "untag": _untag,
    "reparent": _reparent,
    "delete": _delete,
    "flush": lambda side: side.session.flush(),
    "commit": _commit,
    "rollback": lambda side: side.session.rollback(),
    "begin_nested": lambda side: side.session.begin_nested() and None,
    "end_nested": _end_nested,
    "expire": _expire,
    "expire_all": _expire_all,
    "refresh": _refresh,
    "expunge": _expunge,
    "merge": _merge,
    "get": _get,
    "identity": _identity,
    "query": _query,
    "query_items": _query_items,
    "orm_update": _orm_update,
    "orm_delete": _orm_delete,
    "orm_update_widgets": _orm_update_widgets,
    "legacy_query_update": _legacy_query_update,
    "legacy_query_delete": _legacy_query_delete,
    "update_returning": _update_returning,
    "bulk_save_objects": _bulk_save_objects,
    "bulk_update_mappings": _bulk_update_mappings,
    "bulk_insert_mappings": _bulk_insert_mappings,
    "subquery_update": _subquery_update,
    "orm_increment": _orm_increment,
    "orm_update_gadgets": _orm_update_gadgets,
    "query_related": _query_related,
    "bulk_update_authors": _bulk_update_authors,
    "bulk_insert_tags": _bulk_insert_tags,
    "bulk_update_books": _bulk_update_books,
    "insert_returning": _insert_returning,
    "no_autoflush": _no_autoflush,
    "upsert": _upsert,
    "aggregate": _aggregate,
    "text_update": _text_update,
    "expire_attrs": _expire_attrs,
    "populate_existing": _populate_existing,
    "get_for_update": _get_for_update,
    "merge_no_load": _merge_no_load,
    "core_insert_books": _core_insert_books,
}

# -------------------------------------------------------------------------------- harness


@dataclass(frozen=True)
class Outcome:
    """What a step did on one side: its result, or its exception."""

    result: Any = None
    error: BaseException | None = None
    skipped: bool = False

    def error_class(self) -> str | None:
        """The error's class; the ORM's usage errors (``InvalidRequestError`` and its
        subclasses: ``ObjectDeletedError``, ...) count as one: with two problems in a
        session (an object deleted meanwhile, another that can't be refreshed) which one a
        flush meets first follows SQLAlchemy's set iteration order, which differs from run to
        run. DB-API errors compare by class."""
        if self.error is None:
            return None
        if isinstance(self.error, sa_exc.InvalidRequestError):
            return "InvalidRequestError"
        return type(self.error).__name__


@dataclass
class Stats:
    programs: int = 0
    steps: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    commits: int = 0


def run_step(side: Side, op: Operation) -> Outcome:
    try:
        return Outcome(result=RUNNERS[op[0]](side, *op[1:]))
    except Skip:
        return Outcome(skipped=True)
    # Compared, not raised. AssertionError: SQLAlchemy's own internal checks (a collection
    # with pending mutations that is loaded, when a savepoint rollback and expiry meet).
    except (sa_exc.SQLAlchemyError, AttributeError, ValueError, AssertionError) as exc:
        return Outcome(error=exc)


def _check_cause(outcome: Outcome) -> None:
    """A DB-API error on the target must be a PEP 249 class of ``sqla_docstore.errors``."""
    if isinstance(outcome.error, sa_exc.DBAPIError):
        assert isinstance(outcome.error.orig, errors.Error), repr(outcome.error.orig)


def _recover(side: Side) -> str | None:
    """After an error both sides roll back, as an application would. SQLAlchemy's rollback
    can itself fail (restoring a snapshot that holds an object a failed flush left half
    done: "is not persisted"); the session is then closed, and the error's class compared."""
    try:
        side.session.rollback()
    except sa_exc.InvalidRequestError as exc:
        side.session.close()
        return type(exc).__name__
    return None


def _trace(program: list[Operation], upto: int) -> str:
    return "\n".join(f"  {i}: {op}" for i, op in enumerate(program[:upto + 1]))


class OracleKeys:
    """Keeps SQLite from handing out a key twice, as HiLo never does (README: integer keys
    come from HiLo, not SQLite's max+1).

    The SQLite tables are AUTOINCREMENT, so a deleted row's key is not reused, but
    ``sqlite_sequence`` is transactional: a rolled-back insert's key comes again. An object
    such an insert loaded (``insert().returning(Model)``, a query of bulk-inserted rows) stays
    in the identity map after the rollback, expired, and on SQLite the next insert takes its
    key: the new object replaces it in the identity map and reading it loads the new row.
    Neither happens on the target, so after every step the oracle's sequences are put back
    to the highest they have been."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.high: dict[str, int] = {}

    def after_step(self) -> None:
        session = self.side.session
        transaction = session.get_transaction()
        if transaction is not None and transaction.is_active:
            try:
                conn = session.connection()
            except sa_exc.InvalidRequestError:  # PendingRollbackError, an inactive session
                return  # a failed flush: the step's error is compared, then both roll back
            self._restore(conn)
        elif transaction is None:
            with self.side.engine.begin() as conn:
                self._restore(conn)

    def _restore(self, conn: Any) -> None:
        for name, seq in conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all():
            self.high[name] = max(seq, self.high.get(name, 0))
        for name, seq in self.high.items():
            conn.exec_driver_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq < ?",
                                 (seq, name, seq))
            conn.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM sqlite_sequence WHERE name = ?)", (name, seq, name))


def _side(engine: Engine, expire_on_commit: bool, autoflush: bool) -> Side:
    side = Side(engine, Session(engine, expire_on_commit=expire_on_commit, autoflush=autoflush))
    # The identity map is weak: an object only it holds goes when the cyclic garbage collector
    # runs, which is at a different moment on each side, and what the unit of work does next
    # (an orphan's parent still known or not) depends on it. Holding every loaded object makes
    # a program deterministic.
    event.listen(side.session, "loaded_as_persistent", lambda _s, obj: side.keep.append(obj))
    return side


def run_program(oracle_engine: Engine, target_engine: Engine, program: Any,
                stats: Stats) -> None:
    expire_on_commit, autoflush, ops = program
    oracle = _side(oracle_engine, expire_on_commit, autoflush)
    target = _side(target_engine, expire_on_commit, autoflush)
    keys = OracleKeys(oracle)
    stats.programs += 1
    ops = [*ops, ("commit",)]  # the program's end commits what it left pending
    try:
        for step, op in enumerate(ops):
            expected, got = run_step(oracle, op), run_step(target, op)
            where = f"step {step} {op[0]}: program\n{_trace(ops, step)}"
            stats.steps += 1
            assert got.error_class() == expected.error_class(), (
                f"{where}\nSQLite: {expected.error!r}\ntarget: {got.error!r}")
            _check_cause(got)
            keys.after_step()
            if expected.error is not None:
                stats.errors[f"{op[0]}:{expected.error_class()}"] += 1
                recovered = _recover(oracle)
                assert _recover(target) == recovered, f"{where}\nrollback differs"
                keys.after_step()
                if op[0] == "commit":
                    assert stored_view(target_engine) == stored_view(oracle_engine), (
                        f"{where}\nstored rows differ after a failed commit")
                continue
            assert same(expected.result, got.result), (
                f"{where}\nSQLite: {expected.result}\ntarget: {got.result}")
            seen, oracle_seen = session_view(target), session_view(oracle)
            assert same(oracle_seen, seen), (
                f"{where}\nsession differs\nSQLite: {oracle_seen}\ntarget: {seen}")
            if op[0] == "commit" and not expected.skipped:
                stats.commits += 1
                assert stored_view(target_engine) == stored_view(oracle_engine), (
                    f"{where}\nstored rows differ")
    finally:
        oracle.session.close()
        target.session.close()


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def programs() -> st.SearchStrategy[Any]:
    return st.tuples(st.booleans(), st.booleans(),
                     st.lists(OPERATIONS, min_size=STEPS // 2, max_size=STEPS))


EXAMPLES = os.environ.get("ORM_UOW_EXAMPLES")
SEED = os.environ.get("ORM_UOW_SEED")
STEPS = int(os.environ.get("ORM_UOW_STEPS") or 40)
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("ORM_UOW_SHRINK") else [])


def _reproducible(examples: int) -> Callable[[Any], Any]:
    def apply(test: Any) -> Any:
        test = settings(max_examples=int(EXAMPLES or examples), deadline=None, database=None,
                        derandomize=SEED is None, suppress_health_check=list(HealthCheck),
                        print_blob=True, phases=PHASES)(test)
        return seed(int(SEED))(test) if SEED is not None else test
    return apply


#: ``ORM_UOW_FOREIGN_KEYS=1``: foreign keys enforced on both sides (SQLite's PRAGMA, the URL
#: option ``foreign_keys=on``; README: Foreign keys).
FOREIGN_KEYS = bool(os.environ.get("ORM_UOW_FOREIGN_KEYS"))


def _target_url(url: str) -> str:
    if not FOREIGN_KEYS:
        return url
    return f"{url}{'&' if '?' in url else '?'}foreign_keys=on"


@pytest.fixture
def oracle_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_oracle()
    if FOREIGN_KEYS:
        event.listen(engine, "connect",
                     lambda dbapi_conn, _record: dbapi_conn.execute("PRAGMA foreign_keys = ON"))
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def docstore_engine(tmp_path: Path) -> Iterator[Engine]:
    """``docstore://`` (memory), or a file store under ``ORM_UOW_FILE=1``."""
    file_store = bool(os.environ.get("ORM_UOW_FILE"))
    engine = create_engine(_target_url(
        f"docstore:///{tmp_path / 'uow.db'}" if file_store else "docstore://"))
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ravendb_engine(ravendb_url: str) -> Iterator[Engine]:
    engine = create_engine(_target_url(ravendb_url))
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def stats(request: pytest.FixtureRequest) -> Iterator[Stats]:
    counts = Stats()
    yield counts
    print(f"\n{request.node.name}: {counts.programs} programs, {counts.steps} steps, "
          f"{counts.commits} commits compared; errors both raised: {dict(counts.errors)}")


@pytest.fixture(autouse=True)
def _quiet_warnings() -> Iterator[None]:
    with warnings.catch_warnings():  # SAWarnings (e.g. an object deleted twice) on both sides
        warnings.simplefilter("ignore", sa_exc.SAWarning)
        yield


def _run(oracle_engine: Engine, target_engine: Engine, program: Any, stats: Stats) -> None:
    _empty(oracle_engine)
    _empty(target_engine)
    run_program(oracle_engine, target_engine, program, stats)


@_reproducible(300)
@given(program=programs())
def test_orm_unit_of_work_on_docstore_matches_sqlite(oracle_engine: Engine,
                                                     docstore_engine: Engine, stats: Stats,
                                                     program: Any) -> None:
    _run(oracle_engine, docstore_engine, program, stats)


@_reproducible(60)
@given(program=programs())
def test_orm_unit_of_work_on_ravendb_matches_sqlite(oracle_engine: Engine,
                                                    ravendb_engine: Engine, stats: Stats,
                                                    program: Any) -> None:
    _run(oracle_engine, ravendb_engine, program, stats)
