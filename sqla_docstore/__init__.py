"""sqla_docstore: SQLAlchemy applications on a document store with RavenDB's unit of work."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def request_counts(target: Any) -> dict[str, int]:
    """Backend calls by kind (load, query, batch, hilo, schema) made by a Session (since it was
    created), a SQLAlchemy Connection, or a DB-API connection."""
    from ._counts import request_counts as impl

    return impl(target)


#: Names served lazily from sqla_docstore.orm: importing sqla_docstore must not import SQLAlchemy.
_ORM_NAMES = frozenset({
    "AsyncDocumentSession", "ChangeType", "ClusterTransaction", "CompareExchangeValue",
    "DocumentConventions", "DocumentSession", "DocumentStore", "DocumentsChanges",
    "ScopedDocumentSession", "SessionOptions", "TransactionMode",
})


def __getattr__(name: str) -> Any:
    if name == "array_contains":
        from .dialect.functions import array_contains

        return array_contains
    if name in _ORM_NAMES:
        from . import orm

        return getattr(orm, name)
    raise AttributeError(f"module 'sqla_docstore' has no attribute {name!r}")


__all__ = ["__version__", "array_contains", "request_counts", *sorted(_ORM_NAMES)]
