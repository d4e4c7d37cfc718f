"""Seeded statement mutants for the error fuzz test: real statements the dialect renders (Core,
ORM-shaped, DDL) and RQL queries, mutated token-wise and byte-wise, with odd parameter sets."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable, DropIndex, DropTable

from sqla_docstore.dialect import DocstoreDialect

_DIALECT = DocstoreDialect(paramstyle="named")  # seeds bind their parameters by name
meta = sa.MetaData()
users = sa.Table(
    "users", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(30), nullable=False),
    sa.Column("age", sa.Integer, sa.CheckConstraint("age >= 0")),
    sa.Column("score", sa.Numeric(10, 2)),
    sa.Column("born", sa.DateTime),
    sa.Column("flag", sa.Boolean),
    sa.Column("data", sa.JSON),
)
addresses = sa.Table(
    "addresses", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id")),
    sa.Column("email", sa.String(50)),
    sa.UniqueConstraint("email"),
)
tags = sa.Table(
    "tags", meta,
    sa.Column("code", sa.String(10), primary_key=True),
    sa.Column("label", sa.String(20)),
)
_ix = sa.Index("ix_users_name_age", users.c.name, users.c.age)


@dataclass(frozen=True)
class Seed:
    """One corpus statement and the parameter names it binds."""

    text: str
    params: tuple[str, ...]


def _render(stmt: Any) -> Seed:
    compiled = stmt.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    return Seed(str(compiled), tuple(compiled.params or ()))


def schema_statements() -> list[str]:
    tables = [_render(CreateTable(t)).text for t in meta.sorted_tables]
    return [*tables, _render(CreateIndex(_ix)).text]


def _core_statements() -> list[Any]:
    u, a = users.c, addresses.c
    ua = users.alias("u")
    count = sa.select(sa.func.count(a.id)).where(a.user_id == u.id).scalar_subquery()
    return [
        sa.select(users).where(u.name == "x").order_by(u.age.desc()).limit(5).offset(2),
        sa.select(u.name, sa.func.count(a.id)).join(addresses, u.id == a.user_id)
        .group_by(u.name).having(sa.func.count(a.id) > 1),
        sa.select(ua.c.id).outerjoin(addresses, ua.c.id == a.user_id),
        sa.select(u.id, count.label("n")),
        sa.select(u.id).where(u.id.in_(sa.select(a.user_id))),
        sa.select(u.id).where(u.id.in_([1, 2, 3])),
        sa.select(u.id).where(u.id.not_in([1, 2])),
        sa.select(u.id).where(u.age.between(1, 5), u.flag.is_not(True)),
        sa.select(u.id).where(u.name.startswith("a") | u.name.ilike("B%")),
        sa.select(u.id).where(u.name.contains("o", autoescape=True)),
        sa.select(sa.case((u.age > 3, "old"), else_="young"), sa.cast(u.score, sa.Integer)),
        sa.select(sa.func.max(u.age), sa.func.sum(u.score), sa.func.avg(u.age)),
        sa.select(u.id).where(sa.exists().where(a.user_id == u.id)),
        sa.union(sa.select(u.name), sa.select(a.email)).order_by("name").limit(3),
        sa.union_all(sa.select(u.name), sa.select(a.email)),
        sa.select(u.id).where(u.born > dt.datetime(2020, 1, 1), u.score >= decimal.Decimal("1.5")),
        sa.insert(users).values(name="j", data={"k": [1, {"z": None}]}),
        sa.select(u.id).where(u.name.is_distinct_from(None)).distinct(),
        sa.select(u.id, (u.age * 2 + 1) % 7, u.name + "x", -u.age),
        sa.select(sa.func.coalesce(u.age, 0), sa.func.lower(u.name), sa.func.length(u.name)),
        sa.select(tags).where(tags.c.code == "a"),
        sa.select(users).where(u.id == 5),  # a load by id
        sa.insert(users).values(name="a", age=3, score=decimal.Decimal("2.5"), flag=True),
        sa.insert(users).values(id=7, name="b").returning(u.id, u.name),
        sa.insert(addresses).values(user_id=1, email="e@x"),
        sa.insert(tags).values(code="c", label="l"),
        sa.update(users).where(u.id == 1).values(age=u.age + 1),
        sa.update(users).where(u.name == "a").values(name="z", flag=False).returning(u.id),
        sa.update(tags).where(tags.c.code == "a").values(code="b"),
        sa.delete(users).where(u.id == 2),
        sa.delete(addresses).where(a.email.like("%x")).returning(a.id),
        DropTable(tags),
        DropIndex(_ix),
    ]


_RQL = [
    ("from users where name = $name select name limit $skip, $take", ("name", "skip", "take")),
    ("from 'users' where age > $a and exact(name = $n) order by age as long desc", ("a", "n")),
    ("from users as u where u.name in ($list) select u.name as 'Name'", ("list",)),
    ("from users where age between 1 and 5 or name = null", ()),
    ("from users group by age select age, count()", ()),
    ("from users where not (flag = true) order by name", ()),
]


def corpus() -> list[Seed]:
    seeds = [_render(s) for s in _core_statements()]
    seeds += [Seed(t, ()) for t in schema_statements()]
    seeds += [Seed(t, p) for t, p in _RQL]
    return seeds


# ----------------------------------------------------------------------------- mutation

_PIECES = re.compile(r"\s+|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[:$]?\w+|.", re.DOTALL)
_ODD_TEXT = [
    "\x00", "\ud800", "\udfff", "é", "\u2028", "\U0001f600", "?", "%s", "%(x)s", ":1", "$",
    ":", "'", '"', "`", "(", ")", "[", "]", "{", "}", ";", "--", "/*", "\\", "@", "#", "..",
    "9" * 400, "1e999", "-1e999", "1e-999", "0x10", "9223372036854775808", "1.", ".5e",
    "NULL", "null", "true", "*", "||", "==", "!=", "<>", "IS NOT", "NOT", "IN", "BETWEEN",
    "CASE", "WHEN", "END", "CAST", "AS", "EXISTS", "SELECT", "FROM", "WHERE", "JOIN", "ON",
    "UNION", "ORDER BY", "LIMIT", "OFFSET", "RETURNING", "VALUES", "SET", "COLLECTION", "INDEX",
    "exact(", "count(*)", "json_extract", "users", "addresses", "nosuch", "users.nosuch",
]
_JSON_ODD = ['3', '"x"', 'null', '[]', '{}', '[1, [2]]', '{"a": {"b": 1}}', 'true', '-1',
             '1e999', '"\\ud800"', '[["x", 5]]', '{"name": 1}']


def _pieces(text: str) -> list[str]:
    return _PIECES.findall(text)


def _deep(rng: random.Random) -> str:
    depth = rng.choice([30, 60, 200, 1000])
    kind = rng.randrange(5)
    if kind == 0:
        return "(" * depth + "1" + ")" * depth
    if kind == 1:
        return "NOT " * depth + "1"
    if kind == 2:
        return "-" * depth + "1"
    if kind == 3:
        return " + ".join(["1"] * depth)
    return "(SELECT " * depth + "1" + ")" * depth


def _mutate_json(rng: random.Random, text: str) -> str:
    """Replace one JSON value (or key) of a DDL statement's spec."""
    spans = [m.span() for m in re.finditer(r'"[^"]*"|\[[^\[\]]*\]|\{[^{}]*\}|-?\d+|true|false|null',
                                           text)]
    if not spans:
        return text
    start, end = rng.choice(spans)
    return text[:start] + rng.choice(_JSON_ODD) + text[end:]


def mutate(rng: random.Random, text: str) -> str:
    """One to three random edits of a statement."""
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        text = _edit(rng, text)
    return text


def _edit(rng: random.Random, text: str) -> str:  # noqa: PLR0911 - one branch per operator
    pieces = _pieces(text) or [""]
    i = rng.randrange(len(pieces))
    op = rng.randrange(11)
    if op == 0:  # delete a token
        del pieces[i]
    elif op == 1:  # duplicate a token
        pieces.insert(i, pieces[i])
    elif op == 2:  # swap two tokens
        j = rng.randrange(len(pieces))
        pieces[i], pieces[j] = pieces[j], pieces[i]
    elif op == 3:  # insert an odd token
        pieces.insert(i, rng.choice((" ", "")) + rng.choice(_ODD_TEXT) + rng.choice((" ", "")))
    elif op == 4:  # replace a token with an odd one
        pieces[i] = rng.choice(_ODD_TEXT)
    elif op == 5:  # random characters, any code point
        pieces.insert(i, "".join(chr(rng.choice((rng.randrange(0x80), rng.randrange(0x110000))))
                                 for _ in range(rng.randrange(1, 4))))
    elif op == 6:  # truncate
        return text[:rng.randrange(len(text) + 1)]
    elif op == 7:  # deep nesting
        pieces.insert(i, " " + _deep(rng) + " ")
    elif op == 8:
        return _mutate_json(rng, text)
    elif op == 9:  # a token from another statement's vocabulary
        pieces.insert(i, rng.choice(_VOCAB))
    else:  # change a number
        nums = [k for k, p in enumerate(pieces) if p.isdigit()]
        k = rng.choice(nums) if nums else i
        pieces[k] = rng.choice(["0", "-1", "9" * rng.choice((19, 20, 40, 400)), "1.5", "1e308"])
    return "".join(pieces)


_ODD_VALUES: list[Any] = [
    None, 0, -1, 2**63, -(2**63) - 1, 10**400, 1.5, float("nan"), float("inf"), -0.0, True,
    "", "x", "\x00", "\ud800", "é" * 3, "a'b\"c", b"\x00\xff", bytearray(b"ab"), [], [1, "a"],
    [[1]], {"a": 1}, {"a": {"b": [1]}}, {1: 2}, (1, 2), {1, 2}, frozenset(),
    decimal.Decimal("1E+1000"), decimal.Decimal("NaN"), decimal.Decimal("-0.00"),
    dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), dt.date(1, 1, 1),
    dt.time(12, 0), dt.timedelta(days=1), object(), complex(1, 2), Ellipsis, type,
]


def params_for(rng: random.Random, seed: Seed) -> Any:
    """Mostly the statement's own names with plain or odd values; sometimes no, extra or
    positional parameters."""
    shape = rng.randrange(20)
    if shape == 0:
        return None
    if shape == 1:  # positional
        return tuple(rng.choice(_ODD_VALUES) for _ in seed.params)
    if shape == 2:
        return [1, "a"]
    if shape == 3:
        return {}
    names = list(seed.params) + ["name", "skip", "take", "list", "a", "n", "x"]
    out: dict[Any, Any] = {}
    for name in names:
        value: Any = rng.choice(_PLAIN) if rng.random() < 0.6 else rng.choice(_ODD_VALUES)
        out[name] = value
    if shape == 4:
        out[rng.choice((1, None, ("t",)))] = 1
    return out


_PLAIN: list[Any] = [1, 2, 3, "a", "x", 5, 0, "e@x", [1, 2], True]
_VOCAB: list[str] = sorted({p for s in corpus() for p in _pieces(s.text) if p.strip()})


def cases(seed_value: int, count: int) -> Iterator[tuple[str, Any]]:
    """``count`` (statement, parameters) pairs from one seed; reproducible."""
    rng = random.Random(seed_value)
    seeds = corpus()
    for _ in range(count):
        seed = rng.choice(seeds)
        text = mutate(rng, seed.text) if rng.random() < 0.97 else seed.text
        yield text, params_for(rng, seed)
