"""``ravendb+https://`` with client certificates: a good certificate works, a missing or untrusted
one is refused with a clear error, and no key, certificate or path leaks into logs, reprs or
error messages."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore import dbapi, errors

pytest.importorskip("cryptography")

from sqla_docstore.testing.server import make_test_certificates, serve_cluster, server_context  # noqa: E402
from sqla_docstore.testing.server.tls import thumbprint  # noqa: E402


class Base(DeclarativeBase):
    pass


class Secret(Base):
    __tablename__ = "secrets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """CA, server certificate, a client certificate from the CA and one from another CA, in a
    directory whose name is easy to spot in any output."""
    return make_test_certificates(tmp_path_factory.mktemp("tls-files-must-stay-private"))


@pytest.fixture
def tls_cluster(certs: dict[str, Path]) -> Iterator[Any]:
    context = server_context(certs["server_cert"], certs["server_key"], certs["ca"])
    cluster = serve_cluster(None, "A,B", databases=["db"], ssl_context=context)
    yield cluster
    cluster.close()


def _url(cluster: Any, cert: Path | None, ca: Path | None, **extra: str) -> str:
    options = {"timeout": "5", **extra}
    if cert is not None:
        options["cert"] = str(cert)
    if ca is not None:
        options["ca"] = str(ca)
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"ravendb+https://{cluster.url.split('://', 1)[1]}/db?{query}"


def _secrets(certs: dict[str, Path]) -> list[str]:
    """Texts that must never show: every file's path, name and a slice of its PEM body."""
    out = [str(certs["ca"].parent), "tls-files-must-stay-private"]
    for path in certs.values():
        body = [line for line in path.read_text().splitlines() if not line.startswith("-----")]
        out += [str(path), path.name, body[1][:40]]
    return out


def _assert_private(text: str, certs: dict[str, Path]) -> None:
    for secret in _secrets(certs):
        assert secret not in text, f"{secret!r} leaked into: {text[:300]!r}"


def test_good_certificate_works(tls_cluster: Any, certs: dict[str, Path]) -> None:
    engine = sa.create_engine(_url(tls_cluster, certs["client"], certs["ca"]))
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([Secret(name="a"), Secret(name="b")])
            session.commit()
        with Session(engine) as session:
            assert session.scalars(sa.select(Secret.name).order_by(Secret.name)).all() == [
                "a", "b"]
            assert session.get(Secret, 1) is not None
        # the topology lists every node by its https URL; both speak TLS
        tls_cluster.stop_node("A")
        with Session(engine) as session:
            assert session.scalars(sa.select(Secret.name).where(Secret.name == "b")).all() == [
                "b"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("cert", [None, "rogue_client"], ids=["missing", "other-CA"])
def test_missing_or_untrusted_certificate_is_refused(tls_cluster: Any, certs: dict[str, Path],
                                                    cert: str | None) -> None:
    engine = sa.create_engine(_url(tls_cluster, certs[cert] if cert else None, certs["ca"]))
    try:
        with pytest.raises(sa.exc.OperationalError) as info:
            with Session(engine) as session:
                session.scalars(sa.select(Secret)).all()
        assert isinstance(info.value.orig, errors.OperationalError)
        message = str(info.value.orig)
        assert "TLS handshake" in message and "client certificate" in message
        assert tls_cluster.url in message  # which node refused
        _assert_private(str(info.value), certs)
    finally:
        engine.dispose()


def test_server_not_trusted_by_the_ca_bundle_is_refused(tls_cluster: Any,
                                                        certs: dict[str, Path]) -> None:
    engine = sa.create_engine(_url(tls_cluster, certs["client"], certs["other_ca"]))
    try:
        with pytest.raises(sa.exc.OperationalError, match="TLS handshake .* failed") as info:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT secrets.id FROM secrets").all()
        _assert_private(str(info.value), certs)
    finally:
        engine.dispose()


def test_ca_option_wins_over_the_environment(tls_cluster: Any, certs: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables replace a Session's own CA bundle; the ``ca`` option must
    # still be the one used (the variables point at a bundle that does not trust the server)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs["other_ca"]))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(certs["other_ca"]))
    conn = dbapi.connect("db", urls=tls_cluster.urls, cert=str(certs["client"]),
                         ca=str(certs["ca"]), timeout=5)
    try:
        cur = conn.cursor()
        cur.execute('CREATE COLLECTION secrets {"fields": [{"name": "id", "type": "INTEGER", '
                    '"nullable": false}], "primary_key": ["id"]}')
        cur.execute("SELECT secrets.id FROM secrets")
        assert cur.fetchall() == []
    finally:
        conn.close()


@pytest.mark.parametrize("bundle", ["ca", "other_ca"])
def test_without_the_ca_option_the_environments_ca_bundle_is_used(
        tls_cluster: Any, certs: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        bundle: str) -> None:
    # as requests does: $REQUESTS_CA_BUNDLE names the CA when the ca option is not given
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs[bundle]))
    conn = dbapi.connect("db", urls=tls_cluster.urls, cert=str(certs["client"]), timeout=5)
    try:
        cur = conn.cursor()
        if bundle == "other_ca":
            with pytest.raises(errors.OperationalError, match="TLS handshake"):
                cur.execute("SELECT secrets.id FROM secrets")
        else:
            cur.execute('CREATE COLLECTION secrets {"fields": [{"name": "id", "type": '
                        '"INTEGER", "nullable": false}], "primary_key": ["id"]}')
            cur.execute("SELECT secrets.id FROM secrets")
            assert cur.fetchall() == []
    finally:
        conn.close()


def test_valid_but_unauthorised_certificate_gets_a_clear_403(tls_cluster: Any,
                                                              certs: dict[str, Path]) -> None:
    tls_cluster.allowed_certificates = {"0" * 40}
    engine = sa.create_engine(_url(tls_cluster, certs["client"], certs["ca"]))
    try:
        with pytest.raises(sa.exc.OperationalError, match="403") as info:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT secrets.id FROM secrets").all()
        assert "certificate" in str(info.value.orig)
        _assert_private(str(info.value), certs)
        tls_cluster.allowed_certificates = {thumbprint(certs["client"])}
        Base.metadata.create_all(engine)  # registered now: the same engine works
    finally:
        engine.dispose()


@pytest.mark.parametrize("which", ["cert", "ca"])
def test_unreadable_tls_file_is_named_by_option_not_path(tls_cluster: Any,
                                                         certs: dict[str, Path],
                                                         tmp_path: Path, which: str) -> None:
    gone = certs["ca"].parent / f"gone-{which}.pem"
    files = {"cert": certs["client"], "ca": certs["ca"], which: gone}
    engine = sa.create_engine(_url(tls_cluster, files["cert"], files["ca"]))
    try:
        with pytest.raises(sa.exc.OperationalError) as info:
            with engine.connect() as conn:  # the first request is sent on first use
                conn.exec_driver_sql("SELECT secrets.id FROM secrets")
        assert f"TLS file given as '{which}'" in str(info.value.orig)
        _assert_private(str(info.value), certs)
        assert str(gone) not in str(info.value)
        # not even in the chained exceptions a traceback would print
        cause: BaseException | None = info.value.orig
        while cause is not None:
            assert str(gone) not in str(cause)
            cause = cause.__cause__ or cause.__context__
    finally:
        engine.dispose()


def test_nothing_private_in_logs_reprs_or_errors(tls_cluster: Any, certs: dict[str, Path],
                                                 tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    # a private copy of the good files, so any leak of their paths is unambiguous
    client = shutil.copy(certs["client"], tmp_path / "client.pem")
    ca = shutil.copy(certs["ca"], tmp_path / "ca.pem")
    private = dict(certs, client=Path(client), ca=Path(ca))
    caplog.set_level(logging.DEBUG)
    engine = sa.create_engine(_url(tls_cluster, Path(client), Path(ca)), echo="debug")
    seen: list[str] = []
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add(Secret(name="x"))
            session.commit()
            with engine.connect() as conn:
                dbapi_conn = conn.connection.driver_connection
                assert dbapi_conn is not None
                backend = dbapi_conn.backend
                seen += [repr(dbapi_conn), repr(backend), repr(backend.cluster),
                         repr(backend.http), str(backend.cluster)]
            session.add(Secret(id=1, name="duplicate"))
            with pytest.raises(sa.exc.IntegrityError) as info:
                session.commit()
            seen.append(str(info.value))
    finally:
        engine.dispose()
    # a certificate from another CA: the handshake error
    rogue = sa.create_engine(_url(tls_cluster, certs["rogue_client"], Path(ca)), echo=True)
    with pytest.raises(sa.exc.OperationalError) as refused:
        with rogue.connect() as conn:
            conn.exec_driver_sql("SELECT secrets.id FROM secrets")
    rogue.dispose()
    seen.append(str(refused.value))
    seen.append(caplog.text)
    assert "INSERT INTO secrets" in caplog.text  # the echo log was captured
    for text in seen:
        _assert_private(text, {k: v for k, v in private.items()})
    # NOTE: repr(engine) / str(engine.url) show the cert and ca *paths* as given in the URL
    # (SQLAlchemy masks only the password); the files' contents never appear there.
    for key in ("client", "ca"):
        body = Path(private[key]).read_text().splitlines()[1][:40]
        assert body not in repr(engine)
