"""JSON element and path access (SQLAlchemy's JSON comparator) on ``docstore://`` and
``ravendb://``, compared with SQLAlchemy's SQLite dialect on the same rows (the oracle).

The table of cases covers projections, WHERE, ORDER BY, GROUP BY and aggregates over nested
objects and arrays: missing keys, JSON null and SQL NULL, numbers next to numeric strings,
booleans, nested arrays, documents whose JSON value is an array, a string or a number; typed
accessors (``as_string`` ...), path tuples, integer indexes and bound parameters (the same
compiled statement run with other keys and values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    func,
    insert,
    not_,
    null,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql import Select

from sqla_docstore import array_contains

metadata = MetaData()
docs = Table(
    "docs", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20)),
    Column("data", JSON),
)

DATA: list[Any] = [
    {"a": {"b": 1}, "n": 5, "s": "x", "t": [1, "two", {"c": 3}], "f": 1.5, "z": None,
     "bo": True},
    {"a": {"b": "1"}, "n": "5", "s": "y", "t": [], "f": 2, "bo": False},
    null(),  # SQL NULL
    {"a": None, "n": 7, "s": "x", "f": -0.5},
    [1, 2, {"a": 3}],
    "str",
    {"a": {"b": [10, 20]}, "n": 5.5, "s": "X", "bo": 1, "t": [3, 1]},
    {"n": -3, "s": "", "f": 1e20, "a": {"b": None}},
    {"n": True, "s": 12, "t": [[1, 2], [3]]},
    {},
    None,  # JSON null
    {"a": {"b": 2}, "n": 100, "s": "abc", "t": ["x", "y"], "f": 3, "bo": False},
    42,
    {"s": "x", "n": "abc", "a": {"b": {"c": "deep"}}},
]

D = docs.c.data
Case = Callable[[], Select[Any]]

#: name -> (statement, parameters); every statement orders its rows completely
CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    # projections
    "json element": (select(docs.c.id, D["a"]), {}),
    "nested element": (select(docs.c.id, D["a"]["b"]), {}),
    "path tuple": (select(docs.c.id, D[("t", 2, "c")], D[("a", "b", "c")]), {}),
    "array index": (select(docs.c.id, D["t"][0], D["t"][1], D[1]), {}),
    "index in a nested array": (select(docs.c.id, D[("t", 0, 1)]), {}),
    "as_string": (select(docs.c.id, D["s"].as_string(), D["n"].as_string(),
                         D["a"].as_string()), {}),
    "as_integer": (select(docs.c.id, D["n"].as_integer(), D["s"].as_integer()), {}),
    "as_float": (select(docs.c.id, D["f"].as_float(), D["n"].as_float()), {}),
    "as_boolean": (select(docs.c.id, D["bo"].as_boolean(), D["n"].as_boolean()), {}),
    "as_numeric": (select(docs.c.id, D["f"].as_numeric(10, 2)), {}),
    "as_json": (select(docs.c.id, D["t"].as_json(), D[("a", "b")].as_json()), {}),
    "expression on an element": (select(docs.c.id, D["n"].as_integer() + 1,
                                        func.lower(D["s"].as_string())), {}),
    # WHERE
    "where as_string =": (select(docs.c.id).where(D["s"].as_string() == "x"), {}),
    "where nested as_integer": (select(docs.c.id).where(D["a"]["b"].as_integer() == 1), {}),
    "where path tuple": (select(docs.c.id).where(D[("t", 0)].as_integer() == 1), {}),
    "where bound >": (select(docs.c.id).where(D["n"].as_integer() > bindparam("lo")),
                      {"lo": 4}),
    "where bound between": (
        select(docs.c.id).where(D["f"].as_float().between(bindparam("lo"), bindparam("hi"))),
        {"lo": 0, "hi": 2}),
    "where as_boolean": (select(docs.c.id).where(D["bo"].as_boolean()), {}),
    "where as_boolean false": (select(docs.c.id).where(D["bo"].as_boolean() == False), {}),  # noqa: E712
    "where as_boolean = true": (select(docs.c.id).where(D["f"].as_boolean() == True), {}),  # noqa: E712
    "where is null": (select(docs.c.id).where(D["zz"].as_string().is_(None)), {}),
    "where is not null": (select(docs.c.id).where(D["a"]["b"].as_string().is_not(None)), {}),
    "where json element = int": (select(docs.c.id).where(D["n"] == 5), {}),
    "where json element = str": (select(docs.c.id).where(D["s"] == "x"), {}),
    "where json element = list": (select(docs.c.id).where(D["t"] == []), {}),
    "where json element = dict": (select(docs.c.id).where(D["a"] == {"b": 1}), {}),
    "where json element = JSON.NULL": (select(docs.c.id).where(D["z"] == JSON.NULL), {}),
    "where json element = bound None": (select(docs.c.id).where(D["a"] == bindparam("v")),
                                        {"v": None}),
    "where in": (select(docs.c.id).where(D["s"].as_string().in_(["x", "abc"])), {}),
    "where not in": (select(docs.c.id).where(D["n"].as_integer().not_in([5, 7])), {}),
    "where like": (select(docs.c.id).where(D["s"].as_string().like("%b%")), {}),
    "where not": (select(docs.c.id).where(not_(D["s"].as_string() == "x")), {}),
    "where two paths": (select(docs.c.id).where(
        D["n"].as_integer() < D["f"].as_float() + 5), {}),
    # ORDER BY, GROUP BY, aggregates
    "order by as_integer": (select(docs.c.id).order_by(D["n"].as_integer().desc()), {}),
    "order by as_string": (select(docs.c.id).order_by(D["s"].as_string()), {}),
    "order by json element": (select(docs.c.id).order_by(D["s"]), {}),
    "group by as_string": (select(D["s"].as_string(), func.count()).group_by(
        D["s"].as_string()).order_by(D["s"].as_string()), {}),
    "group by json element": (select(D["s"], func.count()).group_by(D["s"]).order_by(D["s"]),
                              {}),
    "group by nested": (select(D["a"]["b"].as_integer(), func.count(docs.c.id)).group_by(
        D["a"]["b"].as_integer()).order_by(D["a"]["b"].as_integer()), {}),
    "aggregates": (select(func.sum(D["n"].as_integer()), func.max(D["f"].as_float()),
                          func.count(D["s"].as_string()), func.min(D["s"].as_string())), {}),
    "having": (select(D["s"].as_string(), func.count()).group_by(D["s"].as_string()).having(
        func.count() > 1).order_by(D["s"].as_string()), {}),
    "distinct": (select(D["s"].as_string()).distinct().order_by(D["s"].as_string()), {}),
    "json element from a subquery": (select(
        select(docs.c.id, D["a"].label("a")).subquery().c.a), {}),
    "typed element from a subquery": (select(
        select(docs.c.id, D["n"].as_integer().label("n")).subquery().c.n), {}),
    "union of elements": (select(D["s"].as_string().label("v")).union(
        select(D["a"]["b"].as_string())).order_by("v"), {}),
    "distinct json element": (select(D["s"]).distinct().order_by(D["s"]), {}),
    "order by label": (select(docs.c.id, D["n"].as_float().label("nf")).order_by(
        "nf", docs.c.id), {}),
    "element of a path in a case": (select(docs.c.id, func.coalesce(
        D["s"].as_string(), D["n"].as_string(), "none")), {}),
    "subquery": (select(func.count()).select_from(
        select(docs.c.id).where(D["n"].as_integer() >= 5).subquery()), {}),
}


def _ordered(stmt: Any) -> Any:
    """Rows of a statement over ``docs`` ordered completely (by id last)."""
    if isinstance(stmt, Select) and not stmt._group_by_clauses and not stmt._distinct and (
        docs in stmt.get_final_froms()
    ):
        return stmt.order_by(docs.c.id)
    return stmt


def _load(engine: Engine) -> Engine:
    metadata.create_all(engine)
    with engine.begin() as conn:
        for i, data in enumerate(DATA, start=1):
            conn.execute(insert(docs).values(id=i, name=f"n{i}", data=data))
    return engine


@pytest.fixture(scope="module")
def oracle() -> Iterator[Engine]:
    eng = create_engine("sqlite://")
    yield _load(eng)
    eng.dispose()


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    return _load(engine)


def _run(engine: Engine, stmt: Any, params: dict[str, Any]) -> Any:
    with engine.connect() as conn:
        return conn.execute(_ordered(stmt), params).all()


def test_json_paths_match_sqlite(loaded: Engine, oracle: Engine) -> None:
    diffs = {}
    for name, (stmt, params) in CASES.items():
        expected = _run(oracle, stmt, params)
        got = _run(loaded, stmt, params)
        if got != expected:
            diffs[name] = (got, expected)
    assert not diffs


def test_one_statement_with_other_keys_and_values(loaded: Engine, oracle: Engine) -> None:
    """The keys of a path are bound parameters: SQLAlchemy compiles the statement once (its
    cache key leaves the key out) and runs it with each key and value."""
    for key, value in (("s", ""), ("n", "5"), ("zz", ""), ("s", "x"), (("a", "b"), "0")):
        stmt = select(docs.c.id, D[key].as_string()).where(
            D[key].as_string() > bindparam("v"))
        params = {"v": value}
        assert _run(loaded, stmt, params) == _run(oracle, stmt, params), key


def test_update_and_delete_by_path(loaded: Engine) -> None:
    oracle = _load(create_engine("sqlite://"))
    counts = []
    for eng in (loaded, oracle):
        with eng.begin() as conn:
            changed = conn.execute(update(docs).where(D["s"].as_string() == "x")
                                   .values(name="was x")).rowcount
            gone = conn.execute(delete(docs).where(D[("a", "b")].as_integer() == 2)).rowcount
            counts.append((changed, gone))
    assert counts == [(3, 1), (3, 1)]
    stmt = select(docs.c.id, docs.c.name)
    assert _run(loaded, stmt, {}) == _run(oracle, stmt, {})


def test_array_contains_matches_sqlite(loaded: Engine) -> None:
    """``array_contains`` against SQLite's reading of it (json_type and json_each)."""
    oracle = _load(create_engine("sqlite://"))
    tags = Table("tags", MetaData(), Column("id", Integer, primary_key=True),
                 Column("tags", JSON))
    tag_rows = [[1, "two", 3.5, True, None, {"c": 3}, [1]], ["x", "X"], [], "x", {"k": "x"},
                None, [[1, 2]], ["1"], [False, 0]]
    for eng in (loaded, oracle):
        tags.create(eng)
        with eng.begin() as conn:
            for i, value in enumerate(tag_rows, start=1):
                conn.execute(insert(tags).values(id=i, tags=value))
    probes = ["x", "two", 1, 3.5, True, False, 0, "1", "X", None]
    cases = [select(tags.c.id).where(array_contains(tags.c.tags, bindparam("v")))]
    cases += [select(docs.c.id).where(array_contains(D["t"], bindparam("v")))]
    cases += [select(docs.c.id).where(not_(array_contains(D[("t", 0)], bindparam("v"))))]
    cases += [select(docs.c.id, array_contains(D["t"], bindparam("v")))]
    for stmt in cases:
        for probe in probes:
            params = {"v": probe}
            assert _run(loaded, stmt, params) == _run(oracle, stmt, params), (str(stmt), probe)
    with loaded.connect() as conn:
        found = conn.execute(select(tags.c.id).where(array_contains(tags.c.tags, "x"))
                             .order_by(tags.c.id)).scalars().all()
    assert found == [2]  # not the string "x" (row 4) nor an object's value (row 5)


def test_set_and_check_read_paths_of_the_document(engine: Engine) -> None:
    """UPDATE ... SET and CHECK constraints evaluate paths against each document as stored
    (a string, a number or an array as the whole JSON value included)."""
    from sqlalchemy import CheckConstraint

    def table(metadata: MetaData) -> Table:
        t = Table("checked", metadata, Column("id", Integer, primary_key=True),
                  Column("label", String(20)), Column("data", JSON))
        t.append_constraint(CheckConstraint(
            func.coalesce(t.c.data["n"].as_integer(), 0) >= 0, name="n_not_negative"))
        return t

    results = []
    for eng in (engine, create_engine("sqlite://")):
        metadata = MetaData()
        t = table(metadata)
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(insert(t), [{"id": i, "data": d} for i, d in enumerate(
                [{"s": "x", "n": 1}, "str", 5, ["s"], {"s": {"deep": 1}}, {}], start=1)])
            conn.execute(update(t).values(label=t.c.data["s"].as_string()))
            refused = None
            try:
                with conn.begin_nested():
                    conn.execute(insert(t).values(id=99, data={"n": -1}))
            except Exception as exc:  # noqa: BLE001 - compared across backends below
                refused = type(exc).__name__
            results.append((conn.execute(select(t.c.id, t.c.label).order_by(t.c.id)).all(),
                            refused))
    assert results[0] == results[1]
    assert results[0][1] == "IntegrityError"


def test_orm_filters_and_orders_by_nested_fields(engine: Engine) -> None:
    class Base(DeclarativeBase):
        pass

    class Product(Base):
        __tablename__ = "products"
        id: Mapped[int] = mapped_column(primary_key=True)
        attrs: Mapped[dict[str, Any]] = mapped_column(JSON)

    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Product(attrs={"size": {"w": w}, "tags": tags})
                         for w, tags in ((3, ["a"]), (1, ["b", "a"]), (2, []))])
        session.flush()  # pending writes are seen by the queries below
        wide = session.scalars(select(Product).where(
            Product.attrs["size"]["w"].as_integer() >= 2)
            .order_by(Product.attrs[("size", "w")].as_integer().desc())).all()
        assert [p.attrs["size"]["w"] for p in wide] == [3, 2]
        tagged = session.scalars(select(Product.attrs["size"]).where(
            array_contains(Product.attrs["tags"], "a")).order_by(Product.id)).all()
        assert tagged == [{"w": 3}, {"w": 1}]
        session.commit()


def test_keys_sqlite_misses_are_found(engine: Engine) -> None:
    """SQLAlchemy's SQLite dialect writes a key into its path unescaped, so there a key with a
    non-ASCII letter or a backslash finds nothing; here every key but one holding '"' does."""
    metadata = MetaData()
    t = Table("keys", metadata, Column("id", Integer, primary_key=True), Column("data", JSON))
    metadata.create_all(engine)
    keys = ["é", "a b", "x.y", "q'", "back\\", "$.a", "[0]", "日本"]
    with engine.begin() as conn:
        conn.execute(insert(t).values(id=1, data={k: i for i, k in enumerate(keys)}))
        got = conn.execute(select(*[t.c.data[k].as_integer() for k in keys])).one()
    assert list(got) == list(range(len(keys)))


def test_streamed_results_read_paths_too(file_engine: Engine) -> None:
    """``yield_per`` reads through the store's streaming cursor (a file store): the path keys
    are bound there as well."""
    oracle = _load(create_engine("sqlite://"))
    _load(file_engine)
    stmt = select(docs.c.id, D["a"], D["s"].as_string()).where(
        D[("a", "b")].as_integer() >= 0).order_by(docs.c.id)
    with file_engine.connect() as conn:
        streamed = list(conn.execution_options(yield_per=2).execute(stmt))
    assert streamed == _run(oracle, stmt, {})
