"""RQL over arrays and nested paths as RavenDB's auto indexes answer it: ``all in``, ``[]``
paths, ``group by`` array elements and ``array()``, projections of paths; and RavenDB's case
folding (.NET's ToLowerInvariant, one character for one)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import requests

from sqla_docstore.testing.server import serve_cluster
from sqla_docstore.testing.server.rql import fold

ORDERS: list[tuple[str, dict[str, Any]]] = [
    ("orders/1", {"lines": [{"product": "products/1", "quantity": 1},
                            {"product": "products/2", "quantity": 2}],
                  "ship_to": {"country": "USA", "city": "Boston"}, "tags": ["Gift", "fast"]}),
    ("orders/2", {"lines": [{"product": "PRODUCTS/2", "quantity": 3}],
                  "ship_to": {"country": "USA"}, "tags": ["gift"]}),
    ("orders/3", {"lines": [{"product": "products/1", "quantity": 1},
                            {"product": "products/2", "quantity": 2}],
                  "ship_to": {"country": "France"}, "tags": "fast"}),
    ("orders/4", {"lines": [], "name": "İstanbul", "word": "ΟΔΟΣ"}),
]


def put_all(url: str, docs: list[tuple[str, dict[str, Any]]], collection: str) -> None:
    body = {"Commands": [{"Id": i, "ChangeVector": None, "Type": "PUT",
                          "Document": {**d, "@metadata": {"@collection": collection}}}
                         for i, d in docs]}
    reply = requests.post(f"{url}/databases/db/bulk_docs", data=json.dumps(body))
    assert reply.status_code == 201, reply.text


@pytest.fixture(scope="module")
def server() -> Any:
    cluster = serve_cluster(None, "A", databases=["db"])
    put_all(cluster.url, ORDERS, "Orders")
    yield cluster
    cluster.close()


def post(server: Any, text: str, **params: Any) -> requests.Response:
    return requests.post(f"{server.url}/databases/db/queries",
                         data=json.dumps({"Query": text, "QueryParameters": params}))


def results(server: Any, text: str, **params: Any) -> list[dict[str, Any]]:
    reply = post(server, text, **params)
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()["Results"]
    for row in rows:
        row.pop("@metadata", None)
    return rows


def ids(server: Any, text: str, **params: Any) -> list[str]:
    reply = post(server, text, **params)
    assert reply.status_code == 200, reply.text
    return [r["@metadata"]["@id"] for r in reply.json()["Results"]]


def refused(server: Any, text: str, **params: Any) -> str:
    reply = post(server, text, **params)
    assert reply.status_code == 501, reply.text
    message: str = reply.json()["Message"]
    return message


def test_all_in_needs_every_value_ignoring_case(server: Any) -> None:
    assert ids(server, "from Orders where tags all in ($p)", p=["GIFT", "fast"]) == [
        "orders/1"]
    assert ids(server, "from Orders where tags all in ($p)", p=["fast"]) == [
        "orders/1", "orders/3"]  # a single value holds itself
    assert ids(server, "from Orders where tags all in ('gift')") == ["orders/1", "orders/2"]
    assert ids(server, "from Orders where exact(tags all in ($p))", p=["gift"]) == [
        "orders/2"]
    # not: also the documents without the field
    assert ids(server, "from Orders where true and not tags all in ($p)", p=["fast"]) == [
        "orders/2", "orders/4"]
    assert "'all in' with no values" in refused(server, "from Orders where tags all in ($p)",
                                                p=[])


def test_array_paths_match_any_element(server: Any) -> None:
    assert ids(server, "from Orders where lines[].product = $p", p="products/1") == [
        "orders/1", "orders/3"]
    assert ids(server, "from Orders as o where o.lines[].quantity > 2") == ["orders/2"]
    assert ids(server, "from Orders where ship_to.country = 'usa'") == ["orders/1", "orders/2"]
    assert "through an array without '[]'" in refused(
        server, "from Orders where lines.product = $p", p="products/1")


def test_group_by_array_elements_counts_each_element(server: Any) -> None:
    rows = results(server, "from Orders group by lines[].product order by count() "
                           "select key() as product, count() as count")
    # grouping is exact (products/2 and PRODUCTS/2 are two keys), as in test_grouped_select
    assert rows == [{"product": "PRODUCTS/2", "count": 1}, {"product": "products/1", "count": 2},
                    {"product": "products/2", "count": 2}]
    by_country = results(server, "from Orders group by lines[].product, ship_to.country "
                                 "where ship_to.country = 'USA' order by count() "
                                 "select lines[].product as p, ship_to.country as c, count()")
    # RQL's where follows group by; equal counts keep the order groups were first seen in
    assert by_country == [{"p": "products/1", "c": "USA", "Count": 1},
                          {"p": "products/2", "c": "USA", "Count": 1},
                          {"p": "PRODUCTS/2", "c": "USA", "Count": 1}]


def test_group_by_fields_of_one_array_go_element_by_element(server: Any) -> None:
    rows = results(server, "from Orders group by lines[].product, lines[].quantity "
                           "order by lines[].quantity, count() desc "
                           "select lines[].product as p, lines[].quantity as q, count() as n")
    assert rows == [{"p": "products/1", "q": 1, "n": 2}, {"p": "products/2", "q": 2, "n": 2},
                    {"p": "PRODUCTS/2", "q": 3, "n": 1}]
    sums = results(server, "from Orders group by lines[].product order by key() "
                           "select key(), sum(lines[].quantity) as total")
    # keys order ignoring case, then upper case first
    assert sums == [{"lines[].product": "products/1", "total": 2},
                    {"lines[].product": "PRODUCTS/2", "total": 3},
                    {"lines[].product": "products/2", "total": 4}]


def test_group_by_array_content_keys_by_the_whole_list(server: Any) -> None:
    rows = results(server, "from Orders group by array(lines[].product) order by count() "
                           "select key() as products, count() as count")
    # equal counts keep the order the groups were first seen in (orders/2, then orders/4)
    assert rows == [{"products": ["PRODUCTS/2"], "count": 1}, {"products": [], "count": 1},
                    {"products": ["products/1", "products/2"], "count": 2}]
    pairs = results(server, "from Orders group by array(lines[].product), "
                            "array(lines[].quantity) where lines[].quantity = 1 "
                            "select lines[].product as p, lines[].quantity as q, count() as n")
    assert pairs == [{"p": ["products/1", "products/2"], "q": [1, 2], "n": 2}]


def test_group_by_what_is_not_implemented_answers_501(server: Any) -> None:
    assert "two different arrays" in refused(
        server, "from Orders group by lines[].product, tags[] select count()")
    assert "key() of a multi-field group by" in refused(
        server, "from Orders group by lines[].product, ship_to.country select key()")


def test_projections_of_paths_are_named_by_the_path(server: Any) -> None:
    rows = results(server, "from Orders as o where id() = 'orders/1' "
                           "select o.ship_to.city, ship_to.country as country, "
                           "lines[].product, o.tags as t")
    assert rows == [{"ship_to.city": "Boston", "country": "USA",
                     "lines[].product": ["products/1", "products/2"],
                     "t": ["Gift", "fast"]}]
    missing = results(server, "from Orders where id() = 'orders/4' select ship_to.city")
    assert missing == [{"ship_to.city": None}]


def test_strings_fold_as_dotnet_to_lower_invariant(server: Any) -> None:
    # 'İ' lowers to 'i' (Python: 'i' + combining dot), 'Σ' to 'σ' wherever it stands
    # (Python: final 'ς')
    assert ids(server, "from Orders where name = 'istanbul'") == ["orders/4"]
    assert ids(server, "from Orders where word = 'οδοσ'") == ["orders/4"]
    assert ids(server, "from Orders where word = 'οδος'") == []
    assert ids(server, "from Orders where startsWith(name, 'İST')") == ["orders/4"]


def test_fold_maps_every_character_to_one() -> None:
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    assert all(len(fold(c)) == 1 for c in chars)
    assert fold("".join(chars)) == "".join(fold(c) for c in chars)  # no context either
    assert fold("ÉCLAİR ΟΔΟΣ") == "éclair οδοσ"


def test_a_put_forcing_a_revision_answers_501_and_stores_nothing(server: Any) -> None:
    body = {"Commands": [{"Id": "forced/1", "ChangeVector": None, "Type": "PUT",
                          "Document": {"@metadata": {"@collection": "Forced"}},
                          "ForceRevisionCreationStrategy": "Before"}]}
    reply = requests.post(f"{server.url}/databases/db/bulk_docs", data=json.dumps(body))
    assert reply.status_code == 501
    assert "revisions are not supported" in reply.json()["Message"]
    gone = requests.get(f"{server.url}/databases/db/docs", params={"id": "forced/1"})
    assert gone.status_code == 404


def test_a_batch_sees_its_own_writes_to_the_ids_it_looked_up_ahead(server: Any) -> None:
    put_all(server.url, [("batch/1", {"v": 1})], "Batch")
    commands = [
        {"Id": "BATCH/1", "ChangeVector": None, "Type": "PUT",  # the same document (case)
         "Document": {"v": 2, "@metadata": {"@collection": "Batch"}}},
        {"Id": "batch/2", "ChangeVector": None, "Type": "PUT",
         "Document": {"v": 1, "@metadata": {"@collection": "Batch"}}},
        {"Id": "batch/2", "ChangeVector": None, "Type": "DELETE"},
        {"Id": "batch/2", "ChangeVector": "", "Type": "PUT",  # must be new again
         "Document": {"v": 3, "@metadata": {"@collection": "Batch"}}},
        {"Id": "batch/1", "ChangeVector": None, "Type": "PATCH",
         "Patch": {"Script": "this.v = this.v * 10", "Values": {}}},
    ]
    reply = requests.post(f"{server.url}/databases/db/bulk_docs",
                          data=json.dumps({"Commands": commands}))
    assert reply.status_code == 201, reply.text
    stored = results(server, "from Batch order by id() select id() as i, v")
    assert stored == [{"i": "batch/1", "v": 20}, {"i": "batch/2", "v": 3}]
