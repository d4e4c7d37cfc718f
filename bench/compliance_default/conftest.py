"""SQLAlchemy's dialect compliance suite with its default requirements (see bench/README.md)."""

import pytest

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402,F401,F403
