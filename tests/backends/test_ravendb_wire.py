"""Wire comparison: one unit of work through the official client and through our backend, as
the bundled server recorded it, must match in method, path and JSON shape, except for the
deliberate differences listed (and explained) here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

ravendb = pytest.importorskip("ravendb")


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    age: Mapped[int | None]


class User:
    """The official client's entity (collection ``Users``, HiLo tag ``users``)."""

    def __init__(self, name: str | None = None, age: int | None = None,
                 Id: str | None = None) -> None:  # noqa: N803
        self.Id = Id
        self.name = name
        self.age = age


PEOPLE = [("Alice", 30), ("Bob", 40), ("Carol", 50)]


@pytest.fixture
def servers(ravendb_server_factory: Any) -> tuple[Any, Any]:
    """Two single-node servers, one per client, so each log holds one client's requests."""
    ours, theirs = ravendb_server_factory("A"), ravendb_server_factory("A")
    if not ours.recording:
        pytest.skip("needs the bundled server's request log")
    return ours, theirs


def _run_official(server: Any) -> list[list[Any]]:
    """The unit of work with the official client; the recorded requests of each step."""
    steps: list[list[Any]] = []
    store = ravendb.DocumentStore([server.url], server.database)
    store.conventions.disable_topology_cache = True
    store.initialize()
    try:
        server.clear_requests()
        with store.open_session() as s:  # 1: store three objects, one save_changes
            users = [User(n, a) for n, a in PEOPLE]
            for user in users:
                s.store(user)
            s.save_changes()
        steps.append(list(server.requests))
        with store.open_session() as s:
            server.clear_requests()
            alice = s.load(users[0].Id, User)  # 2: load one by id
            steps.append(list(server.requests))
            server.clear_requests()
            bob = list(s.query(object_type=User).where_equals("name", "Bob"))[0]  # 3: query
            steps.append(list(server.requests))
            server.clear_requests()
            alice.age = 31  # 4: update one, delete one, save_changes
            s.delete(bob)
            s.save_changes()
            steps.append(list(server.requests))
    finally:
        store.close()
    return steps


def _run_ours(server: Any) -> list[list[Any]]:
    """The same unit of work through the ORM on ``ravendb://``."""
    url = f"ravendb://{server.url.split('://', 1)[1]}/{server.database}"
    setup = sa.create_engine(url)
    Base.metadata.create_all(setup)
    setup.dispose()
    steps: list[list[Any]] = []
    engine = sa.create_engine(url)  # a fresh engine: it fetches the topology, as theirs does
    try:
        server.clear_requests()
        with Session(engine, expire_on_commit=False) as session:  # 1 (ids read after commit)
            members = [Member(name=n, age=a) for n, a in PEOPLE]
            session.add_all(members)
            session.commit()
            ids = [m.id for m in members]
        steps.append(list(server.requests))
        with Session(engine) as session:
            server.clear_requests()
            alice = session.get(Member, ids[0])  # 2
            assert alice is not None
            steps.append(list(server.requests))
            server.clear_requests()
            bob = session.scalars(sa.select(Member).where(Member.name == "Bob")).one()  # 3
            steps.append(list(server.requests))
            server.clear_requests()
            alice.age = 31  # 4
            session.delete(bob)
            session.commit()
            steps.append(list(server.requests))
    finally:
        engine.dispose()
    return steps


def _shape(req: Any) -> dict[str, Any]:
    """What is compared: method, path, query-string keys, and the JSON body's shape."""
    out: dict[str, Any] = {"method": req.method, "path": req.path,
                           "query": sorted(parse_qs(req.query, keep_blank_values=True))}
    body = req.body
    if isinstance(body, dict) and "Commands" in body:
        out["body"] = sorted(body)
        out["commands"] = [_command_shape(c) for c in body["Commands"]]
    elif isinstance(body, dict) and "Query" in body:
        out["body"] = sorted(body)
        out["parameters"] = sorted(body.get("QueryParameters") or {})
    else:
        out["body"] = body
    return out


def _command_shape(cmd: dict[str, Any]) -> dict[str, Any]:
    shape: dict[str, Any] = {"Type": cmd["Type"], "keys": sorted(cmd)}
    if "Document" in cmd:
        shape["Document"] = sorted(cmd["Document"])
        shape["@metadata"] = sorted(cmd["Document"]["@metadata"])
    return shape


def _is_schema_load(req: Any) -> bool:
    return req.path.endswith("/docs") and "sqla_docstore%2Fcollections" in req.query


def _is_catalog_check(req: Any) -> bool:
    return req.path.endswith("/docs") and "sqla_docstore%2Fcatalog" in req.query


def _take_schema_guard(batch: Any, table: str) -> None:
    """DELIBERATE: each batch ends with a guard of the schema record of each table it writes
    (a PATCH that changes nothing, at the version the transaction read), so a commit whose
    table another client altered meanwhile fails instead of storing rows of the old shape.
    Asserted here and taken out of the batch, which is then compared as it stands."""
    guard = batch.body["Commands"].pop()
    assert guard["Type"] == "PATCH" and guard["Id"] == f"sqla_docstore/collections/{table}"
    assert guard["ChangeVector"] and guard["Patch"]["Script"] == ""


def test_same_unit_of_work_same_requests(servers: tuple[Any, Any]) -> None:
    ours_server, theirs_server = servers
    theirs = _run_official(theirs_server)
    ours = _run_ours(ours_server)
    for step in ours:
        for req in step:
            if req.path.endswith("/bulk_docs"):
                _take_schema_guard(req, "users")
    # DELIBERATE: the first statement of each transaction checks the schema catalog's version
    # (a conditional GET of one document, 304 while unchanged), so another client's DDL is
    # seen; steps 1 and 2 start a transaction, 3 and 4 continue the one of step 2.
    assert [sum(map(_is_catalog_check, step)) for step in ours] == [1, 1, 0, 0]
    ours = [[r for r in step if not _is_catalog_check(r)] for step in ours]

    # -- step 1: store three objects, commit ---------------------------------------------
    # DELIBERATE: collection schemas (the SQL table definitions) live in documents of the
    # SqlaDocstoreSchemas collection; a connection loads each one once.
    schema_loads = [r for r in ours[0] if _is_schema_load(r)]
    assert len(schema_loads) == 1
    first = [_shape(r) for r in ours[0] if not _is_schema_load(r)]
    expected = [_shape(r) for r in theirs[0]]
    # DELIBERATE: our topology request sends only ``name``; the official client adds a bare
    # ``first-topology-update`` debug tag and an ``applicationIdentifier`` (the server's
    # client list), neither of which changes the answer.
    assert expected[0]["path"] == first[0]["path"] == "/topology"
    assert expected[0]["query"] == ["applicationIdentifier", "first-topology-update", "name"]
    expected[0]["query"] = ["name"]
    # DELIBERATE: HiLo query-string values differ (same keys): we send the capacity we want
    # as ``lastBatchSize`` and our last reserved id as ``lastMax``; the official client
    # starts from 0. The ``tag`` is the same, so both share one range document.
    hilo_ours = next(r for r in ours[0] if r.path.endswith("/hilo/next"))
    hilo_theirs = next(r for r in theirs[0] if r.path.endswith("/hilo/next"))
    assert parse_qs(hilo_ours.query)["tag"] == parse_qs(hilo_theirs.query)["tag"] == ["users"]
    # DELIBERATE: our documents keep the SQL primary key column as a field (``id``), so
    # queries and other clients see it; the official client keeps it only in the id.
    # DELIBERATE: no ``Raven-Python-Type`` metadata: rows are rebuilt from the table's
    # columns, not from a Python class path.
    batch_shape = next(s for s in expected if s["path"].endswith("/bulk_docs"))
    for cmd in batch_shape["commands"]:
        cmd["Document"] = sorted(cmd["Document"] + ["id"])
        cmd["@metadata"].remove("Raven-Python-Type")
    # DELIBERATE: every batch carries a ``raft-request-id`` (where RavenDB reads it), the same
    # on every attempt, so a server that saw it applies a resent batch once; the official
    # Python client sends none (the C# one does, for cluster-wide batches).
    assert batch_shape["query"] == []
    batch_shape["query"] = ["raft-request-id"]
    assert first == expected
    batch_ours = next(r for r in ours[0] if r.path.endswith("/bulk_docs")).body["Commands"]
    batch_theirs = next(r for r in theirs[0] if r.path.endswith("/bulk_docs")).body["Commands"]
    # DELIBERATE (values): an INSERT requires the id to be new (ChangeVector ""), so a taken
    # key fails as IntegrityError; the official client overwrites (null). Our ids are
    # "<table>/<primary key>" without the node tag suffix ("users/1" vs "users/1-A").
    assert [c["ChangeVector"] for c in batch_ours] == [""] * 3
    assert [c["ChangeVector"] for c in batch_theirs] == [None] * 3
    assert [c["Id"].split("-")[0] for c in batch_theirs] == [c["Id"] for c in batch_ours]
    assert [c["Document"]["name"] for c in batch_ours] == [n for n, _ in PEOPLE]

    # -- step 2: load one by id ----------------------------------------------------------
    # the same request: GET /docs?id=... (the official client lower-cases the id)
    assert [_shape(r) for r in ours[1]] == [_shape(r) for r in theirs[1]]
    assert ours[1][0].method == "GET" and ours[1][0].path.endswith("/docs")

    # -- step 3: query with a where equality ---------------------------------------------
    (q_ours,), (q_theirs,) = ours[2], theirs[2]
    shape_ours, shape_theirs = _shape(q_ours), _shape(q_theirs)
    # DELIBERATE: no ``queryHash`` in the query string: it is the official client's cache
    # key, opaque to the server; our ETag cache is keyed by the request itself.
    assert shape_theirs["query"] == ["queryHash"] and shape_ours["query"] == []
    shape_theirs["query"] = []
    # DELIBERATE: the first query of a collection after this connection's own commit waits
    # for the indexes to catch up (read your writes); the official client waits only when
    # asked (wait_for_non_stale_results / wait_for_indexes_after_save_changes).
    assert q_ours.body["WaitForNonStaleResults"] is True
    assert q_ours.body["WaitForNonStaleResultsTimeout"] == "00:00:15"
    assert "WaitForNonStaleResults" not in q_theirs.body
    shape_ours["body"] = [k for k in shape_ours["body"] if not k.startswith("WaitForNonStale")]
    assert shape_ours == shape_theirs  # POST /queries, {Query, QueryParameters}, same names
    # DELIBERATE: SQL's ``=`` is case-sensitive, RavenDB's is not: we wrap it in exact().
    # The collection is the table name; RavenDB compares collection names case-insensitively.
    assert q_ours.body["Query"] == "from 'users' where exact(name = $p0)"
    assert q_theirs.body["Query"] == "from 'Users' where name = $p0"
    assert q_ours.body["QueryParameters"] == q_theirs.body["QueryParameters"] == {"p0": "Bob"}

    # -- step 4: update one, delete one, commit ------------------------------------------
    # One request each: the batch. (``UPDATE/DELETE ... WHERE id = :id`` resolve against the
    # documents this transaction already read, as the official client uses its tracked
    # entities: no second GET.)
    assert [(r.method, r.path) for r in ours[3]] == [(r.method, r.path) for r in theirs[3]]
    assert len(ours[3]) == 1 and ours[3][0].path.endswith("/bulk_docs")
    assert _shape(ours[3][0])["query"] == ["raft-request-id"]  # as in step 1
    assert sorted(ours[3][0].body) == sorted(theirs[3][0].body) == ["Commands"]
    cmds_ours = {c["Type"]: c for c in ours[3][0].body["Commands"]}
    cmds_theirs = {c["Type"]: c for c in theirs[3][0].body["Commands"]}
    # DELIBERATE: command order follows SQLAlchemy's unit of work (updates, then deletes);
    # the official client sends deletes first. Both are one atomic batch.
    # DELIBERATE: an integer an UPDATE sets goes by a JSON Patch after the PATCH (in the same
    # batch): a patch script would store it as a double where the property held one.
    assert list(cmds_ours) == ["PATCH", "JsonPatch", "DELETE"]
    assert list(cmds_theirs) == ["DELETE", "PUT"]
    # DELIBERATE: an UPDATE is a PATCH that sets only its columns (the official client PUTs
    # the whole tracked entity), and carries ``PatchIfMissing`` that throws, so a concurrent
    # delete aborts the whole commit (StaleDataError) instead of silently dropping it.
    assert sorted(cmds_ours["PATCH"]) == ["ChangeVector", "Id", "Patch", "PatchIfMissing",
                                          "Type"]
    assert sorted(cmds_theirs["PUT"]) == ["ChangeVector", "Document", "Id", "Type"]
    assert sorted(cmds_ours["PATCH"]["Patch"]) == ["Script", "Values"]
    assert cmds_ours["PATCH"]["Patch"]["Values"] == {}
    assert cmds_ours["JsonPatch"]["JsonPatch"]["Operations"] == [
        {"op": "add", "path": "/age", "value": 31}]
    assert cmds_theirs["PUT"]["Document"]["age"] == 31
    # DELIBERATE: our DELETE sends the change vector it read as ``ChangeVector`` (checked:
    # a concurrent change aborts the commit); the official client, without optimistic
    # concurrency, sends ``ChangeVector: null`` and the read one as ``OriginalChangeVector``.
    assert sorted(cmds_ours["DELETE"]) == ["ChangeVector", "Id", "Type"]
    assert sorted(cmds_theirs["DELETE"]) == ["ChangeVector", "Id", "OriginalChangeVector",
                                             "Type"]
    assert cmds_ours["DELETE"]["ChangeVector"] and cmds_theirs["DELETE"]["ChangeVector"] is None
    assert cmds_ours["DELETE"]["Id"] == batch_ours[1]["Id"]  # Bob
    assert cmds_theirs["DELETE"]["Id"] == batch_theirs[1]["Id"]
    # NOT COMPARED: the official client returns its unused HiLo range when the store closes
    # (``PUT /hilo/return``); this backend does not return ranges yet (ids are skipped).


@pytest.fixture
def server(ravendb_server_factory: Any) -> Iterator[Any]:
    srv = ravendb_server_factory("A")
    if not srv.recording:
        pytest.skip("needs the bundled server's request log")
    yield srv


def test_one_batch_and_hilo_only_per_commit(server: Any) -> None:
    """Requests per commit: one bulk_docs, plus HiLo ranges when a range runs out."""
    url = f"ravendb://{server.url.split('://', 1)[1]}/{server.database}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    try:
        server.clear_requests()
        with Session(engine) as session:
            session.add_all([Member(name=f"m{i}", age=i) for i in range(100)])
            session.commit()
        # the transaction's one catalog check (a conditional GET of one document) aside
        assert sum(map(_is_catalog_check, server.requests)) == 1
        kinds = [r.path.rsplit("/", 1)[-1] for r in server.requests if not _is_catalog_check(r)]
        assert kinds.count("bulk_docs") == 1
        assert set(kinds) == {"bulk_docs", "next"}  # no loads, queries or schema requests
        (batch,) = [r for r in server.requests if r.path.endswith("/bulk_docs")]
        _take_schema_guard(batch, "users")
        assert len(batch.body["Commands"]) == 100
    finally:
        engine.dispose()
