"""sqla_docstore.affinity converts a text as SQLite's INTEGER and TEXT affinities do:
checked against sqlite3 storing each value in an INTEGER and a TEXT column."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from sqla_docstore.affinity import integer_affinity, text_affinity

VALUES: list[Any] = ["7", " 7 ", "7.0", "7.5", "1e3", "+5", "-0", "5.", ".5", "0x10", "abc",
                     "\u0663", " \u0661\u0662", "\u0661.5", "\uff17", "1_000", 7.0, 2.5, -0.0,
                     True, 2**62 + 1]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_value_is_converted_as_sqlites_column_affinity_converts_it(value: Any) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (i INTEGER, s TEXT)")
    conn.execute("INSERT INTO t VALUES (?, ?)", (value, value))
    stored = conn.execute("SELECT i, typeof(i), s, typeof(s) FROM t").fetchone()
    conn.close()
    i, s = integer_affinity(value), text_affinity(value)
    assert (i, type(i), s, type(s)) == (stored[0], type(stored[0]), stored[2], type(stored[2]))
