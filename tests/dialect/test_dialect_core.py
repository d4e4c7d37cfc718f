"""Core on ``docstore://``: URLs, compiled text, Core statements, errors, request counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    delete,
    exc,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine

import sqla_docstore
from sqla_docstore.dialect import DocstoreDialect
from sqla_docstore.dialect.base import DocumentConflictError

meta = MetaData()
users = Table(
    "users", meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(30), nullable=False),
    Column("age", Integer),
)
posts = Table(
    "posts", meta,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id")),
    Column("title", String(50)),
)
PEOPLE = [("ann", 31), ("bob", 25), ("cid", None), ("dee", 42), ("eve", 25)]


@pytest.fixture
def db(engine: Engine) -> Engine:
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(users), [{"name": n, "age": a} for n, a in PEOPLE])
        ids = {r.name: r.id for r in conn.execute(select(users.c.name, users.c.id))}
        conn.execute(insert(posts), [
            {"user_id": ids["ann"], "title": "a1"}, {"user_id": ids["ann"], "title": "a2"},
            {"user_id": ids["dee"], "title": "d1"},
        ])
    return engine


def names(conn: Any, *where: Any) -> list[str]:
    return list(conn.scalars(select(users.c.name).where(*where).order_by(users.c.name)))


# ---------------------------------------------------------------------- URLs


def test_url_forms(tmp_path: Path) -> None:
    for url in (f"docstore:///{tmp_path}/a.db", f"docstore+embedded:///{tmp_path}/b.db",
                "docstore://", "docstore:///:memory:", "docstore://?timeout=5"):
        eng = create_engine(url)
        try:
            assert eng.dialect.name == "docstore" and eng.dialect.driver == "embedded"
            with eng.connect() as conn:
                assert conn.exec_driver_sql("SELECT 1 AS one").scalar() == 1
        finally:
            eng.dispose()
    assert (tmp_path / "a.db").exists() and (tmp_path / "b.db").exists()


def test_bad_urls_are_refused() -> None:
    with pytest.raises(exc.ArgumentError, match="name a file, not a host"):
        create_engine("docstore://somehost/db").connect()
    with pytest.raises(exc.ArgumentError, match="unknown docstore URL option"):
        create_engine("docstore://?bogus=1").connect()


def test_memory_store_is_shared_by_an_engine_and_private_to_it() -> None:
    a, b = create_engine("docstore://"), create_engine("docstore://")
    try:
        meta.create_all(a)
        with a.connect() as c1, a.connect() as c2:
            c1.execute(insert(users), {"name": "x"})
            assert c2.scalar(select(func.count()).select_from(users)) == 0
            c1.commit()
            assert c2.scalar(select(func.count()).select_from(users)) == 1
        assert users.name not in __import__("sqlalchemy").inspect(b).get_table_names()
    finally:
        a.dispose()
        b.dispose()


def test_file_engines_share_one_file(db_path: Path) -> None:
    a, b = create_engine(f"docstore:///{db_path}"), create_engine(f"docstore:///{db_path}")
    try:
        meta.create_all(a)
        with a.begin() as conn:
            conn.execute(insert(users), {"name": "x"})
        with b.connect() as conn:
            assert names(conn) == ["x"]
    finally:
        a.dispose()
        b.dispose()


# ------------------------------------------------------------- compiled text


def test_values_are_bound_parameters_never_inlined() -> None:
    stmt = select(users.c.id).where(users.c.name == "secret'value", users.c.age > 41).limit(3)
    compiled = stmt.compile(dialect=DocstoreDialect())
    assert "secret" not in str(compiled) and "41" not in str(compiled)
    assert set(compiled.params.values()) >= {"secret'value", 41, 3}
    stmt = update(users).where(users.c.id == 7).values(name="zed")
    assert "zed" not in str(stmt.compile(dialect=DocstoreDialect()))


def test_dialect_capabilities() -> None:
    d = DocstoreDialect()
    assert d.paramstyle == "qmark" and d.positional
    assert d.supports_sane_rowcount and d.supports_sane_multi_rowcount
    assert d.supports_statement_cache


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: select(users).where(users.c.name.regexp_match("a.*")), "regular expression"),
        (lambda: select(func.extract("quarter", users.c.age)), "EXTRACT\\(quarter\\)"),
    ],
)
def test_unsupported_constructs_fail_to_compile_clearly(build: Any, words: str) -> None:
    with pytest.raises(exc.CompileError, match=words):
        build().compile(dialect=DocstoreDialect())


# ------------------------------------------------------------ Core statements


def test_where_forms(db: Engine) -> None:
    with db.connect() as c:
        assert names(c, users.c.age.in_([25, 42])) == ["bob", "dee", "eve"]
        assert names(c, users.c.age.not_in([25, 42])) == ["ann"]
        assert names(c, users.c.age.in_([])) == []
        assert names(c, users.c.age.between(26, 42)) == ["ann", "dee"]
        assert names(c, users.c.age.is_(None)) == ["cid"]
        assert names(c, users.c.age.is_not(None), users.c.age < 30) == ["bob", "eve"]
        assert names(c, users.c.name.like("_e%")) == ["dee"]
        assert names(c, users.c.name.startswith("e")) == ["eve"]
        assert names(c, users.c.name.endswith("e")) == ["dee", "eve"]
        assert names(c, users.c.name.contains("n")) == ["ann"]
        assert names(c, users.c.name.ilike("ANN")) == ["ann"]
        assert names(c, users.c.name.startswith("%", autoescape=True)) == []
        assert len(names(c, users.c.name.startswith("%"))) == 5  # a wildcard, as on SQLite
        assert names(c, or_(users.c.name == "ann", and_(users.c.age == 25,
                                                         not_(users.c.name == "bob")))) == [
            "ann", "eve"
        ]
        assert names(c, users.c.age.is_distinct_from(25)) == ["ann", "cid", "dee"]


def test_order_limit_offset_distinct(db: Engine) -> None:
    with db.connect() as c:
        got = c.scalars(select(users.c.name).order_by(users.c.age.desc().nulls_last(),
                                                      users.c.name).limit(2).offset(1)).all()
        assert got == ["ann", "bob"]
        got = c.scalars(select(users.c.name).order_by(users.c.age.asc().nulls_first(),
                                                      users.c.name.desc())).all()
        assert got == ["cid", "eve", "bob", "ann", "dee"]
        ages = c.scalars(select(users.c.age).distinct().where(users.c.age.is_not(None))
                         .order_by(users.c.age)).all()
        assert ages == [25, 31, 42]


def test_aggregates_group_by_labels(db: Engine) -> None:
    with db.connect() as c:
        row = c.execute(select(func.count(), func.count(users.c.age), func.sum(users.c.age),
                               func.min(users.c.age), func.max(users.c.age),
                               func.avg(users.c.age))).one()
        assert tuple(row) == (5, 4, 123, 25, 42, 30.75)
        n = func.count(users.c.id).label("n")
        got = c.execute(select(users.c.age, n).group_by(users.c.age).having(func.count() > 1)
                        .order_by(n.desc())).all()
        assert got == [(25, 2)]
        got = c.execute(select(users.c.name.label("who")).order_by("who").limit(1)).all()
        assert got == [("ann",)]


def test_joins_as_core_renders_them(db: Engine) -> None:
    with db.connect() as c:
        got = c.execute(select(users.c.name, posts.c.title).join(posts)
                        .order_by(posts.c.title)).all()
        assert got == [("ann", "a1"), ("ann", "a2"), ("dee", "d1")]
        got = c.execute(select(users.c.name, func.count(posts.c.id))
                        .outerjoin(posts).group_by(users.c.name).order_by(users.c.name)).all()
        assert got == [("ann", 2), ("bob", 0), ("cid", 0), ("dee", 1), ("eve", 0)]
        u2 = users.alias("u2")
        got = c.execute(select(users.c.name, u2.c.name).join(
            u2, and_(users.c.age == u2.c.age, users.c.id < u2.c.id))).all()
        assert got == [("bob", "eve")]


def test_subqueries_exists_and_union(db: Engine) -> None:
    with db.connect() as c:
        has_posts = select(posts.c.id).where(posts.c.user_id == users.c.id).exists()
        assert names(c, has_posts) == ["ann", "dee"]
        assert names(c, ~has_posts) == ["bob", "cid", "eve"]
        sub = select(posts.c.user_id).distinct().scalar_subquery()
        assert names(c, users.c.id.in_(sub)) == ["ann", "dee"]
        old = select(users.c.name, users.c.age).where(users.c.age > 30).subquery()
        assert c.scalars(select(old.c.name).order_by(old.c.age)).all() == ["ann", "dee"]
        count = (select(func.count(posts.c.id)).where(posts.c.user_id == users.c.id)
                 .scalar_subquery())
        got = c.execute(select(users.c.name, count.label("n")).where(users.c.age > 30)
                        .order_by(users.c.name)).all()
        assert got == [("ann", 2), ("dee", 1)]
        u = select(users.c.name).where(users.c.age == 25).union(
            select(posts.c.title).where(posts.c.title == "d1"))
        assert sorted(c.scalars(u).all()) == ["bob", "d1", "eve"]


def test_case_cast_and_arithmetic(db: Engine) -> None:
    from sqlalchemy import case, cast

    with db.connect() as c:
        got = c.execute(
            select(users.c.name, case((users.c.age >= 30, "old"), else_="young"),
                   cast(users.c.age, String), users.c.age / 2, users.c.age // 2)
            .where(users.c.name == "ann")
        ).one()
        assert tuple(got) == ("ann", "old", "31", 15.5, 15)


def test_insert_update_delete_rowcounts(db: Engine) -> None:
    with db.begin() as c:
        r = c.execute(update(users).where(users.c.age == 25).values(age=users.c.age + 1))
        assert r.rowcount == 2
        assert names(c, users.c.age == 26) == ["bob", "eve"]
        r = c.execute(delete(users).where(users.c.name.in_(["bob", "nobody"])))
        assert r.rowcount == 1
        r = c.execute(update(users).where(users.c.name == "nobody").values(age=1))
        assert r.rowcount == 0
    with db.connect() as c:
        assert names(c) == ["ann", "cid", "dee", "eve"]


def test_insert_returning_and_inserted_primary_key(db: Engine) -> None:
    with db.begin() as c:
        r = c.execute(insert(users).values(name="fay"))
        (new_id,) = r.inserted_primary_key
        assert isinstance(new_id, int)
        assert c.scalar(select(users.c.name).where(users.c.id == new_id)) == "fay"
        got = c.execute(insert(users).returning(users.c.id, users.c.name),
                        [{"name": "g1"}, {"name": "g2"}]).all()
        assert [n for _, n in got] == ["g1", "g2"] and got[0][0] != got[1][0]
        got = c.execute(update(users).where(users.c.name == "g1").values(age=9)
                        .returning(users.c.age)).all()
        assert got == [(9,)]


def test_rollback_of_a_core_transaction(db: Engine) -> None:
    with db.connect() as c:
        c.execute(delete(users))
        assert names(c) == []
        c.rollback()
        assert len(names(c)) == 5


def test_savepoints_in_core(db: Engine) -> None:
    with db.connect() as c:
        with c.begin():
            c.execute(insert(users), {"name": "outer"})
            sp = c.begin_nested()
            c.execute(insert(users), {"name": "inner"})
            sp.rollback()
            sp = c.begin_nested()
            c.execute(insert(users), {"name": "kept"})
            sp.commit()
        assert "inner" not in names(c) and {"outer", "kept"} <= set(names(c))


def test_text_and_raw_rql_through_the_engine(db: Engine) -> None:
    with db.connect() as c:
        got = c.execute(text("SELECT users.name FROM users WHERE users.age = :a "
                             "ORDER BY users.name"), {"a": 25}).scalars().all()
        assert got == ["bob", "eve"]
        got = c.exec_driver_sql("from users where age > $a order by name select name",
                                {"a": 30}).scalars().all()
        assert got == ["ann", "dee"]
        assert c.execute(select(literal_column("1") + 1)).scalar() == 2


def test_request_counts_of_a_connection(db: Engine) -> None:
    with db.connect() as c:
        before = sqla_docstore.request_counts(c)
        c.execute(insert(users), [{"name": f"n{i}"} for i in range(30)])
        c.execute(insert(posts), [{"title": f"t{i}"} for i in range(30)])
        c.execute(update(users).where(users.c.name == "ann").values(age=1))
        c.commit()
        after = sqla_docstore.request_counts(c)
        assert after.get("batch", 0) - before.get("batch", 0) == 1
    with pytest.raises(TypeError):
        sqla_docstore.request_counts(object())


def test_duplicate_primary_key_in_core(db: Engine) -> None:
    with db.connect() as c:
        uid = c.scalar(select(users.c.id).where(users.c.name == "ann"))
        c.commit()
        with pytest.raises(exc.IntegrityError):
            with c.begin():
                c.execute(insert(users), {"name": "side"})
                c.execute(insert(users), {"id": uid, "name": "dup"})
        assert "side" not in names(c) and "dup" not in names(c)


def test_concurrent_change_is_a_stale_data_error_at_commit(db: Engine) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    with db.connect() as a, db.connect() as b:
        a.execute(update(users).where(users.c.age == 25).values(age=1))
        b.execute(update(users).where(users.c.name == "bob").values(age=99))
        b.commit()
        with pytest.raises(StaleDataError) as info:
            a.commit()
        assert isinstance(info.value, DocumentConflictError)
        a.rollback()
        assert b.scalar(select(users.c.age).where(users.c.name == "eve")) == 25
        # The failed transaction is over: its writes must not linger on the connection.
        assert a.scalar(select(users.c.age).where(users.c.name == "eve")) == 25
        a.execute(insert(users), {"name": "later"})
        a.commit()
        assert b.scalar(select(users.c.age).where(users.c.name == "eve")) == 25


def test_database_errors_are_wrapped_with_the_original(db: Engine) -> None:
    from sqla_docstore import errors

    with db.connect() as c:
        with pytest.raises(exc.ProgrammingError) as info:
            c.exec_driver_sql("SELECT FROM WHERE")
        assert isinstance(info.value.orig, errors.ProgrammingError)
        with pytest.raises(exc.NotSupportedError) as ns:
            c.exec_driver_sql("SELECT a FROM t NATURAL JOIN u")
        assert "NATURAL JOIN" in str(ns.value.orig)
        with pytest.raises(exc.OperationalError):
            c.exec_driver_sql("SELECT x.a FROM nowhere AS x")


def test_isolation_level(db: Engine) -> None:
    with db.connect() as c:
        assert c.get_isolation_level() == "READ COMMITTED"
    with pytest.raises(exc.ArgumentError):
        db.connect().execution_options(isolation_level="SERIALIZABLE")
