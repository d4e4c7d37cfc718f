"""The SQLAlchemy dialect: compilers, types and the ``docstore`` dialect class."""

from .base import DocstoreDialect

__all__ = ["DocstoreDialect"]
