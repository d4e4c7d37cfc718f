"""The HTTP backend against a misbehaving server: clear errors, usable sessions, no retries
that could apply a batch twice."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.ravendb.connection import SCHEMA_COLLECTION, schema_id

SPEC = {"fields": [{"name": "id", "type": "INTEGER", "nullable": False},
                   {"name": "name", "type": "VARCHAR", "nullable": True}],
        "primary_key": ["id"], "autoincrement": None}


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str | None]


class FakeRaven(ThreadingHTTPServer):
    """Answers topology and schema loads correctly; ``batch`` decides what bulk_docs gets."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.batch: tuple[int, str, str] = (201, "application/json", '{"Results": []}')
        self.delay = 0.0
        self.batches = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeRaven

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, ctype: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/topology"):
            nodes = [{"Url": self.server.url, "ClusterTag": "A", "Database": "db",
                      "ServerRole": "Member"}]
            self._send(200, "application/json", json.dumps({"Nodes": nodes, "Etag": 1}))
        elif self.path.startswith("/databases/db/docs") and schema_id("things") not in [
                *parse_qs(urlsplit(self.path).query).get("id", [])]:
            self._send(404, "application/json", "")  # a load of a document: none stored
        elif self.path.startswith("/databases/db/docs"):
            doc = {"name": "things", "spec": SPEC,
                   "@metadata": {"@id": schema_id("things"), "@change-vector": "A:1-x",
                                 "@collection": SCHEMA_COLLECTION}}
            self._send(200, "application/json", json.dumps({"Results": [doc]}))
        else:
            self._send(404, "application/json", "")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/databases/db/bulk_docs"):
            self.server.batches += 1
            time.sleep(self.server.delay)
            self._send(*self.server.batch)
        else:
            self._send(404, "application/json", "")


@pytest.fixture
def fake() -> Iterator[FakeRaven]:
    server = FakeRaven()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def engine(fake: FakeRaven) -> Iterator[sa.Engine]:
    port = fake.server_address[1]
    eng = sa.create_engine(f"ravendb://127.0.0.1:{port}/db?timeout=1")
    yield eng
    eng.dispose()


BAD = {
    "truncated JSON": (201, "application/json", '{"Results": [{"Type": "PU'),
    "HTML error page": (502, "text/html", "<html><body>Bad gateway</body></html>"),
    "500 with RavenDB error": (500, "application/json", json.dumps(
        {"Type": "System.InvalidOperationException", "Message": "boom", "Error": "stack"})),
    "500 with HTML": (500, "text/html", "<h1>Internal Server Error</h1>"),
    "409 concurrency": (409, "application/json", json.dumps(
        {"Type": "Raven.Client.Exceptions.ConcurrencyException",
         "Message": "Document things/1 has change vector A:3, but Put was called with A:2."})),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_batch_reply_is_a_clear_error_and_session_recovers(
    case: str, fake: FakeRaven, engine: sa.Engine
) -> None:
    fake.batch = BAD[case]
    with Session(engine) as session:
        session.add(Thing(id=1, name="a"))
        expected = StaleDataError if case == "409 concurrency" else sa.exc.DBAPIError
        with pytest.raises(expected) as info:
            session.commit()
        assert isinstance(info.value.orig, errors.Error)  # type: ignore[union-attr]
        message = str(info.value.orig)  # type: ignore[union-attr]
        assert message and "Traceback" not in message
        session.rollback()
        fake.batch = (201, "application/json", '{"Results": [{"Type": "PUT"}]}')
        session.add(Thing(id=2, name="b"))
        session.commit()  # usable again after rollback


def test_slow_batch_past_timeout_is_reported_not_retried(fake: FakeRaven,
                                                          engine: sa.Engine) -> None:
    fake.delay = 2.0  # the engine's timeout is 1 s
    with Session(engine) as session:
        session.add(Thing(id=1, name="a"))
        with pytest.raises(sa.exc.OperationalError, match="within 1.0 s|failed on every"):
            session.commit()
        session.rollback()
    # One node, one attempt: a batch whose outcome is unknown is never sent twice to a
    # server that does not deduplicate it.
    assert fake.batches == 1


def test_unreachable_server_names_every_node() -> None:
    conn = dbapi.connect("db", urls=["http://127.0.0.1:9", "http://127.0.0.1:10"], timeout=1)
    with pytest.raises(errors.OperationalError, match="127.0.0.1:9.*127.0.0.1:10"):
        conn.cursor().execute("SELECT things.id FROM things")


def test_certificate_paths_stay_out_of_reprs_and_errors(tmp_path: Any) -> None:
    secret = tmp_path / "client-secret.pem"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n")
    conn = dbapi.connect("db", urls=["https://127.0.0.1:9"], cert=str(secret), timeout=1)
    assert "not-a-key" not in repr(conn.backend.cluster)
    with pytest.raises(errors.Error) as info:
        conn.cursor().execute("SELECT things.id FROM things")
    assert "not-a-key" not in str(info.value)
