"""A whole JSON column used in SQL (compared, grouped, ordered, DISTINCT, given to functions,
through derived tables and UNION) on ``docstore://`` and ``ravendb://``, compared with
SQLAlchemy's SQLite dialect (the oracle) on the same statements.

SQLite holds SQLAlchemy's serializer text (json.dumps) in a column whose type JSON gives it
NUMERIC affinity: ``'"x"'``, 5 (from ``'5'``), 1 (from ``'1.0'``), ``'{"a": 1}'``,
``'null'``. These statements must see that value, over JSON values of every kind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    case,
    cast,
    create_engine,
    delete,
    exc,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    text,
    union,
    update,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)

metadata = MetaData()
docs = Table("wdocs", metadata, Column("id", Integer, primary_key=True),
             Column("data", JSON), Column("other", JSON), Column("name", String(20)))
D, OTHER = docs.c.data, docs.c.other

#: a JSON value of every kind (strings that look like numbers or null, non-ASCII, integral
#: and huge floats, booleans, JSON null, objects with keys in either order, nested arrays)
VALUES: list[Any] = [
    "x", "null", "5", "1.5", "", "é", "true", 'a"b', "{}",
    5, 0, -3, 1.0, 1.5, -0.0, 1e20, 1e-7, 2**63 - 1, 12345678901234567890.0, 1e15,
    True, False, None,
    {"a": 1}, {"b": "é", "a": [1, None]}, {"a": 1, "b": 2}, {"b": 2, "a": 1}, {},
    [1, 2], [], ["x"], [[1], {"k": None}],
]
#: integers beyond 64 bits: SQLite's NUMERIC affinity makes them reals (compared, not read)
WIDE = [2**70, -(2**64), 2**70 + 1]


def _rows(values: list[Any]) -> list[dict[str, Any]]:
    rows = [{"id": i, "data": v, "other": values[-1 - i], "name": str(i % 3)}
            for i, v in enumerate(values)]
    return rows + [{"id": 1000, "data": null(), "other": null(), "name": "n"}]


def _fill(eng: Engine, values: list[Any]) -> None:
    metadata.drop_all(eng)
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(insert(docs), [r for r in _rows(values) if r["id"] != 1000])
        conn.execute(insert(docs).values(_rows(values)[-1]))


def _ids(stmt: Any) -> Any:
    return stmt.order_by(docs.c.id)


#: statements whose rows must equal SQLite's
CASES: dict[str, Any] = {
    "= str": _ids(select(docs.c.id).where(D == "x")),
    "= str null": _ids(select(docs.c.id).where(D == "null")),
    "= str number": _ids(select(docs.c.id).where(D == "5")),
    "= int": _ids(select(docs.c.id).where(D == 5)),
    "= float": _ids(select(docs.c.id).where(D == 1.5)),
    "= integral float": _ids(select(docs.c.id).where(D == 1.0)),
    "= bool": _ids(select(docs.c.id).where(D == True)),  # noqa: E712 - SQL, not Python
    "= object": _ids(select(docs.c.id).where(D == {"a": 1})),
    "= object other order": _ids(select(docs.c.id).where(D == {"b": 2, "a": 1})),
    "= array": _ids(select(docs.c.id).where(D == [1, 2])),
    "= JSON.NULL": _ids(select(docs.c.id).where(D == JSON.NULL)),
    "!= str": _ids(select(docs.c.id).where(D != "x")),
    "= text literal": _ids(select(docs.c.id).where(D == literal_column("'\"x\"'"))),
    "= bound": _ids(select(docs.c.id).where(D == bindparam("v", "1.5", type_=String))),
    "= JSON-typed str": _ids(select(docs.c.id).where(D == bindparam("j", "x", type_=JSON))),
    "= JSON-typed str null": _ids(select(docs.c.id).where(D == literal("null", JSON))),
    "= JSON-typed int": _ids(select(docs.c.id).where(D == literal(5, JSON))),
    "= JSON-typed bool": _ids(select(docs.c.id).where(D == literal(True, JSON))),
    "= JSON-typed object": _ids(select(docs.c.id).where(D == literal({"a": 1}, JSON))),
    "< JSON-typed str": _ids(select(docs.c.id).where(D < literal("x", JSON))),
    "element = JSON-typed str": _ids(select(docs.c.id).where(
        D["a"] == literal("é", JSON))),
    "element = JSON-typed int": _ids(select(docs.c.id).where(D["a"] == literal(1, JSON))),
    "> int": _ids(select(docs.c.id).where(D > 1)),
    "< str": _ids(select(docs.c.id).where(D < "a")),
    "between": _ids(select(docs.c.id).where(D.between(0, 10))),
    "in": _ids(select(docs.c.id).where(D.in_(["x", 5, "5", 1]))),
    "not in": _ids(select(docs.c.id).where(D.not_in(["x", 5]))),
    "= other column": _ids(select(docs.c.id).where(D == OTHER)),
    "= string column": _ids(select(docs.c.id).where(D == docs.c.name)),
    "is null": _ids(select(docs.c.id, D.is_(None), D.is_not(None))),
    "is distinct from": _ids(select(docs.c.id).where(D.is_distinct_from("x"))),
    "like": _ids(select(docs.c.id).where(cast(D, String).like('"%'))),
    "case": _ids(select(docs.c.id, case((D == "x", 1), (D == 5, 2), else_=0))),
    "order by": select(docs.c.id).order_by(D, docs.c.id),
    "order by desc": select(docs.c.id).order_by(D.desc(), docs.c.id),
    "group by": select(func.count(), func.min(docs.c.id)).group_by(D).order_by(
        func.min(docs.c.id)),
    "group by value": select(D, func.count()).group_by(D).order_by(D),
    "distinct": select(D).distinct().order_by(D),
    "distinct two": select(D, docs.c.name).distinct().order_by(D, docs.c.name),
    "count distinct": select(func.count(D.distinct()), func.count(D), func.count()),
    "min max": select(func.min(D), func.max(D)),
    "typeof": _ids(select(docs.c.id, func.typeof(D))),
    "length": _ids(select(docs.c.id, func.length(D))),
    "cast text": _ids(select(docs.c.id, cast(D, String))),
    "cast integer": _ids(select(docs.c.id, cast(D, Integer))),
    "coalesce": _ids(select(docs.c.id, func.coalesce(D, OTHER))),
    "upper": _ids(select(docs.c.id, func.upper(cast(D, String)))),
    "union": union(select(D), select(OTHER)).order_by(text("1")),
    "union count": select(func.count()).select_from(union(select(D), select(OTHER)).subquery()),
    "derived": select((sub := select(docs.c.id, D).subquery()).c.data).order_by(sub.c.id),
    "derived compared": select((s2 := select(docs.c.id, D).subquery()).c.id).where(
        s2.c.data == 5).order_by(s2.c.id),
    "derived grouped": select((s3 := select(D).subquery()).c.data, func.count()).group_by(
        s3.c.data).order_by(s3.c.data),
    "scalar subquery": _ids(select(docs.c.id).where(
        D == select(func.max(OTHER)).scalar_subquery())),
    "column": _ids(select(docs.c.id, D)),
}


def _oracle_and_here(oracle: Engine, engine: Engine, values: list[Any], stmts: dict[str, Any]
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    answers = []
    for eng in (oracle, engine):
        _fill(eng, values)
        with eng.connect() as conn:
            answers.append({name: conn.execute(stmt).all() for name, stmt in stmts.items()})
    return answers[0], answers[1]


def test_whole_json_column_in_sql_matches_sqlite(engine: Engine, oracle: Engine) -> None:
    expected, got = _oracle_and_here(oracle, engine, VALUES, CASES)
    assert {k: v for k, v in got.items() if v != expected[k]} == {}


@pytest.mark.parametrize("name", ["= int", "> int", "order by", "group by", "distinct",
                                  "count distinct", "min max", "in", "union count"])
def test_integers_beyond_64_bits_are_sqlites_reals(engine: Engine, oracle: Engine,
                                                   name: str) -> None:
    """SQLite holds json.dumps' text of 2**70 as the real 1.1805916207174113e+21 (two such
    integers are one value there)."""
    stmt = CASES[name]
    if name in ("distinct", "min max"):
        stmt = select(func.count()).select_from(stmt.subquery())
    expected, got = _oracle_and_here(oracle, engine, [*WIDE, 5, 2**64, float(2**70)],
                                     {name: stmt})
    assert got == expected


def test_writes_where_a_whole_json_column_matches_sqlite(engine: Engine,
                                                         oracle: Engine) -> None:
    answers = []
    for eng in (oracle, engine):
        _fill(eng, VALUES)
        with eng.begin() as conn:
            conn.execute(update(docs).where(D == "5").values(name="five"))
            conn.execute(update(docs).where(D == {"a": 1}).values(name="obj"))
            conn.execute(delete(docs).where(D == "x"))
            conn.execute(update(docs).where(docs.c.id == 1).values(data=OTHER, other=D))
            conn.execute(update(docs).where(docs.c.id == 2).values(data=func.coalesce(
                None, OTHER), other=docs.c.name))
            # INSERT ... SELECT of computed values (SQLite's JSON text, read back as JSON)
            conn.execute(insert(docs).from_select(["id", "data", "other"], select(
                docs.c.id + 2000, func.coalesce(D, OTHER), case((docs.c.id > 5, OTHER),
                                                                else_=docs.c.name))))
            conn.execute(insert(docs).from_select(["id", "data"], select(
                docs.c.id + 5000, D).distinct().where(docs.c.id < 1000)))
            answers.append(conn.execute(select(docs.c.id, docs.c.name, D, OTHER, D.is_(None))
                                        .order_by(docs.c.id)).all())
    assert answers[1] == answers[0]


def test_json_typed_expression_that_is_no_json_is_an_error(engine: Engine,
                                                           oracle: Engine) -> None:
    """``coalesce(data, 'z')`` is JSON-typed: SQLite's dialect reads 'z' as JSON and fails."""
    stmt = select(func.coalesce(D, "z")).where(docs.c.id == 1000)
    _fill(oracle, VALUES)
    with oracle.connect() as conn, pytest.raises(ValueError):
        conn.execute(stmt).all()
    _fill(engine, VALUES)
    with engine.connect() as conn, pytest.raises(exc.DBAPIError, match="'z'"):
        conn.execute(stmt).all()


class Base(DeclarativeBase):
    pass


class Parent(Base):
    __tablename__ = "wparents"
    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    children: Mapped[list[Child]] = relationship(order_by="Child.id")


class Child(Base):
    __tablename__ = "wchildren"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("wparents.id"))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


def _canon(value: Any) -> str:
    """A value read directly from a JSON column, as text to sort and compare by (SQLite
    reads the float 1.0 back as the integer 1 it holds; the store gives 1.0: equal)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return repr(int(value))
    if isinstance(value, list):
        return "[" + ",".join(map(_canon, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_canon(v)}" for k, v in value.items()) + "}"
    return repr(value)


def test_orm_distinct_and_eager_loading_over_json_columns(engine: Engine,
                                                          oracle: Engine) -> None:
    """``select(Model).distinct()`` and joined eager loading of a collection (DISTINCT / a
    JOIN over rows holding JSON columns) give SQLite's objects."""
    answers = []
    for eng in (oracle, engine):
        Base.metadata.drop_all(eng)
        Base.metadata.create_all(eng)
        with Session(eng) as s:
            for i, v in enumerate(VALUES):
                s.add(Parent(id=i, data=v))
                s.add(Child(id=100 + i, parent_id=i % 5, data=VALUES[-1 - i]))
                s.add(Child(id=200 + i, parent_id=i % 5, data=v))
            s.commit()
        with Session(eng) as s:
            distinct = sorted((p.id, _canon(p.data)) for p in s.scalars(
                select(Parent).distinct()))
            by_data = [p.id for p in s.scalars(select(Parent).distinct().order_by(
                Parent.data, Parent.id))]
            eager = [(p.id, _canon(p.data), [(c.id, _canon(c.data)) for c in p.children])
                     for p in s.scalars(select(Parent).options(joinedload(Parent.children))
                                        .order_by(Parent.id)).unique()]
            values_ = sorted(map(_canon, s.scalars(select(Child.data).distinct())))
        answers.append((distinct, by_data, eager, values_))
    assert answers[1] == answers[0]


def _sorted_dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("name", ["= str", "= object", "= object other order", "= JSON-typed str",
                                  "= JSON-typed object", "order by", "group by", "distinct",
                                  "cast text", "length", "union", "column"])
def test_custom_json_serializer_is_sqlites_text(engine: Engine, name: str) -> None:
    """``create_engine(json_serializer=...)``: SQLite holds that serializer's text (keys
    sorted, non-ASCII as is here), and so do these statements."""
    oracle = create_engine("sqlite://", json_serializer=_sorted_dumps)
    custom = create_engine(engine.url, json_serializer=_sorted_dumps)
    try:
        expected, got = _oracle_and_here(oracle, custom, VALUES, {name: CASES[name]})
    finally:
        oracle.dispose()
        custom.dispose()
    assert got == expected


def test_check_computed_and_returning_read_sqlites_value(engine: Engine,
                                                         oracle: Engine) -> None:
    """CHECK, a computed column and RETURNING over a whole JSON column, evaluated against the
    written row, see SQLite's value too (``j != 'x'`` holds for the string "x")."""
    from sqlalchemy import CheckConstraint, Computed

    answers = []
    for eng in (oracle, engine):
        checked = Table("wchecked", MetaData(), Column("id", Integer, primary_key=True),
                        Column("j", JSON), Column("g", String, Computed("CAST(j AS TEXT)")),
                        CheckConstraint("j != 'x' AND j != 5", name="not_x_nor_5"))
        checked.create(eng)
        got = []
        for i, v in enumerate(VALUES):
            try:
                with eng.begin() as conn:
                    got.append(conn.execute(insert(checked).values(id=i, j=v).returning(
                        cast(checked.c.j, String), checked.c.j == "5", checked.c.g)).all())
            except exc.IntegrityError:
                got.append("refused")
        with eng.begin() as conn:
            got.append(conn.execute(update(checked).where(checked.c.id < 3).values(
                j=JSON.NULL).returning(checked.c.id, checked.c.g)).all())
            got.append(conn.execute(select(checked.c.id, checked.c.g).order_by(
                checked.c.id)).all())
        answers.append(got)
    assert answers[1] == answers[0]
