"""Several nodes over one store: topology, admin operations, failover of the official client."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from ravendb.exceptions.exceptions import DatabaseDoesNotExistException
from ravendb.serverwide.database_record import DatabaseRecord
from ravendb.serverwide.operations.common import (
    CreateDatabaseOperation,
    DeleteDatabaseOperation,
    GetDatabaseNamesOperation,
)

from .conftest import open_store
from .models import User


def test_topology_lists_every_node(ravendb_server: Any) -> None:
    reply = requests.get(f"{ravendb_server.urls[1]}/topology",
                         params={"name": ravendb_server.database}).json()
    assert [(n["ClusterTag"], n["Url"], n["ServerRole"]) for n in reply["Nodes"]] == [
        ("A", ravendb_server.urls[0], "Member"), ("B", ravendb_server.urls[1], "Member"),
        ("C", ravendb_server.urls[2], "Member")]
    cluster = requests.get(f"{ravendb_server.urls[2]}/cluster/topology").json()
    assert cluster["NodeTag"] == "C"
    assert cluster["Topology"]["Members"] == dict(zip("ABC", ravendb_server.urls, strict=True))


def test_nodes_share_the_store(ravendb_server: Any) -> None:
    a, b = (open_store([url], ravendb_server.database, single_node=True)
            for url in ravendb_server.urls[:2])
    try:
        with a.open_session() as session:
            session.store(User("Alice"), "users/alice")
            session.save_changes()
        with b.open_session() as session:
            alice = session.load("users/alice", User)
            assert alice.name == "Alice"
            alice.name = "Alicia"
            session.save_changes()
            assert session.advanced.get_metadata_for(alice)["@change-vector"].startswith("B:")
        with a.open_session() as session:
            assert session.load("users/alice", User).name == "Alicia"
    finally:
        a.close()
        b.close()


def test_create_and_delete_database_with_the_official_client(ravendb_server: Any) -> None:
    store = open_store(ravendb_server.urls, ravendb_server.database)
    try:
        result = store.maintenance.server.send(CreateDatabaseOperation(DatabaseRecord("Other")))
        assert result.name == "Other"
        names = store.maintenance.server.send(GetDatabaseNamesOperation(0, 10))
        assert sorted(names) == ["Other", ravendb_server.database]
        other = open_store(ravendb_server.urls, "other")
        with other.open_session() as session:
            session.store(User("x"), "users/x")
            session.save_changes()
        other.close()
        store.maintenance.server.send(DeleteDatabaseOperation("Other", hard_delete=True))
        gone = open_store(ravendb_server.urls, "Other")
        with pytest.raises(DatabaseDoesNotExistException), gone.open_session() as session:
            session.load("users/x", User)
        gone.close()
    finally:
        store.close()


def test_official_client_fails_over_when_a_node_dies(ravendb_server: Any) -> None:
    store = open_store(ravendb_server.urls, ravendb_server.database)
    try:
        with store.open_session() as session:
            for i in range(5):
                session.store(User(f"u{i}", i))
            session.save_changes()
        ravendb_server.stop_node("A")
        for i in range(6):  # the 7.2.7 client rotates over all nodes: each one gets tried
            with store.open_session() as session:
                assert len(list(session.query(object_type=User))) == 5 + i
                assert session.load("users/1-A", User).name == "u0"
                session.store(User(f"after{i}"))
                session.save_changes()
        ravendb_server.stop_node("B")
        with store.open_session() as session:
            assert session.load("users/1-A", User).name == "u0"
        ravendb_server.stop_node("C")
        with pytest.raises(Exception, match="127.0.0.1"), store.open_session() as session:
            session.load("users/2-A", User)
    finally:
        store.close()


def test_concurrent_writers_over_nodes_lose_nothing(ravendb_server: Any) -> None:
    # One DocumentStore per thread: the 7.2.7 client's HiLo generator is not thread-safe
    # (HiLoIdGenerator.next_id can hand one id to two threads).
    stores = [open_store(ravendb_server.urls, ravendb_server.database) for _ in range(4)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                with stores[n].open_session() as session:
                    session.store(User(f"t{n}-{i}", i))
                    session.save_changes()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with stores[0].open_session() as session:
            names = [u.name for u in session.query(object_type=User)]
        assert sorted(names) == sorted(f"t{n}-{i}" for n in range(4) for i in range(10))
    finally:
        for store in stores:
            store.close()


def test_a_batch_resent_to_another_node_is_applied_once(ravendb_server: Any) -> None:
    a, b = ravendb_server.urls[:2]
    db = ravendb_server.database
    put = {"Commands": [{"Id": "users/1", "ChangeVector": None, "Type": "PUT",
                         "Document": {"n": 0, "@metadata": {"@collection": "Users"}}}]}
    requests.post(f"{a}/databases/{db}/bulk_docs", json=put)
    increment = {"Commands": [{"Id": "users/1", "ChangeVector": None, "Type": "PATCH",
                               "Patch": {"Script": "this.n += 1", "Values": {}}}]}
    ravendb_server.add_fault("drop_after", "bulk_docs", node="A")
    with pytest.raises(requests.ConnectionError):  # A applied it, then "died" before replying
        requests.post(f"{a}/databases/{db}/bulk_docs", json=increment,
                      headers={"Raft-Request-Id": "once"})
    ravendb_server.stop_node("A")
    retry = requests.post(f"{b}/databases/{db}/bulk_docs", json=increment,
                          headers={"Raft-Request-Id": "once"})
    assert retry.status_code == 201
    assert retry.headers["Sqla-Docstore-Batch-Dedupe"] == "true"
    doc = requests.get(f"{b}/databases/{db}/docs", params={"id": "users/1"}).json()
    assert doc["Results"][0]["n"] == 1


def test_a_stopped_node_can_be_started_again(ravendb_server_factory: Any) -> None:
    server = ravendb_server_factory("A,B")
    url = server.urls[0]
    server.stop_node("A")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/topology", params={"name": server.database}, timeout=10)
    server.start_node("A")
    assert server.urls[0] == url
    reply = requests.get(f"{url}/topology", params={"name": server.database}, timeout=10)
    assert reply.status_code == 200
