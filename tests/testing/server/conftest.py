"""Fixtures for the server tests: the official ravendb client on the bundled server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

ravendb = pytest.importorskip("ravendb")


def open_store(urls: list[str], database: str, *, single_node: bool = False,
               configure: Callable[[Any], None] | None = None) -> Any:
    """An initialized official DocumentStore; ``single_node`` pins it to the first url."""
    store = ravendb.DocumentStore(urls[:1] if single_node else urls, database)
    store.conventions.disable_topology_cache = True
    if single_node:
        store.conventions.disable_topology_updates = True
    if configure is not None:
        configure(store)
    store.initialize()
    return store


@pytest.fixture
def store_factory(ravendb_server: Any) -> Iterator[Callable[..., Any]]:
    stores: list[Any] = []

    def factory(**options: Any) -> Any:
        store = open_store(ravendb_server.urls, ravendb_server.database, **options)
        stores.append(store)
        return store

    yield factory
    for store in stores:
        store.close()


@pytest.fixture
def store(store_factory: Callable[..., Any]) -> Any:
    """The official client pinned to node A (the 7.2.7 client round-robins over all nodes)."""
    return store_factory(single_node=True)
