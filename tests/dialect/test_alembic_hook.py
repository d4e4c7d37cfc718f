"""Alembic's impls for the dialects are defined when Alembic is imported, whichever of the
dialect and Alembic comes first; using the dialect alone does not load Alembic (nor Mako and
Pygments). Each case runs in a fresh interpreter (imports are process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])

_IMPLS = """
from alembic.migration import MigrationContext
for name in ("docstore", "ravendb"):
    ctx = MigrationContext.configure(dialect_name=name, opts={"as_sql": True})
    print(name, type(ctx.impl).__module__, type(ctx.impl).__name__)
"""
_EXPECTED = ("docstore sqla_docstore.dialect.alembic_impl DocstoreImpl\n"
             "ravendb sqla_docstore.dialect.alembic_impl RavenDBImpl\n")


def _run(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_using_the_dialect_loads_no_alembic(tmp_path: Path) -> None:
    out = _run(f"""
import sys
import sqlalchemy as sa
engine = sa.create_engine({f"docstore:///{tmp_path}/t.db"!r})
with engine.connect() as conn:
    conn.execute(sa.text("SELECT 1"))
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"alembic", "mako", "pygments"}}))
""")
    assert out == "[]\n"


@pytest.mark.parametrize("first", [
    "import sqla_docstore.dialect",
    "import sqla_docstore.dialect, sqla_docstore.dialect.ravendb",
    "import alembic",
    "import alembic.ddl.impl; import sqla_docstore.dialect",
    "import sqlalchemy as sa; sa.create_engine('docstore://')",
    "",  # MigrationContext.configure loads the dialect through SQLAlchemy's entry points
])
def test_alembic_finds_the_impls_in_any_import_order(first: str) -> None:
    assert _run(first + "\n" + _IMPLS) == _EXPECTED


def test_the_finder_finds_nothing_once_alembic_is_loaded() -> None:
    out = _run("""
import sys
import sqla_docstore.dialect
from sqla_docstore.dialect import alembic_hook
finders = [f for f in sys.meta_path if type(f).__name__ == "AlembicFinder"]
before = finders[0].fired
import alembic.ddl.impl
after = finders[0].fired and finders[0].find_spec(alembic_hook.TRIGGER, None) is None
alembic_hook.install()  # Alembic loaded: registers at once (again: a no-op), no new finder
print(len(finders), before, after,
      [type(f).__name__ for f in sys.meta_path].count("AlembicFinder"))
""")
    assert out == "1 False True 1\n"
