"""Type round trips through the dialect, and how each type is stored in the JSON document."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    Uuid,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Mood(enum.Enum):
    happy = "h"
    sad = "s"


IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

#: (type, value) pairs; every value must come back equal and of the same Python type.
CASES: dict[str, tuple[Any, Any]] = {
    "integer": (Integer, -(2**31)),
    "bigint": (BigInteger, 2**62 + 7),
    "float": (Float, 0.1 + 0.2),
    "numeric": (Numeric(12, 2), decimal.Decimal("1234567890.10")),
    "numeric30": (Numeric(40, 10), decimal.Decimal("12345678901234567890.1234567890")),
    "decimal_small": (Numeric(10, 4), decimal.Decimal("0.0001")),
    "string": (String(40), "héllo 'quoted' \"double\" ünïcode ✓"),
    "text": (Text, "line1\nline2\t" + "x" * 5000),
    "bool_true": (Boolean, True),
    "bool_false": (Boolean, False),
    "datetime_naive": (DateTime, dt.datetime(2024, 2, 29, 23, 59, 59, 123456)),
    "datetime_tz": (DateTime(timezone=True), dt.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=IST)),
    "datetime_utc": (DateTime(timezone=True), dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)),
    "date": (Date, dt.date(1999, 12, 31)),
    "time": (Time, dt.time(13, 14, 15, 999999)),
    "interval": (Interval, dt.timedelta(days=-3, seconds=5, microseconds=7)),
    "interval_big": (Interval, dt.timedelta(days=400, hours=5)),
    # emulated: stored as the datetime epoch + interval, as on SQLite
    "interval_emulated": (Interval(native=False), dt.timedelta(days=14, seconds=5874)),
    "uuid": (Uuid, uuid.UUID("0b0e7f0c-49f5-4b7e-9f0e-1d2c3b4a5f6e")),
    "uuid_str": (Uuid(as_uuid=False), "0b0e7f0c-49f5-4b7e-9f0e-1d2c3b4a5f6e"),
    "enum": (Enum(Mood), Mood.sad),
    "enum_str": (Enum("a", "b", name="ab"), "b"),
    "json_obj": (JSON, {"a": [1, 2.5, {"b": None, "c": True}], "d": "e", "n": {"m": {}}}),
    "json_list": (JSON, [1, "two", [3], None]),
    "json_scalar": (JSON, "just a string"),
    "binary": (LargeBinary, b"\x00\xff\x10 binary \x80"),
    "binary_empty": (LargeBinary, b""),
}


@pytest.fixture
def typed_table(file_engine: Engine) -> Table:
    meta = MetaData()
    table = Table(
        "typed", meta, Column("id", Integer, primary_key=True),
        *[Column(name, type_) for name, (type_, _) in CASES.items()],
    )
    meta.create_all(file_engine)
    return table


def test_core_round_trip_of_every_type(file_engine: Engine, typed_table: Table) -> None:
    with file_engine.begin() as conn:
        conn.execute(insert(typed_table), {name: v for name, (_, v) in CASES.items()})
    with file_engine.connect() as conn:
        row = conn.execute(select(typed_table)).one()._mapping
    for name, (_, value) in CASES.items():
        got = row[name]
        assert got == value, name
        assert type(got) is type(value), name
        if isinstance(value, dt.datetime):
            assert got.utcoffset() == value.utcoffset(), name


def test_nulls_round_trip(file_engine: Engine, typed_table: Table) -> None:
    with file_engine.begin() as conn:
        conn.execute(insert(typed_table), {"integer": 1})
    with file_engine.connect() as conn:
        row = conn.execute(select(typed_table)).one()._mapping
    assert all(row[name] is None for name in CASES if name != "integer")


def test_values_are_stored_as_native_json(
    file_engine: Engine, typed_table: Table, db_path: Path, raw_bodies: Any
) -> None:
    with file_engine.begin() as conn:
        conn.execute(insert(typed_table), {name: v for name, (_, v) in CASES.items()})
    (doc_id, body), = raw_bodies(db_path, "typed").items()
    assert doc_id == f"typed/{body['id']}"
    # JSON is nested JSON, not a string holding JSON.
    assert body["json_obj"] == CASES["json_obj"][1]
    assert body["json_list"] == [1, "two", [3], None]
    assert body["json_scalar"] == "just a string"
    assert body["integer"] == -(2**31) and body["bigint"] == 2**62 + 7
    assert body["bool_true"] is True and body["bool_false"] is False
    assert body["numeric"] == 1234567890.10  # a JSON number, not a string
    assert body["datetime_naive"] == "2024-02-29T23:59:59.1234560"
    assert body["datetime_tz"] == "2024-01-01T12:00:00.0000010+05:30"
    assert body["date"] == "1999-12-31"
    assert body["interval"] == "-2.23:59:54.9999930"  # RavenDB TimeSpan text
    assert body["uuid"] == "0b0e7f0c-49f5-4b7e-9f0e-1d2c3b4a5f6e"
    assert body["enum"] == "sad"


def test_thirty_digit_decimal_is_stored_exactly(
    file_engine: Engine, db_path: Path, raw_bodies: Any
) -> None:
    meta = MetaData()
    t = Table("money", meta, Column("id", Integer, primary_key=True),
              Column("amount", Numeric(38, 8)))
    meta.create_all(file_engine)
    big = decimal.Decimal("1234567890123456789012.12345678")  # 30 significant digits
    with file_engine.begin() as conn:
        conn.execute(insert(t), {"amount": big})
    with file_engine.connect() as conn:
        assert conn.scalar(select(t.c.amount)) == big
    import sqlite3

    with sqlite3.connect(db_path) as raw:
        text = raw.execute('SELECT body FROM "@docs/money"').fetchone()[0]
    assert '"amount":1234567890123456789012.12345678' in text


def test_a_numeric_text_keeps_its_digits_in_a_numeric_column(engine: Engine) -> None:
    # the DB-API keeps a text's digits a double would round (affinity.exact_numeric_text),
    # also when the double is an integer; the dialect binds the text as given
    meta = MetaData()
    t = Table("texts", meta, Column("id", Integer, primary_key=True),
              Column("amount", Numeric(30, 3)))
    meta.create_all(engine)
    given = ["12345678901234567.891", "0.125", " 7 "]
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": i, "amount": v} for i, v in enumerate(given)])
        conn.execute(t.update().where(t.c.id == 2).values(amount="98765432109876543.21"))
    with engine.connect() as conn:
        assert conn.scalars(select(t.c.amount).order_by(t.c.id)).all() == [
            decimal.Decimal("12345678901234567.891"), decimal.Decimal("0.125"),
            decimal.Decimal("98765432109876543.210")]
        assert conn.scalars(select(t.c.id).where(t.c.amount == given[0])).all() == [0]


def test_numeric_results_are_decimal_at_the_scale_or_float_as_asked(engine: Engine) -> None:
    # the DB-API gives NUMERIC columns as Decimal (dbapi.decimals): Numeric() keeps it at the
    # column's scale (as PostgreSQL gives NUMERIC(p, s)), Numeric(asdecimal=False) and Float
    # give float
    meta = MetaData()
    t = Table("nums", meta, Column("id", Integer, primary_key=True),
              Column("scaled", Numeric(10, 5)), Column("plain", Numeric),
              Column("as_float", Numeric(10, 2, asdecimal=False)), Column("f", Float))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), [
            {"id": 1, "scaled": decimal.Decimal("45.5"), "plain": decimal.Decimal("45.5"),
             "as_float": decimal.Decimal("1.25"), "f": 46.583},
            {"id": 2, "scaled": 45, "plain": 45, "as_float": 3, "f": 2.0}])
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.scaled, t.c.plain, t.c.as_float, t.c.f)
                            .order_by(t.c.id)).all()
        raw = conn.exec_driver_sql("SELECT scaled, as_float, f FROM nums ORDER BY id").all()
    typed = [[(type(v), str(v)) for v in row] for row in rows]
    assert typed == [
        [(decimal.Decimal, "45.50000"), (decimal.Decimal, "45.5"), (float, "1.25"),
         (float, "46.583")],
        [(decimal.Decimal, "45.00000"), (decimal.Decimal, "45"), (float, "3.0"),
         (float, "2.0")]]
    assert [[(type(v), str(v)) for v in row] for row in raw] == [
        [(decimal.Decimal, "45.5"), (decimal.Decimal, "1.25"), (float, "46.583")],
        [(decimal.Decimal, "45"), (decimal.Decimal, "3"), (float, "2.0")]]


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    id: Mapped[int] = mapped_column(primary_key=True)
    when: Mapped[dt.datetime | None] = mapped_column(DateTime)
    when_tz: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    day: Mapped[dt.date | None]
    at: Mapped[dt.time | None]
    span: Mapped[dt.timedelta | None]
    price: Mapped[decimal.Decimal | None] = mapped_column(Numeric(30, 10))
    ratio: Mapped[float | None]
    flag: Mapped[bool | None]
    key: Mapped[uuid.UUID | None]
    mood: Mapped[Mood | None]
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    label: Mapped[str | None] = mapped_column(String(20))


def _thing(i: int) -> Thing:
    return Thing(
        when=dt.datetime(2024, 1, i, 8, 30), when_tz=dt.datetime(2024, 1, i, tzinfo=IST),
        day=dt.date(2024, 3, i), at=dt.time(i, 0), span=dt.timedelta(hours=i),
        price=decimal.Decimal(f"{i}.{i:010d}"), ratio=i / 3, flag=i % 2 == 0,
        key=uuid.UUID(int=i), mood=Mood.happy if i % 2 else Mood.sad, data={"i": i, "l": [i]},
        blob=bytes([i]) * 3, label=f"thing{i}",
    )


def test_orm_round_trip_and_filters_by_type(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([_thing(i) for i in range(1, 6)])
        s.commit()
    with Session(engine) as s:
        t3 = s.scalars(select(Thing).where(Thing.label == "thing3")).one()
        assert (t3.when, t3.day, t3.at, t3.span) == (
            dt.datetime(2024, 1, 3, 8, 30), dt.date(2024, 3, 3), dt.time(3), dt.timedelta(hours=3)
        )
        assert t3.when_tz == dt.datetime(2024, 1, 3, tzinfo=IST)
        assert t3.price == decimal.Decimal("3.0000000003")
        assert t3.ratio == 1.0 and t3.flag is False and t3.key == uuid.UUID(int=3)
        assert t3.mood is Mood.happy and t3.data == {"i": 3, "l": [3]} and t3.blob == b"\x03" * 3

        def labels(*where: Any) -> list[str]:
            return list(s.scalars(select(Thing.label).where(*where).order_by(Thing.id)))

        assert labels(Thing.when > dt.datetime(2024, 1, 3)) == ["thing3", "thing4", "thing5"]
        assert labels(Thing.day == dt.date(2024, 3, 2)) == ["thing2"]
        assert labels(Thing.day.between(dt.date(2024, 3, 2), dt.date(2024, 3, 3))) == [
            "thing2", "thing3"
        ]
        assert labels(Thing.key == uuid.UUID(int=4)) == ["thing4"]
        assert labels(Thing.mood == Mood.sad) == ["thing2", "thing4"]
        assert labels(Thing.flag.is_(True)) == ["thing2", "thing4"]
        assert labels(Thing.flag == False) == ["thing1", "thing3", "thing5"]  # noqa: E712
        assert labels(Thing.price > decimal.Decimal("4")) == ["thing4", "thing5"]
        assert labels(Thing.span >= dt.timedelta(hours=5)) == ["thing5"]
        assert labels(Thing.at < dt.time(2)) == ["thing1"]
        assert labels(Thing.ratio.in_([1 / 3, 5 / 3])) == ["thing1", "thing5"]


def test_orm_update_of_each_type_round_trips(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        t = _thing(1)
        s.add(t)
        s.commit()
        new = _thing(7)
        for attr in ("when", "when_tz", "day", "at", "span", "price", "ratio", "flag", "key",
                     "mood", "data", "blob", "label"):
            setattr(t, attr, getattr(new, attr))
        s.commit()
        tid = t.id
    with Session(engine) as s:
        got = s.get(Thing, tid)
        assert got is not None
        assert got.when == dt.datetime(2024, 1, 7, 8, 30)
        assert got.price == decimal.Decimal("7.0000000007")
        assert got.data == {"i": 7, "l": [7]} and got.mood is Mood.happy


def test_json_mutation_replaces_the_nested_value(
    file_engine: Engine, db_path: Path, raw_bodies: Any
) -> None:
    Base.metadata.create_all(file_engine)
    with Session(file_engine) as s:
        t = Thing(data={"a": {"b": 1}})
        s.add(t)
        s.commit()
        t.data = {"a": {"b": 2, "c": [True]}}
        s.commit()
    (body,) = raw_bodies(db_path, "things").values()
    assert body["data"] == {"a": {"b": 2, "c": [True]}}


def test_datetime_before_year_1000_round_trips(engine: Engine) -> None:
    # datetime.min is a common "unset" sentinel (and .NET's DateTime.MinValue in RavenDB).
    Base.metadata.create_all(engine)
    early = dt.datetime(1, 1, 1, 0, 0)
    with Session(engine) as s:
        s.add(Thing(when=early, day=dt.date(1, 1, 1), label="early"))
        s.commit()
    with Session(engine) as s:
        t = s.scalars(select(Thing)).one()
        assert t.when == early and t.day == dt.date(1, 1, 1)
