"""Property: a query inside a transaction (pending writes overlaid) returns what it returns after
commit, on the in-memory and the file store, and the same rows as SQLAlchemy on SQLite.

Random programs of add / update / delete / bulk update / bulk delete / flush / begin_nested /
rollback-to-savepoint / release / rollback / commit run in lockstep on every engine; each "query"
step runs a random query (=, <, IN, LIKE, IS NULL, OR; ORDER BY with LIMIT/OFFSET; count, sum,
min, max; GROUP BY; inner and outer join of two collections) everywhere and compares the rows.
At every commit, every query of the program runs before and after the commit and must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "prop_items"
    # Explicit ids, so every engine names the same rows the same way.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(10))
    qty: Mapped[int]
    score: Mapped[int | None]


class Tag(Base):
    __tablename__ = "prop_tags"
    # Generated ids (HiLo on docstore, rowid on SQLite): never compared, only used in order.
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int]
    label: Mapped[str] = mapped_column(String(10))


ITEMS = Item.__table__
TAGS = Tag.__table__

# Lower-case only: SQLite's LIKE ignores ASCII case, the store's is case-sensitive.
NAMES = ["a", "ab", "abc", "b", "ba", "c", "ca"]
LABELS = ["x", "xy", "y"]
LIKE_PATTERNS = ["a%", "%a", "%b%", "_b%", "a_", "%", "ab%c", "c"]

# ------------------------------------------------------------------------ strategies

names = st.sampled_from(NAMES)
labels = st.sampled_from(LABELS)
qtys = st.integers(-3, 9)
scores = st.none() | st.integers(0, 5)
picks = st.integers(0, 1000)  # an index into the live rows, modulo their number

item_pred = st.one_of(
    st.tuples(st.just("name_eq"), names),
    st.tuples(st.just("qty_lt"), qtys),
    st.tuples(st.just("qty_in"), st.lists(qtys, min_size=1, max_size=4)),
    st.tuples(st.just("name_like"), st.sampled_from(LIKE_PATTERNS)),
    st.tuples(st.just("score_null"), st.booleans()),
    st.tuples(st.just("score_ge"), st.integers(0, 5)),
    st.tuples(st.just("or"), st.tuples(st.just("qty_lt"), qtys),
              st.tuples(st.just("name_eq"), names)),
)
filters = st.lists(item_pred, max_size=2)
tag_pred = st.none() | st.tuples(st.just("label_in"), st.lists(labels, min_size=1, max_size=2))

queries = st.one_of(
    st.tuples(
        st.just("rows"), filters,
        st.sampled_from(["id", "name", "qty", "score"]), st.booleans(),
        st.none() | st.integers(0, 5), st.none() | st.integers(1, 3),
    ),
    st.tuples(st.just("aggregate"), filters),
    st.tuples(st.just("group"), filters),
    st.tuples(st.just("join"), filters, tag_pred),
    st.tuples(st.just("outerjoin"), filters),
    st.tuples(st.just("join_count"), filters, tag_pred),
)

operations = st.one_of(
    st.tuples(st.just("add_item"), names, qtys, scores),
    st.tuples(st.just("add_items"), st.lists(st.tuples(names, qtys, scores), min_size=2,
                                             max_size=5)),
    st.tuples(st.just("add_tag"), picks, labels),
    st.tuples(st.just("update_item"), picks, st.one_of(
        st.tuples(st.just("name"), names), st.tuples(st.just("qty"), qtys),
        st.tuples(st.just("score"), scores),
    )),
    st.tuples(st.just("update_tag"), picks, labels),
    st.tuples(st.just("delete_item"), picks),
    st.tuples(st.just("delete_tag"), picks),
    st.tuples(st.just("bulk_update"), filters, qtys),
    st.tuples(st.just("bulk_delete"), filters),
    st.just(("flush",)),
    st.just(("savepoint",)),
    st.just(("rollback_savepoint",)),
    st.just(("release_savepoint",)),
    st.just(("query", 0)),
    st.tuples(st.just("query"), st.integers(0, 3)),
    # Commit and rollback share one slot: ending transactions too often leaves little pending.
    st.sampled_from([("commit",), ("commit",), ("rollback",)]),
)

programs = st.tuples(
    st.lists(queries, min_size=1, max_size=4),
    st.lists(operations, min_size=8, max_size=40),
)

# ----------------------------------------------------------------------- SQL builders


def _predicate(pred: tuple[Any, ...]) -> Any:
    kind = pred[0]
    if kind == "name_eq":
        return Item.name == pred[1]
    if kind == "qty_lt":
        return Item.qty < pred[1]
    if kind == "qty_in":
        return Item.qty.in_(pred[1])
    if kind == "name_like":
        return Item.name.like(pred[1])
    if kind == "score_null":
        return Item.score.is_(None) if pred[1] else Item.score.is_not(None)
    if kind == "score_ge":
        return Item.score >= pred[1]
    assert kind == "or"
    return or_(_predicate(pred[1]), _predicate(pred[2]))


def _where(stmt: Any, preds: list[tuple[Any, ...]]) -> Any:
    return stmt.where(and_(*[_predicate(p) for p in preds])) if preds else stmt


def build_query(spec: tuple[Any, ...]) -> Any:
    kind = spec[0]
    if kind == "rows":
        _, preds, field, desc, limit, offset = spec
        col = getattr(Item, field)
        stmt = _where(select(Item.id, Item.name, Item.qty, Item.score), preds)
        # Item.id breaks ties, so the order is total and LIMIT/OFFSET are deterministic.
        stmt = stmt.order_by(col.desc() if desc else col.asc(), Item.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset is not None:
            stmt = stmt.offset(offset)
        return stmt
    if kind == "aggregate":
        return _where(select(func.count(Item.id), func.sum(Item.qty), func.min(Item.name),
                             func.max(Item.score)), spec[1])
    if kind == "group":
        stmt = select(Item.name, func.count(), func.sum(Item.qty), func.max(Item.score))
        return _where(stmt, spec[1]).group_by(Item.name).order_by(Item.name)
    if kind == "join":
        stmt = select(Item.id, Item.name, Tag.label).join(Tag, Tag.item_id == Item.id)
        stmt = _where(stmt, spec[1])
        if spec[2] is not None:
            stmt = stmt.where(Tag.label.in_(spec[2][1]))
        return stmt.order_by(Item.id, Tag.label)
    if kind == "outerjoin":
        stmt = select(Item.id, Item.qty, Tag.label).outerjoin(Tag, Tag.item_id == Item.id)
        return _where(stmt, spec[1]).order_by(Item.id, Tag.label)
    assert kind == "join_count"
    stmt = select(func.count(), func.sum(Item.qty)).select_from(Item)
    stmt = _where(stmt.join(Tag, Tag.item_id == Item.id), spec[1])
    if spec[2] is not None:
        stmt = stmt.where(Tag.label.in_(spec[2][1]))
    return stmt


def _rows(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in result]


# ---------------------------------------------------------------------------- runners


def _transaction_op(nested: list[Any], target: Any, op: tuple[Any, ...]) -> None:
    """Savepoint, release, rollback and commit ops, alike for a Session and a Connection."""
    kind = op[0]
    if kind == "savepoint":
        if len(nested) < 3:
            nested.append(target.begin_nested())
    elif kind == "rollback_savepoint":
        if nested:
            nested.pop().rollback()
    elif kind == "release_savepoint":
        if nested:
            nested.pop().commit()
    elif kind == "commit":
        nested.clear()
        target.commit()
    elif kind == "rollback":
        nested.clear()
        target.rollback()
    else:  # pragma: no cover - the strategy makes only the kinds above
        raise AssertionError(op)


class OrmRunner:
    """Runs a program through one Session; savepoints are Session.begin_nested()."""

    def __init__(self, engine: Engine) -> None:
        self.session = Session(engine)
        self.nested: list[SessionTransaction] = []
        self.next_item_id = 1

    def _item_ids(self) -> list[int]:
        return list(self.session.scalars(select(Item.id).order_by(Item.id)))

    def _tag_ids(self) -> list[int]:
        # Generated ids grow on every engine, so id order is creation order everywhere.
        return list(self.session.scalars(select(Tag.id).order_by(Tag.id)))

    def apply(self, op: tuple[Any, ...]) -> None:
        s = self.session
        kind = op[0]
        if kind == "add_item":
            s.add(Item(id=self.next_item_id, name=op[1], qty=op[2], score=op[3]))
            self.next_item_id += 1
        elif kind == "add_items":
            for name, qty, score in op[1]:
                s.add(Item(id=self.next_item_id, name=name, qty=qty, score=score))
                self.next_item_id += 1
        elif kind == "add_tag":
            ids = self._item_ids()
            if ids:
                s.add(Tag(item_id=ids[op[1] % len(ids)], label=op[2]))
        elif kind == "update_item":
            ids = self._item_ids()
            if ids:
                item = s.get(Item, ids[op[1] % len(ids)])
                assert item is not None
                field, value = op[2]
                setattr(item, field, value)
        elif kind == "update_tag":
            ids = self._tag_ids()
            if ids:
                tag = s.get(Tag, ids[op[1] % len(ids)])
                assert tag is not None
                tag.label = op[2]
        elif kind == "delete_item":
            ids = self._item_ids()
            if ids:
                s.delete(s.get(Item, ids[op[1] % len(ids)]))
        elif kind == "delete_tag":
            ids = self._tag_ids()
            if ids:
                s.delete(s.get(Tag, ids[op[1] % len(ids)]))
        elif kind == "bulk_update":
            s.execute(_where(update(Item), op[1]).values(qty=op[2]))
        elif kind == "bulk_delete":
            s.execute(_where(delete(Item), op[1]))
        elif kind == "flush":
            s.flush()
        else:
            _transaction_op(self.nested, s, op)

    def query(self, spec: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return _rows(self.session.execute(build_query(spec)))

    def close(self) -> None:
        self.session.close()


class CoreRunner:
    """Runs a program through one Connection; savepoints are Connection.begin_nested()."""

    def __init__(self, engine: Engine) -> None:
        self.conn: Connection = engine.connect()
        self.nested: list[Any] = []
        self.next_item_id = 1

    def _ids(self, table: Any) -> list[int]:
        return list(self.conn.scalars(select(table.c.id).order_by(table.c.id)))

    def apply(self, op: tuple[Any, ...]) -> None:
        c = self.conn
        kind = op[0]
        if kind == "add_item":
            c.execute(insert(ITEMS).values(id=self.next_item_id, name=op[1], qty=op[2],
                                           score=op[3]))
            self.next_item_id += 1
        elif kind == "add_items":
            rows = []
            for name, qty, score in op[1]:
                rows.append({"id": self.next_item_id, "name": name, "qty": qty, "score": score})
                self.next_item_id += 1
            c.execute(insert(ITEMS), rows)  # executemany
        elif kind == "add_tag":
            ids = self._ids(ITEMS)
            if ids:
                c.execute(insert(TAGS).values(item_id=ids[op[1] % len(ids)], label=op[2]))
        elif kind == "update_item":
            ids = self._ids(ITEMS)
            if ids:
                field, value = op[2]
                result = c.execute(update(ITEMS).where(ITEMS.c.id == ids[op[1] % len(ids)])
                                   .values({field: value}))
                assert result.rowcount == 1
        elif kind == "update_tag":
            ids = self._ids(TAGS)
            if ids:
                c.execute(update(TAGS).where(TAGS.c.id == ids[op[1] % len(ids)])
                          .values(label=op[2]))
        elif kind == "delete_item":
            ids = self._ids(ITEMS)
            if ids:
                result = c.execute(delete(ITEMS).where(ITEMS.c.id == ids[op[1] % len(ids)]))
                assert result.rowcount == 1
        elif kind == "delete_tag":
            ids = self._ids(TAGS)
            if ids:
                c.execute(delete(TAGS).where(TAGS.c.id == ids[op[1] % len(ids)]))
        elif kind == "bulk_update":
            c.execute(_where(update(Item), op[1]).values(qty=op[2]))
        elif kind == "bulk_delete":
            c.execute(_where(delete(Item), op[1]))
        elif kind == "flush":
            pass  # Core statements reach the DB-API at once
        else:
            _transaction_op(self.nested, c, op)

    def query(self, spec: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return _rows(self.conn.execute(build_query(spec)))

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- harness


@dataclass
class Engines:
    names: list[str]
    engines: list[Engine]


def _sqlite_oracle() -> Engine:
    """SQLite with SQLAlchemy's recipe for pysqlite savepoints: pysqlite would not BEGIN before
    a SAVEPOINT, so RELEASE of the outermost savepoint would commit."""
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    path: Path = tmp_path_factory.mktemp("overlay") / "store.db"
    made = Engines(
        ["sqlite", "docstore-memory", "docstore-file"],
        [_sqlite_oracle(), create_engine("docstore://"),
         create_engine(f"docstore:///{path}")],
    )
    for engine in made.engines:
        Base.metadata.create_all(engine)
    yield made
    for engine in made.engines:
        engine.dispose()


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(TAGS))
        conn.execute(delete(ITEMS))


def _check_commit(runners: list[Any], names: list[str],
                  specs: list[tuple[Any, ...]], commit: bool) -> list[list[Any]]:
    """Every query before and after the commit (or rollback) on every engine."""
    before = [[r.query(q) for q in specs] for r in runners]
    for r in runners:
        r.apply(("commit",) if commit else ("rollback",))
    after = [[r.query(q) for q in specs] for r in runners]
    for name, b, a in zip(names, before, after, strict=True):
        if commit:
            for spec, rows_b, rows_a in zip(specs, b, a, strict=True):
                assert rows_b == rows_a, (name, "before commit != after commit", spec)
    return after


def _run_program(engines: Engines, runner_cls: type, program: Any) -> None:
    specs, ops = program
    for engine in engines.engines:
        _clear(engine)
    runners = [runner_cls(e) for e in engines.engines]
    oracle, *stores = engines.names
    try:
        for step, op in enumerate(ops):
            if op[0] in ("commit", "rollback"):
                after = _check_commit(runners, engines.names, specs, op[0] == "commit")
                for name, rows in zip(stores, after[1:], strict=True):
                    assert rows == after[0], (name, oracle, "after", op, "step", step)
                continue
            if op[0] == "query":
                spec = specs[op[1] % len(specs)]
                results = [r.query(spec) for r in runners]
                for name, rows in zip(stores, results[1:], strict=True):
                    assert rows == results[0], (name, oracle, spec, "step", step)
                continue
            for r in runners:
                r.apply(op)
        after = _check_commit(runners, engines.names, specs, True)
        for name, rows in zip(stores, after[1:], strict=True):
            assert rows == after[0], (name, oracle, "final commit")
    finally:
        for r in runners:
            r.close()


COMMON = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@COMMON
@given(program=programs)
def test_orm_overlay_matches_commit_and_sqlite(engines: Engines, program: Any) -> None:
    _run_program(engines, OrmRunner, program)


@COMMON
@given(program=programs)
def test_core_overlay_matches_commit_and_sqlite(engines: Engines, program: Any) -> None:
    _run_program(engines, CoreRunner, program)


def test_pending_overlay_example(engines: Engines) -> None:
    """A fixed program: every kind of operation once, so a failure here is easy to read."""
    program = (
        [("rows", [("qty_lt", 5)], "qty", True, None, None),
         ("join", [("name_like", "a%")], ("label_in", ["x"])),
         ("aggregate", []), ("group", [("score_null", False)])],
        [("add_items", [("a", 1, None), ("ab", 4, 2), ("b", 7, 3)]), ("flush",),
         ("add_tag", 0, "x"), ("add_tag", 1, "y"), ("query", 1), ("savepoint",),
         ("update_item", 1, ("qty", 8)), ("delete_item", 0), ("query", 0), ("query", 2),
         ("rollback_savepoint",), ("query", 0), ("bulk_update", [("name_like", "a%")], 2),
         ("savepoint",), ("bulk_delete", [("qty_in", [7])]), ("release_savepoint",),
         ("query", 3), ("commit",), ("delete_tag", 0), ("update_tag", 0, "x"),
         ("query", 1), ("rollback",), ("query", 1)],
    )
    _run_program(engines, OrmRunner, program)
    _run_program(engines, CoreRunner, program)


def test_release_of_savepoint_then_rollback(engines: Engines) -> None:
    """Found by the property test (against a SQLite oracle without the pysqlite recipe)."""
    program = (
        [("group", [])],
        [("add_tag", 0, "x"), ("savepoint",), ("add_item", "a", 0, None), ("delete_tag", 0),
         ("release_savepoint",), ("rollback",), ("query", 0)],
    )
    _run_program(engines, OrmRunner, program)
    _run_program(engines, CoreRunner, program)
