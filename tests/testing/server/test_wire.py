"""The bundled server on the wire: status codes, error shapes, batches, idempotency, faults."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests

from sqla_docstore.testing.server import serve_cluster


@pytest.fixture
def server() -> Any:
    cluster = serve_cluster(None, "A", databases=["db"])
    yield cluster
    cluster.close()


def _db(server: Any, tail: str) -> str:
    return f"{server.url}/databases/db/{tail}"


def _batch(server: Any, *commands: dict[str, Any], headers: dict[str, str] | None = None,
           query: str = "", **body: Any) -> requests.Response:
    return requests.post(_db(server, "bulk_docs" + query), headers=headers,
                         data=json.dumps({"Commands": list(commands), **body}))


def _put(doc_id: str | None, collection: str = "Users", cv: str | None = None,
         **fields: Any) -> dict[str, Any]:
    return {"Id": doc_id, "ChangeVector": cv, "Type": "PUT",
            "Document": {**fields, "@metadata": {"@collection": collection}}}


def _get(server: Any, *ids: str) -> requests.Response:
    return requests.get(_db(server, "docs"), params=[("id", i) for i in ids])


def test_every_reply_names_the_server_version(server: Any) -> None:
    replies = [
        requests.get(f"{server.url}/topology", params={"name": "db"}),
        _get(server, "users/none"),
        requests.get(f"{server.url}/databases/nope/docs", params={"id": "x"}),
        requests.post(_db(server, "queries"), data="{not json"),
        requests.get(f"{server.url}/no/such/route"),
    ]
    assert [r.status_code for r in replies] == [200, 404, 503, 400, 501]
    assert {r.headers["Raven-Server-Version"] for r in replies} == {"7.2.3"}


def test_unknown_database_is_503_with_database_missing(server: Any) -> None:
    reply = requests.get(f"{server.url}/databases/Nope/docs", params={"id": "x"})
    assert reply.status_code == 503
    assert reply.headers["Database-Missing"] == "Nope"
    body = reply.json()
    assert set(body) == {"Url", "Type", "Message", "Error"}
    assert body["Type"].endswith("DatabaseDoesNotExistException")
    topology = requests.get(f"{server.url}/topology", params={"name": "Nope"})
    assert topology.status_code == 503 and topology.headers["Database-Missing"] == "Nope"


def test_put_reply_and_stored_metadata(server: Any) -> None:
    reply = _batch(server, _put("users/1", name="Alice"))
    assert reply.status_code == 201
    (result,) = reply.json()["Results"]
    assert set(result) == {"Type", "@id", "@collection", "@change-vector", "@last-modified"}
    assert (result["@id"], result["@collection"]) == ("users/1", "Users")
    doc = _get(server, "USERS/1").json()["Results"][0]
    meta = doc.pop("@metadata")
    assert doc == {"name": "Alice"}
    assert meta["@collection"] == "Users" and meta["@id"] == "users/1"
    assert meta["@change-vector"] == result["@change-vector"]
    assert meta["@last-modified"] == result["@last-modified"]


def test_echoed_server_metadata_is_not_stored(server: Any) -> None:
    first = _batch(server, _put("users/1", name="A")).json()["Results"][0]
    echoed = _put("users/1", name="B")
    echoed["Document"]["@metadata"].update({"@id": "users/1", "@flags": "x",
                                            "@change-vector": first["@change-vector"],
                                            "Raven-Python-Type": "m.User"})
    _batch(server, echoed)
    meta = _get(server, "users/1").json()["Results"][0]["@metadata"]
    assert meta["Raven-Python-Type"] == "m.User" and "@flags" not in meta
    assert meta["@change-vector"] != first["@change-vector"]


def test_collections_ignore_case(server: Any) -> None:
    _batch(server, _put("users/1", "Users", name="A"), _put("users/2", "USERS", name="B"))
    db = server.databases.get("db")
    with db.lock:
        assert db.collections() == ["Users"]
    query = requests.post(_db(server, "queries"), data=json.dumps({"Query": "from users"}))
    assert sorted(d["name"] for d in query.json()["Results"]) == ["A", "B"]


def test_server_generated_ids(server: Any) -> None:
    results = _batch(server, _put("users|", name="a"), _put("users|", name="b"),
                     _put("orders/", "Orders"), _put(None, "Things")).json()["Results"]
    ids = [r["@id"] for r in results]
    assert ids[:2] == ["users/1", "users/2"]
    assert ids[2].startswith("orders/") and ids[2].endswith("-A") and len(ids[2]) == 28
    assert len(ids[3]) == 36  # a GUID


def test_load_many_positional_with_nulls_and_etag_304(server: Any) -> None:
    _batch(server, _put("users/1", name="A"), _put("users/2", name="B"))
    reply = _get(server, "users/2", "users/none", "users/1")
    docs = reply.json()["Results"]
    assert [d and d["name"] for d in docs] == ["B", None, "A"]
    etag = reply.headers["ETag"]
    again = requests.get(reply.url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    _batch(server, _put("users/1", name="A2"))
    assert requests.get(reply.url, headers={"If-None-Match": etag}).status_code == 200
    missing = _get(server, "users/none")
    assert missing.status_code == 404 and missing.content == b""
    cached_missing = requests.get(missing.url, headers={"If-None-Match": '"404 Response"'})
    assert cached_missing.status_code == 304


def test_load_by_post_and_includes_and_prefix(server: Any) -> None:
    _batch(server, _put("companies/1", "Companies", name="Acme"),
           _put("users/1", name="A", companyId="companies/1"), _put("users/2", name="B"))
    reply = requests.post(_db(server, "docs?&include=companyId"),
                          data=json.dumps({"Ids": ["users/1", "users/2"]}))
    body = reply.json()
    assert [d["name"] for d in body["Results"]] == ["A", "B"]
    assert list(body["Includes"]) == ["companies/1"]
    prefixed = requests.get(_db(server, "docs"), params={"startsWith": "USERS/"}).json()
    assert [d["@metadata"]["@id"] for d in prefixed["Results"]] == ["users/1", "users/2"]


def test_head(server: Any) -> None:
    cv = _batch(server, _put("users/1", name="A")).json()["Results"][0]["@change-vector"]
    head = requests.head(_db(server, "docs"), params={"id": "users/1"})
    assert head.status_code == 200 and head.headers["ETag"] == f'"{cv}"'
    assert requests.head(_db(server, "docs"), params={"id": "users/1"},
                         headers={"If-None-Match": f'"{cv}"'}).status_code == 304
    assert requests.head(_db(server, "docs"), params={"id": "users/2"}).status_code == 404


def test_batch_is_atomic_and_conflicts_are_409(server: Any) -> None:
    cv = _batch(server, _put("users/1", name="A")).json()["Results"][0]["@change-vector"]
    reply = _batch(server, _put("users/2", name="B"), _put("users/1", cv="A:999-x", name="C"))
    assert reply.status_code == 409
    error = reply.json()
    assert set(error) == {"Url", "Type", "Message", "Error"}
    assert error["Type"] == "Raven.Client.Exceptions.ConcurrencyException"
    assert error["Message"] == (
        f"Document users/1 has change vector {cv}, but Put was called with change vector "
        "A:999-x. Optimistic concurrency violation, transaction will be aborted.")
    assert _get(server, "users/2").status_code == 404  # nothing of the batch was applied
    new_only = _batch(server, _put("users/1", cv="", name="D"))
    assert new_only.status_code == 409 and "expecting new document" in new_only.json()["Message"]
    delete = _batch(server, {"Id": "users/1", "ChangeVector": "A:1-zz", "Type": "DELETE"})
    assert delete.status_code == 409
    ok = _batch(server, {"Id": "users/1", "ChangeVector": cv, "Type": "DELETE"},
                {"Id": "users/none", "ChangeVector": None, "Type": "DELETE"})
    assert [r["Deleted"] for r in ok.json()["Results"]] == [True, False]


def test_batch_track_changes(server: Any) -> None:
    cv = _batch(server, _put("users/1", name="A")).json()["Results"][0]["@change-vector"]
    track = {"Type": "BatchTrackChanges", "TrackedEntities": {"users/1": cv, "users/2": ""}}
    assert _batch(server, track, _put("users/3", name="C")).status_code == 201
    _batch(server, _put("users/2", name="B"))
    assert _batch(server, track, _put("users/4", name="D")).status_code == 409
    assert _get(server, "users/4").status_code == 404


def test_request_ids_make_batches_idempotent(server: Any) -> None:
    _batch(server, _put("users/1", name="A", visits=0))
    increment = {"Id": "users/1", "ChangeVector": None, "Type": "PATCH",
                 "Patch": {"Script": "this.visits += args.n", "Values": {"n": 1}}}
    first = _batch(server, increment, headers={"Raft-Request-Id": "req-1"})
    retry = _batch(server, increment, headers={"Raft-Request-Id": "req-1"})
    by_query = _batch(server, increment, query="?raft-request-id=req-1")
    assert first.status_code == retry.status_code == by_query.status_code == 201
    assert first.json() == retry.json() == by_query.json()
    assert _get(server, "users/1").json()["Results"][0]["visits"] == 1
    _batch(server, increment, headers={"Raft-Request-Id": "req-2"})
    assert _get(server, "users/1").json()["Results"][0]["visits"] == 2


def test_a_failed_batch_is_not_recorded_under_its_request_id(server: Any) -> None:
    bad = _batch(server, _put("users/1", cv="A:5-x"), headers={"Raft-Request-Id": "r"})
    assert bad.status_code == 409
    good = _batch(server, _put("users/1", name="A"), headers={"Raft-Request-Id": "r"})
    assert good.status_code == 201 and _get(server, "users/1").status_code == 200


def test_a_lost_reply_is_retried_without_applying_twice(server: Any) -> None:
    _batch(server, _put("users/1", name="A", visits=0))
    increment = {"Id": "users/1", "ChangeVector": None, "Type": "PATCH",
                 "Patch": {"Script": "this.visits = this.visits + 1", "Values": {}}}
    server.add_fault("drop_after", "bulk_docs")
    with pytest.raises(requests.ConnectionError):
        _batch(server, increment, headers={"Raft-Request-Id": "lost"})
    assert _get(server, "users/1").json()["Results"][0]["visits"] == 1  # it was applied
    retry = _batch(server, increment, headers={"Raft-Request-Id": "lost"})
    assert retry.status_code == 201
    assert _get(server, "users/1").json()["Results"][0]["visits"] == 1


@pytest.mark.parametrize(("kind", "status"), [("status", 500), ("html", 502)])
def test_injected_error_replies(server: Any, kind: str, status: int) -> None:
    server.add_fault(kind, "bulk_docs", status=status)
    reply = _batch(server, _put("users/1", name="A"))
    assert reply.status_code == status
    assert reply.headers["Content-Type"].startswith("text/html" if kind == "html"
                                                    else "application/json")
    assert _get(server, "users/1").status_code == 404  # not processed
    assert _batch(server, _put("users/1", name="A")).status_code == 201  # once only


def test_injected_truncated_reply(server: Any) -> None:
    server.add_fault("truncate", "/docs")
    _batch(server, _put("users/1", name="A"))
    reply = _get(server, "users/1")
    with pytest.raises(ValueError):
        reply.json()


def test_patch_commands(server: Any) -> None:
    _batch(server, _put("users/1", name="A", tags=["x"], age=1))
    script = ("this.age = this.age ? this.age + args.val_0 : args.val_0 ;\n"
              "this.tags.push(args.t);\rdelete this.name;\nthis.nick = 'a' + \"b\";"
              "this['@metadata']['Extra'] = 1")
    patch = {"Id": "users/1", "ChangeVector": None, "Type": "PATCH", "ReturnDocument": True,
             "Patch": {"Script": script, "Values": {"val_0": 5, "t": "y"}}}
    (result,) = _batch(server, patch).json()["Results"]
    assert result["PatchStatus"] == "Patched"
    doc = result["ModifiedDocument"]
    assert (doc["age"], doc["tags"], doc["nick"], "name" in doc) == (6, ["x", "y"], "ab", False)
    assert doc["@metadata"]["Extra"] == 1 and doc["@metadata"]["@collection"] == "Users"
    same = {**patch, "Patch": {"Script": "this.age = 6", "Values": {}}}
    assert _batch(server, same).json()["Results"][0]["PatchStatus"] == "NotModified"
    missing = {**patch, "Id": "users/none"}
    assert _batch(server, missing).json()["Results"][0]["PatchStatus"] == "DocumentDoesNotExist"
    created = {**missing, "CreateIfMissing": {"name": "new", "@metadata": {"@collection": "Users"}}}
    assert _batch(server, created).json()["Results"][0]["PatchStatus"] == "Created"
    assert _get(server, "users/none").json()["Results"][0]["name"] == "new"


def _patch(script: str, doc_id: str = "users/1", **values: Any) -> dict[str, Any]:
    return {"Id": doc_id, "ChangeVector": None, "Type": "PATCH", "ReturnDocument": True,
            "Patch": {"Script": script, "Values": values}}


def test_patches_run_real_javascript(server: Any) -> None:
    _batch(server, _put("users/1", name="A", tags=[1, 2, 3], big=2**60 + 1, n=1))
    script = """
        this.n++;
        var doubled = this.tags.map(function (x) { return x * 2; });
        for (var i = 0; i < doubled.length; i++) { if (doubled[i] > 2) { this.tags.push(i); } }
        this.owner = id(this);
        this.name += args.suffix;
    """
    reply = _batch(server, _patch(script, suffix="!"))
    assert reply.status_code == 201
    doc = _get(server, "users/1").json()["Results"][0]
    assert (doc["n"], doc["tags"], doc["owner"], doc["name"]) == (2, [1, 2, 3, 1, 2], "users/1",
                                                                 "A!")
    assert doc["big"] == 2**60 + 1  # a number the script did not touch stays exact
    unchanged = _batch(server, _patch("this.n = this.n")).json()["Results"][0]
    assert unchanged["PatchStatus"] == "NotModified"
    assert unchanged["ModifiedDocument"]["n"] == 2  # still returned, as RavenDB does


def test_patch_scripts_are_bounded_and_unimplemented_functions_are_501(server: Any) -> None:
    _batch(server, _put("users/1", name="A"))
    looping = _batch(server, _patch("while (true) {}"))
    assert looping.status_code == 400
    assert looping.json()["Type"].endswith("JavaScriptException")
    assert "ran longer than" in looping.json()["Message"]
    hungry = _batch(server, _patch("var a = []; while (true) { a.push(new Array(1e6).fill(1)); }"))
    assert hungry.status_code == 400 and "memory" in hungry.json()["Message"]
    thrown = _batch(server, _patch("throw 'no way'"))
    assert thrown.status_code == 400 and "no way" in thrown.json()["Message"]
    loads = _batch(server, _patch("this.other = load('users/2')"))
    assert loads.status_code == 501 and "load()" in loads.json()["Message"]
    assert _get(server, "users/1").json()["Results"][0]["name"] == "A"


def test_subset_engine_names_what_it_cannot_run(server: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from sqla_docstore.testing.server import script

    monkeypatch.setattr(script, "ENGINE", "subset")
    _batch(server, _put("users/1", name="A", tags=[1]))
    reply = _batch(server, _patch("this.tags = this.tags.filter(function(x) { return x; })"))
    assert reply.status_code == 400
    assert reply.json()["Type"].endswith("JavaScriptException")
    assert ".filter()" in reply.json()["Message"]


def test_unsupported_batch_commands_are_named(server: Any) -> None:
    _batch(server, _put("users/1", name="A", tags=[1]))
    counters = _batch(server, {"Id": "users/1", "Type": "Counters", "Counters": {}})
    assert counters.status_code == 501 and "'Counters'" in counters.json()["Message"]
    revision = _batch(server, {"Id": "users/1", "Type": "ForceRevisionCreation"})
    assert revision.status_code == 501
    assert "'ForceRevisionCreation'" in revision.json()["Message"]


def test_json_patch_command(server: Any) -> None:
    _batch(server, _put("users/1", name="A", tags=["x"], address={"city": "Oslo"}))
    ops = [{"op": "add", "path": "/age", "value": 3},
           {"op": "add", "path": "/tags/-", "value": "y"},
           {"op": "replace", "path": "/address/city", "value": "Rome"},
           {"op": "remove", "path": "/name"}, {"op": "copy", "from": "/age", "path": "/age2"}]
    command = {"Id": "users/1", "ChangeVector": None, "Type": "JsonPatch",
               "JsonPatch": {"Operations": ops}, "ReturnDocument": False}
    assert _batch(server, command).json()["Results"][0]["PatchStatus"] == "Patched"
    doc = _get(server, "users/1").json()["Results"][0]
    del doc["@metadata"]
    assert doc == {"tags": ["x", "y"], "address": {"city": "Rome"}, "age": 3, "age2": 3}
    failing = {**command, "JsonPatch": {"Operations": [{"op": "remove", "path": "/nope"}]}}
    reply = _batch(server, failing)
    assert reply.status_code == 400 and reply.json()["Type"].endswith("JsonPatchException")


def test_a_patch_storing_another_kind_of_an_equal_number_changes_the_document(
        server: Any) -> None:
    """0 over -0.0, 1 over 1.0: the document changes (was NotModified, Python's 0 == -0.0)."""
    _batch(server, _put("users/1", a=-0.0, b=1.0, c=2))
    ops = [{"op": "add", "path": "/a", "value": 0}, {"op": "add", "path": "/b", "value": 1}]
    command = {"Id": "users/1", "ChangeVector": None, "Type": "JsonPatch",
               "JsonPatch": {"Operations": ops}, "ReturnDocument": False}
    assert _batch(server, command).json()["Results"][0]["PatchStatus"] == "Patched"
    doc = _get(server, "users/1").json()["Results"][0]
    assert [(type(doc[k]), doc[k]) for k in "abc"] == [(int, 0), (int, 1), (int, 2)]
    same = {**command, "JsonPatch": {"Operations": [{"op": "add", "path": "/c", "value": 2}]}}
    assert _batch(server, same).json()["Results"][0]["PatchStatus"] == "NotModified"


def test_queries_on_the_wire(server: Any) -> None:
    _batch(server, *(_put(f"users/{i}", name=f"n{i % 3}", age=i) for i in range(10)))

    def query(text: str, **params: Any) -> dict[str, Any]:
        reply = requests.post(_db(server, "queries?queryHash=x"),
                              data=json.dumps({"Query": text, "QueryParameters": params}))
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    page = query("from 'Users' where age >= $a order by age desc limit $s, $t", a=2, s=1, t=3)
    assert [d["age"] for d in page["Results"]] == [8, 7, 6]
    assert page["TotalResults"] == 8 and page["IsStale"] is False
    assert page["IndexTimestamp"].endswith("Z") and len(page["IndexTimestamp"]) == 28
    projected = query("from Users where name in ($names) select name, age as Age limit 0, 1",
                      names=["N1"])
    assert projected["Results"] == [{"name": "n1", "Age": 1, "@metadata": {
        "@projection": True, "@id": "users/1"}}]
    assert projected["TotalResults"] == 3
    grouped = query("from Users group by name order by name select key(), count() as Count, "
                    "sum(age) as Total")
    assert [(g["name"], g["Count"], g["Total"]) for g in grouped["Results"]] == [
        ("n0", 4, 18), ("n1", 3, 12), ("n2", 3, 15)]
    assert query("from Users select distinct name")["TotalResults"] == 3
    paged_groups = query("from Users group by name order by name select key(), count() "
                         "limit 0, 2")
    assert [g["name"] for g in paged_groups["Results"]] == ["n0", "n1"]
    assert paged_groups["TotalResults"] == 3
    paged_distinct = query("from Users select distinct name limit 1, 5")
    assert (len(paged_distinct["Results"]), paged_distinct["TotalResults"]) == (2, 3)


@pytest.mark.parametrize(("text", "named"), [
    ("from index 'Users/ByName'", "static index"),
    ("from Users where search(name, $p)", "search()"),
    ("from Users where name = age", "Comparing two fields"),
    ("from Users select age * 2", "Projecting Binary"),
    ("from Users include timings()", "include timings()"),
    ("from Items order by spatial.distance(spatial.point(a, b), spatial.point(1, 2))", "RQL"),
])
def test_unimplemented_rql_is_a_501_naming_the_construct(server: Any, text: str,
                                                        named: str) -> None:
    _batch(server, _put("users/1", name="A"))
    reply = requests.post(_db(server, "queries"),
                          data=json.dumps({"Query": text, "QueryParameters": {"p": 1}}))
    assert reply.status_code == 501
    assert reply.json()["Type"] == "System.NotSupportedException"
    assert named in reply.json()["Message"]


def test_sql_instead_of_rql_is_a_400(server: Any) -> None:
    reply = requests.post(_db(server, "queries"),
                          data=json.dumps({"Query": "select * from users"}))
    assert reply.status_code == 400
    assert reply.json()["Type"] == "Raven.Client.Exceptions.InvalidQueryException"
    assert "'from <collection>'" in reply.json()["Message"]


def test_compare_exchange_on_the_wire(server: Any) -> None:
    url = _db(server, "cmpxchg")
    put = requests.put(url, params={"key": "names/a", "index": 0},
                       data=json.dumps({"Object": {"Owner": "users/1"}})).json()
    assert put["Successful"] and put["Index"] > 0
    assert requests.get(url, params={"key": "names/none"}).status_code == 404
    many = requests.get(url, params=[("key", "NAMES/A"), ("key", "names/none")]).json()
    assert [(r["Key"], r["Value"]) for r in many["Results"]] == [
        ("names/a", {"Object": {"Owner": "users/1"}}), ("names/none", None)]
    prefixed = requests.get(url, params={"startsWith": "names/"}).json()
    assert [r["Key"] for r in prefixed["Results"]] == ["names/a"]
    stale = requests.delete(url, params={"key": "names/a", "index": put["Index"] + 7}).json()
    assert not stale["Successful"] and stale["Index"] == put["Index"]
    guard = requests.put(url, params={"key": "rvn-atomic/users/1", "index": 0}, data="{}")
    assert guard.status_code == 400


def test_cluster_transactions_need_fresh_guards(server: Any) -> None:
    headers = {"Raven-Client-Version": "7.2.7"}
    cluster = {"TransactionMode": "ClusterWide"}
    first = _batch(server, _put("users/1", name="A"), headers=headers, **cluster).json()
    assert first["TransactionIndex"] > 0
    cv = first["Results"][0]["@change-vector"]
    assert f"RAFT:{first['TransactionIndex']}-" in cv
    blind = _batch(server, _put("users/1", name="B"), headers=headers, **cluster)
    assert blind.status_code == 409
    assert "rvn-atomic/users/1" in blind.json()["Message"]
    informed = {**_put("users/1", name="C"), "OriginalChangeVector": cv}
    assert _batch(server, informed, headers=headers, **cluster).status_code == 201
    unguarded = _batch(server, _put("users/1", name="D"), headers=headers,
                       query="?&disableAtomicDocumentWrites=true", **cluster)
    assert unguarded.status_code == 201
    old_client = _batch(server, _put("users/1", name="E"), **cluster)  # no version: no guards
    assert old_client.status_code == 201
    cmp = {"Id": "k", "Index": 0, "Type": "CompareExchangePUT", "Document": {"Object": 1}}
    single = _batch(server, cmp)
    assert single.status_code == 400


def test_cluster_transaction_guards_are_checked_against_the_state_before_it(
        server: Any) -> None:
    """RavenDB (``ClusterTransactionCommand``: ``EnsureAtomicDocumentWrites`` makes one guard
    command per document command, ``ExecuteCompareExchangeCommands`` validates them all, then
    executes them) checks each guard against the guards as they were before the batch: a
    DELETE does not free the id for a PUT expecting a new document in the same batch."""
    headers = {"Raven-Client-Version": "7.2.7"}
    cluster = {"TransactionMode": "ClusterWide"}
    cv = _batch(server, _put("users/1", name="A"), headers=headers,
                **cluster).json()["Results"][0]["@change-vector"]
    delete = {"Id": "users/1", "ChangeVector": None, "Type": "DELETE",
              "OriginalChangeVector": cv}
    recreate = _batch(server, delete, _put("users/1", name="B"), headers=headers, **cluster)
    assert recreate.status_code == 409
    assert "rvn-atomic/users/1" in recreate.json()["Message"]
    assert _get(server, "users/1").json()["Results"][0]["name"] == "A"  # nothing applied
    guarded = {**_put("users/1", name="C"), "OriginalChangeVector": cv}
    assert _batch(server, delete, guarded, headers=headers, **cluster).status_code == 201
    assert _get(server, "users/1").json()["Results"][0]["name"] == "C"


def test_gzip_and_chunked_request_bodies(server: Any) -> None:
    body = json.dumps({"Commands": [_put("users/1", name="A")]}).encode()
    zipped = requests.post(_db(server, "bulk_docs"), data=gzip.compress(body),
                           headers={"Content-Encoding": "gzip"})
    assert zipped.status_code == 201
    chunked = requests.post(_db(server, "bulk_docs"),
                            data=iter([body[:10], body[10:]]))  # a generator: chunked
    assert chunked.status_code == 201
    big = requests.post(_db(server, "queries"), data=json.dumps({"Query": "from Users"}),
                        headers={"Accept-Encoding": "gzip"})
    assert big.json()["Results"][0]["name"] == "A"


def test_single_document_endpoints(server: Any) -> None:
    put = requests.put(_db(server, "docs"), params={"id": "users/1"},
                       data=json.dumps({"name": "A", "@metadata": {"@collection": "Users"}}))
    assert put.status_code == 201 and put.json()["Id"] == "users/1"
    patch = requests.patch(_db(server, "docs"), params={"id": "users/1"}, data=json.dumps(
        {"Patch": {"Script": "this.name = $n", "Values": {"n": "B"}}, "PatchIfMissing": None}))
    assert patch.json()["Status"] == "Patched" and patch.json()["ModifiedDocument"]["name"] == "B"
    stale = requests.delete(_db(server, "docs"), params={"id": "users/1"},
                            headers={"If-Match": '"A:1-nope"'})
    assert stale.status_code == 409
    assert requests.delete(_db(server, "docs"), params={"id": "users/1"}).status_code == 204
    assert _get(server, "users/1").status_code == 404


def test_hilo_on_the_wire(server: Any) -> None:
    url = _db(server, "hilo/next")
    first = requests.get(url, params={"tag": "users", "lastBatchSize": 0, "lastRangeAt": "",
                                      "identityPartsSeparator": "/", "lastMax": 0})
    assert first.status_code == 201
    body = first.json()
    assert {k: body[k] for k in ("Prefix", "Low", "High", "LastSize", "ServerTag")} == {
        "Prefix": "users/", "Low": 1, "High": 32, "LastSize": 32, "ServerTag": "A"}
    second = requests.get(url, params={"tag": "users", "lastBatchSize": 32,
                                       "lastRangeAt": body["LastRangeAt"][:-1],
                                       "identityPartsSeparator": "/", "lastMax": 32}).json()
    assert (second["Low"], second["High"]) == (33, 96)  # used up quickly: capacity doubles
    ret = requests.put(_db(server, "hilo/return"), params={"tag": "users", "end": 96, "last": 40})
    assert ret.status_code == 204
    third = requests.get(url, params={"tag": "users", "lastMax": 0}).json()
    assert third["Low"] == 41


def test_attachments_and_query_diagnostics_are_501(server: Any) -> None:
    multipart = requests.post(_db(server, "bulk_docs"), data=b"--x\r\n\r\n{}\r\n--x--",
                              headers={"Content-Type": "multipart/mixed; boundary=x"})
    assert multipart.status_code == 501 and "Attachments" in multipart.json()["Message"]
    explain = requests.post(_db(server, "queries") + "?debug=explain",
                            data=json.dumps({"Query": "from Users"}))
    assert explain.status_code == 501 and "debug=explain" in explain.json()["Message"]


def test_hilo_state_is_the_raven_hilo_document(server: Any) -> None:
    url = _db(server, "hilo/next")
    _batch(server, {"Id": "Raven/Hilo/users", "ChangeVector": None, "Type": "PUT",
                    "Document": {"Max": 64, "@metadata": {"@collection": "@hilo"}}})
    first = requests.get(url, params={"tag": "users", "lastMax": 0}).json()
    assert (first["Low"], first["High"]) == (65, 96)
    stored = _get(server, "Raven/Hilo/users").json()["Results"][0]
    assert stored["Max"] == 96 and stored["@metadata"]["@collection"] == "@hilo"
    requests.put(_db(server, "hilo/return"), params={"tag": "users", "end": 96, "last": 66})
    assert _get(server, "raven/hilo/users").json()["Results"][0]["Max"] == 66
    deleted = requests.delete(_db(server, "docs"), params={"id": "Raven/Hilo/users"})
    assert deleted.status_code == 204
    assert requests.get(url, params={"tag": "users", "lastMax": 0}).json()["Low"] == 1


def test_docs_without_ids_page_newest_first_and_metadata_only(server: Any) -> None:
    for doc_id in ("products/101", "products/10", "products/102"):
        _batch(server, _put(doc_id, "Products", name="test"))
    paged = requests.get(_db(server, "docs"), params={"start": 0, "pageSize": 2}).json()
    assert [d["@metadata"]["@id"] for d in paged["Results"]] == ["products/102", "products/10"]
    by_prefix = requests.get(_db(server, "docs"), params={"startsWith": "products/"}).json()
    assert [d["@metadata"]["@id"] for d in by_prefix["Results"]] == [
        "products/10", "products/101", "products/102"]
    meta = requests.get(_db(server, "docs"), params={"id": "products/10",
                                                     "metadataOnly": "true"}).json()
    assert list(meta["Results"][0]) == ["@metadata"]
    assert meta["Results"][0]["@metadata"]["@id"] == "products/10"


def test_etag_of_one_document_is_its_change_vector(server: Any) -> None:
    cv = _batch(server, _put("users/1", name="A")).json()["Results"][0]["@change-vector"]
    first = _get(server, "users/1")
    assert first.headers["ETag"] == f'"{cv}"'
    same = requests.get(_db(server, "docs"), params={"id": "users/1"},
                        headers={"If-None-Match": f'"{cv}"'})
    assert same.status_code == 304
    _batch(server, _put("users/1", name="B"))
    changed = requests.get(_db(server, "docs"), params={"id": "users/1"},
                           headers={"If-None-Match": f'"{cv}"'})
    assert changed.status_code == 200 and changed.json()["Results"][0]["name"] == "B"


def test_compare_exchange_listing_without_key_returns_all(server: Any) -> None:
    url = _db(server, "cmpxchg")
    for key in ("test", "test2", "other"):
        requests.put(url, params={"key": key, "index": 0}, data=json.dumps({"Object": key}))
    listed = requests.get(url).json()["Results"]
    assert [r["Key"] for r in listed] == ["other", "test", "test2"]
    paged = requests.get(url, params={"start": 1, "pageSize": 1}).json()["Results"]
    assert [r["Key"] for r in paged] == ["test"]


def test_statistics_and_database_record_have_raven_fields(server: Any) -> None:
    _batch(server, _put("users/1", name="A"), _put("users/2", name="B"))
    stats = requests.get(_db(server, "stats")).json()
    assert stats["CountOfDocuments"] == 2 and stats["Indexes"] == []
    assert stats["CountOfAttachments"] == 0 and stats["Is64Bit"] is True
    assert stats["SizeOnDisk"]["SizeInBytes"] > 0
    assert stats["LastDocEtag"] == 2 and stats["DatabaseChangeVector"].startswith("A:2-")
    record = requests.get(f"{server.url}/admin/databases", params={"name": "db"}).json()
    assert record["LockMode"] == "Unlock" and record["AutoIndexes"] == {}
    requests.post(_db(server, "queries"), data=json.dumps({"Query": "from Users where name = 'a'"}))
    record = requests.get(f"{server.url}/admin/databases", params={"name": "db"}).json()
    index = record["AutoIndexes"]["Auto/Users/Byname"]
    assert (index["Collection"], list(index["MapFields"])) == ("Users", ["name"])


def test_patch_scripts_share_no_globals(server: Any) -> None:
    _batch(server, _put("users/1", name="A"), _put("users/2", name="B"))
    assert _batch(server, _patch("leaked = 1; this.n = 1")).status_code == 201
    reply = _batch(server, _patch("this.seen = typeof leaked", doc_id="users/2"))
    assert reply.json()["Results"][0]["ModifiedDocument"]["seen"] == "undefined"
    _batch(server, _patch("leaked = 2; while (true) {}"))  # terminated before it returned
    reply = _batch(server, _patch("this.again = typeof leaked", doc_id="users/2"))
    assert reply.json()["Results"][0]["ModifiedDocument"]["again"] == "undefined"


def test_identities_next_seed_and_listing(server: Any) -> None:
    _batch(server, _put("users|", name="A"))
    assert requests.post(_db(server, "identity/next"), params={"name": "users"}).json() == {
        "NewIdentityValue": 2}
    seed = requests.post(_db(server, "identity/seed"), params={"name": "users", "value": 10})
    assert seed.json() == {"NewSeedValue": 10}
    lower = requests.post(_db(server, "identity/seed"), params={"name": "users", "value": 5})
    assert lower.json() == {"NewSeedValue": 10}  # only raised unless forced
    forced = requests.post(_db(server, "identity/seed"),
                           params={"name": "users", "value": 5, "force": "true"})
    assert forced.json() == {"NewSeedValue": 5}
    _batch(server, _put("users|", name="B"))
    assert _get(server, "users/6").status_code == 200
    assert requests.get(_db(server, "debug/identities")).json() == {"users|": 6}
    stats = requests.get(_db(server, "collections/stats")).json()
    assert stats == {"CountOfDocuments": 2, "CountOfConflicts": 0, "Collections": {"Users": 2}}


def test_load_starting_with_matches_exclude_and_start_after(server: Any) -> None:
    for doc_id in ("products/MB-200", "products/MB-201", "products/MB-100", "products/BM-200"):
        _batch(server, _put(doc_id, "Products"))

    def load(**params: Any) -> list[str]:
        reply = requests.get(_db(server, "docs"), params=params).json()
        return [d["@metadata"]["@id"] for d in reply["Results"]]

    assert load(startsWith="products/mb-", matches="2*") == ["products/MB-200",
                                                             "products/MB-201"]
    assert load(startsWith="products/MB-", exclude="2*|?00") == []
    assert load(startsWith="products/MB-", matches="2*",
                startAfter="products/MB-200") == ["products/MB-201"]
    assert load(startsWith="products/MB-", matches="*", start=1, pageSize=1) == [
        "products/MB-200"]


def test_detailed_stats_and_next_operation_id(server: Any) -> None:
    requests.put(_db(server, "cmpxchg"), params={"key": "a", "index": 0}, data='{"Object": 1}')
    _batch(server, _put("users|", name="A"))
    detailed = requests.get(_db(server, "stats/detailed")).json()
    assert (detailed["CountOfDocuments"], detailed["CountOfIdentities"],
            detailed["CountOfCompareExchange"]) == (1, 1, 1)
    first = requests.get(_db(server, "operations/next-operation-id")).json()
    second = requests.get(_db(server, "operations/next-operation-id")).json()
    assert second["Id"] > first["Id"] and first["NodeTag"] == "A"
