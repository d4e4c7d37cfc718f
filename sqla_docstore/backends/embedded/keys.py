"""The row keys of a collection table: a document id's integer, or a key of another range.

A collection's table ``(k INTEGER PRIMARY KEY, id, body, ...)`` keeps a document whose id is
the table's id prefix followed by a canonical positive integer (``orders/17``: prefix
``orders/``) in row ``k = 17``, found and written by its rowid alone (one b-tree). Every other
id (``orders/1-A``, ``Orders/17``, ``orders/017``, ``x``) takes a key from ``OTHER_KEYS``
upward and is found by a partial unique index on ``id`` over those rows only
(``WHERE k >= 4611686018427387904``: SQLite uses that index for a lookup that says the same
bound). The prefix of a table is its collection name in lower case and ``/`` (what document
ids of the collection start with, README "Keys and document ids"): it changes only when the
table is renamed, which keys its rows again (``EmbeddedStore.alter_collection``).

Pure functions: the key of an id, ids split by kind, and the SQL text that finds rows by them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter

#: the first key of the rows whose id is not the table's prefix and a canonical integer
OTHER_KEYS = 1 << 62
#: the rows of other ids, as the partial index on ``id`` says it (a literal, so SQLite
#: knows a lookup's rows are the index's)
OTHER_ROWS = f"k >= {OTHER_KEYS}"
#: an integer below ``OTHER_KEYS`` has at most this many digits
_MAX_DIGITS = len(str(OTHER_KEYS - 1))


@lru_cache(maxsize=1024)
def key_prefix(collection: str) -> str:
    """The id prefix a collection's table keys ids by: its name in lower case and ``/``."""
    return collection.lower() + "/"


def int_key(doc_id: str, prefix: str) -> int | None:
    """The row key of ``doc_id`` in a table of id prefix ``prefix``: the integer when the id
    is ``prefix`` followed by ASCII digits without a leading zero whose number is below
    ``OTHER_KEYS``; else None (the row takes a key of the other range)."""
    if not doc_id.startswith(prefix):
        return None
    rest = doc_id[len(prefix):]
    if not (rest.isdigit() and rest.isascii()) or rest[0] == "0" or len(rest) > _MAX_DIGITS:
        return None
    number = int(rest)
    return number if number < OTHER_KEYS else None


#: a row key as it is bound: an int, or the decimal text of one (of at most 18 digits, no
#: leading zero: ``key_texts``), which SQLite takes as that integer (the INTEGER PRIMARY KEY's
#: affinity converts it, in an INSERT and in ``k = ?`` alike)
Key = int | str


def int_keys(ids: Sequence[str], prefix: str) -> list[int | None]:
    """``int_key`` of each id."""
    texts = key_texts(ids, prefix)
    if texts is not None:
        return list(map(int, texts))
    return [int_key(doc_id, prefix) for doc_id in ids]


def key_texts(ids: Sequence[str], prefix: str) -> list[str] | None:
    """The keys of ``ids`` as decimal texts (``Key``) when every one is ``prefix`` and a
    canonical integer of at most 18 digits, else None: checked by one regular expression
    over the ids' lines and cut out by a C loop (10,000 ids: some 8M instructions; making
    the ints in Python costs 16M more, SQLite converts the texts for much less)."""
    if ids:
        text = "\n".join(ids) + "\n"
        if text.count("\n") == len(ids) and _canonical_lines(prefix).fullmatch(text):
            return list(map(itemgetter(slice(len(prefix), None)), ids))
    return None


@lru_cache(maxsize=256)
def _canonical_lines(prefix: str) -> re.Pattern[str]:
    """Lines each ``prefix`` and a canonical integer of at most 18 digits (below 10**18, so
    below ``OTHER_KEYS``): ASCII digits only (``[0-9]``, not ``\\d``)."""
    return re.compile(f"(?:{re.escape(prefix)}[1-9][0-9]{{0,17}}\n)*")


def split_ids(ids: Sequence[str], prefix: str) -> tuple[list[int], list[str]]:
    """The keys of the ids that have one, and the other ids (each in the order given)."""
    keys = int_keys(ids, prefix)
    if None not in keys:
        return keys, []  # type: ignore[return-value]  # (no None in it)
    return ([key for key in keys if key is not None],
            [doc_id for doc_id, key in zip(ids, keys, strict=True) if key is None])


def where_one(other: bool) -> str:
    """The condition finding the row of one id: ``k = ?`` given its key, or ``id = ? AND
    k >= 2**62`` given an id of the other kind (the partial index's rows)."""
    return f"id = ? AND {OTHER_ROWS}" if other else "k = ?"


def where_in(other: bool, count: int) -> str:
    """``where_one`` of ``count`` keys (or other ids) at once."""
    marks = ", ".join("?" * count)
    return f"id IN ({marks}) AND {OTHER_ROWS}" if other else f"k IN ({marks})"
