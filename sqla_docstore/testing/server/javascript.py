"""Patch scripts run as real JavaScript (V8 through the ``mini-racer`` package, a test-only
dependency), bounded in time and memory; :func:`available` is False without the package and
the server then runs the hand-written subset in ``script.py``.

As in RavenDB, ``this`` is the document (with its ``@metadata``), ``args`` the patch's values
and ``$name`` the query's parameters (``update { }`` of patch-by-query) or the values; ``id(doc)``
gives a document's id. RavenDB's functions that reach other documents or features (``load``,
``put``, ``del``, ``cmpxchg``, counters, time series ...) throw a marker the server answers 501
for. JavaScript numbers are doubles: a number the script leaves as it was keeps its stored
value exactly (RavenDB keeps unmodified values too), one it computes is a double.
"""

from __future__ import annotations

import ctypes
import decimal
import importlib.util
import json
import threading
from typing import Any

from ... import values

#: Thrown by the functions the server does not implement; the message follows it.
UNSUPPORTED_MARKER = "sqla_docstore-server-unsupported:"
TIME_LIMIT_S = 2.0
MEMORY_LIMIT = 64 * 1024 * 1024
_SAFE = 2**53

_UNSUPPORTED = ("load", "put", "del", "cmpxchg", "incrementCounter", "deleteCounter",
                "counter", "counterRaw", "timeseries", "loadPath", "include")
_PRELUDE = """
var __unsupported = function (name) {
  return function () { throw __MARKER__ + " " + name + "() in a patch script is not "
                       + "supported by the sqla_docstore server"; };
};
__STUBS__
var output = function () {};  // RavenDB's debug output: nothing to show it to
var id = function (doc) { return doc && doc["@metadata"] ? doc["@metadata"]["@id"] : null; };
var __globals = null;
var __run = function (docText, script, argsText, paramsText) {
  if (__globals === null) { __globals = Object.getOwnPropertyNames(globalThis); }
  var doc = JSON.parse(docText), args = JSON.parse(argsText), params = JSON.parse(paramsText);
  Object.keys(args).forEach(function (n) { params[n] = args[n]; });
  var names = Object.keys(params).filter(function (n) { return /^[A-Za-z_][\\w]*$/.test(n); });
  var body = names.map(function (n) { return "var $" + n + " = __params[" + JSON.stringify(n)
                                             + "];"; }).join("\\n") + "\\n" + script;
  var assigned = {};  // the document's own properties the script sets or deletes
  var self = new Proxy(doc, {
    set: function (t, k, v) { assigned[k] = true; t[k] = v; return true; },
    deleteProperty: function (t, k) { assigned[k] = true; return delete t[k]; }
  });
  new Function("args", "__params", body).call(self, args, params);
  return JSON.stringify([doc, Object.keys(assigned)]);
};
var __reset = function () {  // no state between patches, also after a terminated one
  Object.getOwnPropertyNames(globalThis).forEach(function (n) {
    if (__globals !== null && __globals.indexOf(n) < 0) { delete globalThis[n]; }
  });
  return true;
};
""".replace("__MARKER__", json.dumps(UNSUPPORTED_MARKER)).replace(
    "__STUBS__", "\n".join(f"var {n} = __unsupported({json.dumps(n)});" for n in _UNSUPPORTED))


class JavaScriptError(Exception):
    """The script threw, failed to compile, or ran out of time or memory."""


class UnsupportedFunction(JavaScriptError):
    """The script called a RavenDB function the server does not implement."""


def available() -> bool:
    return importlib.util.find_spec("py_mini_racer") is not None


# One V8 context for the process, made on first use and never freed, one script at a time.
# V8 crashed the process freeing a context that had run the tests' scripts (SIGSEGV in
# Heap::StartTearDown under mini-racer 0.12 to 0.14, whichever thread freed it: a context
# per server thread, freed by the garbage collector mid-run, or this one at exit), so the
# context is kept alive until the process ends (its memory goes with the process).
_lock = threading.Lock()
_shared: list[Any] = []


def _context() -> Any:
    """The process's context; the caller holds ``_lock``."""
    if not _shared:
        from py_mini_racer import MiniRacer

        ctx = MiniRacer()
        ctx.eval(_PRELUDE)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(ctx))  # (never collected: see above)
        _shared.append(ctx)
    return _shared[0]


def run_patch(script: str, document: dict[str, Any], args: dict[str, Any],
              params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document after ``script`` ran on it (``document`` itself is not changed)."""
    text = _run(script, document, args, params)
    result, assigned = values.loads(text)
    if not isinstance(result, dict):
        raise JavaScriptError("A patch must leave the document a JSON object")
    # a property the script set holds what it was given, never the value it replaced
    before = {k: v for k, v in document.items() if k not in assigned}
    kept = _keep_exact(before, result, _wide_numbers(args, params))
    # and a number set where a double was is written as a double, as RavenDB writes it (a
    # whole number elsewhere as an integer: JavaScript's own 3 for 3.0)
    for name in assigned:
        if type(document.get(name)) is float and type(kept.get(name)) is int:
            kept[name] = float(kept[name])
    return kept


def _run(script: str, document: dict[str, Any], args: dict[str, Any],
         params: dict[str, Any] | None) -> str:
    """The JSON text of [document after the script, names it set or deleted]."""
    from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException

    with _lock:
        ctx = _context()
        try:
            return str(ctx.call("__run", values.dumps(document), script,
                                values.dumps(args or {}), values.dumps(params or {}),
                                timeout_sec=TIME_LIMIT_S, max_memory=MEMORY_LIMIT))
        except JSTimeoutException as exc:
            raise JavaScriptError(f"The patch script ran longer than {TIME_LIMIT_S} s") from exc
        except JSOOMException as exc:
            raise JavaScriptError(f"The patch script used more than "
                                  f"{MEMORY_LIMIT // 2**20} MB of memory") from exc
        except JSEvalException as exc:
            message = _message(str(exc))
            if UNSUPPORTED_MARKER in message:
                raise UnsupportedFunction(
                    message.split(UNSUPPORTED_MARKER, 1)[1].strip()) from exc
            raise JavaScriptError(message) from exc
        finally:
            ctx.eval("__reset()")


def _message(text: str) -> str:
    """V8's report without its ``undefined:3:`` location prefix and stack."""
    first = text.split("\n", 1)[0]
    if first.startswith("undefined:"):
        first = first.split(":", 2)[-1].strip()
    return first or text.strip()


def _is_wide(value: Any) -> bool:
    """A number JSON text holds exactly but a double does not."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -_SAFE < value < _SAFE
    if isinstance(value, decimal.Decimal):
        return value.is_finite() and decimal.Decimal(float(value)) != value
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _wide_numbers(*sources: Any) -> dict[float, Any]:
    """The wide numbers among the patch's values, by the double JavaScript saw."""
    found: dict[float, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif _is_wide(node):
            found.setdefault(float(node), node)

    for source in sources:
        walk(source)
    return found


def _keep_exact(before: Any, after: Any, passed: dict[float, Any]) -> Any:
    """``after`` with each number the script did not change (it equals, as a double, the
    exact value that was there, or a wide value passed in) put back exactly, in the form it
    was stored in (a float without a fraction stays a float, as RavenDB keeps a value the
    script leaves alone)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {k: _keep_exact(before.get(k), v, passed) for k, v in after.items()}
    if isinstance(before, list) and isinstance(after, list):
        return [_keep_exact(before[i] if i < len(before) else None, v, passed)
                for i, v in enumerate(after)]
    if isinstance(after, (int, float, decimal.Decimal)) and not isinstance(after, bool):
        if _is_wide(before) and float(before) == float(after):
            return before
        if _is_number(before) and before == after:  # 2.0 (2 in JavaScript), Decimal("2.50")
            return before
        if type(before) is float and float(after) == before:  # a double JavaScript prints as
            return before  # an integer's digits (2.0**63 is 9223372036854776000 there)
        if float(after) in passed:
            return passed[float(after)]
    if isinstance(after, dict):
        return {k: _keep_exact(None, v, passed) for k, v in after.items()}
    if isinstance(after, list):
        return [_keep_exact(None, v, passed) for v in after]
    return after
