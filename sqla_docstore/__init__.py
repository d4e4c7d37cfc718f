"""sqla_docstore: SQLAlchemy applications on a document store with RavenDB's unit of work."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def request_counts(target: Any) -> dict[str, int]:
    """Backend calls by kind (load, query, batch, hilo, schema) made by a Session (since it was
    created), a SQLAlchemy Connection, or a DB-API connection."""
    from ._counts import request_counts as impl

    return impl(target)


__all__ = ["__version__", "request_counts"]
