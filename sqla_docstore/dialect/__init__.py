"""The SQLAlchemy dialect: compilers, types and the ``docstore`` dialect class."""

from . import alembic_hook
from .base import DocstoreDialect

# Alembic finds its impl by dialect name: defined when Alembic is imported (alembic_hook).
alembic_hook.install()

__all__ = ["DocstoreDialect"]
