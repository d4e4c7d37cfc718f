"""A RavenDB to test against: a real one when configured, else the bundled server (the pytest
plugin's ``docstore_ravendb_server`` fixtures use :func:`start_test_server`)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from typing import Any

import pytest

from .server.node import Cluster, Fault, RecordedRequest, serve_cluster


class BundledRavenServer:
    """The bundled server: a cluster of nodes over in-memory (or given) stores."""

    recording = True
    real = False

    def __init__(self, tags: str = "A,B,C", database: str = "test", **options: Any) -> None:
        self.database = database
        self.cluster: Cluster = serve_cluster(options.pop("data", None), tags,
                                              databases=[database], **options)

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def urls(self) -> list[str]:
        return self.cluster.urls

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.cluster.requests

    def clear_requests(self) -> None:
        self.cluster.requests.clear()

    def stop_node(self, tag: str) -> None:
        self.cluster.stop_node(tag)

    def start_node(self, tag: str) -> None:
        self.cluster.start_node(tag)

    def add_fault(self, kind: str, path: str = "", **options: Any) -> Fault:
        return self.cluster.add_fault(kind, path, **options)

    def close(self) -> None:
        self.cluster.close()


class RealRavenServer:
    """A real RavenDB at ``url`` with a database created for one test."""

    recording = False
    real = True

    def __init__(self, url: str, database: str | None = None) -> None:
        import requests

        self.url = url.rstrip("/")
        self.urls = [self.url]
        self.database = database or f"test_{uuid.uuid4().hex[:12]}"
        self.requests: list[RecordedRequest] = []
        reply = requests.put(f"{self.url}/admin/databases", params={"name": self.database},
                             json={"DatabaseName": self.database}, timeout=60)
        reply.raise_for_status()

    def clear_requests(self) -> None:
        pass

    def stop_node(self, tag: str) -> None:
        pytest.skip("a real RavenDB node cannot be stopped by the test fixture")

    def start_node(self, tag: str) -> None:
        pytest.skip("a real RavenDB node cannot be started by the test fixture")

    def add_fault(self, kind: str, path: str = "", **options: Any) -> Fault:
        pytest.skip("faults can only be injected into the bundled server")

    def close(self) -> None:
        import requests

        requests.delete(f"{self.url}/admin/databases", timeout=60,
                        json={"DatabaseNames": [self.database], "HardDelete": True})


_embedded: Any = None


def _embedded_url() -> str | None:
    """The URL of a real RavenDB from ravendb-embedded, started once, if .NET is present."""
    global _embedded
    if os.environ.get("SQLA_DOCSTORE_BUNDLED_RAVENDB") or shutil.which("dotnet") is None:
        return None
    if importlib.util.find_spec("ravendb_embedded") is None:
        return None
    if _embedded is None:
        from ravendb_embedded import EmbeddedServer, ServerOptions  # type: ignore[import-not-found]

        _embedded = EmbeddedServer()
        _embedded.start_server(ServerOptions())
    return str(_embedded.get_server_uri())


def start_test_server(tags: str = "A,B,C", **options: Any) -> Any:
    """A real RavenDB if one is configured or can run here, else the bundled server.

    1. ``$SQLA_DOCSTORE_RAVENDB_URL`` set: that (real) server; each test gets a fresh database.
    2. else a .NET runtime (``dotnet`` on PATH) and ``ravendb-embedded`` installed: a real
       RavenDB started once per session by ravendb-embedded; each test gets a fresh database.
    3. else (and always with ``$SQLA_DOCSTORE_BUNDLED_RAVENDB=1``): the bundled server
       (``sqla_docstore.testing.server``), nodes ``tags`` on loopback ports over in-memory stores.

    The object has ``url``, ``urls``, ``database``, ``requests`` (recorded ``(method, path,
    query, json body)``; empty for a real server, see ``recording``), ``stop_node(tag)`` /
    ``start_node(tag)`` and ``add_fault(...)`` (bundled server only: a real one skips the
    test).
    """
    url = os.environ.get("SQLA_DOCSTORE_RAVENDB_URL") or _embedded_url()
    if url:
        return RealRavenServer(url)
    return BundledRavenServer(tags, **options)
