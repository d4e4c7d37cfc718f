"""Nodes and clusters: threaded HTTP servers (tags A, B, C...) over the same databases."""

from __future__ import annotations

import itertools
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any, NamedTuple

from ... import values
from ...backends.embedded.store import EmbeddedStore
from .database import Databases
from .handler import Handler
from .routes import Request

SERVER_VERSION = "7.2.3"


class RecordedRequest(NamedTuple):
    """A request as the server saw it, for wire comparisons."""

    method: str
    path: str
    query: str
    body: Any  # the JSON body, or None


@dataclass
class Fault:
    """A failure injected into matching requests (``path`` is a substring of the path).

    kinds: "drop_before" (close without processing), "drop_after" (process, then close without
    replying), "status" (reply ``status`` with a RavenDB error body, unprocessed), "html"
    (reply ``status`` with an HTML page, unprocessed), "truncate" (process, reply with half the
    JSON), "cut" (process, send the headers and half the body, then close), "slow" (sleep
    ``delay`` seconds, then process normally).
    """

    kind: str
    path: str = ""
    method: str | None = None
    node: str | None = None
    times: int = 1
    status: int = 500
    delay: float = 1.0


class Operations:
    """Long-running operation states (set-based operations finish before they are answered)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._states: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, state: dict[str, Any]) -> int:
        with self._lock:
            op_id = next(self._ids)
            self._states[op_id] = state
            return op_id

    def get(self, op_id: int) -> dict[str, Any] | None:
        return self._states.get(op_id)

    def next_id(self) -> int:
        """An id for an operation the client will start (``next-operation-id``)."""
        with self._lock:
            return next(self._ids)


class NodeServer(ThreadingHTTPServer):
    """One node: a listening socket whose connections can all be cut at once (``kill``)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, cluster: Cluster, tag: str, address: tuple[str, int],
                 ssl_context: ssl.SSLContext | None) -> None:
        self.cluster = cluster
        self.tag = tag
        self.ssl_context = ssl_context
        self.stopped = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:  # the handshake runs in the connection's thread
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.cluster.verbose and not self.stopped:
            super().handle_error(request, client_address)

    def kill(self) -> None:
        """Stop as a crashed node does: no more accepts, every open connection cut."""
        self.stopped = True
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Cluster:
    """Nodes with tags ``tags`` on consecutive ports from ``port`` (0: any free ports), all
    serving ``databases``. Start with ``start()`` or ``with``; stop one node with
    ``stop_node(tag)``, bring it back on the same port with ``start_node(tag)``."""

    def __init__(self, databases: Databases, tags: str | Sequence[str] = "A", *,
                 host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None,
                 allowed_certificates: set[str] | None = None, record: bool = True,
                 compress: bool = True, verbose: bool = False,
                 server_version: str = SERVER_VERSION) -> None:
        self.databases = databases
        self.tags = parse_tags(tags)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        #: SHA-1 thumbprints (upper-case hex) of the client certificates allowed (None: any
        #: certificate the CA signed); others get RavenDB's 403.
        self.allowed_certificates = allowed_certificates
        self.record_requests = record
        self.compress = compress
        self.verbose = verbose
        self.server_version = server_version
        self.topology_id = str(uuid.uuid4())
        self.topology_etag = 1
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.operations = Operations()
        self._nodes: dict[str, NodeServer] = {}
        self._ports: dict[str, int] = {}
        self._lock = threading.Lock()
        self._raft = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Cluster:
        for i, tag in enumerate(self.tags):
            self._ports.setdefault(tag, self.port + i if self.port else 0)
            self.start_node(tag)
        return self

    def start_node(self, tag: str) -> None:
        if tag in self._nodes and not self._nodes[tag].stopped:
            return
        server = NodeServer(self, tag, (self.host, self._ports.get(tag, 0)), self.ssl_context)
        self._ports[tag] = server.server_address[1]
        self._nodes[tag] = server
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"ravendb-node-{tag}", daemon=True)
        thread.start()

    def stop_node(self, tag: str) -> None:
        node = self._nodes.get(tag)
        if node is not None and not node.stopped:
            node.kill()

    def close(self) -> None:
        for tag in list(self._nodes):
            self.stop_node(tag)
        self.databases.close()

    def __enter__(self) -> Cluster:
        return self.start() if not self._nodes else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses ------------------------------------------------------------------------
    def url_of(self, tag: str) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"{scheme}://{host}:{self._ports[tag]}"

    @property
    def urls(self) -> list[str]:
        return [self.url_of(tag) for tag in self.tags]

    @property
    def url(self) -> str:
        return self.urls[0]

    def running(self) -> list[str]:
        return [t for t in self.tags if t in self._nodes and not self._nodes[t].stopped]

    # -- requests and faults --------------------------------------------------------------
    def next_raft(self) -> int:
        return next(self._raft)

    def record(self, req: Request) -> None:
        if not self.record_requests:
            return
        body: Any = None
        if req.body:
            try:
                body = values.loads(req.body.decode("utf-8"))
            except ValueError:
                body = req.body
        with self._lock:
            self.requests.append(RecordedRequest(req.method, req.path, req.query, body))

    def add_fault(self, kind: str, path: str = "", **options: Any) -> Fault:
        fault = Fault(kind, path, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str, tag: str) -> Fault | None:
        if not self.faults:
            return None
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.path in path and fault.method in (None, method) \
                        and fault.node in (None, tag):
                    fault.times -= 1
                    return fault
        return None


def parse_tags(tags: str | Sequence[str]) -> list[str]:
    """``"A,B,C"``, ``"ABC"`` or ``["A", "B"]`` -> node tags."""
    if isinstance(tags, str):
        tags = tags.split(",") if "," in tags else list(tags)
    found = [t.strip() for t in tags if t.strip()]
    if not found or len(set(found)) != len(found):
        raise ValueError(f"node tags must be distinct and not empty: {tags!r}")
    return found


def serve_cluster(data: str | os.PathLike[str] | dict[str, EmbeddedStore] | None = None,
                  tags: str | Sequence[str] = "A,B,C", *, databases: Sequence[str] = (),
                  **options: Any) -> Cluster:
    """Start nodes over the databases of ``data``: a directory of ``<db>.db`` files, a single
    ``.db`` file (one database named after it), a dict of stores, or None (in memory).
    ``databases`` are created if missing. Returns the started Cluster."""
    if isinstance(data, dict):
        dbs = Databases(stores=data)
    elif data is not None and str(data).endswith(".db") and not os.path.isdir(data):
        path = os.fspath(data)
        name = os.path.splitext(os.path.basename(path))[0]
        dbs = Databases(stores={name: EmbeddedStore(path)}, own_stores=True)
    else:
        dbs = Databases(data)
    for name in databases:
        if name not in dbs.names():
            dbs.create(name)
    return Cluster(dbs, tags, **options).start()
