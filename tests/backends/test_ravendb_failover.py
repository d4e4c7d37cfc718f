"""Failover on a three-node cluster: a node dies under concurrent commits and queries, a reply is
lost after a batch was applied; no commit is lost or applied twice, every failure is clear."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import pytest
import requests
import requests.adapters
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import errors
from sqla_docstore.backends.ravendb.connection import SCHEMA_COLLECTION, schema_id
from sqla_docstore.backends.ravendb.http import OutcomeUnknownError


class Base(DeclarativeBase):
    pass


class Entry(Base):
    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(primary_key=True)  # HiLo
    number: Mapped[int]  # unique per commit: a commit applied twice would show it twice
    thread: Mapped[int]


class Sent(NamedTuple):
    """A request as the client sent it, and what came of it."""

    started: int  # the order in which requests were started
    method: str
    url: str
    headers: dict[str, str]
    outcome: str  # the HTTP status, or the exception's class name


class Wire:
    """Every request the backend sends (requests' transport), in order, from all threads."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.lock = threading.Lock()
        self.started = itertools.count()

    def of(self, path: str) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if path in s.url]


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    log = Wire()
    original = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        started = next(log.started)
        try:
            reply = original(self, request, *args, **kwargs)
        except Exception as exc:
            with log.lock:
                log.sent.append(Sent(started, request.method, request.url,
                                     dict(request.headers), type(exc).__name__))
            raise
        with log.lock:
            log.sent.append(Sent(started, request.method, request.url, dict(request.headers),
                                 str(reply.status_code)))
        return reply

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return log


@pytest.fixture
def cluster(ravendb_server_factory: Any) -> Any:
    server = ravendb_server_factory("A,B,C")
    if server.real:
        pytest.skip("stopping nodes and injecting faults needs the bundled server")
    return server


def _engine(server: Any) -> sa.Engine:
    host = server.url.split("://", 1)[1]
    eng = sa.create_engine(f"ravendb://{host}/{server.database}?timeout=10",
                           connect_args={"urls": server.urls})
    Base.metadata.create_all(eng)
    return eng


def _backend_cluster(engine: sa.Engine) -> Any:
    with engine.connect() as conn:
        return conn.connection.driver_connection.backend.cluster  # type: ignore[union-attr]


def _numbers(engine: sa.Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(sa.select(Entry.number)))


def _assert_clear(exc: BaseException) -> None:
    """A failure the user can act on: SQLAlchemy's wrapper around one of our errors."""
    assert isinstance(exc, sa.exc.DBAPIError), repr(exc)
    assert isinstance(exc.orig, errors.Error), repr(exc.orig)
    message = str(exc.orig)
    assert message and "Traceback" not in message


THREADS = 4
COMMITS = 25  # per thread
STOP_AFTER = 30  # successful commits in all, then the node in use is stopped


def test_node_in_use_dies_under_concurrent_commits_and_queries(cluster: Any,
                                                                 wire: Wire) -> None:
    engine = _engine(cluster)
    raven = _backend_cluster(engine)
    succeeded: set[int] = set()
    failed: dict[int, BaseException] = {}
    read_errors: list[BaseException] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    enough = threading.Event()
    stopped = threading.Event()
    reads_after_stop = [0]

    def worker(thread: int) -> None:
        try:
            for i in range(COMMITS):
                number = thread * 1000 + i
                with Session(engine) as session:
                    session.add(Entry(number=number, thread=thread))
                    try:
                        session.commit()
                    except sa.exc.SQLAlchemyError as exc:
                        with lock:
                            failed[number] = exc
                    else:
                        with lock:
                            succeeded.add(number)
                            if len(succeeded) >= STOP_AFTER:
                                enough.set()
                with Session(engine) as session:
                    after_stop = stopped.is_set()
                    try:
                        mine = set(session.scalars(
                            sa.select(Entry.number).where(Entry.thread == thread)))
                    except sa.exc.SQLAlchemyError as exc:
                        with lock:
                            read_errors.append(exc)
                        continue
                    with lock:
                        ok = {n for n in succeeded if n // 1000 == thread}
                        reads_after_stop[0] += after_stop
                    assert ok <= mine, f"thread {thread} cannot read its commits {ok - mine}"
        except BaseException as exc:  # surfaced by the main thread
            unexpected.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    enough.wait(timeout=120)
    in_use = raven.preferred()[0]
    # hold the next batches on that node, so that the stop catches commits in flight (the
    # held batches are applied after the node "died", when the client has already resent)
    held = cluster.add_fault("slow", "bulk_docs", node=in_use.tag, times=THREADS, delay=0.5)
    for _ in range(3000):
        if held.times < THREADS or not any(t.is_alive() for t in threads):
            break
        time.sleep(0.01)
    first_after = next(wire.started)  # requests started later than this see the node dead
    cluster.stop_node(in_use.tag)
    stopped.set()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert not unexpected, unexpected
    assert enough.is_set()

    # the stopped node was the one in use: every request went to it before
    assert in_use.tag == "A"
    assert {s.url.split("/databases")[0] for s in wire.sent
            if "/databases/" in s.url and s.started < first_after} == {in_use.url}
    # reads went on, on the other nodes
    after = [s for s in wire.sent if s.started > first_after]
    served = {s.url.split("/databases")[0] for s in after
              if s.url.endswith("/queries") and s.outcome in ("200", "304")}
    assert served and in_use.url not in served
    assert reads_after_stop[0] > 0
    # batches were in flight when the node died; each was resent, with its request id
    batches = wire.of("/bulk_docs")
    lost = [s for s in batches if s.outcome == "ConnectionError"]
    assert lost and all(s.url.startswith(in_use.url) for s in lost)
    for s in lost:
        resent = [r for r in batches if r.started > s.started
                  and r.headers["Raft-Request-Id"] == s.headers["Raft-Request-Id"]]
        assert [r.outcome for r in resent] == ["201"]

    numbers = _numbers(engine)
    present = set(numbers)
    assert len(numbers) == len(present), "a commit was applied twice"
    assert succeeded <= present, f"lost commits: {sorted(succeeded - present)}"
    assert len(succeeded) + len(failed) == THREADS * COMMITS
    for number, exc in failed.items():
        _assert_clear(exc)
        # a commit reported as failed was not applied, unless the error says it may have been
        if not isinstance(exc.orig, OutcomeUnknownError):  # type: ignore[attr-defined]
            assert number not in present, f"{number} failed ({exc}) but was applied"
    for exc in read_errors:
        _assert_clear(exc)
    # this cluster deduplicates batches, so a dying node costs no commit at all
    assert present == succeeded, {n: str(e) for n, e in failed.items()}
    engine.dispose()


def _cv_counter(server: Any, doc_id: str) -> int:
    reply = requests.get(f"{server.url}/databases/{server.database}/docs",
                         params={"id": doc_id}, timeout=10)
    cv = reply.json()["Results"][0]["@metadata"]["@change-vector"]
    return max(int(n) for n in re.findall(r":(\d+)-", cv))


def test_reply_lost_after_the_batch_was_applied_is_resent_once(cluster: Any,
                                                                wire: Wire) -> None:
    engine = _engine(cluster)
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        session.commit()
    counter = _cv_counter(cluster, "entries/1")
    cluster.clear_requests()
    # node A applies the next batch, then the connection drops before the reply
    cluster.add_fault("drop_after", "bulk_docs")
    with Session(engine) as session:
        entry = session.get(Entry, 1)
        assert entry is not None
        entry.thread = 7  # a PATCH: applying it twice would bump the change vector twice
        session.commit()  # succeeds: resent to node B, which answers from its record
    assert _cv_counter(cluster, "entries/1") == counter + 1

    batches = [r for r in cluster.requests if r.path.endswith("/bulk_docs")]
    assert len(batches) == 2 and batches[0].body == batches[1].body
    sent = wire.of("/bulk_docs")[-2:]
    assert [s.outcome for s in sent] == ["ConnectionError", "201"]
    assert sent[0].url != sent[1].url  # the resend went to another node
    request_ids = [s.headers.get("Raft-Request-Id") for s in sent]
    assert request_ids[0] and request_ids[0] == request_ids[1]

    cluster.add_fault("drop_after", "bulk_docs")
    with Session(engine) as session:
        session.add(Entry(number=2, thread=0))  # a PUT that must not exist: twice = 409
        session.commit()
    with Session(engine) as session:
        rows = session.execute(sa.select(Entry.number, Entry.thread).order_by(Entry.number))
        assert [tuple(r) for r in rows] == [(1, 7), (2, 0)]
    assert len([r for r in cluster.requests if r.path.endswith("/bulk_docs")]) == 4
    engine.dispose()


def test_every_batch_carries_a_fresh_request_id(cluster: Any, wire: Wire) -> None:
    engine = _engine(cluster)
    for n in range(3):
        with Session(engine) as session:
            session.add(Entry(number=n, thread=0))
            session.commit()
    ids = [s.headers.get("Raft-Request-Id") for s in wire.of("/bulk_docs")]
    assert all(ids) and len(set(ids)) == len(ids)
    reads = [s for s in wire.sent if "/bulk_docs" not in s.url]
    assert not any("Raft-Request-Id" in s.headers for s in reads)
    engine.dispose()


# -- a cluster that does not deduplicate batches (as RavenDB for single-node batches) -------

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                   {"name": "number", "type": "INTEGER", "nullable": False},
                   {"name": "thread", "type": "INTEGER", "nullable": False}],
        "primary_key": ["id"], "autoincrement": "id"}


class PlainNode(ThreadingHTTPServer):
    """A node without the dedupe header; ``drop`` batches are applied, then the reply lost."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PlainHandler)
        self.peers: list[PlainNode] = []
        self.drop = 0
        self.cut = 0  # batches applied, then answered with the headers and half the body
        self.batches: list[tuple[str | None, Any]] = []  # (Raft-Request-Id, body)
        self.paths: list[str] = []  # every request's path and query, in order
        self.headers_seen: list[dict[str, str]] = []
        self.batch_status: int | None = None  # answer batches with this status (applied)
        self.reads_status: int | None = None  # answer GET /docs with this status
        self.docs_padding = 0  # bytes of padding in GET /docs replies
        self.drip_seconds = 0.0  # pause between the chunks of a GET /docs reply
        self.topology_delay = 0.0  # seconds GET /topology takes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PlainHandler(BaseHTTPRequestHandler):
    server: PlainNode

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.paths.append(self.path)
        self.server.headers_seen.append(dict(self.headers))
        if self.path.startswith("/databases/db/docs") and self.server.reads_status:
            self._json(self.server.reads_status, {"Type": "Error", "Message": "unavailable"})
        elif self.path.startswith("/databases/db/docs") and self.server.drip_seconds:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            for part in ('{"Results": ', "[]", "}"):
                self.wfile.write(part.encode())
                self.wfile.flush()
                time.sleep(self.server.drip_seconds)
            self.close_connection = True
        elif self.path.startswith("/databases/db/stats"):
            self._json(200, {"CountOfDocuments": 0})
        elif self.path.startswith("/topology"):
            time.sleep(self.server.topology_delay)
            nodes = [{"Url": n.url, "ClusterTag": tag, "Database": "db", "ServerRole": "Member"}
                     for n, tag in zip(self.server.peers, "ABC", strict=False)]
            self._json(200, {"Nodes": nodes, "Etag": 1})
        elif self.path.startswith("/databases/db/hilo/next"):
            self._json(201, {"Prefix": "entries/", "Low": 1, "High": 32, "LastSize": 32,
                             "ServerTag": "A", "LastRangeAt": "2024-01-01T00:00:00.0000000Z"})
        elif self.path.startswith("/databases/db/docs") and "collections%2Fentries" not in (
                self.path):
            self._json(404, {"Results": []})  # no such document
        elif self.path.startswith("/databases/db/docs"):
            doc = {"name": "entries", "spec": SPEC,
                   "@metadata": {"@id": schema_id("entries"), "@change-vector": "A:1-x",
                                 "@collection": SCHEMA_COLLECTION}}
            self._json(200, {"Results": [doc], "Padding": "x" * self.server.docs_padding})
        else:
            self._json(404, {"Type": "Error", "Message": "not here"})

    def do_POST(self) -> None:  # noqa: N802
        self.server.paths.append(self.path)
        self.server.headers_seen.append(dict(self.headers))
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if not self.path.startswith("/databases/db/bulk_docs"):
            self._json(404, {"Type": "Error", "Message": "not here"})
            return
        self.server.batches.append((self.headers.get("Raft-Request-Id"), body))
        if self.server.drop:
            self.server.drop -= 1
            self.close_connection = True
            self.connection.shutdown(2)  # applied, but the reply never leaves
            return
        if self.server.batch_status:
            self._json(self.server.batch_status, {"Type": "Error", "Message": "busy"})
            return
        results = [{"Type": "PUT", "@id": c["Id"], "@change-vector": "A:2-x"}
                   for c in body["Commands"]]
        if self.server.cut:
            self.server.cut -= 1
            data = json.dumps({"Results": results}).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._json(201, {"Results": results})


@pytest.fixture
def plain_nodes() -> Iterator[list[PlainNode]]:
    nodes = [PlainNode(), PlainNode()]
    for node in nodes:
        node.peers = nodes
        threading.Thread(target=node.serve_forever, daemon=True).start()
    yield nodes
    for node in nodes:
        node.shutdown()
        node.server_close()


def test_without_deduplication_a_lost_reply_is_outcome_unknown_and_not_resent(
    plain_nodes: list[PlainNode],
) -> None:
    first, second = plain_nodes
    host = first.url.split("://", 1)[1]
    engine = sa.create_engine(f"ravendb://{host}/db?timeout=5",
                              connect_args={"urls": [n.url for n in plain_nodes]})
    first.drop = 1
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        with pytest.raises(sa.exc.OperationalError) as info:
            session.commit()
        assert isinstance(info.value.orig, OutcomeUnknownError)
        assert "may or may not have been applied" in str(info.value.orig)
        assert first.url in str(info.value.orig)
        session.rollback()
    assert len(first.batches) == 1 and second.batches == []  # never resent
    assert first.batches[0][0]  # it carried a request id all the same
    with Session(engine) as session:  # usable afterwards: the next commit goes elsewhere
        session.add(Entry(number=2, thread=0))
        session.commit()
    assert len(first.batches) == 1 and len(second.batches) == 1
    assert second.batches[0][1]["Commands"][0]["Document"]["number"] == 2
    engine.dispose()


def test_without_deduplication_a_reply_cut_off_is_outcome_unknown_and_not_resent(
    plain_nodes: list[PlainNode],
) -> None:
    """The batch's reply broke off after its status line: the node had it (and applied it),
    so the commit is no plain failure (which invites a retry that applies it twice)."""
    first, second = plain_nodes
    first.cut = 1
    engine = _plain_engine(plain_nodes)
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        with pytest.raises(sa.exc.OperationalError) as info:
            session.commit()
        assert isinstance(info.value.orig, OutcomeUnknownError)
        assert "may or may not have been applied" in str(info.value.orig)
    assert len(first.batches) == 1 and second.batches == []  # never resent
    engine.dispose()


@pytest.fixture
def single_node(ravendb_server_factory: Any) -> Any:
    server = ravendb_server_factory("A")
    if server.real:
        pytest.skip("injecting faults needs the bundled server")
    return server


def _thread_of_entry_1(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(Entry.thread).where(Entry.id == 1)))


@pytest.mark.parametrize("fault", ["drop_after", "cut"])
def test_a_lost_reply_from_a_single_node_is_resent_to_it_and_applied_once(
        single_node: Any, fault: str) -> None:
    """One node, which applies a request id once: the batch whose reply was lost (none came,
    or it broke off) is resent to that node, which answers with what it did. It was reported
    as failed on every node, though applied (a retry by the caller applied it twice)."""
    engine = _engine(single_node)
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        session.commit()
    single_node.add_fault(fault, "bulk_docs")
    with engine.begin() as conn:
        conn.execute(sa.update(Entry).where(Entry.id == 1).values(thread=Entry.thread + 1))
    assert _thread_of_entry_1(engine) == 1
    batches = [r for r in single_node.requests if r.path.endswith("/bulk_docs")]
    assert batches[-2].body == batches[-1].body and batches[-1].body["Commands"][0][
        "Type"] == "PATCH"  # the update, sent twice (the one before: the insert)
    engine.dispose()


def test_a_reply_lost_again_when_resent_is_outcome_unknown(single_node: Any) -> None:
    engine = _engine(single_node)
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        session.commit()
    single_node.add_fault("drop_after", "bulk_docs", times=2)
    with pytest.raises(sa.exc.OperationalError) as info, engine.begin() as conn:
        conn.execute(sa.update(Entry).where(Entry.id == 1).values(thread=Entry.thread + 1))
    assert isinstance(info.value.orig, OutcomeUnknownError)
    assert "may or may not have been applied" in str(info.value.orig)
    assert _thread_of_entry_1(engine) == 1  # applied once, whatever the client could know
    engine.dispose()


def _plain_engine(nodes: list[PlainNode], timeout: float = 5) -> sa.Engine:
    host = nodes[0].url.split("://", 1)[1]
    return sa.create_engine(f"ravendb://{host}/db?timeout={timeout}",
                            connect_args={"urls": [n.url for n in nodes]})


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_a_batch_answered_with_a_retry_status_is_outcome_unknown_not_resent(
    plain_nodes: list[PlainNode], status: int,
) -> None:
    first, second = plain_nodes
    first.batch_status = status  # the node (or a proxy) got the batch: applied or not
    engine = _plain_engine(plain_nodes)
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        with pytest.raises(sa.exc.OperationalError) as info:
            session.commit()
        assert isinstance(info.value.orig, OutcomeUnknownError)
        assert f"HTTP {status}" in str(info.value.orig)
    assert len(first.batches) == 1 and second.batches == []
    engine.dispose()


def test_the_request_id_is_in_the_query_string_and_the_same_on_every_attempt(
    plain_nodes: list[PlainNode],
) -> None:
    first, second = plain_nodes
    first.drop = 1
    engine = _plain_engine(plain_nodes)
    with Session(engine) as session:
        session.add(Entry(number=1, thread=0))
        with pytest.raises(sa.exc.OperationalError):
            session.commit()
    batch_path = next(p for p in first.paths if "/bulk_docs" in p)
    (query_id,) = re.findall(r"raft-request-id=([0-9a-f-]+)", batch_path)
    assert query_id == first.batches[0][0]  # the header says the same
    engine.dispose()


def test_requests_send_the_topology_etag(plain_nodes: list[PlainNode]) -> None:
    engine = _plain_engine(plain_nodes)
    with Session(engine) as session:
        session.get(Entry, 1)
    sent = [h for p, h in zip(plain_nodes[0].paths, plain_nodes[0].headers_seen, strict=True)
            if "/databases/db/docs" in p]
    assert sent and all(h.get("Topology-Etag") == '"1"' for h in sent)
    engine.dispose()


def _until(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_topology_is_refreshed_by_a_background_timer(
        plain_nodes: list[PlainNode], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore.backends.ravendb import http

    monkeypatch.setattr(http, "TOPOLOGY_REFRESH_SECONDS", 0.2)
    engine = _plain_engine(plain_nodes)
    conn = engine.connect()
    Session(bind=conn).get(Entry, 1)
    backend = conn.connection.dbapi_connection.backend
    counted = dict(backend.counts)
    fetched = sum(p.startswith("/topology") for n in plain_nodes for p in n.paths)
    # no request is made meanwhile: the refreshes are the timer's
    assert _until(lambda: sum(p.startswith("/topology") for n in plain_nodes
                              for p in n.paths) >= fetched + 2)
    assert dict(backend.counts) == counted  # nothing counted on the connection
    conn.close()
    timer = _backend_cluster(engine).maintenance._thread
    assert timer is not None and timer.is_alive() and timer.daemon
    engine.dispose()


def test_a_request_does_not_wait_for_a_due_refresh(
        plain_nodes: list[PlainNode], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore.backends.ravendb import http

    engine = _plain_engine(plain_nodes)
    with Session(engine) as session:
        session.get(Entry, 1)
    for node in plain_nodes:
        node.topology_delay = 1.5
    monkeypatch.setattr(http, "TOPOLOGY_REFRESH_SECONDS", 0.0)
    _backend_cluster(engine).maintenance.wake()
    assert _until(lambda: sum(p.startswith("/topology") for n in plain_nodes
                              for p in n.paths) >= 2)  # a slow refresh is under way
    started = time.monotonic()
    with Session(engine) as session:
        session.get(Entry, 2)
    assert time.monotonic() - started < 1.0  # inline, it would have waited 1.5 s
    monkeypatch.setattr(http, "TOPOLOGY_REFRESH_SECONDS", 60.0)
    engine.dispose()


def test_a_failed_node_is_health_checked_in_the_background_and_preferred_again(
    plain_nodes: list[PlainNode], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqla_docstore.backends.ravendb import http

    monkeypatch.setattr(http, "HEALTH_CHECK_SECONDS", 0.3)
    first, second = plain_nodes
    engine = _plain_engine(plain_nodes)
    first.reads_status = 503
    with Session(engine) as session:
        session.get(Entry, 1)  # fails over to the second node
    assert any("/docs" in p for p in second.paths)
    first.reads_status = None
    # without any request, the timer probes the first node and it is preferred again
    assert _until(lambda: any(p.startswith("/databases/db/stats?failure=check")
                              for p in first.paths))
    cluster = _backend_cluster(engine)
    assert _until(lambda: not any(n.failures for n in cluster.nodes))
    before = len(first.paths), len(second.paths)
    with Session(engine) as session:
        session.get(Entry, 3)
    assert any("/docs" in p for p in first.paths[before[0]:])  # back on the preferred node
    assert not any("/docs" in p for p in second.paths[before[1]:])
    engine.dispose()


def test_a_node_still_down_is_probed_every_interval_not_continuously(
    plain_nodes: list[PlainNode], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqla_docstore.backends.ravendb import http

    monkeypatch.setattr(http, "HEALTH_CHECK_SECONDS", 0.25)
    first, _ = plain_nodes
    engine = _plain_engine(plain_nodes)
    with Session(engine) as session:
        session.get(Entry, 1)
    cluster = _backend_cluster(engine)
    down = next(n for n in cluster.nodes if n.url == first.url)
    cluster.mark_failed(down)  # as a failed request would
    first.paths.clear()
    real_send = http.HttpSession._send

    def refused(self: Any, node: Any, *args: Any, **kwargs: Any) -> Any:
        if node.url == first.url:
            first.paths.append("probe")  # the node is down: the probe fails
            raise http._Unreachable("connection refused")
        return real_send(self, node, *args, **kwargs)

    monkeypatch.setattr(http.HttpSession, "_send", refused)
    time.sleep(1.2)
    probes = first.paths.count("probe")
    assert 2 <= probes <= 6  # about one per 0.25 s
    assert down.failures  # still failed
    engine.dispose()


def test_the_timer_stops_with_the_engines_last_connection(
        plain_nodes: list[PlainNode], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore.backends.ravendb import http

    monkeypatch.setattr(http, "TOPOLOGY_REFRESH_SECONDS", 0.1)
    engine = _plain_engine(plain_nodes)
    cluster = _backend_cluster(engine)  # its connection goes back to the pool, still open
    timer = cluster.maintenance._thread
    assert timer is not None and cluster.maintenance.running
    engine.dispose()  # the pool closes it: the last connection stops the timer
    assert not cluster.maintenance.running and not timer.is_alive()
    sent = sum(len(n.paths) for n in plain_nodes)
    time.sleep(0.4)
    assert sum(len(n.paths) for n in plain_nodes) == sent


def test_a_reply_larger_than_the_limit_is_refused(plain_nodes: list[PlainNode]) -> None:
    engine = _plain_engine(plain_nodes)
    with engine.connect() as conn:
        conn.connection.dbapi_connection.backend.cluster.max_reply_bytes = 4096
    for node in plain_nodes:
        node.docs_padding = 10_000
    with Session(engine) as session, pytest.raises(sa.exc.OperationalError) as info:
        session.get(Entry, 1)
    assert "larger than 4096 bytes" in str(info.value.orig)
    engine.dispose()


def test_a_reply_that_drips_past_the_timeout_fails_within_it(
        plain_nodes: list[PlainNode]) -> None:
    for node in plain_nodes:
        node.drip_seconds = 0.6  # each chunk in time, the whole reply not
    engine = _plain_engine(plain_nodes, timeout=1)
    started = time.monotonic()
    with Session(engine) as session, pytest.raises(sa.exc.OperationalError):
        session.get(Entry, 1)
    assert time.monotonic() - started < 4  # bounded: not 3 chunks x 2 nodes of waiting
    engine.dispose()
