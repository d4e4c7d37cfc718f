"""Core statements on ``create_async_engine`` (``AsyncConnection.execute``): SQLAlchemy 2.0.44+
soft-closes the cursor of a result it hands back (``_async_soft_close``) before the rows are
fetched; the rows must still be there. Both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("name", sa.String(20)))


@pytest.fixture(params=["docstore", "ravendb"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "docstore":
        return f"docstore:///{tmp_path / 'core.db'}"
    return str(request.getfixturevalue("ravendb_url"))


def test_core_select_text_and_dml_results(url: str) -> None:
    async def main() -> None:
        engine = create_async_engine(url, pool_pre_ping=True)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                inserted = await conn.execute(
                    items.insert().returning(items.c.id),
                    [{"id": i, "name": f"n{i}"} for i in (1, 2, 3)])
                assert sorted(inserted.scalars().all()) == [1, 2, 3]
            async with engine.connect() as conn:
                result = await conn.execute(sa.select(items.c.id, items.c.name)
                                            .order_by(items.c.id))
                assert result.keys() == ["id", "name"]
                assert result.all() == [(1, "n1"), (2, "n2"), (3, "n3")]
                assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
                updated = await conn.execute(items.update().where(items.c.id > 1)
                                             .values(name="x"))
                assert updated.rowcount == 2
                first = await conn.execute(sa.select(items.c.name).order_by(items.c.id))
                assert first.first() == ("n1",)
        finally:
            await engine.dispose()

    asyncio.run(main())
