"""Runs Alembic's dialect suite (``alembic.testing.suite``, its own pytest session with
SQLAlchemy's plugin) on a file store, on ``docstore://`` and on ``ravendb://`` against the
bundled server, and checks the outcome: every test passes or is skipped by a requirement that
tests/alembic_suite/alembic_requirements.py closes with its reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "alembic_suite"
# Skipped by a closed requirement: comments (8 tests), autocommit isolation (2) and
# autoincrement on a composite key (1).
SKIPPED = 11


def _run_suite(args: list[str], cwd: Path) -> dict[str, int]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:randomly",
         "--rootdir", str(SUITE), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)}
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    return counts


@pytest.mark.parametrize("db", ["embedded", "memory"])
def test_alembic_dialect_suite(db: str, tmp_path: Path) -> None:
    # The suite writes its scratch environment and file store in the working directory.
    counts = _run_suite(["--db", db], tmp_path)
    assert counts == {"passed": 75, "skipped": SKIPPED}, counts


def test_alembic_dialect_suite_on_ravendb(ravendb_url: str, tmp_path: Path) -> None:
    counts = _run_suite(["--dburi", ravendb_url], tmp_path)
    assert counts == {"passed": 75, "skipped": SKIPPED}, counts
