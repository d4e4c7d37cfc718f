"""How the lexer reads parameters: ``?``/``?NNN`` numbered as SQLite numbers them, ``:name`` and
``$name``, never inside strings, identifiers or comments; one style per statement."""

from __future__ import annotations

import pytest

from sqla_docstore.errors import ProgrammingError
from sqla_docstore.statements.lexer import position, tokenize
from sqla_docstore.statements.prepared import prepare


def _params(text: str) -> list[str]:
    return [t.value for t in tokenize(text) if t.kind == "param"]


@pytest.mark.parametrize("text, names", [
    ("select ?, ?, ?", ["?1", "?2", "?3"]),
    ("select ?5, ?, ?2, ?", ["?5", "?6", "?2", "?7"]),  # a bare ? follows the largest
    ("select ?, ?1", ["?1", "?1"]),
    ("select '?', \"?\", `?`, ? -- ?\n", ["?1"]),
    ("select 'it''s ?' || ?", ["?1"]),
    ("select :a, :b, :a", ["a", "b", "a"]),
    ("from t where x = $x", ["x"]),
    ("select x=?", ["?1"]),
])
def test_parameters_are_named_in_order(text: str, names: list[str]) -> None:
    assert _params(text) == names


@pytest.mark.parametrize("text", ["select :a, ?", "select ?, :a", "from t where a = ? or b = $b",
                                  "select :a?"])
def test_mixing_the_styles_is_refused(text: str) -> None:
    with pytest.raises(ProgrammingError, match="mixes positional"):
        tokenize(text)


@pytest.mark.parametrize("text", ["select ?0", "select ?32767", "select ?99999999"])
def test_numbers_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ProgrammingError, match=r"\?1 to \?32766"):
        tokenize(text)


def test_positions_of_names() -> None:
    assert position("?12") == 12
    assert position("name") is None


@pytest.mark.parametrize("text, positional, named", [
    ("SELECT t.a FROM t WHERE t.a = ?3 OR t.b = ?", ("?1", "?2", "?3", "?4"), False),
    ("SELECT t.a FROM t WHERE t.a = :a", (), True),
    ("SELECT t.a FROM t", (), False),
    ("INSERT INTO t (a, b) VALUES (?, ?)", ("?1", "?2"), False),
])
def test_prepared_statements_know_their_style(text: str, positional: tuple[str, ...],
                                              named: bool) -> None:
    prep = prepare(text)
    assert prep.positional == positional
    assert prep.named is named
