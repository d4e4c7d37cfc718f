"""UPDATE SET expressions as RavenDB patch scripts, evaluated by the server against the
document as it is when the batch is applied (so concurrent increments are never lost).

Only expressions whose JavaScript answer is exactly SQL's are translated (planning only, no
I/O): ``+``, ``-``, ``*``, unary minus and ``coalesce``/``ifnull`` over numeric fields,
numeric parameters and number literals. NULL (or a missing field) propagates as in SQL. The
script refuses, by throwing, what JavaScript would answer differently: a stored value or an
argument that is not a number, and integer results beyond 2**53 (JavaScript's exact range).
Anything else is not translated: the caller then guards the write by change vector instead.
"""

from __future__ import annotations

import decimal
import json
from dataclasses import replace
from typing import Any

from ...commands import Patch, Recompute
from ...errors import DataError
from ...rowexpr import FIELD
from ...schema import CollectionSpec
from ...statements import ast
from .errors import NOT_NULL_MARKER

TYPE_MARKER = "sqla_docstore: not a number in a computed UPDATE"
RANGE_MARKER = "sqla_docstore: integer beyond 2**53 in a computed UPDATE"

_NUMERIC = frozenset({"INTEGER", "BIGINT", "SMALLINT", "FLOAT", "REAL", "DOUBLE",
                      "DOUBLE PRECISION"})
_ARITHMETIC = frozenset({"+", "-", "*"})
_EXACT = 9007199254740991  # 2**53 - 1
_TEMP = "sqla_docstore:"
_MAX_SCRIPT = 20_000  # nested arithmetic repeats its operands: keep scripts small


class _Untranslatable(Exception):
    pass


def _js(text: str) -> str:
    return json.dumps(text)


class _Translator:
    def __init__(self, spec: CollectionSpec) -> None:
        self.types = {f.name: f.base_type for f in spec.fields}
        self.checks: list[str] = []

    def value(self, ref: str) -> str:
        self.checks.append(f"if ({ref} != null && typeof {ref} !== 'number') "
                           f"throw {_js(TYPE_MARKER)};")
        # a wider integer read is a double's approximation of it (2**62 + 1 reads 2**62)
        self.checks.append(f"if ({ref} != null && {ref} % 1 === 0 && "
                           f"({ref} > {_EXACT} || {ref} < -{_EXACT})) throw {_js(RANGE_MARKER)};")
        return ref

    def expr(self, node: ast.Expr) -> str:
        if isinstance(node, ast.Param):
            if node.name.startswith(FIELD):
                name = node.name[len(FIELD):]
                if self.types.get(name) not in _NUMERIC:
                    raise _Untranslatable(name)
                return self.value(f"this[{_js(name)}]")
            return self.value(f"args[{_js(node.name)}]")
        if isinstance(node, ast.Literal):
            if node.value is None:
                return "null"
            if type(node.value) in (int, float) and abs(node.value) <= _EXACT:
                return repr(node.value)
            raise _Untranslatable(repr(node.value))
        if isinstance(node, ast.Unary) and node.op in ("-", "+"):
            inner = self.expr(node.operand)
            return inner if node.op == "+" else f"({inner} == null ? null : -({inner}))"
        if isinstance(node, ast.Binary) and node.op in _ARITHMETIC:
            left, right = self.expr(node.left), self.expr(node.right)
            out = (f"(({left}) == null || ({right}) == null ? null : "
                   f"({left}) {node.op} ({right}))")
            # Two integers give an integer in SQL: exact in JavaScript only below 2**53.
            self.checks.append(
                f"if ({out} != null && ({left}) % 1 === 0 && ({right}) % 1 === 0 && "
                f"({out} > {_EXACT} || {out} < -{_EXACT})) throw {_js(RANGE_MARKER)};")
            return out
        if isinstance(node, ast.Func) and node.name in ("coalesce", "ifnull") and \
                len(node.args) >= 2 and not node.distinct:
            parts = [self.expr(a) for a in node.args]
            out = parts[-1]
            for part in reversed(parts[:-1]):
                out = f"(({part}) != null ? ({part}) : {out})"
            return out
        raise _Untranslatable(type(node).__name__)


def translatable(spec: CollectionSpec, compute: tuple[Recompute, ...]) -> bool:
    """Whether every computed field has an exact patch-script form (CHECK constraints are
    not evaluated by scripts: such collections are guarded by change vector instead)."""
    if spec.checks:
        return False
    names = [r.field for r in compute]
    if len(set(names)) != len(names):
        return False
    types = {f.name: f.base_type for f in spec.fields}
    if any(types.get(name) not in _NUMERIC for name in names):
        return False  # (a script stores a number: a text column stores its text)
    try:
        script = _script(spec, compute)
    except _Untranslatable:
        return False
    return sum(map(len, script)) <= _MAX_SCRIPT


def _script(spec: CollectionSpec, compute: tuple[Recompute, ...]) -> list[str]:
    tr = _Translator(spec)
    values = [tr.expr(r.expr) for r in compute]
    lines = list(dict.fromkeys(tr.checks))
    # SET reads the document as it was: every value is computed before any is assigned.
    lines += [f"args[{_js(f'{_TEMP}{i}')}] = {v};" for i, v in enumerate(values)]
    lines += [f"this[{_js(r.field)}] = args[{_js(f'{_TEMP}{i}')}];"
              for i, r in enumerate(compute)]
    nullable = {f.name: f.nullable for f in spec.fields}
    for r in compute:
        if not nullable.get(r.field, True):
            lines.append(f"if (this[{_js(r.field)}] == null) "
                         f"throw {_js(f'{NOT_NULL_MARKER}: {spec.name}.{r.field}')};")
    return lines


def numbers_only(compute: tuple[Recompute, ...], body: dict[str, Any],
                 args: dict[str, Any]) -> bool:
    """Whether every field and parameter the expressions read holds a number or NULL for
    this document (the script refuses anything else, such as a text in a numeric field)."""
    for r in compute:
        for node in ast.walk(r.expr):
            if not isinstance(node, ast.Param):
                continue
            if node.name.startswith(FIELD):
                value = body.get(node.name[len(FIELD):])
            else:
                value = args.get(node.name)
            if value is not None and type(value) not in (int, float, decimal.Decimal):
                return False
    return True


def refuse_inexact(spec: CollectionSpec, compute: tuple[Recompute, ...],
                   body: dict[str, Any], args: dict[str, Any]) -> None:
    """Raise DataError now if the script of ``compute`` would refuse the document ``body``
    (as the transaction sees it) at commit, and with it the whole batch: the statement's
    own answer is computed exactly, but the script computes in doubles and checks what it
    reads and gives as ``_Translator`` writes it (every operand is evaluated)."""
    for r in compute:
        problem = _inexact(r.expr, body, args)
        if problem is not None:
            raise DataError(
                f"UPDATE {spec.name} SET {r.field} = ... : {problem}; RavenDB's patch "
                f"scripts compute in doubles (exact for integers up to 2**53), so the "
                f"commit could not store SQL's answer. Nothing of this statement was taken")


def _inexact(node: ast.Expr, body: dict[str, Any], args: dict[str, Any]) -> str | None:
    """What the script of ``node`` would throw on (None: nothing), by ``_Translator``'s
    checks; the value is carried through ``_operand`` (exact, as SQL computes it)."""
    try:
        _operand(node, body, args)
    except _Refused as refused:
        return str(refused)
    return None


class _Refused(Exception):
    pass


def _operand(node: ast.Expr, body: dict[str, Any], args: dict[str, Any]) -> Any:
    if isinstance(node, ast.Param):
        if node.name.startswith(FIELD):
            name = node.name[len(FIELD):]
            return _number(body.get(name), f"the field {name}")
        return _number(args.get(node.name), f"the parameter {node.name}")
    if isinstance(node, ast.Literal):
        return node.value
    if isinstance(node, ast.Unary):
        inner = _operand(node.operand, body, args)
        return inner if node.op == "+" or inner is None else -inner
    if isinstance(node, ast.Binary):
        left, right = _operand(node.left, body, args), _operand(node.right, body, args)
        if left is None or right is None:
            return None
        out = {"+": left + right, "-": left - right, "*": left * right}[node.op]
        if left % 1 == 0 and right % 1 == 0 and abs(out) > _EXACT:
            raise _Refused(f"an integer result beyond 2**53 ({left} {node.op} {right})")
        return out
    assert isinstance(node, ast.Func)  # coalesce / ifnull (``_Translator.expr``)
    parts = [_operand(a, body, args) for a in node.args]
    return next((p for p in parts if p is not None), None)


def _number(value: Any, what: str) -> Any:
    if type(value) in (int, float) and value % 1 == 0 and abs(value) > _EXACT:
        raise _Refused(f"{what} holds an integer beyond 2**53 ({value})")
    if value is None or type(value) in (int, float):
        return value
    if type(value) is decimal.Decimal:  # (sent as a JSON number: a double to the script)
        return float(value)
    raise _Refused(f"{what} holds {value!r}, not a number")


def patch_json(cmd: Patch, spec: CollectionSpec) -> dict[str, Any]:
    """The PATCH command for a Patch with computed fields (plain fields set after them)."""
    args: dict[str, Any] = dict(cmd.args or {})
    lines = _script(spec, cmd.compute)
    for i, (name, value) in enumerate(cmd.set.items()):
        key = f"{_TEMP}set{i}"
        args[key] = value
        lines.append(f"this[{_js(name)}] = args[{_js(key)}];")
    lines += [f"delete this[{_js(k)}];" for k in cmd.unset]
    return {"Id": cmd.id, "ChangeVector": cmd.expected,
            "Patch": {"Script": "\n".join(lines), "Values": args}, "Type": "PATCH"}


def split_script_values(cmd: Patch) -> tuple[Patch, dict[str, Any]]:
    """``cmd`` without the values it sets that its script would store changed, and those
    values (sent as a JSON Patch, which stores them as written). RavenDB's scripts hold
    numbers as doubles and store a whole one as an integer unless the property held a
    double, which the client may not know (a REAL stored in an INTEGER column, as SQLite keeps
    0.5 there): a float without a fraction (3.0, -0.0), any integer, a decimal's digits, also
    inside a JSON value, could be stored as another value or kind."""
    if not cmd.set:
        return cmd, {}
    moved = {name: value for name, value in cmd.set.items() if _changed_by_script(value)}
    if not moved:
        return cmd, {}
    kept = {name: value for name, value in cmd.set.items() if name not in moved}
    return replace(cmd, set=kept), moved


def _changed_by_script(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return value.is_integer()
    if kind is int:  # (where the property held a double, a script would store 7 as 7.0)
        return True
    if kind is decimal.Decimal:
        return True
    if kind is dict:
        return any(map(_nested_changed_by_script, value.values()))
    if kind is list:
        return any(map(_nested_changed_by_script, value))
    return False


def _nested_changed_by_script(value: Any) -> bool:
    """Inside a JSON value (set whole): an integer a double does not hold."""
    if type(value) is int:
        return not (-_LONG < value < _LONG and float(value) == value)
    return _changed_by_script(value)


_LONG = 2**63


def json_patch(doc_id: str, values_set: dict[str, Any]) -> dict[str, Any]:
    """RavenDB's JsonPatch command setting top-level properties to ``values_set``."""
    return {"Id": doc_id, "ChangeVector": None, "Type": "JsonPatch", "JsonPatch": {
        "Operations": [{"op": "add", "path": "/" + name.replace("~", "~0").replace("/", "~1"),
                        "value": value} for name, value in values_set.items()]}}
