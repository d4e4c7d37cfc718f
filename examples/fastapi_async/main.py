"""The FastAPI tutorial app on asyncio: ``create_async_engine``, ``async_sessionmaker`` and an
``AsyncSession`` per request.

Run: ``DATABASE_URL=docstore:///./sql_app.db uvicorn fastapi_async.main:app`` from ``examples/``
(the SQLite form is ``sqlite+aiosqlite:///./sql_app.db``, the default).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./sql_app.db")

engine = create_async_engine(DATABASE_URL)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    items: Mapped[list[Item]] = relationship(back_populates="owner", order_by="Item.id")


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), index=True)
    description: Mapped[str | None] = mapped_column(String(500))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    owner: Mapped[User] = relationship(back_populates="items")


class ItemCreate(BaseModel):
    title: str
    description: str | None = None


class ItemOut(ItemCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int


class UserCreate(BaseModel):
    email: str


class UserOut(UserCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
    is_active: bool
    items: list[ItemOut] = []


class UserStats(BaseModel):
    users: int
    items: int


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def _user_with_items(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id, options=[selectinload(User.items)])


@app.post("/users/", response_model=UserOut)
async def create_user(user: UserCreate, session: SessionDep) -> User:
    taken = await session.scalar(select(User).where(User.email == user.email))
    if taken is not None:
        raise HTTPException(status_code=400, detail="Email already registered")
    db_user = User(email=user.email, items=[])
    session.add(db_user)
    await session.commit()
    return db_user


@app.get("/users/", response_model=list[UserOut])
async def read_users(session: SessionDep, skip: int = 0, limit: int = 100) -> list[User]:
    query = select(User).options(selectinload(User.items)).order_by(User.id)
    return list(await session.scalars(query.offset(skip).limit(limit)))


@app.get("/users/{user_id}", response_model=UserOut)
async def read_user(user_id: int, session: SessionDep) -> User:
    db_user = await _user_with_items(session, user_id)
    if db_user is None:
        raise HTTPException(status_code=404, detail="User not found")
    return db_user


@app.post("/users/{user_id}/items/", response_model=ItemOut)
async def create_item_for_user(user_id: int, item: ItemCreate, session: SessionDep) -> Item:
    if await session.get(User, user_id) is None:
        raise HTTPException(status_code=404, detail="User not found")
    db_item = Item(**item.model_dump(), owner_id=user_id)
    session.add(db_item)
    await session.commit()
    return db_item


@app.get("/items/", response_model=list[ItemOut])
async def read_items(session: SessionDep, skip: int = 0, limit: int = 100) -> list[Item]:
    return list(await session.scalars(select(Item).order_by(Item.id).offset(skip).limit(limit)))


@app.delete("/items/{item_id}", status_code=204)
async def delete_item(item_id: int, session: SessionDep) -> None:
    db_item = await session.get(Item, item_id)
    if db_item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    await session.delete(db_item)
    await session.commit()


@app.get("/stats", response_model=UserStats)
async def stats(session: SessionDep) -> UserStats:
    users = await session.scalar(select(func.count()).select_from(User))
    items = await session.scalar(select(func.count(Item.id)))
    return UserStats(users=users or 0, items=items or 0)
