"""Timings of the queries the exact-number checks touch, on 20,000 documents of docstore://.

Run it from two checkouts to compare (``PYTHONPATH=$PWD python bench/exact_values.py``):
an indexed equality, integer and float ranges, a ``!=`` scan, ``ORDER BY ... LIMIT``, ``sum``
and a get by key.
"""

from __future__ import annotations

import random
import time
from typing import Any

import sqlalchemy as sa

ROWS = 20_000


def main() -> None:
    engine = sa.create_engine("docstore://")
    metadata = sa.MetaData()
    t = sa.Table("p", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("age", sa.Integer), sa.Column("score", sa.Float),
                 sa.Column("name", sa.String))
    metadata.create_all(engine)
    rng = random.Random(1)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "age": rng.randrange(100),
                                   "score": rng.random() * 100, "name": f"n{i}"}
                                  for i in range(1, ROWS + 1)])
    p = sa.bindparam
    cases: list[tuple[str, Any, int, dict[str, Any]]] = [
        ("eq indexed (age = 5)", sa.select(t.c.id).where(t.c.age == p("a")), 200, {"a": 5}),
        ("range int (age > 90)", sa.select(t.c.id).where(t.c.age > p("a")), 50, {"a": 90}),
        ("range float (score < 3)", sa.select(t.c.id).where(t.c.score < p("a")), 50,
         {"a": 3.0}),
        ("!= scan (age != 5)",
         sa.select(sa.func.count()).select_from(t).where(t.c.age != p("a")), 20, {"a": 5}),
        ("order by score limit 10", sa.select(t.c.id).order_by(t.c.score).limit(10), 50, {}),
        ("sum(score)", sa.select(sa.func.sum(t.c.score)), 20, {}),
        ("get by key", sa.select(t).where(t.c.id == p("a")), 500, {"a": 77}),
    ]
    with engine.connect() as conn:
        for label, query, times, params in cases:
            conn.execute(query, params).all()
            started = time.perf_counter()
            for _ in range(times):
                conn.execute(query, params).all()
            print(f"{label:26s} {(time.perf_counter() - started) / times * 1000:8.3f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
