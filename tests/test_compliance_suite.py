"""Runs SQLAlchemy's dialect compliance suite (its own pytest session) and checks the outcome."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "compliance"


@pytest.mark.parametrize("db", ["embedded", "memory"])
def test_sqlalchemy_compliance_suite(db: str, tmp_path: Path) -> None:
    # The suite writes its file store in the working directory: give it a fresh one.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:randomly",
         "--db", db, "--rootdir", str(SUITE)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", summary)) else 0
    assert "failed" not in summary and "error" not in summary, proc.stdout[-5000:]
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert passed >= 300, summary
