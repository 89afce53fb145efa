"""cast: CSV strings to typed values, and the museum's historical CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from lmnh_pipes import ConfigError
from lmnh_pipes_rules import Cast

from .helpers import reason, rule, run

LONDON = ZoneInfo("Europe/London")
HISTORICAL = Cast(fields={"at": "datetime", "site": "str", "val": "int", "type": "int"}, integral_floats=True)


def test_historical_rating_row():
    out = run(HISTORICAL, {"at": "2023-09-01 08:03:41", "site": "3", "val": "2", "type": ""})
    assert out.reject is None
    assert out.value == {"at": datetime(2023, 9, 1, 7, 3, 41, tzinfo=UTC), "site": "3", "val": 2}
    assert out.value["at"].utcoffset() == timedelta(hours=1)  # BST, read as Europe/London
    assert out.value["at"].isoformat() == "2023-09-01T08:03:41+01:00"
    assert type(out.value["val"]) is int


def test_historical_request_rows_in_winter():
    out = run(HISTORICAL, {"at": "2023-12-01 10:00:00", "site": "0", "val": "-1", "type": "1.0"})
    assert out.value == {"at": datetime(2023, 12, 1, 10, tzinfo=UTC), "site": "0", "val": -1, "type": 1}
    assert run(HISTORICAL, {"at": "2023-12-01 10:00:00", "site": "0", "val": "-1", "type": "0.0"}).value["type"] == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("-12", -12), ("+3", 3), ("007", 7), ("-0", 0)],
)
def test_int(text, expected):
    out = run(Cast(fields={"v": "int"}), {"v": text})
    assert out.value == {"v": expected}
    assert type(out.value["v"]) is int


@pytest.mark.parametrize("bad", ["1.0", "1.5", " 1", "1 ", "1_000", "\u0663", "0x10", "one", "1e3", True, 1.0, None])
def test_int_rejects(bad):
    out = run(Cast(fields={"v": "int"}), {"v": bad})
    assert out.reject is not None
    assert out.reject.rule == "cast"


def test_int_reason_mentions_integral_floats_when_it_would_help():
    assert reason(Cast(fields={"v": "int"}), {"v": "1.0"}) == 'v is "1.0", not an integer (integral_floats is off)'
    assert reason(Cast(fields={"v": "int"}), {"v": "x"}) == 'v is "x", not an integer'


@pytest.mark.parametrize(("text", "expected"), [("1.0", 1), ("-1.00", -1), ("0.0", 0), ("4", 4), (2.0, 2)])
def test_integral_floats(text, expected):
    assert run(Cast(fields={"v": "int"}, integral_floats=True), {"v": text}).value == {"v": expected}


@pytest.mark.parametrize("bad", ["1.5", "1.", ".0", "1.0e0", 2.5])
def test_integral_floats_still_rejects_fractions(bad):
    assert rule(Cast(fields={"v": "int"}, integral_floats=True), {"v": bad}) == "cast"


def test_huge_integers_are_rejected_not_raised():
    assert rule(Cast(fields={"v": "int"}), {"v": "9" * 5000}) == "cast"
    assert run(Cast(fields={"v": "int"}), {"v": "9" * 100}).value == {"v": int("9" * 100)}


@pytest.mark.parametrize(("text", "expected"), [("1.5", 1.5), ("-2", -2.0), ("1e3", 1000.0), (".5", 0.5), (3, 3.0)])
def test_float(text, expected):
    out = run(Cast(fields={"v": "float"}), {"v": text})
    assert out.value == {"v": expected}
    assert type(out.value["v"]) is float


@pytest.mark.parametrize("bad", ["nan", "inf", "1e999", "1,5", "", "x", True, 10**400])
def test_float_rejects(bad):
    out = run(Cast(fields={"v": "float"}, empty="keep"), {"v": bad})
    if bad == "":
        assert out.value == {"v": ""}  # kept as it is, not cast
    else:
        assert out.reject is not None
        assert out.reject.rule == "cast"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("YES", True), ("no", False), ("1", True), ("0", False), (True, True)],
)
def test_bool(text, expected):
    assert run(Cast(fields={"v": "bool"}), {"v": text}).value == {"v": expected}


@pytest.mark.parametrize("bad", ["t", "2", "y", 1, None])
def test_bool_rejects(bad):
    assert rule(Cast(fields={"v": "bool"}), {"v": bad}) == "cast"


def test_str_keeps_strings_and_refuses_others():
    assert run(Cast(fields={"v": "str"}), {"v": "03"}).value == {"v": "03"}
    assert reason(Cast(fields={"v": "str"}), {"v": 3}) == "v is 3, an integer, not a string"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-09-01 08:03:41", datetime(2023, 9, 1, 8, 3, 41, tzinfo=LONDON)),
        ("2023-09-01T08:03:41.5", datetime(2023, 9, 1, 8, 3, 41, 500000, tzinfo=LONDON)),
        ("2023-09-01T08:03:41+05:30", datetime(2023, 9, 1, 8, 3, 41, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
        ("2023-09-01 08:03:41Z", datetime(2023, 9, 1, 8, 3, 41, tzinfo=UTC)),
    ],
)
def test_datetime(text, expected):
    out = run(Cast(fields={"at": "datetime"}), {"at": text})
    assert out.value["at"] == expected
    assert out.value["at"].utcoffset() == expected.utcoffset()


def test_datetime_rfc3339_keeps_its_offset():
    out = run(Cast(fields={"at": "datetime"}), {"at": "2023-09-01T08:03:41+05:30"})
    assert out.value["at"].utcoffset() == timedelta(hours=5, minutes=30)


def test_datetime_ambiguous_and_missing_local_times_use_fold_0():
    cast = Cast(fields={"at": "datetime"})
    # 01:30 happens twice on 2023-10-29: fold=0 is the first one, still BST
    assert run(cast, {"at": "2023-10-29 01:30:00"}).value["at"].utcoffset() == timedelta(hours=1)
    # 01:30 does not exist on 2023-03-26: fold=0 keeps the offset from before the change, GMT
    assert run(cast, {"at": "2023-03-26 01:30:00"}).value["at"].utcoffset() == timedelta(0)


def test_datetime_in_another_zone_and_from_datetimes():
    cast = Cast(fields={"at": "datetime"}, timezone="Asia/Kolkata")
    assert run(cast, {"at": "2023-09-01 08:03:41"}).value["at"] == datetime(2023, 9, 1, 2, 33, 41, tzinfo=UTC)
    naive = datetime(2023, 9, 1, 8, 3, 41)
    assert run(cast, {"at": naive}).value["at"].utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    "bad",
    ["2023-13-01 08:03:41", "2023-09-01", "2023-09-01 8:03:41", "01/09/2023 08:03", "2023-09-01 08:03:41.1234567", 5],
)
def test_datetime_rejects(bad):
    assert rule(Cast(fields={"at": "datetime"}), {"at": bad}) == "cast"


def test_json():
    cast = Cast(fields={"v": "json"})
    assert run(cast, {"v": '{"a": [1, 2.5, null]}'}).value == {"v": {"a": [1, 2.5, None]}}
    assert run(cast, {"v": "3"}).value == {"v": 3}
    assert run(cast, {"v": [1]}).value == {"v": [1]}
    assert rule(cast, {"v": "NaN"}) == "cast"
    assert rule(cast, {"v": '{"a": 1, "a": 2}'}) == "cast"
    assert rule(cast, {"v": "9" * 5000}) == "cast"


def test_empty_strings():
    row = {"a": "", "b": "1", "c": ""}
    assert run(Cast(fields={"a": "int", "b": "int"}), row).value == {"b": 1, "c": ""}  # c is not a cast field
    assert run(Cast(fields={"a": "int", "b": "int"}, empty="null"), row).value == {"a": None, "b": 1, "c": ""}
    assert run(Cast(fields={"a": "int", "b": "int"}, empty="keep"), row).value == {"a": "", "b": 1, "c": ""}


def test_missing_fields_are_skipped_and_input_untouched():
    row = {"val": "2"}
    out = run(HISTORICAL, row)
    assert out.value == {"val": 2}
    assert row == {"val": "2"}


def test_first_failure_is_reported():
    out = run(HISTORICAL, {"at": "2023-09-01 08:03:41", "site": "3", "val": "INF", "type": "ERR"})
    assert out.reject.reason == 'val is "INF", not an integer'
    assert out.reject.validator == "cast"


def test_nested_fields():
    out = run(Cast(fields={"a.b": "int", "a.c": "int"}), {"a": {"b": "1", "c": ""}})
    assert out.value == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fields": {"v": "integr"}}, r"fields.v: unknown kind 'integr' \(did you mean 'int'\?\)"),
        ({"fields": {"v": "flaot"}}, r"fields.v: unknown kind 'flaot' \(did you mean 'float'\?\)"),
        ({"fields": {"v": "wibble"}}, "fields.v: unknown kind 'wibble'; expected one of int, float, str, bool"),
        ({"fields": {}}, "fields: expected a mapping"),
        ({"fields": {"v": "int"}, "empty": "zero"}, "empty: expected drop, null or keep"),
        ({"fields": {"v": "int"}, "timezone": "Europe/Londres"}, "timezone: unknown time zone"),
        ({"fields": {"meta.key": "int"}}, "cannot be set"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        Cast(**options)


def test_the_types_rules_spellings_are_taken_too():
    long = Cast(fields={"i": "integer", "n": "number", "s": "string", "b": "boolean"})
    short = Cast(fields={"i": "int", "n": "float", "s": "str", "b": "bool"})
    value = {"i": "7", "n": "1.5", "s": "x", "b": "yes"}
    assert run(long, value).value == run(short, value).value == {"i": 7, "n": 1.5, "s": "x", "b": True}
    assert reason(long, {"i": "x"}) == reason(short, {"i": "x"}) == 'i is "x", not an integer'
