"""Cluster-wide batches for RavenDB: documents as PUT/DELETE with atomic guards, plus the
compare-exchange reservations that enforce unique constraints (pure planning).

RavenDB has no unique index. A unique value is a compare-exchange key naming the document that
holds it, reserved in the same cluster-wide transaction as the document write, so two commits
racing for one value cannot both succeed. A cluster-wide transaction takes only PUT, DELETE
and compare-exchange commands, so field-level PATCHes become PUTs of the document as the
transaction leaves it, guarded by the change vector it was read with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from ...commands import Absent, Batch, CompareExchange, Delete, Patch, Put
from ...errors import DuplicateKeyError, ProgrammingError
from ...pending import body_of
from ...schema import CollectionSpec

#: compare-exchange keys of unique values start with this
UNIQUE_PREFIX = "sqla_docstore/unique/"


def unique_keys(spec: CollectionSpec, body: dict[str, Any]) -> list[str]:
    """The reservation keys a document's values need (NULLs are never duplicates, as in SQL).

    Values are hashed: compare-exchange keys ignore case, SQL unique values do not."""
    keys = []
    for fields in spec.unique_sets:
        values = [body.get(f) for f in fields]
        if any(v is None for v in values):
            continue
        digest = hashlib.sha256(unique_value_text(values).encode())
        keys.append(f"{UNIQUE_PREFIX}{spec.name}/{','.join(fields)}/{digest.hexdigest()[:40]}")
    return keys


def unique_value_text(values: list[Any] | tuple[Any, ...]) -> str:
    """What a reservation key is made of: two documents' values of a unique constraint
    are duplicates exactly when their texts are equal (case and number form count)."""
    return json.dumps(list(values), sort_keys=True, default=str)


def needs_cluster(batch: Batch, spec_of: Callable[[str], CollectionSpec]) -> bool:
    if batch.cluster_wide:
        return True
    # each collection once, in the order of the batch (a batch of 10,000 documents of one
    # collection asks for one schema, not 10,000 times)
    collections = dict.fromkeys(c.collection for c in batch.commands
                                if not isinstance(c, CompareExchange))
    return any(spec_of(name).unique_sets for name in collections)


def final_body(batch: Batch, cmd: Put | Patch) -> dict[str, Any] | None:
    """The document as the batch leaves it; None for a patched document the batch deletes
    afterwards (its DELETE, guarded as the PATCH would be, is all that is sent)."""
    if isinstance(cmd, Put):
        return cmd.body
    docs = (batch.overlay or {}).get(cmd.collection, {})
    if cmd.id not in docs:
        raise ProgrammingError(f"no final state for document {cmd.id!r} in the batch")
    state = docs[cmd.id]
    body = body_of(state)
    return None if body is None else dict(body)


def cluster_commands(
    batch: Batch,
    spec_of: Callable[[str], CollectionSpec],
    reservations_of: Callable[[list[str]], dict[str, tuple[Any, int]]],
    current_keys_of: Callable[[str, str], list[str] | None],
    existing_of: Callable[[str, list[str]], set[str]],
    metadata: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The batch as cluster-wide commands, with unique-value reservations appended.

    ``reservations_of(keys)`` reads existing reservations ``{key: (owner id, index)}``;
    ``current_keys_of(collection, id)`` the reservation keys a stored document holds now
    (None if it is gone), to tell a live owner from a stale reservation;
    ``existing_of(collection, ids)`` which of the ids are stored (lower-cased), so that an
    insert never overwrites a document: a cluster-wide PUT carries no "must be new" check of
    its own, and a document written outside cluster transactions has no atomic guard.
    ``metadata`` (by lower-cased id): what an updated document keeps in its ``@metadata``,
    as a PATCH would keep it.
    """
    _refuse_taken_ids(batch, existing_of)
    out: list[dict[str, Any]] = []
    wanted: dict[str, str] = {}
    written: dict[str, list[str] | None] = {}  # ids this batch writes -> their new keys
    put_at: dict[str, int] = {}  # ids PUT since their last DELETE -> that PUT's place in out
    for cmd in batch.commands:
        if isinstance(cmd, CompareExchange):
            out.append(cmd.to_json())
            continue
        if isinstance(cmd, Absent):  # (RavenConnection checks them before the batch)
            raise ProgrammingError("an Absent check can't be sent in a batch")
        if isinstance(cmd, Delete):
            out.append({"Id": cmd.id, "ChangeVector": None, "Type": "DELETE",
                        "OriginalChangeVector": cmd.expected or cmd.seen})
            for key in written.get(cmd.id) or ():  # (values a PUT before it held: given up)
                if wanted.get(key) == cmd.id:
                    del wanted[key]
            written[cmd.id] = None
            put_at.pop(cmd.id, None)
            continue
        spec = spec_of(cmd.collection)
        body = final_body(batch, cmd)
        if body is None:
            continue
        original = cmd.expected or (cmd.seen if isinstance(cmd, Patch) else None)
        doc = dict(body)
        kept = metadata.get(cmd.id.lower()) if metadata and isinstance(cmd, Patch) else None
        doc["@metadata"] = {**(kept or {}), "@collection": cmd.collection}
        put = {"Id": cmd.id, "ChangeVector": None, "OriginalChangeVector": original or None,
               "Document": doc, "Type": "PUT"}
        at = put_at.get(cmd.id)
        if at is None:
            put_at[cmd.id] = len(out)
            out.append(put)
        else:
            # Written again: one PUT of the document as last written, guarded as the first
            # (a second PUT's atomic guard would no longer match after the first's write).
            put["OriginalChangeVector"] = out[at]["OriginalChangeVector"] or original or None
            out[at] = put
            for key in written.get(cmd.id) or ():  # (values the earlier body held)
                if wanted.get(key) == cmd.id:
                    del wanted[key]
        keys = unique_keys(spec, body)
        written[cmd.id] = keys
        for key in keys:
            if wanted.get(key, cmd.id) != cmd.id:
                raise DuplicateKeyError(_taken(cmd.collection, key))
            wanted[key] = cmd.id
    if not wanted:
        return out
    existing = reservations_of(list(wanted))
    for key, doc_id in wanted.items():
        current = existing.get(key)
        if current is None:
            out.append(CompareExchange(key, doc_id, 0).to_json())
            continue
        owner, index = current
        if owner == doc_id:
            # Re-assert the reservation at the index read: a racer that meanwhile judged it
            # stale (this document held another value) and took it fails, or this commit does.
            out.append(CompareExchange(key, doc_id, index).to_json())
            continue
        collection = key[len(UNIQUE_PREFIX):].split("/", 1)[0]
        owner_keys = written[owner] if owner in written else current_keys_of(collection, owner)
        if owner_keys is not None and key in owner_keys:
            raise DuplicateKeyError(_taken(collection, key, owner))
        out.append(CompareExchange(key, doc_id, index).to_json())  # a stale reservation
    return out


def _refuse_taken_ids(batch: Batch, existing_of: Callable[[str, list[str]], set[str]]) -> None:
    new: dict[str, list[str]] = {}
    for cmd in batch.commands:
        if isinstance(cmd, Put) and cmd.expected == "":
            new.setdefault(cmd.collection, []).append(cmd.id)
    for collection, ids in new.items():
        taken = existing_of(collection, ids)
        for doc_id in ids:
            if doc_id.lower() in taken:
                raise DuplicateKeyError(
                    f"document {doc_id!r} already exists in collection {collection} "
                    "(duplicate primary key)")


def _taken(collection: str, key: str, owner: str | None = None) -> str:
    fields = key[len(UNIQUE_PREFIX):].split("/")[1]
    holder = f" by document {owner!r}" if owner else " twice in this commit"
    return f"UNIQUE constraint failed: {collection}.{fields} (the value is taken{holder})"
