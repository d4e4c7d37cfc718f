"""PendingBatch: commands in order, the overlay state they produce, savepoints as an undo log."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from sqla_docstore.commands import CreateRun, Delete, LazyBodies, Patch, PatchRun, Put
from sqla_docstore.errors import InternalError, ProgrammingError
from sqla_docstore.pending import PendingBatch, split_pending


def _put(doc_id: str, **body: object) -> Put:
    return Put("users", doc_id, dict(body), "")


def test_empty_batch() -> None:
    batch = PendingBatch()
    assert not batch and len(batch) == 0
    assert batch.get("users", "users/1") is None
    assert not batch.touches("users")


def test_add_records_command_and_state() -> None:
    batch = PendingBatch()
    batch.add(_put("Users/1", name="a"), {"name": "a"})
    batch.add(Delete("users", "users/2"), None)
    assert len(batch) == 2 and batch
    assert batch.get("users", "Users/1") == {"name": "a"}
    assert batch.get("users", "USERS/1") is None  # ids compare exactly, like SQL keys
    assert batch.get("users", "users/2") == ("users/2",)  # deleted: known, no body
    assert batch.get("other", "users/1") is None
    assert batch.touches("users") and not batch.touches("other")
    assert list(batch.dirty["users"]) == ["Users/1", "users/2"]


def test_later_state_wins() -> None:
    batch = PendingBatch()
    batch.add(_put("users/1", name="a"), {"name": "a"})
    batch.add(Patch("users", "users/1", {"name": "b"}), {"name": "b"})
    assert batch.get("users", "users/1") == {"name": "b"}
    assert [type(c).__name__ for c in batch.commands] == ["Put", "Patch"]


def test_rollback_to_savepoint_restores_commands_and_state() -> None:
    batch = PendingBatch()
    batch.add(_put("users/1", name="a"), {"name": "a"})
    batch.savepoint("sp")
    batch.add(Patch("users", "users/1", {"name": "b"}), {"name": "b"})
    batch.add(_put("users/2", name="c"), {"name": "c"})
    batch.add(Delete("users", "users/3"), None)
    batch.dirty.clear()  # as if the overlay mirror had synced
    batch.rollback_to("sp")
    assert len(batch) == 1
    assert batch.get("users", "users/1") == {"name": "a"}
    assert batch.get("users", "users/2") is None
    assert batch.get("users", "users/3") is None
    # Everything the rollback changed must be re-synced to the overlay mirror.
    assert set(batch.dirty["users"]) == {"users/1", "users/2", "users/3"}


def test_rollback_keeps_the_savepoint_and_drops_later_ones() -> None:
    batch = PendingBatch()
    batch.savepoint("a")
    batch.add(_put("users/1"), {})
    batch.savepoint("b")
    batch.add(_put("users/2"), {})
    batch.rollback_to("a")
    assert len(batch) == 0
    with pytest.raises(ProgrammingError, match="no such savepoint: b"):
        batch.rollback_to("b")
    batch.add(_put("users/3"), {})
    batch.rollback_to("a")  # still there
    assert len(batch) == 0


def test_same_name_savepoints_nest() -> None:
    batch = PendingBatch()
    batch.savepoint("sp")
    batch.add(_put("users/1"), {})
    batch.savepoint("sp")
    batch.add(_put("users/2"), {})
    batch.rollback_to("sp")  # the innermost one
    assert [c.id for c in batch.commands] == ["users/1"]


def test_release_forgets_the_savepoint_and_those_after_it() -> None:
    batch = PendingBatch()
    batch.savepoint("a")
    batch.savepoint("b")
    batch.add(_put("users/1"), {})
    batch.release("a")
    assert len(batch) == 1  # release keeps the writes
    with pytest.raises(ProgrammingError):
        batch.rollback_to("b")
    with pytest.raises(ProgrammingError):
        batch.release("a")


def test_discard_collection_keeps_other_collections_and_savepoint_positions() -> None:
    batch = PendingBatch()
    batch.add(_put("users/1", name="a"), {"name": "a"})
    batch.add(Put("teams", "teams/1", {"t": 1}, ""), {"t": 1})
    batch.savepoint("sp")
    batch.add(_put("users/2", name="b"), {"name": "b"})
    batch.add(Put("teams", "teams/2", {"t": 2}, ""), {"t": 2})
    batch.seen.update({"users/9": ({}, "cv"), "teams/9": ({}, "cv")})
    batch.expected.update({"Users/8": "cv", "teams/8": "cv"})
    batch.discard_collection("users", "users")
    assert [c.id for c in batch.commands] == ["teams/1", "teams/2"]
    assert not batch.touches("users") and "users" not in batch.dirty
    assert set(batch.seen) == {"teams/9"} and set(batch.expected) == {"teams/8"}
    batch.rollback_to("sp")  # the savepoint still sits after teams/1
    assert [c.id for c in batch.commands] == ["teams/1"]
    assert batch.get("teams", "teams/2") is None and not batch.touches("users")


def test_clear() -> None:
    batch = PendingBatch()
    batch.savepoint("sp")
    batch.add(_put("users/1"), {})
    batch.clear()
    assert len(batch) == 0 and not batch.overlay and not batch.dirty
    with pytest.raises(ProgrammingError):
        batch.rollback_to("sp")


def test_split_pending_serves_written_documents_and_asks_for_the_rest() -> None:
    batch = PendingBatch()
    batch.add(_put("users/1", name="a"), {"name": "a"})
    batch.add(Delete("users", "users/2"), None)
    found, missing, as_stored = split_pending(batch, "users", ["users/1", "users/2", "users/3"])
    assert found == {"users/1": ("users/1", {"name": "a"}, None)}
    assert missing == ["users/3"]  # users/2 is deleted here: neither found nor asked for
    assert not as_stored
    assert split_pending(None, "users", ["users/1"]) == ({}, ["users/1"], False)


def test_a_unit_of_work_ended_under_a_test_transaction_reads_as_stored() -> None:
    batch = PendingBatch()
    batch.savepoint("app")
    batch.add(_put("users/1", name="a"), {"name": "a"})
    batch.seen["users/9"] = ({"name": "z"}, "A:1-x")
    batch.release("app")
    batch.end_of_unit(committed=True)
    assert batch.seen == {}  # a transaction's end forgets what it read
    assert split_pending(batch, "users", ["users/1"])[2]  # loading it counts, as for real
    batch.savepoint("app")
    batch.add(Patch("users", "users/1", {"name": "b"}), {"name": "b"})
    assert not split_pending(batch, "users", ["users/1"])[2]  # pending again in this unit
    batch.rollback_to("app")
    assert split_pending(batch, "users", ["users/1"])[2]


def test_add_puts_is_add_of_each_put() -> None:
    one_by_one, at_once = PendingBatch(), PendingBatch()
    for batch in (one_by_one, at_once):
        batch.add(_put("users/9", name="old"), {"name": "old"})
        batch.add(Delete("users", "users/2"), None)  # a pending delete: the PUT replaces it
        batch.savepoint("s")
    puts = [_put("users/1", name="a"), Put("users", "users/2", {"name": "b"}),
            _put("users/3", name="c")]
    for put in puts:
        one_by_one.add(put, put.body)
    at_once.add_puts("users", list(puts))
    assert at_once.commands == one_by_one.commands
    assert at_once.overlay == one_by_one.overlay
    assert list(at_once.dirty["users"]) == list(one_by_one.dirty["users"])
    for batch in (one_by_one, at_once):
        batch.rollback_to("s")
    assert at_once.overlay == one_by_one.overlay == {
        "users": {"users/9": {"name": "old"}, "users/2": ("users/2",)}}
    assert at_once.commands == one_by_one.commands and len(at_once) == 2
    assert set(at_once.dirty["users"]) == {"users/9", "users/2", "users/1", "users/3"}


@pytest.mark.parametrize("in_savepoint", [True, False])
def test_add_each_is_add_of_each_command(in_savepoint: bool) -> None:
    one_by_one, at_once = PendingBatch(), PendingBatch()
    for batch in (one_by_one, at_once):
        batch.add(_put("users/9", name="old"), {"name": "old"})
        batch.add(Delete("users", "users/2"), None)
        if in_savepoint:
            batch.savepoint("s")
    commands: list[Patch] = [Patch("users", "users/9", {"name": "new"}),
                             Patch("teams", "teams/1", {"n": 1}, "A:1-x"),
                             Patch("users", "users/5", {"name": "e"})]
    bodies: list[dict[str, object] | None] = [{"name": "new"}, {"n": 1}, {"name": "e"}]
    for command, body in zip(commands, bodies, strict=True):
        one_by_one.add(command, body)
    at_once.add_each(list(commands), list(bodies))
    assert at_once.commands == one_by_one.commands
    assert at_once.overlay == one_by_one.overlay
    assert at_once.dirty == one_by_one.dirty and at_once._undo == one_by_one._undo
    if in_savepoint:
        for batch in (one_by_one, at_once):
            batch.rollback_to("s")
        assert at_once.overlay == one_by_one.overlay == {
            "users": {"users/9": {"name": "old"}, "users/2": ("users/2",)},
            "teams": {}}
        assert at_once.commands == one_by_one.commands and len(at_once) == 2


def test_add_puts_outside_a_savepoint_keeps_no_undo_log() -> None:
    batch = PendingBatch()
    batch.add_puts("users", [_put("users/1", name="a")])
    assert batch.get("users", "users/1") == {"name": "a"}
    assert batch._undo == []
    with batch.atomic_statement():
        batch.add_puts("users", [_put("users/2"), _put("users/3")])
    with pytest.raises(ZeroDivisionError), batch.atomic_statement():
        batch.add_puts("users", [_put("users/4"), _put("users/5")])
        raise ZeroDivisionError
    assert sorted(batch.overlay["users"]) == ["users/1", "users/2", "users/3"]
    assert len(batch) == 3


def test_noted_reads_join_seen_in_order_when_it_is_looked_at() -> None:
    batch = PendingBatch()
    batch.note_read(["users/1", "users/2", "users/3"], ['{"a":1}', None, '{"c":3}'],
                    ["A:1-x", "A:2-x", None])  # users/3: a pending document (no version)
    batch.seen["users/9"] = ({"z": 9}, "A:9-x")  # a direct write merges the notes first
    batch.note_read(["users/1"], ['{"a":2}'], ["A:5-x"])  # read again later: this one wins
    assert batch.seen == {"users/1": ('{"a":2}', "A:5-x"), "users/9": ({"z": 9}, "A:9-x")}
    outer, batch.seen = batch.seen, {}  # as FOR UPDATE swaps it
    batch.note_read(["users/4"], ['{"d":4}'], ["A:6-x"])
    inner, batch.seen = batch.seen, outer
    assert inner == {"users/4": ('{"d":4}', "A:6-x")} and "users/4" not in batch.seen
    batch.note_read(["users/7"], ['{}'], ["A:7-x"])
    batch.clear()
    assert batch.seen == {}


@pytest.mark.parametrize("texts", [None, ['{"name":"a"}', '{"name":"b"}']])
def test_add_created_is_add_puts_with_the_puts_made_when_read(texts: list[str] | None) -> None:
    kept, made = PendingBatch(), PendingBatch()
    for batch in (kept, made):
        batch.add(_put("users/9", name="old"), {"name": "old"})
        batch.savepoint("s")
    ids, bodies = ["users/1", "users/2"], [{"name": "a"}, {"name": "b"}]
    run = CreateRun("users", ids, bodies, texts)
    kept.add_created(run)
    made.add_puts("users", run.puts(), new=True)
    # the states at once, the PUTs kept as columns: counted, not made
    assert kept.overlay == made.overlay and kept.dirty == made.dirty
    assert len(kept) == len(made) == 3 and kept.creates_only
    assert kept.commands_and_runs() == ([_put("users/9", name="old")], [run])
    kept.savepoint("t")  # (counts the kept PUTs: its position is after them)
    kept.add_created(CreateRun("users", ["users/3"], [{"name": "c"}], None))
    kept.rollback_to("t")  # the second run's PUT made and taken back
    assert kept.commands == made.commands  # the first's made in place, in order
    assert [c.text for c in kept.commands[1:]] == (texts or [None, None])  # type: ignore[union-attr]
    assert kept.commands_and_runs()[1] == [] and kept.overlay == made.overlay
    kept.add_created(run._replace(ids=["users/4", "users/5"]))
    kept.add(Patch("users", "users/4", {"name": "d"}), {"name": "d"})  # after the run
    assert [c.id for c in kept.commands] == [
        "users/9", "users/1", "users/2", "users/4", "users/5", "users/4"]
    for batch in (kept, made):
        batch.rollback_to("s")
    assert kept.commands == made.commands and kept.overlay == made.overlay
    kept.add_created(run)
    kept.clear()
    assert not kept and kept.commands_and_runs() == ([], [])


def _patch(doc_id: str, **fields: object) -> Patch:
    return Patch("users", doc_id, dict(fields))


def test_patched_fields_are_known_while_every_write_is_a_plain_patch() -> None:
    batch = PendingBatch()
    assert batch.patched_fields("users") is None  # nothing written
    batch.add(_patch("users/1", name="a"), {"name": "a", "n": 1})
    batch.add_each([_patch("users/2", n=2)], [{"name": "b", "n": 2}], patched=["n"])
    batch.add_each([_patch("users/3", n=3, age=4)], [{"n": 3, "age": 4}])
    assert batch.patched_fields("users") == {"name", "n", "age"}
    batch.add(Patch("other", "other/1", {}, unset=("gone",)), {})
    assert batch.patched_fields("other") == {"gone"}
    batch.add(_put("users/9", name="z"), {"name": "z"})
    assert batch.patched_fields("users") is None  # a PUT: not the stored document any more
    batch.add(Delete("other", "other/1"), None)
    assert batch.patched_fields("other") is None
    batch.clear()
    assert batch.patched_fields("users") is None


def test_patched_fields_are_unknown_after_a_put_a_savepoint_took_back() -> None:
    batch = PendingBatch()
    batch.add(_patch("users/1", name="a"), {"name": "a"})
    batch.savepoint("sp")
    batch.add_puts("users", [_put("users/2", name="b")], new=True)
    batch.rollback_to("sp")
    assert batch.patched_fields("users") is None


def test_a_run_of_patches_is_taken_back_whole_by_a_savepoint() -> None:
    batch = PendingBatch()
    batch.add(_put("users/1", name="a"), {"name": "a"})
    batch.dirty.clear()
    batch.savepoint("sp")
    batch.add_each([_patch("users/1", name="b"), _patch("users/2", name="c")],
                   [{"name": "b"}, {"name": "c"}], patched=["name"])
    batch.add_each([_patch("users/1", name="d")], [{"name": "d"}], patched=["name"])
    assert batch.get("users", "users/1") == {"name": "d"}
    batch.rollback_to("sp")
    assert len(batch) == 1
    assert batch.get("users", "users/1") == {"name": "a"}
    assert batch.get("users", "users/2") is None
    assert set(batch.dirty["users"]) == {"users/1", "users/2"}


def test_overlay_states_of_plain_documents_are_not_tracked_by_the_collector() -> None:
    # A bulk write keeps one state per document until the commit: a container the cyclic
    # collector tracks (a tuple holding the body) made every collection meanwhile traverse it.
    import gc

    batch = PendingBatch()
    batch.add_puts("users", [_put(f"users/{n}", name=f"n{n}", n=n) for n in range(100)], new=True)
    batch.add(Patch("users", "users/7", {"name": "x"}), {"name": "x", "n": 7})
    batch.add(Delete("users", "users/8"), None)
    gc.collect()  # (untracks the dicts holding plain values; a tuple holding one stays)
    states = list(batch.overlay["users"].values())
    assert len(states) == 100
    assert not any(map(gc.is_tracked, states))
    assert batch.get("users", "users/8") == ("users/8",) and batch.get("users", "users/7") == {
        "name": "x", "n": 7}


def test_add_patch_run_is_add_each_of_its_patches_made_when_read() -> None:
    kept, made = PendingBatch(), PendingBatch()
    for batch in (kept, made):
        batch.add(_put("users/9", name="old"), {"name": "old"})
        batch.savepoint("s")
    run = PatchRun("users", ["users/9", "users/1"], ("name",), [("a",), ("b",)],
                   [None, "A:3-x"], ["A:1-x", "A:2-x"])
    bodies = [{"name": "a"}, {"name": "b"}]
    kept.add_patch_run(run, bodies, ["name"])
    made.add_each(run.patches(), bodies, patched=["name"])
    assert run.patches()[1] == Patch("users", "users/1", {"name": "b"}, "A:3-x", seen="A:2-x")
    # the states at once, the PATCHes kept as columns: counted, not made
    assert kept.overlay == made.overlay and kept.dirty == made.dirty and len(kept) == 3
    assert kept.patched_fields("users") == made.patched_fields("users")  # (None: a PUT)
    assert not kept.creates_only and kept._commands == [_put("users/9", name="old")]
    created = CreateRun("users", ["users/5"], [{"name": "e"}], None)
    for batch in (kept, made):
        batch.add_created(created)
    # a backend taking runs of PUTs gets the PATCHes made, in order, and the PUTs' run
    assert kept.commands_and_runs() == (made.commands[:3], [created])
    assert kept.commands == made.commands
    for batch in (kept, made):
        batch.rollback_to("s")
    assert kept.commands == made.commands and kept.overlay == made.overlay
    kept.add_patch_run(run._replace(ids=[], values=[], expected=[], seen=[]), [], ["name"])
    assert len(kept) == 1 and kept.commands == made.commands
    only = PendingBatch()
    only.add_patch_run(run, bodies, ["name"])
    assert only.patched_fields("users") == {"name"} and not only.creates_only


@pytest.mark.parametrize("part", ["seen", "expected", "as_committed", "savepoint", "read",
                                  "watched"])
def test_clear_forgets_a_batch_holding_one_part_only(part: str) -> None:
    # (each part alone is something clear() forgets)
    batch = PendingBatch()
    if part == "seen":
        batch.seen["users/1"] = ("{}", "A:1")
    elif part == "expected":
        batch.expected["users/1"] = "A:1"
    elif part == "as_committed":
        batch.as_committed[("users", "users/1")] = {}
    elif part == "savepoint":
        batch.savepoint("sp")
    elif part == "read":
        batch.note_read(["users/1"], ["{}"], ["A:1"])
    else:
        batch.watched["users"] = (object(), {})
    batch.creates_only = False
    batch.clear()
    assert not batch.seen and not batch.expected and not batch.as_committed
    assert not batch.watched and not batch.in_savepoint and batch.creates_only
    with pytest.raises(ProgrammingError):
        batch.rollback_to("sp")


def test_a_failed_statement_inside_a_savepoint_takes_back_its_writes_only() -> None:
    batch = PendingBatch()
    batch.add_puts("users", [_put("users/1")], new=True)
    batch.savepoint("sp")
    with batch.atomic_statement():
        batch.add_puts("users", [_put("users/2")], new=True)
    with pytest.raises(ValueError), batch.atomic_statement():
        batch.add_puts("users", [_put("users/3")], new=True)
        raise ValueError("a constraint")
    assert [c.id for c in batch.commands] == ["users/1", "users/2"]
    assert batch.get("users", "users/3") is None and batch.in_savepoint
    batch.rollback_to("sp")  # the user's savepoint stays, and takes back users/2
    assert [c.id for c in batch.commands] == ["users/1"]
    batch.release("sp")
    assert not batch.in_savepoint


def test_a_statement_leaving_a_savepoint_open_is_released_with_it() -> None:
    # (a statement's end releases its own savepoint and any opened after it)
    batch = PendingBatch()
    with batch.atomic_statement():
        batch.add_puts("users", [_put("users/1")], new=True)
        batch.savepoint("inner")
    assert not batch.in_savepoint and [c.id for c in batch.commands] == ["users/1"]


# -------------------------------------------------- a run of inserts whose bodies wait

_LAZY_IDS = [f"users/{n}" for n in range(1, 21)]


def _lazy_batch() -> tuple[PendingBatch, LazyBodies, dict[str, dict[str, object]]]:
    """A batch whose only writes are a run of inserts with bodies not made yet, and the
    states a plain dict of the same bodies holds (the oracle)."""
    names = [f"n{n}" for n in range(1, 21)]
    bodies = LazyBodies(20, lambda: [{"id": n, "name": name} for n, name in enumerate(
        names, 1)], ("id", "name"))
    batch = PendingBatch()
    batch.add_created(CreateRun("users", list(_LAZY_IDS), bodies, None))
    oracle = {doc_id: {"id": n, "name": name}
              for n, (doc_id, name) in enumerate(zip(_LAZY_IDS, names, strict=True), 1)}
    return batch, bodies, oracle


def test_a_run_of_inserts_read_by_ids_only_makes_no_body() -> None:
    batch, bodies, oracle = _lazy_batch()
    docs = batch.overlay["users"]
    assert len(docs) == 20 and "users/7" in docs and "users/21" not in docs
    assert list(docs) == list(docs.keys()) == list(oracle)
    assert list(batch.dirty["users"]) == list(oracle) and batch.touches("users")
    assert not bodies.is_made
    assert batch.get("users", "users/7") == oracle["users/7"]  # (a state read: made now)
    assert bodies.is_made and dict(docs) == oracle


def test_a_run_of_inserts_keeps_its_written_ids_apart_from_its_states() -> None:
    # (one dict of the ids is made: the states copy it, the written ids keep it)
    batch, bodies, oracle = _lazy_batch()
    docs, written = batch.overlay["users"], batch.dirty["users"]
    assert type(written) is dict and written is not docs
    written.clear()  # (as a sync of the overlay's mirror does)
    assert list(docs) == list(oracle) and not bodies.is_made
    docs["users/21"] = {"id": 21}
    assert batch.dirty["users"] == {} and "users/21" not in written
    batch.add_created(CreateRun("users", ["users/22"], LazyBodies(
        1, lambda: [{"id": 22}], ("id",)), None))
    assert list(batch.dirty["users"]) == ["users/22"]
    assert list(docs) == [*oracle, "users/21", "users/22"]


#: every way of reading or changing the states, each on a fresh batch: the same result and
#: the same states after it as a plain dict of the bodies gives
_DICT_USES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "dict()": lambda d: dict(d),
    "**": lambda d: {**d},
    "update of another": lambda d: (other := {"x": 1}, other.update(d), other)[2],
    "items": lambda d: list(d.items()),
    "values": lambda d: list(d.values()),
    "get": lambda d: (d.get("users/3"), d.get("users/99", "none")),
    "[]": lambda d: d["users/20"],
    "copy": lambda d: d.copy(),
    "copy.copy": lambda d: dict(copy.copy(d)),
    "deepcopy": lambda d: dict(copy.deepcopy(d)),
    "json": lambda d: json.dumps(d),
    "==": lambda d: (d == {}, d != {}),
    "repr": lambda d: repr(d),
    "pop": lambda d: (d.pop("users/4"), d.pop("users/99", None)),
    "popitem": lambda d: d.popitem(),
    "del": lambda d: d.__delitem__("users/5"),
    "set": lambda d: d.__setitem__("users/6", {"id": 6, "name": "changed"}),
    "setdefault": lambda d: (d.setdefault("users/8", {}), d.setdefault("users/99", {})),
    "update": lambda d: d.update({"users/9": ("users/9",)}),
    "|=": lambda d: d.__ior__({"users/10": ("users/10",)}),
    "|": lambda d: d | {"users/11": ("users/11",)},
    "clear": lambda d: d.clear(),
}


@pytest.mark.parametrize("use", list(_DICT_USES))
def test_a_run_of_inserts_gives_every_reader_the_states_a_dict_holds(use: str) -> None:
    batch, _, oracle = _lazy_batch()
    docs = batch.overlay["users"]
    assert _DICT_USES[use](docs) == _DICT_USES[use](oracle)
    assert list(docs) == list(oracle)
    assert dict(docs.items()) == oracle  # (after the change, its states)


def test_a_savepoint_rolled_back_takes_a_run_whose_bodies_wait_away() -> None:
    batch = PendingBatch()
    batch.add(_put("users/100", name="kept"), {"name": "kept"})
    batch.savepoint("sp")
    bodies = LazyBodies(2, lambda: [{"id": 1}, {"id": 2}], ("id",))
    batch.add_created(CreateRun("other", ["other/1", "other/2"], bodies, None))
    assert not bodies.is_made
    batch.rollback_to("sp")
    assert batch.get("other", "other/1") is None and not batch.overlay.get("other")
    assert batch.get("users", "users/100") == {"name": "kept"}


def test_lazy_bodies_are_made_once_and_hold_their_count() -> None:
    made: list[int] = []

    def make() -> list[dict[str, object]]:
        made.append(1)
        return [{"n": 1}, {"n": 2}]

    bodies = LazyBodies(2, make, ("n",))
    assert len(bodies) == 2 and bodies and not made
    first = bodies[0]
    first["n"] = 10  # (the bodies themselves: a change is kept)
    assert list(bodies) == [{"n": 10}, {"n": 2}] and bodies[1:] == [{"n": 2}]
    assert made == [1]
    wrong = LazyBodies(3, make, ("n",))
    with pytest.raises(InternalError, match="2 bodies made, 3 expected"):
        wrong.made()
