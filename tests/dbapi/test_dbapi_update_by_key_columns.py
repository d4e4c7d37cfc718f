"""An executemany UPDATE by integer key of documents the transaction read (SQLAlchemy's flush of
loaded objects) waits as one run of PATCHes kept as columns (``commands.PatchRun``), made a
column at a time (``executor._patch_columns``) or, for anything unusual, a key at a time
(``executor._patch_rows``), and is committed as it is (the embedded store's
``_patch_columns``: one executemany of json_set UPDATEs) or made into PATCHes first: every way
gives SQLite's rows, rowcounts and errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded import connection as embedded
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.dbapi import executor

CREATE = ("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT, "
          "score REAL, n INTEGER)")
RANGE = "SELECT id, name, note, score, n FROM users WHERE id BETWEEN ? AND ? ORDER BY id"
EVERY_ROW = "SELECT id, name, note, score, n FROM users ORDER BY id"
COUNT = 1200  # more rows than one chunk of a commit's reads and writes (500)
#: values of every kind SQLite and the store keep alike, strings that JSON escapes among them
NOTES: list[Any] = ["plain", "", 'quo"te \\ back', "é\u2028line\nbreak", "\t", None]
SCORES: list[Any] = [0.0, -7.5, 1.5, -2.25, 1e300, None]  # (REAL)
NUMBERS: list[Any] = [0, -7, 2**62, None, 12]  # (INTEGER)


def _note(key: int, note: str | None) -> str | None:
    """A note of ``NOTES`` (NULL among them) for every ninth key, else ``note`` lengthened."""
    added = NOTES[key % len(NOTES)]
    return added if key % 9 == 0 else (note or "") + (added or "-")


def _script(conn: Any) -> list[Any]:
    """SQLAlchemy's bulk_updates shape (ranges read, then their rows updated by key), values
    of every kind and several fields set at once, keys missing or written twice, a savepoint
    rolled back, then the commit."""
    out: list[Any] = []
    cur = conn.cursor()
    cur.execute(CREATE)
    cur.executemany("INSERT INTO users (id, name, note, score, n) VALUES (?, ?, ?, ?, ?)",
                    [(i, f"u{i}", f"note {i}", i / 4, i) for i in range(1, COUNT + 1)])
    conn.commit()
    for lo in range(0, COUNT, 300):  # ranges overlapping at their ends: one row written twice
        cur.execute(RANGE, (lo, lo + 300))
        rows = cur.fetchall()
        out.append(rows)
        cur.executemany("UPDATE users SET note = ? WHERE id = ?",
                        [(_note(row[0], row[2]), row[0]) for row in rows])
        out.append(cur.rowcount)
    cur.executemany("UPDATE users SET score = ?, n = ?, name = ? WHERE id = ?",
                    [(SCORES[k % len(SCORES)], NUMBERS[k % len(NUMBERS)], f"s{k}", k)
                     for k in range(1, 400)])
    out.append(cur.rowcount)
    cur.execute(RANGE, (390, 420))
    out.append(cur.fetchall())
    cur.executemany("UPDATE users SET note = ? WHERE id = ?",  # a missing key, a written one
                    [("missing", 5000), ("again", 395), ("fresh", 410), ("gone", -1)])
    out.append(cur.rowcount)
    cur.execute("SAVEPOINT s1")
    cur.executemany("UPDATE users SET name = ? WHERE id = ?",
                    [(f"sp{k}", k) for k in range(500, 700)])
    cur.execute(RANGE, (690, 710))
    out.append(cur.fetchall())
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    cur.executemany("UPDATE users SET name = ? WHERE id = ?",
                    [(f"after{k}", k) for k in range(650, 760)])
    out.append(cur.rowcount)
    cur.execute(RANGE, (640, 770))
    out.append(cur.fetchall())
    conn.commit()
    cur.execute(EVERY_ROW)
    out.append(cur.fetchall())
    return out


@pytest.fixture(scope="module")
def sqlite_answer(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    raw = sqlite3.connect(tmp_path_factory.mktemp("oracle") / "sqlite.db",
                          isolation_level=None)
    raw.execute("BEGIN")  # (the script commits; sqlite3 then begins again on its own)

    class _Autobegin:
        """sqlite3 in autocommit mode, a transaction begun again after each commit."""

        def cursor(self) -> Any:
            return raw.cursor()

        def commit(self) -> None:
            raw.execute("COMMIT")
            raw.execute("BEGIN")

    try:
        return _script(_Autobegin())
    finally:
        raw.close()


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """``open_store(kind)``: a DB-API connection to a new file store (reads over pending
    PATCHes read the store) or memory store (they read the overlay)."""
    opened: list[Any] = []

    def connect(kind: str) -> Any:
        if kind == "file":
            conn = dbapi.connect(str(tmp_path / "docstore.db"))
        else:
            store = EmbeddedStore(None)
            opened.append(store)
            conn = dbapi.connect(store=store)
        opened.append(conn)
        return conn

    yield connect
    for item in reversed(opened):
        item.close()


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
                 replacement: Callable[..., Any] | None = None) -> list[Any]:
    """Each call's answer of ``module.name`` (``replacement`` in its place if given)."""
    answers: list[Any] = []
    original = replacement or getattr(module, name)

    def counted(*args: Any) -> Any:
        answer = original(*args)
        answers.append(answer)
        return answer

    monkeypatch.setattr(module, name, counted)
    return answers


@pytest.mark.parametrize("store", ["file", "memory"])
@pytest.mark.parametrize("made", ["columns", "rows"])
@pytest.mark.parametrize("committed", ["as_runs", "as_patches"])
def test_updates_by_key_kept_as_columns_give_sqlites_rows(
    open_store: Callable[[str], Any], sqlite_answer: list[Any], monkeypatch: pytest.MonkeyPatch,
    store: str, made: str, committed: str,
) -> None:
    made_by_columns = _count_calls(monkeypatch, executor, "_patch_columns", None if (
        made == "columns") else (lambda *args: None))
    made_by_rows = _count_calls(monkeypatch, executor, "_patch_rows")
    if committed == "as_patches":
        monkeypatch.setattr(EmbeddedConnection, "takes_patch_runs", False)
    written = _count_calls(monkeypatch, embedded, "_patch_columns")
    assert _script(open_store(store)) == sqlite_answer
    # the ways asked for were taken: the unusual statements (a missing key) by rows
    assert any(made_by_columns) is (made == "columns") and made_by_rows
    assert len(made_by_rows) < len(made_by_columns) or made == "rows"
    assert bool(written) is (committed == "as_runs")


def _read_then_update(conn: Any, other: Any, expect: range) -> Any:
    """Rows 1-100 read, row 50 changed by another connection, then every row's name set by
    key; the documents ``expect`` names are written expecting the version read (the reads
    noted with their versions then, as a DocumentSession notes them)."""
    conn.note_reads = bool(expect)
    cur = conn.cursor()
    cur.execute("SELECT id, name, n FROM users WHERE id BETWEEN 1 AND 100")
    read = cur.fetchall()
    conn.expected_change_vectors.update(
        {f"users/{k}": conn.change_vectors[f"users/{k}"] for k in expect})
    other.cursor().execute("UPDATE users SET n = -1 WHERE id = 50")
    other.commit()
    cur.executemany("UPDATE users SET name = ? WHERE id = ?",
                    [(f"mine{row[0]}", row[0]) for row in read])
    try:
        conn.commit()
        outcome: Any = "committed"
    except dbapi.Error as error:
        outcome = (type(error).__name__, getattr(error, "stale", None))
    cur.execute("SELECT id, name, n FROM users WHERE id IN (1, 49, 50, 51, 100) ORDER BY id")
    return outcome, cur.fetchall()


@pytest.mark.parametrize("expect", [range(0), range(1, 101), range(40, 60), range(1, 2)],
                         ids=["blind", "all_expected", "some_expected", "one_expected"])
def test_a_run_guards_each_document_as_its_patches_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expect: range
) -> None:
    """A blind write by key keeps another connection's committed change to another field; a
    write expecting the version it read fails at commit and changes nothing, naming the
    document, whether the run is written as it is (some documents expected and others not:
    made into PATCHes) or as PATCHes."""
    outcomes = []
    for as_runs in (True, False):
        monkeypatch.setattr(EmbeddedConnection, "takes_patch_runs", as_runs)
        path = tmp_path / f"{as_runs}.db"
        conn, other = dbapi.connect(str(path)), dbapi.connect(str(path))
        cur = conn.cursor()
        cur.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
        cur.executemany("INSERT INTO users (id, name, n) VALUES (?, ?, ?)",
                        [(i, f"u{i}", i) for i in range(1, 101)])
        conn.commit()
        outcomes.append(_read_then_update(conn, other, expect))
        conn.close()
        other.close()
    assert outcomes[0] == outcomes[1]
    outcome, rows = outcomes[0]
    if 50 in expect:
        assert outcome == ("ConcurrencyError", ("users/50",))
        assert rows == [(1, "u1", 1), (49, "u49", 49), (50, "u50", -1), (51, "u51", 51),
                        (100, "u100", 100)]
    else:
        assert outcome == "committed"
        assert rows == [(1, "mine1", 1), (49, "mine49", 49), (50, "mine50", -1),
                        (51, "mine51", 51), (100, "mine100", 100)]
