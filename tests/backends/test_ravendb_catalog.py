"""RavenDB: another client's schema change is seen by this client's next transaction.

Two engines on one database are two clients (each has its own schema cache, HiLo ranges and
ETag cache). After one drops, recreates or indexes a table, the other's next transaction sees
it: ``has_table``, NOT NULL and unique constraints, and HiLo keys that don't collide. The check
is one conditional GET of the catalog document per transaction, answered 304 while unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    exc,
    insert,
    inspect,
    select,
)

from sqla_docstore import dbapi
from sqla_docstore.backends.ravendb import http
from sqla_docstore.backends.ravendb.connection import CATALOG_ID


def _notes(md: MetaData, body_nullable: bool = True) -> Table:
    return Table("notes", md, Column("id", Integer, primary_key=True),
                 Column("body", String(20), nullable=body_nullable))


@pytest.fixture
def ours(ravendb_url: str) -> Iterator[Engine]:
    eng = create_engine(ravendb_url)
    yield eng
    eng.dispose()


@pytest.fixture
def theirs(ravendb_url: str) -> Iterator[Engine]:
    eng = create_engine(ravendb_url)
    yield eng
    eng.dispose()


def test_a_table_another_client_dropped_is_gone(ours: Engine, theirs: Engine) -> None:
    _notes(MetaData()).create(ours)
    assert inspect(ours).has_table("notes")
    _notes(MetaData()).drop(theirs)
    assert not inspect(ours).has_table("notes")


def test_a_not_null_another_client_declared_is_enforced(ours: Engine, theirs: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(ours)
    with ours.begin() as conn:
        conn.execute(insert(notes), {"body": None})
    strict = _notes(MetaData(), body_nullable=False)
    strict.drop(theirs)
    strict.create(theirs)
    with pytest.raises(exc.IntegrityError, match="NOT NULL constraint failed: notes.body"):
        with ours.begin() as conn:
            conn.execute(insert(notes), {"body": None})


def test_a_unique_index_another_client_added_is_enforced(ours: Engine, theirs: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(ours)
    assert inspect(ours).has_table("notes")  # our schema cache holds notes without the index
    other = _notes(MetaData())
    Index("ix_notes_body", other.c.body, unique=True).create(theirs)
    with ours.begin() as conn:
        conn.execute(insert(notes), {"body": "taken"})
    with pytest.raises(exc.IntegrityError):
        with ours.begin() as conn:
            conn.execute(insert(notes), {"body": "taken"})
    with ours.connect() as conn:
        assert conn.scalars(select(notes.c.body)).all() == ["taken"]


def test_keys_of_a_table_another_client_started_over_do_not_collide(
        ours: Engine, theirs: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(ours)
    with ours.begin() as conn:  # reserves a HiLo range in our engine, uses 1..3
        conn.execute(insert(notes), [{"body": f"ours {i}"} for i in range(3)])
    notes.drop(theirs)
    notes.create(theirs)
    with theirs.begin() as conn:  # ids start over: 1..5
        conn.execute(insert(notes), [{"body": f"theirs {i}"} for i in range(5)])
    with ours.begin() as conn:
        conn.execute(insert(notes), {"body": "ours again"})
    with ours.connect() as conn:
        ids = conn.scalars(select(notes.c.id)).all()
    assert len(ids) == len(set(ids)) == 6


def test_the_catalog_is_checked_once_per_transaction_with_a_304(
        ours: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = _notes(MetaData())
    notes.create(ours)
    statuses: list[int] = []
    finish = http.HttpSession._finish

    def spy(self: Any, resp: Any, node: Any, cache_key: Any) -> Any:
        if cache_key is not None and CATALOG_ID in cache_key:
            statuses.append(resp.status)
        return finish(self, resp, node, cache_key)

    monkeypatch.setattr(http.HttpSession, "_finish", spy)
    for _ in range(2):
        with ours.begin() as conn:
            for _ in range(3):
                conn.execute(select(notes.c.id)).all()
    assert statuses[-1] == 304  # unchanged: the server sends no body
    assert len(statuses) == 2  # one check per transaction, not per statement


def test_ddl_racing_another_clients_ddl_does_not_hide_it(ravendb_url: str) -> None:
    """Our DDL expects the catalog version we saw; theirs came in between, so we reload."""
    host, database = ravendb_url.split("://", 1)[1].split("/", 1)
    spec = '{"fields": [{"name": "id", "type": "INTEGER"}], "primary_key": ["id"]}'
    ours = dbapi.connect(database, urls=[f"http://{host}"])
    theirs = dbapi.connect(database, urls=[f"http://{host}"])
    try:
        ours.cursor().execute(f"CREATE COLLECTION kept {spec}")
        ours.commit()
        cur = ours.cursor()
        cur.execute("SELECT kept.id FROM kept")  # this transaction checked the catalog
        theirs.cursor().execute("DROP COLLECTION kept")
        cur.execute(f"CREATE COLLECTION added {spec}")  # in the same transaction
        ours.commit()
        with pytest.raises(dbapi.OperationalError, match="no such collection: kept"):
            ours.backend.spec("kept")
        assert ours.backend.spec("added").primary_key == ("id",)
    finally:
        ours.close()
        theirs.close()


ALTERS = {
    "column added with a default": {"action": "add_column", "name": "z", "type": "INTEGER",
                                    "nullable": True, "default": 7},
    "column renamed": {"action": "alter_column", "name": "body", "new_name": "text"},
    "column dropped": {"action": "drop_column", "name": "body"},
}


@pytest.mark.parametrize("alter", list(ALTERS))
def test_a_commit_whose_table_another_client_altered_meanwhile_applies_nothing(
        ours: Engine, theirs: Engine, alter: str) -> None:
    """The rows were checked by the schema this transaction read; another client changed it
    (rewriting the stored documents) before the commit, which stored its row in the old
    shape: without the new default (NULL where SQL gives 7), under a renamed or dropped
    name. As on the embedded store, the commit fails (OperationalError) and applies nothing."""
    import json

    notes = _notes(MetaData())
    notes.create(ours)
    with ours.begin() as conn:
        conn.execute(insert(notes), {"id": 1, "body": "a"})
    with ours.connect() as mine:
        mine.execute(insert(notes), {"id": 2, "body": "b"})
        with theirs.begin() as conn:
            conn.exec_driver_sql(f"ALTER COLLECTION notes {json.dumps(ALTERS[alter])}")
        with pytest.raises(exc.OperationalError, match="notes was changed by another"):
            mine.commit()
    with theirs.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1


def test_another_tables_change_meanwhile_does_not_fail_the_commit(
        ours: Engine, theirs: Engine) -> None:
    notes = _notes(MetaData())
    notes.create(ours)
    with ours.connect() as mine:
        mine.execute(insert(notes), {"id": 2, "body": "b"})
        Table("other", MetaData(), Column("id", Integer, primary_key=True)).create(theirs)
        mine.commit()
    with theirs.connect() as conn:
        assert conn.execute(select(notes.c.body)).scalars().all() == ["b"]
