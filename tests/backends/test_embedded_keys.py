"""The row key of a document id (backends/embedded/keys.py): the integer of ``prefix`` and a
canonical positive integer below 2**62, None for every other id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqla_docstore.backends.embedded.keys import (
    OTHER_KEYS,
    OTHER_ROWS,
    int_key,
    int_keys,
    key_prefix,
    key_texts,
    split_ids,
    where_in,
    where_one,
)


def _reference(doc_id: str, prefix: str) -> int | None:
    """The definition: canonical iff the rest is ASCII digits, ``str(int(rest)) == rest`` and
    ``0 < int(rest) < 2**62``."""
    if not doc_id.startswith(prefix):
        return None
    rest = doc_id[len(prefix):]
    if not rest or not all("0" <= c <= "9" for c in rest):
        return None
    number = int(rest)
    return number if str(number) == rest and 0 < number < 2**62 else None


def test_other_keys_start_at_two_to_the_62() -> None:
    assert OTHER_KEYS == 2**62 == 4611686018427387904
    assert OTHER_ROWS == "k >= 4611686018427387904"


def test_a_collections_prefix_is_its_name_in_lower_case_and_a_slash() -> None:
    assert key_prefix("Orders") == "orders/"
    assert key_prefix("main.Orders") == "main.orders/"


@pytest.mark.parametrize(("doc_id", "key"), [
    ("orders/5", 5),
    ("orders/1", 1),
    ("orders/4611686018427387903", 2**62 - 1),
    ("orders/999999999999999999", 999999999999999999),
    ("orders/05", None),
    ("Orders/5", None),
    ("ORDERS/5", None),
    ("orders/5-A", None),
    ("orders/0", None),
    ("orders/00", None),
    ("orders/-5", None),
    ("orders/+5", None),
    ("orders/ 5", None),
    ("orders/5 ", None),
    ("orders/1_000", None),
    ("orders/4611686018427387904", None),
    ("orders/99999999999999999999", None),
    ("orders/x", None),
    ("orders/", None),
    ("orders", None),
    ("other/5", None),
    ("orders/\u0661", None),  # ARABIC-INDIC DIGIT ONE
    ("orders/\uff15", None),  # FULLWIDTH DIGIT FIVE
    ("orders/\u00b2", None),  # SUPERSCRIPT TWO
    ("orders/5/6", None),  # a composite key
    ("5", None),
])
def test_int_key_of_an_id(doc_id: str, key: int | None) -> None:
    assert int_key(doc_id, "orders/") == key
    assert int_keys([doc_id], "orders/") == [key]


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=21)
_IDS = st.one_of(
    _DIGITS.map(lambda d: "orders/" + d),
    st.integers(min_value=-5, max_value=2**64).map(lambda n: f"orders/{n}"),
    st.text(max_size=12).map(lambda t: "orders/" + t),
    st.text(max_size=20),
    st.sampled_from(["Orders/", "orders", "order/", "orders//"]).flatmap(
        lambda p: _DIGITS.map(lambda d: p + d)),
)


@given(_IDS)
def test_int_key_is_the_reference_definition(doc_id: str) -> None:
    assert int_key(doc_id, "orders/") == _reference(doc_id, "orders/")


@given(st.lists(_IDS, max_size=30))
def test_int_keys_of_a_list_are_each_ids_int_key(ids: list[str]) -> None:
    assert int_keys(ids, "orders/") == [_reference(i, "orders/") for i in ids]


@given(st.lists(st.integers(min_value=1, max_value=2**62 + 10), min_size=1, max_size=30))
def test_int_keys_of_canonical_ids_are_their_integers(numbers: list[int]) -> None:
    ids = [f"orders/{n}" for n in numbers]
    assert int_keys(ids, "orders/") == [n if n < 2**62 else None for n in numbers]


@pytest.mark.parametrize("ids", [
    ["orders/5\norders/6"], ["orders/5", "orders/6\norders/7"], ["orders/5\n"],
    ["orders/5", "orders/\n"], ["orders/1", "orders/4611686018427387903"],
    ["orders/1", "orders/05"], ["orders/1", ""],
])
def test_int_keys_of_ids_holding_newlines_or_long_keys_are_each_ids_int_key(
        ids: list[str]) -> None:
    """(the whole list is checked as lines of text: an id holding a newline is no two)"""
    assert int_keys(ids, "orders/") == [_reference(i, "orders/") for i in ids]


@given(st.lists(_IDS, max_size=30))
def test_key_texts_are_the_decimal_keys_when_every_id_has_one_of_18_digits(
        ids: list[str]) -> None:
    """(the texts SQLite's INTEGER PRIMARY KEY takes as those integers; else None)"""
    keys = [_reference(i, "orders/") for i in ids]
    short = ids and all(k is not None and k < 10**18 for k in keys)
    assert key_texts(ids, "orders/") == ([str(k) for k in keys] if short else None)


def test_key_texts_of_canonical_ids() -> None:
    assert key_texts(["orders/17", "orders/999999999999999999"], "orders/") == [
        "17", "999999999999999999"]
    assert key_texts(["orders/17", "orders/1000000000000000000"], "orders/") is None
    assert key_texts([], "orders/") is None


def test_split_ids_keeps_the_order_of_each_kind() -> None:
    ids = ["orders/7", "orders/x", "orders/2", "orders/05", "orders/7"]
    assert split_ids(ids, "orders/") == ([7, 2, 7], ["orders/x", "orders/05"])
    assert split_ids([], "orders/") == ([], [])


def test_the_sql_finding_rows_names_the_partial_index_bound_for_other_ids() -> None:
    assert where_one(False) == "k = ?"
    assert where_one(True) == "id = ? AND k >= 4611686018427387904"
    assert where_in(False, 3) == "k IN (?, ?, ?)"
    assert where_in(True, 2) == "id IN (?, ?) AND k >= 4611686018427387904"
