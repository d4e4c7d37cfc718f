"""HTTP to a RavenDB cluster: topology, node choice, failover, ETag cache, TLS (on requests).

A ``Cluster`` is shared by every connection of an engine (topology, failed nodes, the HTTP
cache, HiLo ranges); each connection sends through its own ``requests.Session``. While any
connection is open, a background timer (``Maintenance``) refreshes the topology and probes
failed nodes, as RavenDB's own clients do, so no request waits for either.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import requests
import requests.adapters
import urllib3.exceptions

from ... import errors, values
from ..embedded.hilo import HiLoRegistry
from .errors import error_from_response
from .replies import Reply

CLIENT_VERSION = "7.2.0"  # RavenDB enables atomic guards for clients >= 5.2
_RETRY_STATUS = {408, 502, 503, 504}
#: Response header of servers that apply a batch once per Raft-Request-Id (the bundled one).
DEDUPE_HEADER = "Sqla-Docstore-Batch-Dedupe"
_CACHE_ENTRIES = 2048
#: the topology is fetched again this often (and whenever a reply says Refresh-Topology)
TOPOLOGY_REFRESH_SECONDS = 60.0
#: a failed node is probed (a cheap GET) this long after its failure, and preferred again
#: once it answers
HEALTH_CHECK_SECONDS = 5.0
#: the largest reply body read (bytes); a larger one fails the request, read no further
MAX_REPLY_BYTES = 256 * 1024 * 1024
#: the most documents one collection's client-side evaluation copies locally
MAX_CLIENT_SIDE_DOCUMENTS = 1_000_000
_TIMER_FLOOR = 0.05  # the background timer's shortest sleep
_CHUNK = 1 << 16  # a reply body is read this many bytes at a time


@dataclass
class Node:
    url: str
    tag: str
    failures: int = 0
    failed_at: float = 0.0  # time.monotonic() of the last failure


@dataclass
class Response:
    status: int
    body: Any
    #: the reply's headers, by name in any case (requests' own mapping of them)
    headers: Mapping[str, str] = field(default_factory=dict)
    url: str = ""  # where the request went, without the query string
    #: the body's JSON text as received (what the ETag cache keeps), when it was parsed
    text: str | None = field(default=None, repr=False)

    def reply(self, what: str) -> Reply:
        """The body, read with typed accessors that name what is malformed."""
        return Reply(self.body, what, self.status, self.url or None)


class OutcomeUnknownError(errors.OperationalError):
    """The node died after a batch was sent: it may or may not have been applied."""


class Cluster:
    """What every connection to one database of one cluster shares."""

    def __init__(
        self,
        urls: list[str],
        database: str,
        *,
        cert: str | None = None,
        ca: str | None = None,
        timeout: float = 30.0,
        read_balance: str = "none",
        topology_updates: bool = True,
    ) -> None:
        if not urls:
            raise errors.InterfaceError("RavenDB needs at least one URL")
        if read_balance not in ("none", "round_robin"):
            raise errors.InterfaceError(f"unknown read_balance {read_balance!r}")
        self.database = database
        self.cert = cert
        self.ca = ca
        self.timeout = timeout
        self.read_balance = read_balance
        self.topology_updates = topology_updates
        self.nodes = [Node(u.rstrip("/"), "?") for u in urls]
        self.topology_etag = -1
        self.lock = threading.Lock()
        self.cache: OrderedDict[str, tuple[str, str]] = OrderedDict()  # key -> (etag, JSON)
        #: the servers apply a batch at most once per request id, so a batch whose reply was
        #: lost may be resent to another node (RavenDB does this for cluster-wide batches)
        self.dedupes_batches = False
        self.hilo = HiLoRegistry()
        self.specs: dict[str, Any] = {}  # collection schemas, by name (RavenConnection)
        #: the change vector of each schema record as read or written, by lower-cased name
        self.spec_versions: dict[str, str] = {}
        #: the schemas applications map, for collections with no schema record (RavenDB
        #: makes a collection with its first document); inferred ones for the rest; names
        #: known to have no schema record (all three forgotten when the catalog changes)
        self.assumed: dict[str, Any] = {}
        self.inferred: dict[str, Any] = {}
        self.unrecorded: set[str] = set()
        #: change vector of the catalog document the specs reflect (None: there is none yet;
        #: "?": not read yet); RavenConnection checks it once per transaction
        self.catalog_cv: str | None = "?"
        #: lower-cased collection name -> its fields a write put a value of the other kind
        #: into, as the last catalog check read them (RavenConnection.mixed_of)
        self.mixed: dict[str, frozenset[str]] = {}
        #: moved (under ``lock``) by every change of the four above (RavenConnection's
        #: schema_token)
        self.schema_version = 0
        self.open_connections = 0
        self._round_robin = itertools.count()
        self._topology_known = not topology_updates
        self.topology_fetched_at = 0.0
        self.max_reply_bytes = MAX_REPLY_BYTES
        #: documents a statement evaluated on the client may copy locally (RavenConnection)
        self.max_client_side_documents = MAX_CLIENT_SIDE_DOCUMENTS
        self.maintenance = Maintenance(self)

    def __repr__(self) -> str:  # never shows certificate paths' contents, only where
        return f"<RavenDB cluster {[n.url for n in self.nodes]} database={self.database!r}>"

    def preferred(self) -> list[Node]:
        """Nodes in the order to try them: healthy ones first, the first healthy one preferred."""
        with self.lock:
            return sorted(self.nodes, key=lambda n: n.failures > 0)

    def for_read(self) -> list[Node]:
        nodes = self.preferred()
        if self.read_balance == "round_robin" and len(nodes) > 1:
            healthy = [n for n in nodes if not n.failures] or nodes
            start = next(self._round_robin) % len(healthy)
            first = healthy[start]
            nodes = [first] + [n for n in nodes if n is not first]
        return nodes

    def mark_failed(self, node: Node) -> None:
        with self.lock:
            node.failures += 1
            node.failed_at = time.monotonic()
        self.maintenance.wake()

    def connection_opened(self) -> None:
        """A connection opens: the first one starts the background timer."""
        with self.lock:
            self.open_connections += 1
            first = self.open_connections == 1
        if first and (self.topology_updates or len(self.nodes) > 1):
            self.maintenance.start()

    def connection_closed(self) -> bool:
        """A connection closes: the last one stops the timer. True for the last one."""
        with self.lock:
            self.open_connections -= 1
            last = self.open_connections == 0
        if last:
            self.maintenance.stop()
        return last

    def next_maintenance(self) -> float:
        """Seconds until the timer has work: the next topology refresh or health check."""
        now = time.monotonic()
        with self.lock:
            waits = [n.failed_at + HEALTH_CHECK_SECONDS - now for n in self.nodes if n.failures]
            if self.topology_updates and self._topology_known:
                waits.append(self.topology_fetched_at + TOPOLOGY_REFRESH_SECONDS - now)
        return max(0.0, min(waits, default=TOPOLOGY_REFRESH_SECONDS))

    def due_for_health_check(self) -> list[Node]:
        """Failed nodes whose last failure is old enough to probe them again."""
        now = time.monotonic()
        with self.lock:
            due = [n for n in self.nodes
                   if n.failures and now - n.failed_at >= HEALTH_CHECK_SECONDS]
            for node in due:
                node.failed_at = now  # one probe per interval, whoever sends it
        return due

    def mark_ok(self, node: Node) -> None:
        if node.failures:
            with self.lock:
                node.failures = 0

    def apply_topology(self, body: Any, reply: Reply | None = None) -> None:
        reply = reply or Reply(body, "topology")
        topology = reply.object()
        nodes = reply.objects(topology, "Nodes")
        if not nodes:
            raise reply.bad("'Nodes' is empty")
        etag = reply.optional(topology, "Etag", int, 0)
        urls = [reply.field(n, "Url", str).rstrip("/") for n in nodes]
        tags = [reply.optional(n, "ClusterTag", str, "?") for n in nodes]
        with self.lock:
            if etag < self.topology_etag:
                return
            known = {n.url: n for n in self.nodes}
            self.nodes = [
                Node(url, tag, known[url].failures if url in known else 0)
                for url, tag in zip(urls, tags, strict=True)
            ]
            self.topology_etag = etag
            self._topology_known = True
            self.topology_fetched_at = time.monotonic()


class HttpSession:
    """One connection's HTTP: sends a request to the cluster with failover and caching."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.http = requests.Session()
        # requests reads the environment (proxies, NO_PROXY, CA bundle, .netrc) on every
        # request, a third of a small request's CPU: it is read once per node instead
        # (``_environment``) and passed explicitly
        self.http.trust_env = False
        self._routes: dict[str, _Route] = {}  # node URL -> how requests to it go out
        self.http.headers.update({"Raven-Client-Version": CLIENT_VERSION,
                                  "User-Agent": "sqla_docstore"})
        if cluster.cert:
            self.http.cert = cluster.cert
        if cluster.ca:
            self.http.verify = cluster.ca
        self.use_cache = True

    def close(self) -> None:
        self.http.close()

    def db_path(self, endpoint: str) -> str:
        return f"/databases/{quote(self.cluster.database, safe='')}/{endpoint}"

    def ensure_topology(self) -> None:
        """The topology, fetched before the first request (and after a reply said
        Refresh-Topology); its periodic refresh is the background timer's."""
        if not self.cluster._topology_known:
            self._fetch_topology()

    def refresh_topology_if_due(self) -> None:
        cluster = self.cluster
        if not cluster.topology_updates or (
                time.monotonic() - cluster.topology_fetched_at < TOPOLOGY_REFRESH_SECONDS):
            return
        cluster.topology_fetched_at = time.monotonic()  # one refresh at a time
        try:
            self._fetch_topology()
        except errors.Error:
            pass  # a periodic refresh that fails keeps the topology known

    def _fetch_topology(self) -> None:
        failures: list[str] = []
        for node in list(self.cluster.nodes):
            try:
                resp = self._send(node, "GET", "/topology", {"name": self.cluster.database},
                                  None, {}, time.monotonic() + self.cluster.timeout)
            except errors.OperationalError as exc:
                failures.append(f"{node.url}: {exc}")
                continue
            if resp.status == 200:
                self.cluster.apply_topology(resp.body, resp.reply("topology"))
                self.cluster.dedupes_batches = resp.headers.get(DEDUPE_HEADER) == "true"
                return
            raise error_from_response(resp.status, resp.body, resp.url, str(resp.body))
        raise errors.OperationalError(
            "no RavenDB node answered the topology request: " + "; ".join(failures)
        )

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        read: bool = False,
        cacheable: bool = False,
        idempotent: bool = True,
        deduplicated: bool = False,
        parse: bool = True,
    ) -> Response:
        """Send to the database, failing over on connection errors and 408/502/503/504.

        A non-idempotent request (a batch) carries a request id. After a node dies, it is
        resent to another node only if it provably never reached the first one, or if the
        server applies each request id once (``deduplicated``: cluster-wide transactions on
        RavenDB, every batch on the bundled server); otherwise the caller gets
        OutcomeUnknownError and nothing is resent, so no batch is ever applied twice.

        With ``parse`` false, a successful reply's body is left as the bytes received.
        """
        self.ensure_topology()
        deadline = time.monotonic() + self.cluster.timeout
        path = self.db_path(endpoint)
        data = None if body is None else _encoded(body)
        headers: dict[str, str] = {}
        if self.cluster.topology_updates:
            headers["Topology-Etag"] = f'"{self.cluster.topology_etag}"'
        if not idempotent:
            # One id for every attempt, where RavenDB reads it (the query string; the header
            # for servers that read that), so a server that saw it applies the batch once.
            request_id = str(uuid.uuid4())
            headers["Raft-Request-Id"] = request_id
            params = [*_pairs(params), ("raft-request-id", request_id)]
        cache_key = None
        if cacheable:
            cache_key = f"{method} {path}?{params}#{data!r}"
            hit = self.cluster.cache.get(cache_key) if self.use_cache else None
            if hit is not None:
                headers["If-None-Match"] = f'"{hit[0]}"'
        nodes = list(self.cluster.for_read() if read else self.cluster.preferred())
        failures: list[str] = []
        maybe_applied = False  # a batch reached a node, and its outcome is not known
        for node in nodes:  # (a batch a node may have applied is resent to it too: below)
            try:
                resp = self._send(node, method, path, params, data, headers, deadline,
                                  parse)
            except _Unreachable as exc:  # never reached the node: safe to try the next one
                self.cluster.mark_failed(node)
                failures.append(f"{node.url}: {exc}")
                continue
            except _LostAfterSend as exc:
                self.cluster.mark_failed(node)
                failures.append(f"{node.url}: {exc}")
                if idempotent:
                    continue
                if deduplicated or self.cluster.dedupes_batches:
                    # The server applies a request id once: resent, it answers with what it
                    # did. Once more to this node too, after the others (a single node's
                    # connection broke; the node itself may well be up).
                    if not maybe_applied:
                        nodes.append(node)
                    maybe_applied = True
                    continue
                raise OutcomeUnknownError(
                    f"the connection to {node.url} broke after the batch was sent ({exc}); "
                    "it may or may not have been applied, and it was not resent so that it "
                    "can never be applied twice: check the data, then retry"
                ) from exc
            if resp.status in _RETRY_STATUS:
                self.cluster.mark_failed(node)
                failures.append(f"{node.url}: HTTP {resp.status}")
                if idempotent:
                    continue
                if deduplicated or self.cluster.dedupes_batches:
                    maybe_applied = True
                    continue
                # The batch reached the node (or a proxy before it): it may have been applied.
                raise OutcomeUnknownError(
                    f"{node.url} answered HTTP {resp.status} to the batch; it may or may not "
                    "have been applied, and it was not resent so that it can never be applied "
                    "twice: check the data, then retry")
            self.cluster.mark_ok(node)
            if resp.headers.get("Refresh-Topology") == "true":
                self.cluster._topology_known = False
            return self._finish(resp, node, cache_key)
        if maybe_applied:
            raise OutcomeUnknownError(
                f"{method} {path} reached a node, but no reply to it came back, also when "
                "resent: it may or may not have been applied; check the data, then retry ("
                + "; ".join(failures) + ")")
        raise errors.OperationalError(
            f"{method} {path} failed on every RavenDB node: " + "; ".join(failures)
        )

    def stream(self, endpoint: str, body: Any) -> Iterator[Any]:
        """POST a streaming read (``format=jsonl``) and yield each line's JSON value as it
        arrives, for results too many to hold: fails over before the first byte only. Each
        read of the socket is bounded by ``timeout``, not the stream as a whole."""
        self.ensure_topology()
        path = self.db_path(endpoint)
        data = _encoded(body)
        failures: list[str] = []
        for node in self.cluster.for_read():
            try:
                raw = self._call(node, "POST", path, params=[("format", "jsonl")], data=data,
                                 headers=None, timeout=self.cluster.timeout)
            except requests.exceptions.RequestException as exc:
                self.cluster.mark_failed(node)
                failures.append(f"{node.url}: {_short(exc)}")
                continue
            if raw.status_code in _RETRY_STATUS:
                raw.close()
                self.cluster.mark_failed(node)
                failures.append(f"{node.url}: HTTP {raw.status_code}")
                continue
            self.cluster.mark_ok(node)
            if raw.status_code >= 400:
                content = _read_body(raw, time.monotonic() + self.cluster.timeout,
                                     self.cluster.max_reply_bytes, node.url)
                body_value = _decode(raw.status_code, content)
                raise error_from_response(raw.status_code, body_value, node.url + path,
                                          str(body_value))
            return _json_lines(raw, node.url)
        raise errors.OperationalError(
            f"POST {path} failed on every RavenDB node: " + "; ".join(failures))

    def health_checks(self) -> None:
        """Probe failed nodes now and then (RavenDB's health check): one that answers is
        healthy again, so requests return to the preferred node."""
        for node in self.cluster.due_for_health_check():
            try:
                resp = self._send(node, "GET", self.db_path("stats"), [("failure", "check")],
                                  None, {}, time.monotonic() + min(2.0, self.cluster.timeout))
            except errors.Error:
                continue
            if resp.status < 500 and resp.status != 408:
                self.cluster.mark_ok(node)

    def _finish(self, resp: Response, node: Node, cache_key: str | None) -> Response:
        if resp.status == 304 and cache_key is not None and cache_key in self.cluster.cache:
            # Each caller gets its own objects: the cache keeps the reply as JSON text, so an
            # in-place edit by one session can never reach another.
            return Response(200, values.loads(self.cluster.cache[cache_key][1]), resp.headers)
        if resp.status == 404:
            return resp
        if resp.status >= 400:
            raise error_from_response(resp.status, resp.body, resp.url, str(resp.body))
        etag = resp.headers.get("ETag")
        if cache_key is not None and etag and resp.status == 200:
            cache = self.cluster.cache
            # the JSON text received (a reply that is not JSON is kept as a JSON string)
            text = (values.dumps(resp.body) if resp.text is None or isinstance(resp.body, str)
                    else resp.text)
            with self.cluster.lock:
                cache[cache_key] = (etag.strip('"'), text)
                cache.move_to_end(cache_key)
                while len(cache) > _CACHE_ENTRIES:
                    cache.popitem(last=False)
        return resp

    def _call(self, node: Node, method: str, path: str, *, params: Any, data: bytes | None,
              headers: dict[str, str] | None, timeout: float) -> requests.Response:
        """The request as ``requests.Session.request`` would send it, sent by the session's
        transport adapter (connection pool, TLS, client certificate, proxies) with the
        node's settings worked out once (``_Route``). What the session would do on every
        request besides (merging settings, hooks, the cookie jar, redirects) is done only
        when there is something to do: cookies once a server set one, and a redirect is
        sent again through ``Session.request``, which follows it."""
        route = self._route(node.url)
        req = requests.PreparedRequest()
        req.method = method
        query = _query(params)
        req.url = f"{route.prefix}{path}?{query}" if query else route.prefix + path
        sent = dict(route.headers)
        if headers:
            sent.update(headers)
        if data is not None:
            sent["Content-Length"] = str(len(data))
        elif method not in ("GET", "HEAD"):
            sent["Content-Length"] = "0"
        req.headers = sent  # type: ignore[assignment]  # a dict: its keys spelled as sent
        req.body = data
        jar = self.http.cookies
        if jar:
            cookie = requests.cookies.get_cookie_header(jar, req)
            if cookie:
                sent["Cookie"] = cookie
        raw = route.adapter.send(req, stream=True, timeout=timeout, verify=route.verify,
                                 cert=route.cert, proxies=route.proxies)
        if "Set-Cookie" in raw.headers:
            jar.update(raw.cookies)
        if raw.is_redirect:
            raw.close()
            return self.http.request(method, req.url, data=data, headers=headers,
                                     timeout=timeout, stream=True, verify=route.verify,
                                     cert=route.cert, proxies=route.proxies, auth=route.auth)
        return raw

    def _route(self, url: str) -> _Route:
        route = self._routes.get(url)
        if route is None:
            route = self._routes[url] = self._new_route(url)
        return route

    def _new_route(self, url: str) -> _Route:
        """How ``requests`` sends to the node at ``url``: the environment's settings for it
        (as ``requests`` reads them with ``trust_env``), the configured CA winning over them
        (requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE override a Session's own
        ``verify``), and the URL and headers of a request the session prepares for it."""
        env = _environment(url)
        template = self.http.prepare_request(requests.Request("GET", url + "/", auth=env.auth))
        headers = dict(template.headers)
        headers.pop("Cookie", None)  # the jar's cookies are added per request
        base = template.url or url + "/"
        return _Route(self.http.get_adapter(base), base[:-1], headers, env.proxies,
                      self.cluster.ca or env.verify, self.cluster.cert, env.auth)

    def _send(self, node: Node, method: str, path: str, params: Any, data: bytes | None,
              headers: dict[str, str], deadline: float, parse: bool = True) -> Response:
        url = node.url + path
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.OperationalError(
                f"{method} {path}: no answer within the {self.cluster.timeout} s timeout")
        try:
            # verify per request: requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE override
            # a Session's own ``verify``, which would silently replace the configured CA
            raw = self._call(node, method, path, params=params, data=data, headers=headers,
                             timeout=left)
            content = _read_body(raw, deadline, self.cluster.max_reply_bytes, node.url)
        except requests.exceptions.SSLError as exc:
            raise errors.OperationalError(
                f"TLS handshake with {node.url} failed (check the client certificate and the "
                f"CA bundle): {type(exc).__name__}"
            ) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.ConnectTimeout) as exc:
            if _before_send(exc):
                raise _Unreachable(_short(exc)) from exc
            raise _LostAfterSend(_short(exc)) from exc
        except requests.exceptions.Timeout as exc:
            raise _LostAfterSend(f"no answer within {self.cluster.timeout} s") from exc
        except (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            # the reply broke off after its status line: the request was received (a batch
            # was applied, or refused), and what the node answered is not known
            raise _LostAfterSend(f"the reply broke off: {_short(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise errors.OperationalError(f"request to {node.url} failed: {_short(exc)}") from exc
        except UnicodeEncodeError as exc:  # a parameter in the URL (a document id to load)
            raise _surrogate(exc, "sent to RavenDB in a URL") from exc
        except OSError as exc:
            # requests checks the cert / ca files itself and raises a bare OSError naming the
            # path; name the option instead, and drop the original (paths stay private)
            option = "ca" if "CA" in str(exc) else "cert"
            raise errors.OperationalError(
                f"the TLS file given as {option!r} does not exist or cannot be read"
            ) from None
        status = raw.status_code
        if not parse and status < 300:
            return Response(status, content, raw.headers, url)
        text = _text(status, content)
        return Response(status, _parsed(text), raw.headers, url, text)


class Maintenance:
    """A cluster's background timer, as RavenDB's clients run one: it refreshes the topology
    every TOPOLOGY_REFRESH_SECONDS and probes each failed node HEALTH_CHECK_SECONDS after its
    failure, so requests neither wait for a refresh nor probe nodes themselves, and an idle
    engine still returns to its preferred node. It runs on a daemon thread with its own HTTP
    session, touching only the cluster's shared state (under its lock), never a connection's;
    the cluster's first open connection starts it and its last one stops it."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # of the running thread (each run has its own)
        self._wake = threading.Event()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and not self._stop.is_set():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name=f"sqla_docstore-ravendb-timer-{id(self):x}",
                                            daemon=True)
            self._thread.start()

    def stop(self, wait: float = 1.0) -> None:
        """Stop the timer; waits up to ``wait`` s for a probe in flight to end."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)

    def wake(self) -> None:
        """Something changed (a node failed): compute the next due time again."""
        self._wake.set()

    def _run(self, stop: threading.Event) -> None:
        http = HttpSession(self.cluster)
        try:
            while not stop.is_set():
                self._wake.wait(max(_TIMER_FLOOR, self.cluster.next_maintenance()))
                self._wake.clear()
                if stop.is_set():
                    break
                self.tick(http)
        finally:
            http.close()

    def tick(self, http: HttpSession) -> None:
        """One round: the topology if due, then the failed nodes due for a probe."""
        try:
            if self.cluster._topology_known:
                http.refresh_topology_if_due()
            http.health_checks()
        except Exception:  # noqa: BLE001 - a timer must outlive any one failed round
            pass


@dataclass(frozen=True)
class _Route:
    """What every request to one node shares (HttpSession._new_route)."""

    adapter: requests.adapters.BaseAdapter
    prefix: str  # the node's URL as requests writes it, without a trailing slash
    headers: dict[str, str]  # the session's own, and the credentials' (basic auth)
    proxies: dict[str, str]
    verify: str | bool
    cert: str | None
    auth: tuple[str, str] | None


@dataclass(frozen=True)
class _Environment:
    """What ``requests`` takes from the environment for requests to one node."""

    proxies: dict[str, str]
    verify: str | bool
    auth: tuple[str, str] | None


def _environment(url: str) -> _Environment:
    proxies = requests.utils.get_environ_proxies(url)  # {} where NO_PROXY says so
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return _Environment(dict(proxies), verify, requests.utils.get_netrc_auth(url))


class _Unreachable(errors.OperationalError):
    pass


class _LostAfterSend(errors.OperationalError):
    pass


def _encoded(body: Any) -> bytes:
    text = values.dumps(body)
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise _surrogate(exc, "sent to RavenDB") from exc


def _surrogate(exc: UnicodeEncodeError, what: str) -> errors.DataError:
    bad = exc.object[exc.start:exc.end]
    return errors.DataError(f"text holding {bad!r} (a lone surrogate) can't be {what}")


def _before_send(exc: Exception) -> bool:
    text = repr(exc)
    return isinstance(exc, requests.exceptions.ConnectTimeout) or any(
        marker in text for marker in ("NewConnectionError", "Connection refused",
                                      "Failed to establish", "Name or service not known")
    )


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _pairs(params: dict[str, Any] | list[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    if params is None:
        return []
    return list(params.items()) if isinstance(params, dict) else list(params)


def _query(params: dict[str, Any] | list[tuple[str, Any]] | None) -> str:
    """A query string as requests writes one: ``None`` values left out, each item of a
    list value a pair of its own, text as UTF-8 (a lone surrogate: UnicodeEncodeError)."""
    if not params:
        return ""
    return urlencode([(k, v) for k, v in _pairs(params) if v is not None], doseq=True)


def _read_body(raw: requests.Response, deadline: float, limit: int, where: str) -> bytes:
    """The reply body, read within the request's deadline and size limit (a server that
    drips bytes or sends without end cannot hold the client)."""
    chunks: list[bytes] = []
    size = 0
    try:
        if _one_chunk(raw, limit):
            content = _read_all(raw)
            if time.monotonic() > deadline:
                raise requests.exceptions.Timeout("the reply did not arrive in time")
            return content
        for chunk in raw.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise errors.OperationalError(
                    f"the reply from {where} is larger than {limit} bytes: not read further")
            if time.monotonic() > deadline:
                raise requests.exceptions.Timeout("the reply did not arrive in time")
            chunks.append(chunk)
    finally:
        raw.close()
    return b"".join(chunks)


def _one_chunk(raw: requests.Response, limit: int) -> bool:
    """A reply not compressed whose length, known, is at most one chunk (and the limit): it
    is read in one call, as its one chunk would be."""
    length = getattr(raw.raw, "length_remaining", None)
    return (length is not None and length <= min(_CHUNK, limit)
            and "Content-Encoding" not in raw.headers)


def _read_all(raw: requests.Response) -> bytes:
    """The rest of the reply, with the errors ``iter_content`` raises for what breaks."""
    try:
        content: bytes = raw.raw.read()
        return content
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def _json_lines(raw: requests.Response, where: str) -> Iterator[Any]:
    """The JSON value of each non-empty line of a streamed reply; the reply closes when the
    lines run out or the consumer stops."""
    try:
        for line in raw.iter_lines(chunk_size=1 << 16):
            if not line.strip():
                continue
            try:
                yield values.loads(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise errors.OperationalError(
                    f"{where} sent a stream line that is not JSON: {line[:200]!r}") from exc
    except requests.exceptions.RequestException as exc:
        raise errors.OperationalError(
            f"the stream from {where} broke off: {_short(exc)}") from exc
    finally:
        raw.close()


def _decode(status: int, content: bytes) -> Any:
    return _parsed(_text(status, content))


def _text(status: int, content: bytes) -> str | None:
    if status in (204, 304) or not content:
        return None
    return content.decode("utf-8", errors="replace")


def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:  # exact numbers: decimals with more digits than a float, beyond a float's range
        return values.loads(text)
    except (ValueError, RecursionError):
        return text  # not JSON (or nested beyond reading): the caller reports it


#: a reply body's JSON value, for a caller that asked for the bytes (``parse=False``)
decode_reply = _decode
