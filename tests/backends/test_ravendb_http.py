"""What a request to RavenDB carries and how its reply is read, now that each request is
prepared from a per-node template and sent by requests' transport adapter directly: the same
headers and URL as ``requests.Session.request`` would send, conditional GETs, errors with
their status and server type, timeouts, failover, cookies and redirects (handled only when a
server uses them), environment proxies, streamed replies. Against the bundled server on
loopback, through a recording hop (``Relay``) where the wire itself is checked."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
import requests

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.ravendb import http as raven_http
from sqla_docstore.backends.ravendb.http import CLIENT_VERSION, Cluster, HttpSession

SPEC = '{"fields": [{"name": "id", "type": "INTEGER"}, {"name": "name", "type": "TEXT"}], ' \
       '"primary_key": ["id"]}'


class Seen(NamedTuple):
    """A request as it reached the relay, and the status it was answered with."""

    method: str
    target: str  # the request line's target: a path, or an absolute URL (sent to a proxy)
    headers: dict[str, str]
    status: int
    reply_headers: dict[str, str]


class Relay(ThreadingHTTPServer):
    """A loopback hop in front of the bundled node: forwards every request (also one sent to
    it as a proxy, with an absolute URL) and records it. ``set_cookie`` is added to every
    reply; requests whose path holds ``redirect`` are answered 307 to the node instead;
    ``lower_case`` sends the reply's header names in lower case."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        self.upstream = urlsplit(upstream)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.set_cookie: str | None = None
        self.redirect: str | None = None
        self.lower_case = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def of(self, fragment: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if fragment in s.target]


class _RelayHandler(BaseHTTPRequestHandler):
    server: Relay
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        relay = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        parts = urlsplit(self.path)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if relay.redirect is not None and relay.redirect in parts.path:
            location = f"{relay.upstream.scheme}://{relay.upstream.netloc}{path}"
            self._answer(307, {"Location": location}, b"")
            return
        upstream = http.client.HTTPConnection(relay.upstream.hostname or "",
                                              relay.upstream.port, timeout=30)
        try:
            sent = {k: v for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "proxy-connection")}
            upstream.request(self.command, path, body=body, headers=sent)
            reply = upstream.getresponse()
            data = reply.read()
            headers = {k: v for k, v in reply.getheaders()
                       if k.lower() not in ("connection", "transfer-encoding", "content-length")}
        finally:
            upstream.close()
        if relay.set_cookie is not None:
            headers["Set-Cookie"] = relay.set_cookie
        if relay.lower_case:
            headers = {k.lower(): v for k, v in headers.items()}
        self._answer(reply.status, headers, data)

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        with self.server.lock:  # before the client can see the reply
            self.server.seen.append(Seen(self.command, self.path, dict(self.headers), status,
                                         headers))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 - http.server's naming


@pytest.fixture
def relay(raven_node: Any) -> Iterator[Relay]:
    server = Relay(raven_node.url)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def database(ravendb_url: str) -> str:
    return ravendb_url.rsplit("/", 1)[1]


def _session(urls: list[str], database: str, **options: Any) -> HttpSession:
    """An HTTP session to ``urls`` only (no topology: every request goes where it is sent)."""
    return HttpSession(Cluster(urls, database, topology_updates=False, **options))


def _put(session: HttpSession, doc_id: str, body: dict[str, Any],
         change_vector: str | None = None) -> str:
    document = {**body, "@metadata": {"@collection": "Things"}}
    resp = session.request("POST", "bulk_docs", idempotent=False, body={"Commands": [
        {"Id": doc_id, "ChangeVector": change_vector, "Document": document, "Type": "PUT"}]})
    reply = resp.reply("batch")
    return str(reply.field(reply.objects(reply.object(), "Results")[0], "@change-vector", str))


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


# -- what goes on the wire --------------------------------------------------------------------

def test_a_request_carries_the_headers_and_url_session_request_would_send(
        relay: Relay, database: str) -> None:
    session = _session([relay.url], database)
    try:
        params = [("id", "things/a b&c+d/é"), ("id", "things/2")]
        session.request("GET", "docs", params=params, read=True)
        # the same request as Session.request sends it (what the backend did before)
        session.http.request("GET", f"{relay.url}{session.db_path('docs')}", params=params,
                             timeout=5).close()
    finally:
        session.close()
    ours, theirs = relay.of("/docs")
    assert ours.target == theirs.target
    assert ours.headers == theirs.headers
    assert ours.headers["Raven-Client-Version"] == CLIENT_VERSION
    assert ours.headers["User-Agent"] == "sqla_docstore"
    assert "gzip" in ours.headers["Accept-Encoding"]


def test_a_body_is_sent_with_its_length_and_a_bodiless_write_with_length_zero(
        relay: Relay, database: str) -> None:
    session = _session([relay.url], database)
    try:
        _put(session, "things/1", {"name": "one"})
        session.request("PUT", "hilo/return", params={"tag": "things", "end": 32, "last": 1})
    finally:
        session.close()
    (batch,) = relay.of("/bulk_docs")
    assert int(batch.headers["Content-Length"]) > 0 and batch.status == 201
    (returned,) = relay.of("/hilo/return")
    assert returned.headers["Content-Length"] == "0" and returned.status < 300


@pytest.mark.parametrize("params", [
    {"id": "things/1"},
    [("id", "a b"), ("id", "ü/€&=+?#%"), ("id", "x" * 40)],
    {"tag": "things", "lastBatchSize": 32, "lastRangeAt": "", "lastMax": -1, "skip": None},
    [("key", "k"), ("many", ["1", "2"])],
])
def test_query_strings_are_written_as_requests_writes_them(params: Any) -> None:
    prepared = requests.Request("GET", "http://127.0.0.1:1/databases/db/docs",
                                params=params).prepare()
    assert prepared.url == "http://127.0.0.1:1/databases/db/docs?" + raven_http._query(params)


def test_an_id_with_a_lone_surrogate_is_a_data_error(raven_node: Any, database: str) -> None:
    session = _session([raven_node.url], database)
    try:
        with pytest.raises(errors.DataError, match="lone surrogate"):
            session.request("GET", "docs", params=[("id", "things/\ud800")], read=True)
    finally:
        session.close()


# -- replies -----------------------------------------------------------------------------------

def test_a_cached_reply_is_asked_for_with_if_none_match_and_a_304_answers_it(
        relay: Relay, database: str) -> None:
    session = _session([relay.url], database)
    try:
        _put(session, "things/1", {"name": "Zoë", "n": Decimal("12345678901234567890.5")})
        first = session.request("GET", "docs", params=[("id", "things/1")], read=True,
                                cacheable=True)
        again = session.request("GET", "docs", params=[("id", "things/1")], read=True,
                                cacheable=True)
    finally:
        session.close()
    asked, conditional = relay.of("/docs?id=things%2F1")
    assert asked.status == 200 and "If-None-Match" not in asked.headers
    assert conditional.headers["If-None-Match"] == asked.reply_headers["ETag"]
    assert conditional.status == 304
    assert again.status == 200 and again.body == first.body
    assert again.body is not first.body  # each caller gets its own objects
    (doc,) = again.body["Results"]
    assert doc["name"] == "Zoë" and doc["n"] == Decimal("12345678901234567890.5")  # exact


def test_reply_headers_are_read_whatever_their_case(relay: Relay, database: str) -> None:
    relay.lower_case = True  # "etag", as HTTP/2 and some proxies write it
    session = _session([relay.url], database)
    try:
        _put(session, "things/1", {"name": "one"})
        for _ in range(2):
            session.request("GET", "docs", params=[("id", "things/1")], read=True,
                            cacheable=True)
    finally:
        session.close()
    asked, conditional = relay.of("/docs?id=things%2F1")
    assert "etag" in asked.reply_headers
    assert conditional.headers["If-None-Match"] == asked.reply_headers["etag"]
    assert conditional.status == 304


def test_a_compressed_reply_is_read(relay: Relay, database: str) -> None:
    session = _session([relay.url], database)
    try:
        big = "x" * 20_000
        _put(session, "things/big", {"name": big})
        resp = session.request("GET", "docs", params=[("id", "things/big")], read=True)
    finally:
        session.close()
    (load,) = relay.of("/docs?id=things%2Fbig")
    assert load.reply_headers.get("Content-Encoding") == "gzip"
    assert resp.body["Results"][0]["name"] == big


def test_server_errors_carry_status_and_server_type(raven_node: Any, database: str) -> None:
    session = _session([raven_node.url], database)
    try:
        change_vector = _put(session, "things/1", {"name": "one"})
        _put(session, "things/1", {"name": "two"}, change_vector)
        with pytest.raises(errors.ConcurrencyError) as conflict:
            _put(session, "things/1", {"name": "three"}, change_vector)  # stale
        with pytest.raises(errors.NotSupportedError) as bad_query:  # RQL it can't parse
            session.request("POST", "queries", body={"Query": "from Things where"},
                            read=True)
    finally:
        session.close()
    assert conflict.value.status == 409
    assert (conflict.value.server_type or "").endswith("ConcurrencyException")
    assert bad_query.value.status == 501
    assert bad_query.value.server_type == "System.NotSupportedException"
    assert f"/databases/{database}/queries" in str(bad_query.value.url)


def test_a_missing_document_is_a_404_reply_not_an_error(raven_node: Any, database: str) -> None:
    session = _session([raven_node.url], database)
    try:
        resp = session.request("GET", "docs", params=[("id", "things/none")], read=True)
    finally:
        session.close()
    assert resp.status == 404


def test_a_reply_later_than_the_timeout_fails_within_it(
        ravendb_server_factory: Any) -> None:
    server = ravendb_server_factory("A")
    if server.real:
        pytest.skip("needs the bundled server's faults")
    session = _session([server.url], server.database, timeout=0.5)
    try:
        server.add_fault("slow", "/docs", delay=2.0)
        started = time.monotonic()
        with pytest.raises(errors.OperationalError, match="failed on every RavenDB node"):
            session.request("GET", "docs", params=[("id", "things/1")], read=True)
        assert time.monotonic() - started < 1.5
        resp = session.request("GET", "docs", params=[("id", "things/1")], read=True)
    finally:
        session.close()
    assert resp.status == 404  # the fault was used up: the same session goes on


def test_a_node_that_refuses_connections_is_skipped_and_named(raven_node: Any,
                                                              database: str) -> None:
    dead = _refused_url()
    session = _session([dead, raven_node.url], database)
    try:
        resp = session.request("GET", "docs", params=[("id", "things/1")], read=True)
        assert resp.status == 404  # answered by the second node
        assert [n.failures for n in session.cluster.nodes] == [1, 0]
    finally:
        session.close()
    alone = _session([dead], database, timeout=2)
    try:
        with pytest.raises(errors.OperationalError, match=dead):
            alone.request("GET", "docs", params=[("id", "things/1")], read=True)
    finally:
        alone.close()


# -- what a session does only when a server asks for it ----------------------------------------

def test_cookies_a_server_sets_are_sent_back(relay: Relay, database: str) -> None:
    relay.set_cookie = "route=node-a; Path=/"
    session = _session([relay.url], database)
    try:
        session.request("GET", "docs", params=[("id", "things/1")], read=True)
        session.request("GET", "docs", params=[("id", "things/2")], read=True)
    finally:
        session.close()
    first, second = relay.of("/docs")
    assert "Cookie" not in first.headers
    assert second.headers.get("Cookie") == "route=node-a"


def test_a_redirect_is_followed(relay: Relay, raven_node: Any, database: str) -> None:
    relay.redirect = "/queries"
    session = _session([relay.url], database)
    try:
        _put(session, "things/1", {"name": "one"})
        resp = session.request("POST", "queries", read=True,
                               body={"Query": "from Things where name = $n",
                                     "QueryParameters": {"n": "one"}})
    finally:
        session.close()
    redirected = relay.of("/queries")
    assert redirected and all(s.status == 307 for s in redirected)
    assert [r["name"] for r in resp.body["Results"]] == ["one"]


def test_an_http_proxy_in_the_environment_carries_the_requests(
        relay: Relay, raven_node: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", relay.url)
    conn = dbapi.connect(database, urls=[raven_node.url], timeout=10)
    try:
        cur = conn.cursor()
        cur.execute("CREATE COLLECTION things " + SPEC)
        cur.execute("INSERT INTO things (id, name) VALUES (1, 'one')")
        conn.commit()
        cur.execute("SELECT name FROM things WHERE id = 1")
        assert cur.fetchall() == [("one",)]
    finally:
        conn.close()
    loads = relay.of(f"/databases/{database}/docs")
    assert loads and all(s.target.startswith(raven_node.url) for s in loads)  # absolute URLs


# -- streamed replies --------------------------------------------------------------------------

class _StreamNode(ThreadingHTTPServer):
    """Answers a streamed query (chunked, as RavenDB streams) with one line, waits until the
    client has read it, then sends the second: a client that waited for more of the reply
    first would never see line one."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StreamHandler)
        self.first_read = threading.Event()
        self.waited_for_client = False


class _StreamHandler(BaseHTTPRequestHandler):
    server: _StreamNode
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(json.dumps({"Item": {"n": 1}}).encode() + b"\n")
        self.server.waited_for_client = self.server.first_read.wait(5)
        self._chunk(json.dumps({"Item": {"n": 2}}).encode() + b"\n")
        self._chunk(b"")
        self.close_connection = True


def test_a_streamed_reply_is_read_as_it_arrives() -> None:
    node = _StreamNode()
    threading.Thread(target=node.serve_forever, daemon=True).start()
    session = _session([f"http://127.0.0.1:{node.server_address[1]}"], "db", timeout=10)
    try:
        lines = session.stream("streams/queries", {"Query": "from Things"})
        first = next(lines)
        node.first_read.set()
        rest = list(lines)
    finally:
        session.close()
        node.shutdown()
        node.server_close()
    assert node.waited_for_client  # line one was read before line two was sent
    assert [first, *rest] == [{"Item": {"n": 1}}, {"Item": {"n": 2}}]


# -- replies that break off ----------------------------------------------------------------------

class _BrokenNode(ThreadingHTTPServer):
    """Answers every GET with a JSON reply that promises ``length`` bytes, sends ``sent`` of
    them after ``pause`` seconds, then closes the connection."""

    def __init__(self, pause: float) -> None:
        super().__init__(("127.0.0.1", 0), _BrokenHandler)
        self.pause = pause

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _BrokenHandler(BaseHTTPRequestHandler):
    server: _BrokenNode

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b'{"Results": [{"n": 1}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) + 100))
        self.end_headers()
        self.wfile.flush()
        time.sleep(self.server.pause)
        self.wfile.write(body)
        self.close_connection = True


@pytest.fixture
def broken_node(request: pytest.FixtureRequest) -> Iterator[_BrokenNode]:
    node = _BrokenNode(request.param)
    threading.Thread(target=node.serve_forever, daemon=True).start()
    yield node
    node.shutdown()
    node.server_close()


@pytest.mark.parametrize("broken_node", [0.0], indirect=True)
def test_a_reply_shorter_than_its_length_is_an_operational_error(
        broken_node: _BrokenNode) -> None:
    session = _session([broken_node.url], "db", timeout=5)
    try:
        with pytest.raises(errors.OperationalError, match=broken_node.url):
            session.request("GET", "docs", params=[("id", "things/1")], read=True)
    finally:
        session.close()


@pytest.mark.parametrize("broken_node", [1.5], indirect=True)
def test_a_reply_body_later_than_the_timeout_fails_within_it(broken_node: _BrokenNode) -> None:
    session = _session([broken_node.url], "db", timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(errors.OperationalError, match="failed on every RavenDB node"):
            session.request("GET", "docs", params=[("id", "things/1")], read=True)
    finally:
        session.close()
    assert time.monotonic() - started < 1.4
