"""SQLAlchemy's own test suites (``test/orm test/sql test/base``) as an oracle for the dialect.

The suites ship in SQLAlchemy's source distribution; this script fetches nothing. Unpack the sdist
of the installed version once, outside any git worktree::

    pip download --no-binary :all: --no-deps sqlalchemy==2.1.9 -d /work/sqla-src
    tar xzf /work/sqla-src/sqlalchemy-2.1.9.tar.gz -C /work/sqla-src

then, from the repository root with the venv active::

    python bench/sqla_suite.py run /work/sqla-src/sqlalchemy-2.1.9 --out /work/sqla-runs/today
    python bench/sqla_suite.py classify /work/sqla-runs/today

``run`` runs the suites once per ``--dburi`` (default ``sqlite://`` then ``docstore://``), each a
pytest session in the sdist directory with SQLAlchemy's own plugin (its ``conftest.py``) and this
project's pytest plugin disabled (``-p no:sqla_docstore``); the dialect is found through its entry
point. Each run leaves ``<label>.xml`` (JUnit) and ``<label>.log`` in the output directory.
``classify`` reads those files and sorts every docstore failure into a category (see
:class:`Category`), marks the ones that also fail on SQLite, and writes ``summary.md`` and
``summary.json``. A full docstore run takes about an hour on one core.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

SUBSETS = ("test/orm", "test/sql", "test/base")
DEFAULT_URIS = ("sqlite://", "docstore://")
ROOT = Path(__file__).resolve().parent.parent


def label_of(dburi: str) -> str:
    """A file-name-safe label for a database URL: ``sqlite``, ``docstore``, ``ravendb``..."""
    return re.sub(r"[^A-Za-z0-9]+", "_", dburi.split("://")[0]).strip("_") or "db"


def pytest_command(sdist: Path, dburi: str, xml: Path, subsets: Sequence[str]) -> list[str]:
    """The pytest invocation for one database (``python -s``: the installed SQLAlchemy, not ``lib/``)."""
    return [
        sys.executable, "-s", "-m", "pytest", *subsets,
        "--dburi", dburi, "-p", "no:sqla_docstore", "-p", "no:cacheprovider",
        "-q", "--maxfail=100000", f"--junitxml={xml}", "-o", "junit_family=xunit1",
    ]


def run(sdist: Path, out: Path, dburis: Sequence[str], subsets: Sequence[str], niceness: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for dburi in dburis:
        label = label_of(dburi)
        cmd = ["nice", "-n", str(niceness), *pytest_command(sdist, dburi, out / f"{label}.xml", subsets)]
        print(f"[{label}] {' '.join(cmd)}", flush=True)
        with open(out / f"{label}.log", "w") as log:
            proc = subprocess.run(cmd, cwd=sdist, env=env, stdout=log, stderr=subprocess.STDOUT)
        print(f"[{label}] exit {proc.returncode}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the suites, one pytest session per database")
    run_p.add_argument("sdist", type=Path, help="the unpacked SQLAlchemy source distribution")
    run_p.add_argument("--out", type=Path, required=True, help="directory for the JUnit XML and logs")
    run_p.add_argument("--dburi", action="append", help=f"repeatable; default {' '.join(DEFAULT_URIS)}")
    run_p.add_argument("--subset", action="append", help=f"repeatable; default {' '.join(SUBSETS)}")
    run_p.add_argument("--nice", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.sdist.resolve(), args.out.resolve(), args.dburi or DEFAULT_URIS, args.subset or SUBSETS,
            args.nice)
    return 0


if __name__ == "__main__":
    sys.exit(main())
