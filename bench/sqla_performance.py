"""SQLAlchemy's own performance suites (its repository's ``examples/performance``) on
``docstore:///file`` beside ``sqlite:///file``, as time ratios (lower is better).

    python bench/sqla_performance.py /work/sqla-src/sqlalchemy-2.1.9 [--num 10000]
        [--suite bulk_inserts ...] [--ravendb] [--cpu] [--rounds 3]

Every (suite, URL) runs ``python -m examples.performance SUITE --dburl URL --num N`` in a
process of its own, from the unpacked SQLAlchemy source distribution (which ships
``examples/``; nothing is fetched). Three columns of times per test:

- ``docstore``: ``docstore:///<tmp>/docstore.db`` (WAL, synchronous=NORMAL);
- ``sqlite``: ``sqlite:///<tmp>/sqlite.db`` as SQLAlchemy configures it (rollback journal,
  synchronous=FULL);
- ``sqlite-wal``: the same with the store's durability settings (journal_mode=WAL,
  synchronous=NORMAL), so no ratio is bought with weaker durability than documented.

``--ravendb`` adds ``ravendb://`` against a bundled server started for the run; then the CPU
table shows what the client costs apart from the server (``bench/ravendb_store.py`` compares
that with the official RavenDB client on the same unit of work). Not a test: the tables (and
the geometric means) are the result.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SUITES = ("bulk_inserts", "bulk_updates", "large_resultsets", "short_selects",
          "single_inserts")
# A test's docstring may span lines: its time follows on a later line.
_LINE = re.compile(r"^(test_\w+) : .*?total time ([0-9.]+) sec", re.M | re.S)

# Run inside each child before the suite: SQLite with the store's durability settings.
WAL_HOOK = """
import sqlalchemy as sa
@sa.event.listens_for(sa.engine.Engine, "connect")
def _wal(dbapi_connection, record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
"""
# With --cpu: the suite's clock (time.time around each test) reads this process's CPU time,
# so a test's figure is what it costs the client, whatever else the machine is running.
_CPU_HOOK = """
import time
time.time = time.process_time
"""
_CHILD = """
import runpy, sys
{hook}
sys.argv = ["examples.performance", *sys.argv[1:]]
runpy.run_module("examples.performance", run_name="__main__")
"""


def run_suite(sdist: Path, suite: str, url: str, num: int,
              wal: bool, cpu_clock: bool = False) -> tuple[dict[str, float], float]:
    """Each test's seconds, and the CPU seconds (user + system) of the client process that
    ran the whole suite (a bundled server is another process: not counted)."""
    code = _CHILD.format(hook=(WAL_HOOK if wal else "") + (_CPU_HOOK if cpu_clock else ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(sdist), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = subprocess.run([sys.executable, "-c", code, suite, "--dburl", url, "--num",
                          str(num)], cwd=sdist, env=env, capture_output=True, text=True,
                         check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    times = {name: float(t) for name, t in _LINE.findall(out.stdout)}
    if out.returncode != 0 or not times:
        tail = (out.stdout + out.stderr)[-2000:]
        raise SystemExit(f"{suite} on {url} failed (exit {out.returncode}):\n{tail}")
    return times, cpu


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sdist", type=Path, help="the unpacked SQLAlchemy source distribution")
    parser.add_argument("--num", type=int, default=10_000)
    parser.add_argument("--suite", action="append", choices=SUITES)
    parser.add_argument("--ravendb", action="store_true",
                        help="also ravendb:// against a bundled server")
    parser.add_argument("--cpu", action="store_true",
                        help="time each test in the client's CPU seconds, not wall seconds "
                             "(steady on a busy machine; leaves out waiting for fsync, and "
                             "a bundled server's work)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run everything this many times, alternating the order of the "
                             "URLs; each test keeps its best time")
    args = parser.parse_args()
    if not (args.sdist / "examples" / "performance").is_dir():
        raise SystemExit(f"{args.sdist} has no examples/performance")
    suites = args.suite or list(SUITES)
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"docstore": (f"docstore:///{tmp}/docstore.db", False),
                   "sqlite": (f"sqlite:///{tmp}/sqlite.db", False),
                   "sqlite-wal": (f"sqlite:///{tmp}/sqlite-wal.db", True)}
        if args.ravendb:
            from sqla_docstore.testing.ravendb_server import BundledRavenServer

            server = BundledRavenServer(tags="A", database="perf", data=f"{tmp}/raven")
            targets["ravendb"] = (f"ravendb://{server.url.split('://', 1)[1]}/perf", False)
        rows: list[tuple[str, str, dict[str, float]]] = []
        cpu: dict[str, dict[str, float]] = {}
        try:
            for suite in suites:
                results: dict[str, dict[str, float]] = {}
                for round_ in range(args.rounds):
                    order = list(targets.items())
                    for label, (url, wal) in order[::-1] if round_ % 2 else order:
                        times, spent = run_suite(args.sdist, suite, url, args.num, wal,
                                                 args.cpu)
                        best = results.setdefault(label, times)
                        for test, seconds in times.items():
                            best[test] = min(best.get(test, seconds), seconds)
                        per = cpu.setdefault(suite, {})
                        per[label] = min(per.get(label, spent), spent)
                for test in results["sqlite"]:
                    rows.append((suite, test, {k: v.get(test, float("nan"))
                                               for k, v in results.items()}))
                print(f"... {suite} done", file=sys.stderr, flush=True)
        finally:
            if server is not None:
                server.close()
    clock = "client CPU seconds" if args.cpu else "seconds"
    rounds = f", best of {args.rounds} rounds" if args.rounds > 1 else ""
    _print(rows, list(targets), f"--num {args.num}: {clock}{rounds}, and ratios")
    _print_cpu(cpu, list(targets))


def _parser() -> str:
    """Which JSON parser the store reads documents with here (the children share this
    interpreter's packages): orjson with the ``fast`` extra, else the standard library's."""
    try:
        import orjson
    except ImportError:
        return "json (standard library; `pip install sqla_docstore[fast]` adds orjson)"
    return f"orjson {orjson.__version__} (the fast extra) where exact, else json"


def _ratio(times: dict[str, float], label: str) -> float:
    """docstore's time over ``label``'s (ravendb's over sqlite's for ``ravendb``)."""
    if label == "ravendb":
        return times["ravendb"] / times["sqlite"]
    return times["docstore"] / times[label]


def _print(rows: list[tuple[str, str, dict[str, float]]], labels: list[str], what: str) -> None:
    others = [label for label in labels if label != "docstore"]
    names = {label: "rdb/sqlite" if label == "ravendb" else "/" + label for label in others}
    print(f"SQLAlchemy examples/performance, {what}")
    print(f"documents parsed by: {_parser()}")
    print(f"{'suite':<17} {'test':<46}" + "".join(f" {label:>10}" for label in labels)
          + "".join(f" {names[label]:>11}" for label in others))
    ratios: dict[str, list[float]] = {label: [] for label in others}
    for suite, test, times in rows:
        for label in others:
            ratios[label].append(_ratio(times, label))
        print(f"{suite:<17} {test:<46}" + "".join(f" {times[label]:>10.3f}" for label in labels)
              + "".join(f" {_ratio(times, label):>11.2f}" for label in others))
    for label in others:
        values = ratios[label]
        name = "ravendb / sqlite" if label == "ravendb" else f"docstore / {label}"
        print(f"{name}: geometric mean {_geomean(values):.2f}, worst {max(values):.2f} "
              f"over {len(values)} tests")


def _print_cpu(cpu: dict[str, dict[str, float]], labels: list[str]) -> None:
    """The client process's CPU seconds per suite (with ``--ravendb``: what the client costs
    beside the server's own work, which runs in the bundled server's process)."""
    print("\nclient CPU seconds per suite (the whole process: interpreter start, setup, tests)")
    print(f"{'suite':<17}" + "".join(f" {label:>10}" for label in labels))
    for suite, per_label in cpu.items():
        print(f"{suite:<17}" + "".join(f" {per_label[label]:>10.2f}" for label in labels))


if __name__ == "__main__":
    main()
