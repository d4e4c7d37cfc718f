"""HTTPS with client certificates: a good certificate works, a missing or wrong one is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from ravendb.exceptions.exceptions import AuthorizationException

from sqla_docstore.testing.server import make_test_certificates, serve_cluster, server_context
from sqla_docstore.testing.server.tls import thumbprint

from .conftest import open_store
from .models import User

pytest.importorskip("cryptography")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_server(certs: dict[str, Path]) -> Any:
    context = server_context(certs["server_cert"], certs["server_key"], certs["ca"])
    cluster = serve_cluster(None, "A,B", databases=["db"], ssl_context=context)
    yield cluster
    cluster.close()


def _secure_store(server: Any, cert: Path | None, ca: Path) -> Any:
    def configure(store: Any) -> None:
        if cert is not None:
            store.certificate_pem_path = str(cert)
        store.trust_store_path = str(ca)

    return open_store(server.urls, "db", configure=configure)


def test_good_client_certificate_works(tls_server: Any, certs: dict[str, Path]) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    store = _secure_store(tls_server, certs["client"], certs["ca"])
    try:
        with store.open_session() as session:
            session.store(User("Alice"), "users/alice")
            session.save_changes()
        with store.open_session() as session:
            assert session.load("users/alice", User).name == "Alice"
    finally:
        store.close()


@pytest.mark.parametrize("cert", [None, "rogue_client"])
def test_missing_or_untrusted_certificate_is_refused(tls_server: Any, certs: dict[str, Path],
                                                    cert: str | None) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_server.url}/topology", params={"name": "db"}, verify=str(certs["ca"]),
                     cert=str(certs[cert]) if cert else None)
    store = _secure_store(tls_server, certs[cert] if cert else None, certs["ca"])
    try:
        with pytest.raises(Exception, match="SSL|certificate|Tried to send"):
            with store.open_session() as session:
                session.load("users/alice", User)
    finally:
        store.close()


def test_client_must_trust_the_server(tls_server: Any, certs: dict[str, Path]) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_server.url}/topology", params={"name": "db"},
                     verify=str(certs["other_ca"]), cert=str(certs["client"]))


def test_valid_but_unauthorised_certificate_gets_403(tls_server: Any,
                                                     certs: dict[str, Path]) -> None:
    tls_server.allowed_certificates = {"0" * 40}
    reply = requests.get(f"{tls_server.url}/topology", params={"name": "db"},
                         verify=str(certs["ca"]), cert=str(certs["client"]))
    assert reply.status_code == 403
    assert reply.json()["Type"] == "InvalidAuth"
    assert reply.headers["Raven-Server-Version"]
    store = _secure_store(tls_server, certs["client"], certs["ca"])
    try:
        with pytest.raises(AuthorizationException, match="Forbidden access"):
            with store.open_session() as session:
                session.load("users/alice", User)
    finally:
        store.close()
    tls_server.allowed_certificates = {thumbprint(certs["client"])}
    ok = requests.get(f"{tls_server.url}/topology", params={"name": "db"},
                      verify=str(certs["ca"]), cert=str(certs["client"]))
    assert ok.status_code == 200
