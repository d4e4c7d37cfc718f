"""Shared by the tests that run steps on SQLite with ``PRAGMA foreign_keys = ON`` (the oracle)
and on both backends with ``foreign_keys=on``, comparing each step's outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

Step = Callable[[sa.Connection], Any]


def sqlite_with_foreign_keys() -> sa.Engine:
    """An in-memory SQLite engine enforcing foreign keys on every connection."""
    engine = sa.create_engine("sqlite://")

    @sa.event.listens_for(engine, "connect")
    def _pragma(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    return engine


def foreign_keys_url(request: pytest.FixtureRequest) -> str:
    """The URL of a ``target`` fixture's backend (its param) with foreign keys enforced."""
    if request.param == "docstore":
        return "docstore://?foreign_keys=on"
    return str(request.getfixturevalue("ravendb_url")) + "?foreign_keys=on"


def run_steps(engine: sa.Engine, steps: list[Step]) -> list[str]:
    """Each step in its own transaction; the outcome of each (ok or the error class)."""
    outcomes = []
    for step in steps:
        try:
            with engine.begin() as conn:
                step(conn)
            outcomes.append("ok")
        except sa.exc.IntegrityError:
            outcomes.append("IntegrityError")
    return outcomes
