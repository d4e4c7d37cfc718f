"""In-place changes of tracked values, found as RavenDB's session finds them.

RavenDB's session compares each tracked document with the one it loaded, so an edit inside a
nested object or array (``company.address["city"] = "Bergen"``, ``order.tags.append("x")``) is
saved. SQLAlchemy sees only assignments (and the top-level edits of ``MutableDict`` /
``MutableList``). A :class:`~sqla_docstore.orm.session.DocumentSession` keeps a copy of every
mutable value (dict, list, set, non-frozen dataclass, nested at any depth) as loaded or last
flushed, and before each flush marks the attributes whose value no longer equals its copy as
modified, with the copy as their old value (``what_changed()`` reports it).

A value JSON can write is kept as its JSON text (written and compared by the C encoder: one
``json.dumps`` per value and flush); anything else as a deep copy, compared by :func:`same`.
Only attributes whose column type can give a mutable value are looked at.
"""

from __future__ import annotations

import copy
import json
import math
import weakref
from typing import Any, NamedTuple

from sqlalchemy import types as sqltypes
from sqlalchemy.orm import Mapper, attributes
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.state import InstanceState

_INFO_KEY = "sqla_docstore.loaded_values"

#: column types whose values are never mutable containers
_SCALAR_TYPES = (sqltypes.Integer, sqltypes.String, sqltypes.Float, sqltypes.Numeric,
                 sqltypes.Boolean, sqltypes.DateTime, sqltypes.Date, sqltypes.Time,
                 sqltypes.Interval, sqltypes.Uuid, sqltypes.Enum, sqltypes._Binary)

_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=True).encode

_candidates: weakref.WeakKeyDictionary[Mapper[Any], tuple[str, ...]] = (
    weakref.WeakKeyDictionary())


class _Kept(NamedTuple):
    """A value as loaded: its JSON text, or (not JSON) a deep copy."""

    text: str | None
    value: Any

    def old_value(self) -> Any:
        return json.loads(self.text) if self.text is not None else copy.deepcopy(self.value)


def _candidate_keys(mapper: Mapper[Any]) -> tuple[str, ...]:
    """The mapper's column attributes whose type may give a mutable value (JSON, PickleType,
    ARRAY, any TypeDecorator, a type of its own)."""
    found = _candidates.get(mapper)
    if found is None:
        found = _candidates[mapper] = tuple(
            prop.key for prop in mapper.column_attrs
            if isinstance(prop.columns[0].type, sqltypes.TypeDecorator)
            or not isinstance(prop.columns[0].type, _SCALAR_TYPES))
    return found


def _is_mutable(value: Any) -> bool:
    if isinstance(value, (dict, list, set, bytearray)):
        return True
    params = getattr(value, "__dataclass_params__", None)
    return params is not None and not isinstance(value, type) and not params.frozen


def _json_text(value: Any) -> str | None:
    if not isinstance(value, (dict, list)):
        return None
    try:
        return str(_ENCODE(value))
    except (TypeError, ValueError):  # holds something JSON can't write (a dataclass, a date)
        return None


def _keep(value: Any) -> _Kept:
    text = _json_text(value)
    return _Kept(text, None if text is not None else copy.deepcopy(value))


def kept(value: Any) -> _Kept:
    """Any value as it is now (a compare-exchange value as read), for :func:`unchanged`."""
    return _keep(value)


def unchanged(current: Any, kept: _Kept) -> bool:
    """Whether ``current`` is still the value :func:`kept` kept (compared as stored)."""
    return _unchanged(current, kept)


def _unchanged(current: Any, kept: _Kept) -> bool:
    if kept.text is not None:
        return _json_text(current) == kept.text
    return same(current, kept.value)


def same(a: Any, b: Any) -> bool:
    """Equal as stored: of one kind (``1`` is not ``1.0`` nor ``True``), key by key, element
    by element, field by field; NaN equals NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    fields = getattr(a, "__dataclass_fields__", None)
    if fields is not None and not isinstance(a, type):
        return all(same(getattr(a, name), getattr(b, name)) for name in fields)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def remember(state: InstanceState[Any], keys: Any = None) -> None:
    """Keep the mutable values of ``state`` (of ``keys``, or of every candidate attribute) as
    they are now: loaded, refreshed or just flushed."""
    candidates = _candidate_keys(state.mapper)
    if not candidates:
        return
    kept: dict[str, _Kept] = state.info.setdefault(_INFO_KEY, {})
    values = state.dict
    for key in candidates:
        if keys is not None and key not in keys:
            continue
        value = values.get(key, NO_VALUE)
        if value is not NO_VALUE and _is_mutable(value):
            kept[key] = _keep(value)
        else:
            kept.pop(key, None)


def remembers(state: InstanceState[Any]) -> bool:
    """Whether :func:`remember` kept values of ``state``."""
    return _INFO_KEY in state.info


def mark_changed(state: InstanceState[Any]) -> bool:
    """Mark the attributes whose mutable value was changed in place since :func:`remember` as
    modified (the kept value as their old one). Whether one was."""
    if not _candidate_keys(state.mapper):
        return False
    kept = state.info.get(_INFO_KEY)
    if not kept:
        return False
    obj = state.obj()
    if obj is None:
        return False
    found = False
    for key, loaded in kept.items():
        current = state.dict.get(key, NO_VALUE)
        if current is NO_VALUE or _unchanged(current, loaded):
            continue
        attributes.flag_modified(obj, key)
        if state.committed_state.get(key, NO_VALUE) is NO_VALUE:
            old = loaded.old_value()
            if not current == old:
                # The old value, for what_changed(); a change Python's == doesn't see (1 to
                # 1.0) keeps none, so SQLAlchemy's history still writes the attribute.
                state.committed_state[key] = old
        found = True
    return found
