"""Acceptance tests that drive sqla_docstore end to end through SQLAlchemy and its DB-API."""
