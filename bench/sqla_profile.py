"""Where the time of SQLAlchemy's performance suites goes, per test, on ``docstore:///file``
beside ``sqlite:///file`` in WAL mode (the store's durability settings): the profile that
explains each ratio ``bench/sqla_performance.py`` prints.

    python bench/sqla_profile.py /work/sqla-src/sqlalchemy-2.1.9 [--num 10000]
        [--suite large_resultsets ...] [--test test_orm_bundles ...]

Each (suite, URL) runs ``examples.performance`` in a process of its own, as
``sqla_performance.py`` does, with every test under ``cProfile``; a function's own time
(``tottime``) is charged to where its code lives:

- ``sqlalchemy``: SQLAlchemy's Python (the same code on both URLs, but not the same work:
  result processors, the dialect's hooks);
- ``ours``: sqla_docstore's Python (DB-API, planner, embedded store);
- ``sqlite3``: the stdlib driver's C calls (SQLite's own work: execute, step, commit);
- ``json``: the C JSON encoder and decoder (documents are JSON in the store), with the
  store's thin wrappers that call them (``values.loads``/``dumps``...);
- ``other``: the test's own code, builtins and the rest of the standard library.

``gc`` is the time the cyclic collector ran during the test (``gc.callbacks``), which the
profile charges to whatever function was running. Profiling slows Python calls more than C
calls, so the columns are shares, not timings: ``sqla_performance.py`` gives the timings.
Not a test: the table is the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqla_performance import SUITES, WAL_HOOK  # bench/, beside this script

COLUMNS = ("sqlalchemy", "ours", "sqlite3", "json", "other")
_MARK = "@@profile "

# Run inside each child: SQLite with the store's durability settings, then every test of the
# suite profiled, its breakdown printed as one JSON line after _MARK.
_CHILD = """
import cProfile, gc, json, pstats, runpy, sys, time
__WAL_HOOK__
from examples.performance import Profiler

# the store's JSON codec: thin wrappers whose own time is the C encoder's or decoder's
_CODEC = {"loads", "loads_all", "dumps", "dumps_each", "dumps_columns"}

def where(filename, name):
    if filename == "~":
        if "sqlite3." in name:
            return "sqlite3"
        if "_json." in name or "json.decoder" in name or "'loads'" in name:
            return "json"
        return "other"
    if "/sqlalchemy/" in filename:
        return "sqlalchemy"
    if filename.endswith("/sqla_docstore/values.py") and name in _CODEC:
        return "json"
    if "/sqla_docstore/" in filename:
        return "ours"
    if "/json/" in filename:
        return "json"
    return "other"

_gc = {"start": 0.0, "total": 0.0}

def _collector(phase, info):
    if phase == "start":
        _gc["start"] = time.process_time()
    else:
        _gc["total"] += time.process_time() - _gc["start"]

gc.callbacks.append(_collector)

def _profiled(self, fn):
    _gc["total"] = 0.0
    profile = cProfile.Profile(time.process_time)
    start = time.process_time()
    profile.enable()
    try:
        return fn(self.num)
    finally:
        profile.disable()
        total = time.process_time() - start
        shares = dict.fromkeys(__COLUMNS__, 0.0)
        for (filename, _, name), row in pstats.Stats(profile).stats.items():
            shares[where(filename, name)] += row[2]
        print(__MARK__ + json.dumps({"test": fn.__name__, "total": total,
                                   "gc": _gc["total"], **shares}), flush=True)
        self.stats.append(type("R", (), {"report": lambda _self: None})())

Profiler._run_with_time = _profiled
sys.argv = ["examples.performance", *sys.argv[1:]]
runpy.run_module("examples.performance", run_name="__main__")
"""


def profile_suite(sdist: Path, suite: str, url: str, num: int,
                  tests: list[str]) -> dict[str, dict[str, float]]:
    """Each test's breakdown (seconds under the profiler) for one suite on one URL."""
    code = _CHILD.replace("__COLUMNS__", repr(COLUMNS)).replace("__MARK__", repr(_MARK)).replace(
        "__WAL_HOOK__", WAL_HOOK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(sdist), *filter(None, [os.environ.get("PYTHONPATH")])]))
    args = [sys.executable, "-c", code, suite, "--dburl", url, "--num", str(num)]
    if tests:
        args += ["--test", *tests]
    out = subprocess.run(args, cwd=sdist, env=env, capture_output=True, text=True,
                         check=False)
    rows = [json.loads(line[len(_MARK):]) for line in out.stdout.splitlines()
            if line.startswith(_MARK)]
    if out.returncode != 0 or not rows:
        tail = (out.stdout + out.stderr)[-2000:]
        raise SystemExit(f"{suite} on {url} failed (exit {out.returncode}):\n{tail}")
    return {row.pop("test"): row for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="the unpacked SQLAlchemy source distribution")
    parser.add_argument("--num", type=int, default=10000)
    parser.add_argument("--suite", action="append", choices=SUITES)
    parser.add_argument("--test", nargs="+", default=[],
                        help="only these tests (of the suites chosen)")
    opts = parser.parse_args()
    head = f"{'suite':17} {'test':44} {'url':8} {'total':>7} {'gc':>6}" + "".join(
        f" {c:>10}" for c in COLUMNS)
    print("CPU seconds under cProfile, by where the code lives (shares, not timings)")
    print(head)
    for suite in opts.suite or SUITES:
        with tempfile.TemporaryDirectory(prefix="sqla-profile-") as tmp:
            runs = {
                "docstore": profile_suite(opts.sdist, suite, f"docstore:///{tmp}/docstore.db",
                                          opts.num, opts.test),
                "sqlite": profile_suite(opts.sdist, suite, f"sqlite:///{tmp}/sqlite.db",
                                        opts.num, opts.test),
            }
        for test in runs["docstore"]:
            for label, run in runs.items():
                row = run[test]
                print(f"{suite:17} {test:44} {label:8} {row['total']:7.3f} {row['gc']:6.3f}"
                      + "".join(f" {row[c]:10.3f}" for c in COLUMNS))
        print(f"... {suite} done", file=sys.stderr)


if __name__ == "__main__":
    main()
