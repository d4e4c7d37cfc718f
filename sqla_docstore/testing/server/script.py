"""The JavaScript subset of RavenDB patch scripts that clients send (``this.x = args.v`` forms)."""

from __future__ import annotations

import copy
import json
import math
import re
from functools import lru_cache
from typing import Any

from . import errors, javascript


class ScriptError(Exception):
    """The script uses a construct outside the supported subset, or fails as JavaScript would."""


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()
Node = tuple[Any, ...]

_TOKEN = re.compile(
    r"""(?P<ws>\s+|//[^\n]*|/\*.*?\*/)
      | (?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<name>[A-Za-z_$][\w$]*)
      | (?P<op>===|!==|==|!=|<=|>=|&&|\|\||\+=|-=|=>|[-+*/%=<>!?:.,;()\[\]{}])""",
    re.VERBOSE | re.DOTALL,
)
_LITERALS = {"true": True, "false": False, "null": None, "undefined": UNDEFINED}
_METHODS = {"push", "splice", "indexOf", "includes", "toUpperCase", "toLowerCase", "trim"}


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ScriptError(f"unsupported character {text[pos]!r} at {pos} in patch script")
        kind = m.lastgroup
        assert kind is not None
        value: Any = m.group(kind)
        if kind == "num":
            number = float(value)
            value = int(number) if number.is_integer() and not any(c in value for c in ".eE") \
                else number
        elif kind == "str":
            inner = value[1:-1]
            if value[0] == "'":
                inner = inner.replace('\\\'', "'").replace('"', '\\"')
            value = json.loads('"' + inner + '"')
        if kind != "ws":
            out.append((kind, value, m.start()))
        pos = m.end()
    out.append(("eof", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> tuple[str, Any, int]:
        return self.toks[self.i]

    def is_op(self, *ops: str) -> bool:
        kind, value, _ = self.tok
        return kind == "op" and value in ops

    def take_op(self, *ops: str) -> str | None:
        if self.is_op(*ops):
            self.i += 1
            return str(self.toks[self.i - 1][1])
        return None

    def expect_op(self, op: str) -> None:
        if not self.take_op(op):
            self.fail(f"expected {op!r}")

    def fail(self, message: str) -> None:
        kind, value, pos = self.tok
        found = value if kind != "eof" else "end of script"
        raise ScriptError(f"{message} near {found!r} at position {pos} in patch script "
                          f"{self.text!r}")

    def unsupported(self, construct: str) -> None:
        raise ScriptError(f"unsupported patch script construct: {construct} (only assignments "
                          f"to this.<path>, delete, push and splice are supported): {self.text!r}")

    def script(self) -> list[Node]:
        statements = []
        while self.tok[0] != "eof":
            if self.take_op(";"):
                continue
            statements.append(self.statement())
        return statements

    def statement(self) -> Node:
        kind, value, _ = self.tok
        if kind == "name" and value == "delete":
            self.i += 1
            target = self.expr()
            if target[0] != "get":
                self.fail("delete needs a property")
            return ("delete", target)
        if kind == "name" and value == "throw":
            self.i += 1
            return ("throw", self.expr())
        if kind == "name" and value == "if":
            self.i += 1
            self.expect_op("(")
            cond = self.expr()
            self.expect_op(")")
            return ("if", cond, self.block())
        if kind == "name" and value in ("var", "let", "const", "for", "while", "function",
                                        "return", "try", "switch", "do"):
            self.unsupported(f"'{value}'")
        target = self.expr()
        op = self.take_op("=", "+=", "-=")
        if op is None:
            if target[0] != "call":
                self.fail("expected an assignment or a method call")
            return ("expr", target)
        if target[0] != "get":
            self.fail("can only assign to a property")
        return ("assign", target, op, self.expr())

    def block(self) -> list[Node]:
        if not self.take_op("{"):
            return [self.statement()]
        body = []
        while not self.take_op("}"):
            if self.tok[0] == "eof":
                self.fail("expected '}'")
            if not self.take_op(";"):
                body.append(self.statement())
        return body

    def expr(self) -> Node:
        cond = self.binary(0)
        if self.take_op("?"):
            yes = self.expr()
            self.expect_op(":")
            return ("cond", cond, yes, self.expr())
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",), ("&&",), ("===", "!==", "==", "!="), ("<", "<=", ">", ">="), ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            op = self.take_op(*self._LEVELS[level])
            if op is None:
                return left
            left = ("bin", op, left, self.binary(level + 1))

    def unary(self) -> Node:
        if self.tok[0] == "name" and self.tok[1] == "typeof":
            self.i += 1
            return ("typeof", self.unary())
        if self.take_op("!"):
            return ("not", self.unary())
        if self.take_op("-"):
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.take_op("."):
                kind, name, _ = self.tok
                if kind != "name":
                    self.fail("expected a property name")
                self.i += 1
                if self.is_op("("):
                    if name not in _METHODS:
                        self.unsupported(f"method .{name}()")
                    node = ("call", node, name, self.arguments())
                else:
                    node = ("get", node, ("lit", name))
            elif self.take_op("["):
                key = self.expr()
                self.expect_op("]")
                node = ("get", node, key)
            elif self.is_op("("):
                self.unsupported("calling a function")
            else:
                return node

    def arguments(self) -> list[Node]:
        self.expect_op("(")
        args: list[Node] = []
        if self.take_op(")"):
            return args
        args.append(self.expr())
        while self.take_op(","):
            args.append(self.expr())
        self.expect_op(")")
        return args

    def primary(self) -> Node:
        kind, value, _ = self.tok
        self.i += 1
        if kind in ("num", "str"):
            return ("lit", value)
        if kind == "name":
            if value in _LITERALS:
                return ("lit", _LITERALS[value])
            if value == "this":
                return ("this",)
            if value == "args":
                return ("args",)
            if value.startswith("$") and len(value) > 1:
                return ("get", ("args",), ("lit", value[1:]))
            self.i -= 1
            self.unsupported(f"'{value}'" + ("()" if self.toks[self.i + 1][1] == "(" else ""))
        if kind == "op" and value == "(":
            inner = self.expr()
            self.expect_op(")")
            return inner
        if kind == "op" and value == "[":
            items: list[Node] = []
            if not self.take_op("]"):
                items.append(self.expr())
                while self.take_op(","):
                    items.append(self.expr())
                self.expect_op("]")
            return ("array", items)
        if kind == "op" and value == "{":
            pairs: list[tuple[str, Node]] = []
            while not self.take_op("}"):
                key_kind, key, _ = self.tok
                if key_kind not in ("name", "str"):
                    self.fail("expected an object key")
                self.i += 1
                self.expect_op(":")
                pairs.append((str(key), self.expr()))
                if not self.take_op(","):
                    self.expect_op("}")
                    break
            return ("object", pairs)
        self.i -= 1
        self.fail("expected a value")
        raise AssertionError


@lru_cache(maxsize=512)
def compile_script(text: str) -> tuple[Node, ...]:
    return tuple(_Parser(text).script())


#: "v8": real JavaScript when the mini-racer package is installed (javascript.py), else the
#: subset below; "subset": always the subset.
ENGINE = "v8"
_JS_EXCEPTION = "Raven.Client.Exceptions.Documents.Patching.JavaScriptException"


def run_script(script: str, document: dict[str, Any], args: dict[str, Any],
               params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A patch script on a copy of ``document``: ``args`` are the patch's values, ``params``
    the query parameters of a patch-by-query (``$name`` in the script)."""
    if ENGINE == "v8" and javascript.available():
        return javascript.run_patch(script, document, args, params)
    return run_patch(script, document, {**(params or {}), **(args or {})})


def patch_error(exc: Exception) -> errors.RavenError | None:
    """The server's reply for a failed patch script: 501 for a function it does not have,
    400 JavaScriptException for a script that threw or ran out of time or memory."""
    if isinstance(exc, javascript.UnsupportedFunction):
        return errors.not_supported(str(exc))
    if isinstance(exc, (ScriptError, javascript.JavaScriptError)):
        return errors.RavenError(400, _JS_EXCEPTION, str(exc))
    return None


def run_patch(script: str, document: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Run ``script`` on a copy of ``document`` (with its ``@metadata``); returns the copy.

    Supported: assignments (``=``, ``+=``, ``-=``) and ``delete`` of ``this`` paths (``.name``
    or ``[expr]``), ``args.name`` and ``$name`` values, literals, ``+ - * / %``, comparisons,
    ``! && ||``, ``typeof``, ``cond ? a : b``, array/object literals, ``throw <value>``,
    ``if (cond) statement`` (or a ``{ block }``), and the methods
    ``push``, ``splice``, ``indexOf``, ``includes``, ``toUpperCase``, ``toLowerCase``, ``trim``
    and ``length``. Anything else (functions, ``load()``, loops, ``var`` ...) raises
    ScriptError naming the construct.
    """
    doc = copy.deepcopy(document)
    env = _Env(doc, args or {})
    for statement in compile_script(script):
        env.run(statement)
    return doc


def truthy(value: Any) -> bool:
    if value is None or value is UNDEFINED or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _number(value: Any) -> float | int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0
        except ValueError:
            return math.nan
    return math.nan


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else _text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+" and (isinstance(left, (str, list, dict)) or isinstance(right, (str, list, dict))):
        return _text(left) + _text(right)
    a, b = _number(left), _number(right)
    if left is UNDEFINED or right is UNDEFINED:
        return math.nan
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif op == "/":
        if b == 0:
            return math.nan if a == 0 else math.copysign(math.inf, a)
        result = a / b
    else:
        if b == 0:
            return math.nan
        result = math.fmod(a, b)
    if isinstance(result, float) and result.is_integer() and isinstance(a, int) \
            and isinstance(b, int):
        return int(result)
    return result


class _Env:
    def __init__(self, doc: dict[str, Any], args: dict[str, Any]) -> None:
        self.doc = doc
        self.args = args

    def run(self, statement: Node) -> None:
        kind = statement[0]
        if kind == "expr":
            self.eval(statement[1])
        elif kind == "throw":
            raise ScriptError(_text(self.eval(statement[1])))
        elif kind == "if":
            if truthy(self.eval(statement[1])):
                for inner in statement[2]:
                    self.run(inner)
        elif kind == "delete":
            container, key = self.place(statement[1])
            if isinstance(container, dict):
                container.pop(key, None)
            elif isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
                container[key] = None
        else:
            _, target, op, value_node = statement
            container, key = self.place(target)
            value = self.eval(value_node)
            if op != "=":
                value = _arith(op[0], _get(container, key), value)
            self.assign(container, key, value)

    def place(self, target: Node) -> tuple[Any, Any]:
        container = self.eval(target[1])
        key = self.eval(target[2])
        if container is None or container is UNDEFINED:
            raise ScriptError(f"TypeError: Cannot set properties of {_text(container)} "
                              f"(setting '{_text(key)}')")
        return container, key

    @staticmethod
    def assign(container: Any, key: Any, value: Any) -> None:
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            value = None  # JSON has no NaN: JSON.stringify writes null
        if isinstance(container, dict):
            if value is UNDEFINED:
                container.pop(_text(key), None)
            else:
                container[_text(key)] = value
        elif isinstance(container, list) and isinstance(key, (int, float)) and int(key) >= 0:
            index = int(key)
            container.extend([None] * (index + 1 - len(container)))
            container[index] = None if value is UNDEFINED else value
        else:
            raise ScriptError(f"TypeError: cannot set property '{_text(key)}' "
                              f"of {type(container).__name__}")

    def eval(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "this":
            return self.doc
        if kind == "args":
            return self.args
        if kind == "get":
            return _get(self.eval(node[1]), self.eval(node[2]))
        if kind == "bin":
            return self.binary(node[1], node[2], node[3])
        if kind == "not":
            return not truthy(self.eval(node[1]))
        if kind == "typeof":
            return _typeof(self.eval(node[1]))
        if kind == "neg":
            return _arith("-", 0, self.eval(node[1]))
        if kind == "cond":
            return self.eval(node[2]) if truthy(self.eval(node[1])) else self.eval(node[3])
        if kind == "array":
            return [self.eval(item) for item in node[1]]
        if kind == "object":
            return {key: self.eval(value) for key, value in node[1]}
        return self.call(self.eval(node[1]), node[2], [self.eval(a) for a in node[3]])

    def binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        left = self.eval(left_node)
        if op == "&&":
            return self.eval(right_node) if truthy(left) else left
        if op == "||":
            return left if truthy(left) else self.eval(right_node)
        right = self.eval(right_node)
        if op in ("===", "=="):
            return _equal(left, right, op == "==")
        if op in ("!==", "!="):
            return not _equal(left, right, op == "!=")
        if op in ("<", "<=", ">", ">="):
            if isinstance(left, str) and isinstance(right, str):
                a: Any = left
                b: Any = right
            else:
                a, b = _number(left), _number(right)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return _arith(op, left, right)

    @staticmethod
    def call(target: Any, method: str, args: list[Any]) -> Any:
        if isinstance(target, list):
            if method == "push":
                target.extend(None if a is UNDEFINED else a for a in args)
                return len(target)
            if method == "splice":
                start = int(_number(args[0])) if args else 0
                if start < 0:
                    start = max(len(target) + start, 0)
                count = int(_number(args[1])) if len(args) > 1 else len(target) - start
                removed = target[start:start + max(count, 0)]
                target[start:start + max(count, 0)] = args[2:]
                return removed
            if method in ("indexOf", "includes"):
                found = next((i for i, v in enumerate(target) if _equal(v, args[0], False)), -1)
                return found if method == "indexOf" else found >= 0
        if isinstance(target, str):
            if method == "toUpperCase":
                return target.upper()
            if method == "toLowerCase":
                return target.lower()
            if method == "trim":
                return target.strip()
            if method in ("indexOf", "includes"):
                found = target.find(_text(args[0]) if args else "undefined")
                return found if method == "indexOf" else found >= 0
        raise ScriptError(f"TypeError: {_text(target)}.{method} is not a function")


def _typeof(value: Any) -> str:
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"  # null, arrays and objects


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        return container.get(_text(key), UNDEFINED)
    if isinstance(container, (list, str)):
        if key == "length":
            return len(container)
        if isinstance(key, (int, float)) and not isinstance(key, bool) and float(key).is_integer():
            index = int(key)
            return container[index] if 0 <= index < len(container) else UNDEFINED
        return UNDEFINED
    if container is None or container is UNDEFINED:
        raise ScriptError(f"TypeError: Cannot read properties of {_text(container)} "
                          f"(reading '{_text(key)}')")
    return UNDEFINED


def _equal(left: Any, right: Any, loose: bool) -> bool:
    if loose and (left is None or left is UNDEFINED) and (right is None or right is UNDEFINED):
        return True
    if (left is UNDEFINED) != (right is UNDEFINED):
        return False
    if isinstance(left, bool) != isinstance(right, bool) and not loose:
        return False
    if loose and isinstance(left, str) != isinstance(right, str) and not (
        isinstance(left, (dict, list)) or isinstance(right, (dict, list))
    ):
        return _number(left) == _number(right)
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return left is right
    return bool(left == right)
