"""JSON null and SQL NULL in JSON columns on ``docstore://`` and ``ravendb://``, compared with
SQLAlchemy's SQLite dialect (the oracle) on the same statements.

SQLAlchemy's ``JSON`` binds None (unless ``none_as_null``) and ``JSON.NULL`` as JSON null (the
text ``'null'`` in SQLite: a value, not NULL) and ``null()`` or an omitted column as SQL NULL.
Here a JSON field holds ``null`` for JSON null and is left out of the document for SQL NULL:
IS NULL, count(), CAST, coalesce, GROUP BY, DISTINCT and NOT NULL tell them apart as SQLite
does, in the transaction that wrote them and after its commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    create_engine,
    exc,
    func,
    insert,
    null,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

metadata = MetaData()
docs = Table(
    "docs", metadata,
    Column("id", Integer, primary_key=True),
    Column("j", JSON),  # none_as_null=False: None is JSON null
    Column("k", JSON(none_as_null=True)),  # None is SQL NULL
    Column("n", JSON, nullable=False),
)
J, K, N = docs.c.j, docs.c.k, docs.c.n

#: (id, j, k, n) of each row: None, JSON.NULL, null() and omitted (a missing key) in turn
ROWS: list[dict[str, Any]] = [
    {"id": 1, "j": None, "k": None, "n": None},
    {"id": 2, "j": JSON.NULL, "k": JSON.NULL, "n": JSON.NULL},
    {"id": 3, "j": null(), "k": null(), "n": {"a": 1}},
    {"id": 4, "n": [1, None]},
    {"id": 5, "j": {"a": None}, "k": [None], "n": "null"},
    {"id": 6, "j": "null", "k": 0, "n": 0},
]


def _text(value: Any) -> Any:
    """A CAST(... AS TEXT) result as its JSON value (SQLite keeps json.dumps' '{"a": 1}',
    the store writes compact JSON '{"a":1}': README, Nested documents)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        return ("json", json.loads(value))
    return value


#: statements whose rows are compared with SQLite's (cast columns through ``_text``)
CASES: dict[str, Any] = {
    "values": select(docs.c.id, J, K, N).order_by(docs.c.id),
    "is null": select(docs.c.id, J.is_(None), K.is_(None), N.is_(None), J.is_not(None),
                      K.is_not(None)).order_by(docs.c.id),
    "where is null": select(docs.c.id).where(J.is_(None)).order_by(docs.c.id),
    "where none_as_null is not null": select(docs.c.id).where(K.is_not(None)).order_by(
        docs.c.id),
    "count": select(func.count(), func.count(J), func.count(K), func.count(N)),
    "count where is null": select(func.count()).where(J.is_(None)),
    "cast": select(docs.c.id, cast(J, String), cast(K, String), cast(N, String)).order_by(
        docs.c.id),
    "where cast = 'null'": select(docs.c.id).where(cast(J, String) == "null").order_by(
        docs.c.id),
    "coalesce": select(docs.c.id, func.coalesce(cast(J, String), "sql null")).order_by(
        docs.c.id),
    "group by is null": select(J.is_(None), func.count()).group_by(J.is_(None)).order_by(
        J.is_(None)),
    "group by cast": select(cast(K, String), func.count()).group_by(cast(K, String)).order_by(
        cast(K, String)),
    "distinct cast": select(cast(J, String)).distinct().order_by(cast(J, String)),
    "element of null": select(docs.c.id, J["a"], J["a"].as_string()).order_by(docs.c.id),
    "group by": select(K, func.count()).group_by(K).order_by(K),
    "order by": select(docs.c.id).order_by(K, docs.c.id),
    "distinct": select(K).distinct().order_by(K),
}


def _rows(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    return [tuple(map(_text, row)) for row in conn.execute(stmt)]


def _answers(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: _rows(conn, stmt) for name, stmt in CASES.items()}


def _insert_rows(conn: Connection, many: bool) -> None:
    if not many:
        for row in ROWS:
            conn.execute(insert(docs).values(**row))
        return
    # executemany (the bulk paths) of the rows giving every column as a parameter
    given = [r for r in ROWS if len(r) == 4 and not any(
        isinstance(v, type(null())) for v in r.values())]
    conn.execute(insert(docs), given)
    for row in ROWS:
        if row not in given:
            conn.execute(insert(docs).values(**row))


def _both(engine: Engine, oracle: Engine, write: Callable[[Connection], None]) -> None:
    """``write`` on both; the answers compared inside the transaction (pending rows) and
    after its commit (stored documents)."""
    metadata.create_all(engine)
    metadata.create_all(oracle)
    expected: dict[str, Any] = {}
    for eng in (oracle, engine):
        with eng.begin() as conn:
            write(conn)
            pending = _answers(conn)
        with eng.connect() as conn:
            committed = _answers(conn)
        if eng is oracle:
            expected = pending
            assert committed == expected
        else:
            assert {k: v for k, v in pending.items() if v != expected[k]} == {}
            assert {k: v for k, v in committed.items() if v != expected[k]} == {}


@pytest.mark.parametrize("many", [False, True], ids=["one by one", "executemany"])
def test_inserted_json_null_and_sql_null_match_sqlite(engine: Engine, oracle: Engine,
                                                      many: bool) -> None:
    _both(engine, oracle, lambda conn: _insert_rows(conn, many))


def test_compared_with_json_null(engine: Engine, oracle: Engine) -> None:
    """``j == JSON.NULL`` is true for JSON null, not for SQL NULL. (Here also for the JSON
    string "null", which SQLite keeps as '"null"': README, Nested documents; row 6 left
    out.)"""
    metadata.create_all(engine)
    metadata.create_all(oracle)
    stmt = select(docs.c.id).where(J == JSON.NULL).order_by(docs.c.id)
    found = []
    for eng in (oracle, engine):
        with eng.begin() as conn:
            for row in ROWS[:5]:
                conn.execute(insert(docs).values(**row))
            found.append(conn.execute(stmt).all())
    assert found[1] == found[0] == [(1,), (2,)]


def test_many_rows_keep_json_null_apart(engine: Engine, oracle: Engine) -> None:
    """Enough rows for the column-at-a-time insert paths, JSON null and SQL NULL mixed."""
    def write(conn: Connection) -> None:
        conn.execute(insert(docs), [
            {"id": i, "j": (None, JSON.NULL, {"i": i})[i % 3], "k": (None, [i])[i % 2],
             "n": None} for i in range(10, 70)])
        conn.execute(insert(docs), [{"id": i, "n": JSON.NULL} for i in range(70, 110)])
    _both(engine, oracle, write)


def test_updated_to_each_null_match_sqlite(engine: Engine, oracle: Engine) -> None:
    def write(conn: Connection) -> None:
        conn.execute(insert(docs), [{"id": i, "j": {"a": i}, "k": {"a": i}, "n": i}
                                    for i in range(1, 8)])
        conn.execute(update(docs).where(docs.c.id == 1).values(j=None, k=None, n=None))
        conn.execute(update(docs).where(docs.c.id == 2).values(j=JSON.NULL, k=JSON.NULL))
        conn.execute(update(docs).where(docs.c.id == 3).values(j=null(), k=null()))
        conn.execute(update(docs).where(docs.c.id == bindparam("b")), [
            {"b": 4, "j": None, "k": None}, {"b": 5, "j": JSON.NULL, "k": JSON.NULL}])
        conn.execute(update(docs).where(docs.c.id > 5).values(j=null(), n=JSON.NULL))
        conn.execute(update(docs).where(docs.c.id == 3).values(k={"back": 1}))
    _both(engine, oracle, write)


@pytest.mark.parametrize("value", [null(), "omitted"])
def test_not_null_json_column_refuses_sql_null_only(engine: Engine, oracle: Engine,
                                                    value: Any) -> None:
    metadata.create_all(engine)
    metadata.create_all(oracle)
    for eng in (oracle, engine):
        with eng.begin() as conn:  # JSON null is a value: accepted, as in SQLite
            conn.execute(insert(docs).values(id=1, n=None))
            conn.execute(insert(docs).values(id=2, n=JSON.NULL))
            conn.execute(update(docs).where(docs.c.id == 2).values(n=None))
        row = {"id": 3} if value == "omitted" else {"id": 3, "n": value}
        with eng.begin() as conn, pytest.raises(exc.IntegrityError, match="NOT NULL"):
            conn.execute(insert(docs).values(**row))
        with eng.begin() as conn, pytest.raises(exc.IntegrityError, match="NOT NULL"):
            conn.execute(update(docs).where(docs.c.id == 1).values(n=null()))
        with eng.connect() as conn:
            assert conn.execute(select(docs.c.id, N.is_(None)).order_by(docs.c.id)).all() == [
                (1, False), (2, False)]


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "orm_docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(10))
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    nulldata: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)


def test_orm_round_trip_matches_sqlite(engine: Engine, oracle: Engine) -> None:
    """The ORM's None is JSON null in ``data`` and SQL NULL in ``nulldata`` (SQLAlchemy's
    JSONTest.test_eval_none_flag_orm), also through bulk_insert_mappings."""
    answers = []
    for eng in (oracle, engine):
        Base.metadata.create_all(eng)
        with Session(eng) as s:
            s.add(Doc(id=1, name="d1", data=None, nulldata=None))
            s.commit()
            s.bulk_insert_mappings(Doc, [{"id": 2, "name": "d2", "data": None,  # type: ignore[arg-type]
                                          "nulldata": None}])
            s.add(Doc(id=3, name="d3", data={"x": None}))
            s.flush()
            stmt = select(Doc.id, cast(Doc.data, String), cast(Doc.nulldata, String),
                          Doc.data.is_(None), Doc.nulldata.is_(None)).order_by(Doc.id)
            pending = [tuple(map(_text, r)) for r in s.execute(stmt)]
            s.commit()
            d1 = s.get(Doc, 1)
            assert d1 is not None and (d1.data, d1.nulldata) == (None, None)
            d1.data = {"k": 1}
            s.commit()
            d1.data = None  # back to JSON null
            s.commit()
            answers.append((pending, [tuple(map(_text, r)) for r in s.execute(stmt)]))
    assert answers[1] == answers[0]
    assert answers[0][0][0] == (1, "null", None, False, True)


def test_documents_hold_null_or_leave_the_field_out(file_engine: Engine, db_path: Path,
                                                    raw_bodies: Callable[..., Any]) -> None:
    """What another client reads: JSON null is the field with ``null``, SQL NULL no field;
    the other columns keep null for NULL."""
    t = Table("held", MetaData(), Column("id", Integer, primary_key=True),
              Column("j", JSON), Column("k", JSON(none_as_null=True)), Column("s", String))
    t.create(file_engine)
    with file_engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "j": None, "k": None, "s": None},
                                 {"id": 2, "j": JSON.NULL, "k": JSON.NULL, "s": None}])
        conn.execute(insert(t).values(id=3, j=null()))
        conn.execute(insert(t).values(id=4))
        conn.execute(insert(t).values(id=5, j=None, k=[1]))
        conn.execute(update(t).where(t.c.id == 5).values(j=null(), k=None))
    assert raw_bodies(db_path, "held") == {
        "held/1": {"id": 1, "j": None, "s": None},
        "held/2": {"id": 2, "j": None, "k": None, "s": None},
        "held/3": {"id": 3, "s": None},
        "held/4": {"id": 4, "s": None},
        "held/5": {"id": 5, "s": None},
    }


def test_ravendb_documents_hold_null_or_leave_the_field_out(ravendb_url: str) -> None:
    import requests

    eng = create_engine(ravendb_url)
    t = Table("held", MetaData(), Column("id", Integer, primary_key=True),
              Column("j", JSON), Column("k", JSON(none_as_null=True)))
    t.create(eng)
    with eng.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "j": None, "k": None},
                                 {"id": 2, "j": {"a": 1}, "k": [2]}])
        conn.execute(update(t).where(t.c.id == 2).values(j=null(), k=JSON.NULL))
    eng.dispose()
    base, database = ravendb_url.replace("ravendb://", "http://").rsplit("/", 1)
    got = {}
    for doc_id in ("held/1", "held/2"):
        reply = requests.get(f"{base}/databases/{database}/docs", params={"id": doc_id},
                             timeout=30)
        reply.raise_for_status()
        body = reply.json()["Results"][0]
        got[doc_id] = {k: v for k, v in body.items() if k != "@metadata"}
    assert got == {"held/1": {"id": 1, "j": None}, "held/2": {"id": 2, "k": None}}


def test_custom_json_serializer_and_deserializer(engine: Engine) -> None:
    """``create_engine(json_serializer=..., json_deserializer=...)``, as SQLite's dialect
    takes them: the serializer's text is stored as its JSON value, the deserializer reads
    the stored value's JSON text (SQLAlchemy's JSONTest.test_round_trip_custom_json)."""
    js = mock.Mock(side_effect=lambda v: json.dumps(v, default=str))
    jd = mock.Mock(side_effect=json.loads)
    eng = create_engine(engine.url, json_serializer=js, json_deserializer=jd)
    try:
        metadata.create_all(eng)
        with eng.begin() as conn:
            conn.execute(insert(docs).values(id=1, j={"key1": "data1"}, n=None))
            assert js.mock_calls == [mock.call({"key1": "data1"})]
            assert conn.execute(select(J, N, J.is_(None), N.is_(None))).one() == (
                {"key1": "data1"}, None, False, False)
        assert [json.loads(c.args[0]) for c in jd.mock_calls] == [{"key1": "data1"}]
    finally:
        eng.dispose()


def test_copied_between_json_columns_match_sqlite(engine: Engine, oracle: Engine) -> None:
    """INSERT ... SELECT and UPDATE ... SET j = k keep JSON null and SQL NULL apart."""
    copies = Table("copies", MetaData(), Column("id", Integer, primary_key=True),
                   Column("j", JSON), Column("k", JSON), Column("n", JSON))

    def write(conn: Connection) -> None:
        _insert_rows(conn, False)
        copies.create(conn)
        conn.execute(insert(copies).from_select(["id", "j", "k", "n"],
                                                select(docs.c.id, K, J, N)))
        # (row 6's j, the JSON string "null", stays out of k: see test_compared_with_json_null)
        conn.execute(update(docs).where(docs.c.id != 6).values(j=K, k=J))
        conn.execute(insert(docs).from_select(
            ["id", "j", "n"], select(copies.c.id + 10, copies.c.j, copies.c.n)))

    _both(engine, oracle, write)
    for eng in (oracle, engine):
        with eng.connect() as conn:
            assert conn.execute(select(func.count(copies.c.j), func.count(copies.c.k),
                                       func.count())).one() == (3, 4, 6)


def test_returning_and_check_read_json_null_as_a_value(engine: Engine,
                                                       oracle: Engine) -> None:
    from sqlalchemy import CheckConstraint

    got = []
    for eng in (oracle, engine):
        checked = Table("checked", MetaData(), Column("id", Integer, primary_key=True),
                        Column("j", JSON), CheckConstraint("j IS NOT NULL", name="j_given"))
        checked.create(eng)
        with eng.begin() as conn:
            rows = conn.execute(insert(checked).values(id=1, j=None).returning(
                checked.c.j, checked.c.j.is_(None), cast(checked.c.j, String))).all()
            rows += conn.execute(update(checked).values(j=JSON.NULL).returning(
                checked.c.id, checked.c.j.is_(None))).all()
            with pytest.raises(exc.IntegrityError, match="CHECK constraint failed"):
                conn.execute(insert(checked).values(id=2, j=null()))
        got.append(rows)
    assert got[1] == got[0] == [(None, False, "null"), (1, False)]



def test_upserts_keep_json_null_apart(engine: Engine, oracle: Engine) -> None:
    """ON CONFLICT DO UPDATE SET from the excluded row, and DO NOTHING, as on SQLite."""
    from sqlalchemy.dialects.sqlite import insert as upsert

    def write(conn: Connection) -> None:
        conn.execute(insert(docs), [{"id": i, "j": {"a": i}, "k": {"a": i}, "n": i}
                                    for i in (1, 2)])
        stmt = upsert(docs)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[docs.c.id],
            set_={"j": stmt.excluded.j, "k": stmt.excluded.k, "n": stmt.excluded.n}), [
            {"id": 1, "j": None, "k": None, "n": None},
            {"id": 2, "j": JSON.NULL, "k": JSON.NULL, "n": JSON.NULL},
            {"id": 3, "j": None, "k": None, "n": None}])
        conn.execute(stmt.values(id=4, j=null(), n={"x": 1}).on_conflict_do_nothing())
    _both(engine, oracle, write)
