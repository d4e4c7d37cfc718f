"""Alembic's dialect suite for the docstore dialect; every closed requirement lives in
alembic_requirements.py with the reason."""

from alembic.testing.suite import *  # noqa: F401,F403
