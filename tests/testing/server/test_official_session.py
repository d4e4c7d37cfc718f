"""The official ravendb client's session workflows against the bundled server."""

from __future__ import annotations

from typing import Any

import pytest
from ravendb import SessionOptions, TransactionMode
from ravendb.documents.conventions import SessionPatchBehavior
from ravendb.exceptions.raven_exceptions import ConcurrencyException

from .models import Company, NameCount, NameOnly, User


def _store_users(store: Any, *users: User) -> list[str]:
    with store.open_session() as session:
        for user in users:
            session.store(user)
        session.save_changes()
    return [u.Id for u in users]


def test_store_load_delete(store: Any) -> None:
    (alice_id,) = _store_users(store, User("Alice", 30))
    assert alice_id == "users/1-A"
    with store.open_session() as session:
        alice = session.load(alice_id, User)
        assert (alice.name, alice.age, alice.Id) == ("Alice", 30, alice_id)
        metadata = session.advanced.get_metadata_for(alice)
        assert metadata["@collection"] == "Users"
        assert metadata["Raven-Python-Type"].endswith("models.User")
        assert metadata["@change-vector"].startswith("A:")
        assert session.load("users/nope", User) is None
    with store.open_session() as session:
        session.delete(alice_id)
        session.save_changes()
    with store.open_session() as session:
        assert session.load(alice_id, User) is None


def test_ids_are_case_insensitive(store: Any) -> None:
    with store.open_session() as session:
        session.store(User("Bob"), "users/Bob")
        session.save_changes()
    with store.open_session() as session:
        bob = session.load("USERS/bob", User)
        assert bob.name == "Bob"
        assert session.advanced.get_metadata_for(bob)["@id"] == "users/Bob"
    with store.open_session() as session:  # overwriting in another case keeps one document
        session.store(User("Bobby"), "Users/BOB")
        session.save_changes()
    with store.open_session() as session:
        assert [u.name for u in session.query(object_type=User)] == ["Bobby"]


def test_load_many_including_missing_and_long_id_lists(store: Any, ravendb_server: Any) -> None:
    ids = [f"users/{'x' * 40}{i}" for i in range(40)]
    with store.open_session() as session:
        for i, doc_id in enumerate(ids):
            session.store(User(f"user{i}", i), doc_id)
        session.save_changes()
    with store.open_session() as session:
        found = session.load(ids + ["users/missing"], User)
        assert found["users/missing"] is None
        assert sorted(u.age for u in found.values() if u is not None) == list(range(40))
    posts = [r for r in ravendb_server.requests if r.method == "POST" and r.path.endswith("/docs")]
    assert len(posts) == 1  # the ids add up to more than 1024 characters: the client POSTs them
    assert sorted(posts[0].body["Ids"]) == sorted([i.lower() for i in ids] + ["users/missing"])


def test_hilo_ids_and_range_return(store_factory: Any, ravendb_server: Any) -> None:
    store = store_factory(single_node=True)
    _store_users(store, User("a"), User("b"))
    with store.open_session() as session:
        company = Company("Acme")
        session.store(company)
        session.save_changes()
    assert company.Id == "companies/1-A"
    store.close()
    returns = [r for r in ravendb_server.requests if r.path.endswith("/hilo/return")]
    assert {r.query for r in returns} == {"tag=users&end=32&last=2", "tag=companies&end=32&last=1"}
    store2 = store_factory(single_node=True)  # the returned range is handed out again
    assert _store_users(store2, User("c")) == ["users/3-A"]


def test_queries(store: Any, ravendb_server: Any) -> None:
    _store_users(store, User("Alice", 30, "a@x"), User("alan", 25), User("Bob", 40),
                 User("Carol", 35), User(None, 50))

    def names(query: Any) -> list[str | None]:
        return [u.name for u in query]

    with store.open_session() as session:
        def users() -> Any:
            return session.query(object_type=User)

        assert names(users().where_equals("name", "alice")) == ["Alice"]  # ignores case
        assert names(users().where_equals("name", "alice", exact=True)) == []
        assert names(users().where_equals("name", "Alice", exact=True)) == ["Alice"]
        assert names(users().where_greater_than("age", 30).order_by("age")) == \
            ["Carol", "Bob", None]
        assert sorted(names(users().where_starts_with("name", "AL"))) == ["Alice", "alan"]
        assert names(users().where_ends_with("name", "OL")) == ["Carol"]
        assert names(users().where_in("age", [25, 40]).order_by_descending("age")) == \
            ["Bob", "alan"]
        assert names(users().where_between("age", 30, 35).order_by("age")) == ["Alice", "Carol"]
        assert names(users().where_equals("name", None)) == [None]
        assert names(users().where_not_equals("name", None).order_by("age").skip(1).take(2)) \
            == ["Alice", "Carol"]
        assert users().where_greater_than("age", 26).count() == 4
        assert names(users().order_by("age").skip(3)) == ["Bob", None]
        assert users().order_by("age").first().name == "alan"
        assert names(users().where_equals("Id", "USERS/1-a")) == ["Alice"]  # id(), any case
        projected = list(users().select_fields(NameOnly, "name").where_equals("age", 40))
        assert [(type(p).__name__, p.name) for p in projected] == [("NameOnly", "Bob")]
    sent = [r.body["Query"] for r in ravendb_server.requests if r.path.endswith("/queries")]
    assert "from 'Users' where id() = $p0" in sent
    assert "from 'Users' where startsWith(name, $p0)" in sent
    assert "from 'Users' where exact(name = $p0)" in sent


def test_query_of_a_collection_without_documents_is_empty(store: Any) -> None:
    with store.open_session() as session:
        assert list(session.query(object_type=Company)) == []


def test_group_by_count(store: Any) -> None:
    _store_users(store, User("a", 1), User("a", 2), User("b", 3))
    with store.open_session() as session:
        rows = list(session.advanced.raw_query(
            "from Users group by name select key() as name, count()", dict))
        assert sorted((r["name"], r["Count"]) for r in rows) == [("a", 2), ("b", 1)]
        query = (session.query(object_type=User).group_by("name").select_key().select_count()
                 .of_type(NameCount))
        assert sorted((r.name, r.count) for r in query) == [("a", 2), ("b", 1)]


def test_unsupported_rql_names_the_construct(store: Any) -> None:
    with store.open_session() as session:
        with pytest.raises(Exception, match="search"):
            list(session.query(object_type=User).search("name", "alice"))


def _java_script(store: Any) -> None:
    store.conventions.session_patch_behavior = SessionPatchBehavior.JAVA_SCRIPT


@pytest.mark.parametrize("behavior", ["JAVA_SCRIPT", "JSON_PATCH"])
def test_patch(store_factory: Any, behavior: str) -> None:
    store = store_factory(single_node=True, configure=_java_script if behavior == "JAVA_SCRIPT"
                          else None)
    (user_id,) = _store_users(store, User("Alice", 30))
    with store.open_session() as session:
        session.advanced.patch(user_id, "age", 31)
        session.advanced.patch(user_id, "email", "alice@x")
        session.advanced.increment(user_id, "age", 10)
        session.save_changes()
    with store.open_session() as session:
        alice = session.load(user_id, User)
        assert (alice.age, alice.email, alice.name) == (41, "alice@x", "Alice")
        assert session.advanced.get_metadata_for(alice)["@collection"] == "Users"


def test_patch_arrays_and_maps_with_java_script(store_factory: Any) -> None:
    store = store_factory(single_node=True, configure=_java_script)
    with store.open_session() as session:
        session.store({"tags": ["a", "b", "c"], "props": {"x": 1}}, "things/1")
        session.save_changes()
    with store.open_session() as session:
        session.advanced.patch_array("things/1", "tags", lambda a: a.add("d", "e").remove_at(0))
        session.advanced.patch_object("things/1", "props", lambda m: m.put("y", 2).remove("x"))
        session.save_changes()
    with store.open_session() as session:
        thing = session.load("things/1", dict)
        assert thing["tags"] == ["b", "c", "d", "e"]
        assert thing["props"] == {"y": 2}


def test_optimistic_concurrency_conflict(store: Any) -> None:
    (user_id,) = _store_users(store, User("Alice", 30))
    with store.open_session() as first, store.open_session() as second:
        first.advanced.use_optimistic_concurrency = True
        stale = first.load(user_id, User)
        other = second.load(user_id, User)
        other.age = 31
        second.save_changes()
        stale.age = 99
        with pytest.raises(ConcurrencyException, match="Optimistic concurrency violation"):
            first.save_changes()
    with store.open_session() as session:
        assert session.load(user_id, User).age == 31
    with store.open_session() as session:
        session.advanced.use_optimistic_concurrency = True
        session.store(User("Dup"), user_id)  # a new entity with a taken id: expects no document
        with pytest.raises(ConcurrencyException, match="expecting new document"):
            session.save_changes()


def test_second_load_is_answered_from_the_http_cache(store: Any, ravendb_server: Any) -> None:
    (user_id,) = _store_users(store, User("Alice", 30))
    for _ in range(2):
        with store.open_session() as session:
            assert session.load(user_id, User).name == "Alice"
            assert session.load("users/missing", User) is None
    executor = store.get_request_executor()
    statuses: list[int] = []
    executor.add_on_succeed_request(lambda args: statuses.append(args.response.status_code))
    with store.open_session() as session:
        assert session.load(user_id, User).name == "Alice"
        assert session.load("users/missing", User) is None
        assert [u.name for u in session.query(object_type=User)] == ["Alice"]
        assert [u.name for u in session.query(object_type=User)] == ["Alice"]
    assert statuses == [304, 304, 200, 304]  # the first query of this text: 200, then cached
    sent = [r for r in ravendb_server.requests if r.path.endswith("/docs")]
    assert sent[-1].query == "&id=users%2Fmissing"
    with store.open_session() as session:  # a write changes the ETag: fresh content
        session.load(user_id, User).age = 31
        session.save_changes()
    with store.open_session(session_options=SessionOptions(no_caching=True)) as session:
        assert session.load(user_id, User).age == 31


def test_compare_exchange_operations(store: Any) -> None:
    from ravendb.documents.operations.compare_exchange.operations import (
        DeleteCompareExchangeValueOperation,
        GetCompareExchangeValueOperation,
        PutCompareExchangeValueOperation,
    )

    put = store.operations.send(PutCompareExchangeValueOperation("emails/a@x", "users/1", 0))
    assert put.successful and put.index > 0
    again = store.operations.send(PutCompareExchangeValueOperation("emails/a@x", "users/2", 0))
    assert not again.successful and again.value == "users/1" and again.index == put.index
    got = store.operations.send(GetCompareExchangeValueOperation("emails/a@x", str))
    assert (got.key, got.value, got.index) == ("emails/a@x", "users/1", put.index)
    assert store.operations.send(GetCompareExchangeValueOperation("emails/none", str)) is None
    deleted = store.operations.send(
        DeleteCompareExchangeValueOperation(str, "emails/a@x", put.index))
    assert deleted.successful
    assert store.operations.send(GetCompareExchangeValueOperation("emails/a@x", str)) is None


def _cluster_session(store: Any) -> Any:
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE,
                             disable_atomic_document_writes_in_cluster_wide_transaction=True)
    return store.open_session(session_options=options)


def test_cluster_wide_session_with_compare_exchange(store: Any, ravendb_server: Any) -> None:
    with _cluster_session(store) as session:
        user = User("Alice", email="alice@x")
        session.store(user, "users/alice")
        session.advanced.cluster_transaction.create_compare_exchange_value(
            "emails/alice@x", "users/alice")
        session.save_changes()
    batch = [r for r in ravendb_server.requests if r.path.endswith("/bulk_docs")][-1]
    assert batch.body["TransactionMode"] == "ClusterWide"
    assert "disableAtomicDocumentWrites=true" in batch.query
    with _cluster_session(store) as session:
        value = session.advanced.cluster_transaction.get_compare_exchange_value("emails/alice@x")
        assert value.value == "users/alice"
        assert session.load("users/alice", User).name == "Alice"
    with _cluster_session(store) as session:  # the unique value is taken: the batch fails whole
        session.store(User("Mallory"), "users/mallory")
        session.advanced.cluster_transaction.create_compare_exchange_value(
            "emails/alice@x", "users/mallory")
        with pytest.raises(ConcurrencyException, match="Concurrency check failed"):
            session.save_changes()
    with store.open_session() as session:
        assert session.load("users/mallory", User) is None


def test_cluster_wide_atomic_guards(store: Any) -> None:
    options = SessionOptions(transaction_mode=TransactionMode.CLUSTER_WIDE)
    with store.open_session(session_options=options) as session:
        session.store(User("Alice"), "users/guarded")
        session.save_changes()
    with store.open_session(session_options=options) as session:
        # 7.2.7 sends no change vector for the update: its guard check fails, as on RavenDB
        session.load("users/guarded", User).name = "Changed"
        with pytest.raises(ConcurrencyException, match="rvn-atomic/users/guarded"):
            session.save_changes()
    with store.open_session(session_options=options) as session:
        session.delete("users/guarded")
        session.save_changes()
    with store.open_session() as session:
        assert session.load("users/guarded", User) is None


def test_delete_and_patch_by_query(store: Any) -> None:
    from ravendb.documents.operations.misc import DeleteByQueryOperation
    from ravendb.documents.operations.patch import PatchByQueryOperation
    from ravendb.documents.queries.index_query import IndexQuery

    _store_users(store, User("a", 1), User("b", 2), User("c", 3))
    query = IndexQuery("from Users where age >= $min update { this.age = this.age * 10 }")
    query.query_parameters = {"min": 2}
    operation = store.operations.send_async(PatchByQueryOperation(query))
    operation.wait_for_completion()
    with store.open_session() as session:
        assert sorted(u.age for u in session.query(object_type=User)) == [1, 20, 30]
    operation = store.operations.send_async(DeleteByQueryOperation("from Users where age > 5"))
    operation.wait_for_completion()
    with store.open_session() as session:
        assert [u.name for u in session.query(object_type=User)] == ["a"]


def test_lazy_operations_use_multi_get(store: Any, ravendb_server: Any) -> None:
    _store_users(store, User("Alice", 30), User("Bob", 40))
    with store.open_session() as session:
        alice = session.advanced.lazily.load("users/1-A", User)
        missing = session.advanced.lazily.load("users/none", User)
        session.advanced.eagerly.execute_all_pending_lazy_operations()
        assert alice.value.name == "Alice"
        assert missing.value is None
        assert session.advanced.number_of_requests == 1
    multi = [r for r in ravendb_server.requests if r.path.endswith("/multi_get")]
    assert len(multi) == 1 and len(multi[0].body["Requests"]) == 2


def test_store_level_patch_and_prefix_load_and_index_waits(store: Any,
                                                          ravendb_server: Any) -> None:
    from ravendb.documents.operations.patch import PatchOperation, PatchRequest, PatchStatus

    _store_users(store, User("Alice", 30), User("Bob", 40))
    result = store.operations.send(
        PatchOperation("users/2-A", None, PatchRequest("this.age = args.a", {"a": 41})))
    assert result.status == PatchStatus.PATCHED
    with store.open_session() as session:
        assert [u.age for u in session.load_starting_with("users/", User)] == [30, 41]
        session.advanced.wait_for_indexes_after_save_changes()
        session.store(User("Carol"), "users/carol")
        session.save_changes()
    batch = [r for r in ravendb_server.requests if r.path.endswith("/bulk_docs")][-1]
    assert batch.query.startswith("?&waitForIndexesTimeout=")  # the client's double '?'
    with store.open_session() as session:
        assert session.load("users/carol", User).name == "Carol"
