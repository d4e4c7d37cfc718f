"""RFC 6902 JSON Patch (add, remove, replace, move, copy, test) for the ``JsonPatch`` command."""

from __future__ import annotations

import copy
from typing import Any


class JsonPatchError(Exception):
    """An operation that cannot apply (missing path, bad index, failed test)."""


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise JsonPatchError(f"invalid JSON pointer {path!r}: must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        node = _child(node, part, path)
    return node


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise JsonPatchError(f"path {path!r} does not exist (no member {part!r})")
        return node[part]
    if isinstance(node, list):
        return node[_index(node, part, path, False)]
    raise JsonPatchError(f"path {path!r} goes through a value that is not an object or array")


def _index(items: list[Any], part: str, path: str, inserting: bool) -> int:
    if not part.isdigit() or (part != "0" and part.startswith("0")):
        raise JsonPatchError(f"invalid array index {part!r} in {path!r}")
    index = int(part)
    if index > len(items) or (index == len(items) and not inserting):
        raise JsonPatchError(f"array index {index} out of range in {path!r}")
    return index


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _pointer(path):
        node = _child(node, part, path)
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(_index(parent, last, path, True), value)
    else:
        raise JsonPatchError(f"can't add at {path!r}: parent is not an object or array")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise JsonPatchError("can't remove the whole document")
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise JsonPatchError(f"can't remove {path!r}: it does not exist")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, False))
    raise JsonPatchError(f"can't remove {path!r}: parent is not an object or array")


def apply_json_patch(document: dict[str, Any], operations: list[dict[str, Any]]) -> Any:
    """Apply the operations to a copy of ``document``; all of them, or JsonPatchError."""
    doc: Any = copy.deepcopy(document)
    for op in operations:
        name, path = op.get("op"), op.get("path")
        if not isinstance(path, str):
            raise JsonPatchError(f"operation {op!r} has no 'path'")
        if name == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif name == "remove":
            _remove(doc, path)
        elif name == "replace":
            _get(doc, path)  # must exist
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif name in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise JsonPatchError(f"operation {op!r} has no 'from'")
            value = _remove(doc, source) if name == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value)
        elif name == "test":
            if _get(doc, path) != op.get("value"):
                raise JsonPatchError(f"test failed at {path!r}")
        else:
            raise JsonPatchError(f"unknown JSON Patch operation {name!r}")
    return doc
