"""What the bundled server refuses before it reads a request as RavenDB would (pure checks).

It is test infrastructure, often left running on a developer's machine, so a web page must not
be able to reach it: cross-origin requests and requests for a foreign ``Host`` are refused (DNS
rebinding), admin routes answer loopback clients only (or TLS clients with a registered
certificate), and bodies are bounded, compressed or not.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

#: largest request body accepted, as sent and once decompressed
MAX_BODY = 256 * 1024 * 1024
#: seconds an idle keep-alive connection is kept open
IDLE_TIMEOUT = 120.0
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: absolute file paths (POSIX, or a Windows drive) as they appear in store messages
_PATH = re.compile(r"(?:[A-Za-z]:\\|/)(?:[^\s'\"/\\]+[/\\])+[^\s'\",):]*")


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header (without the port; IPv6 brackets removed)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request(path: str, headers: dict[str, str], client_address: str,
                  allowed_hosts: frozenset[str], trusted_client: bool) -> Refusal | None:
    """Why a request is refused, or None. ``headers`` have lower-case names."""
    host = host_name(headers.get("host", ""))
    if not host or not (is_loopback(host) or host in allowed_hosts):
        return Refusal(421, f"requests for host {host!r} are not served here (the bundled "
                            "server answers its own addresses only)")
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        origin_host = (urlsplit(origin).hostname or "").lower()
        if origin_host != host:
            return Refusal(403, "cross-origin requests are refused by the bundled server")
    elif origin == "null":
        return Refusal(403, "cross-origin requests are refused by the bundled server")
    if path.startswith("/admin/") and not (is_loopback(client_address) or trusted_client):
        return Refusal(403, "admin routes answer loopback clients only (or a registered "
                            "client certificate)")
    return None


def check_length(content_length: str | None) -> Refusal | None:
    try:
        length = int(content_length or 0)
    except ValueError:
        return Refusal(400, "Content-Length is not a number")
    if length < 0 or length > MAX_BODY:
        return Refusal(413, f"request bodies are limited to {MAX_BODY} bytes")
    return None


def gunzip(body: bytes) -> bytes | Refusal:
    """``body`` decompressed, or a refusal if it is not gzip or grows beyond MAX_BODY."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_BODY + 1)
    except zlib.error:
        return Refusal(400, "the request body is not valid gzip")
    if len(out) > MAX_BODY or inflater.unconsumed_tail:
        return Refusal(413, f"request bodies are limited to {MAX_BODY} bytes decompressed")
    return out


def without_paths(message: str) -> str:
    """A store's error message for a reply: file paths replaced (they stay in the log)."""
    return _PATH.sub("<path>", message)
