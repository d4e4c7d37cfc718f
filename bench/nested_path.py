"""Benchmark: a query on a nested JSON path with an index on that path, at 1,000 and 100,000
documents on the embedded store (issue 9: at most 2x the time at 100,000).

Run from the repository root with the venv active::

    python bench/nested_path.py              # 1,000 vs 100,000 documents, 500 queries each
    python bench/nested_path.py --quick      # 1,000 vs 10,000, 200 queries (a smoke run)

Each document is ``Event(id, data={"customer": {"region": ..., "tier": n}, "tags": [...]})``
with ``Index("ix_event_region", Event.data["customer"]["region"].as_string())``; the timed part is
``session.scalars(select(Event.id).where(Event.data["customer"]["region"].as_string() == r))``
for random regions, each matching 5 documents. Prints the median time per query at both sizes,
the ratio, SQLite's plan line for the query (it must use the index), and the time at the large
size once the index is dropped. Exit status 1 if the plan does not use the index or the ratio
is above 2.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, Index, create_engine, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore.statements.parser import parse


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


REGION = Event.data["customer"]["region"].as_string()
Index("ix_event_region", REGION)
PER_REGION = 5  # documents per region value


def _load(engine: Engine, count: int) -> None:
    Base.metadata.create_all(engine)
    rows = [{"id": i, "data": {"customer": {"region": f"r{i // PER_REGION}", "tier": i % 7},
                               "tags": ["a", f"t{i % 11}"]}} for i in range(count)]
    with engine.begin() as conn:
        for start in range(0, count, 10_000):
            conn.execute(insert(Event), rows[start:start + 10_000])


def _time_queries(engine: Engine, count: int, queries: int) -> float:
    """Median seconds per query over ``queries`` random regions (after one warm-up)."""
    rng = random.Random(count)
    regions = [f"r{rng.randrange(count // PER_REGION)}" for _ in range(queries)]
    stmt = select(Event.id).where(REGION == regions[0])
    times = []
    with Session(engine) as session:
        assert len(session.scalars(stmt).all()) == PER_REGION  # warm-up: plan cached
        for region in regions:
            stmt = select(Event.id).where(REGION == region)
            start = time.perf_counter()
            found = session.scalars(stmt).all()
            times.append(time.perf_counter() - start)
            assert len(found) == PER_REGION, (region, found)
    return statistics.median(times)


def _plan(engine: Engine) -> list[str]:
    compiled = select(Event.id).where(REGION == "r1").compile(engine)
    raw = engine.raw_connection()
    try:
        backend = raw.dbapi_connection.backend  # type: ignore[union-attr]
        return list(backend.query_plan(parse(str(compiled)), compiled.params))
    finally:
        raw.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 vs 10,000 documents")
    parser.add_argument("--queries", type=int, default=None)
    args = parser.parse_args(argv)
    small, large = (1_000, 10_000) if args.quick else (1_000, 100_000)
    queries = args.queries or (200 if args.quick else 500)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (small, large):
            engine = create_engine(f"docstore:///{Path(tmp) / f'nested{count}.db'}")
            _load(engine, count)
            results[count] = _time_queries(engine, count, queries)
            plan = _plan(engine)
            if count == large:  # the same query without the index: a scan
                Index("ix_event_region", REGION).drop(engine)
                unindexed = _time_queries(engine, count, 20)
            engine.dispose()
    ratio = results[large] / results[small]
    print(f"nested path query, index on data.customer.region ({queries} queries, median)")
    for count, seconds in results.items():
        print(f"  {count:>7,} documents: {seconds * 1e6:8.1f} us/query")
    print(f"  ratio {large:,}/{small:,}: {ratio:.2f}x (target <= 2x)")
    print(f"  plan: {'; '.join(plan)}")
    print(f"  without the index, {large:,} documents: {unindexed * 1e6:8.1f} us/query")
    uses_index = any("ix_event_region" in line for line in plan)
    return 0 if uses_index and ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
