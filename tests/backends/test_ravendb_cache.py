"""The ETag cache never shares objects between callers: an in-place edit stays local."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Profile(Base):
    __tablename__ = "profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


def test_an_in_place_edit_rolled_back_is_not_read_by_later_sessions(ravendb_url: str) -> None:
    engine = sa.create_engine(ravendb_url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Profile(id=1, data={"tags": ["a"], "name": "x"}))
        s.commit()
    for _ in range(2):  # the second load is answered from the cache (304)
        with Session(engine) as s:
            profile = s.get(Profile, 1)
            assert profile is not None
            assert profile.data == {"tags": ["a"], "name": "x"}
            profile.data["tags"].append("edited in place")
            profile.data["name"] = "edited"
            s.rollback()
    with Session(engine) as s:
        rows = s.execute(sa.select(Profile.data)).scalars().all()
        assert rows == [{"tags": ["a"], "name": "x"}]
        rows[0]["name"] = "edited"
    with Session(engine) as s:
        assert s.execute(sa.select(Profile.data)).scalars().all() == [
            {"tags": ["a"], "name": "x"}]
    engine.dispose()
