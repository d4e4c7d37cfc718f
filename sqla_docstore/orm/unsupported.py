"""The parts of RavenDB's session API a DocumentSession does not have, refused by name.

A RavenDB application calling one gets :class:`UnsupportedSessionFeatureError` (a PEP 249
``NotSupportedError``, and an ``AttributeError`` so ``hasattr()`` stays false) saying what to
use instead, never a silent no-op.
"""

from __future__ import annotations

from .. import errors


class UnsupportedSessionFeatureError(errors.NotSupportedError, AttributeError):
    """A RavenDB session feature sqla_docstore does not have."""


_PATCH = ("assign the value on the tracked object (nested values too: the change is saved), "
          "or use advanced.patch()/increment() on a top-level field")

#: advanced.<name> -> what to use instead
ADVANCED: dict[str, str] = {
    "patch_array": _PATCH,
    "patch_object": _PATCH,
    "add_or_patch": "load it, then store() a new object or change the loaded one",
    "add_or_patch_array": "load it, then store() a new object or change the loaded one",
    "add_or_increment": "load it, then store() a new object or advanced.increment() it",
    "defer": "session.execute(update(...)/delete(...)): statements go into the same batch",
    "lazily": "load([...]) several ids in one request, or selectinload()/joinedload()",
    "eagerly": "load([...]) several ids in one request",
    "wait_for_indexes_after_save_changes": (
        "nothing on the embedded store (no index is stale); on RavenDB the connection that "
        "saved waits for non-stale results in its next queries of the collections it wrote, "
        "other clients do not"),
    "wait_for_replication_after_save_changes": "a cluster-wide session (TransactionMode."
                                               "CLUSTER_WIDE) to commit through consensus",
    "attachments": "a LargeBinary column",
    "revisions": "a history table written in the same transaction",
    "document_query": "session.scalars(select(...))",
    "raw_query": "session.connection().exec_driver_sql('from ... where ...', params)",
    "stream": "session.stream() / yield_per()",
    "exists": "session.scalar(select(exists().where(...)))",
    "load_starting_with": "select(...).where(Model.key.startswith(prefix))",
    "conditional_load": "load(); the HTTP cache already answers unchanged documents with 304",
}

#: session.<name> -> what to use instead
SESSION: dict[str, str] = {
    "query": "session.scalars(select(Model).where(...)) (RavenDB's query(object_type=...) "
             "form; session.query(Model) is SQLAlchemy's and works)",
    "include": "load(id, options=[selectinload(...)]) or selectinload()/joinedload()",
    "counters_for": "an integer column and advanced.increment()",
    "time_series_for": "a table of (entity key, timestamp, values) rows",
    "count_for": "session.scalar(select(func.count())...)",
}


def check(where: str, name: str, instead: dict[str, str]) -> None:
    """Raise for ``<where>.<name>`` (an attribute not found): the PEP 249 error when RavenDB's
    session has that name, else a plain AttributeError."""
    hint = instead.get(name)
    if hint is None:
        raise AttributeError(f"{where} has no attribute {name!r}")
    raise UnsupportedSessionFeatureError(
        f"{where}.{name} (RavenDB's session API) is not supported by sqla_docstore; use "
        f"{hint}")
