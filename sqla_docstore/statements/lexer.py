"""Tokenizer for the statement language (the SQL subset the dialect renders, plus RQL queries)."""

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
  | (?P<param>[:$][^\s,()=<>+*|;'"]+)
  | (?P<name>[A-Za-z_@][\w@]*)
  | (?P<op><>|!=|==|<=|>=|\|\||->>|->|[-+*/%=<>(),.;{}\[\]])
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
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
        else:
            raise _unexpected(text, m.start())
        append(Token(kind, value, m.start()))
    append(Token("eof", "", len(text)))
    return tokens


def _unexpected(text: str, pos: int) -> ProgrammingError:
    char = text[pos]
    if char == "?":
        return ProgrammingError(
            f"unexpected character '?' at {pos} in statement: positional parameters are not "
            "supported (paramstyle is 'named': write :name, or $name in RQL)"
        )
    return ProgrammingError(f"unexpected character {char!r} at {pos} in statement")
