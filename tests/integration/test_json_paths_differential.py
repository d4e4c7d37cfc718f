"""Differential property test for JSON paths: random nested documents and random paths,
read through every JSON accessor in projections, WHERE (with a bound value) and ORDER BY, on
``docstore://`` / ``ravendb://`` and on SQLAlchemy's SQLite dialect (the oracle), compared
exactly. Keys are ASCII letters (SQLite's dialect writes other keys into its path unescaped
and misses them); values are what JSON holds (no NUL in strings, no integer beyond 64 bits).
``JSON_PATHS_EXAMPLES=N`` sets the number of examples (default 60, 20 on ravendb://)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    bindparam,
    create_engine,
    delete,
    insert,
    select,
)

table = Table("jdocs", MetaData(), Column("id", Integer, primary_key=True), Column("data", JSON))

KEYS = st.sampled_from(["a", "b", "c"])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**40), 2**40)
           | st.floats(allow_nan=False, allow_infinity=False, width=64).filter(
               lambda f: f == 0 or 1e-300 < abs(f) < 1e300)
           | st.text(st.characters(blacklist_characters="\x00", max_codepoint=0x2FF),
                     max_size=4) | st.sampled_from(["5", "1.5", "x", "", "true"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
DOCS = st.lists(VALUES, min_size=1, max_size=6)
#: values compared with each typed accessor's result (of its type, as an application would)
PROBES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.sampled_from(["5", "1.5", "x", "", "1", "0", "true", '{"a":1}']) | st.text(
        st.characters(blacklist_characters="\x00", max_codepoint=0x2FF), max_size=3),
    "integer": st.integers(-3, 6),
    "float": st.sampled_from([0.0, 1.5, 5.0, -1.0]) | st.floats(-10, 10),
    "boolean": st.booleans(),
}
ACCESSORS: dict[str, Callable[[Any], Any]] = {
    "json": lambda e: e,
    "string": lambda e: e.as_string(),
    "integer": lambda e: e.as_integer(),
    "float": lambda e: e.as_float(),
    "boolean": lambda e: e.as_boolean(),
}


def _element(path: tuple[Any, ...], nested: bool) -> Any:
    if not nested:
        return table.c.data[path]
    element = table.c.data
    for step in path:
        element = element[step]
    return element


def _results(engine: Engine, docs: list[Any], path: tuple[Any, ...], accessor: str,
             nested: bool, probe: Any) -> list[Any]:
    element = ACCESSORS[accessor](_element(path, nested))
    with engine.begin() as conn:
        conn.execute(delete(table))
        conn.execute(insert(table), [{"id": i, "data": d} for i, d in enumerate(docs)])
        out = [conn.execute(select(table.c.id, element).order_by(table.c.id)).all(),
               conn.execute(select(table.c.id).order_by(element, table.c.id)).all()]
        if accessor != "json":
            out.append(conn.execute(select(table.c.id).where(element == bindparam("v"))
                                    .order_by(table.c.id), {"v": probe}).all())
    return out


def _path_into(data: st.DataObject, docs: list[Any]) -> tuple[tuple[Any, ...], Any]:
    """A path that mostly follows one document's structure (and the value it reaches), now
    and then a step that leaves it."""
    node = data.draw(st.sampled_from(docs))
    path: list[Any] = []
    for _ in range(data.draw(st.integers(1, 3))):
        wander = data.draw(st.integers(0, 4)) == 0
        if isinstance(node, dict) and node and not wander:
            key = data.draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node and not wander:
            key = data.draw(st.integers(0, len(node) - 1))
        else:
            key = data.draw(KEYS | st.integers(0, 2))
        path.append(key)
        node = node[key] if isinstance(node, (dict, list)) and _has(node, key) else None
    return tuple(path), node


def _has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(key, int) and key < len(node)


def _probe(data: st.DataObject, accessor: str, found: Any) -> Any:
    """A value of the accessor's type: the one the path reaches (when it converts), or any."""
    if accessor not in PROBES:
        return None
    if data.draw(st.booleans()) and found is not None and not isinstance(found, (dict, list)):
        try:
            return {"string": str, "integer": int, "float": float, "boolean": bool}[accessor](
                found)
        except (ValueError, OverflowError):
            pass
    return data.draw(PROBES[accessor])


def _check(engine: Engine, examples: int) -> None:
    oracle = create_engine("sqlite://")
    for eng in (engine, oracle):
        table.create(eng)

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(DOCS, st.sampled_from(sorted(ACCESSORS)), st.booleans(), st.data())
    def compare(docs: list[Any], accessor: str, nested: bool, data: st.DataObject) -> None:
        path, found = _path_into(data, docs)
        probe = _probe(data, accessor, found)
        got = _results(engine, docs, path, accessor, nested, probe)
        assert got == _results(oracle, docs, path, accessor, nested, probe)

    compare()


def test_json_paths_match_sqlite_on_random_documents(engine: Engine) -> None:
    default = 60 if engine.dialect.name == "docstore" else 20
    _check(engine, int(os.environ.get("JSON_PATHS_EXAMPLES", default)))
