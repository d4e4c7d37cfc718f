"""A Flask-SQLAlchemy 3.x app (authors and their posts): app factory, ``db.paginate``,
``db.get_or_404`` and ``db.first_or_404``.

Run: ``DATABASE_URL=docstore:////tmp/blog.db flask --app flask_app run`` from ``examples/``
(the SQLite form is ``sqlite:////tmp/blog.db``).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from flask import Flask, abort, request, url_for
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Author(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)

    posts: Mapped[list[Post]] = relationship(back_populates="author", order_by="Post.id")


class Post(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(default="")
    created: Mapped[datetime] = mapped_column(default=lambda: datetime.now(timezone.utc))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))

    author: Mapped[Author] = relationship(back_populates="posts")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "body": self.body,
                "author": self.author.name, "url": url_for("show_post", post_id=self.id)}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///blog.db")
    if test_config:
        app.config.update(test_config)
    db.init_app(app)
    with app.app_context():
        db.create_all()
    _add_routes(app)
    return app


def _add_routes(app: Flask) -> None:
    @app.get("/posts")
    def list_posts() -> dict[str, Any]:
        page = db.paginate(db.select(Post).order_by(Post.id), max_per_page=20)
        return {"items": [p.to_dict() for p in page.items], "page": page.page,
                "pages": page.pages, "total": page.total, "has_next": page.has_next,
                "next_num": page.next_num, "iter_pages": list(page.iter_pages())}

    @app.get("/posts/<int:post_id>")
    def show_post(post_id: int) -> dict[str, Any]:
        return db.get_or_404(Post, post_id, description="No such post").to_dict()

    @app.get("/authors/<name>")
    def show_author(name: str) -> dict[str, Any]:
        author = db.first_or_404(db.select(Author).filter_by(name=name))
        return {"name": author.name, "posts": [p.title for p in author.posts]}

    @app.post("/authors/<name>/posts")
    def add_post(name: str) -> tuple[dict[str, Any], int]:
        author = db.session.execute(db.select(Author).filter_by(name=name)).scalar()
        if author is None:
            author = Author(name=name)
            db.session.add(author)
        data = request.get_json()
        if not data or not data.get("title"):
            abort(400, "a title is required")
        post = Post(title=data["title"], body=data.get("body", ""), author=author)
        db.session.add(post)
        db.session.commit()
        return post.to_dict(), 201

    @app.delete("/posts/<int:post_id>")
    def delete_post(post_id: int) -> tuple[str, int]:
        db.session.delete(db.get_or_404(Post, post_id))
        db.session.commit()
        return "", 204
