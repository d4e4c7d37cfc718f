"""Streamed reads in bounded memory: ``yield_per`` over N rows, peak RSS growth, side by side.

    python bench/streaming.py [--rows 1000000]

Each URL runs in a fresh process: it stores N rows (one commit), then reads them all through
``select(...).execution_options(yield_per=1000)`` and reports the process's RSS growth during
the read (sampled every 10,000 rows) and the read time, for ``docstore:///file`` and
``sqlite:///file``. Not a test: numbers to compare, printed as a table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r'''
import json, sys, time
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    value: Mapped[float]

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

url, n = sys.argv[1], int(sys.argv[2])
engine = sa.create_engine(url)
Base.metadata.create_all(engine)
with engine.begin() as conn:
    for start in range(0, n, 50_000):
        conn.execute(sa.insert(Row), [{"id": i + 1, "name": f"row {i:08d} " + "x" * 40,
                                       "value": i * 0.25}
                                      for i in range(start, min(n, start + 50_000))])
before = peak = rss_mb()
started = time.perf_counter()
count = 0
with Session(engine) as session:
    for _ in session.scalars(sa.select(Row).execution_options(yield_per=1000)):
        count += 1
        if count % 10_000 == 0:
            peak = max(peak, rss_mb())
print(json.dumps({"rows": count, "seconds": time.perf_counter() - started,
                  "growth_mb": peak - before}))
'''


def run(url: str, rows: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, url, str(rows)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: run(f"{scheme}:///{Path(tmp) / name}.db", args.rows)
                   for name, scheme in (("docstore", "docstore"), ("sqlite", "sqlite"))}
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"yield_per=1000 over {args.rows:,} rows ({started})")
    print(f"{'url':<10} {'rows':>10} {'read s':>8} {'RSS growth MB':>14}")
    for name, r in results.items():
        print(f"{name:<10} {int(r['rows']):>10,} {r['seconds']:>8.2f} {r['growth_mb']:>14.1f}")
    ratio = results["docstore"]["seconds"] / results["sqlite"]["seconds"]
    print(f"read time ratio docstore/sqlite: {ratio:.2f}")


if __name__ == "__main__":
    main()
