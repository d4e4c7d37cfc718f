"""FastAPI's "SQL (Relational) Databases" tutorial (users and their items), SQLAlchemy 2.0 style.

Run: ``DATABASE_URL=docstore:///./sql_app.db uvicorn fastapi_sync.main:app`` from ``examples/``
(the default is the tutorial's ``sqlite:///./sql_app.db``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

# --- database.py ---
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./sql_app.db")

engine = create_engine(DATABASE_URL, connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)


class Base(DeclarativeBase):
    pass


# --- models.py ---
class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)

    items: Mapped[list[Item]] = relationship(back_populates="owner")


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100), index=True)
    description: Mapped[str | None] = mapped_column(String(500))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    owner: Mapped[User] = relationship(back_populates="items")


# --- schemas.py ---
class ItemBase(BaseModel):
    title: str
    description: str | None = None


class ItemCreate(ItemBase):
    pass


class ItemOut(ItemBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int


class UserBase(BaseModel):
    email: str


class UserCreate(UserBase):
    password: str


class UserOut(UserBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    is_active: bool
    items: list[ItemOut] = []


# --- crud.py ---
def get_user(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def get_user_by_email(db: Session, email: str) -> User | None:
    return db.scalars(select(User).where(User.email == email)).first()


def get_users(db: Session, skip: int = 0, limit: int = 100) -> list[User]:
    return list(db.scalars(select(User).order_by(User.id).offset(skip).limit(limit)))


def create_user(db: Session, user: UserCreate) -> User:
    db_user = User(email=user.email, hashed_password=user.password + "notreallyhashed")
    db.add(db_user)
    db.commit()
    db.refresh(db_user)
    return db_user


def get_items(db: Session, skip: int = 0, limit: int = 100) -> list[Item]:
    return list(db.scalars(select(Item).order_by(Item.id).offset(skip).limit(limit)))


def create_user_item(db: Session, item: ItemCreate, user_id: int) -> Item:
    db_item = Item(**item.model_dump(), owner_id=user_id)
    db.add(db_item)
    db.commit()
    db.refresh(db_item)
    return db_item


# --- main.py ---
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    Base.metadata.create_all(bind=engine)
    yield


app = FastAPI(lifespan=lifespan)


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


SessionDep = Annotated[Session, Depends(get_db)]


@app.post("/users/", response_model=UserOut)
def create_user_endpoint(user: UserCreate, db: SessionDep) -> User:
    if get_user_by_email(db, email=user.email):
        raise HTTPException(status_code=400, detail="Email already registered")
    return create_user(db=db, user=user)


@app.get("/users/", response_model=list[UserOut])
def read_users(db: SessionDep, skip: int = 0, limit: int = 100) -> list[User]:
    return get_users(db, skip=skip, limit=limit)


@app.get("/users/{user_id}", response_model=UserOut)
def read_user(user_id: int, db: SessionDep) -> User:
    db_user = get_user(db, user_id=user_id)
    if db_user is None:
        raise HTTPException(status_code=404, detail="User not found")
    return db_user


@app.post("/users/{user_id}/items/", response_model=ItemOut)
def create_item_for_user(user_id: int, item: ItemCreate, db: SessionDep) -> Item:
    if get_user(db, user_id=user_id) is None:
        raise HTTPException(status_code=404, detail="User not found")
    return create_user_item(db=db, item=item, user_id=user_id)


@app.get("/items/", response_model=list[ItemOut])
def read_items(db: SessionDep, skip: int = 0, limit: int = 100) -> list[Item]:
    return get_items(db, skip=skip, limit=limit)


@app.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: int, db: SessionDep) -> None:
    db_item = db.get(Item, item_id)
    if db_item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    db.delete(db_item)
    db.commit()
