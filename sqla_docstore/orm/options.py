"""SessionOptions and TransactionMode, with the fields and values of RavenDB's Python client."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class TransactionMode(str, Enum):
    """How ``save_changes()`` commits.

    ``SINGLE_NODE``: one atomic batch on the node that receives it (RavenDB's default).
    ``CLUSTER_WIDE``: the batch goes through cluster consensus (RavenDB ``TransactionMode:
    ClusterWide``) with atomic guards on every written document, and compare-exchange values can
    be written in the same transaction (``session.advanced.cluster_transaction``).
    """

    SINGLE_NODE = "single_node"
    CLUSTER_WIDE = "cluster_wide"

    def __str__(self) -> str:
        return self.value


@dataclass
class SessionOptions:
    """Options of one session, passed as ``store.open_session(session_options=...)``.

    ``database``: the database to open the session on (default: the store's).
    ``no_tracking``: loaded objects are not kept in the identity map and their changes are never
    saved; ``store()``/``add()``/``delete()`` raise.
    ``no_caching``: loads and queries bypass the HTTP cache (RavenDB); no effect on the embedded
    store, which has no cache.
    ``request_executor``: an Engine (or Connection) to run the session on instead of the store's.
    ``transaction_mode``: :class:`TransactionMode`.
    ``disable_atomic_document_writes_in_cluster_wide_transaction``: cluster-wide batches without
    atomic guards (None: the store's conventions decide).
    """

    database: str | None = None
    no_tracking: bool = False
    no_caching: bool = False
    request_executor: Any = None
    transaction_mode: TransactionMode = TransactionMode.SINGLE_NODE
    disable_atomic_document_writes_in_cluster_wide_transaction: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.transaction_mode, TransactionMode):
            try:
                self.transaction_mode = TransactionMode(self.transaction_mode)
            except ValueError:
                raise ValueError(
                    f"transaction_mode must be a TransactionMode (SINGLE_NODE or CLUSTER_WIDE), "
                    f"not {self.transaction_mode!r}"
                ) from None

    @property
    def cluster_wide(self) -> bool:
        return self.transaction_mode is TransactionMode.CLUSTER_WIDE
