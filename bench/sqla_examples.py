"""SQLAlchemy's own ORM examples (its source distribution's ``examples/``) as an oracle.

    python bench/sqla_examples.py /work/sqla-src/sqlalchemy-2.1.9 [--example NAME ...]
        [--file] [--ravendb] [--tests] [--out DIR] [--timeout 300]

Every example script runs in a fresh process per target, from a fresh temporary working
directory, with the unpacked source distribution on ``sys.path`` (``runpy`` runs it as the
module ``examples.<dir>.<script>`` named ``__main__``). Before it runs, the child replaces
``sqlalchemy.create_engine`` and ``sqlalchemy.ext.asyncio.create_async_engine``: whatever URL
the script names (``sqlite://``, ``sqlite:///x.db``, ``sqlite+aiosqlite://``, or the
``postgresql://`` some examples name) becomes

- ``sqlite``: ``sqlite://`` (``sqlite+aiosqlite://`` for an async engine), the reference;
- ``docstore``: ``docstore://`` (a file URL ``sqlite:///x.db`` becomes ``docstore:///x.db`` in
  the temporary directory, as it becomes ``sqlite:///x.db`` there for the reference);
- ``docstore-file`` (``--file``): ``docstore:///<tmp>/engine<n>.db``, a durable file store
  per engine (``sqlite:///x.db`` as for ``docstore``);
- ``ravendb`` (``--ravendb``): ``ravendb://`` against a bundled server started for the run,
  a fresh database per engine the script creates (so the sharding examples' four engines stay
  four stores, as four ``sqlite://`` engines are).

``echo`` is forced off in every run and ``random`` is seeded (gather_orm_statements picks
rows at random), so stdout holds only what the script prints, the same on every run. stdout
is compared exactly, after two normalisations: object addresses (``0x7f3a...``) in default
reprs differ between any two processes (``0x?``), and datetimes follow the clock: one within
5 s of the run is the current time the run read (``server_default=func.now()``; ``<now>``),
one within 30 days of it (``now() - timedelta(days=3)``) is shown as its distance from the
run's start in whole hours (``<now-72h>``). After the script, the child prints every table of
every sync engine it made, in every schema (SQLite's attached databases), rows sorted, once
its sessions are closed (``what the script left in its databases``): most
examples check themselves with ``assert`` and print little, so their data is compared too.
Each script is then ``same`` (with the number of lines compared), ``different`` (a unified
diff follows the table; a script that differs is run on SQLite again: if the two SQLite runs
differ as well, it is ``sqlite unstable``, the script's output is not deterministic, and the
diff shown is SQLite's against itself), ``error`` (the exception's line) or ``error on
sqlite too`` (whether the output up to it and the exception's class are the same as
SQLite's).

``sharding/separate_schema_translates.py`` also runs adapted: on the store its
``exec_driver_sql("ATTACH DATABASE ...")`` is skipped (SQLite's way to get schemas; a schema
is a namespace of collections that needs none, and the DB-API refuses ``ATTACH`` by name).

``--tests`` also runs the tests that ship with ``examples/versioned_history``
(``test_versioning.py``, collected through ``test/base/test_examples.py`` as SQLAlchemy's own
suite collects them) under SQLAlchemy's pytest plugin, once per ``--dburi`` (``sqlite://``,
``docstore://``, and ``ravendb://`` with ``--ravendb``), this project's plugin disabled
(``-p no:sqla_docstore``). The tests open their engine with a hard-coded
``create_engine("sqlite://")``; a small plugin in the child points it at the ``--dburi``.

Not a test: the table is the result (bench/README.md keeps the latest).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (module under ``examples.``, the module it needs besides SQLAlchemy or an adaptation, or "").
#: ``skip-attach``: on the store, the script's ``exec_driver_sql("ATTACH DATABASE ...")`` is
#: skipped (SQLite's way to get schemas; a docstore schema is a namespace of collections that
#: needs none, and the DB-API refuses ATTACH by name); the run as is is listed too.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("adjacency_list.adjacency_list", ""),
    ("association.basic_association", ""),
    ("association.dict_of_sets_with_default", ""),
    ("association.proxied_association", ""),
    ("asyncio.async_orm", ""),
    ("asyncio.async_orm_writeonly", ""),
    ("asyncio.basic", ""),
    ("asyncio.gather_orm_statements", ""),
    ("asyncio.greenlet_orm", ""),
    ("custom_attributes.active_column_defaults", ""),
    ("custom_attributes.custom_management", ""),
    ("custom_attributes.listen_for_events", ""),
    ("dogpile_caching.helloworld", "dogpile.cache"),
    ("dogpile_caching.relationship_caching", "dogpile.cache"),
    ("dogpile_caching.advanced", "dogpile.cache"),
    ("dogpile_caching.local_session_caching", "dogpile.cache"),
    ("dynamic_dict.dynamic_dict", ""),
    ("extending_query.filter_public", ""),
    ("extending_query.temporal_range", ""),
    ("generic_associations.discriminator_on_association", ""),
    ("generic_associations.generic_fk", ""),
    ("generic_associations.table_per_association", ""),
    ("generic_associations.table_per_related", ""),
    ("graphs.directed_graph", ""),
    ("inheritance.concrete", ""),
    ("inheritance.joined", ""),
    ("inheritance.single", ""),
    ("materialized_paths.materialized_paths", ""),
    ("nested_sets.nested_sets", ""),
    ("sharding.asyncio", ""),
    ("sharding.separate_databases", ""),
    ("sharding.separate_schema_translates", ""),
    ("sharding.separate_schema_translates", "skip-attach"),
    ("sharding.separate_tables", ""),
    ("versioned_rows.versioned_map", ""),
    ("versioned_rows.versioned_rows", ""),
    ("versioned_rows.versioned_rows_w_versionid", ""),
    ("versioned_rows.versioned_update_old_row", ""),
    ("vertical.dictlike", ""),
    ("vertical.dictlike-polymorphic", ""),
)

# The child: argv = target ("sqlite" | "docstore" | "ravendb"), server URL or "", module.
_CHILD = r'''
import itertools, json, os, random, runpy, sys, urllib.request
import sqlalchemy
import sqlalchemy.engine
import sqlalchemy.ext.asyncio
import sqlalchemy.ext.asyncio.engine
from sqlalchemy.engine import make_url

TARGET, SERVER, MODULE, ADAPT, DUMP = sys.argv[1:6]
_numbers = itertools.count(1)
_create_engine = sqlalchemy.create_engine
_create_async_engine = sqlalchemy.ext.asyncio.create_async_engine


def _fresh_database():
    name = f"ex{os.getpid()}n{next(_numbers)}"
    request = urllib.request.Request(
        f"{SERVER}/admin/databases?name={name}", method="PUT",
        data=json.dumps({"DatabaseName": name}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()
    return f"ravendb://{SERVER.split('://', 1)[1]}/{name}"


def _target(url, is_async):
    parsed = make_url(url)
    path = None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = "/" + os.path.abspath(parsed.database)
    if TARGET == "sqlite":
        return ("sqlite+aiosqlite://" if is_async else "sqlite://") + (path or "")
    if TARGET == "docstore":
        return "docstore://" + (path or "")
    if TARGET == "docstore-file":  # a memory URL becomes a file of its own
        return "docstore://" + (path or f"/{os.path.abspath(f'engine{next(_numbers)}.db')}")
    return _fresh_database()


_engines = []


def create_engine(url, *args, **kw):
    kw["echo"] = False
    engine = _create_engine(_target(url, False), *args, **kw)
    _engines.append(engine)
    return engine


def _shown(value):
    return value.isoformat(" ") if hasattr(value, "isoformat") else value


def _dump():
    """Every table of every (sync) engine the script made, its rows sorted: what the script
    left in the database, compared too (most examples check with assert and print little)."""
    import sqlalchemy.orm

    sqlalchemy.orm.close_all_sessions()  # (a session left open: its transaction ends)
    print("=" * 20, "what the script left in its databases")
    for number, engine in enumerate(_engines, 1):
        try:
            meta = sqlalchemy.MetaData()
            with engine.connect() as conn:
                inspector = sqlalchemy.inspect(conn)
                others = set(inspector.get_schema_names()) - {
                    "main", "temp", inspector.default_schema_name}
                for schema in [None, *sorted(others)]:
                    meta.reflect(conn, schema=schema)
                for name in sorted(meta.tables):
                    rows = conn.execute(sqlalchemy.select(meta.tables[name])).all()
                    shown = sorted((tuple(map(_shown, row)) for row in rows), key=repr)
                    print(f"engine {number} {name}: {len(shown)} rows")
                    for row in shown:
                        print("   ", row)
        except Exception as exc:
            print(f"engine {number}: not read ({type(exc).__name__})")


def create_async_engine(url, *args, **kw):
    kw["echo"] = False
    return _create_async_engine(_target(url, True), *args, **kw)


sqlalchemy.create_engine = sqlalchemy.engine.create_engine = create_engine
sqlalchemy.ext.asyncio.create_async_engine = create_async_engine
sqlalchemy.ext.asyncio.engine.create_async_engine = create_async_engine
if ADAPT == "skip-attach" and TARGET != "sqlite":
    _exec_driver_sql = sqlalchemy.engine.Connection.exec_driver_sql

    def exec_driver_sql(self, statement, *args, **kw):
        if statement.lstrip().upper().startswith("ATTACH DATABASE"):
            return None
        return _exec_driver_sql(self, statement, *args, **kw)

    sqlalchemy.engine.Connection.exec_driver_sql = exec_driver_sql
random.seed(0)  # (gather_orm_statements picks rows at random)
sys.argv = [MODULE]
runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
sys.stdout.flush()
if DUMP == "dump":
    _dump()
'''

# The child for --tests: pytest with SQLAlchemy's plugin, test_versioning's engine redirected.
_TESTS_CHILD = r'''
import sys
import pytest
import sqlalchemy

DBURI = sys.argv[1]


class Redirect:
    made = []

    @classmethod
    def pytest_collection_finish(cls, session):
        module = sys.modules["examples.versioned_history.test_versioning"]

        def create_engine(url, **kw):
            engine = sqlalchemy.create_engine(DBURI, **kw)
            cls.made.append(engine.dialect.name)
            return engine

        module.create_engine = create_engine

    @classmethod
    def pytest_terminal_summary(cls, terminalreporter):
        names = sorted(set(cls.made))
        terminalreporter.write_line(f"engines made: {len(cls.made)} ({', '.join(names)})")


sys.exit(pytest.main(sys.argv[2:], plugins=[Redirect()]))
'''

ADAPTATIONS = {"skip-attach": "ATTACH skipped"}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b.*")
#: a printed datetime this close to a run is the time the run read (CURRENT_TIMESTAMP, now())
_NOW_SLACK = timedelta(seconds=5)
_SUMMARY = re.compile(r"=+ (.*?) in [0-9.]+s")


class Outcome(Enum):
    SAME = "same"
    DIFFERENT = "different"
    ERROR = "error"
    REFERENCE_ERROR = "error on sqlite too"
    SKIPPED = "skipped"
    UNSTABLE = "sqlite unstable"  # two SQLite runs differ: the script is not deterministic


@dataclass(frozen=True)
class Run:
    stdout: str
    error: str  # the exception's line on stderr when the process failed, else ""
    seconds: float
    window: tuple[datetime, datetime]  # wall-clock start and end (naive local time)


@dataclass(frozen=True)
class Result:
    example: str
    target: str
    outcome: Outcome
    detail: str  # the exception, the diff, or why skipped
    seconds: float


def _env(sdist: Path) -> dict[str, str]:
    paths = [str(sdist), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONDONTWRITEBYTECODE="1",
                PYTHONHASHSEED="0")


def _last_line(text: str) -> str:
    """The exception's line of a traceback (SQLAlchemy adds ``[SQL: ...]`` and a link after
    it), else the last line."""
    lines = [line for line in text.splitlines() if line.strip()]
    found = [line for line in lines if _EXCEPTION.match(line)]
    chosen = found[-1] if found else (lines[-1] if lines else "(no output on stderr)")
    return chosen.strip()[:300]


def _clock() -> datetime:
    return datetime.now()


def run_example(sdist: Path, module: str, target: str, server: str, timeout: float,
                adapt: str = "", dump: bool = True) -> Run:
    """One script in a fresh process and a fresh working directory."""
    started, began = time.perf_counter(), _clock()
    with tempfile.TemporaryDirectory(prefix="sqla-example-") as cwd:
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, target, server, f"examples.{module}", adapt,
                 "dump" if dump else ""],
                cwd=cwd, env=_env(sdist), capture_output=True, text=True, timeout=timeout,
                check=False)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return Run(out, f"timed out after {timeout:.0f} s", time.perf_counter() - started,
                       (began, _clock()))
    error = _last_line(proc.stderr) if proc.returncode else ""
    return Run(proc.stdout, error, time.perf_counter() - started, (began, _clock()))


def _near(text: str, window: tuple[datetime, datetime]) -> bool:
    """``text`` is a datetime within the run (local time, or UTC as SQLite's
    CURRENT_TIMESTAMP gives it)."""
    value = datetime.fromisoformat(text)
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    low, high = window[0] - _NOW_SLACK, window[1] + _NOW_SLACK
    return any(low <= value + shift <= high for shift in (timedelta(0), offset))


def _relative(text: str, window: tuple[datetime, datetime]) -> str:
    """A datetime the run read as the current time is ``<now>``; one within 30 days of the
    run (the script's ``now() + timedelta(days=2)``) its distance from the run's start in
    whole hours; any other is kept."""
    if _near(text, window):
        return "<now>"
    value = datetime.fromisoformat(text)
    hours = round((value - window[0]).total_seconds() / 3600)
    return f"<now{hours:+d}h>" if abs(hours) <= 30 * 24 else text


def normalise(stdout: str, window: tuple[datetime, datetime]) -> str:
    """Object addresses, and datetimes relative to the run's clock (``_relative``)."""
    stdout = _ADDRESS.sub("0x?", stdout)
    return _DATETIME.sub(lambda m: _relative(m.group(), window), stdout)


def _error_kind(error: str) -> str:
    return error.split(":", 1)[0]


def compare(example: str, target: str, reference: Run, run: Run,
            control: Run | None = None) -> Result:
    """``run`` against ``reference``; ``control``, a second SQLite run, tells a script whose
    output changes from run to run (Python's set order of objects, the clock)."""
    want, got = normalise(reference.stdout, reference.window), normalise(run.stdout, run.window)
    if control is not None and not run.error and not reference.error and want != got:
        again = normalise(control.stdout, control.window)
        if again != want:
            seen = "like one of them" if got == again else "like neither"
            diff = difflib.unified_diff(want.splitlines(), again.splitlines(), "sqlite",
                                        "sqlite again", lineterm="", n=1)
            return Result(example, target, Outcome.UNSTABLE,
                          f"{target} {seen}\n" + "\n".join(diff), run.seconds)
    if run.error and reference.error:
        alike = want == got and _error_kind(run.error) == _error_kind(reference.error)
        detail = (f"{'same output and exception' if alike else 'DIFFERENT output or exception'}"
                  f" as sqlite: {run.error}")
        return Result(example, target, Outcome.REFERENCE_ERROR, detail, run.seconds)
    if run.error:
        return Result(example, target, Outcome.ERROR, run.error, run.seconds)
    if reference.error:
        return Result(example, target, Outcome.DIFFERENT, f"sqlite failed: {reference.error}",
                      run.seconds)
    if want == got:
        return Result(example, target, Outcome.SAME, f"{len(want.splitlines())} lines",
                      run.seconds)
    diff = difflib.unified_diff(want.splitlines(), got.splitlines(), "sqlite", target,
                                lineterm="", n=1)
    return Result(example, target, Outcome.DIFFERENT, "\n".join(diff), run.seconds)


def _save(out: Path | None, example: str, label: str, run: Run) -> None:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{example.replace(' ', '_')}.{label}.out").write_text(run.stdout + (
            f"\n--- error: {run.error}\n" if run.error else ""))


def _missing(requirement: str) -> bool:
    if not requirement:
        return False
    import importlib.util

    try:
        return importlib.util.find_spec(requirement) is None
    except ModuleNotFoundError:
        return True


def run_examples(sdist: Path, chosen: Sequence[str], targets: dict[str, str], timeout: float,
                 out: Path | None) -> list[Result]:
    results: list[Result] = []
    for module, requirement in EXAMPLES:
        if chosen and not any(name in module for name in chosen):
            continue
        adapt = requirement if requirement in ADAPTATIONS else ""
        name = f"{module} ({ADAPTATIONS[adapt]})" if adapt else module
        if not adapt and _missing(requirement):
            results += [Result(name, target, Outcome.SKIPPED, f"{requirement} not installed",
                               0.0) for target in targets]
            continue
        reference = run_example(sdist, module, "sqlite", "", timeout, adapt)
        _save(out, name, "sqlite", reference)
        control: Run | None = None
        for target, server in targets.items():
            run = run_example(sdist, module, target, server, timeout, adapt)
            _save(out, name, target, run)
            result = compare(name, target, reference, run, control)
            if result.outcome is Outcome.DIFFERENT and control is None and not run.error:
                control = run_example(sdist, module, "sqlite", "", timeout, adapt)
                _save(out, name, "sqlite-again", control)
                result = compare(name, target, reference, run, control)
            results.append(result)
            print(f"... {name} on {target}: {results[-1].outcome.value}", file=sys.stderr,
                  flush=True)
    return results


def run_tests(sdist: Path, dburis: dict[str, str], timeout: float) -> dict[str, str]:
    """pytest's summary line of the versioned_history tests per database."""
    summaries: dict[str, str] = {}
    for label, dburi in dburis.items():
        cmd = [sys.executable, "-c", _TESTS_CHILD, dburi, "test/base/test_examples.py",
               "--dburi", dburi, "-p", "no:sqla_docstore", "-p", "no:cacheprovider", "-q",
               "-k", "VersionedRows", "-o", "addopts=--tb=short -p warnings -p logging"]
        try:
            proc = subprocess.run(cmd, cwd=sdist, env=_env(sdist), capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            summaries[label] = f"timed out after {timeout:.0f} s"
            continue
        found = _SUMMARY.findall(proc.stdout)
        summaries[label] = found[-1] if found else _last_line(proc.stdout + proc.stderr)
        made = re.search(r"^engines made: .*$", proc.stdout, re.M)
        summaries[label] += f"; {made.group() if made else 'engines made: none reported'}"
        failed = [line for line in proc.stdout.splitlines()
                  if line.startswith(("FAILED", "ERROR"))]
        if failed:
            summaries[label] += "\n" + "\n".join(f"    {line[:200]}" for line in failed)
    return summaries


def report(results: list[Result], targets: Sequence[str]) -> str:
    by_example: dict[str, dict[str, Result]] = {}
    for result in results:
        by_example.setdefault(result.example, {})[result.target] = result
    lines = ["| example | " + " | ".join(targets) + " |",
             "|---|" + "---|" * len(targets)]
    for example, per_target in by_example.items():
        cells = []
        for target in targets:
            result = per_target[target]
            cell = result.outcome.value
            if result.outcome in (Outcome.ERROR, Outcome.REFERENCE_ERROR, Outcome.SKIPPED):
                cell += f": {result.detail.splitlines()[0][:120]}"
            elif result.outcome is Outcome.SAME:
                cell += f" ({result.detail})"
            cells.append(cell.replace("|", "\\|"))
        lines.append(f"| {example} | " + " | ".join(cells) + " |")
    for target in targets:
        counts: dict[str, int] = {}
        for result in results:
            if result.target == target:
                counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        lines.append(f"\n{target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    diffs = [r for r in results if r.outcome in (Outcome.DIFFERENT, Outcome.UNSTABLE)]
    for result in diffs:
        lines += ["", f"--- {result.example} on {result.target}:", result.detail]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sdist", type=Path, help="the unpacked SQLAlchemy source distribution")
    parser.add_argument("--example", action="append", default=[],
                        help="run only examples whose module contains this (repeatable)")
    parser.add_argument("--ravendb", action="store_true",
                        help="also ravendb:// against a bundled server")
    parser.add_argument("--file", action="store_true",
                        help="also docstore:///file (a file store per engine)")
    parser.add_argument("--tests", action="store_true",
                        help="also run examples/versioned_history's tests per database")
    parser.add_argument("--no-examples", action="store_true", help="with --tests: only those")
    parser.add_argument("--out", type=Path, help="keep every run's stdout in this directory")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per process")
    args = parser.parse_args(argv)
    sdist = args.sdist.resolve()
    if not (sdist / "examples" / "adjacency_list").is_dir():
        raise SystemExit(f"{sdist} has no examples/")
    started = time.perf_counter()
    server = None
    targets = {"docstore": ""}
    if args.file:
        targets["docstore-file"] = ""
    try:
        if args.ravendb:
            from sqla_docstore.testing.ravendb_server import BundledRavenServer

            server = BundledRavenServer(tags="A", database="examples")
            targets["ravendb"] = server.url
        if not args.no_examples:
            results = run_examples(sdist, args.example, targets, args.timeout, args.out)
            print(report(results, list(targets)))
        if args.tests:
            dburis = {"sqlite": "sqlite://", "docstore": "docstore://"}
            if server is not None:
                host = server.url.split("://", 1)[1]
                dburis["ravendb"] = f"ravendb://{host}/examples"
            print("\nexamples/versioned_history tests (SQLAlchemy's pytest plugin):")
            for label, summary in run_tests(sdist, dburis, args.timeout * 4).items():
                print(f"  {label}: {summary}")
    finally:
        if server is not None:
            server.close()
    print(f"\n(runtime {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
