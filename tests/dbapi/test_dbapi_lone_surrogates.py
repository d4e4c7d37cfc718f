"""Text holding a lone surrogate (``"\\ud800"``: no UTF-8 for it, so no store can hold it) is
refused by the statement that writes it, with a DataError naming it, and the transaction keeps
going, as NUL and non-finite numbers are. Before, the statement took it; then every read of the
table and the commit failed, losing the transaction's other writes. On both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, String, Table, exc, insert, select
from sqlalchemy import update as sa_update

from sqla_docstore.errors import DataError

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("s", String),
              Column("doc", JSON))

BAD = "bad\ud800"


@pytest.fixture
def eng(engine: Engine) -> Engine:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(notes), [{"id": i, "s": f"s{i}"} for i in range(1, 4)])
    return engine


def _stored(eng: Engine) -> list[tuple[Any, ...]]:
    with eng.connect() as conn:
        return [tuple(r) for r in conn.execute(select(notes.c.id, notes.c.s).order_by(notes.c.id))]


def _refused_then_commits(eng: Engine, statement: Any, params: Any) -> None:
    """The statement fails alone: the transaction's earlier write commits, nothing of it does."""
    with eng.begin() as conn:
        conn.execute(insert(notes), {"id": 50, "s": "kept"})
        with pytest.raises(exc.DataError, match="lone surrogate") as caught:
            conn.execute(statement, params)
        assert isinstance(caught.value.orig, DataError)
        assert conn.execute(select(notes.c.id).order_by(notes.c.id)).scalars().all() == [
            1, 2, 3, 50]
    assert _stored(eng) == [(1, "s1"), (2, "s2"), (3, "s3"), (50, "kept")]


def test_insert_refused(eng: Engine) -> None:
    _refused_then_commits(eng, insert(notes), {"id": 10, "s": BAD})


@pytest.mark.parametrize("at", [0, 17, 29])
def test_executemany_insert_refused(eng: Engine, at: int) -> None:
    rows = [{"id": 10 + i, "s": f"t{i}"} for i in range(30)]
    rows[at]["s"] = BAD
    _refused_then_commits(eng, insert(notes), rows)


def test_update_refused(eng: Engine) -> None:
    _refused_then_commits(eng, sa_update(notes).where(notes.c.id == 2), {"s": BAD})


def test_update_of_many_by_key_refused(eng: Engine) -> None:
    from sqlalchemy import bindparam
    stmt = sa_update(notes).where(notes.c.id == bindparam("k")).values(s=bindparam("v"))
    rows = [{"k": k, "v": f"u{k}"} for k in (1, 2, 3)] + [{"k": 2, "v": BAD}]
    _refused_then_commits(eng, stmt, rows)


def test_nested_in_json_refused(eng: Engine) -> None:
    _refused_then_commits(eng, insert(notes), {"id": 10, "doc": {"a": [1, BAD]}})


def test_json_key_refused(eng: Engine) -> None:
    _refused_then_commits(eng, insert(notes), {"id": 10, "doc": {BAD: 1}})


def test_surrogate_pairs_as_text_are_kept(eng: Engine) -> None:
    with eng.begin() as conn:
        conn.execute(insert(notes), {"id": 10, "s": "emoji 😀 and \u2028"})
    assert _stored(eng)[-1] == (10, "emoji 😀 and \u2028")
