"""The demo app (`python -m sqla_docstore demo`): plain SQLAlchemy ORM on the embedded store."""

from __future__ import annotations

import sys

from sqlalchemy import ForeignKey, String, create_engine, func, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
    selectinload,
    sessionmaker,
)

from sqla_docstore import request_counts


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    addresses: Mapped[list[Address]] = relationship(back_populates="user")


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


def main(url: str = "docstore://") -> None:
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    Session = sessionmaker(bind=engine)

    with Session() as session:
        session.add_all([
            User(name="Alice", addresses=[Address(email="alice@example.com")]),
            User(name="Bob", addresses=[Address(email="bob@example.com"),
                                        Address(email="bob@work.example")]),
        ])
        session.flush()  # ids are known now (HiLo); nothing has reached the store yet
        alice = session.scalars(select(User).where(User.name == "Alice")).one()
        print(f"flushed, not committed: Alice has id {alice.id}")
        session.commit()  # ONE atomic batch for both collections
        print("after commit:", request_counts(session))

    with Session() as session:
        users = session.scalars(
            select(User).options(selectinload(User.addresses)).order_by(User.name)
        ).all()
        for user in users:
            print(f"  {user.id} {user.name}: {[a.email for a in user.addresses]}")
        counts = session.execute(
            select(User.name, func.count(Address.id))
            .join(Address).group_by(User.name).order_by(User.name)
        ).all()
        print("addresses per user:", counts)

        with session.begin_nested():  # a savepoint on the pending batch
            session.add(User(name="Carol"))
        session.rollback()  # discards Carol: she never reached the store
        print("users:", session.scalars(select(User.name).order_by(User.name)).all())
        print("requests of this session:", request_counts(session))


if __name__ == "__main__":
    main(*sys.argv[1:])
