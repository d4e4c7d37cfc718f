"""RavenDB error responses to the PEP 249 tree, by status and the server's exception ``Type``."""

from __future__ import annotations

from typing import Any

from ... import errors
from .cluster_batch import UNIQUE_PREFIX
from .replies import located, public_url

# Last segment of the server's .NET exception type -> our class (most specific first).
_BY_TYPE: dict[str, type[errors.Error]] = {
    "DocumentConflictException": errors.ConcurrencyError,
    "ClusterTransactionConcurrencyException": errors.ConcurrencyError,
    "ConcurrencyException": errors.ConcurrencyError,
    "DatabaseDoesNotExistException": errors.OperationalError,
    "DocumentDoesNotExistException": errors.OperationalError,
    "IndexDoesNotExistException": errors.OperationalError,
    "AuthorizationException": errors.OperationalError,
    "InvalidQueryException": errors.ProgrammingError,
    "QueryParserException": errors.ProgrammingError,
    "JavaScriptException": errors.DataError,
    "NotSupportedException": errors.NotSupportedError,
    "ArgumentException": errors.ProgrammingError,
    "TimeoutException": errors.OperationalError,
}

#: Text a PUT conflict carries when the document was expected not to exist (a taken key).
_NEW_DOCUMENT = "expecting new document"
#: Marker our PATCH-if-missing script throws: the document was deleted by someone else.
MISSING_MARKER = "sqla_docstore: document was deleted"
#: Marker a computed UPDATE's script throws when it would leave a NOT NULL field empty.
NOT_NULL_MARKER = "sqla_docstore: NOT NULL constraint failed"


class ServerError(errors.OperationalError):
    """An error the server reported that maps to no more specific class."""

    def __init__(self, message: str, status: int, server_type: str | None, url: str) -> None:
        super().__init__(message)
        located(self, status, url, server_type)

    @property
    def status_code(self) -> int | None:
        """The HTTP status (the name this class used before ``status`` moved to errors.Error)."""
        return self.status


def error_from_response(status: int, body: Any, url: str, text: str) -> errors.Error:
    """The exception for a non-2xx answer; the server's own message is kept verbatim, and
    ``status``, ``server_type`` and ``url`` tell where it came from."""
    if not isinstance(body, dict):
        snippet = " ".join(text.split())[:200]
        return located(errors.OperationalError(
            f"RavenDB at {public_url(url)} answered {status} with a body that is not RavenDB "
            f"JSON: {snippet!r}"
        ), status, url)
    server_type = str(body.get("Type") or "") or None
    return located(_classified(status, body, public_url(url), server_type or ""), status, url,
                   server_type)


def _classified(status: int, body: dict[str, Any], url: str, server_type: str) -> errors.Error:
    message = str(body.get("Message") or body.get("Error") or f"status {status}")
    short = server_type.rsplit(".", 1)[-1]
    if MISSING_MARKER in message:
        return errors.ConcurrencyError(f"{MISSING_MARKER} ({message})")
    if NOT_NULL_MARKER in message:  # a computed UPDATE left a NOT NULL field empty
        return errors.IntegrityError(message)
    if status == 409 or short in ("ConcurrencyException", "DocumentConflictException",
                                  "ClusterTransactionConcurrencyException"):
        # A taken id, or a unique value reserved by another document, is a duplicate key;
        # any other compare-exchange or change-vector conflict is a concurrency failure.
        if _NEW_DOCUMENT in message or f"the key '{UNIQUE_PREFIX}" in message:
            return errors.DuplicateKeyError(message)
        return errors.ConcurrencyError(message)
    # 501: the server does not implement what was asked, whatever exception type it names
    cls = errors.NotSupportedError if status == 501 else _BY_TYPE.get(short)
    if cls is None:
        cls = errors.ProgrammingError if status == 400 else errors.OperationalError
    if cls is errors.OperationalError:
        return ServerError(f"{message} (HTTP {status} from {url})", status, server_type, url)
    return cls(f"{message} (HTTP {status} from {url})")
