"""The schema SQL sees for a collection nobody declared: inferred from a sample of documents.

Documents other clients wrote (RavenDB applications, the official client) come with no schema.
To list, reflect and query them as tables, a collection's fields are read off a bounded
sample of its documents:

- each top-level field is a column, in the order fields first appear;
- its type is the one JSON kind its sampled values share (``BOOLEAN``, ``INTEGER``, ``FLOAT``
  for numbers with a fraction, ``VARCHAR``); nested objects, arrays, values of mixed kinds
  and fields only ever null are ``JSON`` (the value as stored);
- it is NOT NULL when every sampled document has a non-null value;
- the key is one string column holding the whole document id (``orders/1-A``), named ``id``
  unless the documents have a field of that name (then ``document_id``, ``_id``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .schema import UNTYPED, CollectionSpec, FieldSpec

#: how many documents a collection's inferred schema is read from
SAMPLE_SIZE = 200
_KEY_NAMES = ("id", "document_id", "_id", "@document_id")


def json_kind(value: Any) -> str:
    """The column type one JSON value suggests."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "FLOAT"
    if isinstance(value, str):
        return "VARCHAR"
    return "JSON"


def _merged(kinds: set[str]) -> str:
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds == {"INTEGER", "FLOAT"}:
        return "FLOAT"
    return "JSON"


def infer_spec(name: str, bodies: Iterable[dict[str, Any]]) -> CollectionSpec:
    """The schema of collection ``name`` as its documents (a sample of them) show it."""
    kinds: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    count = 0
    for body in bodies:
        count += 1
        for field_name, value in body.items():
            if field_name.startswith("@"):
                continue  # @metadata and its kin are not fields
            seen = kinds.setdefault(field_name, set())
            if value is not None:
                seen.add(json_kind(value))
                present[field_name] = present.get(field_name, 0) + 1
    key = next(k for k in _KEY_NAMES if k not in kinds)
    fields = [FieldSpec(key, "VARCHAR", nullable=False)]
    # (a field only ever null: its type unknown, no JSON column, where null would be a value)
    fields += [FieldSpec(n, _merged(k) if k else UNTYPED, nullable=present.get(n, 0) < count)
               for n, k in kinds.items()]
    return CollectionSpec(name, tuple(fields), primary_key=(key,), key_is_id=True, inferred=True)
