"""The change vectors a commit's reply gives are remembered (``Connection.change_vectors``)
the same way whether every result names its document by "Id" and "ChangeVector" (a commit
of PATCHes: read in C loops) or results differ (read one at a time)."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore


def _one_at_a_time(results: list[Any]) -> dict[str, str]:
    out = {}
    for result in results:
        if isinstance(result, dict):
            doc_id = result.get("@id") or result.get("Id")
            cv = result.get("@change-vector") or result.get("ChangeVector")
            if isinstance(doc_id, str) and isinstance(cv, str):
                out[doc_id] = cv
    return out


PATCHED = [{"Id": f"t/{n}", "ChangeVector": f"A:{n}-x", "Type": "PATCH"} for n in range(5)]


@pytest.mark.parametrize("results", [
    PATCHED,
    [*PATCHED, {"Id": "t/1", "ChangeVector": "A:9-x"}],  # a document twice: the last wins
    [*PATCHED, {"@id": "t/7", "@change-vector": "A:7-x", "Type": "PUT"}],
    [*PATCHED, {"Id": "t/8", "Type": "DELETE", "Deleted": True}],
    [*PATCHED, {"Id": "t/9", "ChangeVector": None}],
    [*PATCHED, {"Id": "ignored", "@id": "t/6", "ChangeVector": "A:6-x"}],
    [*PATCHED, {"Id": "t/5", "ChangeVector": "A:5-x", "@id": ""}],
    [*PATCHED, "not a dict"],
    [],
], ids=["patches", "twice", "put", "delete", "no-cv", "own-id", "empty-own-id", "other", "none"])
def test_versions_from_a_reply(results: list[Any]) -> None:
    store = EmbeddedStore(None)
    conn = dbapi.connect(store=store)
    try:
        conn._remember_versions(results)
        expected = _one_at_a_time(results)
        assert {d: conn.change_vectors.get(d) for d in expected} == expected
        assert conn._committed_versions == expected
    finally:
        conn.close()
        store.close()
