"""The official RavenDB Python client's own test suite against the bundled server.

The tests live in the repository ravendb/ravendb-python-client (folder ``ravendb/tests``, the
5.2.6-era tree of branch v5.2; the PyPI wheel has none). This script fetches nothing: extract the
folder once from a local git clone or mirror, outside any git worktree::

    python bench/ravendb_client_suite.py extract /path/to/ravendb-python-client.git \\
        --dest /work/ravendb-client-src

then, from the repository root with the venv active (the official ``ravendb`` package is in the
``test`` extra)::

    python bench/ravendb_client_suite.py run /work/ravendb-client-src --out /work/raven-runs/today
    python bench/ravendb_client_suite.py report /work/raven-runs/today

``run`` starts ``python -m sqla_docstore serve`` on a free loopback port and runs pytest over the
extracted tests with this file as a plugin (``-p ravendb_client_suite``). Their ``TestBase``
starts a RavenDB through the ``ravendb_embedded`` package; the plugin puts a stand-in for that
package in ``sys.modules`` whose server is the one already running, and adds the extracted
folder to the installed ``ravendb`` package's path so ``ravendb.tests`` imports resolve. Each test
is stopped after ``--test-timeout`` seconds (a client waiting on a feature that never answers).
``report`` reads the JUnit file and writes ``summary.md`` / ``summary.json``: passed and failed
per feature, each failure marked "501" when the server answered that it does not implement what
the test used, so the rest are the failures in what the server claims.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
import types
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
URL_ENV = "SQLA_DOCSTORE_CLIENT_SUITE_URL"
TIMEOUT_ENV = "SQLA_DOCSTORE_CLIENT_SUITE_TIMEOUT"
SOURCE_ENV = "SQLA_DOCSTORE_CLIENT_SUITE_SRC"

# Feature of a test module, first match on its path; issue tests are named by ticket, so the
# feature of those comes from what they use (see FEATURE_HINTS) or stays "issues (mixed)".
FEATURES: tuple[tuple[str, str], ...] = (
    (r"counter", "counters"),
    (r"time_series", "time series"),
    (r"attachment", "attachments"),
    (r"subscription", "subscriptions"),
    (r"revision", "revisions"),
    (r"changes|database_changes", "changes API"),
    (r"bulk_insert", "bulk insert"),
    (r"https|secured", "HTTPS / certificates"),
    (r"spatial|more_like_this|suggestion|facet|full_text|regex_query|contains",
     "static-index queries (spatial, facets, suggestions, search)"),
    (r"index|simple_multi_map|custom_functions", "static indexes"),
    (r"backup|compact|compress|expiration|logs_config|promote|reorder|serverwide|server_ops"
     r"|server_operations|maintenance|databases\.py|system_tests", "server administration"),
    (r"hilo|next_and_seed_identities|get_next_operation_id", "HiLo / identities"),
    (r"unique_values|cluster_transaction", "compare-exchange / cluster transactions"),
    (r"patch|add_or_patch", "patch"),
    (r"query|lazy", "queries"),
    (r"topology|request_executor|client_configuration|executor", "executor / topology"),
    (r"crud|session|load|store|delete|what_changed|metadata|raven_commands|track|conditional"
     r"|custom_entity|documents_tests|exists|json_extensions|get_statistics|caching",
     "documents / sessions"),
    (r"issue", "issues (mixed)"),
)


class Outcome(Enum):
    PASSED = "passed"
    UNIMPLEMENTED = "failed: 501 from the server"
    MISMATCH = "failed: test/client version or setup"
    TIMEOUT = "failed: timeout"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Case:
    test: str
    module: str
    feature: str
    outcome: Outcome
    cause: str  # first line of the failure, empty when passed


def feature_of(module: str) -> str:
    low = module.lower()
    for pattern, feature in FEATURES:
        if re.search(pattern, low):
            return feature
    return "other"


# -- extract ---------------------------------------------------------------------------------

def extract(git_dir: Path, dest: Path, ref: str) -> None:
    """``ravendb/tests`` of ``ref`` from a local clone/mirror into ``dest`` (no network)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", "--format=tar", ref, "ravendb/tests"],
        check=True, capture_output=True).stdout
    tar_path = dest / "tests.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    tar_path.unlink()
    commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", ref], check=True,
                            capture_output=True, text=True).stdout.strip()
    (dest / "COMMIT").write_text(commit + "\n")
    print(f"extracted ravendb/tests of {commit} into {dest}")


# -- run ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sqla_docstore", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: see {log}") from None
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"the server did not start listening on port {port}: see {log}")


def run(source: Path, out: Path, test_timeout: int, selection: list[str]) -> int:
    tests = source / "ravendb" / "tests"
    if not tests.is_dir():
        raise SystemExit(f"{tests} not found: run 'extract' first")
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_server(port, out / "server.log")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env[URL_ENV] = f"http://127.0.0.1:{port}"
    env[TIMEOUT_ENV] = str(test_timeout)
    env[SOURCE_ENV] = str(source)
    env["RAVENDB_PYTHON_TEST_SERVER_PATH"] = sys.executable  # TestBase checks that it exists
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "bench"), str(ROOT)]))
    targets = [str(tests / s) for s in selection] or [str(tests)]
    cmd = [sys.executable, "-m", "pytest", *targets, "-p", "ravendb_client_suite",
           "-p", "no:sqla_docstore", "-p", "no:cacheprovider", "--import-mode=importlib",
           "--continue-on-collection-errors", "-q", "--maxfail=100000",
           f"--junitxml={out / 'results.xml'}", "-o", "junit_family=xunit1",
           "--rootdir", str(source), "-c", os.devnull]
    print(" ".join(cmd), flush=True)
    started = time.monotonic()
    try:
        with open(out / "pytest.log", "w") as log:
            code = subprocess.run(cmd, cwd=source, env=env, stdout=log,
                                  stderr=subprocess.STDOUT).returncode
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"pytest exit {code} after {time.monotonic() - started:.0f} s", flush=True)
    summary = report(out)
    print(json.dumps(summary["totals"]))
    return 0


# -- report ---------------------------------------------------------------------------------

_TIMEOUT = re.compile(r"TestTimeout")
_CLIENT_BOUND = re.compile(r"\(client-bound: ")
#: The 5.2.6-era tests against the 7.2.7 client (a name or signature that moved, a guard the
#: newer client added), a test that cannot run (a module-level test function taking
#: ``self``), or a test that needs the secured (HTTPS) server environment variables.
_MISMATCH = re.compile(r"collection failure|ImportError|RAVENDB_PYTHON_TEST_HTTPS_SERVER_URL"
                       r"|missing \d+ required positional argument|unexpected keyword argument"
                       r"|fixture 'self' not found|Cannot register includes when no_tracking")
#: A 501 the plugin did not see: the client reports a sub-request of a multi_get (lazy
#: operations) by its status only.
_LAZY_501 = re.compile(r"Got an error from server, status code: 501")


def _outcome(kind: str, message: str, text: str, saw_501: bool) -> Outcome:
    """A failure is "501" when the server answered 501 to a request the test made (the plugin
    records that), whatever the client made of the answer."""
    if kind == "passed":
        return Outcome.PASSED
    if kind == "skipped":
        return Outcome.SKIPPED
    if _TIMEOUT.search(message) or _TIMEOUT.search(text):
        return Outcome.MISMATCH if _CLIENT_BOUND.search(message) else Outcome.TIMEOUT
    if saw_501 or _LAZY_501.search(message):
        return Outcome.UNIMPLEMENTED
    if _MISMATCH.search(message):
        return Outcome.MISMATCH
    return Outcome.FAILED


def read_cases(path: Path) -> Iterator[Case]:
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("file") or case.get("classname", "").rsplit(".", 1)[0]
        kind, message, text = "passed", "", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind, message, text = child.tag, child.get("message", ""), child.text or ""
                if child.tag != "skipped":
                    break
        saw_501 = any(p.get("name") == "server_501" for p in case.iter("property"))
        first = next((line.strip() for line in message.splitlines() if line.strip()), "")
        yield Case(f"{case.get('classname', '')}::{case.get('name', '')}", module,
                   feature_of(module), _outcome(kind, message, text, saw_501), first[:240])


def report(out: Path) -> dict[str, Any]:
    cases = list(read_cases(out / "results.xml"))
    totals = Counter(c.outcome.value for c in cases)
    by_feature: dict[str, Counter[str]] = defaultdict(Counter)
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for c in cases:
        by_feature[c.feature][c.outcome.value] += 1
        by_module[c.module][c.outcome.value] += 1
    summary: dict[str, Any] = {
        "totals": dict(totals), "features": {k: dict(v) for k, v in sorted(by_feature.items())},
        "modules": {k: dict(v) for k, v in sorted(by_module.items())},
        "failures": [asdict(c) | {"outcome": c.outcome.value} for c in cases
                     if c.outcome in (Outcome.FAILED, Outcome.TIMEOUT)],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(render(summary, cases))
    return summary


def render(summary: dict[str, Any], cases: list[Case]) -> str:
    columns = [o.value for o in Outcome]
    head = "| feature | " + " | ".join(columns) + " |"
    lines = ["# Official RavenDB client suite against the bundled server", "",
             "Totals: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["totals"].items())),
             "", head, "|---" * (len(columns) + 1) + "|"]
    for feature, counts in summary["features"].items():
        lines.append(f"| {feature} | " + " | ".join(str(counts.get(c, 0)) for c in columns)
                     + " |")
    lines += ["", "## Failures that are not a 501 from the server", ""]
    for c in cases:
        if c.outcome in (Outcome.FAILED, Outcome.TIMEOUT):
            lines.append(f"- `{c.test}` ({c.feature}): {c.cause}")
    lines += ["", "## Per module", "", "| module | " + " | ".join(columns) + " |",
              "|---" * (len(columns) + 1) + "|"]
    for module, counts in summary["modules"].items():
        lines.append(f"| {module} | " + " | ".join(str(counts.get(c, 0)) for c in columns)
                     + " |")
    return "\n".join(lines) + "\n"


# -- the pytest plugin (loaded in the pytest process with -p ravendb_client_suite) ----------

class TestTimeout(Exception):
    """A test ran longer than the runner's per-test limit."""


class _EmbeddedServer:
    """Stands in for ``ravendb_embedded.EmbeddedServer``: the server is already running."""

    def start_server(self, options: Any = None) -> None:
        pass

    def get_document_store(self, database: str) -> Any:
        from ravendb import DocumentStore
        from ravendb.serverwide.database_record import DatabaseRecord
        from ravendb.serverwide.operations.common import CreateDatabaseOperation

        store = DocumentStore([os.environ[URL_ENV]], database)
        store.initialize()
        try:
            store.maintenance.server.send(CreateDatabaseOperation(DatabaseRecord(database)))
        except Exception as exc:  # already exists (a re-run)
            if "already exists" not in str(exc):
                raise
        return store

    def get_server_uri(self) -> str:
        return os.environ[URL_ENV]

    def close(self) -> None:
        pass


class _Options:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.command_line_args: list[str] = []


def _install_stand_ins() -> None:
    import ravendb

    package = types.ModuleType("ravendb_embedded")
    package.__path__ = []
    modules = {"": package}
    for name in ("embedded_server", "options", "provide"):
        modules[name] = types.ModuleType(f"ravendb_embedded.{name}")
    modules["embedded_server"].EmbeddedServer = _EmbeddedServer  # type: ignore[attr-defined]
    modules["options"].ServerOptions = _Options  # type: ignore[attr-defined]
    modules["options"].SecurityOptions = _Options  # type: ignore[attr-defined]
    modules["provide"].ExternalServerProvider = _Options  # type: ignore[attr-defined]
    for name, module in modules.items():
        sys.modules["ravendb_embedded" + (f".{name}" if name else "")] = module
    source = str(Path(os.environ[SOURCE_ENV]) / "ravendb")
    if source not in ravendb.__path__:
        ravendb.__path__.append(source)


_SEEN_501: list[str] = []


def _record_501s() -> None:
    """Note every 501 the server answers, over HTTP or to a WebSocket handshake."""
    import requests
    import websocket

    send = requests.Session.send

    def recording_send(self: Any, request: Any, **kwargs: Any) -> Any:
        response = send(self, request, **kwargs)
        if response.status_code == 501:
            _SEEN_501.append(f"{request.method} {request.url}")
        return response

    connect = websocket.WebSocket.connect

    def recording_connect(self: Any, url: str, **options: Any) -> Any:
        try:
            return connect(self, url, **options)
        except websocket.WebSocketBadStatusException as exc:
            if exc.status_code == 501:
                _SEEN_501.append(f"WebSocket {url}")
            raise

    requests.Session.send = recording_send  # type: ignore[method-assign]
    websocket.WebSocket.connect = recording_connect  # type: ignore[method-assign]


def pytest_configure(config: Any) -> None:
    if URL_ENV in os.environ:
        _install_stand_ins()
        _record_501s()


def pytest_runtest_makereport(item: Any, call: Any) -> None:
    if call.when == "teardown" and _SEEN_501:
        item.user_properties.append(("server_501", _SEEN_501[0]))


#: Tests that cannot finish within the limit because of the official client's own work, by
#: node id suffix, with what was measured. They are reported with the client/version failures.
CLIENT_BOUND = {
    "stress_test.py::StressTest::test_for_max_document": (
        "the 7.2.7 client's clear_session_state_after_successful_save_changes tests "
        "'key in documents_by_id' by iterating (DocumentsByIdHolder has no __contains__): "
        "quadratic in the session's new documents; measured 15 s after a 20,000-document "
        "batch the server applied in 0.33 s, 38 s after 40,000 (0.58 s); 600,000 would take "
        "hours on any server"),
}


def client_bound(nodeid: str) -> str | None:
    return next((why for suffix, why in CLIENT_BOUND.items() if nodeid.endswith(suffix)), None)


def pytest_runtest_setup(item: Any) -> None:
    """A client-bound test is not run: interrupted by the alarm deep in the client, it could
    leave a traceback pytest cannot format (an INTERNALERROR that ends the whole run). It is
    reported as the timeout it would be, with the measured cause."""
    _SEEN_501.clear()
    why = client_bound(item.nodeid)
    limit = int(os.environ.get(TIMEOUT_ENV, "0") or 0)
    if why and limit > 0:
        raise TestTimeout(f"{item.nodeid} not run: it cannot finish in {limit} s "
                          f"(client-bound: {why})")


def pytest_runtest_call(item: Any) -> None:
    limit = int(os.environ.get(TIMEOUT_ENV, "0") or 0)
    if limit <= 0:
        return

    def expire(signum: int, frame: Any) -> None:
        raise TestTimeout(f"{item.nodeid} ran longer than {limit} s")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(limit)


def pytest_runtest_teardown(item: Any) -> None:
    signal.alarm(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("extract", help="copy ravendb/tests out of a local git clone")
    ex.add_argument("git_dir", type=Path, help="the clone's .git directory or a bare mirror")
    ex.add_argument("--dest", type=Path, required=True)
    ex.add_argument("--ref", default="HEAD", help="default HEAD (branch v5.2 in a fresh clone)")
    rn = commands.add_parser("run", help="serve and run the suite, then report")
    rn.add_argument("source", type=Path, help="the folder 'extract' wrote")
    rn.add_argument("--out", type=Path, required=True)
    rn.add_argument("--test-timeout", type=int, default=30)
    rn.add_argument("--select", nargs="+", default=[],
                    help="paths under ravendb/tests (default: all)")
    rp = commands.add_parser("report", help="summarize a run's results.xml")
    rp.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract(args.git_dir, args.dest, args.ref)
        return 0
    if args.command == "run":
        return run(args.source, args.out, args.test_timeout, args.select)
    print(json.dumps(report(args.out)["totals"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
