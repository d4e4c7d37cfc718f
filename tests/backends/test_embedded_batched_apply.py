"""The commit applies runs of commands together (one read, one executemany): the same rows,
change vectors, replies and failures as applying each command alone."""

from __future__ import annotations

import decimal
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.connection import EmbeddedConnection
from sqla_docstore.backends.embedded.store import EmbeddedStore
from sqla_docstore.commands import Batch, Command, CreateRun, Delete, Patch, PatchRun, Put
from sqla_docstore.errors import ConcurrencyError, DataError, DuplicateKeyError
from sqla_docstore.schema import CollectionSpec, FieldSpec

PEOPLE = CollectionSpec(
    "people", (FieldSpec("id", "INTEGER", False), FieldSpec("name"), FieldSpec("n")), ("id",),
    "id",
)
# Values whose JSON text must survive exactly: NULL (not a missing field), a nested
# object, an exact decimal, an integer beyond 64 bits, text with escapes.
TRICKY: dict[str, Any] = {"name": None, "n": {"a": [1, 2.5, True]},
                          "d": decimal.Decimal("1.10000000000000000001"), "big": 2**70,
                          "s": 'quo"te\\back\nline é'}


def _store(path: Path) -> EmbeddedStore:
    store = EmbeddedStore(str(path))
    with store.connection() as c:
        store.create_collection(c, PEOPLE)
    return store


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[EmbeddedConnection, EmbeddedConnection]]:
    """Two stores with the same ten documents (and so the same change vectors ahead)."""
    conns = []
    for name in ("a", "b"):
        store = _store(tmp_path / f"{name}.db")
        conn = EmbeddedConnection(store)
        store.database_id = SAME_ID  # change vectors comparable across the two
        conn.submit(Batch([Put("people", f"people/{i}", {"id": i, "name": f"p{i}", "n": i}, "")
                           for i in range(10)]))
        conns.append(conn)
    yield conns[0], conns[1]
    for conn in conns:
        conn.close()


def _one_by_one(conn: EmbeddedConnection, commands: list[Command]) -> list[dict[str, Any]]:
    """The oracle: each command in a batch of its own, so no run is formed; the change
    vectors and replies then match those of one batch (one etag per command)."""
    return [r for cmd in commands for r in conn.submit(Batch([cmd]))]


#: the database id both stores of ``pair`` write change vectors with
SAME_ID = "same-database-id"


def _rows(path: Path, database_id: str = SAME_ID) -> list[tuple[str, str, str]]:
    """The stored rows, each change vector as the store of ``database_id`` (by default
    ``pair``'s) gives it: the table holds its own as etags."""
    with sqlite3.connect(path) as raw:
        return [(doc_id, body, f"A:{cv}-{database_id}" if type(cv) is int else cv)
                for doc_id, body, cv in raw.execute(
                    'SELECT id, body, cv FROM "@docs/people" ORDER BY id')]


def _replies(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("LastModified", "@last-modified")}
            for r in results]


def test_patch_run_gives_the_rows_and_replies_of_one_by_one(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    batched, single = pair
    commands: list[Command] = [
        Patch("people", "people/1", dict(TRICKY)),
        Patch("people", "people/2", {"name": "x"}, unset=("n",)),
        Patch("people", "people/3", {"n": None}),
        Patch("people", "people/1", {"name": "again"}),  # the same document: a new run
        Patch("people", "people/4", {"name": "y"}),
        Delete("people", "people/5"),
        Patch("people", "people/6", {"name": "z"}),
    ]
    got = batched.submit(Batch(list(commands)))
    want = _one_by_one(single, commands)
    assert _replies(got) == _replies(want)
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")
    body = json.loads(dict((i, b) for i, b, _ in _rows(tmp_path / "a.db"))["people/1"],
                      parse_float=decimal.Decimal)
    assert body["d"] == decimal.Decimal("1.10000000000000000001") and body["big"] == 2**70
    assert body["name"] == "again" and body["s"] == TRICKY["s"]
    assert "n" not in json.loads(dict((i, b) for i, b, _ in _rows(tmp_path / "a.db"))[
        "people/2"])


def test_a_failed_check_inside_a_patch_run_applies_nothing(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    conn = pair[0]
    before = _rows(tmp_path / "a.db")
    cv = dict((i, c) for i, _, c in before)
    with pytest.raises(ConcurrencyError) as info:
        conn.submit(Batch([
            Patch("people", "people/1", {"name": "a"}, cv["people/1"]),
            Patch("people", "people/2", {"name": "b"}, "A:1-stale"),  # the first failing
            Patch("people", "people/404", {"name": "c"}),  # must exist: fails too
        ]))
    assert info.value.stale == ("people/2",)
    assert _rows(tmp_path / "a.db") == before
    with pytest.raises(ConcurrencyError) as info:
        conn.submit(Batch([Patch("people", "people/1", {"name": "a"}),
                           Patch("people", "people/404", {"name": "c"})]))
    assert info.value.stale == ("people/404",)
    assert _rows(tmp_path / "a.db") == before


@pytest.mark.parametrize("checked", [False, True])
def test_a_run_setting_the_same_fields_gives_the_rows_and_replies_of_one_by_one(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, checked: bool
) -> None:
    """PATCHes that all set the same fields (their UPDATE arguments built a column at a
    time), with or without a change-vector check each."""
    batched, single = pair
    cv = dict((i, c) for i, _, c in _rows(tmp_path / "a.db"))  # the same in both stores
    spread = list(TRICKY.values()) + ["", 0, -1.5, False]
    commands: list[Command] = [
        Patch("people", f"people/{i}", {"name": spread[i % len(spread)], "n": i * 2**40},
              cv[f"people/{i}"] if checked else None) for i in range(10)]
    assert _replies(batched.submit(Batch(list(commands)))) == _replies(
        _one_by_one(single, commands))
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")
    before = _rows(tmp_path / "a.db")
    stale = [Patch("people", f"people/{i}", {"name": "late", "n": 0},
                   "A:1-stale" if i == 6 else (None if not checked else before[i][2]))
             for i in range(10)]
    if not checked:  # (one checked PATCH among unchecked ones: two shapes)
        stale = [replace(p, expected=None) for p in stale[:6]] + [
            Patch("people", "people/404", {"name": "late", "n": 0})] + stale[7:]
    with pytest.raises(ConcurrencyError) as info:
        batched.submit(Batch(list(stale)))
    assert info.value.stale == (("people/6",) if checked else ("people/404",))
    assert _rows(tmp_path / "a.db") == before


@pytest.mark.parametrize("key", ["plain", "dotted.name", "sp ace", "é", "[0]", "$", ""])
def test_patch_run_by_json_path_sets_any_plain_field_name(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, key: str
) -> None:
    """SQLite's json_set / json_remove apply the run: a field name that a JSON path could read
    as syntax (dots, brackets, "$", empty) is still the one field, as one-by-one gives it."""
    batched, single = pair
    commands: list[Command] = [
        Patch("people", "people/1", {key: dict(TRICKY), "name": "one"}),
        Patch("people", "people/2", {key: 2**70}),
        Patch("people", "people/3", {"name": "three"}, unset=(key, "n")),
    ]
    assert _replies(batched.submit(Batch(list(commands)))) == _replies(
        _one_by_one(single, commands))
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


@pytest.mark.parametrize("key", ['quo"te', "back\\slash", "new\nline", "\u2028"])
def test_patch_run_with_a_field_name_json_escapes_matches_one_by_one(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, key: str
) -> None:
    """Names the JSON text holds escaped are patched in Python (a JSON path would compare
    the escaped text): the same rows either way, and a second patch finds the field."""
    batched, single = pair
    commands: list[Command] = [
        Patch("people", "people/1", {key: 1}),
        Patch("people", "people/2", {"name": "x"}),
    ]
    batched.submit(Batch(list(commands)))
    _one_by_one(single, commands)
    again: list[Command] = [Patch("people", "people/1", {key: 2}),
                            Patch("people", "people/2", {key: 3})]
    batched.submit(Batch(list(again)))
    _one_by_one(single, again)
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")
    assert json.loads(dict((i, b) for i, b, _ in _rows(tmp_path / "a.db"))["people/1"])[key] == 2


def _inserts(count: int, start: int = 100) -> list[Command]:
    """More puts than one encoding chunk of an insert run, tricky bodies among them."""
    return [Put("people", f"people/{i}", {"id": i, **(TRICKY if i % 7 == 0 else {"name": f"p{i}"})},
                "") for i in range(start, start + count)]


@pytest.mark.parametrize("results", [True, False])
def test_insert_run_gives_the_rows_and_replies_of_one_by_one(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, results: bool
) -> None:
    batched, single = pair
    commands = _inserts(2 * 1000 + 17)
    got = batched.submit(Batch(list(commands)), results=results)
    want = _one_by_one(single, commands)
    assert _replies(got) == (_replies(want) if results else [])
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


def test_an_insert_run_with_nul_in_a_late_chunk_applies_nothing(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path
) -> None:
    batched, _ = pair
    before = _rows(tmp_path / "a.db")
    commands = _inserts(2500)
    bad = commands[2300]
    assert isinstance(bad, Put)
    commands[2300] = Put("people", bad.id, {"id": 2400, "name": "a\x00b"}, "")
    with pytest.raises(DataError, match="NUL"):
        batched.submit(Batch(commands), results=False)
    assert _rows(tmp_path / "a.db") == before


def _stored_in_order(path: Path) -> list[tuple[str, str, str]]:
    """The rows in the table's own order (its row keys: the order a scan gives them in)."""
    with sqlite3.connect(path) as raw:
        return raw.execute('SELECT id, body, cv FROM "@docs/people" ORDER BY k').fetchall()


@pytest.mark.parametrize("count", [99, 100, 1000, 2 * 1000 + 17])
@pytest.mark.parametrize("suffix", ["", "-A"])
def test_an_insert_run_stores_its_documents_as_one_by_one_inserts_do(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, count: int,
    suffix: str,
) -> None:
    """Inserted many rows per statement (whole statements, then the rest of each chunk), the
    documents of a run are stored as one-by-one inserts store them, each with the change
    vector they give it: ids ``people/<n>`` in rows keyed by their integer, ids of another
    form (``people/<n>-A``) in rows keyed in the order of the run."""
    batched, single = pair
    commands = _inserts(count, start=5000)
    commands.reverse()  # ids whose order is not the run's: a reordered statement shows
    if suffix:
        commands = [replace(c, id=c.id + suffix) for c in commands if isinstance(c, Put)]
    batched.submit(Batch(list(commands)), results=False)
    _one_by_one(single, commands)
    got, want = _stored_in_order(tmp_path / "a.db"), _stored_in_order(tmp_path / "b.db")
    ids = [c.id for c in commands if isinstance(c, Put)]
    run = set(ids)  # (the pair's ten documents aside: people/0 is of another form)
    assert [row[0] for row in got if row[0] in run] == (ids if suffix else ids[::-1])
    assert got == want


@pytest.mark.parametrize("count", [99, 100, 2 * 1000 + 17])
def test_every_row_of_an_insert_run_stores_its_reply_last_modified(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, count: int
) -> None:
    """The rows of a many-row statement share one bound last-modified text: each stored row
    holds the one its reply names, as a row inserted alone does."""
    batched, _ = pair
    replies = batched.submit(Batch(_inserts(count)), results=True)
    with sqlite3.connect(tmp_path / "a.db") as raw:
        stored = dict(raw.execute('SELECT id, modified FROM "@docs/people"').fetchall())
    assert len(replies) == count
    assert {r["@id"]: stored[r["@id"]] for r in replies} == {
        r["@id"]: r["@last-modified"] for r in replies}


@pytest.mark.parametrize("count", [99, 100, 2 * 1000 + 17])
def test_a_bulk_insert_stores_its_rows_with_change_vectors_in_parameter_order(
        tmp_path: Path, count: int) -> None:
    """A DB-API executemany INSERT (its rows kept as columns until the commit) stores every
    row, each at its key, with change vectors rising in the order of the parameter sets."""
    keys = list(range(count, 0, -1))  # ids whose text order is not the parameters'
    conn = dbapi.connect(str(tmp_path / "c.db"))
    conn.cursor().execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
    conn.cursor().executemany("INSERT INTO people (id, name) VALUES (?, ?)",
                              [(k, f"p{k}") for k in keys])
    conn.commit()
    conn.close()
    rows = _stored_in_order(tmp_path / "c.db")  # (in key order: the ids' integers)
    assert [(i, json.loads(b)) for i, b, _ in rows] == [
        (f"people/{k}", {"id": k, "name": f"p{k}"}) for k in sorted(keys)]
    etag_of = {i: cv for i, _, cv in rows}  # (the store's own change vectors: their etags)
    assert {type(cv) for cv in etag_of.values()} == {int}
    etags = [etag_of[f"people/{k}"] for k in keys]
    assert etags == list(range(etags[0], etags[0] + count))


@pytest.mark.parametrize("at", [0, 1099, 2000, 2040])
def test_a_stored_id_anywhere_in_an_insert_run_applies_nothing(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path, at: int
) -> None:
    """A stored id in the first, a middle or the last many-row statement of a run, or among
    the rows after them (2,050 inserts: two chunks of 1,000, then 50), fails the batch whole,
    naming the id."""
    batched, _ = pair
    before = _rows(tmp_path / "a.db")
    commands = _inserts(2050)
    commands[at] = Put("people", "people/3", {"id": 3, "name": "again"}, "")
    with pytest.raises(DuplicateKeyError, match="'people/3' already exists"):
        batched.submit(Batch(commands), results=False)
    assert _rows(tmp_path / "a.db") == before


def _run(ids: list[int], fields: tuple[str, ...], values: list[Any],
         expected: list[str | None]) -> PatchRun:
    """A run of PATCHes kept as columns setting ``fields`` of documents ``ids`` to
    ``values`` (cycled through, a field at a time)."""
    rows = [tuple(values[(n * len(fields) + f) % len(values)] for f in range(len(fields)))
            for n in range(len(ids))]
    return PatchRun("people", [f"people/{i}" for i in ids], fields, rows, expected,
                    [None] * len(ids))


@pytest.mark.parametrize("fields", [("name",), ("name", "n"), ('quo"te',), ("n", "n")])
@pytest.mark.parametrize("values", [["a", "é\u2028", 'q"\\', ""], list(TRICKY.values())],
                         ids=["strings", "tricky"])
@pytest.mark.parametrize("checked", ["none", "all", "some"])
def test_a_patch_run_kept_as_columns_gives_the_rows_and_replies_of_its_patches(
    pair: tuple[EmbeddedConnection, EmbeddedConnection], tmp_path: Path,
    fields: tuple[str, ...], values: list[Any], checked: str,
) -> None:
    """A run of PATCHes in ``Batch.created`` (after the batch's commands, before a run of
    PUTs after it), written by one executemany (or, for a field name JSON escapes or some
    PATCHes checked and others not, as its PATCHes): the rows and replies of its PATCHes
    applied one by one."""
    batched, single = pair
    cv = dict((i, c) for i, _, c in _rows(tmp_path / "a.db"))  # the same in both stores
    ids = [3, 1, 4, 9, 5, 2, 6]
    expected = [cv[f"people/{i}"] if checked == "all" or (checked == "some" and i % 2)
                else None for i in ids]
    run = _run(ids, fields, values, expected)
    first: list[Command] = [Patch("people", "people/7", {"name": "before"})]
    after = CreateRun("people", ["people/20"], [{"id": 20, "name": "new"}], None)
    got = batched.submit(Batch(list(first), created=[run, after]))
    want = _one_by_one(single, [*first, *run.patches(), *after.puts()])
    assert _replies(got) == _replies(want)
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


def test_a_failed_check_in_a_long_patch_run_applies_nothing(tmp_path: Path) -> None:
    """A document missing or changed late in a run kept as columns (beyond the 500 documents
    one look at the stored change vectors reads): nothing of the batch is applied, and the
    error names the run's first failing document."""
    store = _store(tmp_path / "long.db")
    conn = EmbeddedConnection(store)
    try:
        conn.submit(Batch([Put("people", f"people/{i}", {"id": i, "name": f"p{i}"}, "")
                           for i in range(1201)]))
        before = _rows(tmp_path / "long.db", store.database_id)
        cv = dict((i, c) for i, _, c in before)
        ids = list(range(1200))
        stale = _run(ids, ("name",), ["x"], [cv[f"people/{i}"] for i in ids])
        stale.expected[1100], stale.expected[700] = "A:1-stale", "A:2-stale"
        with pytest.raises(ConcurrencyError) as info:
            conn.submit(Batch([Patch("people", "people/1200", {"n": 1})], created=[stale]))
        assert info.value.stale == ("people/700",)
        gone = _run([5, *range(1000, 1300)], ("name",), [1.5], [None] * 301)  # 1201 on: none
        with pytest.raises(ConcurrencyError) as info:
            conn.submit(Batch([], created=[gone]))
        assert info.value.stale == ("people/1201",)
        assert _rows(tmp_path / "long.db", store.database_id) == before
    finally:
        conn.close()

