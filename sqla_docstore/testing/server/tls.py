"""TLS for the server: a context that requires client certificates, and test certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path
from typing import Any


def server_context(cert: str | os.PathLike[str], key: str | os.PathLike[str] | None,
                   ca: str | os.PathLike[str]) -> ssl.SSLContext:
    """TLS 1.2+ serving ``cert``; clients must present a certificate signed by ``ca``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.fspath(cert), os.fspath(key) if key else None)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=os.fspath(ca))
    return context


def make_test_certificates(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate signed by the CA
    and one signed by another CA (PEM files; each client PEM holds certificate and key, as the
    RavenDB client wants). Needs ``cryptography`` (a test dependency). Returns the paths:
    ca, server_cert, server_key, client, other_ca, rogue_client."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _authority("sqla_docstore test CA")
    other_key, other_cert = _authority("untrusted CA")
    server_key, server_cert = _leaf("localhost", ca_key, ca_cert, server=True)
    client_key, client_cert = _leaf("client", ca_key, ca_cert, server=False)
    rogue_key, rogue_cert = _leaf("rogue client", other_key, other_cert, server=False)
    paths = {
        "ca": _write(folder / "ca.pem", _cert_pem(ca_cert)),
        "other_ca": _write(folder / "other_ca.pem", _cert_pem(other_cert)),
        "server_cert": _write(folder / "server.pem", _cert_pem(server_cert)),
        "server_key": _write(folder / "server.key", _key_pem(server_key)),
        "client": _write(folder / "client.pem", _cert_pem(client_cert) + _key_pem(client_key)),
        "rogue_client": _write(folder / "rogue.pem", _cert_pem(rogue_cert) + _key_pem(rogue_key)),
    }
    return paths


def thumbprint(pem_path: str | os.PathLike[str]) -> str:
    """SHA-1 thumbprint (upper-case hex) of the first certificate of a PEM file."""
    import hashlib

    text = Path(pem_path).read_text()
    start = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return hashlib.sha1(ssl.PEM_cert_to_DER_cert(text[start:end])).hexdigest().upper()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _cert_pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()))


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _authority(common_name: str) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(common_name: str, ca_key: Any, ca_cert: Any, server: bool) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())
