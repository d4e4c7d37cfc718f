"""RavenDB's session API on SQLAlchemy: DocumentStore, DocumentSession, SessionOptions, budgets."""

from __future__ import annotations

from .asyncio import AsyncDocumentSession
from .budget import DEFAULT_MAX_REQUESTS, RequestBudget
from .options import SessionOptions, TransactionMode
from .session import (
    Advanced,
    ChangeType,
    ClusterTransaction,
    ClusterTransactionRequiredError,
    CompareExchangeValue,
    DocumentsChanges,
    DocumentSession,
    MissingCoreHookError,
    ScopedDocumentSession,
    TrackingDisabledError,
)
from .store import DocumentConventions, DocumentStore

__all__ = [
    "DEFAULT_MAX_REQUESTS",
    "Advanced",
    "AsyncDocumentSession",
    "ChangeType",
    "ClusterTransaction",
    "ClusterTransactionRequiredError",
    "CompareExchangeValue",
    "DocumentConventions",
    "DocumentSession",
    "DocumentStore",
    "DocumentsChanges",
    "MissingCoreHookError",
    "RequestBudget",
    "ScopedDocumentSession",
    "SessionOptions",
    "TrackingDisabledError",
    "TransactionMode",
]
