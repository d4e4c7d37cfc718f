"""The write paths through the DB-API, phase by phase, on a URL: what SQLAlchemy's
``bulk_inserts test_dbapi_raw`` and ``single_inserts test_dbapi_raw_w_pool`` do, split where
the time goes.

    python bench/write_phases.py URL [--rows 10000] [--singles 1000]
        [--callgrind-helper cg2.so]

- ``bulk``: one ``executemany`` of ``--rows`` two-column INSERTs (``bulk.executemany``), then
  the commit (``bulk.commit``);
- ``single``: ``--singles`` times: a pooled connection and a cursor (``single.checkout``),
  one single-row INSERT (``single.execute``), the commit (``single.commit``), the close,
  which rolls back (``single.close``); each phase given per iteration.

``sqlite:`` URLs get WAL and synchronous=NORMAL, the store's durability settings, so the
figures compare like with like. Without a helper: CPU microseconds of this process (best of
``--rounds``). With ``--callgrind-helper`` (a shared library with ``cg_start()``,
``cg_toggle()``, ``cg_zero()`` and ``cg_dump(name)``, see bench/README.md) under
``valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no``, each phase is one
callgrind dump named as above (its instructions, summed over the iterations). Not a test: a
table to read.
"""

from __future__ import annotations

import argparse
import ctypes
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, event
from sqlalchemy.engine import Engine

_META = MetaData()
_CUSTOMER = Table("customer", _META, Column("id", Integer, primary_key=True),
                  Column("name", String(255)), Column("description", String(255)))


class _Clock:
    """Phases timed by CPU seconds, or collected by callgrind through its helper library."""

    def __init__(self, helper: str | None) -> None:
        self.lib: Any = ctypes.CDLL(helper) if helper else None
        self.spent: dict[str, float] = {}
        self._since = 0.0
        if self.lib is not None:
            self.lib.cg_start()

    def begin(self) -> None:
        if self.lib is not None:
            self.lib.cg_toggle()
        else:
            self._since = time.process_time()

    def end(self, phase: str) -> None:
        if self.lib is not None:
            self.lib.cg_toggle()
        else:
            self.spent[phase] = self.spent.get(phase, 0.0) + time.process_time() - self._since

    def dump(self, phase: str) -> None:
        if self.lib is not None:
            self.lib.cg_dump(phase.encode())
            self.lib.cg_zero()


def _engine(url: str) -> Engine:
    engine = create_engine(url)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _durability(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    return engine


def _insert_sql(engine: Engine) -> str:
    stmt = _CUSTOMER.insert().values(name=bindparam("name"), description=bindparam("description"))
    return str(stmt.compile(dialect=engine.dialect))


def bulk(engine: Engine, rows: int, clock: _Clock) -> None:
    """test_dbapi_raw: one executemany of ``rows`` rows and its commit, on a new table."""
    _META.drop_all(engine)
    _META.create_all(engine)
    sql = _insert_sql(engine)
    conn = engine.pool._creator()  # type: ignore[call-arg]  # (the suite's way: no pool)
    cursor = conn.cursor()
    args = [(f"customer name {i}", f"customer description {i}") for i in range(rows)]
    clock.begin()
    cursor.executemany(sql, args)
    clock.end("bulk.executemany")
    clock.dump("bulk.executemany")
    clock.begin()
    conn.commit()
    clock.end("bulk.commit")
    clock.dump("bulk.commit")
    conn.close()


_SINGLE_PHASES = ("single.checkout", "single.execute", "single.commit", "single.close")


def single(engine: Engine, count: int, clock: _Clock) -> None:
    """test_dbapi_raw_w_pool: ``count`` pooled single-row INSERTs, each committed; each
    phase collected over all of them (one phase a pass, so the toggles nest nothing)."""
    _META.drop_all(engine)
    _META.create_all(engine)
    sql, args = _insert_sql(engine), ("customer name", "customer description")
    _singles(engine, sql, args, 50, None, clock)  # (warm: the pool, plans, HiLo)
    for phase in _SINGLE_PHASES:
        _singles(engine, sql, args, count, phase, clock)
        clock.dump(phase)


def _singles(engine: Engine, sql: str, args: tuple[str, str], count: int, phase: str | None,
             clock: _Clock) -> None:
    def step(name: str, action: Callable[[], Any]) -> Any:
        if name != phase:
            return action()
        clock.begin()
        out = action()
        clock.end(name)
        return out

    for _ in range(count):
        conn = step("single.checkout", engine.raw_connection)
        cursor = conn.cursor()
        step("single.execute", partial(cursor.execute, sql, args))
        step("single.commit", conn.commit)
        step("single.close", conn.close)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callgrind-helper", help="a library with cg_start, cg_toggle, "
                        "cg_zero and cg_dump(name)")
    args = parser.parse_args()
    engine = _engine(args.url)
    if args.callgrind_helper:
        warm = _Clock(None)
        bulk(engine, args.rows, warm)  # (the first run's imports and plans, not collected)
        clock = _Clock(args.callgrind_helper)
        bulk(engine, args.rows, clock)
        single(engine, args.singles, clock)
        return
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        clock = _Clock(None)
        bulk(engine, args.rows, clock)
        single(engine, args.singles, clock)
        for phase, spent in clock.spent.items():
            best[phase] = min(best.get(phase, spent), spent)
    print(f"{args.url}: CPU best of {args.rounds} rounds")
    for phase, spent in best.items():
        per = args.singles if phase.startswith("single.") else 1
        unit = "us per iteration" if per > 1 else "ms"
        print(f"  {phase:18} {spent / per * (1e6 if per > 1 else 1e3):9.1f} {unit}")


if __name__ == "__main__":
    main()
