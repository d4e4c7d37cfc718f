"""A batch's JSON body, built per collection (one schema look-up per collection), is the one
built command by command, for every kind of command and collection."""

from __future__ import annotations

from collections import Counter

from sqla_docstore.backends.ravendb.cluster_batch import needs_cluster
from sqla_docstore.backends.ravendb.connection import (
    CATALOG_COLLECTION,
    _command_json,
    _commands_json,
)
from sqla_docstore.commands import Batch, CompareExchange, Delete, Patch, Put
from sqla_docstore.schema import CollectionSpec


def _spec(name: str, **options: object) -> CollectionSpec:
    spec = {"fields": [{"name": "id", "type": "VARCHAR" if options.get("key_is_id") else
                        "INTEGER"}, {"name": "name", "type": "VARCHAR"}],
            "primary_key": ["id"], **options}
    return CollectionSpec.from_json(name, spec)


SPECS = {"things": _spec("things"), "tags": _spec("tags", key_is_id=True),
         "uniq": _spec("uniq", unique=[["name"]])}


def _commands() -> list[object]:
    return [
        Put("things", "things/1", {"id": 1, "name": "a"}, ""),
        Put("tags", "tags/x", {"id": "tags/x", "name": "b"}),
        Put(CATALOG_COLLECTION, "sqla_docstore/catalog", {"changed": 1.5}, None),
        Patch("things", "things/2", {"name": "c"}, seen="A:1"),
        Delete("things", "things/3", seen="A:2"),
        Put("things", "things/4", {"id": 4, "name": None}, "A:3"),
        Put("tags", "tags/y", {"id": "tags/y", "name": "d"}, ""),
    ]


def test_commands_json_is_command_json_of_each_command() -> None:
    asked: Counter[str] = Counter()

    def spec_of(name: str) -> CollectionSpec:
        asked[name] += 1
        return SPECS[name]

    commands = _commands()
    assert _commands_json(commands, spec_of) == [_command_json(c, SPECS.get)
                                                 for c in commands]
    assert max(asked.values()) == 1  # each collection's schema asked for once


def test_needs_cluster_asks_each_collection_once_and_finds_unique_ones() -> None:
    asked: Counter[str] = Counter()

    def spec_of(name: str) -> CollectionSpec:
        asked[name] += 1
        return SPECS[name]

    plain = [Put("things", f"things/{i}", {"id": i, "name": "a"}, "") for i in range(50)]
    assert not needs_cluster(Batch(plain), spec_of)
    assert asked == {"things": 1}
    assert needs_cluster(Batch([*plain, Put("uniq", "uniq/1", {"id": 1, "name": "a"})]),
                         spec_of)
    assert not needs_cluster(Batch([CompareExchange("k", 1, 0)]), spec_of)
    assert needs_cluster(Batch(plain, True), spec_of)
