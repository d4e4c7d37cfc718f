"""PEP 249 exception tree shared by the DB-API, the backends and the dialect.

Exception (builtin)
 +-- Warning
 +-- Error
      +-- InterfaceError
      +-- DatabaseError
           +-- DataError
           +-- OperationalError
           |    +-- ConcurrencyError      (a change vector or existence check failed at commit)
           |    +-- RequestBudgetError    (a session asked for more backend calls than allowed)
           +-- IntegrityError
           |    +-- DuplicateKeyError     (a document id or unique value is taken)
           +-- InternalError
           +-- ProgrammingError
           +-- NotSupportedError          (a statement construct the store cannot run)

SQLAlchemy wraps any of these as ``sqlalchemy.exc.<same name>`` with the original in ``.orig``.
"""

from __future__ import annotations

from contextlib import ContextDecorator
from types import TracebackType
from typing import NoReturn


class Warning(Exception):  # noqa: A001 - the name is fixed by PEP 249
    """Important warnings, such as data truncation."""


class Error(Exception):
    """Base class of every error this package raises.

    An error a server reported (or a reply that could not be understood) also tells where it
    came from, like psycopg's ``sqlstate``/``diag``: ``status`` (the HTTP status), ``server_type``
    (RavenDB's exception ``Type``, such as ``Raven.Client.Exceptions.ConcurrencyException``) and
    ``url`` (the request's URL, without credentials or query string). They are None otherwise.
    """

    status: int | None = None
    server_type: str | None = None
    url: str | None = None


class InterfaceError(Error):
    """An error of the DB-API interface rather than of the store."""


class DatabaseError(Error):
    """An error of the store."""


class DataError(DatabaseError):
    """A value could not be stored or compared (bad type, out of range)."""


class OperationalError(DatabaseError):
    """The store could not do what was asked (missing collection, lock timeout, I/O)."""


class IntegrityError(DatabaseError):
    """A constraint of the store would be broken (duplicate id, unique value)."""


class InternalError(DatabaseError):
    """The store reached an inconsistent state."""


class ProgrammingError(DatabaseError):
    """The statement is malformed or used wrongly (syntax, closed cursor, bad parameters)."""


class NotSupportedError(DatabaseError):
    """The statement uses a construct the store does not support; the message names it."""


class ConcurrencyError(OperationalError):
    """A document changed or disappeared between the read and the commit that relied on it.

    ``stale`` lists the document ids whose expectations failed.
    """

    def __init__(self, message: str, stale: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.stale = stale


class DuplicateKeyError(IntegrityError):
    """A document with this id, or a unique value, already exists."""


class RequestBudgetError(OperationalError):
    """The session made more backend requests than its budget allows."""


class ErrorScope(ContextDecorator):
    """A with-block (or a decorated call) whose exceptions ``translate`` turns into errors of
    this tree naming ``what``, the original kept as the cause; what it returns None for passes
    through unchanged. A class, not a generator-based context manager: the DB-API and the
    stores wrap every statement and commit in one."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            translated = self.translate(exc)
            if translated is not None:
                raise translated from exc

    def reraise(self, exc: Exception) -> NoReturn:
        """What leaving the with-block with ``exc`` raises, for a hot path that catches it
        itself (a ``try`` costs nothing until something is raised): its translation (from
        ``exc``), else ``exc``."""
        translated = self.translate(exc)
        if translated is not None:
            raise translated from exc
        raise exc

    def translate(self, exc: BaseException) -> Error | None:
        raise NotImplementedError


__all__ = [
    "ConcurrencyError",
    "DataError",
    "DatabaseError",
    "DuplicateKeyError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "RequestBudgetError",
    "Warning",
]
