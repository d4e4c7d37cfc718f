"""The FastAPI tutorial app, run with TestClient on SQLite and, unchanged, on the docstores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(import_app: Callable[[str], Any]) -> Iterator[TestClient]:
    main = import_app("fastapi_sync.main")
    with TestClient(main.app) as test_client:  # runs the lifespan: create_all
        yield test_client


def _new_user(client: TestClient, email: str) -> dict[str, Any]:
    reply = client.post("/users/", json={"email": email, "password": "secret"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_users_are_created_listed_and_paginated(client: TestClient) -> None:
    created = [_new_user(client, f"u{n}@example.com") for n in range(5)]
    assert [u["email"] for u in created] == [f"u{n}@example.com" for n in range(5)]
    assert all(u["is_active"] and u["items"] == [] for u in created)
    assert len({u["id"] for u in created}) == 5

    page = client.get("/users/", params={"skip": 1, "limit": 2}).json()
    assert page == created[1:3]
    assert client.get("/users/").json() == created
    assert client.get("/users/", params={"skip": 5}).json() == []


def test_duplicate_email_is_a_400(client: TestClient) -> None:
    _new_user(client, "ada@example.com")
    reply = client.post("/users/", json={"email": "ada@example.com", "password": "x"})
    assert reply.status_code == 400
    assert reply.json() == {"detail": "Email already registered"}
    assert len(client.get("/users/").json()) == 1


def test_unknown_ids_are_404s(client: TestClient) -> None:
    user = _new_user(client, "ada@example.com")
    missing = user["id"] + 1000
    assert client.get(f"/users/{missing}").status_code == 404
    assert client.get(f"/users/{missing}").json() == {"detail": "User not found"}
    reply = client.post(f"/users/{missing}/items/", json={"title": "x"})
    assert reply.status_code == 404
    assert client.delete("/items/12345").status_code == 404


def test_items_belong_to_their_owner(client: TestClient) -> None:
    ada, bob = _new_user(client, "ada@example.com"), _new_user(client, "bob@example.com")
    pen = client.post(f"/users/{ada['id']}/items/", json={"title": "pen"}).json()
    ink = client.post(f"/users/{ada['id']}/items/",
                      json={"title": "ink", "description": "blue"}).json()
    cup = client.post(f"/users/{bob['id']}/items/", json={"title": "cup"}).json()
    assert (pen["owner_id"], ink["owner_id"], cup["owner_id"]) == (ada["id"], ada["id"], bob["id"])
    assert ink["description"] == "blue" and pen["description"] is None

    assert client.get(f"/users/{ada['id']}").json()["items"] == [pen, ink]
    assert client.get("/items/", params={"skip": 1, "limit": 5}).json() == [ink, cup]

    assert client.delete(f"/items/{ink['id']}").status_code == 204
    assert client.get(f"/users/{ada['id']}").json()["items"] == [pen]
    assert client.delete(f"/items/{ink['id']}").status_code == 404


def test_a_request_that_commits_sends_one_batch(client: TestClient, is_docstore: bool,
                                                sessions_counted: Callable[[], Any]) -> None:
    with sessions_counted() as counts:
        user = _new_user(client, "ada@example.com")
    with sessions_counted() as reads:
        assert client.get(f"/users/{user['id']}").json() == user
    if is_docstore:  # one session per request; its commit is one batch, reads send none
        assert [c.get("batch", 0) for c in counts] == [1]
        assert [c.get("batch", 0) for c in reads] == [0]
    else:
        assert len(counts) == len(reads) == 1
