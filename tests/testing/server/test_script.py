"""The patch-script subset and JSON Patch, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from sqla_docstore.testing.server.jsonpatch import JsonPatchError, apply_json_patch
from sqla_docstore.testing.server.script import ScriptError, run_patch


@pytest.mark.parametrize(("script", "args", "expected"), [
    ("this.age = args.v;", {"v": 5}, {"age": 5, "n": 1, "tags": ["a"]}),
    ("this.n = this.n ? this.n + args.v : args.v ;", {"v": 2}, {"n": 3, "tags": ["a"]}),
    ("this.m = this.m ? this.m + args.v : args.v", {"v": 2}, {"m": 2, "n": 1, "tags": ["a"]}),
    ('this["k"] = args.v0;\ndelete this["n"];', {"v0": None}, {"k": None, "tags": ["a"]}),
    ("this.tags.push(args.a,args.b);\rthis.tags.splice(args.i, 1);", {"a": "b", "b": "c", "i": 0},
     {"n": 1, "tags": ["b", "c"]}),
    ("this.n += 1; this.n -= 3; this.s = 'x' + this.n", {}, {"n": -1, "s": "x-1", "tags": ["a"]}),
    ("this.o = {a: [1, 2], 'b': null}; this.o.a[2] = 3", {}, {"n": 1, "tags": ["a"],
                                                             "o": {"a": [1, 2, 3], "b": None}}),
    ("this.big = this.n > 0 && !false ? 'yes' : 'no'", {}, {"n": 1, "tags": ["a"], "big": "yes"}),
    ("this.len = this.tags.length; this.has = this.tags.includes('a')", {},
     {"n": 1, "tags": ["a"], "len": 1, "has": True}),
    ("this.age = $age", {"age": 7}, {"age": 7, "n": 1, "tags": ["a"]}),
    ("this.half = this.n / 2; this.whole = 4 / 2", {}, {"n": 1, "tags": ["a"], "half": 0.5,
                                                        "whole": 2}),
])
def test_supported_scripts(script: str, args: dict[str, Any], expected: dict[str, Any]) -> None:
    doc = {"n": 1, "tags": ["a"]}
    assert run_patch(script, doc, args) == expected
    assert doc == {"n": 1, "tags": ["a"]}  # the input is not changed


@pytest.mark.parametrize(("script", "named"), [
    ("this.tags = this.tags.filter(function(x) { return x; })", ".filter()"),
    ("var x = 1; this.a = x", "'var'"),
    ("put('users/2', this)", "'put'()"),
    ("this.a = load(args.id)", "'load'()"),
    ("for (;;) {}", "'for'"),
    ("this.a.b.c = 1", "Cannot read properties of undefined"),
    ("this.a.b = 1", "Cannot set properties of undefined"),
    ("this.a = ", "expected a value"),
    ("throw 'sqla_docstore: document was deleted';", "sqla_docstore: document was deleted"),
])
def test_unsupported_scripts_are_named(script: str, named: str) -> None:
    with pytest.raises(ScriptError, match=named.replace("(", r"\(").replace(")", r"\)")):
        run_patch(script, {"tags": []}, {})


def test_json_patch() -> None:
    doc = {"a": 1, "list": [1, 2], "o": {"x/y": 1, "t~": 2}}
    ops = [{"op": "add", "path": "/list/1", "value": 9}, {"op": "remove", "path": "/o/x~1y"},
           {"op": "replace", "path": "/o/t~0", "value": 3}, {"op": "move", "from": "/a",
                                                              "path": "/b"},
           {"op": "test", "path": "/b", "value": 1}, {"op": "add", "path": "/list/-", "value": 0}]
    assert apply_json_patch(doc, ops) == {"b": 1, "list": [1, 9, 2, 0], "o": {"t~": 3}}
    assert doc["a"] == 1
    for bad in ({"op": "replace", "path": "/nope", "value": 1}, {"op": "test", "path": "/a",
                                                               "value": 2},
                {"op": "add", "path": "/list/7", "value": 1}, {"op": "frobnicate", "path": "/a"}):
        with pytest.raises(JsonPatchError):
            apply_json_patch(doc, [bad])
