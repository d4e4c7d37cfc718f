"""RavenDB-shaped error replies: an HTTP status, a .NET exception type name and a message."""

from __future__ import annotations

CONCURRENCY = "Raven.Client.Exceptions.ConcurrencyException"
CLUSTER_CONCURRENCY = "Raven.Client.Exceptions.ClusterTransactionConcurrencyException"
INVALID_QUERY = "Raven.Client.Exceptions.InvalidQueryException"
NOT_SUPPORTED = "System.NotSupportedException"
BAD_REQUEST = "System.ArgumentException"
DATABASE_MISSING = "Raven.Client.Exceptions.Database.DatabaseDoesNotExistException"
#: Not a RavenDB type: a unique index of the embedded store (declared by a SQL schema) refused
#: a write. Clients map it by its last segment.
INTEGRITY = "sqla_docstore.errors.IntegrityError"


class RavenError(Exception):
    """An error the server answers with RavenDB's body ``{"Url","Type","Message","Error"}``."""

    def __init__(self, status: int, type_name: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type_name = type_name
        self.message = message
        self.headers = headers or {}

    def body(self, url: str) -> dict[str, str]:
        return {"Url": url, "Type": self.type_name, "Message": self.message,
                "Error": f"{self.type_name}: {self.message}"}


def concurrency(message: str) -> RavenError:
    return RavenError(409, CONCURRENCY, message)


def cluster_concurrency(issues: list[str]) -> RavenError:
    text = "Failed to execute cluster transaction due to the following issues: " + "\n".join(issues)
    return RavenError(409, CLUSTER_CONCURRENCY, text)


def bad_request(message: str) -> RavenError:
    return RavenError(400, BAD_REQUEST, message)


def invalid_query(message: str) -> RavenError:
    return RavenError(400, INVALID_QUERY, message)


def not_supported(message: str) -> RavenError:
    return RavenError(501, NOT_SUPPORTED, message)


def database_missing(name: str) -> RavenError:
    return RavenError(503, DATABASE_MISSING, f"Database '{name}' was not found",
                      {"Database-Missing": name})
