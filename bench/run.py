"""Benchmark: SQLAlchemy insert and select shapes, docstore:///file vs sqlite:///file, one run.

Run from the repository root with the venv active::

    python bench/run.py                # N=10,000; point query at 1,000 vs 100,000 documents
    python bench/run.py --quick        # small sizes, for CI smoke runs
    python bench/run.py --profile orm_flush_no_pk   # cProfile one shape on docstore

The shapes follow SQLAlchemy's examples/performance (bulk_inserts, large_resultsets): the same
``Customer(id, name, description)`` model, flushed in chunks of 1,000 as ``test_flush_no_pk`` does.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, String, create_engine, event, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqla_docstore


class Base(DeclarativeBase):
    pass


class Customer(Base):
    """The model of SQLAlchemy's examples/performance/bulk_inserts.py."""

    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))


class _Item:
    """A document looked up by ``code``, an indexed field that is not the primary key."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(String(255))


class SmallItem(_Item, Base):
    __tablename__ = "item_small"


class LargeItem(_Item, Base):
    __tablename__ = "item_large"


# ------------------------------------------------------------------------------ config


@dataclass(frozen=True)
class Sizes:
    n: int  # rows per insert shape
    load: int  # rows in the full-load shape
    small: int  # documents in the small point-query collection
    large: int  # documents in the large point-query collection
    lookups: int  # point queries per repetition
    reps: int


FULL = Sizes(n=10_000, load=10_000, small=1_000, large=100_000, lookups=1_000, reps=7)
QUICK = Sizes(n=1_000, load=1_000, small=1_000, large=10_000, lookups=200, reps=3)

FLUSH_CHUNK = 1_000  # as examples/performance/bulk_inserts.py test_flush_no_pk
FLUSH_TARGET = 1.5  # ORM flush without PKs: docstore <= 1.5x SQLite
SCALING_TARGET = 2.0  # point query: time at the large size <= 2x time at the small size


@dataclass
class Measure:
    """Median seconds of the repetitions, plus the docstore requests of the last repetition."""

    times: list[float] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    commits: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# --------------------------------------------------------------------------- engines


def make_engines(tmpdir: Path, sqlite_defaults: bool) -> dict[str, Engine]:
    """Fresh files: ``docstore:///<tmpdir>/docstore/bench.db`` and ``sqlite:///.../sqlite/bench.db``.

    The two live in separate folders because both are SQLite files underneath.
    """
    engines = {}
    for kind in ("sqlite", "docstore"):
        folder = tmpdir / kind
        folder.mkdir()
        engines[kind] = create_engine(f"{kind}:///{folder / 'bench.db'}")
    if not sqlite_defaults:
        # The embedded store runs WAL with synchronous=NORMAL; give SQLite the same durability,
        # so the ratio measures the document layer, not a different fsync policy.
        @event.listens_for(engines["sqlite"], "connect")
        def _pragmas(dbapi_conn: Any, record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engines


def reset(engine: Engine, *models: type[Any]) -> None:
    tables = [Base.metadata.tables[m.__tablename__] for m in models]
    Base.metadata.drop_all(engine, tables=tables)
    Base.metadata.create_all(engine, tables=tables)


def customer_rows(n: int, with_ids: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": f"customer name {i}", "description": f"customer description {i}"}
        for i in range(n)
    ]
    if with_ids:
        for i, row in enumerate(rows, 1):
            row["id"] = i
    return rows


def session_requests(engine: Engine, session: Session) -> dict[str, int]:
    return sqla_docstore.request_counts(session) if engine.dialect.name == "docstore" else {}


# ----------------------------------------------------------------------------- shapes

#: Set by --profile: the profiler runs only inside the timed part of each shape.
PROFILER: cProfile.Profile | None = None


@contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that holds the elapsed seconds once the block ends."""
    box: list[float] = []
    gc.collect()
    if PROFILER is not None:
        PROFILER.enable()
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)
        if PROFILER is not None:
            PROFILER.disable()


# Each shape runs one repetition: untimed setup, then the timed part; it returns
# (seconds, docstore request counts, number of commits in the timed part).

Shape = Callable[[Engine, Sizes], tuple[float, dict[str, int], int]]


def orm_flush(engine: Engine, sizes: Sizes, with_ids: bool) -> tuple[float, dict[str, int], int]:
    reset(engine, Customer)
    objects = [Customer(**row) for row in customer_rows(sizes.n, with_ids)]
    with Session(engine) as session:
        with timed() as elapsed:
            for chunk in range(0, len(objects), FLUSH_CHUNK):
                session.add_all(objects[chunk:chunk + FLUSH_CHUNK])
                session.flush()
            session.commit()
        requests = session_requests(engine, session)
        _check_count(session, sizes.n)
    return elapsed[0], requests, 1


def orm_flush_no_pk(engine: Engine, sizes: Sizes) -> tuple[float, dict[str, int], int]:
    return orm_flush(engine, sizes, with_ids=False)


def orm_flush_pk(engine: Engine, sizes: Sizes) -> tuple[float, dict[str, int], int]:
    return orm_flush(engine, sizes, with_ids=True)


def orm_bulk_insert(engine: Engine, sizes: Sizes) -> tuple[float, dict[str, int], int]:
    reset(engine, Customer)
    rows = customer_rows(sizes.n, with_ids=False)
    with Session(engine) as session:
        with timed() as elapsed:
            session.execute(insert(Customer), rows)
            session.commit()
        requests = session_requests(engine, session)
        _check_count(session, sizes.n)
    return elapsed[0], requests, 1


def core_insert(engine: Engine, sizes: Sizes) -> tuple[float, dict[str, int], int]:
    reset(engine, Customer)
    rows = customer_rows(sizes.n, with_ids=False)
    table = Base.metadata.tables["customer"]
    with engine.connect() as conn:
        before = _conn_requests(engine, conn)
        with timed() as elapsed:
            conn.execute(table.insert(), rows)
            conn.commit()
        requests = _delta(_conn_requests(engine, conn), before)
    with Session(engine) as session:
        _check_count(session, sizes.n)
    return elapsed[0], requests, 1


def orm_load_all(engine: Engine, sizes: Sizes) -> tuple[float, dict[str, int], int]:
    # The collection is filled once per engine (untimed); each repetition loads it all.
    with Session(engine) as session:
        if _count(session, Customer) != sizes.load:
            reset(engine, Customer)
            session.execute(insert(Customer), customer_rows(sizes.load, with_ids=False))
            session.commit()
    with Session(engine) as session:
        with timed() as elapsed:
            loaded = session.scalars(select(Customer)).all()
            session.commit()
        assert len(loaded) == sizes.load, (len(loaded), sizes.load)
        return elapsed[0], session_requests(engine, session), 1


def fill_items(engine: Engine, model: type[_Item], count: int) -> None:
    reset(engine, model)
    with Session(engine) as session:
        for chunk in range(0, count, 10_000):
            session.execute(insert(model), [
                {"code": item_code(i), "payload": f"payload {i}"}
                for i in range(chunk, min(chunk + 10_000, count))
            ])
        session.commit()


def item_code(i: int) -> str:
    return f"code-{i:09d}"


def point_queries(
    engine: Engine, model: type[_Item], count: int, sizes: Sizes, rng: random.Random
) -> tuple[float, dict[str, int], int]:
    """Seconds per query: ``select(Item).where(Item.code == c)`` for random existing codes."""
    codes = [item_code(rng.randrange(count)) for _ in range(sizes.lookups)]
    stmt = select(model)
    with Session(engine) as session:
        with timed() as elapsed:
            for code in codes:
                item = session.scalars(stmt.where(model.code == code)).one()
        assert item.code == codes[-1]
        session.commit()
        requests = session_requests(engine, session)
    # Per query, and the request counts divided out to one query's worth.
    return elapsed[0] / sizes.lookups, {k: v // sizes.lookups for k, v in requests.items()}, 0


def _count(session: Session, model: type[Any]) -> int:
    return len(session.scalars(select(model.id)).all())


def _check_count(session: Session, expected: int) -> None:
    got = _count(session, Customer)
    assert got == expected, f"expected {expected} rows, found {got}"


def _conn_requests(engine: Engine, conn: Any) -> Counter[str]:
    if engine.dialect.name != "docstore":
        return Counter()
    return Counter(sqla_docstore.request_counts(conn))


def _delta(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    after = Counter(after)
    after.subtract(before)
    return {k: v for k, v in after.items() if v}


INSERT_SHAPES: dict[str, tuple[str, Shape]] = {
    "orm_flush_no_pk": ("ORM flush, no PKs (autoincrement)", orm_flush_no_pk),
    "orm_flush_pk": ("ORM flush, PKs given", orm_flush_pk),
    "orm_bulk_insert": ("ORM bulk insert(Model), dicts", orm_bulk_insert),
    "core_insert": ("Core insert executemany", core_insert),
    "orm_load_all": ("ORM select(Model) load all", orm_load_all),
}


# ---------------------------------------------------------------------------- running


Cell = Callable[[], tuple[float, dict[str, int], int]]


def interleave(cells: dict[Any, Cell], reps: int) -> dict[Any, Measure]:
    """One warm-up each, then ``reps`` rounds that run every cell once, back to back.

    Rounds alternate the order, so a load spike on a shared machine, or a cache warmed by the
    previous cell, hits every backend alike; ratios are taken within a round.
    """
    out = {key: Measure() for key in cells}
    for cell in cells.values():
        cell()  # warm-up: statement caches, compiled plans, auto-indexes
    keys = list(cells)
    for rnd in range(reps):
        for key in keys if rnd % 2 == 0 else reversed(keys):
            seconds, requests, commits = cells[key]()
            out[key].times.append(seconds)
            out[key].requests, out[key].commits = requests, commits
    return out


def paired_ratio(num: Measure, den: Measure) -> float:
    """Median over rounds of num/den, each pair measured back to back."""
    return statistics.median(a / b for a, b in zip(num.times, den.times, strict=True))


def run_inserts(engines: dict[str, Engine], key: str, sizes: Sizes) -> dict[str, Measure]:
    shape = INSERT_SHAPES[key][1]
    cells: dict[Any, Cell] = {kind: partial(shape, e, sizes) for kind, e in engines.items()}
    return interleave(cells, sizes.reps)


def run_points(engines: dict[str, Engine], sizes: Sizes) -> dict[str, dict[str, Measure]]:
    cells: dict[Any, Cell] = {}
    for label, model, count in (("small", SmallItem, sizes.small),
                                ("large", LargeItem, sizes.large)):
        for kind, engine in engines.items():
            fill_items(engine, model, count)
            rng = random.Random(1234)  # the same codes on both backends
            cells[kind, label] = partial(point_queries, engine, model, count, sizes, rng)
    measures = interleave(cells, sizes.reps)
    return {kind: {label: measures[kind, label] for label in ("small", "large")}
            for kind in engines}


def fmt_requests(requests: dict[str, int], commits: int) -> str:
    if not requests:
        return "-"
    text = ", ".join(f"{k}={v}" for k, v in sorted(requests.items()))
    return text if commits <= 1 else f"{text} / {commits} commits"


def verdict(value: float, target: float) -> str:
    return f"<= {target:.1f}x {'OK' if value <= target else 'MISSED'}"


def report(sizes: Sizes, results: dict[str, dict[str, Measure]],
           points: dict[str, dict[str, Measure]], sqlite_mode: str) -> list[str]:
    """Prints the tables; returns the targets that were missed."""
    missed = []
    print(f"\nsqla_docstore bench: median of {sizes.reps} rounds after 1 warm-up; ratio = median "
          f"of the rounds' docstore/sqlite\n(sqlite: {sqlite_mode}; SQLAlchemy "
          f"{sqlalchemy.__version__}; Python {sys.version.split()[0]})\n")
    head = (f"{'shape':<36} {'rows':>7} {'sqlite ms':>10} {'docstore ms':>12} "
            f"{'ratio':>7}  {'target':<16} docstore requests per commit")
    print(head)
    print("-" * len(head))
    for key, (label, _) in INSERT_SHAPES.items():
        if key not in results:
            continue
        lite, doc = results[key]["sqlite"], results[key]["docstore"]
        ratio = paired_ratio(doc, lite)
        target = ""
        if key == "orm_flush_no_pk":
            target = verdict(ratio, FLUSH_TARGET)
            if ratio > FLUSH_TARGET:
                missed.append(f"ORM flush without PKs {ratio:.2f}x > {FLUSH_TARGET}x")
        rows = sizes.load if key == "orm_load_all" else sizes.n
        print(f"{label:<36} {rows:>7,} {lite.median * 1e3:>10.1f} {doc.median * 1e3:>12.1f} "
              f"{ratio:>6.2f}x  {target:<16} {fmt_requests(doc.requests, doc.commits)}")
    if points:
        print(f"\nPoint query select(Item).where(Item.code == :c), code indexed, "
              f"{sizes.lookups:,} random lookups per round (microseconds per query)\n")
        small_h, large_h = f"@{sizes.small:,}", f"@{sizes.large:,}"
        head = (f"{'backend':<10} {small_h:>10} {large_h:>10} {'large/small':>12}  "
                f"{'target':<16} requests per query")
        print(head)
        print("-" * len(head))
        for kind in ("sqlite", "docstore"):
            small, large = points[kind]["small"], points[kind]["large"]
            scale = paired_ratio(large, small)
            target = verdict(scale, SCALING_TARGET) if kind == "docstore" else ""
            if kind == "docstore" and scale > SCALING_TARGET:
                missed.append(f"point query scaling {scale:.2f}x > {SCALING_TARGET}x")
            reqs = fmt_requests(large.requests, 1)
            print(f"{kind:<10} {small.median * 1e6:>10.1f} {large.median * 1e6:>10.1f} "
                  f"{scale:>11.2f}x  {target:<16} {reqs}")
        for label, size in (("small", sizes.small), ("large", sizes.large)):
            ratio = paired_ratio(points["docstore"][label], points["sqlite"][label])
            print(f"docstore / sqlite per point query @{size:,}: {ratio:.2f}x")
    return missed


def profile(engines: dict[str, Engine], sizes: Sizes, shape_key: str, top: int) -> None:
    """cProfile the timed part of one shape on docstore (all repetitions, after a warm-up)."""
    global PROFILER
    engine = engines["docstore"]
    if shape_key == "point_query":
        fill_items(engine, LargeItem, sizes.large)
        rng = random.Random(1234)

        def work() -> Any:
            return point_queries(engine, LargeItem, sizes.large, sizes, rng)
    else:
        shape = INSERT_SHAPES[shape_key][1]

        def work() -> Any:
            return shape(engine, sizes)
    work()
    PROFILER = cProfile.Profile()
    for _ in range(sizes.reps):
        work()
    for sort, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        for restrict, scope in ((), "all functions"), (("sqla_docstore",), "sqla_docstore only"):
            out = io.StringIO()
            pstats.Stats(PROFILER, stream=out).sort_stats(sort).print_stats(*restrict, top)
            print(f"\n===== {shape_key} on docstore, {sizes.reps} runs: {scope}, by {title} =====")
            print(out.getvalue().split("ncalls", 1)[-1].join(("   ncalls", "")))
    PROFILER = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes for CI smoke runs")
    parser.add_argument("-n", type=int, help="rows per insert shape (default 10,000)")
    parser.add_argument("--reps", type=int, help="timed repetitions per shape (median reported)")
    parser.add_argument("--only", nargs="+", choices=[*INSERT_SHAPES, "point_query"],
                        help="run only these shapes")
    parser.add_argument("--sqlite-defaults", action="store_true",
                        help="SQLite with its default journal (DELETE, synchronous=FULL) instead "
                             "of WAL + synchronous=NORMAL like the embedded store")
    parser.add_argument("--profile", choices=[*INSERT_SHAPES, "point_query"],
                        help="cProfile one shape on docstore instead of the comparison")
    parser.add_argument("--top", type=int, default=30, help="rows of profile output")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    if args.n:
        sizes = replace(sizes, n=args.n, load=args.n)
    if args.reps:
        sizes = replace(sizes, reps=args.reps)
    wanted = args.only or [*INSERT_SHAPES, "point_query"]

    tmpdir = Path(tempfile.mkdtemp(prefix="sqla_docstore_bench_"))
    engines = make_engines(tmpdir, args.sqlite_defaults)
    try:
        if args.profile:
            profile(engines, sizes, args.profile, args.top)
            return 0
        results: dict[str, dict[str, Measure]] = {}
        for key in INSERT_SHAPES:
            if key in wanted:
                results[key] = run_inserts(engines, key, sizes)
        points: dict[str, dict[str, Measure]] = {}
        if "point_query" in wanted:
            points = run_points(engines, sizes)
        mode = "defaults" if args.sqlite_defaults else "WAL + synchronous=NORMAL"
        missed = report(sizes, results, points, mode)
        print("\ntargets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
        return 1 if missed and args.check else 0
    finally:
        for engine in engines.values():
            engine.dispose()
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
