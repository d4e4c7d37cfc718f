"""The async FastAPI app, driven through httpx's ASGI transport inside one event loop, on
SQLite (aiosqlite) and, unchanged, on the docstores."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


@pytest.fixture
def sqlite_scheme() -> str:
    return "sqlite+aiosqlite"


@pytest.fixture
def run(import_app: Callable[[str], Any]) -> Callable[[Scenario], None]:
    """``run(scenario)``: start the app (lifespan: create_all, then engine.dispose()) and run
    ``await scenario(client)`` on a fresh event loop."""
    main = import_app("fastapi_async.main")

    async def serve(scenario: Scenario) -> None:
        async with main.app.router.lifespan_context(main.app):
            transport = httpx.ASGITransport(app=main.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                await scenario(client)

    return lambda scenario: asyncio.run(serve(scenario))


async def _new_user(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    reply = await client.post("/users/", json={"email": email})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_users_are_created_listed_and_paginated(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        created = [await _new_user(client, f"u{n}@example.com") for n in range(5)]
        assert [u["email"] for u in created] == [f"u{n}@example.com" for n in range(5)]
        assert len({u["id"] for u in created}) == 5
        assert (await client.get("/users/", params={"skip": 1, "limit": 2})).json() == created[1:3]
        assert (await client.get("/users/")).json() == created
        assert (await client.get("/users/", params={"skip": 5})).json() == []

    run(scenario)


def test_duplicate_email_is_a_400_and_unknown_ids_404s(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        user = await _new_user(client, "ada@example.com")
        reply = await client.post("/users/", json={"email": "ada@example.com"})
        assert (reply.status_code, reply.json()) == (400, {"detail": "Email already registered"})
        missing = user["id"] + 1000
        assert (await client.get(f"/users/{missing}")).status_code == 404
        assert (await client.post(f"/users/{missing}/items/", json={"title": "x"})
                ).status_code == 404
        assert (await client.delete("/items/12345")).status_code == 404
        assert (await client.get("/stats")).json() == {"users": 1, "items": 0}

    run(scenario)


def test_items_belong_to_their_owner(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        ada = await _new_user(client, "ada@example.com")
        bob = await _new_user(client, "bob@example.com")
        pen = (await client.post(f"/users/{ada['id']}/items/", json={"title": "pen"})).json()
        ink = (await client.post(f"/users/{ada['id']}/items/",
                                 json={"title": "ink", "description": "blue"})).json()
        cup = (await client.post(f"/users/{bob['id']}/items/", json={"title": "cup"})).json()
        assert [pen["owner_id"], ink["owner_id"], cup["owner_id"]] == [ada["id"], ada["id"],
                                                                        bob["id"]]
        assert (await client.get(f"/users/{ada['id']}")).json()["items"] == [pen, ink]
        users = (await client.get("/users/")).json()
        assert [u["items"] for u in users] == [[pen, ink], [cup]]
        assert (await client.get("/items/", params={"skip": 1, "limit": 5})).json() == [ink, cup]

        assert (await client.delete(f"/items/{ink['id']}")).status_code == 204
        assert (await client.get(f"/users/{ada['id']}")).json()["items"] == [pen]
        assert (await client.get("/stats")).json() == {"users": 2, "items": 2}

    run(scenario)


def test_concurrent_requests_each_commit_one_batch(run: Callable[[Scenario], None],
                                                   is_docstore: bool,
                                                   sessions_counted: Callable[[], Any]) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        with sessions_counted() as counts:
            created = await asyncio.gather(*(_new_user(client, f"u{n}@example.com")
                                             for n in range(10)))
        assert sorted(u["email"] for u in created) == sorted(f"u{n}@example.com"
                                                             for n in range(10))
        assert (await client.get("/stats")).json() == {"users": 10, "items": 0}
        assert len(counts) == 10
        if is_docstore:  # one AsyncSession per request, each commit one batch
            assert [c.get("batch", 0) for c in counts] == [1] * 10

    run(scenario)


def test_a_page_of_users_with_items_is_two_queries(run: Callable[[Scenario], None],
                                                   is_docstore: bool,
                                                   sessions_counted: Callable[[], Any]) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        for n in range(6):
            user = await _new_user(client, f"u{n}@example.com")
            await client.post(f"/users/{user['id']}/items/", json={"title": f"item {n}"})
        with sessions_counted() as counts:
            users = (await client.get("/users/", params={"limit": 4})).json()
        assert [[i["title"] for i in u["items"]] for u in users] == [[f"item {n}"]
                                                                    for n in range(4)]
        if is_docstore:  # selectinload: the users, then all their items at once
            assert counts == [{"query": 2}]

    run(scenario)
