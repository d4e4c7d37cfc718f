"""A Table's DDL: SQL's CREATE TABLE when that text, read by the DB-API, gives the collection
spec of the JSON form, else ``CREATE COLLECTION name {spec}``; either way both backends create
the same collection, reflected the same."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    exc,
    false,
    func,
    inspect,
    literal,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateTable

from sqla_docstore.dialect.base import DocstoreDialect
from sqla_docstore.schema import CollectionSpec, qualified

#: server defaults per column type: (default, whether SQL text says it as the spec does)
DEFAULTS: dict[str, list[tuple[Any, bool]]] = {
    "integer": [(None, True), ("5", True), (text("7"), True), (text("-3"), True),
                (literal(4), True), (text("'5'"), False)],  # '5' is text in the JSON form
    "numeric": [(None, True), ("1.50", True), (text("2.25"), True)],
    "string": [(None, True), ("abc", True), (text("'it''s'"), True), (text("7"), True),
               (func.lower("X"), True)],
    "text": [(None, True), ("long", True)],
    # the JSON form keeps a constant Boolean default as a boolean, SQL text as SQLite's 1 or 0
    "boolean": [(None, True), (text("1"), False), ("0", False), (false(), True)],
    "datetime": [(None, True), (text("CURRENT_TIMESTAMP"), True), (func.now(), True)],
    "json": [(None, True), ('{"a": [1, 2]}', True)],
    "float": [(None, True), (text("1.5"), True)],
}
TYPES: dict[str, Any] = {"integer": Integer, "numeric": Numeric(10, 2), "string": String(20),
                         "text": Text, "boolean": Boolean, "datetime": DateTime, "json": JSON,
                         "float": Float}
#: key kinds: whether SQL text gives the spec's key (an INTEGER PRIMARY KEY is HiLo-filled in
#: SQL, so one that is not, a BIGINT one that is, or a key that is the id take the JSON form)
KEYS = {"auto": True, "composite": True, "noauto": False, "bigint": False, "key_is_id": False}


@st.composite
def table_cases(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=4))
    columns = [(kind, draw(st.booleans()), draw(st.sampled_from(range(len(DEFAULTS[kind])))))
               for kind in kinds]
    return {
        "key": draw(st.sampled_from(sorted(KEYS))),
        "schema": draw(st.sampled_from([None, "s"])),
        "columns": columns,
        "unique": draw(st.sampled_from([None, "", "uq_pair"])),
        "check": draw(st.sampled_from([None, "", "ck_table", "column", "column_named"])),
        "fk": draw(st.one_of(st.none(), st.tuples(
            st.sampled_from([None, "CASCADE", "SET NULL", "RESTRICT"]),
            st.sampled_from([None, "CASCADE"]), st.sampled_from([None, "fk_parent"])))),
        "index": draw(st.booleans()),
    }


def _key_columns(kind: str) -> list[Column[Any]]:
    if kind == "composite":
        return [Column("k", String(10), primary_key=True),
                Column("n", Integer, primary_key=True)]
    if kind == "key_is_id":
        return [Column("k", String(40), primary_key=True)]
    return [Column("id", BigInteger if kind == "bigint" else Integer, primary_key=True,
                   autoincrement=kind != "noauto")]


def build(case: dict[str, Any]) -> tuple[MetaData, Table, bool]:
    """The case's tables, its table, and whether its DDL is expected to be SQL text."""
    md = MetaData()
    schema = case["schema"]
    Table("parent", md, Column("id", Integer, primary_key=True),
          Column("code", String(10), unique=True), schema=schema)
    cols: list[Any] = _key_columns(case["key"])
    expressible = KEYS[case["key"]]
    for i, (kind, nullable, which) in enumerate(case["columns"]):
        default, says = DEFAULTS[kind][which]
        expressible &= says
        extra = []
        if i == 0 and case["check"] in ("column", "column_named"):
            extra.append(CheckConstraint(f"c0 IS NOT NULL OR c{i} IS NULL",
                                         name="ck_col" if case["check"] == "column_named"
                                         else None))
        cols.append(Column(f"c{i}", TYPES[kind], *extra, nullable=nullable,
                           server_default=default))
    if case["unique"] is not None and len(case["columns"]) > 1:
        cols.append(UniqueConstraint("c0", "c1", name=case["unique"] or None))
    if case["check"] in ("", "ck_table"):
        cols.append(CheckConstraint("c0 IS NULL OR c0 IS NOT NULL", name=case["check"] or None))
    if case["fk"] is not None:
        ondelete, onupdate, name = case["fk"]
        target = f"{qualified(schema, 'parent')}.id"
        cols.append(Column("parent_id", Integer, ForeignKey(
            target, ondelete=ondelete, onupdate=onupdate, name=name)))
    if case["index"]:
        cols.append(Index(f"ix_c0_{case['key']}", "c0"))
        expressible = False
    kw = {"docstore_key_is_id": True} if case["key"] == "key_is_id" else {}
    table = Table("t", md, *cols, schema=schema, **kw)
    return md, table, expressible


def _json_form(table: Table, dialect: Any) -> str:
    spec = dialect.ddl_compiler(dialect, None).table_spec(table)
    return f"CREATE COLLECTION {dialect.identifier_preparer.format_table(table)} " + (
        json.dumps(spec))


def _spec_json(table: Table, dialect: Any) -> dict[str, Any]:
    name = qualified(table.schema, table.name)
    spec = dialect.ddl_compiler(dialect, None).table_spec(table)
    return CollectionSpec.from_json(name, spec).to_json()


def _stored_spec(engine: Engine, table: Table) -> dict[str, Any]:
    with engine.connect() as conn:
        backend = conn.connection.dbapi_connection.backend  # type: ignore[union-attr]
        spec: CollectionSpec = backend.spec(qualified(table.schema, table.name))
        # (without the store's own state: whether the keys agree is no part of the schema)
        return replace(spec, keys_agree=False).to_json()


def _reflected(engine: Engine, tables: list[Table]) -> dict[str, Any]:
    insp = inspect(engine)
    out = {}
    for t in tables:
        kw = {"schema": t.schema}
        out[t.fullname] = (
            [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
             for c in insp.get_columns(t.name, **kw)],
            insp.get_pk_constraint(t.name, **kw), insp.get_foreign_keys(t.name, **kw),
            insp.get_unique_constraints(t.name, **kw), insp.get_check_constraints(t.name, **kw),
            insp.get_indexes(t.name, **kw))
    return out


def _creates(engine: Engine) -> list[str]:
    """The CREATE statements the engine sends, as they are sent."""
    sent: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE"):
            sent.append(statement.strip())

    return sent


@pytest.fixture
def reference() -> Iterator[Engine]:
    """An embedded store where tables are created by the JSON form only."""
    eng = create_engine("docstore://")
    yield eng
    eng.dispose()


@given(case=table_cases())
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sql_text_or_json_form_creates_the_same_collection(engine: Engine, reference: Engine,
                                                           case: dict[str, Any]) -> None:
    md, table, expressible = build(case)
    rendered = str(CreateTable(table).compile(dialect=engine.dialect)).strip()
    assert rendered.startswith("CREATE TABLE" if expressible else "CREATE COLLECTION"), (
        rendered)
    sent = _creates(engine)
    md.create_all(engine)
    try:
        assert [s.split(" (", 1)[0].split(" {", 1)[0] for s in sent if "INDEX" not in s] == [
            f"CREATE TABLE {qualified(case['schema'], 'parent')}",
            f"{'CREATE TABLE' if expressible else 'CREATE COLLECTION'} "
            f"{qualified(case['schema'], 't')}"]
        assert _stored_spec(engine, table) == _spec_json(table, engine.dialect)
        with reference.begin() as conn:
            for t in md.sorted_tables:
                conn.exec_driver_sql(_json_form(t, reference.dialect))
        assert _reflected(engine, md.sorted_tables) == _reflected(reference, md.sorted_tables)
    finally:
        md.drop_all(engine)
        md.drop_all(reference)


def _flat(ddl: Any) -> str:
    return re.sub(r"\s+", " ", str(ddl)).replace("( ", "(").replace(" )", ")").strip()


def test_ddl_compiles_without_an_engine_as_sqlalchemy_renders_it() -> None:
    dialect = DocstoreDialect()
    temp = Table("temporary_table_1", MetaData(), Column("col1", Integer),
                 prefixes=["TEMPORARY"])
    assert _flat(CreateTable(temp).compile(dialect=dialect)) == (
        "CREATE TEMPORARY TABLE temporary_table_1 (col1 INTEGER)")
    md = MetaData()
    Table("table1", md, Column("col1", Integer, primary_key=True), schema="someschema")
    table2 = Table("table2", md, Column("col1", Integer, primary_key=True),
                   Column("col2", Integer, ForeignKey("someschema.table1.col1")),
                   schema="someschema")
    assert _flat(CreateTable(table2).compile(dialect=dialect)) == (
        "CREATE TABLE someschema.table2 (col1 INTEGER NOT NULL, col2 INTEGER, "
        "PRIMARY KEY (col1), FOREIGN KEY(col2) REFERENCES someschema.table1 (col1))")


def test_a_temporary_table_from_sql_text_ends_with_its_connection(engine: Engine) -> None:
    scratch = Table("scratch", MetaData(), Column("id", Integer, primary_key=True),
                    prefixes=["TEMPORARY"])
    sent = _creates(engine)
    with engine.connect() as conn:
        scratch.create(conn)
        assert inspect(conn).get_table_names() == []
        assert inspect(conn).has_table("scratch")
        conn.connection.dbapi_connection.close()  # type: ignore[union-attr]
        conn.invalidate()
    assert sent[0].startswith("CREATE TEMPORARY TABLE scratch")
    with engine.connect() as conn:
        assert not inspect(conn).has_table("scratch")


def test_a_prefix_the_store_lacks_is_refused_not_dropped(engine: Engine) -> None:
    virtual = Table("v", MetaData(), Column("col1", Integer), prefixes=["VIRTUAL"])
    assert _flat(CreateTable(virtual).compile(dialect=engine.dialect)) == (
        "CREATE VIRTUAL TABLE v (col1 INTEGER)")
    with pytest.raises(exc.NotSupportedError, match="CREATE VIRTUAL TABLE"):
        virtual.create(engine)
    assert not inspect(engine).has_table("v")


def test_alembic_create_table_online_and_offline(engine: Engine) -> None:
    Table("users", MetaData(), Column("id", Integer, primary_key=True)).create(engine)
    sent = _creates(engine)
    columns = lambda: [  # noqa: E731 - one list per call (a Column joins one Table)
        Column("id", Integer, primary_key=True), Column("name", String(20), server_default="x"),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"))]
    with engine.begin() as conn:
        table = Operations(MigrationContext.configure(conn)).create_table("posts", *columns())
    assert sent[0].startswith("CREATE TABLE posts")
    assert _stored_spec(engine, table) == _spec_json(table, engine.dialect)
    assert inspect(engine).get_foreign_keys("posts")[0]["options"] == {"ondelete": "CASCADE"}

    buffer: list[str] = []
    offline = MigrationContext.configure(dialect=engine.dialect, opts={
        "as_sql": True, "output_buffer": type("Out", (), {
            "write": lambda self, s: buffer.append(s), "flush": lambda self: None})()})
    Operations(offline).create_table("posts2", *columns())
    assert "CREATE TABLE posts2 (" in "".join(buffer)
    assert "DEFAULT 'x'" in "".join(buffer)
