"""SQLAlchemy's compliance suite for the docstore dialect; every exclusion lives in
sqla_docstore/dialect/requirements.py with the reason."""

from sqlalchemy.testing.suite import *  # noqa: F401,F403
