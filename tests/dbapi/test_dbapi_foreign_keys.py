"""foreign_keys=on: declared foreign keys enforced with their actions, as SQLite's
PRAGMA foreign_keys = ON does (SQLite with the pragma is the oracle), on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fk_steps import Step, foreign_keys_url, run_steps, sqlite_with_foreign_keys

md = sa.MetaData()
parent = sa.Table("parent", md, sa.Column("id", sa.Integer, primary_key=True,
                                          autoincrement=False),
                  sa.Column("code", sa.String(10), unique=True))
child = sa.Table(
    "child", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("cascade_id", sa.ForeignKey("parent.id", ondelete="CASCADE",
                                          onupdate="CASCADE")),
    sa.Column("null_id", sa.ForeignKey("parent.id", ondelete="SET NULL")),
    sa.Column("strict_id", sa.ForeignKey("parent.id")),
    sa.Column("code", sa.ForeignKey("parent.code", onupdate="CASCADE")),
)
grandchild = sa.Table("grandchild", md,
                      sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                      sa.Column("child_id", sa.ForeignKey("child.id", ondelete="CASCADE")))

@pytest.fixture
def oracle() -> Iterator[sa.Engine]:
    engine = sqlite_with_foreign_keys()
    md.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["docstore", "ravendb"])
def target(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    engine = sa.create_engine(foreign_keys_url(request))
    md.create_all(engine)
    yield engine
    engine.dispose()


def _state(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]
                for t in (parent, child, grandchild)}


def _seed(conn: sa.Connection) -> None:
    conn.execute(parent.insert(), [{"id": 1, "code": "a"}, {"id": 2, "code": "b"}])
    conn.execute(child.insert(), [
        {"id": 10, "cascade_id": 1, "null_id": 1, "strict_id": None, "code": "a"},
        {"id": 11, "cascade_id": 2, "null_id": 2, "strict_id": 2, "code": None},
    ])
    conn.execute(grandchild.insert(), [{"id": 100, "child_id": 10}])


SCENARIOS: dict[str, list[Step]] = {
    "insert with a missing parent": [
        _seed, lambda c: c.execute(child.insert(), {"id": 12, "cascade_id": 9})],
    "insert with a NULL reference": [
        _seed, lambda c: c.execute(child.insert(), {"id": 12, "cascade_id": None})],
    "update to a missing parent": [
        _seed, lambda c: c.execute(child.update().where(child.c.id == 10).values(
            cascade_id=7))],
    "delete cascades two levels, sets null, keeps strict": [
        _seed, lambda c: c.execute(parent.delete().where(parent.c.id == 1))],
    "delete refused while a strict reference exists": [
        _seed, lambda c: c.execute(parent.delete().where(parent.c.id == 2))],
    "update of a key cascades": [
        _seed, lambda c: c.execute(parent.update().where(parent.c.code == "a").values(
            code="z"))],
    "update of a primary key refused by a strict reference": [
        _seed, lambda c: c.execute(parent.update().where(parent.c.id == 2).values(id=20))],
    "parent and its references deleted in one transaction": [
        _seed, lambda c: (c.execute(child.delete().where(child.c.strict_id == 2)),
                          c.execute(parent.delete().where(parent.c.id == 2)))],
    "child inserted before its parent in one statement fails": [
        _seed, lambda c: c.execute(child.insert(), [{"id": 13, "cascade_id": 3}])],
    "child written after its parent in the same transaction": [
        _seed, lambda c: (c.execute(parent.insert(), {"id": 3, "code": "c"}),
                          c.execute(child.insert(), {"id": 13, "cascade_id": 3}))],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_outcome_and_rows_as_sqlite(name: str, oracle: sa.Engine,
                                         target: sa.Engine) -> None:
    steps = SCENARIOS[name]
    assert run_steps(target, steps) == run_steps(oracle, steps)
    assert _state(target) == _state(oracle)


def test_without_the_option_foreign_keys_are_recorded_only(ravendb_url: str) -> None:
    engine = sa.create_engine("docstore://")
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(child.insert(), {"id": 1, "cascade_id": 99})  # as SQLite by default
    assert _state(engine)["child"] == [(1, 99, None, None, None)]
    engine.dispose()


# -- two transactions: a parent deleted while a reference to it is inserted elsewhere ------
@pytest.mark.parametrize("reference", [{"strict_id": 3}, {"code": "c"}],
                         ids=["by primary key", "by unique column"])
def test_a_parent_deleted_meanwhile_fails_the_commit_of_a_reference_to_it(
        target: sa.Engine, reference: dict[str, Any]) -> None:
    """The reference was checked when inserted, against the parent then stored; another
    transaction deleted that parent before the commit. The child was committed dangling (a
    row SQLite with the pragma never holds); the commit fails whole now."""
    with target.begin() as conn:
        _seed(conn)
        conn.execute(parent.insert(), {"id": 3, "code": "c"})
    before = _state(target)
    with target.connect() as mine:
        mine.execute(child.insert(), {"id": 13})
        mine.execute(child.insert(), {"id": 12, **reference})
        with target.begin() as theirs:
            theirs.execute(parent.delete().where(parent.c.id == 3))
        with pytest.raises(sa.orm.exc.StaleDataError, match="parent/3"):
            mine.commit()
    assert _state(target) == {**before, "parent": before["parent"][:2]}


def test_a_reference_commits_when_its_parent_changed_other_columns_meanwhile(
        target: sa.Engine) -> None:
    with target.begin() as conn:
        _seed(conn)
    with target.connect() as mine:
        mine.execute(child.insert(), {"id": 12, "strict_id": 2})
        with target.begin() as theirs:  # its code: no row refers to it ("b")
            theirs.execute(parent.update().where(parent.c.id == 2).values(code="bb"))
        mine.commit()
    assert _state(target)["child"][-1] == (12, None, None, 2, None)


# -- two transactions: a reference added elsewhere to a parent being deleted ----------------
REMOVALS = {
    "delete, NO ACTION": (lambda c: c.execute(parent.delete().where(parent.c.id == 3)),
                          {"strict_id": 3}),
    "delete, CASCADE": (lambda c: c.execute(parent.delete().where(parent.c.id == 3)),
                        {"cascade_id": 3}),
    "delete, SET NULL": (lambda c: c.execute(parent.delete().where(parent.c.id == 3)),
                         {"null_id": 3}),
    "key change, ON UPDATE CASCADE": (
        lambda c: c.execute(parent.update().where(parent.c.id == 3).values(code="cc")),
        {"code": "c"}),
}


@pytest.mark.parametrize("removal", list(REMOVALS))
def test_a_reference_committed_meanwhile_fails_the_commit_removing_its_key(
        target: sa.Engine, removal: str) -> None:
    """The removal checked the rows referring to the key when it ran (none); another
    transaction then committed a row referring to it. Both commits went through, leaving
    that row dangling; serialized, SQLite would have refused the removal or applied its
    action to the row. The removal's commit fails whole now."""
    remove, reference = REMOVALS[removal]
    with target.begin() as conn:
        _seed(conn)
        conn.execute(parent.insert(), {"id": 3, "code": "c"})
    with target.connect() as mine:
        remove(mine)
        with target.begin() as theirs:
            theirs.execute(child.insert(), {"id": 12, **reference})
        before = _state(target)
        with pytest.raises(sa.exc.IntegrityError, match="child/12"):
            mine.commit()
    assert _state(target) == before


def test_removing_a_key_commits_when_only_its_own_rows_referred_to_it(
        target: sa.Engine, oracle: sa.Engine) -> None:
    for engine in (target, oracle):
        with engine.begin() as conn:
            _seed(conn)
        with engine.begin() as conn:  # cascades, a reference moved, the key back, referred anew
            conn.execute(child.update().where(child.c.id == 11).values(strict_id=None))
            conn.execute(parent.delete().where(parent.c.id.in_([1, 2])))
            conn.execute(parent.insert(), {"id": 1, "code": "a"})
            conn.execute(child.insert(), {"id": 12, "strict_id": 1})
    assert _state(target) == _state(oracle)
    assert [r[0] for r in _state(target)["child"]] == [12]


def test_a_referred_column_changed_meanwhile_fails_the_commit_of_a_reference_to_it(
        target: sa.Engine) -> None:
    """A reference to a unique column, not the key: the parent row stays, its value moves."""
    with target.begin() as conn:
        _seed(conn)
        conn.execute(parent.insert(), {"id": 3, "code": "c"})
    with target.connect() as mine:
        mine.execute(child.insert(), {"id": 12, "code": "c"})
        with target.begin() as theirs:
            theirs.execute(parent.update().where(parent.c.id == 3).values(code="cc"))
        before = _state(target)
        with pytest.raises(sa.orm.exc.StaleDataError, match="parent/3"):
            mine.commit()
    assert _state(target) == before


def test_a_removal_commits_when_the_referring_table_was_dropped_meanwhile(
        target: sa.Engine) -> None:
    """The check a removal makes at commit (no row refers to the key) has nothing to check
    once the referring tables are gone, dropped by another connection or by its own."""
    with target.begin() as conn:
        conn.execute(parent.insert(), [{"id": 1, "code": "a"}, {"id": 2, "code": "b"}])
    with target.connect() as mine:
        mine.execute(parent.delete().where(parent.c.id == 1))
        with target.begin() as theirs:
            grandchild.drop(theirs)
            child.drop(theirs)
        mine.commit()
    md.create_all(target)
    with target.begin() as conn:
        conn.execute(parent.delete().where(parent.c.id == 2))
        grandchild.drop(conn)
        child.drop(conn)
    with target.connect() as conn:
        assert conn.execute(sa.select(parent)).all() == []
