"""Alembic's dialect suite (alembic.testing.suite), run as its own pytest session (see README)."""

import pytest

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402,F401,F403
