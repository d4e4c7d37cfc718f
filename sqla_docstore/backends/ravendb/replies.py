"""Reading RavenDB replies: a reply of the wrong shape is an OperationalError naming the reply,
the part that is wrong and what came instead, with the status and URL it came from."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ... import errors

T = TypeVar("T")
E = TypeVar("E", bound=errors.Error)


def public_url(url: str) -> str:
    """``url`` without user name, password, query string or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def located(exc: E, status: int | None, url: str | None, server_type: str | None = None) -> E:
    """``exc`` with where it came from set (see errors.Error)."""
    exc.status = status
    exc.url = public_url(url) if url else None
    exc.server_type = server_type
    return exc


class Reply:
    """A decoded reply body and where it came from; typed accessors raise on a wrong shape."""

    def __init__(self, body: Any, what: str, status: int | None = None,
                 url: str | None = None) -> None:
        self.body = body
        self.what = what
        self.status = status
        self.url = url

    def bad(self, problem: str) -> errors.OperationalError:
        where = f" (HTTP {self.status} from {public_url(self.url)})" if self.url else ""
        return located(
            errors.OperationalError(f"RavenDB sent a malformed {self.what} reply: {problem}"
                                    f"{where}"),
            self.status, self.url,
        )

    def object(self) -> dict[str, Any]:
        return self.expect(self.body, dict, "the reply")

    def expect(self, value: Any, kind: type[T] | tuple[type, ...], name: str) -> T:
        """``value`` if it is a ``kind``, else the error naming ``name``."""
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value  # type: ignore[return-value]
        names = kind.__name__ if isinstance(kind, type) else " or ".join(
            k.__name__ for k in kind)
        shown = _json_name(value)
        raise self.bad(f"{name} should be a JSON {_JSON_NAMES.get(names, names)}, "
                       f"not {shown}")

    def field(self, obj: dict[str, Any], key: str, kind: type[T] | tuple[type, ...]) -> T:
        if key not in obj:
            raise self.bad(f"{key!r} is missing")
        return self.expect(obj[key], kind, repr(key))

    def optional(self, obj: dict[str, Any], key: str, kind: type[T] | tuple[type, ...],
                 default: T) -> T:
        value = obj.get(key)
        return default if value is None else self.expect(value, kind, repr(key))

    def objects(self, obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """``obj[key]``: a list of objects (``None`` items are kept out: RavenDB's misses)."""
        items = self.field(obj, key, list)
        return [self.expect(i, dict, f"an item of {key!r}") for i in items if i is not None]


_JSON_NAMES = {"dict": "object", "list": "array", "str": "string", "int": "integer",
               "float": "number", "bool": "boolean"}


def _json_name(value: Any) -> str:
    name = _JSON_NAMES.get(type(value).__name__, type(value).__name__)
    if value is None:
        return "null"
    text = repr(value)
    return f"{name} {text[:80]}" if len(text) <= 80 else f"{name} {text[:77]}..."
