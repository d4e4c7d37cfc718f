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
``summary.json``. A full run takes about 7 minutes on docstore:// and 9 on sqlite://
(one core each).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

SUBSETS = ("test/orm", "test/sql", "test/base")
DEFAULT_URIS = ("sqlite://", "docstore://")
ROOT = Path(__file__).resolve().parent.parent


def label_of(dburi: str) -> str:
    """A file-name-safe label for a database URL: ``sqlite``, ``docstore``, ``ravendb``..."""
    return re.sub(r"[^A-Za-z0-9]+", "_", dburi.split("://")[0]).strip("_") or "db"


def pytest_command(sdist: Path, dburi: str, xml: Path, subsets: Sequence[str]) -> list[str]:
    """The pytest command for one database (``python -s``: installed SQLAlchemy, not ``lib/``)."""
    return [
        sys.executable, "-s", "-m", "pytest", *subsets,
        "--dburi", dburi, "-p", "no:sqla_docstore", "-p", "no:cacheprovider",
        "-q", "--maxfail=100000", f"--junitxml={xml}", "-o", "junit_family=xunit1",
    ]


def run(sdist: Path, out: Path, dburis: Sequence[str], subsets: Sequence[str],
        niceness: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for dburi in dburis:
        label = label_of(dburi)
        xml = out / f"{label}.xml"
        cmd = ["nice", "-n", str(niceness), *pytest_command(sdist, dburi, xml, subsets)]
        print(f"[{label}] {' '.join(cmd)}", flush=True)
        with open(out / f"{label}.log", "w") as log:
            proc = subprocess.run(cmd, cwd=sdist, env=env, stdout=log, stderr=subprocess.STDOUT)
        print(f"[{label}] exit {proc.returncode}", flush=True)



class Category(Enum):
    """What a failing test says about the dialect, most serious first."""

    WRONG_RESULT = "wrong result"  # an assertion on data (rows, values, rowcounts) failed
    MISSING_ERROR = "missing error"  # the test expected an error and none came
    INTERNAL_ERROR = "non-PEP 249 error"  # TypeError, KeyError, ... escaped from the dialect
    DBAPI_ERROR = "PEP 249 error"  # a sqla_docstore.errors class other than NotSupportedError
    SQLALCHEMY_ERROR = "SQLAlchemy error"  # ORM / Core refused (no FK, argument error, ...)
    NOT_SUPPORTED = "not supported"  # NotSupportedError, NotImplementedError, "not supported"
    SQL_TEXT = "SQL/DDL text"  # compiled or emitted SQL text, statement counts
    ERROR_MESSAGE = "error message"  # an error came, with another message than expected
    WARNING = "warning expectation"  # an expected warning was not emitted
    UNEXPECTED_SUCCESS = "unexpected success"  # a test marked to fail on non-SQLite passed


@dataclass(frozen=True)
class Failure:
    test: str
    phase: str  # "call", "setup" or "teardown"
    category: Category
    cause: str  # one line


_NOT_SUPPORTED = re.compile(r"NotSupportedError|NotImplementedError|not supported|does not support"
                            r"|only constant defaults|supports plain columns only", re.I)
_DBAPI = re.compile(r"\(sqla_docstore\.errors\.(\w+)\)")
_SQL_TEXT = re.compile(r"assert_compile|AssertsCompiledSQL|assertsql\.py|assert_sql_count"
                       r"|assert_statement_count|assert_sql_execution|assert_multiple_sql_count")
_DATA_ERRORS = ("StaleDataError", "ObjectDeletedError", "ObjectDereferencedError")


def _cause(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return re.sub(r"\s+", " ", first)[:200]


def categorize(message: str, text: str) -> Category:
    """The category of one failure, from its JUnit message and traceback."""
    head = message.split("\n", 1)[0]
    if "Unexpected success" in head:
        return Category.UNEXPECTED_SUCCESS
    if head.startswith(("AssertionError", "assert")):
        if "did not raise" in message:
            return Category.MISSING_ERROR
        if "Warnings were not seen" in message or "warning" in head.lower():
            return Category.WARNING
        if " !~ " in message:
            return Category.ERROR_MESSAGE
        if _SQL_TEXT.search(text):
            return Category.SQL_TEXT
        return Category.WRONG_RESULT
    if any(name in head for name in _DATA_ERRORS):
        return Category.WRONG_RESULT
    if _NOT_SUPPORTED.search(head):
        return Category.NOT_SUPPORTED
    if _DBAPI.search(head):
        return Category.DBAPI_ERROR
    if "sqlalchemy." in head.split(":", 1)[0]:
        return Category.SQLALCHEMY_ERROR
    return Category.INTERNAL_ERROR


def read_junit(path: Path) -> Iterator[tuple[str, str, str, str]]:
    """(test id, outcome, message, text) of each test case: passed, failure, error or skipped."""
    for case in ET.parse(path).getroot().iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message, text = "passed", "", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message, text = child.tag, child.get("message", ""), child.text or ""
                if child.tag != "skipped":
                    break
        yield test, outcome, message, text


def _phase(message: str) -> tuple[str, str]:
    found = re.match(r'failed on (setup|teardown) with "(.*)"$', message, re.S)
    return (found.group(1), found.group(2)) if found else ("call", message)


def failures_of(path: Path) -> Iterator[Failure]:
    for test, outcome, message, text in read_junit(path):
        if outcome in ("failure", "error"):
            phase, message = _phase(message)
            yield Failure(test, phase, categorize(message, text), _cause(message))


def outcome_counts(path: Path) -> Counter[str]:
    return Counter(outcome for _, outcome, _, _ in read_junit(path))


def _generic(test: str) -> str:
    """The test id without the backend-specific class suffix SQLAlchemy adds (``_sqlite_1_0``)."""
    return re.sub(r"_(sqlite|docstore\+\w+|ravendb\+\w+|docstore|ravendb)_\d+_\d+", "", test)


def classify(out: Path, target: str, baseline: str) -> dict[str, object]:
    counts = {label: dict(outcome_counts(out / f"{label}.xml")) for label in (baseline, target)
              if (out / f"{label}.xml").exists()}
    base_failed = ({_generic(f.test) for f in failures_of(out / f"{baseline}.xml")}
                   if (out / f"{baseline}.xml").exists() else set())
    found = list(failures_of(out / f"{target}.xml"))
    fresh = [f for f in found if _generic(f.test) not in base_failed]
    summary = {
        "outcomes": counts,
        "also_failing_on_baseline": len(found) - len(fresh),
        "categories": dict(Counter(f.category.value for f in fresh).most_common()),
        "failures": [asdict(f) | {"category": f.category.value} for f in fresh],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(render(summary, fresh, target, baseline))
    return summary


def render(summary: dict[str, object], fresh: Iterable[Failure], target: str, baseline: str) -> str:
    fresh = list(fresh)
    lines = [f"# SQLAlchemy suites: {target} vs {baseline}", "", "| run | outcomes |", "|---|---|"]
    for label, outcome in summary["outcomes"].items():  # type: ignore[attr-defined]
        lines.append(f"| {label} | {', '.join(f'{k} {v}' for k, v in sorted(outcome.items()))} |")
    lines += ["", f"Failures and errors on {target} only (also failing on {baseline}: "
              f"{summary['also_failing_on_baseline']}):", "", "| category | count |", "|---|---|"]
    for name, count in summary["categories"].items():  # type: ignore[attr-defined]
        lines.append(f"| {name} | {count} |")
    for category in Category:
        chosen = [f for f in fresh if f.category is category]
        if not chosen:
            continue
        lines += ["", f"## {category.value} ({len(chosen)})", ""]
        by_cause = Counter(_generic_cause(f.cause) for f in chosen)
        lines += [f"- {count}x `{cause}`" for cause, count in by_cause.most_common()]
        if category in (Category.WRONG_RESULT, Category.MISSING_ERROR, Category.INTERNAL_ERROR):
            lines += ["", "<details><summary>tests</summary>", ""]
            lines += [f"- `{f.test}` ({f.phase}): {f.cause}" for f in chosen]
            lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _generic_cause(cause: str) -> str:
    cause = re.sub(r"0x[0-9a-f]+", "0x..", cause)
    return re.sub(r"\[SQL: .*", "", cause)[:160]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the suites, one pytest session per database")
    run_p.add_argument("sdist", type=Path, help="the unpacked SQLAlchemy source distribution")
    run_p.add_argument("--out", type=Path, required=True, help="directory for JUnit XML and logs")
    run_p.add_argument("--dburi", action="append",
                       help=f"repeatable; default {' '.join(DEFAULT_URIS)}")
    run_p.add_argument("--subset", action="append", help=f"repeatable; default {' '.join(SUBSETS)}")
    run_p.add_argument("--nice", type=int, default=10)
    cls_p = sub.add_parser("classify", help="sort the failures of a run into categories")
    cls_p.add_argument("out", type=Path, help="the directory a run wrote")
    cls_p.add_argument("--target", default="docstore", help="label of the run to classify")
    cls_p.add_argument("--baseline", default="sqlite", help="label of the reference run")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.sdist.resolve(), args.out.resolve(), args.dburi or DEFAULT_URIS,
            args.subset or SUBSETS, args.nice)
    else:
        summary = classify(args.out.resolve(), args.target, args.baseline)
        print(json.dumps({k: summary[k] for k in ("outcomes", "categories")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
