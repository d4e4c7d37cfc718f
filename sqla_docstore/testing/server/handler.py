"""The HTTP/1.1 request handler: body decoding, recording, faults, errors, gzip replies."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import ssl
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ... import errors as db_errors
from . import errors, safety
from .routes import Reply, Request, dispatch

if TYPE_CHECKING:
    from .node import NodeServer

_GZIP_MIN = 8 * 1024


class Handler(BaseHTTPRequestHandler):
    """One client connection (keep-alive); every reply carries ``Raven-Server-Version``."""

    protocol_version = "HTTP/1.1"
    server: NodeServer
    timeout = safety.IDLE_TIMEOUT  # an idle keep-alive connection is closed

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()  # a missing or untrusted client certificate fails here
            self.request.settimeout(None)
        # A reply is written at once (see _send); without this, a small reply waiting for the
        # ACK of the previous segment meets the client's delayed ACK: ~40 ms per request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.cluster.verbose:
            sys.stderr.write(f"[{self.server.tag}] {format % args}\n")

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # -- request ------------------------------------------------------------------------
    def _read_body(self) -> bytes | safety.Refusal:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                try:
                    size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    return safety.Refusal(400, "malformed chunked body")
                if size == 0:
                    self.rfile.readline(64)
                    break
                total += size
                if total > safety.MAX_BODY:
                    return safety.Refusal(413, "request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(64)
            body = b"".join(chunks)
        else:
            refused = safety.check_length(self.headers.get("Content-Length"))
            if refused is not None:
                return refused
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
            return safety.gunzip(body)
        return body

    def _handle(self) -> None:
        server, cluster = self.server, self.server.cluster
        if server.stopped:
            self._drop()
            return
        refused = safety.check_request(
            urlsplit(self.path).path, {k.lower(): v for k, v in self.headers.items()},
            self.client_address[0] if self.client_address else "",
            frozenset({cluster.host.lower()}), isinstance(self.connection, ssl.SSLSocket))
        body = self._read_body() if refused is None else refused
        if isinstance(body, safety.Refusal):
            self.close_connection = True
            self._send(Reply(body.status, json.dumps(
                {"Type": "sqla_docstore.Refused", "Message": body.message,
                 "Error": body.message})))
            return
        url = urlsplit(self.path)
        req = Request(
            method=self.command, path=url.path, query=url.query,
            params=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            node=server.tag, cluster=cluster,
        )
        cluster.record(req)
        fault = cluster.take_fault(req.method, req.path, server.tag)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        elif fault is not None and fault.kind == "drop_before":
            self._drop()
            return
        elif fault is not None and fault.kind in ("status", "html"):
            self._send(_fault_reply(fault.kind, fault.status, req.path))
            return
        reply = self._answer(req)
        if fault is not None and fault.kind == "drop_after":
            self._drop()  # the request was processed; its reply is lost
            return
        if fault is not None and fault.kind == "truncate" and reply.text:
            reply.text = reply.text[: len(reply.text) // 2]
        self._send(reply, cut=fault is not None and fault.kind == "cut")

    def _answer(self, req: Request) -> Reply:
        denied = self._authorize(req)
        if denied is not None:
            return denied
        try:
            return dispatch(req)
        except errors.RavenError as exc:
            return _error_reply(exc, req.path)
        except db_errors.ConcurrencyError as exc:
            return _error_reply(errors.concurrency(str(exc)), req.path)
        except db_errors.DatabaseError as exc:
            name = type(exc).__name__
            return _error_reply(errors.RavenError(500, f"sqla_docstore.errors.{name}",
                                                  safety.without_paths(str(exc))), req.path)
        except Exception as exc:  # a server bug: the trace goes to the log, never the reply
            if self.server.cluster.verbose:
                traceback.print_exc(file=sys.stderr)
            error = errors.RavenError(500, "System.InvalidOperationException",
                                      f"internal error in the bundled server "
                                      f"({type(exc).__name__})")
            return _error_reply(error, req.path)

    def _authorize(self, req: Request) -> Reply | None:
        allowed = self.server.cluster.allowed_certificates
        if allowed is None or not isinstance(self.connection, ssl.SSLSocket):
            return None
        der = self.connection.getpeercert(binary_form=True)
        thumbprint = hashlib.sha1(der).hexdigest().upper() if der else ""
        if thumbprint in allowed:
            return None
        message = (f"The supplied client certificate (thumbprint {thumbprint or 'none'}) is "
                   "unknown to the server. In order to register your certificate please contact "
                   "your system administrator.")
        return Reply(403, json.dumps({"Url": req.path, "Type": "InvalidAuth",
                                      "Message": message}))

    # -- reply --------------------------------------------------------------------------
    def _send(self, reply: Reply, *, cut: bool = False) -> None:
        """Send the reply; ``cut``: only its first half (headers whole), then close."""
        body = reply.text.encode("utf-8") if reply.text is not None else b""
        headers = dict(reply.headers)
        headers["Raven-Server-Version"] = self.server.cluster.server_version
        # Not RavenDB: tells sqla_docstore's client that a batch resent with the same
        # Raft-Request-Id is applied once, so it may resend after a lost reply.
        headers["Sqla-Docstore-Batch-Dedupe"] = "true"
        if body:
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            accepts = self.headers.get("Accept-Encoding", "")
            if self.server.cluster.compress and len(body) >= _GZIP_MIN and "gzip" in accepts:
                body = gzip.compress(body, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Status line, headers and body in one write (end_headers would send them apart).
        buffered: list[bytes] = getattr(self, "_headers_buffer", [])
        head = b"".join(buffered) + b"\r\n"
        self._headers_buffer: list[bytes] = []
        if cut:
            self.wfile.write(head + body[: len(body) // 2])
            self.wfile.flush()
            self._drop()
            return
        self.wfile.write(head + body if self.command != "HEAD" else head)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _error_reply(exc: errors.RavenError, path: str) -> Reply:
    return Reply(exc.status, json.dumps(exc.body(path)), dict(exc.headers))


def _fault_reply(kind: str, status: int, path: str) -> Reply:
    if kind == "html":
        page = (f"<html><head><title>{status} Error</title></head><body><h1>{status} "
                "Error</h1><p>Injected fault from the proxy.</p></body></html>")
        return Reply(status, page, {"Content-Type": "text/html; charset=utf-8"})
    error = errors.RavenError(status, "System.InvalidOperationException", "Injected fault")
    return _error_reply(error, path)
