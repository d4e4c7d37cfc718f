"""Requests to RavenDB follow the environment's proxy settings as ``requests`` reads them
(HTTP_PROXY, NO_PROXY), read once per node rather than on every request."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from sqla_docstore import dbapi, errors
from sqla_docstore.backends.ravendb import http


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


def _clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


SPEC = '{"fields": [{"name": "id", "type": "INTEGER"}], "primary_key": ["id"]}'


def _select(raven_node: Any, name: str) -> None:
    conn = dbapi.connect(name, urls=[raven_node.url], timeout=3)
    try:
        cur = conn.cursor()
        cur.execute("CREATE COLLECTION things " + SPEC)
        cur.execute("SELECT count(*) FROM things")
        assert cur.fetchall() == [(0,)]
    finally:
        conn.close()


def test_a_proxy_in_the_environment_is_used(raven_node: Any, ravendb_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    name = ravendb_url.rsplit("/", 1)[1]
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_refused_port()}")
    with pytest.raises(errors.OperationalError):
        _select(raven_node, name)  # sent to the (dead) proxy


def test_no_proxy_in_the_environment_bypasses_it(raven_node: Any, ravendb_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    name = ravendb_url.rsplit("/", 1)[1]
    _clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_refused_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _select(raven_node, name)


def test_the_environment_is_read_once_per_node(raven_node: Any, ravendb_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    name = ravendb_url.rsplit("/", 1)[1]
    reads: list[str] = []
    real = http._environment

    def counted(url: str) -> Any:
        reads.append(url)
        return real(url)

    monkeypatch.setattr(http, "_environment", counted)
    conn = dbapi.connect(name, urls=[raven_node.url], timeout=3)
    try:
        cur = conn.cursor()
        cur.execute("CREATE COLLECTION things " + SPEC)
        for _ in range(5):
            cur.execute("SELECT count(*) FROM things")
    finally:
        conn.close()
    assert reads and len(reads) == len(set(reads))  # each node once (per HTTP session)
