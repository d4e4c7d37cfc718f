"""Tokenizer for the statement language (the SQL subset the dialect renders, plus RQL queries)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ProgrammingError


@dataclass(frozen=True)
class Token:
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
  | (?P<op><>|!=|==|<=|>=|\|\||[-+*/%=<>(),.;{}\[\]])
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ProgrammingError(f"unexpected character {text[pos]!r} at {pos} in statement")
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            value = m.group(kind)
            if kind == "str":
                value = value[1:-1].replace("''", "'")
            elif kind == "qname":
                value = value[1:-1].replace('""', '"') if value[0] == '"' else value[1:-1]
            elif kind == "param":
                value = value[1:]
            tokens.append(Token(kind, value, pos))
        pos = m.end()
    tokens.append(Token("eof", "", end))
    return tokens
