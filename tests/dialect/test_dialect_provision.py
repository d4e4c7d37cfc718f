"""The test-suite provisioning hooks (``sqla_docstore.dialect.provision``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.testing import config

from sqla_docstore.dialect import provision

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True))


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(things)))


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The suite's main engine (``config.db``) on a memory store holding two rows."""
    eng = create_engine("docstore://")
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(things.insert(), [{"id": 1}, {"id": 2}])
    monkeypatch.setattr(config, "db", eng)
    yield eng
    eng.dispose()


def _testing_engine(url: str) -> Engine:
    """An engine configured as SQLAlchemy's ``engines.testing_engine()`` configures one."""
    eng = create_engine(url)
    provision._post_configure_testing_engine(eng.url, eng, {}, "function")
    return eng


def test_a_testing_engine_on_a_memory_url_uses_the_main_engines_store(main: Engine) -> None:
    second = _testing_engine("docstore://?foreign_keys=on")
    try:
        assert _count(second) == 2
        with second.begin() as conn:
            conn.execute(things.insert(), {"id": 3})
        assert _count(main) == 3
    finally:
        second.dispose()
    assert _count(main) == 3  # disposing the second engine leaves the store open


def test_other_engines_keep_their_own_stores(main: Engine) -> None:
    plain = create_engine("docstore://")  # not a testing engine
    try:
        metadata.create_all(plain)
        assert _count(plain) == 0
    finally:
        plain.dispose()


def test_share_memory_store_gives_an_engine_another_engines_store(main: Engine) -> None:
    shared = create_engine("docstore://")
    provision.share_memory_store(shared, main)
    try:
        assert _count(shared) == 2
    finally:
        shared.dispose()
