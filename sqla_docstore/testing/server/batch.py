"""``POST /bulk_docs``: a batch of commands applied in one SQLite transaction, at most once."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sqlite3
from typing import Any

from ... import values
from . import cmpxchg, errors
from .database import Database, StoredDoc, fold
from .jsonpatch import JsonPatchError, apply_json_patch
from .script import patch_error, run_script
from .writes import SERVER_METADATA, NeedCollection, Writer, document_dict

_RAFT_SEGMENT = re.compile(r"(?:RAFT|TRXN):(\d+)")
_KEEP_REQUEST_IDS = dt.timedelta(days=1)
_inserts = itertools.count()


def bulk_docs(db: Database, node: str, body: Any, *, request_id: str | None = None,
              atomic_writes: bool = True) -> dict[str, Any]:
    """Apply a batch atomically; the reply is ``{"Results": [...]}`` (+ ``TransactionIndex``).

    A batch with a ``request_id`` (``Raft-Request-Id`` header or ``raft-request-id`` query) is
    recorded with its reply in ``@requests`` in the same transaction; a retry with that id gets
    the recorded reply and changes nothing, so a client may resend a batch whose outcome it
    never saw (a node died before replying) without it ever being applied twice.
    """
    if not isinstance(body, dict) or not isinstance(body.get("Commands"), list):
        raise errors.bad_request("The batch must be a JSON object with a 'Commands' array")
    cluster = body.get("TransactionMode") == "ClusterWide"
    for _ in range(1000):  # one retry per collection created on first use
        try:
            with db.write() as sql:
                if request_id:
                    row = sql.execute("""SELECT result FROM "@requests" WHERE id = ?""",
                                      (request_id,)).fetchone()
                    if row is not None:
                        recorded: dict[str, Any] = values.loads(row[0])
                        return recorded
                writer = Writer(db, node)
                result = _apply(writer, body["Commands"], cluster, atomic_writes)
                writer.finish()
                if request_id:
                    _record(sql, request_id, result)
                return result
        except NeedCollection as need:
            db.ensure_collection(need.collection)
        except sqlite3.IntegrityError as exc:
            message = f"A unique index of the store refused the batch: {exc}"
            raise errors.RavenError(409, errors.INTEGRITY, message) from exc
    raise errors.RavenError(500, "System.InvalidOperationException", "too many new collections")


def _record(sql: sqlite3.Connection, request_id: str, result: dict[str, Any]) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    sql.execute("""INSERT INTO "@requests" VALUES (?, ?, ?)""",
                (request_id, values.dumps(result), now.isoformat()))
    if next(_inserts) % 512 == 0:
        sql.execute("""DELETE FROM "@requests" WHERE at < ?""",
                    ((now - _KEEP_REQUEST_IDS).isoformat(),))


def _apply(w: Writer, commands: list[Any], cluster: bool, atomic: bool) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    issues: list[str] = []
    if cluster:
        w.raft_index()
    guards = _Guards(w, commands) if cluster and atomic else None
    w.prefetch([cmd["Id"] for cmd in commands if isinstance(cmd, dict) and cmd.get("Type") == "PUT"
                and isinstance(cmd.get("Id"), str) and not cmd["Id"].endswith(("/", "|"))])
    for cmd in commands:
        if not isinstance(cmd, dict):
            raise errors.bad_request(f"A batch command must be an object, got {cmd!r}")
        kind = cmd.get("Type")
        if kind == "PUT":
            _refuse_forced_revision(cmd)
            result = w.put(cmd.get("Id"), cmd.get("Document") or {}, cmd.get("ChangeVector"))
            if guards:
                guards.put(w, result["@id"], cmd, issues)
            results.append(result)
        elif kind == "DELETE":
            doc_id = str(cmd.get("Id"))
            if guards:
                guards.delete(w, doc_id, cmd, issues)
            results.append(w.delete(doc_id, cmd.get("ChangeVector")))
        elif kind in ("PATCH", "JsonPatch"):
            results.append(_patch(w, cmd, kind))
        elif kind in ("CompareExchangePUT", "CompareExchangeDELETE"):
            if not cluster:
                raise errors.bad_request(
                    f"{kind} is only allowed in a cluster-wide transaction (TransactionMode "
                    "ClusterWide)")
            results.append(_compare_exchange(w, cmd, kind, issues))
        elif kind == "BatchTrackChanges":
            for doc_id, cv in (cmd.get("TrackedEntities") or {}).items():
                w.check_tracked(doc_id, cv or "")
            results.append({"Type": kind})
        else:  # ForceRevisionCreation too: the server keeps no revisions
            raise errors.not_supported(
                f"Batch command type {kind!r} is not supported by the sqla_docstore server "
                "(supported: PUT, DELETE, PATCH, JsonPatch, CompareExchangePUT, "
                "CompareExchangeDELETE, BatchTrackChanges)")
    if issues:
        raise errors.cluster_concurrency(issues)
    out: dict[str, Any] = {"Results": results}
    if cluster:
        out["TransactionIndex"] = w.raft_index()
    return out


def _refuse_forced_revision(cmd: dict[str, Any]) -> None:
    """A PUT asking for a revision of the document (``ForceRevisionCreationStrategy``): the
    server keeps no revisions, so it answers 501 rather than store without one."""
    strategy = cmd.get("ForceRevisionCreationStrategy")
    if strategy not in (None, "None"):
        raise errors.not_supported(
            f"ForceRevisionCreationStrategy {strategy!r} on a PUT: revisions are not supported "
            "by the sqla_docstore server")


class _Guards:
    """Atomic guards of a cluster-wide batch, as RavenDB's ``ClusterTransactionCommand``
    handles them (``EnsureAtomicDocumentWrites``, ``ExecuteCompareExchangeCommands``): each
    document command's guard is checked against the guards as they were before the batch
    (a command does not see the guard an earlier one of the batch moved), then applied in
    order, a guard whose index moved meanwhile being left as it is. So a DELETE and a PUT
    of one document both name the version stored before the batch, and a PUT expecting a
    new document after the DELETE of a stored one fails."""

    def __init__(self, w: Writer, commands: list[Any]) -> None:
        ids = {fold(str(c.get("Id"))) for c in commands
               if isinstance(c, dict) and c.get("Type") in ("PUT", "DELETE")}
        self.before = {i: cmpxchg.read(w.sql, cmpxchg.ATOMIC_PREFIX + i) for i in ids}

    def put(self, w: Writer, doc_id: str, cmd: dict[str, Any], issues: list[str]) -> None:
        key = cmpxchg.ATOMIC_PREFIX + fold(doc_id)
        expected = _guard_index(cmd)
        self._check(doc_id, expected, self.before.get(fold(doc_id)), issues)
        current = cmpxchg.read(w.sql, key)
        if current is None or current[2] == expected:
            cmpxchg.write(w.sql, key, {"Object": {"Id": doc_id}}, w.raft_index())

    def delete(self, w: Writer, doc_id: str, cmd: dict[str, Any], issues: list[str]) -> None:
        key = cmpxchg.ATOMIC_PREFIX + fold(doc_id)
        before = self.before.get(fold(doc_id))
        if not (cmd.get("OriginalChangeVector") or cmd.get("ChangeVector")):
            if before is None:
                return  # (no guard to delete)
            expected = before[2]  # a blind delete takes the guard as it is
        else:
            expected = _guard_index(cmd)
        self._check(doc_id, expected, before, issues)
        current = cmpxchg.read(w.sql, key)
        if current is not None and current[2] == expected:
            cmpxchg.remove(w.sql, key)

    @staticmethod
    def _check(doc_id: str, expected: int, before: tuple[str, Any, int] | None,
               issues: list[str]) -> None:
        actual = 0 if before is None else before[2]
        if actual != expected:
            issues.append(f"Guard compare exchange value '{cmpxchg.ATOMIC_PREFIX}{fold(doc_id)}"
                          f"' index does not match the transaction index's {expected} change "
                          f"vector on {doc_id}")


def _guard_index(cmd: dict[str, Any]) -> int:
    """The guard index a write names: the cluster-transaction segment of the change vector
    it sends (none = the document must be new)."""
    cv = cmd.get("OriginalChangeVector") or cmd.get("ChangeVector")
    match = _RAFT_SEGMENT.search(cv or "")
    return int(match.group(1)) if match else 0


def _compare_exchange(w: Writer, cmd: dict[str, Any], kind: str,
                      issues: list[str]) -> dict[str, Any]:
    key = cmpxchg.check_key(cmd.get("Id"))
    requested = int(cmd.get("Index") or 0)
    current = cmpxchg.read(w.sql, key)
    actual = 0 if current is None else current[2]
    if actual != requested or (kind == "CompareExchangeDELETE" and current is None):
        verb = "putting" if kind == "CompareExchangePUT" else "deleting"
        issues.append(f"Concurrency check failed for {verb} the key '{key}'. Requested index: "
                      f"{requested}, actual index: {actual}")
    elif kind == "CompareExchangePUT":
        cmpxchg.write(w.sql, current[0] if current else key, cmd.get("Document"), w.raft_index())
    else:
        cmpxchg.remove(w.sql, key)
    return {"Type": kind, "Key": key, "Index": w.raft_index()}


def _patch(w: Writer, cmd: dict[str, Any], kind: str) -> dict[str, Any]:
    doc_id = str(cmd.get("Id"))
    existing = w.find(doc_id)
    if existing is None:
        return _patch_missing(w, cmd, kind, doc_id)
    expected = cmd.get("ChangeVector")
    if expected and existing[3] != expected:
        raise errors.concurrency(
            f"Could not patch document '{doc_id}' because non current change vector was used")
    current = document_dict(existing)
    patched = _run(cmd, kind, current)
    return write_patched(w, existing, current, patched, kind, bool(cmd.get("ReturnDocument")))


def _run(cmd: dict[str, Any], kind: str, current: dict[str, Any],
         key: str = "Patch") -> dict[str, Any]:
    try:
        if kind == "JsonPatch":
            operations = (cmd.get("JsonPatch") or {}).get("Operations") or []
            patched = apply_json_patch(current, operations)
        else:
            patch = cmd.get(key) or {}
            patched = run_script(str(patch.get("Script") or ""), current,
                                 patch.get("Values") or {})
    except JsonPatchError as exc:
        raise errors.RavenError(400, "Raven.Client.Exceptions.Documents.Patching."
                                "JsonPatchException", str(exc)) from exc
    except Exception as exc:
        raised = patch_error(exc)
        if raised is None:
            raise
        raise raised from exc
    if not isinstance(patched, dict):
        raise errors.bad_request("A patch must leave the document a JSON object")
    return patched


def _patch_missing(w: Writer, cmd: dict[str, Any], kind: str, doc_id: str) -> dict[str, Any]:
    created: dict[str, Any] | None = None
    if kind == "PATCH" and cmd.get("CreateIfMissing") is not None:
        created = cmd["CreateIfMissing"]
    elif kind == "PATCH" and cmd.get("PatchIfMissing"):
        created = _run(cmd, kind, {"@metadata": {}}, key="PatchIfMissing")
    if created is None:
        return {"Id": doc_id, "ChangeVector": None, "LastModified": None, "Type": kind,
                "PatchStatus": "DocumentDoesNotExist", "Debug": None}
    put = w.put(doc_id, created, None)
    result = {"Id": put["@id"], "ChangeVector": put["@change-vector"],
              "LastModified": put["@last-modified"], "Type": kind, "PatchStatus": "Created",
              "Debug": None}
    if cmd.get("ReturnDocument"):
        stored = w.find(put["@id"])
        assert stored is not None
        result["ModifiedDocument"] = document_dict(stored)
    return result


def _same(a: Any, b: Any) -> bool:
    """Equal JSON, kinds of numbers too (0 is not -0.0, nor 1 1.0: a patch storing the one
    over the other changes the document, as RavenDB's blittable comparison sees it)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def write_patched(w: Writer, existing: StoredDoc, current: dict[str, Any],
                  patched: dict[str, Any], kind: str, return_document: bool) -> dict[str, Any]:
    """Store a patched document (unless the patch changed nothing); RavenDB's PATCH reply."""
    doc_id = existing[1]
    if _same(patched, current):  # RavenDB still returns the document when asked
        unchanged: dict[str, Any] = {"Id": doc_id, "ChangeVector": existing[3],
                                     "LastModified": existing[4], "Type": kind,
                                     "PatchStatus": "NotModified", "Debug": None}
        if return_document:
            unchanged["ModifiedDocument"] = current
        return unchanged
    meta = patched.pop("@metadata", None)
    if not isinstance(meta, dict):
        meta = {}
    meta = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
    old_meta = current.get("@metadata") or {}
    meta["@collection"] = old_meta.get("@collection") or existing[0]  # patches keep it
    cv = w.next_cv(existing)
    w.store(existing[0], doc_id, existing, patched, meta, cv)
    result: dict[str, Any] = {"Id": doc_id, "ChangeVector": cv, "LastModified": w.modified,
                              "Type": kind, "PatchStatus": "Patched", "Debug": None}
    if return_document:
        patched["@metadata"] = {**meta, "@id": doc_id, "@change-vector": cv,
                                "@last-modified": w.modified}
        result["ModifiedDocument"] = patched
    return result
