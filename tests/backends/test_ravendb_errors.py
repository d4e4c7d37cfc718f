"""RavenDB error replies to PEP 249 classes: a 501 is always NotSupportedError."""

from __future__ import annotations

import pytest

from sqla_docstore import errors
from sqla_docstore.backends.ravendb.errors import error_from_response


@pytest.mark.parametrize("server_type", [
    "Raven.Server.Routing.RouteNotFoundException",
    "Raven.Client.Exceptions.InvalidQueryException",
    "System.NotSupportedException",
    "",
])
def test_501_is_not_supported_whatever_type_the_server_names(server_type: str) -> None:
    body = {"Type": server_type, "Message": "There is no handler for path: GET /x"}
    error = error_from_response(501, body, "http://127.0.0.1:1/databases/db/x", "")
    assert isinstance(error, errors.NotSupportedError)
    assert "There is no handler for path: GET /x" in str(error)
    assert error.status == 501


def test_400_invalid_query_stays_a_programming_error() -> None:
    body = {"Type": "Raven.Client.Exceptions.InvalidQueryException", "Message": "bad"}
    error = error_from_response(400, body, "http://127.0.0.1:1/databases/db/queries", "")
    assert isinstance(error, errors.ProgrammingError)
    assert not isinstance(error, errors.NotSupportedError)
