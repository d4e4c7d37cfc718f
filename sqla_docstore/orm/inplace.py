"""In-place changes of tracked values, found as RavenDB's session finds them.

RavenDB's session compares each tracked document with the one it loaded, so an edit inside a
nested object or array (``company.address["city"] = "Bergen"``, ``order.tags.append("x")``) is
saved. SQLAlchemy sees only assignments (and the top-level edits of ``MutableDict`` /
``MutableList``). A :class:`~sqla_docstore.orm.session.DocumentSession` keeps a copy of every
mutable value (dict, list, set, non-frozen dataclass, nested at any depth) as loaded or last
flushed, and before each flush marks the attributes whose value no longer equals its copy as
modified, with the copy as their old value (``what_changed()`` reports it).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

from sqlalchemy.orm import attributes
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.state import InstanceState

_INFO_KEY = "sqla_docstore.loaded_values"


def _is_mutable(value: Any) -> bool:
    if isinstance(value, (dict, list, set, bytearray)):
        return True
    params = getattr(value, "__dataclass_params__", None)
    return params is not None and not isinstance(value, type) and not params.frozen


def _copy(value: Any) -> Any:
    """A plain deep copy: dicts and lists (``MutableDict`` too) as dict and list."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return copy.deepcopy(value)


def same(a: Any, b: Any) -> bool:
    """Equal as stored: of one kind (``1`` is not ``1.0`` nor ``True``), key by key, element
    by element; NaN equals NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def remember(state: InstanceState[Any], keys: Any = None) -> None:
    """Keep a copy of the mutable values of ``state`` (of ``keys``, or of every column
    attribute) as they are now: loaded, refreshed or just flushed."""
    loaded: dict[str, Any] = state.info.setdefault(_INFO_KEY, {})
    for prop in state.mapper.column_attrs:
        key = prop.key
        if keys is not None and key not in keys:
            continue
        value = state.dict.get(key, NO_VALUE)
        if value is not NO_VALUE and _is_mutable(value):
            loaded[key] = _copy(value)
        else:
            loaded.pop(key, None)


def mark_changed(state: InstanceState[Any]) -> bool:
    """Mark the attributes whose mutable value was changed in place since :func:`remember` as
    modified (the copy as their old value). Whether one was."""
    loaded = state.info.get(_INFO_KEY)
    obj = state.obj()
    if not loaded or obj is None:
        return False
    found = False
    for key, old in loaded.items():
        current = state.dict.get(key, NO_VALUE)
        if current is NO_VALUE or same(current, old):
            continue
        attributes.flag_modified(obj, key)
        if state.committed_state.get(key, NO_VALUE) is NO_VALUE and not current == old:
            # The old value, for what_changed(); a change Python's == doesn't see (1 to 1.0)
            # keeps none, so SQLAlchemy's history still writes the attribute.
            state.committed_state[key] = _copy(old)
        found = True
    return found
