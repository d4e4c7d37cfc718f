"""The SQLModel + FastAPI tutorial app with TestClient, on SQLite and, unchanged, on the
docstores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel


@pytest.fixture
def main(import_app: Callable[[str], Any]) -> Iterator[Any]:
    # SQLModel keeps one global metadata and registry: a fresh import of the app (with this
    # test's $DATABASE_URL) defines its tables and classes again.
    SQLModel.metadata.clear()
    module = import_app("sqlmodel_app.main")
    yield module
    SQLModel.metadata.clear()
    SQLModel._sa_registry.dispose()  # only SQLModel's mappers, not other tests'


@pytest.fixture
def client(main: Any) -> Iterator[TestClient]:
    with TestClient(main.app) as test_client:
        yield test_client


def _hero(client: TestClient, **fields: Any) -> dict[str, Any]:
    reply = client.post("/heroes/", json=fields)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_heroes_crud_and_pagination(client: TestClient) -> None:
    deadpond = _hero(client, name="Deadpond", secret_name="Dive Wilson")
    spider = _hero(client, name="Spider-Boy", secret_name="Pedro Parqueador", age=16)
    rusty = _hero(client, name="Rusty-Man", secret_name="Tommy Sharp", age=48)
    assert deadpond["age"] is None and deadpond["team_id"] is None
    assert client.get("/heroes/").json() == [deadpond, spider, rusty]
    assert client.get("/heroes/", params={"offset": 1, "limit": 1}).json() == [spider]
    assert client.get("/heroes/", params={"limit": 101}).status_code == 422

    patched = client.patch(f"/heroes/{spider['id']}", json={"age": 17}).json()
    assert patched == {**spider, "age": 17}
    assert client.get(f"/heroes/{spider['id']}").json() == {**patched, "team": None}

    assert client.delete(f"/heroes/{deadpond['id']}").json() == {"ok": True}
    assert client.get("/heroes/").json() == [patched, rusty]


def test_unknown_ids_are_404s(client: TestClient) -> None:
    hero = _hero(client, name="Deadpond", secret_name="Dive Wilson")
    missing = hero["id"] + 1000
    assert client.get(f"/heroes/{missing}").json() == {"detail": "Hero not found"}
    assert client.patch(f"/heroes/{missing}", json={"age": 1}).status_code == 404
    assert client.delete(f"/heroes/{missing}").status_code == 404
    assert client.get("/teams/1000").status_code == 404


def test_heroes_and_teams_relationships(client: TestClient) -> None:
    preventers = client.post("/teams/", json={"name": "Preventers",
                                              "headquarters": "Sharp Tower"}).json()
    z_force = client.post("/teams/", json={"name": "Z-Force",
                                           "headquarters": "Sister Margaret's Bar"}).json()
    rusty = _hero(client, name="Rusty-Man", secret_name="Tommy Sharp", age=48,
                  team_id=preventers["id"])
    deadpond = _hero(client, name="Deadpond", secret_name="Dive Wilson", team_id=z_force["id"])
    tarantula = _hero(client, name="Tarantula", secret_name="Natalia", age=32,
                      team_id=preventers["id"])

    assert client.get(f"/teams/{preventers['id']}").json() == {**preventers,
                                                               "heroes": [rusty, tarantula]}
    assert client.get(f"/heroes/{deadpond['id']}").json() == {**deadpond, "team": z_force}
    assert client.get("/teams/").json() == [preventers, z_force]

    moved = client.patch(f"/heroes/{tarantula['id']}", json={"team_id": z_force["id"]}).json()
    team = client.get(f"/teams/{z_force['id']}").json()
    assert sorted(h["id"] for h in team["heroes"]) == sorted([deadpond["id"], moved["id"]])


def test_a_request_that_commits_sends_one_batch(client: TestClient, is_docstore: bool,
                                                sessions_counted: Callable[[], Any]) -> None:
    hero = _hero(client, name="Deadpond", secret_name="Dive Wilson")
    with sessions_counted() as counts:
        client.patch(f"/heroes/{hero['id']}", json={"age": 30})
    assert len(counts) == 1
    if is_docstore:  # load, one batch for the update, and the refresh's load
        assert counts[0].get("batch") == 1
