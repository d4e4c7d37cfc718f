"""``alembic_stub/`` as the README tells a project to use it: copied, pointed at the project's
models and URL, upgraded, checked clean, downgraded; the same on SQLite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MODELS = '''
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(100), server_default="unknown")
'''


def _alembic(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SQLA_DOCSTORE_METADATA="models:Base")
    return subprocess.run([sys.executable, "-m", "alembic", "-x", f"url={url}", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("scheme", ["sqlite", "docstore"])
def test_stub_environment_upgrades_checks_clean_and_downgrades(scheme: str,
                                                               tmp_path: Path) -> None:
    shutil.copytree(ROOT / "alembic_stub", tmp_path / "migrations")
    shutil.move(tmp_path / "migrations" / "alembic.ini", tmp_path / "alembic.ini")
    ini = tmp_path / "alembic.ini"
    ini.write_text(ini.read_text().replace("%(here)s", "%(here)s/migrations"))
    (tmp_path / "models.py").write_text(MODELS)
    url = f"{scheme}:///app.db"
    outputs = []
    for args in (["upgrade", "head"], ["check"], ["downgrade", "base"], ["upgrade", "head"]):
        proc = _alembic(tmp_path, url, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout.strip())
    assert outputs[1] == "No new upgrade operations detected."
