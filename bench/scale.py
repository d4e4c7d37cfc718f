"""Flat at scale: a point query at 1,000 and at 1,000,000 documents, and one commit of 100,000
new objects, side by side with SQLite.

    python bench/scale.py [--large 1000000] [--commit 100000]

Each measurement runs in a fresh process per URL (``docstore:///file`` and ``sqlite:///file``):

- ``point``: a collection of ``--small`` and one of ``--large`` documents with an indexed
  ``code``; 2,000 ``select(Item).where(Item.code == c)`` per size for random existing codes,
  in ten rounds alternating the sizes after a warm-up round. Reported: the median time per
  query of each size, and the median of the rounds' large/small ratios. The target (issue 12):
  the time at the large size at most 2x the time at the small size.
- ``commit``: ``session.add_all()`` of N new objects and one ``commit()`` (nothing reaches the
  store before it: the pending batch holds all N documents). Reported: the time, the process's
  RSS growth from before ``add_all`` to the peak during the commit (sampled by a thread every
  10 ms), and that growth per object. Both SQLAlchemy sessions hold the N objects themselves;
  the difference between the two rows is what the pending batch and its commit add.

Not a test: numbers to compare, printed as a table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

POINT = r'''
import json, random, statistics, sys, time
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class Small(Base):
    __tablename__ = "small"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]

class Large(Base):
    __tablename__ = "large"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]

url, small, large, lookups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
engine = sa.create_engine(url)
Base.metadata.create_all(engine)
for model, n in ((Small, small), (Large, large)):
    for start in range(0, n, 100_000):
        with engine.begin() as conn:
            conn.execute(sa.insert(model), [{"id": i + 1, "code": f"code-{i:09d}",
                                             "name": f"item {i}"}
                                            for i in range(start, min(n, start + 100_000))])
rng = random.Random(7)
sessions = {n: Session(engine) for n in (small, large)}
models = {small: Small, large: Large}
times = {small: [], large: []}
for rnd in range(11):  # rounds alternate the sizes, so a busy machine weighs on both alike
    for n in ((small, large) if rnd % 2 else (large, small)):
        model, session = models[n], sessions[n]
        codes = [f"code-{rng.randrange(n):09d}" for _ in range(lookups // 10)]
        started = time.perf_counter()
        for code in codes:
            item = session.scalars(sa.select(model).where(model.code == code)).one()
        if rnd:  # the first round warms up
            times[n].append((time.perf_counter() - started) / len(codes))
        assert item.code == codes[-1]
out = {n: statistics.median(t) for n, t in times.items()}
ratio = statistics.median(b / a for a, b in zip(times[small], times[large]))
print(json.dumps({"small_us": out[small] * 1e6, "large_us": out[large] * 1e6,
                  "ratio": ratio}))
'''

COMMIT = r'''
import json, sys, threading, time
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    description: Mapped[str]

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

url, n = sys.argv[1], int(sys.argv[2])
engine = sa.create_engine(url)
Base.metadata.create_all(engine)
peak = [0.0]
done = threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.01)

before = rss_mb()
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
with Session(engine) as session:
    session.add_all(Customer(id=i + 1, name=f"customer name {i}",
                             description=f"customer description {i}") for i in range(n))
    session.commit()
    seconds = time.perf_counter() - started
    peak[0] = max(peak[0], rss_mb())
    done.set()
    sampler.join()
    stored = session.scalar(sa.select(sa.func.count()).select_from(Customer))
assert stored == n, stored
print(json.dumps({"seconds": seconds, "growth_mb": peak[0] - before}))
'''


def child(code: str, *args: object) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True,
                         capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--commit", type=int, default=100_000)
    parser.add_argument("--only", choices=("point", "commit"))
    args = parser.parse_args()
    urls = (("docstore", "docstore"), ("sqlite", "sqlite"))
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "point"):
            print(f"point query by an indexed field, {args.lookups:,} queries")
            print(f"{'url':<10} {f'µs @{args.small:,}':>14} {f'µs @{args.large:,}':>16} "
                  f"{'large/small':>12}")
            for name, scheme in urls:
                r = child(POINT, f"{scheme}:///{Path(tmp) / name}-point.db", args.small,
                          args.large, args.lookups)
                print(f"{name:<10} {r['small_us']:>14.1f} {r['large_us']:>16.1f} "
                      f"{r['ratio']:>12.2f}")
        if args.only in (None, "commit"):
            print(f"\none commit of {args.commit:,} new ORM objects")
            print(f"{'url':<10} {'seconds':>8} {'RSS growth MB':>14} {'KB/object':>10}")
            for name, scheme in urls:
                r = child(COMMIT, f"{scheme}:///{Path(tmp) / name}-commit.db", args.commit)
                print(f"{name:<10} {r['seconds']:>8.2f} {r['growth_mb']:>14.1f} "
                      f"{r['growth_mb'] * 1024 / args.commit:>10.2f}")


if __name__ == "__main__":
    main()
