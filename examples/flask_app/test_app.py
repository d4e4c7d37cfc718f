"""The Flask-SQLAlchemy app through Flask's test client, configured with the SQLite URL and,
unchanged, with the docstore URLs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_app import create_app, db


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    flask_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    yield flask_app
    with flask_app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _post(client: FlaskClient, author: str, title: str, body: str = "") -> dict[str, Any]:
    reply = client.post(f"/authors/{author}/posts", json={"title": title, "body": body})
    assert reply.status_code == 201, reply.text
    return reply.get_json()


def test_posts_paginate(client: FlaskClient) -> None:
    posts = [_post(client, "ada" if n % 2 else "bob", f"post {n}") for n in range(25)]
    first = client.get("/posts", query_string={"per_page": 10}).get_json()
    assert first["items"] == posts[:10]
    assert (first["page"], first["pages"], first["total"]) == (1, 3, 25)
    assert (first["has_next"], first["next_num"]) == (True, 2)
    assert first["iter_pages"] == [1, 2, 3]
    last = client.get("/posts", query_string={"page": 3, "per_page": 10}).get_json()
    assert last["items"] == posts[20:] and not last["has_next"]
    capped = client.get("/posts", query_string={"per_page": 100}).get_json()
    assert capped["items"] == posts[:20]  # max_per_page
    assert client.get("/posts", query_string={"page": 4, "per_page": 10}).status_code == 404


def test_get_or_404(client: FlaskClient) -> None:
    post = _post(client, "ada", "hello", "world")
    assert client.get(post["url"]).get_json() == post
    assert post["author"] == "ada" and post["body"] == "world"
    missing = client.get(f"/posts/{post['id'] + 1000}")
    assert missing.status_code == 404 and b"No such post" in missing.data
    assert client.delete(post["url"]).status_code == 204
    assert client.get(post["url"]).status_code == 404
    assert client.delete(post["url"]).status_code == 404


def test_first_or_404_and_relationships(client: FlaskClient) -> None:
    _post(client, "ada", "one")
    _post(client, "bob", "two")
    _post(client, "ada", "three")
    assert client.get("/authors/ada").get_json() == {"name": "ada", "posts": ["one", "three"]}
    assert client.get("/authors/bob").get_json() == {"name": "bob", "posts": ["two"]}
    assert client.get("/authors/eve").status_code == 404


def test_a_rejected_post_changes_nothing(client: FlaskClient) -> None:
    assert client.post("/authors/ada/posts", json={"body": "no title"}).status_code == 400
    assert client.get("/authors/ada").status_code == 404
    assert client.get("/posts").get_json()["total"] == 0


def test_a_request_that_commits_sends_one_batch(client: FlaskClient, is_docstore: bool,
                                                sessions_counted: Callable[[], Any]) -> None:
    with sessions_counted() as counts:
        _post(client, "ada", "one")  # a new author and a new post: one commit
    with sessions_counted() as reads:
        client.get("/posts")
    assert len(counts) == len(reads) == 1  # Flask-SQLAlchemy's session per app context
    if is_docstore:
        assert counts[0].get("batch") == 1
        assert reads[0].get("batch", 0) == 0
