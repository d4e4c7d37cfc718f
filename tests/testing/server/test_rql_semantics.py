"""The bundled server answers RQL as RavenDB does, not as SQL would."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from sqla_docstore.testing.server import serve_cluster


@pytest.fixture(scope="module")
def server() -> Any:
    cluster = serve_cluster(None, "A", databases=["db"])
    docs = [
        ("users/1", "Users", {"name": "éclair", "age": 30, "tags": ["a", "B"], "code": "12",
                              "order": 1, "address": {"city": "Paris"}}),
        ("users/2", "Users", {"name": "Bob", "age": 1000, "tags": ["c"], "code": 5, "order": 2,
                              "nick": None}),
        ("users/3", "Users", {"name": "alice", "age": 7.5, "tags": [], "order": 3,
                              "quote": "it's \"q\" \\ x"}),
        ("users/4", "Users", {"name": "Zoe", "age": "12", "order": 4}),
        ("products/1", "Products", {"name": "bob", "price": 3}),
    ]
    body = {"Commands": [{"Id": i, "ChangeVector": None, "Type": "PUT",
                          "Document": {**d, "@metadata": {"@collection": c}}}
                         for i, c, d in docs]}
    requests.post(f"{cluster.url}/databases/db/bulk_docs", data=json.dumps(body))
    yield cluster
    cluster.close()


def query(server: Any, text: str, **params: Any) -> dict[str, Any]:
    reply = requests.post(f"{server.url}/databases/db/queries",
                          data=json.dumps({"Query": text, "QueryParameters": params}))
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def ids(server: Any, text: str, **params: Any) -> list[str]:
    return [r["@metadata"]["@id"] for r in query(server, text, **params)["Results"]]


def test_strings_compare_ignoring_case_beyond_ascii_unless_exact(server: Any) -> None:
    assert ids(server, "from Users where name = $p", p="ÉCLAIR") == ["users/1"]
    assert ids(server, "from Users where name = $p", p="BOB") == ["users/2"]
    assert ids(server, "from Users where exact(name = $p)", p="BOB") == []
    assert ids(server, "from Users where exact(name = $p)", p="Bob") == ["users/2"]
    assert ids(server, "from Users where startsWith(name, $p)", p="AL") == ["users/3"]
    assert ids(server, "from Users where name in ($p)", p=["ALICE", "zoe"]) == [
        "users/3", "users/4"]


def test_strings_order_ignoring_case(server: Any) -> None:
    # lower-cased, then by code point (RavenDB's ordinal order of its index terms)
    assert ids(server, "from Users order by name") == ["users/3", "users/2", "users/4",
                                                       "users/1"]
    assert ids(server, "from Users order by name desc")[0] == "users/1"


def test_numeric_comparisons_see_only_numbers(server: Any) -> None:
    assert ids(server, "from Users where age > $p", p=10) == ["users/1", "users/2"]
    assert ids(server, "from Users where age < $p", p=100) == ["users/1", "users/3"]
    assert ids(server, "from Users where code = $p", p=12) == []  # "12" is a string
    assert ids(server, "from Users where code = $p", p="12") == ["users/1"]
    assert ids(server, "from Users where age between $a and $b", a=7, b=30) == [
        "users/1", "users/3"]


def test_array_fields_match_any_element(server: Any) -> None:
    assert ids(server, "from Users where tags = $p", p="b") == ["users/1"]
    assert ids(server, "from Users where tags in ($p)", p=["c", "x"]) == ["users/2"]
    assert ids(server, "from Users where tags != $p", p="c") == ["users/1", "users/3",
                                                                 "users/4"]


def test_not_and_not_equal_include_missing_and_null(server: Any) -> None:
    assert ids(server, "from Users where nick != $p", p="x") == [
        "users/1", "users/2", "users/3", "users/4"]
    assert ids(server, "from Users where nick = null") == ["users/2"]
    assert ids(server, "from Users where true and not exists(nick)") == [
        "users/1", "users/3", "users/4"]
    assert ids(server, "from Users where true and not age > $p", p=10) == [
        "users/3", "users/4"]


def test_quoted_field_names_and_escapes(server: Any) -> None:
    assert ids(server, "from Users where 'order' = $p", p=2) == ["users/2"]
    assert ids(server, 'from Users where "order" = 3') == ["users/3"]
    assert ids(server, "from Users where quote = 'it\\'s \\\"q\\\" \\\\ x'") == ["users/3"]
    assert ids(server, "from Users where address.city = 'paris'") == ["users/1"]


def test_all_docs_and_unknown_collections(server: Any) -> None:
    assert ids(server, "from '@all_docs' where name = 'bob'") == ["users/2", "products/1"]
    empty = query(server, "from Nothing where name = 'x'")
    assert (empty["Results"], empty["TotalResults"]) == ([], 0)


def test_random_order_is_fixed_by_its_seed(server: Any) -> None:
    first = ids(server, "from Users order by random('seed')")
    assert sorted(first) == ["users/1", "users/2", "users/3", "users/4"]
    assert ids(server, "from Users order by random('seed')") == first


def test_grouped_select_names(server: Any) -> None:
    rows = query(server, "from '@all_docs' group by name order by name "
                         "select key(), count(), sum(age)")["Results"]
    # groups are case-sensitive; sum() adds the numbers only
    assert [(r["name"], r["Count"], r["age"]) for r in rows] == [
        ("alice", 1, 7.5), ("Bob", 1, 1000), ("bob", 1, 0), ("Zoe", 1, 0), ("éclair", 1, 30)]


def test_projection_distinct_and_paging(server: Any) -> None:
    page = query(server, "from Users order by 'order' select name, age as Age limit 1, 2")
    assert [(r["name"], r["Age"]) for r in page["Results"]] == [("Bob", 1000), ("alice", 7.5)]
    assert page["TotalResults"] == 4
    assert page["Results"][0]["@metadata"] == {"@projection": True, "@id": "users/2"}
    distinct = query(server, "from '@all_docs' where price = 3 or age = 7.5 select distinct "
                             "nick")
    assert [r["nick"] for r in distinct["Results"]] == [None]


def test_query_includes_documents_and_compare_exchange_values(server: Any) -> None:
    requests.put(f"{server.url}/databases/db/cmpxchg", params={"key": "k/1", "index": 0},
                 data=json.dumps({"Object": {"city": "Torun"}}))
    orders = {"Commands": [{"Id": "orders/1", "ChangeVector": None, "Type": "PUT", "Document": {
        "lines": [{"product": "products/1"}], "key": "k/1",
        "@metadata": {"@collection": "Orders"}}}]}
    requests.post(f"{server.url}/databases/db/bulk_docs", data=json.dumps(orders))
    result = query(server, "from Orders include 'lines.product', cmpxchg('key') limit 0, 5")
    assert list(result["Includes"]) == ["products/1"]
    assert result["CompareExchangeValueIncludes"]["k/1"]["Value"] == {
        "Object": {"city": "Torun"}}
    before = requests.post(f"{server.url}/databases/db/queries",
                           data=json.dumps({"Query": "from Orders include cmpxchg('key')"}))
    requests.put(f"{server.url}/databases/db/cmpxchg",
                 params={"key": "k/1", "index": result["CompareExchangeValueIncludes"]["k/1"][
                     "Index"]}, data=json.dumps({"Object": {"city": "Bydgoszcz"}}))
    after = requests.post(f"{server.url}/databases/db/queries",
                          data=json.dumps({"Query": "from Orders include cmpxchg('key')"}),
                          headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # the included value changed: no 304


@pytest.mark.parametrize("name", ["back\\slash 1", "it's", 'a"b', "x\\'y", "plain"])
def test_client_quoted_collection_names_reach_the_server_intact(name: str) -> None:
    from sqla_docstore.backends.ravendb.rql import quote_collection
    from sqla_docstore.testing.server.query import parse

    source = parse(f"from {quote_collection(name)} where x = 1").from_[0]
    assert source.name == name  # type: ignore[union-attr]


def test_typed_ordering(server: Any) -> None:
    # age: 30, 1000, 7.5, "12" (a string: not a number for long/double, first as missing)
    assert ids(server, "from Users order by age as long") == ["users/4", "users/3", "users/1",
                                                              "users/2"]
    assert ids(server, "from Users order by age as double desc") == [
        "users/2", "users/1", "users/3", "users/4"]
    assert ids(server, "from Users order by age as string") == ["users/2", "users/4", "users/1",
                                                                "users/3"]
    assert ids(server, "from Users order by age as alphanumeric") == [
        "users/3", "users/4", "users/1", "users/2"]
