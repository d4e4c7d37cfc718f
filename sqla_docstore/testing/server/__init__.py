"""A RavenDB wire-compatible HTTP server over the embedded store (test infrastructure)."""

# serve_cluster(data, "A,B,C") starts nodes that speak enough of RavenDB 6/7's REST API for the
# official ``ravendb`` Python client and sqla_docstore's HTTP backend: documents, batches, RQL
# queries, HiLo, compare-exchange, cluster-wide transactions, ETag caching, TLS.

from __future__ import annotations

from .database import Database, Databases
from .node import Cluster, Fault, RecordedRequest, serve_cluster
from .tls import make_test_certificates, server_context

__all__ = [
    "Cluster",
    "Database",
    "Databases",
    "Fault",
    "RecordedRequest",
    "make_test_certificates",
    "serve_cluster",
    "server_context",
]
