"""One test of SQLAlchemy's ``examples/performance`` suites, its body alone measured in
instructions under callgrind: the figures bench/README.md gives per test ("Change vectors
kept as etags", "Ranges on the integer key").

    valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \\
        python bench/sqla_callgrind.py SDIST SUITE TEST URL [--num 10000] \\
        --callgrind-helper /tmp/cg.so
    grep -H '^totals' callgrind.out.*.1

``SDIST`` is SQLAlchemy's unpacked source distribution, ``SUITE`` one of its suites
(``bulk_inserts``...), ``URL`` e.g. ``docstore:////tmp/cg.db`` or ``sqlite:////tmp/cg.db``
(the file is removed first). The suite's set-up runs first, uncounted; the helper (a shared
library with ``cg_on()`` and ``cg_off(name)``, see bench/README.md "The write floor")
brackets the test's call, so the dump named after the test holds its instructions only: the
same for both URLs whatever else the machine runs. Not a test: a figure to read.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist")
    parser.add_argument("suite")
    parser.add_argument("test")
    parser.add_argument("url")
    parser.add_argument("--num", type=int, default=10000)
    parser.add_argument("--callgrind-helper", required=True)
    args = parser.parse_args()
    path = args.url.split(":///", 1)[1] if ":///" in args.url else ""
    for suffix in ("", "-wal", "-shm"):
        if path and os.path.exists(path + suffix):
            os.remove(path + suffix)
    sys.path.insert(0, args.sdist)
    profiler = importlib.import_module("examples.performance").Profiler
    module = importlib.import_module(f"examples.performance.{args.suite}")
    if profiler._setup_once:
        profiler._setup_once(args.url, False, args.num)
    if profiler._setup:
        profiler._setup(args.url, False, args.num)
    test = getattr(module, args.test)
    helper = ctypes.CDLL(args.callgrind_helper)
    helper.cg_on()
    test(args.num)
    helper.cg_off(args.test.encode())


if __name__ == "__main__":
    main()
