"""RavenDB's ``session.advanced.patch()`` / ``increment()``: a field set or added to on the
server, as the batch is applied.

Each is an ``UPDATE ... WHERE <key> = ...`` run in the session's transaction, so it goes out in
``save_changes()``'s one batch: on RavenDB a PATCH whose script the server runs, on the embedded
store evaluated inside the commit's write transaction (README: read-modify-write statements are
atomic). A concurrent increment is never lost. The tracked object's field is expired, so the
next read of it loads the value the store has (RavenDB's client leaves the old value in
memory). A path is a mapped column attribute; nested paths are refused by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, inspect, update
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.state import InstanceState

from .. import errors

if TYPE_CHECKING:
    from .session import DocumentSession


def _target(session: DocumentSession, key_or_entity: Any,
            object_type: Any) -> tuple[Mapper[Any], tuple[Any, ...], object | None]:
    """(mapper, primary key, tracked object or None) of an entity, a document id or a key."""
    if isinstance(inspect(key_or_entity, raiseerr=False), InstanceState):
        state = session.advanced._tracked_state(key_or_entity)
        key = state.key[1] if state.key is not None else tuple(
            state.mapper.primary_key_from_instance(key_or_entity))
        return state.mapper, key, key_or_entity
    found = session._mapper(object_type, key_or_entity)
    key = session._key(found, key_or_entity)
    return found, key, session._tracked(found, key)


def _column_key(mapper: Mapper[Any], path: str, what: str) -> str:
    if "." in path or "[" in path:
        raise errors.NotSupportedError(
            f"advanced.{what}() of the nested path {path!r}: only a mapped column attribute "
            f"of {mapper.class_.__name__} can be patched (assign the nested value on the "
            "tracked object instead: its change is saved)")
    prop = mapper.attrs.get(path) if path in mapper.attrs else None
    if prop is None or not hasattr(prop, "columns") or prop.columns[0] in mapper.primary_key:
        raise errors.NotSupportedError(
            f"advanced.{what}(): {path!r} is not a mapped non-key column attribute of "
            f"{mapper.class_.__name__}")
    return str(path)


def apply(session: DocumentSession, key_or_entity: Any, path: str, value: Any, *,
          increment: bool, object_type: Any = None) -> None:
    """Add ``value`` to (``increment``) or set the field ``path`` of a document, on the
    server, in the session's transaction."""
    what = "increment" if increment else "patch"
    mapper, key, entity = _target(session, key_or_entity, object_type)
    attr_key = _column_key(mapper, path, what)
    column = mapper.attrs[attr_key].columns[0]
    # RavenDB's increment script: a missing or null field becomes the value added.
    new_value = func.coalesce(column, 0) + value if increment else value
    where = [col == part for col, part in zip(mapper.primary_key, key, strict=True)]
    stmt = update(mapper).where(*where).values({attr_key: new_value})
    session.execute(stmt.execution_options(synchronize_session=False))
    if entity is not None:
        session.expire(entity, [attr_key])
