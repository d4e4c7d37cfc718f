"""Python values to their JSON document form and back (RavenDB date and TimeSpan conventions)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("text, expected", [
    ("1E+1000", decimal.Decimal("1E+1000")),  # beyond a float: not infinity
    ("-1E+1000", decimal.Decimal("-1E+1000")),
    ("1E-400", decimal.Decimal("1E-400")),  # below a float: not zero
    ("0.10000000000000000000001", decimal.Decimal("0.10000000000000000000001")),
    ("1.50", 1.5), ("1E+3", 1000.0), ("0.30000000000000004", 0.30000000000000004),
])
def test_loads_reads_numbers_exactly(text: str, expected: object) -> None:
    value = values.loads(f'{{"v":{text}}}')["v"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("number, wide", [
    (2**53 - 1, False), (2**53, True), (2**63 + 1, True), (decimal.Decimal("0.1"), False),
    (decimal.Decimal("123456789012345"), False), (decimal.Decimal("0.1234567890123456"), True),
    (decimal.Decimal("1E-400"), True), (decimal.Decimal("3.000000000000000000"), False),
])
def test_wide_numbers_are_those_sqlite_reads_approximately(number: object, wide: bool) -> None:
    exact = values.exact_number(number)
    assert exact is not None and values.is_wide(exact) is wide


def test_compare_parts_of_a_wide_value_bracket_its_double() -> None:
    big = 2**63 + 1
    low, high = values.compare_part("low", big), values.compare_part("high", big)
    assert low < big < high and isinstance(low, float)
    assert values.compare_part("wide", big) == str(big)
    assert values.compare_part("text", 0.1) == "0.1" and values.compare_part("wide", 0.1) is None
    assert values.compare_part("low", 5) == values.compare_part("high", 5) == 5
    assert values.compare_part("text", "5") is None  # a string is no number


def test_numcmp_and_numin_are_exact_and_three_valued() -> None:
    assert values.numcmp("9223372036854775809", "9223372036854775810") == -1
    assert values.numcmp("1E+1000", "1E+999") == 1
    assert values.numcmp("0.1", 0.1) == 0  # a float is the decimal it prints as
    assert values.numcmp('"5"', "5") is None  # JSON text of a string: SQL's own rules apply
    assert values.numin("2", '["1", "2.0"]') == 1
    assert values.numin("3", '["1", null]') is None  # 3 IN (1, NULL) is unknown
    assert values.numin("3", '["1"]') == 0
    assert values.numin('"x"', '["1"]') == -1


def test_check_exact_accepts_doubles_and_refuses_approximations() -> None:
    assert values.check_exact("0.30000000000000004", "ORDER BY x") == 1
    assert values.check_exact("1e+20", "ORDER BY x") == 1
    for approximate in ("9223372036854775809", "0.10000000000000000001", "1E+1000"):
        with pytest.raises(DataError, match="ORDER BY x"):
            values.check_exact(approximate, "ORDER BY x")
        assert isinstance(values.take_refusal(), DataError)


@pytest.mark.parametrize("text", ["a\x00b", "\\\x00", "\x00"])
def test_dumps_refuses_strings_holding_nul(text: str) -> None:
    with pytest.raises(DataError, match="NUL"):
        values.dumps({"s": text})
    with pytest.raises(DataError, match="NUL"):
        values.dumps({text: 1})


def test_dumps_accepts_the_text_of_an_escaped_nul() -> None:
    assert values.loads(values.dumps({"s": "\\u0000"})) == {"s": "\\u0000"}


# -- the reused C encoder and scanner (dumps / loads fast paths) -------------------------

_STDLIB_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_TRICKY_DOCUMENTS = [
    {"a": 1, "b": "x", "c": None, "d": True, "e": False},
    {"nested": {"list": [1, 2.5, -0.0, 1e300, 2**70, -(2**64)], "empty": {}, "none": []}},
    {"text": 'quo"te \\ back\nline\ttab \x01 é 漢 😀 \u2028', "key\"q": 1, "ü": "x"},
    [1, "two", [3]],
    "top-level text",
    12345678901234567890123,
    0.1 + 0.2,
]


@pytest.mark.parametrize("document", _TRICKY_DOCUMENTS)
def test_dumps_writes_the_standard_encoders_text(document: object) -> None:
    text = values.dumps(document)
    assert text == _STDLIB_ENCODER.encode(document)
    assert values.loads(text) == document


@pytest.mark.parametrize("document", _TRICKY_DOCUMENTS)
def test_loads_reads_as_the_decoder_with_exact_floats(document: object) -> None:
    text = json.dumps(document, ensure_ascii=False)  # with spaces, as another client writes
    want = json.loads(text, parse_float=values._parse_float)
    assert values.loads(text) == want
    assert values.loads(f"  {text}\n") == want  # surrounding whitespace: the slow path


def test_loads_keeps_exact_numbers_and_refuses_malformed_text() -> None:
    assert values.loads('{"d":1.10000000000000000001,"f":1.5,"i":123456789012345678901}') == {
        "d": decimal.Decimal("1.10000000000000000001"), "f": 1.5, "i": 123456789012345678901}
    assert type(values.loads("1.50")) is float
    for bad in ("", "{", '{"a":1} x', "[1,]", " "):
        with pytest.raises(json.JSONDecodeError):
            values.loads(bad)


def test_loads_all_is_loads_of_each_text() -> None:
    texts: list[str | None] = [values.dumps(d) for d in _TRICKY_DOCUMENTS]
    texts += [json.dumps(d, ensure_ascii=False) for d in _TRICKY_DOCUMENTS]  # with spaces
    texts += ['{"d":1.10000000000000000001,"n":1E+400,"f":1.50}', " {} ", "[]", "null"]
    assert values.loads_all(texts) == [values.loads(t) for t in texts]  # type: ignore[arg-type]
    assert values.loads_all([]) == []


@pytest.mark.parametrize("texts", [
    ['{"a":1}', None],  # a NULL document (an outer join's missing side)
    ['{"a":1}', '{"b":'],  # malformed: parsed one by one, which raises
    ['{"a":"x', 'y"}'],  # two halves of one value: one value where two were asked
    ['{"a":1},{"b":2}'],  # two values in one text
    ["", '{"a":1}'],
    ["1,2", "3"],
])
def test_loads_all_leaves_what_is_not_one_value_a_text_to_loads(texts: list[str | None]) -> None:
    assert values.loads_all(texts) is None


_PLAIN_DOCUMENTS = [
    {"a": 1, "b": "x", "c": None},
    {"c": 2.5, "b": 'quo"te \\ 漢 😀 [1,2]', "a": 2**70, "z": [1, "x"]},  # (any key order)
    {"a": -0.0, "b": 1e300, "c": True, "b2": False},
    {"a": "1.10000000000000000001", "b": decimal.Decimal("1.10000000000000000001"), "c": 0},
]


def test_picked_all_is_the_fields_of_each_parsed_document(json_parser: str) -> None:
    texts = [values.dumps(d) for d in _PLAIN_DOCUMENTS]
    texts += [json.dumps(d, ensure_ascii=False, default=str) for d in _PLAIN_DOCUMENTS[:3]]
    names = ("a", "b", "c")
    want = [tuple(values.loads(t)[n] for n in names) for t in texts]
    assert values.picked_all(texts, names) == want
    assert values.picked_all(texts, ("c", "a")) == [(c, a) for a, _, c in want]
    exact = values.picked_all(texts[3:4], names)
    assert exact is not None and type(exact[0][1]) is decimal.Decimal  # (parse_float's)


@pytest.mark.parametrize("texts, names", [
    (['{"a":1,"b":{"a":1,"b":2}}', '{"a":2,"b":3}'], ("a", "b")),  # an object inside one
    (['{"a":1,"b":[{"c":1}]}', '{"a":"{","b":1}'], ("a", "b")),  # in an array, in a string
    (['{"a":"x{","b":2}', '{"a":1,"b":2}'], ("a", "b")),  # a "{" in a string alone
    (['{"a":1,"b":2}', '{"a":1}'], ("a", "b")),  # a field missing
    (['{"a":1,"b":2}', None], ("a", "b")),  # a NULL document
    (['{"a":1,"b":2}', "[1,2]"], ("a", "b")),  # not an object
    (['{"a":1,"b":2}', '{"a":3,"b":4}'], ("a",)),  # one name: a value, not a tuple
    (['{"a":1,"b":2},{"a":3,"b":4}', ""], ("a", "b")),  # two values in one text
    (['{"a":1,"b":2},{"a":3,"b":4}', '{"a":5,"b":6}'], ("a", "b")),  # three in two texts
    (['{"a":1,"b":', '2}'], ("a", "b")),  # one value in two texts
    (['{"a":1,"b":2} x', '{"a":1,"b":2}'], ("a", "b")),  # malformed
])
def test_picked_all_leaves_what_is_not_plain_documents_to_loads(
    texts: list[str], names: tuple[str, ...], json_parser: str
) -> None:
    picked = values.picked_all(texts, names)
    if json_parser == "orjson" and texts[0] == '{"a":"x{","b":2}':  # (no hook: no "{" guard)
        assert picked == [(d["a"], d["b"]) for d in map(values.loads, texts)]
    else:
        assert picked is None


def _typed(value: object) -> str:
    """``repr``: tells 1 from 1.0 from True, and a float from a Decimal (``==`` does not)."""
    return repr(value)


@pytest.mark.parametrize("text", ["\ud800", "é\udfff", "bad\ud800", "x\x00", "\x00é"])
def test_refuse_unstorable_refuses_each_kind_of_text(text: str) -> None:
    with pytest.raises(DataError):
        values.refuse_unstorable({"a": "plain", "b": text})


@pytest.mark.parametrize("text", ["plain", "é", "\U0001f600", ""])
def test_refuse_unstorable_takes_text_without_nul_or_lone_surrogate(text: str) -> None:
    values.refuse_unstorable({"a": text})


# Values where orjson and ``json`` (with the store's exact floats) could part: numbers a float
# can't hold exactly, integers past 64 bits (orjson: a float), texts orjson refuses (a lone
# surrogate, NaN, 1E400), and values with no such trouble.
_NUMBER_TEXTS = ["0", "-0", "1", "-1", "18446744073709551615", "18446744073709551616",
                 "-9223372036854775808", "-9223372036854775809", "123456789012345678901234",
                 "0.1", "0.10", "1.5", "1E+3", "1e5", "-0.0", "1.10000000000000000001", "1E400",
                 "true", "false", "null", '"x"', '"\\ud800"', '"\\u00e9 \\n"', '"{"', "NaN",
                 "[1,2]", '{"a":1}', "[]", "{}"]


@given(st.lists(st.tuples(*[st.sampled_from(_NUMBER_TEXTS)] * 3), min_size=1, max_size=6),
       st.sampled_from([("a", "b"), ("b", "c", "a"), ("c", "a")]))
@settings(max_examples=300, deadline=None)
def test_picked_all_gives_the_standard_parsers_values_whichever_parser(
    fields: list[tuple[str, str, str]], names: tuple[str, ...]
) -> None:
    """The fields picked with the ``fast`` extra are, value for value and type for type, those
    the standard library gives (or both give way to ``loads_all``), also after a pick that
    orjson could not give for the same fields."""
    orjson = pytest.importorskip("orjson")
    texts = ['{"a":' + a + ',"b":' + b + ',"c":' + c + '}' for a, b, c in fields]
    saved = values._orjson_loads, values._NOT_FAST_PICKS
    try:
        values._orjson_loads = None
        want = values.picked_all(texts, names)
        values._orjson_loads, values._NOT_FAST_PICKS = orjson.loads, set()
        got = values.picked_all(texts, names)
        again = values.picked_all(texts, names)  # (perhaps remembered as not orjson's)
    finally:
        values._orjson_loads, values._NOT_FAST_PICKS = saved
    if want is None:  # (the stdlib path refuses nested values; orjson's too)
        assert got is None or _typed(got) == _typed(
            [tuple(values.loads(t)[n] for n in names) for t in texts])
    else:
        assert _typed(got) == _typed(want)
    assert _typed(again) == _typed(got)


def test_picked_all_by_orjson_gives_way_to_json_where_they_part() -> None:
    """Integers past 64 bits and numbers a float can't hold exactly are picked by ``json``
    (orjson would give floats), and those fields are picked by ``json`` from then on."""
    orjson = pytest.importorskip("orjson")
    saved = values._orjson_loads, values._NOT_FAST_PICKS
    try:
        values._orjson_loads, values._NOT_FAST_PICKS = orjson.loads, set()
        plain = values.picked_all(['{"a":1,"b":"x"}', '{"a":2,"b":"y"}'], ("a", "b"))
        assert plain == [(1, "x"), (2, "y")] and not values._NOT_FAST_PICKS
        picked = values.picked_all(['{"a":18446744073709551616,"b":1.10000000000000000001}',
                                    '{"a":1,"b":0.5}'], ("a", "b"))
        assert _typed(picked) == _typed([(18446744073709551616,
                                          decimal.Decimal("1.10000000000000000001")), (1, 0.5)])
        assert values._NOT_FAST_PICKS == {("a", "b")}
    finally:
        values._orjson_loads, values._NOT_FAST_PICKS = saved


def test_dumps_refuses_what_it_refused_before() -> None:
    looped: list[object] = []
    looped.append(looped)
    for bad in (looped, {"x": float("nan")}, {"x": "a\x00b"}, {"x": decimal.Decimal("NaN")}):
        with pytest.raises(DataError):
            values.dumps(bad)
    assert values.dumps({"d": decimal.Decimal("1.50")}) == '{"d":1.50}'
class _Color(enum.Enum):
    RED = 3


class _Level(enum.IntEnum):
    HIGH = 2


class _Text(str):
    pass


@pytest.mark.parametrize("value", [
    0, 1, -1, 2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 2**63 - 1, 2**63, 2**63 + 1, -(2**64),
    10**400, True, False, None, 0.0, -0.0, 1.0, 0.1, 1e20, 1e300, float("inf"), float("-inf"),
    float("nan"), decimal.Decimal("2.0"), decimal.Decimal("2.5"),
    decimal.Decimal("0.1234567890123456"), decimal.Decimal("1E-400"), decimal.Decimal("1E+400"),
    decimal.Decimal("123456789012345678901234567890"), decimal.Decimal("-0"), "", "5", "5.0",
    "1e3", "abc", _Text("7"), _Level.HIGH, _Color.RED, dt.date(2024, 1, 2), b"\x00\x01",
    uuid.UUID(int=5), [1, 2], {"a": 1},
])
def test_compare_parts_are_each_compare_part(value: object) -> None:
    """The one-pass form (and its short cuts for ints and strings) gives exactly what each part
    gives alone: same values, same types (1 is not True, 1.0 is not 1)."""
    def typed(parts: tuple[object, ...]) -> list[tuple[type, str]]:
        return [(type(p), repr(p)) for p in parts]

    one_pass = values.compare_parts(value)
    assert typed(one_pass) == typed(tuple(values.compare_part(part, value)
                                          for part in values.COMPARE_PARTS))


def test_compare_parts_refuse_what_compare_part_refuses() -> None:
    with pytest.raises(DataError):
        values.compare_parts(object())


_PLAIN_DOCS: list[object] = [{"s": 'quo"te\\back\nline é', "n": [1, 2.5, True, None]},
                             {"s": "\\u0000 is six characters, not NUL"}, "top", 2**70, {}]


@pytest.mark.parametrize("extra", [
    [],  # JSON types only: the one-pass encoder
    [{"d": decimal.Decimal("1.10000000000000000001")}],  # a document only dumps encodes
    [{"when": dt.date(2024, 1, 2), "u": uuid.UUID(int=7)}],
])
def test_dumps_each_gives_the_texts_of_dumps(extra: list[object]) -> None:
    docs = [*_PLAIN_DOCS, *extra, *_PLAIN_DOCS]
    assert values.dumps_each(docs) == [values.dumps(d) for d in docs]


def _looped() -> dict[str, object]:
    looped: dict[str, object] = {}
    looped["self"] = looped
    return looped


@pytest.mark.parametrize("bad", [{"x": "a\x00b"}, {"x": ["\\\x00"]}, {"x": float("nan")},
                                 {"x": decimal.Decimal("NaN")}])
def test_dumps_each_refuses_what_dumps_refuses_with_its_error(bad: dict[str, object]) -> None:
    with pytest.raises(DataError) as each:
        values.dumps_each([*_PLAIN_DOCS, bad, *_PLAIN_DOCS])
    with pytest.raises(DataError) as one:
        values.dumps(bad)
    assert str(each.value) == str(one.value)


def test_dumps_each_of_a_circular_document_fails_as_dumps_does() -> None:
    with pytest.raises(DataError) as one:
        values.dumps(_looped())
    with pytest.raises(DataError) as each:
        values.dumps_each([{"a": 1}, _looped()])
    assert str(each.value) == str(one.value)


#: columns dumps_columns writes (each value a row's): the texts are those of dumps
WRITTEN_COLUMNS: dict[str, list[object]] = {
    "strings": ["", "é\u2028\u2029\"q\\/", "\x01\x1f\t\n", "\ud800", "😀", "{}", "a" * 300],
    "ints": [0, -1, 2**53 + 1, 2**63, -(2**100), 7, 8],
    "floats": [0.1, -0.0, 1e300, 5e-324, 2.0**60, 1.0, -2.5],
    "bools": [True, False, True, True, False, False, True],
    "nulls": [None] * 7,
    "mixed": ["x", 1, 1.5, True, None, False, ""],
    "strings and nulls": ["a", None, "b", None, "c", None, "\u00e9"],
    # strings written as themselves quoted (nothing to escape), ASCII or not
    "plain strings": ["a", "b c", "\u00e9", "\u65e5\u672c", "\U0001f600", "x" * 50, "{}[],:'/"],
    "plain but one": ["a", "b", "c", "d", "e", "f", "g\x7f"],
    "plain but one quote": ["a", "b", "c", "d", "e", "f", 'g"'],
    "plain but one backslash": ["a", "b", "c", "d", "e", "f", "g\\"],
    "plain but one control": ["a", "b", "c", "d", "e", "f", "g\x1b"],
    "plain but one separator": ["a", "b", "c", "d", "e", "f", "g\u2028"],
    "not ASCII, one quote": ["\u00e9", "b", "c", "d", "e", "f", 'g"'],
    "not ASCII, one backslash": ["\u00e9", "b", "c", "d", "e", "f", "g\\"],
    "not ASCII, one control": ["\u00e9", "b", "c", "d", "e", "f", "g\n"],
}
#: columns it leaves to dumps (None): NUL, numbers JSON can't write, other types
UNWRITTEN_COLUMNS: dict[str, list[object]] = {
    "NUL": ["a", "b\x00", "c"],
    "NUL among others": [1, None, "\x00"],
    "NaN": [1.0, float("nan"), 2.0],
    "infinity": [None, float("inf"), 1],
    "decimal": [decimal.Decimal("1.10"), decimal.Decimal("2")],
    "object": [{"k": 1}, [1]],
    "too many digits": [10**5000, 1],
}


@pytest.mark.parametrize("kept", [False, True], ids=["found", "kept"])
@pytest.mark.parametrize("name", list(WRITTEN_COLUMNS))
def test_dumps_columns_writes_what_dumps_writes(name: str, kept: bool) -> None:
    """(``kept``: the columns' types and joined texts kept by a ``ColumnTypes``)"""
    column = WRITTEN_COLUMNS[name]
    other = list(reversed(column))
    names = ["id", 'q"{}\\é', name]
    types = values.ColumnTypes() if kept else values.column_types
    texts = values.dumps_columns(names, [range(len(column)), other, column], len(column),
                                 None, types)
    assert texts == [values.dumps({"id": n, names[1]: b, name: c})
                     for n, (b, c) in enumerate(zip(other, column, strict=True))]


@pytest.mark.parametrize("kept", [False, True], ids=["found", "kept"])
def test_dumps_columns_of_strings_of_each_ascii_character_write_what_dumps_writes(
        kept: bool) -> None:
    for code in range(128):
        column = ["a", "b c", "", f"x{chr(code)}y", "z"]
        types = values.ColumnTypes() if kept else values.column_types
        texts = values.dumps_columns(["v"], [column], len(column), None, types)
        assert texts == (None if code == 0 else [values.dumps({"v": v}) for v in column])


def test_dumps_columns_gives_a_one_value_column_to_every_document() -> None:
    texts = values.dumps_columns(["a", "b", "c"], [[1, 2, 3], ["k"], [None]], 3)
    assert texts == [values.dumps({"a": n, "b": "k", "c": None}) for n in (1, 2, 3)]
    assert values.dumps_columns([], [], 2) == ["{}", "{}"]
    assert values.dumps_columns(["a", "b"], [['"k"'], [2]], 2) == ['{"a":"\\"k\\"","b":2}'] * 2
    texts = values.dumps_columns(["a", "b", "c"], [["x", "y"], ["k"], ["p", "q"]], 2,
                                 {"c": ["7", "8"]})
    assert texts == ['{"a":"x","b":"k","c":7}', '{"a":"y","b":"k","c":8}']


@pytest.mark.parametrize("name", list(UNWRITTEN_COLUMNS))
def test_dumps_columns_leaves_other_values_to_dumps(name: str) -> None:
    column = UNWRITTEN_COLUMNS[name]
    assert values.dumps_columns(["id", "v"], [list(range(len(column))), column],
                                len(column)) is None
    assert values.dumps_columns(["a\x00"], [[1]], 1) is None  # a name holding NUL


def test_column_types_keeps_each_columns_types_and_takes_those_told() -> None:
    types = values.ColumnTypes()
    column, keys = ["a", 1, None], list(range(5))
    assert types(column) == {str, int, type(None)}
    column.append(2.5)  # (kept: a column is not changed while in use)
    assert types(column) == {str, int, type(None)}
    types.know(keys, frozenset({int}))
    assert types(keys) == {int} and types(list(keys)) == {int}
