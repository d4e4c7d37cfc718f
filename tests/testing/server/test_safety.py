"""The bundled server refuses what a web page (or a careless client) could send it."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sqla_docstore.testing.server import safety
from sqla_docstore.testing.server.node import serve_cluster


@pytest.fixture
def node() -> Iterator[Any]:
    cluster = serve_cluster(None, "A", databases=["db"])
    yield cluster
    cluster.close()


def _batch(node: Any, **kw: Any) -> requests.Response:
    doc = {"n": 1, "@metadata": {"@collection": "things"}}
    return requests.post(f"{node.urls[0]}/databases/db/bulk_docs", timeout=10, json={
        "Commands": [{"Id": "things/1", "ChangeVector": None, "Document": doc,
                      "Type": "PUT"}]}, **kw)


def _stored(node: Any) -> bool:
    reply = requests.get(f"{node.urls[0]}/databases/db/docs", params={"id": "things/1"},
                         timeout=10)
    return reply.status_code == 200


def test_cross_origin_and_foreign_host_requests_are_refused_and_change_nothing(
        node: Any) -> None:
    assert _batch(node, headers={"Origin": "http://evil.example"}).status_code == 403
    assert _batch(node, headers={"Origin": "null"}).status_code == 403
    assert _batch(node, headers={"Host": "evil.example"}).status_code == 421
    assert not _stored(node)
    assert _batch(node).status_code == 201  # the same request, from a client: applied
    assert _stored(node)


def test_bodies_are_bounded_compressed_or_not(node: Any, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setattr(safety, "MAX_BODY", 1000)
    big = b'{"Commands": []' + b" " * 2000 + b"}"
    reply = requests.post(f"{node.urls[0]}/databases/db/bulk_docs", data=big, timeout=10)
    assert reply.status_code == 413
    bomb = gzip.compress(b'{"Commands": []' + b" " * 100_000 + b"}")
    assert len(bomb) < 1000
    reply = requests.post(f"{node.urls[0]}/databases/db/bulk_docs", data=bomb, timeout=10,
                          headers={"Content-Encoding": "gzip"})
    assert reply.status_code == 413


def test_admin_routes_answer_loopback_clients_only() -> None:
    headers = {"host": "127.0.0.1:8080"}
    assert safety.check_request("/admin/databases", headers, "127.0.0.1", frozenset(),
                                False) is None
    refused = safety.check_request("/admin/databases", headers, "192.0.2.7", frozenset(),
                                   False)
    assert refused is not None and refused.status == 403
    assert safety.check_request("/admin/databases", headers, "192.0.2.7", frozenset(),
                                True) is None  # a TLS client with a registered certificate
    assert safety.check_request("/databases/db/docs", headers, "192.0.2.7", frozenset(),
                                False) is None


def test_a_server_error_reply_has_no_traceback(node: Any, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    from sqla_docstore.testing.server import handler

    def broken(req: Any) -> Any:
        raise RuntimeError("/secret/path/store.db exploded")

    monkeypatch.setattr(handler, "dispatch", broken)
    reply = requests.get(f"{node.urls[0]}/databases/db/docs", params={"id": "x"}, timeout=10)
    assert reply.status_code == 500
    assert "Traceback" not in reply.text and "/secret/path" not in reply.text


def test_store_errors_reach_the_client_without_file_paths(
        node: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore import errors
    from sqla_docstore.testing.server import handler

    def failing(req: Any) -> Any:
        raise errors.OperationalError("can't open the store at /secret/dir/app.db: locked")

    monkeypatch.setattr(handler, "dispatch", failing)
    reply = requests.get(f"{node.urls[0]}/databases/db/docs", params={"id": "x"}, timeout=10)
    assert reply.status_code == 500
    assert "/secret" not in reply.text and "<path>: locked" in reply.text
