"""Python values to their JSON document form and back (RavenDB date and TimeSpan conventions)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid

import pytest

from sqla_docstore import values
from sqla_docstore.errors import DataError

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "value, text",
    [
        (dt.datetime(2024, 2, 29, 23, 59, 59, 123456), "2024-02-29T23:59:59.1234560"),
        (dt.datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T00:00:00.0000000Z"),
        (dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
         "2024-01-01T12:00:00.0000000+05:30"),
        (dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(-dt.timedelta(hours=8))),
         "2024-01-01T12:00:00.0000000-08:00"),
        (dt.datetime(1, 1, 1), "0001-01-01T00:00:00.0000000"),
    ],
)
def test_datetime_text_and_round_trip(value: dt.datetime, text: str) -> None:
    assert values.format_datetime(value) == text
    back = values.parse_datetime(text)
    assert back == value and back.utcoffset() == value.utcoffset()


def test_naive_datetime_text_sorts_like_time() -> None:
    times = [dt.datetime(2024, 1, 1, 0, 0, 0, 1), dt.datetime(2024, 1, 1, 0, 0, 0, 999999),
             dt.datetime(2024, 1, 1, 0, 0, 1), dt.datetime(2023, 12, 31, 23, 59, 59)]
    assert sorted(values.format_datetime(t) for t in times) == [
        values.format_datetime(t) for t in sorted(times)
    ]


def test_parse_datetime_accepts_seven_fraction_digits() -> None:
    assert values.parse_datetime("2024-05-06T07:08:09.1234567Z") == dt.datetime(
        2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC
    )
    assert values.parse_datetime("2024-05-06T07:08:09") == dt.datetime(2024, 5, 6, 7, 8, 9)


@pytest.mark.parametrize(
    "span, text",
    [
        (dt.timedelta(0), "00:00:00"),
        (dt.timedelta(hours=1, minutes=2, seconds=3), "01:02:03"),
        (dt.timedelta(days=1, seconds=3661, microseconds=5), "1.01:01:01.0000050"),
        (dt.timedelta(days=-1), "-1.00:00:00"),
        (-dt.timedelta(days=3, seconds=5, microseconds=7), "-3.00:00:05.0000070"),
        (dt.timedelta(days=10000), "10000.00:00:00"),
    ],
)
def test_timespan_text_and_round_trip(span: dt.timedelta, text: str) -> None:
    assert values.format_timespan(span) == text
    assert values.parse_timespan(text) == span


def test_parse_timespan_rejects_garbage() -> None:
    with pytest.raises(DataError, match="not a time span"):
        values.parse_timespan("yesterday")


def test_time_text() -> None:
    assert values.format_time(dt.time(13, 14, 15, 999999)) == "13:14:15.999999"
    tz = dt.timezone(dt.timedelta(hours=-2))
    assert values.format_time(dt.time(1, 2, 3, 4, tzinfo=tz)) == "01:02:03.000004-02:00"


class Color(enum.Enum):
    RED = "r"
    BLUE = 2


def test_to_json_of_each_kind() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert values.to_json(None) is None
    assert values.to_json(True) is True
    assert values.to_json(decimal.Decimal("1.5")) == decimal.Decimal("1.5")
    assert values.to_json(dt.date(2024, 1, 2)) == "2024-01-02"
    assert values.to_json(b"\x00\xff") == "AP8="
    assert values.to_json(memoryview(b"ab")) == "YWI="
    assert values.to_json(u) == "12345678-1234-5678-1234-567812345678"
    assert values.to_json(Color.RED) == "r" and values.to_json(Color.BLUE) == 2
    assert values.to_json({1: (dt.date(2024, 1, 1), [u])}) == {
        "1": ["2024-01-01", [str(u)]]
    }


def test_to_json_refuses_unknown_types() -> None:
    with pytest.raises(DataError, match="complex"):
        values.to_json(1j)


def test_to_sql_param() -> None:
    assert values.to_sql_param(decimal.Decimal("2.0")) == 2
    assert isinstance(values.to_sql_param(decimal.Decimal("2.0")), int)
    assert values.to_sql_param(decimal.Decimal("2.5")) == 2.5
    assert values.to_sql_param({"a": [1, 2]}) == '{"a":[1,2]}'
    assert values.to_sql_param(dt.date(2024, 1, 2)) == "2024-01-02"


def test_dumps_writes_decimals_as_exact_numbers() -> None:
    text = values.dumps({"a": decimal.Decimal("1.10"),
                         "b": [decimal.Decimal("123456789012345678901.123456789")]})
    assert text == '{"a":1.10,"b":[123456789012345678901.123456789]}'
    json.loads(text)  # still plain JSON


def test_dumps_is_compact_and_keeps_unicode() -> None:
    assert values.dumps({"k": "héllo", "n": [1, None]}) == '{"k":"héllo","n":[1,null]}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), decimal.Decimal("NaN"),
                                 decimal.Decimal("Infinity")])
def test_dumps_refuses_non_finite_numbers(bad: object) -> None:
    with pytest.raises(DataError):
        values.dumps({"x": bad})


def test_dumps_does_not_confuse_strings_with_decimal_marks() -> None:
    text = values.dumps({"s": "1.5", "d": decimal.Decimal("1.5")})
    assert values.loads(text) == {"s": "1.5", "d": 1.5}


def test_loads_keeps_long_decimals_exact() -> None:
    doc = values.loads('{"short":0.1,"long":123456789012345678901234567890.5,"i":12}')
    assert doc["short"] == 0.1 and isinstance(doc["short"], float)
    assert doc["long"] == decimal.Decimal("123456789012345678901234567890.5")
    assert doc["i"] == 12


def test_decimal_round_trip_through_dumps_and_loads() -> None:
    for text in ["0.1", "1.10", "-99999999999999999999.9999999999", "1E+30"]:
        d = decimal.Decimal(text)
        back = values.loads(values.dumps({"v": d}))["v"]
        assert decimal.Decimal(str(back)) == d
