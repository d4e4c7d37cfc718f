"""The SQLAlchemy dialect: compilers, types and the ``docstore`` dialect class."""

from .base import DocstoreDialect

try:  # Alembic finds its impl by dialect name once the class is defined.
    from . import alembic_impl  # noqa: F401
except ImportError:  # pragma: no cover - alembic is optional
    pass

__all__ = ["DocstoreDialect"]
