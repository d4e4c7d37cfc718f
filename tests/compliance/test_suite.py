"""SQLAlchemy's compliance suite for the docstore dialect; every closed requirement lives in
sqla_docstore/dialect/requirements.py with the reason, and every removal here says why."""

from sqlalchemy.testing.suite import *  # noqa: F401,F403
