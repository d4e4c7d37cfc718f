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


class _Net:
    """One document's commands in a batch, as one: the state it had before the batch (the
    change vector its first command was guarded with; "" = it did not exist) and the last
    command writing it (None: the batch leaves it deleted), at the place of its first command.
    """

    __slots__ = ("at", "before", "last")

    def __init__(self, at: int, before: str | None) -> None:
        self.at = at
        self.before = before
        self.last: Put | Patch | None = None


def _before(cmd: Put | Patch | Delete) -> str | None:
    """The document's state before the batch as its first command there knows it: a change
    vector, "" (a PUT creating it) or None (not known: written or deleted blind)."""
    if isinstance(cmd, Put):
        return cmd.expected
    return cmd.expected or cmd.seen


def cluster_commands(
    batch: Batch,
    spec_of: Callable[[str], CollectionSpec],
    reservations_of: Callable[[list[str]], dict[str, tuple[Any, int]]],
    current_keys_of: Callable[[str, str], list[str] | None],
    existing_of: Callable[[str, list[str]], set[str]],
    metadata: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The batch as cluster-wide commands, with unique-value reservations appended.

    One command per document, for what the batch leaves of it: RavenDB checks every atomic
    guard of a cluster transaction against the state before it (the commands of one document
    can't see each other's guard moves), so a document deleted and written again (a key
    moved away and another onto it) is one PUT guarded as its DELETE was, and a document
    the batch creates and deletes is not sent at all (its guard would outlive it).

    ``reservations_of(keys)`` reads existing reservations ``{key: (owner id, index)}``;
    ``current_keys_of(collection, id)`` the reservation keys a stored document holds now
    (None if it is gone), to tell a live owner from a stale reservation;
    ``existing_of(collection, ids)`` which of the ids are stored (lower-cased), so that an
    insert never overwrites a document: a cluster-wide PUT carries no "must be new" check of
    its own, and a document written outside cluster transactions has no atomic guard.
    ``metadata`` (by lower-cased id): what an updated document keeps in its ``@metadata``,
    as a PATCH would keep it.
    """
    out: list[dict[str, Any] | None] = []
    nets: dict[str, _Net] = {}
    for cmd in batch.commands:
        if isinstance(cmd, CompareExchange):
            out.append(cmd.to_json())
            continue
        if isinstance(cmd, Absent):  # (RavenConnection checks them before the batch)
            raise ProgrammingError("an Absent check can't be sent in a batch")
        net = nets.get(cmd.id)
        if net is None:
            net = nets[cmd.id] = _Net(len(out), _before(cmd))
            out.append(None)
        net.last = None if isinstance(cmd, Delete) else cmd
    _refuse_taken_ids(batch, nets, existing_of)
    written: dict[str, list[str] | None] = {}  # ids this batch writes -> their final keys
    wanted: dict[str, str] = {}
    for doc_id, net in nets.items():
        body = None if net.last is None else final_body(batch, net.last)
        if body is None:
            written[doc_id] = None
            if net.before != "":  # (one the batch created: nothing to delete)
                out[net.at] = {"Id": doc_id, "ChangeVector": None, "Type": "DELETE",
                               "OriginalChangeVector": net.before or None}
            continue
        assert net.last is not None
        out[net.at] = _put_json(net, body, metadata)
        keys = written[doc_id] = unique_keys(spec_of(net.last.collection), body)
        for key in keys:
            if wanted.setdefault(key, doc_id) != doc_id:
                raise DuplicateKeyError(_taken(net.last.collection, key))
    commands = [c for c in out if c is not None]
    return commands + _reservations(wanted, written, reservations_of, current_keys_of)


def _put_json(net: _Net, body: dict[str, Any],
              metadata: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    cmd = net.last
    assert cmd is not None
    doc = dict(body)
    kept = metadata.get(cmd.id.lower()) if metadata and isinstance(cmd, Patch) else None
    doc["@metadata"] = {**(kept or {}), "@collection": cmd.collection}
    return {"Id": cmd.id, "ChangeVector": None, "OriginalChangeVector": net.before or None,
            "Document": doc, "Type": "PUT"}


def _reservations(
    wanted: dict[str, str], written: dict[str, list[str] | None],
    reservations_of: Callable[[list[str]], dict[str, tuple[Any, int]]],
    current_keys_of: Callable[[str, str], list[str] | None],
) -> list[dict[str, Any]]:
    """Compare-exchange commands reserving each unique value the batch leaves, for the
    document holding it: new, re-asserted, or taken over from a stale reservation."""
    if not wanted:
        return []
    out = []
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


def _refuse_taken_ids(batch: Batch, nets: dict[str, _Net],
                      existing_of: Callable[[str, list[str]], set[str]]) -> None:
    """Documents the batch creates (its first command for them a PUT that must be new)
    must not be stored: a document stored outside cluster transactions has no guard."""
    new: dict[str, list[str]] = {}
    for cmd in batch.commands:
        if isinstance(cmd, Put) and cmd.expected == "" and nets[cmd.id].before == "" \
                and nets[cmd.id].last is not None:
            new.setdefault(cmd.collection, []).append(cmd.id)
    for collection, ids in new.items():
        taken = existing_of(collection, list(dict.fromkeys(ids)))
        for doc_id in ids:
            if doc_id.lower() in taken:
                raise DuplicateKeyError(
                    f"document {doc_id!r} already exists in collection {collection} "
                    "(duplicate primary key)")


def _taken(collection: str, key: str, owner: str | None = None) -> str:
    fields = key[len(UNIQUE_PREFIX):].split("/")[1]
    holder = f" by document {owner!r}" if owner else " twice in this commit"
    return f"UNIQUE constraint failed: {collection}.{fields} (the value is taken{holder})"
