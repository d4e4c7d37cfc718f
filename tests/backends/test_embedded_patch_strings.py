"""A commit's run of PATCHes setting only strings binds them as they are (json_set writes each
as a JSON string): the stored texts are the ones writing each value's JSON text first gives,
whatever the string holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore.backends.embedded import connection as embedded
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Patch, Put
from sqla_docstore.schema import CollectionSpec, FieldSpec

PEOPLE = CollectionSpec(
    "people", (FieldSpec("id", "INTEGER", False), FieldSpec("name"), FieldSpec("note")),
    ("id",), "id",
)
STRINGS = ["plain", "", " ", 'quo"te', "back\\slash", "\\u0041", "line\nfeed", "\t\r\b\f",
           "\x01\x1f\x7f", "é ü 中 😀", "\u2028\u2029", "/", '{"a": 1}', "1.5", "null"]


def _stored(tmp_path: Path, name: str, patches: list[Any]) -> list[tuple[str, str]]:
    store = EmbeddedStore(str(tmp_path / f"{name}.db"))
    with store.connection() as c:
        store.create_collection(c, PEOPLE)
    store.database_id = "same"
    conn = EmbeddedConnection(store)
    try:
        conn.submit(Batch([Put("people", f"people/{i}", {"id": i, "name": f"p{i}", "note": i},
                               "") for i in range(len(STRINGS))]))
        conn.submit(Batch(patches))
    finally:
        conn.close()
        store.close()
    with sqlite3.connect(tmp_path / f"{name}.db") as raw:
        return raw.execute('SELECT id, body FROM "@docs/people" ORDER BY id').fetchall()


@pytest.mark.parametrize("fields", [("name",), ("name", "note")])
def test_strings_bound_as_they_are_store_the_texts_of_their_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: tuple[str, ...]) -> None:
    patches = [Patch("people", f"people/{i}", {f: s + f for f in fields})
               for i, s in enumerate(STRINGS)]
    bound: list[bool] = []
    strings = embedded._strings

    def seen(values: list[Any]) -> bool:
        bound.append(strings(values))
        return bound[-1]

    monkeypatch.setattr(embedded, "_strings", seen)
    as_they_are = _stored(tmp_path, "raw", patches)
    assert bound == [True]
    monkeypatch.setattr(embedded, "_strings", lambda values: False)
    assert as_they_are == _stored(tmp_path, "texts", patches)


@pytest.mark.parametrize("values", [["a", 1], ["a", None], ["a", "b\x00"], ["a\ud800"], []])
def test_other_values_are_written_as_json_texts(values: list[Any]) -> None:
    assert not embedded._strings(values)
