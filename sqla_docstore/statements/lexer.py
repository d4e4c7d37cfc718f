"""Tokenizer for the statement language (the SQL subset the dialect renders, plus RQL queries).

Parameters come in two styles, one per statement, as in SQLite: named (``:name`` in SQL,
``$name`` in RQL) or positional (``?``, and SQLite's numbered ``?NNN``). A positional
parameter becomes a "param" token named ``?1``, ``?2``... after its position (a bare ``?`` is
one more than the largest number used before it, as SQLite numbers them), a name no named
parameter can have: :func:`positional_name` and :func:`position` convert.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..errors import ProgrammingError


class Token(NamedTuple):
    kind: str  # "name", "qname", "num", "str", "param", "op", "json", "eof"
    value: str
    pos: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "name" and self.value.lower() in words


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|--[^\n]*)
  | (?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<qname>"(?:[^"]|"")*"|`[^`]*`)
  | (?P<param>[:$][^\s,()=<>+*|;'"?]+)
  | (?P<qmark>\?\d*)
  | (?P<name>[A-Za-z_@][\w@]*)
  | (?P<op><>|!=|==|<=|>=|<<|>>|\|\||->>|->|[-+*/%=<>(),.;{}\[\]&|~])
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


#: the prefix of a positional parameter's name (``?1``), never the start of a named one
POSITIONAL = "?"
#: SQLite's largest parameter number (SQLITE_MAX_VARIABLE_NUMBER)
MAX_POSITION = 32766


def positional_name(position: int) -> str:
    """The name of the positional parameter at ``position`` (1-based)."""
    return f"{POSITIONAL}{position}"


def position(name: str) -> int | None:
    """The position of a positional parameter's name; None for a named parameter."""
    return int(name[1:]) if name[:1] == POSITIONAL else None


class _Params:
    """The parameters met so far in one statement: the last position used, the named ones."""

    __slots__ = ("text", "last", "named_at")

    def __init__(self, text: str) -> None:
        self.text = text
        self.last = 0
        self.named_at: int | None = None

    def named(self, pos: int) -> None:
        if self.last:
            raise _mixed(self.text)
        self.named_at = pos

    def positional(self, value: str, pos: int) -> str:
        if self.named_at is not None:
            raise _mixed(self.text)
        number = int(value[1:]) if len(value) > 1 else self.last + 1
        if not 1 <= number <= MAX_POSITION:
            raise ProgrammingError(
                f"parameter {value} at {pos}: a numbered parameter is ?1 to ?{MAX_POSITION}")
        self.last = max(self.last, number)
        return positional_name(number)


def _mixed(text: str) -> ProgrammingError:
    return ProgrammingError(
        "the statement mixes positional (?) and named (:name) parameters: use one style "
        f"(a sequence of values for ?, a mapping for :name): {text!r}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    params = _Params(text)
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            continue
        value = m.group()
        if kind == "op" or kind == "name" or kind == "num":
            pass
        elif kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "qname":
            value = value[1:-1].replace('""', '"') if value[0] == '"' else value[1:-1]
        elif kind == "param":
            value = value[1:]
            params.named(m.start())
        elif kind == "qmark":
            kind = "param"
            value = params.positional(value, m.start())
        else:
            raise _unexpected(text, m.start())
        append(Token(kind, value, m.start()))
    append(Token("eof", "", len(text)))
    return tokens


def _unexpected(text: str, pos: int) -> ProgrammingError:
    return ProgrammingError(f"unexpected character {text[pos]!r} at {pos} in statement")
