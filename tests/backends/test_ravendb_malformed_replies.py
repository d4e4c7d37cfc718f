"""A RavenDB server answering with the wrong shapes: every reply the backend reads is checked,
the error is a PEP 249 one naming the reply and the part that is wrong, and every error the
server reports carries ``status``, ``server_type`` and ``url`` (without credentials)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.ravendb.connection import (
    CATALOG_ID,
    SCHEMA_COLLECTION,
    schema_id,
)
from sqla_docstore.backends.ravendb.http import OutcomeUnknownError

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                   {"name": "name", "type": "VARCHAR", "nullable": True}],
        "primary_key": ["id"], "autoincrement": "id", "unique": [["name"]]}


def _doc(doc_id: str, body: dict[str, Any], collection: str) -> dict[str, Any]:
    return {**body, "@metadata": {"@id": doc_id, "@change-vector": "A:1-x",
                                  "@collection": collection}}


class FakeRaven(ThreadingHTTPServer):
    """Well-formed answers unless ``replies[endpoint]`` says otherwise."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: dict[str, tuple[int, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def default(self, endpoint: str) -> tuple[int, Any]:
        if endpoint == "topology":
            return 200, {"Nodes": [{"Url": self.url, "ClusterTag": "A", "Database": "db"}],
                         "Etag": 1}
        if endpoint == "schema":
            schema = _doc(schema_id("things"), {"name": "things", "spec": SPEC},
                          SCHEMA_COLLECTION)
            return 200, {"Results": [schema]}
        if endpoint == "catalog":  # no schema change recorded yet
            return 200, {"Results": [None]}
        if endpoint == "docs":  # no such document (the id checks of cluster-wide batches)
            return 200, {"Results": [None]}
        if endpoint == "queries":
            return 200, {"Results": [_doc("things/1", {"id": 1, "name": "a"}, "Things")],
                         "TotalResults": 1}
        if endpoint == "hilo":
            return 200, {"Prefix": "things/", "Low": 1, "High": 32, "LastSize": 32}
        if endpoint == "cmpxchg":
            return 200, {"Results": []}
        return 201, {"Results": [{"Type": "PUT", "@id": "things/1",
                                  "@change-vector": "A:2-x"}]}


class _Handler(BaseHTTPRequestHandler):
    server: FakeRaven

    def log_message(self, *args: Any) -> None:
        pass

    def _endpoint(self) -> str:
        url = urlsplit(self.path)
        if url.path.startswith("/topology"):
            return "topology"
        name = url.path.rsplit("/", 1)[-1]
        if name == "docs":
            ids = parse_qs(url.query).get("id", [""])
            if ids[0] == CATALOG_ID:
                return "catalog"
            return "schema" if ids[0].startswith("sqla_docstore/") else "docs"
        return {"next": "hilo"}.get(name, name)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        endpoint = self._endpoint()
        status, body = self.server.replies.get(endpoint) or self.server.default(endpoint)
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - http.server's naming


@pytest.fixture
def fake() -> Iterator[FakeRaven]:
    server = FakeRaven()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _select(conn: dbapi.Connection) -> None:
    conn.cursor().execute("SELECT things.id, things.name FROM things WHERE things.id > :n",
                          {"n": 0})


def _count(conn: dbapi.Connection) -> None:
    conn.cursor().execute("SELECT count(*) FROM things")


def _load(conn: dbapi.Connection) -> None:
    conn.cursor().execute("SELECT things.id, things.name FROM things WHERE things.id = :i",
                          {"i": 1})


def _insert(conn: dbapi.Connection) -> None:
    conn.cursor().execute("INSERT INTO things (name) VALUES (:n)", {"n": "b"})


def _commit(conn: dbapi.Connection) -> None:
    _insert(conn)
    conn.commit()


MALFORMED = {
    "topology is a list": ("topology", [], _select, "topology", "should be a JSON object"),
    "topology without Nodes": ("topology", {"Etag": 1}, _select, "topology", "'Nodes' is missing"),
    "node without Url": ("topology", {"Nodes": [{"ClusterTag": "A"}]}, _select, "topology",
                         "'Url' is missing"),
    "Etag not a number": ("topology", {"Nodes": [{"Url": "http://x"}], "Etag": "7"}, _select,
                          "topology", "'Etag' should be a JSON integer"),
    "catalog Results an object": ("catalog", {"Results": {}}, _select, "catalog load",
                                  "'Results' should be a JSON array"),
    "catalog without a change vector": ("catalog", {"Results": [{"@metadata": {}}]}, _select,
                                        "catalog load", "no change vector"),
    "schema Results an object": ("schema", {"Results": {}}, _select, "schema load",
                                 "'Results' should be a JSON array"),
    "schema Results empty": ("schema", {"Results": []}, _select, "schema load",
                             "'Results' is empty"),
    "schema spec a number": ("schema", {"Results": [{"spec": 3}]}, _select, "schema load",
                             "'spec' should be a JSON object, not integer 3"),
    "schema spec malformed": ("schema", {"Results": [{"spec": {"fields": 3}}]}, _select,
                              "schema load", "'fields' must be a list"),
    "query reply a list": ("queries", [1, 2], _select, "query", "should be a JSON object"),
    "query item a number": ("queries", {"Results": [1]}, _select, "query",
                            "an item of 'Results' should be a JSON object"),
    "query document without id": ("queries", {"Results": [{"name": "a"}]}, _select, "",
                                  "without @metadata.@id"),
    "count not a number": ("queries", {"Results": [], "TotalResults": "many"}, _count, "query",
                           "'TotalResults' should be a JSON integer"),
    "load item a string": ("docs", {"Results": ["things/1"]}, _load, "load",
                           "an item of 'Results'"),
    "change vector a number": ("docs", {"Results": [{"@metadata": {"@id": "things/1",
                                                                   "@change-vector": 5}}]},
                               _load, "", "change vector that is not a string"),
    "hilo Low a string": ("hilo", {"Low": "1", "High": 32}, _insert, "hilo",
                          "'Low' should be a JSON integer, not string '1'"),
    "hilo without High": ("hilo", {"Low": 1}, _insert, "hilo", "'High' is missing"),
    "hilo range reversed": ("hilo", {"Low": 9, "High": 3}, _insert, "hilo", "no range of ids"),
    "cmpxchg item without Key": ("cmpxchg", {"Results": [{"Index": 3, "Value": {"Object": 1}}]},
                                 _commit, "compare-exchange", "'Key' is missing"),
    "batch Results a number": ("bulk_docs", {"Results": 5}, _commit, "batch",
                               "'Results' should be a JSON array, not integer 5"),
    "batch reply not JSON": ("bulk_docs", "<html>ok</html>", _commit, "batch",
                             "should be a JSON object, not string"),
    # an insert-only commit does not parse the results it does not read, but checks their shape
    "batch reply cut short": ("bulk_docs", '{"Results":[{"Type":"PUT"}', _commit, "batch",
                              "should be a JSON object, not string"),
    "batch Results an object": ("bulk_docs", '{"Results":{"Type":"PUT"}}', _commit, "batch",
                                "'Results' should be a JSON array"),
    "batch Results missing": ("bulk_docs", '{"Other":[]}', _commit, "batch",
                              "'Results' is missing"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_reply_is_an_operational_error_naming_what_is_wrong(
    fake: FakeRaven, case: str
) -> None:
    endpoint, body, action, reply_name, problem = MALFORMED[case]
    if endpoint == "cmpxchg":  # the insert's HiLo range comes first, then the unique check
        fake.replies["hilo"] = fake.default("hilo")
    fake.replies[endpoint] = (201 if endpoint == "bulk_docs" else 200, body)
    # (unique values checked at commit only: the insert's query of its unique value would
    # get the fake's canned query reply)
    conn = dbapi.connect("db", urls=[fake.url], timeout=5, unique_checks="commit")
    try:
        with pytest.raises(errors.OperationalError) as caught:
            action(conn)
    finally:
        conn.close()
    message = str(caught.value)
    assert problem in message
    if endpoint == "bulk_docs":  # the server said it applied it: a retry would apply it twice
        assert isinstance(caught.value, OutcomeUnknownError)
        assert "most likely applied" in message
    if reply_name:
        assert f"malformed {reply_name} reply" in message
        assert caught.value.status in (200, 201)
        assert caught.value.url is not None and caught.value.url.startswith(fake.url)


SERVER_ERRORS = {
    "500 RavenDB error": (500, {"Type": "Raven.Server.Documents.SomethingException",
                                "Message": "boom"}, errors.OperationalError),
    "400 invalid query": (400, {"Type": "Raven.Client.Exceptions.InvalidQueryException",
                                "Message": "bad RQL"}, errors.ProgrammingError),
    "409 concurrency": (409, {"Type": "Raven.Client.Exceptions.ConcurrencyException",
                              "Message": "Document things/1 has change vector A:3"},
                        errors.ConcurrencyError),
    "500 HTML": (500, "<h1>Internal Server Error</h1>", errors.OperationalError),
}


@pytest.mark.parametrize("case", list(SERVER_ERRORS))
def test_server_errors_carry_status_server_type_and_url(fake: FakeRaven, case: str) -> None:
    status, body, cls = SERVER_ERRORS[case]
    fake.replies["queries"] = (status, body)
    conn = dbapi.connect("db", urls=[fake.url.replace("://", "://admin:s3cret@")], timeout=5)
    try:
        with pytest.raises(cls) as caught:
            _select(conn)
    finally:
        conn.close()
    exc = caught.value
    assert exc.status == status
    assert exc.server_type == (body["Type"] if isinstance(body, dict) else None)
    assert exc.url == f"{fake.url}/databases/db/queries"
    assert "s3cret" not in str(exc) and "admin" not in str(exc.url)


def test_errors_not_from_a_server_have_no_location() -> None:
    exc = errors.ProgrammingError("x")
    assert (exc.status, exc.server_type, exc.url) == (None, None, None)


@pytest.mark.parametrize("url, public", [
    ("http://user:pw@db1:8080/databases/x/docs?id=a", "http://db1:8080/databases/x/docs"),
    ("https://[::1]:443/topology#frag", "https://[::1]:443/topology"),
    ("http://db1/queries", "http://db1/queries"),
])
def test_public_url_drops_credentials_and_query(url: str, public: str) -> None:
    from sqla_docstore.backends.ravendb.replies import public_url

    assert public_url(url) == public
