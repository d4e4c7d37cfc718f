"""SQL's three-valued logic over NULL and missing fields, differentially against SQLite.

Rows hold NULL, and some documents lack the fields altogether (written as raw documents, as
another client would). Every predicate must select exactly the rows SQLite selects, whether
RavenDB answers it (RQL sent to the server), filters a superset for the client (pushdown), or
the client evaluates it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sqla_docstore.commands import Batch, Put

metadata = sa.MetaData()
items = sa.Table(
    "items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("flag", sa.Boolean),
    sa.Column("n", sa.Integer),
    sa.Column("s", sa.String(20)),
    sa.Column("f", sa.Float),
    sa.Column("mark", sa.Integer),
)
MISSING = object()  # the field is absent from the document
FLAGS = [True, False, None, MISSING]
NUMBERS = [1, 2, -3, None, MISSING]
STRINGS = ["a", "B", "", None, MISSING]
FLOATS = [0.5, -2.0, None, MISSING]


def _rows() -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for i in range(1, 61):
        out.append({"id": i, "flag": FLAGS[i % 4], "n": NUMBERS[i % 5],
                    "s": rng.choice(STRINGS), "f": rng.choice(FLOATS)})
    return out


ROWS = _rows()


def _put_raw_documents(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Documents written without the MISSING fields, straight through the backend."""
    raw = engine.raw_connection()
    try:
        backend = raw.driver_connection.backend  # type: ignore[union-attr]
        bodies = [{k: v for k, v in r.items() if v is not MISSING} for r in rows]
        backend.submit(Batch([Put("items", f"items/{b['id']}", b) for b in bodies]))
    finally:
        raw.close()


@pytest.fixture
def oracle() -> Iterator[Engine]:
    eng = sa.create_engine("sqlite://")
    metadata.create_all(eng)
    with eng.begin() as c:
        c.execute(items.insert(), [{k: (None if v is MISSING else v) for k, v in r.items()}
                                   for r in ROWS])
    yield eng
    eng.dispose()


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    metadata.create_all(engine)
    _put_raw_documents(engine, ROWS)
    return engine


def _atoms() -> list[Any]:
    t = items.c
    p = sa.bindparam
    return [
        t.flag.is_(sa.true()), t.flag.is_not(sa.true()), t.flag.is_(sa.false()),
        t.flag.is_not(sa.false()), t.flag, sa.not_(t.flag), t.flag == sa.true(),
        t.flag != sa.false(), t.flag.is_(None), t.flag.is_not(None),
        t.n == 1, t.n != 1, t.n < 2, t.n >= 1, t.n > -3, t.n <= 2, t.n.in_([1, -3]),
        t.n.not_in([1, -3]), t.n.is_distinct_from(1), t.n.is_not_distinct_from(2),
        t.n.is_distinct_from(None), t.n.is_not_distinct_from(None), t.n.is_(None),
        t.n.is_not(None), t.n == p("pn", None, type_=sa.Integer),
        t.n != p("pn2", None, type_=sa.Integer),
        t.n.is_distinct_from(p("pn3", None, type_=sa.Integer)),
        t.s == "a", t.s != "a", t.s != "", t.s.in_(["a", "B"]), t.s.not_in(["B"]),
        t.s.is_distinct_from("a"), t.s.is_not_distinct_from("B"), t.s.is_(None),
        t.f < 0, t.f != 0.5, t.f.is_distinct_from(-2.0), t.f >= -2.0,
    ]


def _predicates() -> list[Any]:
    atoms = _atoms()
    rng = random.Random(11)
    combined = []
    for _ in range(120):
        a, b, c = rng.sample(atoms, 3)
        shape = rng.randrange(5)
        if shape == 0:
            combined.append(sa.not_(sa.and_(a, b)))
        elif shape == 1:
            combined.append(sa.not_(sa.or_(a, b)))
        elif shape == 2:
            combined.append(sa.and_(a, sa.not_(b)))
        elif shape == 3:
            combined.append(sa.or_(sa.not_(a), sa.and_(b, c)))
        else:
            combined.append(sa.not_(sa.and_(sa.not_(a), sa.or_(b, sa.not_(c)))))
    return atoms + combined


def _ids(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(query))


def test_where_selects_the_rows_sqlite_selects(loaded: Engine, oracle: Engine) -> None:
    wrong = []
    for pred in _predicates():
        for query in (sa.select(items.c.id).where(pred),  # RQL when exact, else the client
                      sa.select(sa.func.count()).select_from(items).where(pred),
                      sa.select(items.c.id, items.c.s).where(pred).order_by(items.c.s,
                                                                             items.c.id)):
            expected = _ids(oracle, query)
            got = _ids(loaded, query)
            if got != expected:
                wrong.append((str(pred.compile(oracle)), expected, got))
    assert not wrong, wrong[:5]


def test_update_and_delete_match_the_rows_sqlite_matches(loaded: Engine,
                                                         oracle: Engine) -> None:
    """UPDATE/DELETE fetch their rows through the pushed-down superset filter."""
    wrong = []
    for pred in _predicates()[::4]:
        for stmt in (items.update().where(pred).values(mark=1), items.delete().where(pred)):
            counts = []
            for eng in (oracle, loaded):
                with eng.connect() as conn:
                    counts.append(conn.execute(stmt).rowcount)
                    conn.rollback()
            if counts[0] != counts[1]:
                wrong.append((str(pred.compile(oracle)), counts))
    assert not wrong, wrong[:5]


def test_is_not_true_keeps_null_and_missing(loaded: Engine) -> None:
    with loaded.connect() as conn:
        got = conn.execute(sa.select(items.c.id).where(items.c.flag.is_not(sa.true()))).all()
    expected = [r["id"] for r in ROWS if r["flag"] is not True]
    assert sorted(i for i, in got) == expected
