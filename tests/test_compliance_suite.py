"""Runs SQLAlchemy's dialect compliance suite (its own pytest session) and checks the outcome:
on a file store, on ``docstore://``, and on ``ravendb://`` against the bundled server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "compliance"


@pytest.fixture
def bundled_server() -> Iterator[str]:
    """``python -m sqla_docstore serve`` in its own process, as a user would run it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqla_docstore", "serve", "--port", str(port),
         "--database", "compliance"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "node A: http://127.0.0.1:PORT" once it listens
        assert line.startswith("node A:"), line
        yield f"ravendb://127.0.0.1:{port}/compliance"
    finally:
        proc.terminate()
        proc.wait(30)


def _run_suite(args: list[str], cwd: Path) -> None:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:randomly",
         "--rootdir", str(SUITE), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", summary)) else 0
    assert "failed" not in summary and "error" not in summary, proc.stdout[-5000:]
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert passed >= 300, summary


@pytest.mark.parametrize("db", ["embedded", "memory"])
def test_sqlalchemy_compliance_suite(db: str, tmp_path: Path) -> None:
    # The suite writes its file store in the working directory: give it a fresh one.
    _run_suite(["--db", db], tmp_path)


def test_sqlalchemy_compliance_suite_on_ravendb(bundled_server: str, tmp_path: Path) -> None:
    _run_suite(["--dburi", bundled_server], tmp_path)
