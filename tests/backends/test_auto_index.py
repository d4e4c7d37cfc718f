"""A field with a declared index must not get a second, identical auto-index on first query."""

import sqlite3
from pathlib import Path

from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def test_declared_index_is_not_duplicated_by_auto_index(tmp_path: Path) -> None:
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        code: Mapped[str] = mapped_column(String(32), index=True)

    path = tmp_path / "x.db"
    engine = create_engine(f"docstore:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        assert session.scalars(select(Item).where(Item.code == "x")).all() == []
    engine.dispose()
    with sqlite3.connect(path) as con:
        targets = [
            sql.split(" ON ", 1)[1]
            for (sql,) in con.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        ]
    # Every extra index on the same expression costs a b-tree write per insert and update.
    assert len(targets) == len(set(targets)), targets
